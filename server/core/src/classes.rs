//! Classes and the schedule: creating classes and series, moving and cancelling occurrences,
//! splitting a series ("this and following"), enrolment, and the calendar.
//!
//! Every change takes a capability: [`Teacher`] to create, [`ClassTeacher`] to change one class.

use crate::accounts::time_zone;
use crate::auth::{Authenticated, ClassTeacher, Forbidden, Teacher};
use crate::config::ClassesConfig;
use crate::local_time;
use crate::schedule::ical::{self, IcalEvent, IcalOverride};
use crate::schedule::recurrence::{self, Instance, RecurrenceError};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::classes::{
    CalendarScope, Clash, ClassRecord, ClassSchedule, Enrolled, NewClass, NewSeries, OccurrenceRecord, Slot,
};
use crate::store::users::UserRecord;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use lectern_model::schedule::{
    CalendarEvent, ClassDetails, ClassForm, ClassKind, EnrolmentPolicy, Frequency, LocalSlot, MonthlyBy,
    OccurrenceView, Recurrence, RecurrenceEnd, RosterMember,
};
use lectern_model::{Field, FieldError, Role};

pub const TITLE_MAX: usize = 120;
pub const DESCRIPTION_MAX: usize = 5_000;
const MINUTE_MS: i64 = 60_000;
/// The longest range one calendar request may cover (a month view with its spill-over weeks is 42 days).
const CALENDAR_MAX_DAYS: i64 = 62;

#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// The teacher already teaches at that time.
    #[error("{}", clash_message(.0))]
    Conflict(Vec<Clash>),
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error("no such class")]
    NotFound,
    #[error("this class is full")]
    Full,
    #[error("this class is not open for enrolment")]
    EnrolmentClosed,
    #[error("this class has been cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: Field, message: impl Into<String>) -> ClassError {
    ClassError::Invalid(vec![FieldError::new(field, message)])
}

/// "Overlaps Algebra (Mon 30 Nov, 09:00–10:00 UTC)" for the first clash, and how many more.
fn clash_message(clashes: &[Clash]) -> String {
    match clashes.first() {
        None => "overlaps another class".into(),
        Some(first) => {
            let when = local_time::format_span(first.starts_at, first.ends_at, "UTC");
            let more = clashes.len() - 1;
            let rest = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("This overlaps your class \u{201c}{}\u{201d} ({when} UTC){rest}.", first.title)
        }
    }
}

/// A clash described in the viewer's zone, for the page.
pub fn describe_clash(clashes: &[Clash], zone: &str) -> String {
    match clashes.first() {
        None => "This overlaps another of your classes.".into(),
        Some(first) => {
            let when = local_time::format_span(first.starts_at, first.ends_at, zone);
            let more = clashes.len() - 1;
            let rest = if more > 0 {
                format!(", and {more} more occurrence{}", if more == 1 { "" } else { "s" })
            } else {
                String::new()
            };
            format!("This overlaps your class \u{201c}{}\u{201d} on {when}{rest}.", first.title)
        }
    }
}

/// The Monday on or before `date`.
pub fn monday_of(date: Date) -> Date {
    let back = date.weekday().to_monday_zero_offset() as i64;
    date.checked_sub(jiff::Span::new().days(back)).unwrap_or(date)
}

/// Parse `YYYY-MM-DDTHH:MM` (seconds optional).
pub fn parse_local(input: &str) -> Option<DateTime> {
    input.trim().parse::<DateTime>().ok()
}

fn format_local(dt: DateTime) -> String {
    dt.strftime("%Y-%m-%dT%H:%M").to_string()
}

/// A validated class form: what the store and the recurrence engine need.
struct CheckedForm {
    class: NewClass,
    start: DateTime,
    tz: TimeZone,
    duration_minutes: i64,
    recurrence: Option<Recurrence>,
}

fn check_form(state: &AppState, teacher_id: i64, form: &ClassForm) -> Result<CheckedForm, ClassError> {
    let limits = &state.config.classes;
    let mut problems = Vec::new();
    let title = form.title.trim();
    if title.is_empty() {
        problems.push(FieldError::new(Field::Title, "Give the class a title."));
    } else if title.chars().count() > TITLE_MAX || title.chars().any(char::is_control) {
        problems
            .push(FieldError::new(Field::Title, format!("A title has at most {TITLE_MAX} characters, on one line.")));
    }
    let description = form.description.trim();
    if description.chars().count() > DESCRIPTION_MAX {
        problems.push(FieldError::new(
            Field::Description,
            format!("A description has at most {DESCRIPTION_MAX} characters."),
        ));
    }
    let zone = time_zone(&form.time_zone).map_err(|e| problems.push(e)).ok();
    let start = parse_local(&form.start_local);
    if start.is_none() {
        problems.push(FieldError::new(Field::Start, "Choose a start date and time."));
    }
    if !(5..=limits.max_duration_minutes).contains(&form.duration_minutes) {
        problems.push(FieldError::new(
            Field::Duration,
            format!("A class lasts from 5 minutes to {} hours.", limits.max_duration_minutes / 60),
        ));
    }
    if let Some(capacity) = form.capacity
        && !(1..=limits.max_capacity).contains(&capacity)
    {
        problems.push(FieldError::new(
            Field::Capacity,
            format!("Capacity is from 1 to {}, or empty for no limit.", limits.max_capacity),
        ));
    }
    if let Some(rule) = &form.recurrence
        && let Err(e) = recurrence::validate(rule)
    {
        problems.push(FieldError::new(Field::Recurrence, e.to_string()));
    }
    if !problems.is_empty() {
        return Err(ClassError::Invalid(problems));
    }
    let (Some(zone), Some(start)) = (zone, start) else {
        return Err(invalid(Field::Start, "Choose a start date and time."));
    };
    let tz = TimeZone::get(&zone).map_err(|_| invalid(Field::TimeZone, "Choose a time zone from the list."))?;
    Ok(CheckedForm {
        class: NewClass {
            teacher_id,
            title: title.to_owned(),
            description: description.to_owned(),
            kind: form.kind.as_str(),
            time_zone: zone,
            capacity: form.capacity,
            enrolment_policy: form.enrolment.as_str(),
            invite_token: crate::auth::token::generate(),
        },
        start,
        tz,
        duration_minutes: form.duration_minutes,
        recurrence: form.recurrence.clone(),
    })
}

fn slots_of(instances: &[Instance], duration_minutes: i64, in_series: bool) -> Vec<Slot> {
    instances
        .iter()
        .map(|i| Slot {
            starts_at: i.starts_at_ms,
            // Duration is elapsed time: a one-hour class is one hour even on a DST night.
            ends_at: i.starts_at_ms + duration_minutes * MINUTE_MS,
            original_start_at: in_series.then_some(i.starts_at_ms),
        })
        .collect()
}

fn recurrence_error(e: RecurrenceError) -> ClassError {
    invalid(Field::Recurrence, e.to_string())
}

/// Expand a checked form into its occurrences (and series, if it repeats).
fn schedule_of(state: &AppState, form: &CheckedForm) -> Result<(Option<NewSeries>, Vec<Slot>), ClassError> {
    match &form.recurrence {
        None => Ok((None, slots_of(&[recurrence::single(form.start, &form.tz)], form.duration_minutes, false))),
        Some(rule) => {
            let max = state.config.classes.max_occurrences_per_series as usize;
            let instances = recurrence::expand(rule, form.start, &form.tz, max).map_err(recurrence_error)?;
            if instances.is_empty() {
                return Err(invalid(Field::Recurrence, "This schedule has no occurrences. Check its end."));
            }
            let series = NewSeries {
                rrule: recurrence::to_rrule(rule, form.start, &form.tz),
                dtstart_local: format_local(form.start),
                duration_minutes: form.duration_minutes,
            };
            Ok((Some(series), slots_of(&instances, form.duration_minutes, true)))
        }
    }
}

/// Schedule a new class (one-off or a series). Refused whole if any occurrence overlaps another
/// class of the same teacher.
pub async fn create_class(
    state: &AppState,
    teacher: Teacher<'_>,
    form: &ClassForm,
    now: i64,
) -> Result<i64, ClassError> {
    let checked = check_form(state, teacher.user().id, form)?;
    let (series, slots) = schedule_of(state, &checked)?;
    let schedule = ClassSchedule { class: &checked.class, series: series.as_ref(), slots: &slots };
    state.store.create_class(&schedule, now).await?.map_err(ClassError::Conflict)
}

/// Load a class and check the caller may change it.
pub async fn class_for_teacher(
    state: &AppState,
    me: &Authenticated,
    class_id: i64,
) -> Result<(ClassRecord, i64), ClassError> {
    let class = state.store.class_by_id(class_id).await?.ok_or(ClassError::NotFound)?;
    me.teacher_of(&class)?;
    Ok((class, me.user.id))
}

/// Move (and resize) one occurrence to a local start in `zone` (the viewer's), lasting
/// `duration_minutes`.
pub async fn move_occurrence(
    state: &AppState,
    me: &Authenticated,
    occurrence_id: i64,
    start_local: &str,
    duration_minutes: i64,
    zone: &str,
    now: i64,
) -> Result<(), ClassError> {
    let occurrence = state.store.occurrence_by_id(occurrence_id).await?.ok_or(ClassError::NotFound)?;
    let class = state.store.class_by_id(occurrence.class_id).await?.ok_or(ClassError::NotFound)?;
    let _can = me.teacher_of(&class)?;
    if class.cancelled_at.is_some() {
        return Err(ClassError::Cancelled);
    }
    if !(5..=state.config.classes.max_duration_minutes).contains(&duration_minutes) {
        return Err(invalid(Field::Duration, "That duration is out of range."));
    }
    let start = parse_local(start_local).ok_or_else(|| invalid(Field::Start, "Choose a start date and time."))?;
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let starts_at = recurrence::single(start, &tz).starts_at_ms;
    let ends_at = starts_at + duration_minutes * MINUTE_MS;
    state.store.move_occurrence(&occurrence, starts_at, ends_at, now).await?.map_err(ClassError::Conflict)
}

pub async fn cancel_occurrence(
    state: &AppState,
    me: &Authenticated,
    occurrence_id: i64,
    now: i64,
) -> Result<(), ClassError> {
    let occurrence = state.store.occurrence_by_id(occurrence_id).await?.ok_or(ClassError::NotFound)?;
    let class = state.store.class_by_id(occurrence.class_id).await?.ok_or(ClassError::NotFound)?;
    me.teacher_of(&class)?;
    Ok(state.store.cancel_occurrence(&occurrence, now).await?)
}

pub async fn cancel_class(state: &AppState, teacher: ClassTeacher<'_>, now: i64) -> Result<(), ClassError> {
    Ok(state.store.cancel_class(teacher.class_id(), now).await?)
}

/// "This and following": from `occurrence_id` on, the series follows `form`'s start, duration
/// and recurrence; the occurrences before it keep the old rule.
pub async fn edit_following(
    state: &AppState,
    me: &Authenticated,
    occurrence_id: i64,
    form: &ClassForm,
    now: i64,
) -> Result<(), ClassError> {
    let occurrence = state.store.occurrence_by_id(occurrence_id).await?.ok_or(ClassError::NotFound)?;
    let class = state.store.class_by_id(occurrence.class_id).await?.ok_or(ClassError::NotFound)?;
    me.teacher_of(&class)?;
    let (Some(rule_id), Some(original)) = (occurrence.rule_id, occurrence.original_start_at) else {
        return Err(invalid(Field::Recurrence, "This occurrence is not part of a series."));
    };
    let rules = state.store.class_rules(class.id).await?;
    let rule = rules.into_iter().find(|r| r.id == rule_id).ok_or(ClassError::NotFound)?;
    let tz = TimeZone::get(&class.time_zone).unwrap_or(TimeZone::UTC);
    let old = recurrence::parse_rrule(&rule.rrule, &tz).map_err(recurrence_error)?;
    let rule_start = parse_local(&rule.dtstart_local)
        .ok_or_else(|| ClassError::Store(StoreError::Corrupt(rule.dtstart_local.clone())))?;

    // The old series now ends the day before this occurrence's original date.
    let original_date = jiff::Timestamp::from_millisecond(original)
        .map_err(|e| ClassError::Store(StoreError::Corrupt(e.to_string())))?
        .to_zoned_datetime(tz.clone())
        .date();
    let truncated = if original_date <= rule_start.date() {
        None
    } else {
        let until = original_date.yesterday().map_err(|e| ClassError::Store(StoreError::Corrupt(e.to_string())))?;
        let shortened = Recurrence { end: RecurrenceEnd::Until(until.to_string()), ..old };
        Some(recurrence::to_rrule(&shortened, rule_start, &tz))
    };

    let mut form = form.clone();
    form.time_zone = class.time_zone.clone();
    let checked = check_form(state, class.teacher_id, &form)?;
    let (series, slots) = schedule_of(state, &checked)?;
    let series = series.unwrap_or_else(|| NewSeries {
        rrule: recurrence::to_rrule(
            &Recurrence {
                frequency: Frequency::Daily,
                interval: 1,
                weekdays: vec![],
                monthly_by: MonthlyBy::DayOfMonth,
                end: RecurrenceEnd::Count(1),
            },
            checked.start,
            &checked.tz,
        ),
        dtstart_local: format_local(checked.start),
        duration_minutes: checked.duration_minutes,
    });
    let slots: Vec<Slot> = slots.into_iter().map(|s| Slot { original_start_at: Some(s.starts_at), ..s }).collect();
    state
        .store
        .split_series(class.id, class.teacher_id, &rule, truncated.as_deref(), original, &series, &slots, now)
        .await?
        .map_err(ClassError::Conflict)
}

/// Change a class's title, description, capacity and enrolment policy ("all occurrences").
pub async fn update_details(
    state: &AppState,
    teacher: ClassTeacher<'_>,
    title: &str,
    description: &str,
    capacity: Option<i64>,
    enrolment: EnrolmentPolicy,
    now: i64,
) -> Result<(), ClassError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > TITLE_MAX {
        return Err(invalid(Field::Title, format!("A title has 1 to {TITLE_MAX} characters.")));
    }
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(invalid(Field::Description, format!("A description has at most {DESCRIPTION_MAX} characters.")));
    }
    if capacity.is_some_and(|c| !(1..=state.config.classes.max_capacity).contains(&c)) {
        return Err(invalid(Field::Capacity, "That capacity is out of range."));
    }
    Ok(state
        .store
        .update_class_details(teacher.class_id(), title, description.trim(), capacity, enrolment.as_str(), now)
        .await?)
}

/// Enrol the caller. An invite-only class needs its invite token; a closed one refuses.
pub async fn enrol(
    state: &AppState,
    me: &Authenticated,
    class_id: i64,
    invite: Option<&str>,
    now: i64,
) -> Result<(), ClassError> {
    let class = state.store.class_by_id(class_id).await?.ok_or(ClassError::NotFound)?;
    if class.cancelled_at.is_some() {
        return Err(ClassError::Cancelled);
    }
    let invited = invite.is_some_and(|t| class.invite_token.as_deref() == Some(t));
    let allowed = match EnrolmentPolicy::parse(&class.enrolment_policy) {
        Some(EnrolmentPolicy::Open) => true,
        Some(EnrolmentPolicy::Invite) => invited,
        _ => false,
    };
    if !allowed {
        return Err(ClassError::EnrolmentClosed);
    }
    enrol_user(state, class_id, me.user.id, now).await
}

async fn enrol_user(state: &AppState, class_id: i64, user_id: i64, now: i64) -> Result<(), ClassError> {
    match state.store.enrol(class_id, user_id, now).await? {
        Enrolled::Now | Enrolled::Already => Ok(()),
        Enrolled::Full => Err(ClassError::Full),
    }
}

/// A teacher adds someone by username or email.
pub async fn add_student(state: &AppState, teacher: ClassTeacher<'_>, login: &str, now: i64) -> Result<(), ClassError> {
    let user = user_named(state, login).await?;
    enrol_user(state, teacher.class_id(), user.id, now).await
}

/// The user a teacher typed (username or email, any case), or a message for that field.
async fn user_named(state: &AppState, login: &str) -> Result<UserRecord, ClassError> {
    let login = login.trim().to_lowercase();
    state
        .store
        .user_by_login(&login)
        .await?
        .ok_or_else(|| invalid(Field::Username, "No one has that username or email."))
}

/// The occurrence whose live room is open at `now`: from `join_opens_minutes_before` its start
/// until its end, not cancelled. The class page's Join button and the room's door both ask this.
pub fn open_for_joining<'a>(
    config: &ClassesConfig,
    occurrences: &'a [OccurrenceRecord],
    now: i64,
) -> Option<&'a OccurrenceRecord> {
    let lead = config.join_opens_minutes_before * MINUTE_MS;
    occurrences.iter().find(|o| o.cancelled_at.is_none() && o.starts_at - lead <= now && now < o.ends_at)
}

/// Make another teacher of the school a co-teacher of this class: in its live room they have the
/// teacher's powers. Someone already enrolled as a student becomes a co-teacher instead.
pub async fn add_co_teacher(
    state: &AppState,
    teacher: ClassTeacher<'_>,
    login: &str,
    now: i64,
) -> Result<(), ClassError> {
    let user = user_named(state, login).await?;
    if !user.role.can_teach() {
        return Err(invalid(
            Field::Username,
            format!("{} is a student. An admin can give them the teacher role first.", user.display_name),
        ));
    }
    if teacher.owner_id() == user.id {
        return Err(invalid(Field::Username, "They already teach this class."));
    }
    state.store.set_enrolment_role(teacher.class_id(), user.id, "co_teacher", now).await?;
    Ok(())
}

pub async fn remove_student(state: &AppState, teacher: ClassTeacher<'_>, user_id: i64) -> Result<(), ClassError> {
    state.store.unenrol(teacher.class_id(), user_id).await?;
    Ok(())
}

pub async fn leave(state: &AppState, me: &Authenticated, class_id: i64) -> Result<(), ClassError> {
    state.store.unenrol(class_id, me.user.id).await?;
    Ok(())
}

/// The local date range `[from, to)` in `zone` as UTC milliseconds.
fn range_ms(from: Date, to: Date, tz: &TimeZone) -> Option<(i64, i64)> {
    let start = from.to_zoned_datetime(tz.clone()).ok()?.timestamp().as_millisecond();
    let end = to.to_zoned_datetime(tz.clone()).ok()?.timestamp().as_millisecond();
    Some((start, end))
}

fn local_slot(ms: i64, tz: &TimeZone) -> LocalSlot {
    let zoned =
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_zoned_datetime(tz.clone());
    LocalSlot { date: zoned.date().to_string(), minute: (zoned.hour() as u32) * 60 + zoned.minute() as u32 }
}

/// The calendar for local dates `[from, to)` in the viewer's zone: students see their classes,
/// teachers what they teach and attend, admins everything (optionally one teacher's).
pub async fn calendar(
    state: &AppState,
    me: &Authenticated,
    from: &str,
    to: &str,
    teacher_filter: Option<i64>,
) -> Result<Vec<CalendarEvent>, ClassError> {
    let (Ok(from), Ok(to)) = (from.parse::<Date>(), to.parse::<Date>()) else {
        return Err(invalid(Field::Start, "The calendar range must be two dates, YYYY-MM-DD."));
    };
    let days = from.until(to).map(|span| span.get_days() as i64).unwrap_or(0);
    if to <= from || days > CALENDAR_MAX_DAYS {
        return Err(invalid(Field::Start, format!("The calendar shows 1 to {CALENDAR_MAX_DAYS} days at a time.")));
    }
    let tz = TimeZone::get(&me.user.time_zone).unwrap_or(TimeZone::UTC);
    let (start, end) = range_ms(from, to, &tz).ok_or_else(|| invalid(Field::Start, "That range is out of bounds."))?;
    let scope = if me.user.role == Role::Admin {
        CalendarScope::All { teacher_id: teacher_filter }
    } else {
        CalendarScope::Participant(me.user.id)
    };
    let rows = state.store.calendar(scope, start, end).await?;
    Ok(rows
        .into_iter()
        .map(|r| CalendarEvent {
            occurrence_id: r.occurrence_id,
            class_id: r.class_id,
            editable: !r.cancelled && (r.teacher_id == me.user.id || me.user.role == Role::Admin),
            kind: ClassKind::parse(&r.kind).unwrap_or(ClassKind::Live),
            start: local_slot(r.starts_at, &tz),
            end: local_slot(r.ends_at, &tz),
            title: r.title,
            teacher_name: r.teacher_name,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            in_series: r.rule_id.is_some(),
            cancelled: r.cancelled,
        })
        .collect())
}

/// "Weekly on Mon and Wed, 10 times".
pub fn describe(rule: &Recurrence) -> String {
    let every =
        |unit: &str| if rule.interval == 1 { unit.to_string() } else { format!("every {} {unit}s", rule.interval) };
    let base = match rule.frequency {
        Frequency::Daily => {
            if rule.interval == 1 {
                "Daily".to_string()
            } else {
                format!("Every {} days", rule.interval)
            }
        }
        Frequency::Weekly => {
            let days: Vec<&str> = rule.weekdays.iter().map(|d| d.short()).collect();
            let lead = if rule.interval == 1 { "Weekly".to_string() } else { capitalise(&every("week")) };
            if days.is_empty() { lead } else { format!("{lead} on {}", join_and(&days)) }
        }
        Frequency::Monthly => {
            let lead = if rule.interval == 1 { "Monthly".to_string() } else { capitalise(&every("month")) };
            match rule.monthly_by {
                MonthlyBy::DayOfMonth => format!("{lead} on the same date"),
                MonthlyBy::NthWeekday(-1) => format!("{lead} on the last weekday of its kind"),
                MonthlyBy::NthWeekday(n) => format!("{lead} on the {} weekday of its kind", ordinal(n)),
            }
        }
    };
    match &rule.end {
        RecurrenceEnd::Count(n) => format!("{base}, {n} times"),
        RecurrenceEnd::Until(date) => format!("{base}, until {date}"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn ordinal(n: i8) -> &'static str {
    match n {
        1 => "first",
        2 => "second",
        3 => "third",
        4 => "fourth",
        _ => "fifth",
    }
}

/// The class page, if the caller may see it: its teacher, an admin, an enrolled student, anyone
/// for an open class, or anyone holding the invite token.
pub async fn details(
    state: &AppState,
    me: &Authenticated,
    class_id: i64,
    invite: Option<&str>,
    now: i64,
) -> Result<ClassDetails, ClassError> {
    let class = state.store.class_by_id(class_id).await?.ok_or(ClassError::NotFound)?;
    let is_teacher = me.teacher_of(&class).is_ok();
    let is_enrolled = state.store.is_enrolled(class.id, me.user.id).await?;
    let policy = EnrolmentPolicy::parse(&class.enrolment_policy).unwrap_or(EnrolmentPolicy::Closed);
    let invited = invite.is_some_and(|t| class.invite_token.as_deref() == Some(t));
    let visible = is_teacher || is_enrolled || policy == EnrolmentPolicy::Open || invited;
    if !visible {
        // Indistinguishable from a class that does not exist.
        return Err(ClassError::NotFound);
    }
    let tz_name = me.user.time_zone.clone();
    let upcoming = state.store.class_occurrences(class.id, now, 8).await?;
    let join_occurrence = open_for_joining(&state.config.classes, &upcoming, now)
        .map(|o| o.id)
        .filter(|_| class.cancelled_at.is_none() && (is_teacher || is_enrolled));
    let rules = state.store.class_rules(class.id).await?;
    let tz = TimeZone::get(&class.time_zone).unwrap_or(TimeZone::UTC);
    let current_rule = rules.last().and_then(|r| recurrence::parse_rrule(&r.rrule, &tz).ok());
    let schedule_text = current_rule.as_ref().map(describe);
    // How many of each series remain from each upcoming occurrence on (for "this and following").
    let all = if is_teacher { state.store.class_occurrences(class.id, i64::MIN, i64::MAX).await? } else { Vec::new() };
    let remaining = |o: &crate::store::classes::OccurrenceRecord| -> Option<u32> {
        let (rule, original) = (o.rule_id?, o.original_start_at?);
        Some(
            all.iter().filter(|x| x.rule_id == Some(rule) && x.original_start_at.is_some_and(|s| s >= original)).count()
                as u32,
        )
    };
    let class_local = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned_datetime(tz.clone()).datetime().strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    };
    let roster = if is_teacher {
        Some(
            state
                .store
                .roster(class.id)
                .await?
                .into_iter()
                .map(|r| RosterMember {
                    user_id: r.user_id,
                    username: r.username,
                    display_name: r.display_name,
                    email: r.email,
                    co_teacher: r.role == "co_teacher",
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(ClassDetails {
        id: class.id,
        kind: ClassKind::parse(&class.kind).unwrap_or(ClassKind::Live),
        enrolled_count: state.store.enrolled_count(class.id).await?,
        enrolment: policy,
        cancelled: class.cancelled_at.is_some(),
        schedule_text,
        recurrence: current_rule,
        next: upcoming
            .iter()
            .map(|o| OccurrenceView {
                id: o.id,
                starts_at: o.starts_at,
                ends_at: o.ends_at,
                when: local_time::format_span(o.starts_at, o.ends_at, &tz_name),
                cancelled: o.cancelled_at.is_some(),
                class_local_start: class_local(o.starts_at),
                remaining_in_series: remaining(o),
            })
            .collect(),
        is_teacher,
        is_enrolled,
        can_enrol: !is_enrolled
            && !is_teacher
            && class.cancelled_at.is_none()
            && (policy == EnrolmentPolicy::Open || (policy == EnrolmentPolicy::Invite && invited)),
        invite_path: is_teacher
            .then(|| class.invite_token.as_ref().map(|t| format!("/classes/{}?invite={t}", class.id)))
            .flatten(),
        roster,
        join_occurrence,
        now,
        join_lead_ms: state.config.classes.join_opens_minutes_before * MINUTE_MS,
        title: class.title,
        description: class.description,
        time_zone: class.time_zone,
        teacher_name: class.teacher_name,
        capacity: class.capacity,
    })
}

/// The iCalendar events of a class: one VEVENT per series (RRULE, EXDATE for cancelled sessions,
/// RECURRENCE-ID overrides for moved ones), and one per session outside a series.
async fn ical_events(state: &AppState, class: &ClassRecord) -> Result<Vec<IcalEvent>, ClassError> {
    let tz = TimeZone::get(&class.time_zone).unwrap_or(TimeZone::UTC);
    let local = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(tz.clone())
            .datetime()
    };
    let occurrences = state.store.class_occurrences(class.id, i64::MIN, i64::MAX).await?;
    let rules = state.store.class_rules(class.id).await?;
    let base = |uid: String, start_local: DateTime, duration_minutes: i64| IcalEvent {
        uid,
        summary: class.title.clone(),
        description: class.description.clone(),
        url: Some(format!("/classes/{}", class.id)),
        organizer_name: Some(class.teacher_name.clone()),
        time_zone: class.time_zone.clone(),
        start_local,
        duration_minutes,
        rrule: None,
        exdates_local: Vec::new(),
        overrides: Vec::new(),
        cancelled: class.cancelled_at.is_some(),
        sequence: class.sequence.clamp(0, u32::MAX as i64) as u32,
        last_modified_ms: class.updated_at,
    };
    let mut events = Vec::new();
    for rule in &rules {
        let Some(start) = parse_local(&rule.dtstart_local) else { continue };
        let mut event = base(format!("class-{}-series-{}@lectern", class.id, rule.id), start, rule.duration_minutes);
        event.rrule = Some(rule.rrule.clone());
        for o in occurrences.iter().filter(|o| o.rule_id == Some(rule.id)) {
            let Some(original) = o.original_start_at else { continue };
            let duration = (o.ends_at - o.starts_at) / MINUTE_MS;
            if o.cancelled_at.is_some() {
                event.exdates_local.push(local(original));
            } else if o.starts_at != original || duration != rule.duration_minutes {
                event.overrides.push(IcalOverride {
                    recurrence_id_local: local(original),
                    start_local: local(o.starts_at),
                    duration_minutes: duration,
                });
            }
        }
        events.push(event);
    }
    for o in occurrences.iter().filter(|o| o.rule_id.is_none()) {
        let mut event =
            base(format!("occurrence-{}@lectern", o.id), local(o.starts_at), (o.ends_at - o.starts_at) / MINUTE_MS);
        event.cancelled |= o.cancelled_at.is_some();
        events.push(event);
    }
    Ok(events)
}

/// One class as an .ics file, for someone who may see it.
pub async fn class_ics(state: &AppState, me: &Authenticated, class_id: i64) -> Result<(String, String), ClassError> {
    // Same visibility as the class page.
    details(state, me, class_id, None, crate::now_ms()).await?;
    let class = state.store.class_by_id(class_id).await?.ok_or(ClassError::NotFound)?;
    let events = ical_events(state, &class).await?;
    Ok((class.title.clone(), ical::calendar(&class.title, &events)))
}

/// The private feed behind a calendar URL's secret: every class the user teaches or attends.
/// `None` for an unknown or revoked secret.
pub async fn feed_ics(state: &AppState, secret: &str) -> Result<Option<String>, ClassError> {
    if !crate::auth::token::looks_valid(secret) {
        return Ok(None);
    }
    let Some(user_id) = state.store.calendar_feed_user(&crate::auth::token::digest(secret)).await? else {
        return Ok(None);
    };
    let mut events = Vec::new();
    for class in state.store.classes_of_participant(user_id).await? {
        events.extend(ical_events(state, &class).await?);
    }
    Ok(Some(ical::calendar("Lectern classes", &events)))
}
