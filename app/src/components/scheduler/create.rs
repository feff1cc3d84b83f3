//! The dialog in which a teacher schedules a class: a one-off or a repeating series.

use crate::api::ApiError;
use crate::api::accounts::time_zones;
use crate::api::classes::{CreateClass, EditFollowing};
use jiff::civil::Date;
use lectern_model::Field;
use lectern_model::schedule::{
    ClassForm, ClassKind, EnrolmentPolicy, Frequency, MonthlyBy, Recurrence, RecurrenceEnd, Weekday,
};
use leptos::prelude::*;

/// Where a new class starts, from a click or drag on the calendar.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub date: Date,
    pub minute: i32,
    pub duration: i32,
}

impl Draft {
    pub fn at(date: Date, minute: i32, duration: i32) -> Self {
        Self { date, minute, duration }
    }
}

/// "This and following": re-plan a series from one occurrence on, starting from its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowingEdit {
    pub occurrence_id: i64,
    pub title: String,
    pub description: String,
    pub kind: ClassKind,
    pub capacity: Option<i64>,
    pub enrolment: EnrolmentPolicy,
    pub recurrence: Option<Recurrence>,
    /// Occurrences of the series from this one on, to keep the same end by default.
    pub remaining: Option<u32>,
}

fn weekday_of(date: Date) -> Weekday {
    Weekday::ALL[date.weekday().to_monday_zero_offset() as usize]
}

/// The nth occurrence of the date's weekday in its month (5th counts as "last").
fn nth_of(date: Date) -> i8 {
    let n = (date.day() - 1) / 7 + 1;
    if n >= 5 { -1 } else { n }
}

/// Schedule a class (or, with `edit`, re-plan a series from one occurrence on). `time_zone` is
/// the zone the times are typed in: the viewer's for a new class, the class's for an edit.
#[component]
pub fn CreateDialog(
    draft: Draft,
    time_zone: String,
    on_close: Callback<bool>,
    #[prop(optional)] edit: Option<FollowingEdit>,
) -> impl IntoView {
    let create = ServerAction::<CreateClass>::new();
    let following = ServerAction::<EditFollowing>::new();
    let editing = edit.clone();
    let is_edit = edit.is_some();
    let rule = edit.as_ref().and_then(|e| e.recurrence.clone());
    let title = RwSignal::new(edit.as_ref().map(|e| e.title.clone()).unwrap_or_default());
    let description = RwSignal::new(edit.as_ref().map(|e| e.description.clone()).unwrap_or_default());
    let kind = RwSignal::new(edit.as_ref().map_or("live", |e| e.kind.as_str()).to_string());
    let date = RwSignal::new(draft.date.to_string());
    let time = RwSignal::new(format!("{:02}:{:02}", draft.minute / 60, draft.minute % 60));
    let duration = RwSignal::new(draft.duration.to_string());
    let capacity = RwSignal::new(edit.as_ref().and_then(|e| e.capacity).map(|c| c.to_string()).unwrap_or_default());
    let enrolment = RwSignal::new(edit.as_ref().map_or("open", |e| e.enrolment.as_str()).to_string());
    let repeat = RwSignal::new(
        match rule.as_ref().map(|r| r.frequency) {
            None => "none",
            Some(Frequency::Daily) => "daily",
            Some(Frequency::Weekly) => "weekly",
            Some(Frequency::Monthly) => "monthly",
        }
        .to_string(),
    );
    let interval = RwSignal::new(rule.as_ref().map_or(1, |r| r.interval).to_string());
    let weekdays = RwSignal::new(match rule.as_ref() {
        Some(r) if !r.weekdays.is_empty() => r.weekdays.clone(),
        _ => vec![weekday_of(draft.date)],
    });
    let monthly = RwSignal::new(
        if matches!(rule.as_ref().map(|r| r.monthly_by), Some(MonthlyBy::NthWeekday(_))) { "weekday" } else { "date" }
            .to_string(),
    );
    let (end_default, count_default, until_default) = match rule.as_ref().map(|r| &r.end) {
        Some(RecurrenceEnd::Until(d)) => ("until", "10".to_string(), d.clone()),
        _ => ("count", edit.as_ref().and_then(|e| e.remaining).unwrap_or(10).to_string(), String::new()),
    };
    let end_kind = RwSignal::new(end_default.to_string());
    let count = RwSignal::new(count_default);
    let until = RwSignal::new(until_default);
    let local_error = RwSignal::new(None::<String>);
    let zone = RwSignal::new(time_zone.clone());
    let zones = Resource::new(|| (), |_| time_zones());

    let error = Signal::derive(move || {
        if is_edit { following.value().get().and_then(Result::err) } else { create.value().get().and_then(Result::err) }
    });
    let message = move |field: Field| error.get().and_then(|e| e.for_field(field));
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) || matches!(following.value().get(), Some(Ok(_))) {
            on_close.run(true);
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        local_error.set(None);
        let start_date: Option<Date> = date.get_untracked().parse().ok();
        let recurrence = match repeat.get_untracked().as_str() {
            "none" => None,
            freq => {
                let frequency = match freq {
                    "daily" => Frequency::Daily,
                    "monthly" => Frequency::Monthly,
                    _ => Frequency::Weekly,
                };
                let end = if end_kind.get_untracked() == "until" {
                    RecurrenceEnd::Until(until.get_untracked())
                } else {
                    RecurrenceEnd::Count(count.get_untracked().trim().parse().unwrap_or(0))
                };
                // Only a monthly rule may pick "the nth weekday" (the server refuses it elsewhere).
                let monthly_by = match (frequency, monthly.get_untracked().as_str(), start_date) {
                    (Frequency::Monthly, "weekday", Some(d)) => MonthlyBy::NthWeekday(nth_of(d)),
                    _ => MonthlyBy::DayOfMonth,
                };
                let mut days = weekdays.get_untracked();
                days.sort();
                Some(Recurrence {
                    frequency,
                    interval: interval.get_untracked().trim().parse().unwrap_or(0),
                    weekdays: if frequency == Frequency::Weekly { days } else { vec![] },
                    monthly_by,
                    end,
                })
            }
        };
        let Ok(duration_minutes) = duration.get_untracked().trim().parse::<i64>() else {
            local_error.set(Some("Enter the length in minutes.".into()));
            return;
        };
        let capacity_text = capacity.get_untracked();
        let capacity = if capacity_text.trim().is_empty() {
            None
        } else {
            match capacity_text.trim().parse::<i64>() {
                Ok(c) => Some(c),
                Err(_) => {
                    local_error.set(Some("Capacity is a number, or empty for no limit.".into()));
                    return;
                }
            }
        };
        let form = ClassForm {
            title: title.get_untracked(),
            description: description.get_untracked(),
            kind: ClassKind::parse(&kind.get_untracked()).unwrap_or(ClassKind::Live),
            time_zone: zone.get_untracked(),
            start_local: format!("{}T{}", date.get_untracked(), time.get_untracked()),
            duration_minutes,
            capacity,
            enrolment: EnrolmentPolicy::parse(&enrolment.get_untracked()).unwrap_or(EnrolmentPolicy::Open),
            recurrence,
        };
        match &editing {
            Some(edit) => {
                following.dispatch(EditFollowing { occurrence_id: edit.occurrence_id, form });
            }
            None => {
                create.dispatch(CreateClass { form });
            }
        }
    };
    let pending = move || create.pending().get() || following.pending().get();

    let field_error = move |field: Field| {
        move || message(field).map(|m| view! { <p class="field-error" data-field=field.as_str()>{m}</p> })
    };
    let general = move || local_error.get().or_else(|| error.get().and_then(|e: ApiError| e.general()));

    view! {
        <div class="dialog-backdrop" on:click=move |_| on_close.run(false)></div>
        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="create-title"
            on:keydown=move |k: web_sys::KeyboardEvent| if k.key() == "Escape" { on_close.run(false) }>
            <h2 id="create-title">{if is_edit { "Change this and following sessions" } else { "Schedule a class" }}</h2>
            <form class="stack" on:submit=submit novalidate>
                {move || general().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                <div class="field">
                    <label for="class-title">"Title"</label>
                    <input id="class-title" autofocus bind:value=title/>
                    {field_error(Field::Title)}
                </div>
                <div class="field">
                    <label for="class-description">"Description"</label>
                    <textarea id="class-description" rows="2" bind:value=description></textarea>
                    {field_error(Field::Description)}
                </div>
                <div class="row">
                    <div class="field">
                        <label for="class-date">"Date"</label>
                        <input id="class-date" type="date" bind:value=date/>
                    </div>
                    <div class="field">
                        <label for="class-time">"Start"</label>
                        <input id="class-time" type="time" step="300" bind:value=time/>
                    </div>
                    <div class="field">
                        <label for="class-duration">"Minutes"</label>
                        <input id="class-duration" type="number" min="5" step="5" bind:value=duration/>
                    </div>
                </div>
                {field_error(Field::Start)}
                {field_error(Field::Duration)}
                {if is_edit {
                    view! { <p class="hint">{format!("Times are in the class's time zone, {time_zone}.")}</p> }.into_any()
                } else {
                    view! {
                        <div class="field">
                            <label for="class-zone">"Time zone"</label>
                            <Suspense fallback=move || view! { <input id="class-zone" bind:value=zone/> }>
                                {move || Suspend::new(async move {
                                    let names = zones.await.unwrap_or_else(|_| vec![zone.get_untracked()]);
                                    view! {
                                        <select id="class-zone" bind:value=zone>
                                            {names.into_iter().map(|name| {
                                                let selected = name == zone.get_untracked();
                                                view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                                            }).collect_view()}
                                        </select>
                                    }
                                })}
                            </Suspense>
                            {field_error(Field::TimeZone)}
                        </div>
                    }.into_any()
                }}
                <div class="row">
                    <div class="field">
                        <label for="class-kind">"Kind"</label>
                        <select id="class-kind" bind:value=kind>
                            <option value="live">"Live class"</option>
                            <option value="recorded">"Recorded lecture"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="class-enrolment">"Who can enrol"</label>
                        <select id="class-enrolment" bind:value=enrolment>
                            <option value="open">"Anyone"</option>
                            <option value="invite">"People with the invite link"</option>
                            <option value="closed">"Only people I add"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="class-capacity">"Capacity"</label>
                        <input id="class-capacity" type="number" min="1" placeholder="No limit" bind:value=capacity/>
                    </div>
                </div>
                {field_error(Field::Capacity)}
                <fieldset class="repeat">
                    <legend>"Repeat"</legend>
                    <div class="row">
                        <div class="field">
                            <label for="class-repeat">"Repeats"</label>
                            <select id="class-repeat" bind:value=repeat>
                                <option value="none">"Does not repeat"</option>
                                <option value="daily">"Daily"</option>
                                <option value="weekly">"Weekly"</option>
                                <option value="monthly">"Monthly"</option>
                            </select>
                        </div>
                        <Show when=move || repeat.get() != "none">
                            <div class="field">
                                <label for="class-interval">"Every"</label>
                                <input id="class-interval" type="number" min="1" max="99" bind:value=interval/>
                            </div>
                        </Show>
                    </div>
                    <Show when=move || repeat.get() == "weekly">
                        <div class="weekday-picker" role="group" aria-label="On these days">
                            {Weekday::ALL.into_iter().map(|d| view! {
                                <label class="weekday">
                                    <input type="checkbox" prop:checked=move || weekdays.get().contains(&d)
                                        on:change=move |_| weekdays.update(|days| {
                                            if let Some(i) = days.iter().position(|x| *x == d) { days.remove(i); } else { days.push(d); }
                                        })/>
                                    {d.short()}
                                </label>
                            }).collect_view()}
                        </div>
                    </Show>
                    <Show when=move || repeat.get() == "monthly">
                        <div class="field">
                            <label for="class-monthly">"On"</label>
                            <select id="class-monthly" bind:value=monthly>
                                <option value="date">"The same date each month"</option>
                                <option value="weekday">"The same weekday (e.g. second Tuesday)"</option>
                            </select>
                        </div>
                    </Show>
                    <Show when=move || repeat.get() != "none">
                        <div class="row">
                            <div class="field">
                                <label for="class-end">"Ends"</label>
                                <select id="class-end" bind:value=end_kind>
                                    <option value="count">"After a number of times"</option>
                                    <option value="until">"On a date"</option>
                                </select>
                            </div>
                            <Show when=move || end_kind.get() == "count"
                                fallback=move || view! {
                                    <div class="field"><label for="class-until">"Last date"</label>
                                    <input id="class-until" type="date" bind:value=until/></div>
                                }>
                                <div class="field">
                                    <label for="class-count">"Times"</label>
                                    <input id="class-count" type="number" min="1" bind:value=count/>
                                </div>
                            </Show>
                        </div>
                    </Show>
                    {field_error(Field::Recurrence)}
                </fieldset>
                <div class="dialog-actions">
                    <button type="button" class="button secondary" on:click=move |_| on_close.run(false)>"Cancel"</button>
                    <button type="submit" class="button" disabled=pending>{if is_edit { "Save" } else { "Schedule" }}</button>
                </div>
            </form>
        </div>
    }
}
