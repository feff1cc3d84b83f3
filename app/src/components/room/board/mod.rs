//! The whiteboard in the live room: the presenter's page on a canvas, the tools, and the
//! teacher's controls (pages, clearing, who may draw). The board itself is `crate::board`; this
//! turns pointer gestures into its operations and sends them. What is drawn appears once the
//! server has accepted it (a round trip), except the stroke in progress, drawn as it goes.

#[cfg(feature = "hydrate")]
mod paint;
mod view;

use super::client;
use crate::board::{BoardAction, BoardOp, DrawAccess, History, Shape, Tool};
use crate::protocol::{ClientMsg, RoomRole, UserId};
use leptos::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use view::View;

/// The tools of the toolbar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ToolKind {
    Hand,
    Select,
    Pen,
    Highlighter,
    Line,
    Arrow,
    Rect,
    Ellipse,
    Text,
    Eraser,
    Laser,
}

const TOOLS: [(ToolKind, &str); 11] = [
    (ToolKind::Hand, "Hand"),
    (ToolKind::Select, "Select"),
    (ToolKind::Pen, "Pen"),
    (ToolKind::Highlighter, "Highlighter"),
    (ToolKind::Line, "Line"),
    (ToolKind::Arrow, "Arrow"),
    (ToolKind::Rect, "Rectangle"),
    (ToolKind::Ellipse, "Ellipse"),
    (ToolKind::Text, "Text"),
    (ToolKind::Eraser, "Eraser"),
    (ToolKind::Laser, "Laser pointer"),
];
const COLORS: [(&str, &str); 6] = [
    ("#111827", "Black"),
    ("#1d4ed8", "Blue"),
    ("#d62828", "Red"),
    ("#15803d", "Green"),
    ("#f59e0b", "Yellow"),
    ("#7c3aed", "Purple"),
];
const WIDTHS: [(f32, &str); 3] = [(2.0, "Thin"), (5.0, "Medium"), (12.0, "Thick")];
/// How far (in board units) the eraser reaches around the pointer.
const ERASER_RADIUS: f32 = 10.0;
/// Laser positions sent at most this often.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const LASER_EVERY_MS: f64 = 120.0;
/// Points closer than this to the last one are skipped (board units).
const MIN_STEP: f32 = 1.5;
/// One zoom button press, or one notch of Ctrl + wheel.
const ZOOM_STEP: f32 = 1.25;

/// A gesture in progress on the canvas.
#[derive(Clone, Debug)]
enum Gesture {
    Drawing(Shape),
    Erasing(Vec<String>),
    /// Dragging the selection from `from` to `to` (board units).
    Moving {
        from: [f32; 2],
        to: [f32; 2],
    },
    /// Dragging the page while zoomed in; `last` is the pointer in CSS pixels.
    Panning {
        last: [f32; 2],
    },
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// An id no one else on the board uses: the user's id, the clock, and a counter.
fn new_id(user: UserId) -> String {
    #[cfg(feature = "hydrate")]
    let clock = js_sys::Date::now() as u64;
    #[cfg(not(feature = "hydrate"))]
    let clock = 0u64;
    format!("{user}-{clock:x}-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// How often the teacher's browser asks how far a PDF's rendering has got.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const DECK_POLL_MS: i32 = 400;

#[component]
pub fn Whiteboard(class_id: i64) -> impl IntoView {
    let client = client();
    let model = client.model;
    // What the last PDF upload is doing ("Preparing slides: 3 of 20 pages"), or why it failed.
    let slides_status = RwSignal::new(None::<String>);
    let tool = RwSignal::new(ToolKind::Pen);
    let color = RwSignal::new(COLORS[1].0.to_owned());
    let width = RwSignal::new(WIDTHS[1].0);
    let history = StoredValue::new(History::default());
    let gesture = RwSignal::new(None::<Gesture>);
    // Ids of the selected drawings on the current page.
    let selected = RwSignal::new(Vec::<String>::new());
    let last_laser = StoredValue::new(0.0f64);
    let canvas = NodeRef::<leptos::html::Canvas>::new();

    let me = Memo::new(move |_| model.with(|m| m.my_id().unwrap_or(0)));
    let staff = Memo::new(move |_| model.with(|m| m.is_staff()));
    let page = Memo::new(move |_| model.with(|m| m.board.current()));
    let pages = Memo::new(move |_| model.with(|m| m.board.page_ids()));
    let access = Memo::new(move |_| model.with(|m| m.board.access()));
    let may_draw = Memo::new(move |_| {
        model.with(|m| m.board.may_draw(crate::board::Actor { user: me.get(), staff: m.is_staff() }))
    });
    let aspect = Memo::new(move |_| {
        let (w, h) = model.with(|m| m.board.page_size(page.get()));
        format!("aspect-ratio: {w} / {h}")
    });
    let shape_count = Memo::new(move |_| model.with(|m| m.board.shapes(page.get()).len()));
    let students = Memo::new(move |_| {
        model.with(|m| {
            m.roster
                .iter()
                .filter(|p| p.role == RoomRole::Student)
                .map(|p| (p.user, p.name.clone()))
                .collect::<Vec<_>>()
        })
    });

    let send_client = client.clone();
    let send = Callback::new(move |(action, undoable): (BoardAction, bool)| {
        if undoable {
            model.with_untracked(|m| history.update_value(|h| h.record(&m.board, &action)));
        }
        send_client.send(ClientMsg::Board { op: BoardOp { id: new_id(me.get_untracked()), action } });
    });
    let undo = move |_| {
        if let Some(action) = model.with_untracked(|m| history.try_update_value(|h| h.undo(&m.board)).flatten()) {
            send.run((action, false));
        }
    };
    let redo = move |_| {
        if let Some(action) = model.with_untracked(|m| history.try_update_value(|h| h.redo(&m.board)).flatten()) {
            send.run((action, false));
        }
    };

    // The part of the page this browser shows; a page turn shows the new page whole.
    let view = RwSignal::new(View::FIT);
    Effect::new(move |_| {
        page.get();
        view.set(View::FIT);
    });
    let board_version = Memo::new(move |_| model.with(|m| m.board_version));
    let lasers = Memo::new(move |_| model.with(|m| m.lasers.clone()));

    // Repaint (at most once a frame) whenever the board, the pointers, the gesture in progress,
    // the view or a slide's picture (once loaded) change. The settled drawings are kept in a
    // layer that is redrawn only when they or the view change.
    #[cfg(feature = "hydrate")]
    {
        let slide_images = paint::SlideImages::new();
        let painter = StoredValue::new_local(paint::Painter::new());
        let repaint = move || {
            let Some(element) = canvas.get_untracked() else { return };
            let preview = gesture.with_untracked(|g| match g {
                Some(Gesture::Drawing(shape)) => Some(shape.clone()),
                _ => None,
            });
            let dragging = gesture.with_untracked(|g| match g {
                Some(Gesture::Moving { from, to }) => Some((to[0] - from[0], to[1] - from[1])),
                _ => None,
            });
            let chosen = selected.get_untracked();
            let times = model.with_untracked(|m| {
                let current = m.board.current();
                let lasers: Vec<[f32; 2]> = m.lasers.iter().filter(|l| l.1 == current).map(|l| l.2).collect();
                let shapes = m.board.shapes(current);
                // A dragged selection leaves the settled layer and follows the pointer on top.
                let (lifted, floating): (Vec<String>, Vec<Shape>) = match dragging {
                    Some((dx, dy)) => (
                        chosen.clone(),
                        shapes.iter().filter(|s| chosen.contains(&s.id)).map(|s| s.moved(dx, dy)).collect(),
                    ),
                    None => (Vec::new(), Vec::new()),
                };
                let boxes: Vec<_> = if dragging.is_some() {
                    floating.iter().map(Shape::bounds).collect()
                } else {
                    shapes.iter().filter(|s| chosen.contains(&s.id)).map(|s| s.bounds()).collect()
                };
                let slide = m.board.slide(current).and_then(|s| slide_images.ready(&s.image));
                let scene = paint::Scene {
                    page: current,
                    page_size: m.board.page_size(current),
                    epoch: m.board_epoch,
                    view: view.get_untracked(),
                    slide: slide.as_ref(),
                    shapes: &shapes,
                    lifted: &lifted,
                    floating: &floating,
                    preview: preview.as_ref(),
                    lasers: &lasers,
                    selection: &boxes,
                };
                painter.try_update_value(|p| p.paint(&element, &scene)).unwrap_or_default()
            });
            // For the whiteboard benchmark (docs/benchmarks.md): what the last repaints cost.
            let _ = element.set_attribute("data-frame-ms", &format!("{:.2}", times.frame_ms));
            if let Some(layer) = times.layer_ms {
                let _ = element.set_attribute("data-layer-ms", &format!("{layer:.2}"));
            }
        };
        let pending = StoredValue::new(false);
        let schedule = move || {
            if !pending.get_value() {
                pending.set_value(true);
                request_animation_frame(move || {
                    pending.set_value(false);
                    repaint();
                });
            }
        };
        Effect::new(move |_| {
            // Memos are read, not just tracked: a memo nobody reads is never brought up to date,
            // and then stops telling anyone that it changed.
            board_version.get();
            lasers.with(|_| ());
            gesture.track();
            selected.track();
            view.track();
            slide_images.track();
            canvas.track();
            schedule();
        });
        // A page turn, or the selection's drawings going away, ends the selection.
        // Nothing to look up while nothing is selected (most of the time).
        Effect::new(move |_| {
            board_version.get();
            if selected.with_untracked(Vec::is_empty) {
                return;
            }
            let gone: Vec<String> = model.with_untracked(|m| {
                let alive = m.board.shapes(m.board.current());
                selected.with_untracked(|ids| {
                    ids.iter().filter(|id| !alive.iter().any(|s| &s.id == *id)).cloned().collect()
                })
            });
            if !gone.is_empty() {
                selected.update(|ids| ids.retain(|id| !gone.contains(id)));
            }
        });
        let _resize = window_event_listener(leptos::ev::resize, move |_| schedule());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (board_version, lasers);

    let page_size = move || model.with_untracked(|m| m.board.page_size(m.board.current()));
    let css_width = move || canvas.get_untracked().map_or(1.0, |c| c.client_width().max(1) as f32);
    // Pointer position in board units.
    let board_point = move |e: &web_sys::PointerEvent| -> Option<[f32; 2]> {
        canvas.get_untracked()?;
        Some(view.get_untracked().to_board(css_point(e), css_width(), page_size().0))
    };
    let zoom_by = move |factor: f32, at: Option<[f32; 2]>| {
        let (w, h) = page_size();
        view.update(|v| {
            // Without a pointer, around the middle of what is shown.
            let at = at.unwrap_or([v.origin[0] + w / v.zoom / 2.0, v.origin[1] + h / v.zoom / 2.0]);
            *v = v.zoomed(factor, at, (w, h));
        });
    };
    let on_wheel = move |e: web_sys::WheelEvent| {
        let at = css_point(&e);
        if e.ctrl_key() || e.meta_key() {
            e.prevent_default();
            let factor = if e.delta_y() < 0.0 { ZOOM_STEP } else { 1.0 / ZOOM_STEP };
            let point = view.get_untracked().to_board(at, css_width(), page_size().0);
            zoom_by(factor, Some(point));
        } else if view.get_untracked().zoom > 1.0 {
            // Zoomed in, the wheel moves around the page (and not the web page).
            e.prevent_default();
            let delta = [-(e.delta_x() as f32), -(e.delta_y() as f32)];
            view.update(|v| *v = v.panned(delta, css_width(), page_size()));
        }
    };

    let on_down = move |e: web_sys::PointerEvent| {
        // The hand, the middle button, or anyone who may not draw: drag the page around.
        if tool.get_untracked() == ToolKind::Hand || e.button() == 1 || !may_draw.get_untracked() {
            if view.get_untracked().zoom > 1.0 {
                if let Some(element) = canvas.get_untracked() {
                    let _ = element.set_pointer_capture(e.pointer_id());
                }
                gesture.set(Some(Gesture::Panning { last: css_point(&e) }));
            }
            return;
        }
        let Some(at) = board_point(&e) else { return };
        let current = page.get_untracked();
        let shape = |tool: Tool| Shape {
            id: new_id(me.get_untracked()),
            author: me.get_untracked(),
            color: color.get_untracked(),
            width: width.get_untracked(),
            tool,
        };
        let started = match tool.get_untracked() {
            ToolKind::Select => {
                // The topmost drawing under the pointer that one may change.
                let (mine, is_staff) = (me.get_untracked(), staff.get_untracked());
                let hit = model.with_untracked(|m| {
                    let shapes = m.board.shapes(current);
                    m.board
                        .hit(current, at, ERASER_RADIUS)
                        .into_iter()
                        .find(|id| is_staff || shapes.iter().any(|s| &s.id == id && s.author == mine))
                });
                match hit {
                    Some(id) => {
                        if !selected.with_untracked(|ids| ids.contains(&id)) {
                            selected.set(vec![id]);
                        }
                        Some(Gesture::Moving { from: at, to: at })
                    }
                    None => {
                        selected.set(Vec::new());
                        None
                    }
                }
            }
            ToolKind::Pen => Some(Gesture::Drawing(shape(Tool::Pen { points: vec![[at[0], at[1], e.pressure()]] }))),
            ToolKind::Highlighter => Some(Gesture::Drawing(Shape {
                width: width.get_untracked() * 3.0,
                ..shape(Tool::Highlighter { points: vec![at] })
            })),
            ToolKind::Line => Some(Gesture::Drawing(shape(Tool::Line { from: at, to: at }))),
            ToolKind::Arrow => Some(Gesture::Drawing(shape(Tool::Arrow { from: at, to: at }))),
            ToolKind::Rect => Some(Gesture::Drawing(shape(Tool::Rect { from: at, to: at }))),
            ToolKind::Ellipse => Some(Gesture::Drawing(shape(Tool::Ellipse { from: at, to: at }))),
            ToolKind::Eraser => {
                Some(Gesture::Erasing(model.with_untracked(|m| m.board.hit(current, at, ERASER_RADIUS))))
            }
            ToolKind::Text => {
                #[cfg(feature = "hydrate")]
                if let Some(text) = web_sys::window().and_then(|w| w.prompt_with_message("Text").ok().flatten())
                    && !text.trim().is_empty()
                {
                    let size = width.get_untracked() * 5.0 + 10.0;
                    let shape = shape(Tool::Text { at, text, size });
                    send.run((BoardAction::Draw { page: current, shape }, true));
                }
                None
            }
            ToolKind::Laser | ToolKind::Hand => None,
        };
        if started.is_some() {
            if let Some(element) = canvas.get_untracked() {
                let _ = element.set_pointer_capture(e.pointer_id());
            }
            gesture.set(started);
        }
    };

    let laser_client = client.clone();
    let on_move = move |e: web_sys::PointerEvent| {
        let Some(at) = board_point(&e) else { return };
        if tool.get_untracked() == ToolKind::Laser && may_draw.get_untracked() {
            #[cfg(feature = "hydrate")]
            {
                let now = js_sys::Date::now();
                if now - last_laser.get_value() >= LASER_EVERY_MS {
                    last_laser.set_value(now);
                    laser_client.send(ClientMsg::Laser { page: page.get_untracked(), at: Some(at) });
                }
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = (&laser_client, last_laser);
            return;
        }
        if gesture.with_untracked(Option::is_none) {
            return;
        }
        if let Some(Gesture::Panning { last }) = gesture.get_untracked() {
            let now = css_point(&e);
            view.update(|v| *v = v.panned([now[0] - last[0], now[1] - last[1]], css_width(), page_size()));
            gesture.set(Some(Gesture::Panning { last: now }));
            return;
        }
        let current = page.get_untracked();
        gesture.update(|g| match g {
            Some(Gesture::Drawing(shape)) => match &mut shape.tool {
                Tool::Pen { points } => {
                    if points.last().is_none_or(|p| (p[0] - at[0]).hypot(p[1] - at[1]) >= MIN_STEP) {
                        points.push([at[0], at[1], e.pressure()]);
                    }
                }
                Tool::Highlighter { points } => {
                    if points.last().is_none_or(|p| (p[0] - at[0]).hypot(p[1] - at[1]) >= MIN_STEP) {
                        points.push(at);
                    }
                }
                Tool::Line { to, .. } | Tool::Arrow { to, .. } | Tool::Rect { to, .. } | Tool::Ellipse { to, .. } => {
                    *to = at
                }
                Tool::Text { .. } => {}
            },
            Some(Gesture::Moving { to, .. }) => *to = at,
            Some(Gesture::Panning { .. }) => {}
            Some(Gesture::Erasing(ids)) => {
                for id in model.with_untracked(|m| m.board.hit(current, at, ERASER_RADIUS)) {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            None => {}
        });
    };

    let on_up = move |_e: web_sys::PointerEvent| {
        let Some(done) = gesture.get_untracked() else { return };
        gesture.set(None);
        let current = page.get_untracked();
        match done {
            Gesture::Drawing(shape) => send.run((BoardAction::Draw { page: current, shape }, true)),
            Gesture::Erasing(ids) if !ids.is_empty() => {
                // Students may erase only their own drawings: leave others' out of the request.
                let mine = me.get_untracked();
                let ids: Vec<String> = if staff.get_untracked() {
                    ids
                } else {
                    model.with_untracked(|m| {
                        let own: Vec<String> =
                            m.board.shapes(current).iter().filter(|s| s.author == mine).map(|s| s.id.clone()).collect();
                        ids.into_iter().filter(|id| own.contains(id)).collect()
                    })
                };
                if !ids.is_empty() {
                    send.run((BoardAction::Erase { page: current, ids }, true));
                }
            }
            Gesture::Erasing(_) | Gesture::Panning { .. } => {}
            Gesture::Moving { from, to } => {
                let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
                let ids = selected.get_untracked();
                if dx.hypot(dy) >= MIN_STEP && !ids.is_empty() {
                    send.run((BoardAction::Move { page: current, ids, dx, dy }, true));
                }
            }
        }
    };
    let delete_selected = move || {
        let ids = selected.get_untracked();
        if !ids.is_empty() {
            selected.set(Vec::new());
            send.run((BoardAction::Erase { page: page.get_untracked(), ids }, true));
        }
    };
    let on_key = move |e: web_sys::KeyboardEvent| {
        if matches!(e.key().as_str(), "Delete" | "Backspace") {
            e.prevent_default();
            delete_selected();
        }
    };
    let leave_client = client.clone();
    let on_leave = move |_e: web_sys::PointerEvent| {
        if tool.get_untracked() == ToolKind::Laser && may_draw.get_untracked() {
            leave_client.send(ClientMsg::Laser { page: page.get_untracked(), at: None });
        }
    };

    let position = Memo::new(move |_| {
        let (current, all) = (page.get(), pages.get());
        (all.iter().position(|p| *p == current).map_or(1, |i| i + 1), all.len())
    });
    let at_first = Memo::new(move |_| position.with(|(i, _)| *i <= 1));
    let at_last = Memo::new(move |_| position.with(|(i, n)| i >= n));
    let go = move |step: isize| {
        let all = pages.get_untracked();
        let i = all.iter().position(|p| *p == page.get_untracked()).unwrap_or(0) as isize + step;
        if let Some(target) = usize::try_from(i).ok().and_then(|i| all.get(i)) {
            send.run((BoardAction::ShowPage { page: *target }, false));
        }
    };
    let add_page = move |_| send.run((BoardAction::AddPage { after: Some(page.get_untracked()), page: 0 }, false));
    // A PDF becomes slides after the current page: upload it, follow its rendering, then insert
    // the deck and show its first slide.
    let on_pdf = move |e: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use super::upload;
            let Some(file) = upload::take_file(&e) else { return };
            slides_status.set(Some(format!("Uploading {}…", file.name())));
            leptos::task::spawn_local(async move {
                let deck = match upload::post_file(&format!("/classes/{class_id}/slides"), &file).await {
                    Ok(reply) => reply["deck"]["id"].as_i64(),
                    Err(why) => return slides_status.set(Some(why)),
                };
                let Some(deck) = deck else {
                    return slides_status.set(Some("The server's answer was not understood.".into()));
                };
                loop {
                    upload::sleep(DECK_POLL_MS).await;
                    let state = upload::get_json(&format!("/classes/{class_id}/slides/{deck}")).await;
                    let state: crate::protocol::SlideDeck = match state.map(serde_json::from_value) {
                        Ok(Ok(state)) => state,
                        Ok(Err(_)) => return slides_status.set(Some("The server's answer was not understood.".into())),
                        Err(why) => return slides_status.set(Some(why)),
                    };
                    match state.status {
                        crate::protocol::DeckStatus::Rendering if state.pages > 0 => slides_status
                            .set(Some(format!("Preparing slides: {} of {} pages", state.done, state.pages))),
                        crate::protocol::DeckStatus::Rendering => slides_status.set(Some("Opening the PDF…".into())),
                        crate::protocol::DeckStatus::Failed => {
                            return slides_status
                                .set(Some(state.error.unwrap_or_else(|| "The PDF could not be used.".into())));
                        }
                        crate::protocol::DeckStatus::Ready => break,
                    }
                }
                // The server keeps the first page id we ask for when it is free (the next one).
                let first = model.with_untracked(|m| m.board.page_ids().into_iter().max().unwrap_or(0) + 1);
                let after = Some(page.get_untracked());
                send.run((BoardAction::InsertSlides { after, deck, slides: Vec::new(), first }, false));
                send.run((BoardAction::ShowPage { page: first }, false));
                slides_status.set(None);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (e, class_id);
    };
    // The page as shown, as a PNG download.
    let save_png = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(element) = canvas.get_untracked() {
            paint::download_png(&element, &format!("page-{}.png", position.get_untracked().0));
        }
    };
    let clear = move |_| send.run((BoardAction::Clear { page: page.get_untracked() }, true));
    let set_access = move |e: leptos::ev::Event| {
        let value = event_target_value(&e);
        let access = match value.as_str() {
            "staff" => DrawAccess::StaffOnly,
            "everyone" => DrawAccess::Everyone,
            other => match other.parse::<UserId>() {
                Ok(user) => DrawAccess::Student { user },
                Err(_) => return,
            },
        };
        send.run((BoardAction::SetAccess { access }, false));
    };
    let access_value = move || match access.get() {
        DrawAccess::StaffOnly => "staff".to_owned(),
        DrawAccess::Everyone => "everyone".to_owned(),
        DrawAccess::Student { user } => user.to_string(),
    };

    view! {
        <section class="card board" data-testid="board" aria-label="Whiteboard">
            <div class="board-tools" role="toolbar" aria-label="Whiteboard tools">
                <Show when=move || may_draw.get() fallback=|| view! { <p class="board-note">"The teacher is presenting."</p> }>
                    <div class="tool-group" role="group" aria-label="Tool">
                        {TOOLS.iter().map(|(kind, label)| {
                            let kind = *kind;
                            view! {
                                <button type="button" class="tool" data-tool=*label
                                    aria-pressed=move || (tool.get() == kind).to_string()
                                    on:click=move |_| tool.set(kind)>{*label}</button>
                            }
                        }).collect_view()}
                    </div>
                    <div class="tool-group" role="group" aria-label="Colour">
                        {COLORS.iter().map(|(value, name)| {
                            let value = (*value).to_owned();
                            let chosen = value.clone();
                            view! {
                                <button type="button" class="swatch" style=format!("background:{value}") aria-label=*name
                                    aria-pressed=move || (color.get() == chosen).to_string()
                                    on:click=move |_| color.set(value.clone())></button>
                            }
                        }).collect_view()}
                    </div>
                    <div class="tool-group" role="group" aria-label="Width">
                        {WIDTHS.iter().map(|(value, name)| {
                            let value = *value;
                            view! {
                                <button type="button" class="tool" aria-pressed=move || (width.get() == value).to_string()
                                    on:click=move |_| width.set(value)>{*name}</button>
                            }
                        }).collect_view()}
                    </div>
                    <div class="tool-group">
                        <button type="button" class="tool" on:click=undo>"Undo"</button>
                        <button type="button" class="tool" on:click=redo>"Redo"</button>
                        <button type="button" class="tool" on:click=move |_| delete_selected()
                            disabled=move || selected.with(Vec::is_empty)>"Delete selected"</button>
                    </div>
                </Show>
                <Show when=move || staff.get()>
                    <div class="tool-group">
                        <button type="button" class="tool" on:click=clear>"Clear page"</button>
                        <label class="board-access">"Who may draw "
                            <select on:change=set_access data-testid="board-access">
                                <option value="staff" prop:selected=move || access_value() == "staff">"Teachers only"</option>
                                <option value="everyone" prop:selected=move || access_value() == "everyone">"Everyone"</option>
                                {move || students.get().into_iter().map(|(user, name)| {
                                    let value = user.to_string();
                                    let chosen = value.clone();
                                    view! { <option value=value prop:selected=move || access_value() == chosen>{name}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    </div>
                </Show>
            </div>
            <canvas node_ref=canvas class="board-canvas" data-testid="board-canvas" style=move || aspect.get()
                class:can-draw=move || may_draw.get()
                data-page=move || page.get().to_string() data-shapes=move || shape_count.get().to_string()
                on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up on:pointercancel=on_up
                on:pointerleave=on_leave tabindex="0" on:keydown=on_key on:wheel=on_wheel
                class:zoomed=move || view.with(|v| v.zoom > 1.0)
                aria-label="Whiteboard page: draw with the chosen tool; with Select, Delete removes the selection"></canvas>
            <nav class="board-pages" aria-label="Pages">
                <Show when=move || staff.get()>
                    <button type="button" class="tool" on:click=move |_| go(-1) disabled=move || at_first.get()>"Previous page"</button>
                </Show>
                <span data-testid="board-page">{move || { let (i, n) = position.get(); format!("Page {i} of {n}") }}</span>
                <Show when=move || staff.get()>
                    <button type="button" class="tool" on:click=move |_| go(1) disabled=move || at_last.get()>"Next page"</button>
                    <button type="button" class="tool" on:click=add_page>"Add a blank page"</button>
                    <label class="tool file-pick">"Add PDF slides"
                        <input type="file" accept=".pdf,application/pdf" class="visually-hidden"
                            data-testid="slides-file" on:change=on_pdf/>
                    </label>
                </Show>
                <span class="board-zoom" role="group" aria-label="Zoom">
                    <button type="button" class="tool" aria-label="Zoom out" on:click=move |_| zoom_by(1.0 / ZOOM_STEP, None)
                        disabled=move || view.with(|v| v.zoom <= 1.0)>"−"</button>
                    <span data-testid="board-zoom">{move || format!("{:.0}%", view.with(|v| v.zoom) * 100.0)}</span>
                    <button type="button" class="tool" aria-label="Zoom in" on:click=move |_| zoom_by(ZOOM_STEP, None)
                        disabled=move || view.with(|v| v.zoom >= view::MAX_ZOOM)>"+"</button>
                    <button type="button" class="tool" on:click=move |_| view.set(View::FIT)
                        disabled=move || view.with(|v| v.zoom <= 1.0)>"Fit page"</button>
                </span>
                <span class="board-export">
                    <button type="button" class="tool" on:click=save_png>"Save page as PNG"</button>
                    <a class="tool" href=format!("/classes/{class_id}/board.pdf") download="board.pdf"
                        data-testid="board-pdf">"Download as PDF"</a>
                </span>
            </nav>
            {move || slides_status.get().map(|s| view! { <p class="board-note" role="status" data-testid="slides-status">{s}</p> })}
        </section>
    }
}

/// Where a pointer or wheel event is on the canvas, in CSS pixels from its top-left corner.
fn css_point(e: &web_sys::MouseEvent) -> [f32; 2] {
    [e.offset_x() as f32, e.offset_y() as f32]
}
