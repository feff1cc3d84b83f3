//! The scheduler: a FullCalendar-like calendar written in Leptos.
//!
//! Month, week, day and agenda views in the viewer's time zone (the server converts every time).
//! Teachers drag an event to move it, drag its bottom edge to change its length, and drag across
//! empty time (or click an empty day) to schedule a class; the same moves work from the keyboard
//! (Alt + arrows). Pointer events make mouse, pen and touch behave alike.

mod create;
pub mod grid;

pub use create::{CreateDialog, Draft, FollowingEdit};

use crate::api::classes::{CalendarData, MoveOccurrence, load_calendar};
use grid::{View, layout_day, local_string, minutes_on, snap, step, title, visible_days, weekday_short};
use jiff::civil::Date;
use lectern_model::User;
use lectern_model::schedule::CalendarEvent;
use leptos::ev;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::sync::Arc;
use wasm_bindgen::JsCast;

/// Height of one hour in the week and day views.
const HOUR_PX: f64 = 48.0;
/// The time grid opens scrolled to this hour.
const FIRST_VISIBLE_HOUR: f64 = 7.0;

/// What a pointer drag is doing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DragMode {
    Move,
    Resize,
    Create,
}

#[derive(Clone, Debug, PartialEq)]
struct Drag {
    mode: DragMode,
    occurrence_id: i64,
    origin_y: f64,
    origin_x: f64,
    origin_date: Date,
    origin_minute: i32,
    duration: i32,
    /// Where it would land now.
    date: Date,
    minute: i32,
    length: i32,
    moved: bool,
}

impl Drag {
    /// A drag of an existing event, from where the pointer went down.
    fn of_event(mode: DragMode, event: &CalendarEvent, fallback_date: Date, e: &web_sys::PointerEvent) -> Drag {
        let date = event.start.date.parse().unwrap_or(fallback_date);
        let minute = event.start.minute as i32;
        let length = ((event.ends_at - event.starts_at) / 60_000) as i32;
        Drag {
            mode,
            occurrence_id: event.occurrence_id,
            origin_y: e.client_y() as f64,
            origin_x: e.client_x() as f64,
            origin_date: date,
            origin_minute: minute,
            duration: length,
            date,
            minute,
            length,
            moved: false,
        }
    }
}

fn path(view: View, date: Date) -> String {
    // Keep an admin's teacher filter while navigating.
    let teacher = leptos_router::hooks::use_query_map().read_untracked().get("teacher");
    match teacher {
        Some(t) => format!("/schedule?view={}&date={date}&teacher={t}", view.as_str()),
        None => format!("/schedule?view={}&date={date}", view.as_str()),
    }
}

fn clock(minute: u32) -> String {
    format!("{:02}:{:02}", (minute / 60) % 24, minute % 60)
}

#[component]
pub fn Scheduler(user: User) -> impl IntoView {
    let query = use_query_map();
    let view = Memo::new(move |_| View::parse(&query.read().get("view").unwrap_or_default()));
    let date_param = Memo::new(move |_| query.read().get("date"));
    let teacher_param = Memo::new(move |_| query.read().get("teacher").and_then(|t| t.parse::<i64>().ok()));
    let refresh = RwSignal::new(0u32);
    let data = Resource::new(
        move || (view.get(), date_param.get(), teacher_param.get(), refresh.get()),
        |(view, date, teacher, _)| load_calendar(view.as_str().to_owned(), date, teacher),
    );
    let can_teach = user.role.can_teach();
    let drag: RwSignal<Option<Drag>> = RwSignal::new(None);
    let draft: RwSignal<Option<Draft>> = RwSignal::new(None);
    let status = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let move_action = ServerAction::<MoveOccurrence>::new();

    // Refresh after every move; report refusals (a clash with another class) in words.
    Effect::new(move |_| match move_action.value().get() {
        Some(Ok(())) => {
            error.set(None);
            status.set("Moved.".into());
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => {
            error.set(Some(e.to_string()));
            refresh.update(|n| *n += 1);
        }
        None => {}
    });

    let commit_move = move |occurrence_id: i64, date: Date, minute: i32, length: i32| {
        move_action.dispatch(MoveOccurrence {
            occurrence_id,
            start_local: local_string(date, minute),
            duration_minutes: length.max(grid::SNAP_MINUTES) as i64,
        });
    };

    // The drag follows the pointer anywhere on the page, and ends wherever it is released.
    let _move_listener = window_event_listener(ev::pointermove, move |e: web_sys::PointerEvent| {
        let Some(mut d) = drag.get_untracked() else { return };
        let dy = e.client_y() as f64 - d.origin_y;
        let minutes = snap((dy * 60.0 / HOUR_PX) as i32);
        if (e.client_x() as f64 - d.origin_x).abs() > 4.0 || dy.abs() > 4.0 {
            d.moved = true;
        }
        match d.mode {
            DragMode::Move => {
                d.minute = (d.origin_minute + minutes).clamp(0, 24 * 60 - grid::SNAP_MINUTES);
                if let Some(date) = date_under(e.client_x(), e.client_y()) {
                    d.date = date;
                }
            }
            DragMode::Resize | DragMode::Create => {
                d.length = (d.duration + minutes).clamp(grid::SNAP_MINUTES, 24 * 60 - d.origin_minute);
            }
        }
        drag.set(Some(d));
    });
    // A touch that turns into a scroll cancels the drag; forget it rather than leave it stuck.
    let _cancel_listener = window_event_listener(ev::pointercancel, move |_| drag.set(None));
    let _up_listener = window_event_listener(ev::pointerup, move |_| {
        let Some(d) = drag.get_untracked() else { return };
        drag.set(None);
        match d.mode {
            DragMode::Create => {
                let length = if d.moved { d.length } else { 60 };
                draft.set(Some(Draft::at(d.origin_date, d.origin_minute, length)));
            }
            _ if !d.moved => {}
            DragMode::Move if d.date == d.origin_date && d.minute == d.origin_minute => {}
            DragMode::Move => commit_move(d.occurrence_id, d.date, d.minute, d.duration),
            DragMode::Resize if d.length != d.duration => {
                commit_move(d.occurrence_id, d.origin_date, d.origin_minute, d.length)
            }
            DragMode::Resize => {}
        }
    });

    let ctx = SchedulerCtx { drag, draft, can_teach, commit_move: Arc::new(commit_move), status };
    provide_context(ctx.clone());

    view! {
        <section class="scheduler" aria-label="Schedule">
            <Transition fallback=|| view! { <p class="loading">"Loading the calendar…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <Toolbar data=data.clone() view=view.get_untracked()/> <Body data view=view.get_untracked()/> }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            {move || error.get().map(|m| view! {
                <p class="form-error scheduler-error" role="alert">{m}
                    <button type="button" class="link-button" on:click=move |_| error.set(None)>"Dismiss"</button>
                </p>
            })}
            <p class="visually-hidden" aria-live="polite">{move || status.get()}</p>
            {move || draft.get().map(|d| view! {
                <CreateDialog draft=d time_zone=user.time_zone.clone()
                    on_close=Callback::new(move |created: bool| {
                        draft.set(None);
                        if created {
                            status.set("Class scheduled.".into());
                            refresh.update(|n| *n += 1);
                        }
                    })/>
            })}
        </section>
    }
}

/// The calendar day under a screen point, from the `data-date` of the column or cell there.
fn date_under(x: i32, y: i32) -> Option<Date> {
    let element = document().element_from_point(x as f32, y as f32)?;
    let cell = element.closest("[data-date]").ok()??;
    cell.get_attribute("data-date")?.parse().ok()
}

#[derive(Clone)]
struct SchedulerCtx {
    drag: RwSignal<Option<Drag>>,
    draft: RwSignal<Option<Draft>>,
    can_teach: bool,
    commit_move: Arc<dyn Fn(i64, Date, i32, i32) + Send + Sync>,
    status: RwSignal<String>,
}

#[component]
fn Toolbar(data: CalendarData, view: View) -> impl IntoView {
    let focus: Date = data.focus.parse().unwrap_or_default();
    let today: Date = data.today.parse().unwrap_or_default();
    let ctx = expect_context::<SchedulerCtx>();
    view! {
        <div class="scheduler-toolbar">
            <div class="scheduler-nav">
                <A href=path(view, today) attr:class="button secondary small">"Today"</A>
                <A href=path(view, step(view, focus, false)) attr:class="button secondary small" attr:aria-label="Previous">"‹"</A>
                <A href=path(view, step(view, focus, true)) attr:class="button secondary small" attr:aria-label="Next">"›"</A>
                <h1 class="scheduler-title">{title(view, focus)}</h1>
            </div>
            <div class="scheduler-views" role="group" aria-label="View">
                {[View::Month, View::Week, View::Day, View::Agenda].into_iter().map(|v| view! {
                    <A href=path(v, focus) attr:class=if v == view { "view-button active" } else { "view-button" }
                        attr:aria-pressed=(v == view).to_string()>{v.label()}</A>
                }).collect_view()}
                {(!data.teachers.is_empty()).then(|| {
                    let selected = leptos_router::hooks::use_query_map().read_untracked().get("teacher").unwrap_or_default();
                    let navigate = use_navigate();
                    view! {
                        <label for="teacher-filter" class="visually-hidden">"Show the classes of"</label>
                        <select id="teacher-filter" class="teacher-filter" on:change=move |e| {
                            let value = event_target_value(&e);
                            let base = format!("/schedule?view={}&date={focus}", view.as_str());
                            let target = if value.is_empty() { base } else { format!("{base}&teacher={value}") };
                            navigate(&target, Default::default());
                        }>
                            <option value="" selected=selected.is_empty()>"All teachers"</option>
                            {data.teachers.clone().into_iter().map(|(id, name)| {
                                let value = id.to_string();
                                let is_selected = value == selected;
                                view! { <option value=value selected=is_selected>{name}</option> }
                            }).collect_view()}
                        </select>
                    }
                })}
                {ctx.can_teach.then(|| view! {
                    <button type="button" class="button small" on:click=move |_| ctx.draft.set(Some(Draft::at(focus, 9 * 60, 60)))>
                        "New class"
                    </button>
                })}
            </div>
        </div>
    }
}

#[component]
fn Body(data: CalendarData, view: View) -> impl IntoView {
    let focus: Date = data.focus.parse().unwrap_or_default();
    let today = data.today.clone();
    let days = visible_days(view, focus);
    let events = Arc::new(data.events);
    match view {
        View::Month => view! { <MonthGrid days events focus today/> }.into_any(),
        View::Week | View::Day => view! { <TimeGrid days events today/> }.into_any(),
        View::Agenda => view! { <Agenda days events/> }.into_any(),
    }
}

#[component]
fn MonthGrid(days: Vec<Date>, events: Arc<Vec<CalendarEvent>>, focus: Date, today: String) -> impl IntoView {
    let ctx = expect_context::<SchedulerCtx>();
    let drag = ctx.drag;
    view! {
        <div class="month-grid" role="grid">
            <div class="month-head" role="row">
                {days.iter().take(7).map(|d| view! { <div role="columnheader">{weekday_short(d.weekday())}</div> }).collect_view()}
            </div>
            <div class="month-body">
                {days.into_iter().map(|day| {
                    let key = day.to_string();
                    let todays: Vec<CalendarEvent> =
                        events.iter().filter(|e| e.start.date == key).cloned().collect();
                    let outside = day.month() != focus.month();
                    let is_today = key == today;
                    let drop_target = {
                        let key = key.clone();
                        move || drag.get().is_some_and(|d| d.mode == DragMode::Move && d.moved && d.date.to_string() == key)
                    };
                    let draft = ctx.draft;
                    let can_teach = ctx.can_teach;
                    view! {
                        <div class="month-cell" role="gridcell" data-date=key.clone() class:outside=outside class:today=is_today
                            class:drop-target=drop_target
                            on:dblclick=move |_| if can_teach { draft.set(Some(Draft::at(day, 9 * 60, 60))) }>
                            <A href=path(View::Day, day) attr:class="month-day-number">{day.day()}</A>
                            <ul class="month-events">
                                {todays.into_iter().map(|e| view! { <li><EventChip event=e compact=true/></li> }).collect_view()}
                            </ul>
                        </div>
                    }
                }).collect_view()}
            </div>
        </div>
    }
}

#[component]
fn TimeGrid(days: Vec<Date>, events: Arc<Vec<CalendarEvent>>, today: String) -> impl IntoView {
    let ctx = expect_context::<SchedulerCtx>();
    let scroller = NodeRef::<leptos::html::Div>::new();
    // Open at the start of a school day rather than at midnight.
    Effect::new(move |_| {
        if let Some(el) = scroller.get() {
            el.set_scroll_top((FIRST_VISIBLE_HOUR * HOUR_PX) as i32);
        }
    });
    let columns = days.len();
    let heads = days.clone();
    view! {
        <div class="time-grid" style=format!("--days: {columns}")>
            <div class="time-head">
                <div class="gutter"></div>
                {heads.into_iter().map(|d| {
                    let is_today = d.to_string() == today;
                    view! {
                        <A href=path(View::Day, d) attr:class=if is_today { "day-head today" } else { "day-head" }>
                            <span>{weekday_short(d.weekday())}</span> " " <strong>{d.day()}</strong>
                        </A>
                    }
                }).collect_view()}
            </div>
            <div class="time-scroll" node_ref=scroller>
                <div class="time-body" style=format!("height: {}px", 24.0 * HOUR_PX)>
                    <div class="gutter">
                        {(0..24).map(|h| view! { <div class="hour-label" style=format!("top: {}px", h as f64 * HOUR_PX)>{format!("{h:02}:00")}</div> }).collect_view()}
                    </div>
                    {days.into_iter().map(|day| {
                        let key = day.to_string();
                        let mut todays: Vec<(usize, u32, u32)> = Vec::new();
                        for (i, e) in events.iter().enumerate() {
                            if let Some((top, bottom)) = minutes_on(e, &key) {
                                todays.push((i, top, bottom));
                            }
                        }
                        let placed = layout_day(&todays);
                        let can_teach = ctx.can_teach;
                        let drag = ctx.drag;
                        let on_down = move |e: web_sys::PointerEvent| {
                            // Only on the column itself (not on an event), only teachers.
                            if !can_teach || e.button() != 0 || e.target() != e.current_target() {
                                return;
                            }
                            let Some(target) = e.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return };
                            let y = e.client_y() as f64 - target.get_bounding_client_rect().top();
                            let minute = (snap((y * 60.0 / HOUR_PX) as i32 - grid::SNAP_MINUTES / 2)).clamp(0, 24 * 60 - 30);
                            e.prevent_default();
                            drag.set(Some(Drag {
                                mode: DragMode::Create, occurrence_id: 0, origin_y: e.client_y() as f64, origin_x: e.client_x() as f64,
                                origin_date: day, origin_minute: minute, duration: 0, date: day, minute, length: 60, moved: false,
                            }));
                        };
                        let creating = move || drag.get().filter(|d| d.mode == DragMode::Create && d.origin_date == day && d.moved);
                        let events = events.clone();
                        view! {
                            <div class="day-column" data-date=key.clone() on:pointerdown=on_down>
                                {(1..24).map(|h| view! { <div class="hour-line" style=format!("top: {}px", h as f64 * HOUR_PX)></div> }).collect_view()}
                                {placed.into_iter().map(|p| {
                                    let event = events[p.index].clone();
                                    view! { <TimedEvent event placed=p day/> }
                                }).collect_view()}
                                {move || creating().map(|d| view! {
                                    <div class="event creating" style=format!("top: {}px; height: {}px",
                                        d.origin_minute as f64 * HOUR_PX / 60.0, d.length as f64 * HOUR_PX / 60.0)>
                                        {format!("{} – {}", clock(d.origin_minute as u32), clock((d.origin_minute + d.length) as u32))}
                                    </div>
                                })}
                            </div>
                        }
                    }).collect_view()}
                </div>
            </div>
        </div>
    }
}

/// Alt + arrows move an event by a quarter hour or a day; Alt + Shift + up/down change its length.
fn keyboard_move(ctx: &SchedulerCtx, event: &CalendarEvent, key: &web_sys::KeyboardEvent) -> bool {
    if !event.editable || !key.alt_key() {
        return false;
    }
    let (Ok(date), minute) = (event.start.date.parse::<Date>(), event.start.minute as i32) else { return false };
    let length = ((event.ends_at - event.starts_at) / 60_000) as i32;
    let step = grid::SNAP_MINUTES;
    let (date, minute, length) = match (key.key().as_str(), key.shift_key()) {
        ("ArrowUp", false) => (date, minute - step, length),
        ("ArrowDown", false) => (date, minute + step, length),
        ("ArrowLeft", false) => (grid::add_days(date, -1), minute, length),
        ("ArrowRight", false) => (grid::add_days(date, 1), minute, length),
        ("ArrowUp", true) => (date, minute, (length - step).max(step)),
        ("ArrowDown", true) => (date, minute, length + step),
        _ => return false,
    };
    ctx.status.set(format!("Moving {} to {}…", event.title, local_string(date, minute).replace('T', " ")));
    (ctx.commit_move)(event.occurrence_id, date, minute, length);
    true
}

#[component]
fn TimedEvent(event: CalendarEvent, placed: grid::Placed, day: Date) -> impl IntoView {
    let ctx = expect_context::<SchedulerCtx>();
    let drag = ctx.drag;
    let id = event.occurrence_id;
    let editable = event.editable;
    let begin = {
        let event = event.clone();
        move |mode: DragMode, e: web_sys::PointerEvent| {
            if !editable || e.button() != 0 {
                return;
            }
            e.stop_propagation();
            e.prevent_default();
            drag.set(Some(Drag::of_event(mode, &event, day, &e)));
        }
    };
    let begin_resize = begin.clone();
    // While dragged, draw it where it would land (in this column only if that is its target day).
    let geometry = move || {
        let live = drag.get().filter(|d| d.occurrence_id == id && d.moved && d.mode != DragMode::Create);
        let (top, height, here) = match live {
            Some(d) if d.mode == DragMode::Move => (d.minute as u32, d.duration as u32, d.date == day),
            Some(d) => (placed.top_minute, d.length as u32, true),
            None => (placed.top_minute, placed.end_minute - placed.top_minute, true),
        };
        let width = 100.0 / placed.columns as f64;
        format!(
            "top: {}px; height: {}px; left: calc({}% + 1px); width: calc({}% - 3px);{}",
            top as f64 * HOUR_PX / 60.0,
            (height as f64 * HOUR_PX / 60.0).max(18.0),
            placed.column as f64 * width,
            width,
            if here { "" } else { " opacity: 0.35;" }
        )
    };
    let dragging = move || drag.get().is_some_and(|d| d.occurrence_id == id && d.moved);
    let class_href = format!("/classes/{}", event.class_id);
    let navigate = use_navigate();
    let label = format!(
        "{}, {} to {}{}{}",
        event.title,
        clock(event.start.minute),
        clock(event.end.minute),
        if event.cancelled { ", cancelled" } else { "" },
        if editable { ". Alt and arrow keys move it." } else { "" }
    );
    let ctx_key = ctx.clone();
    let event_key = event.clone();
    view! {
        <div class="event" class:cancelled=event.cancelled class:editable=editable class:dragging=dragging
            class:recorded=event.kind == lectern_model::schedule::ClassKind::Recorded
            style=geometry role="button" tabindex="0" aria-label=label data-occurrence=id.to_string()
            on:pointerdown=move |e| begin(DragMode::Move, e)
            on:click={
                let href = class_href.clone();
                let navigate = navigate.clone();
                move |_| if !drag.get_untracked().is_some_and(|d| d.moved) { navigate(&href, Default::default()) }
            }
            on:keydown=move |k: web_sys::KeyboardEvent| {
                if k.key() == "Enter" {
                    navigate(&class_href, Default::default());
                } else if keyboard_move(&ctx_key, &event_key, &k) {
                    k.prevent_default();
                }
            }>
            <span class="event-time">{format!("{} – {}", clock(event.start.minute), clock(event.end.minute))}</span>
            <span class="event-title">{event.title.clone()}</span>
            <span class="event-teacher">{event.teacher_name.clone()}</span>
            {editable.then(|| view! {
                <div class="resize-handle" aria-hidden="true" on:pointerdown=move |e| begin_resize(DragMode::Resize, e)></div>
            })}
        </div>
    }
}

/// An event in the month grid or the agenda: a line with its time and title.
#[component]
fn EventChip(event: CalendarEvent, #[prop(optional)] compact: bool) -> impl IntoView {
    let ctx = expect_context::<SchedulerCtx>();
    let drag = ctx.drag;
    let id = event.occurrence_id;
    let editable = event.editable;
    let on_down = {
        let event = event.clone();
        move |e: web_sys::PointerEvent| {
            if !editable || e.button() != 0 {
                return;
            }
            e.prevent_default();
            drag.set(Some(Drag::of_event(DragMode::Move, &event, Date::default(), &e)));
        }
    };
    // In the month grid a drag changes the day only.
    let dragging = move || drag.get().is_some_and(|d| d.occurrence_id == id && d.moved);
    let href = format!("/classes/{}", event.class_id);
    let navigate = use_navigate();
    let ctx_key = ctx.clone();
    let event_key = event.clone();
    view! {
        <a class="chip" class:cancelled=event.cancelled class:editable=editable class:dragging=dragging class:compact=compact
            href=href.clone() data-occurrence=id.to_string() draggable="false"
            on:pointerdown=on_down
            on:click=move |e| {
                e.prevent_default();
                if !drag.get_untracked().is_some_and(|d| d.moved) { navigate(&href, Default::default()) }
            }
            on:keydown=move |k: web_sys::KeyboardEvent| if keyboard_move(&ctx_key, &event_key, &k) { k.prevent_default() }>
            <span class="chip-time">{clock(event.start.minute)}</span> " " <span class="chip-title">{event.title.clone()}</span>
        </a>
    }
}

#[component]
fn Agenda(days: Vec<Date>, events: Arc<Vec<CalendarEvent>>) -> impl IntoView {
    let groups: Vec<(Date, Vec<CalendarEvent>)> = days
        .into_iter()
        .map(|d| (d, events.iter().filter(|e| e.start.date == d.to_string()).cloned().collect::<Vec<_>>()))
        .filter(|(_, list)| !list.is_empty())
        .collect();
    if groups.is_empty() {
        return view! {
            <div class="empty-state"><p class="empty-title">"Nothing scheduled"</p>
                <p class="muted">"No classes in the next 30 days."</p></div>
        }
        .into_any();
    }
    view! {
        <div class="agenda">
            {groups.into_iter().map(|(day, list)| view! {
                <section class="agenda-day">
                    <h2>{day.strftime("%A %-d %B").to_string()}</h2>
                    <ul>
                        {list.into_iter().map(|e| {
                            let when = format!("{} – {}", clock(e.start.minute), clock(e.end.minute));
                            view! { <li><span class="agenda-time">{when}</span> <EventChip event=e/></li> }
                        }).collect_view()}
                    </ul>
                </section>
            }).collect_view()}
        </div>
    }
    .into_any()
}
