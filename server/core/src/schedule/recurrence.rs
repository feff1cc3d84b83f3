//! The recurrence engine: turns a class's repeat rule ([`Recurrence`]) into concrete start instants,
//! and writes and reads it as an RFC 5545 `RRULE` value.
//!
//! # Semantics
//!
//! Rules follow RFC 5545 with `WKST=MO`:
//!
//! - **Daily**: every `interval` days from the start.
//! - **Weekly**: in every `interval`-th week (weeks run Monday to Sunday, counted from the start's
//!   week), each listed weekday (none listed = the start's weekday), skipping days before the start.
//! - **Monthly, day of month**: the start's day of the month in every `interval`-th month. Months
//!   without that day (the 31st in April, 29 February in most years) are skipped, not clamped.
//! - **Monthly, nth weekday**: the nth (or, for `-1`, the last) of the start's weekday in every
//!   `interval`-th month; months without a 5th such weekday are skipped.
//! - **End**: `Count(n)` gives `n` classes in all; `Until(date)` gives the classes whose local date
//!   (in the class's time zone) is on or before `date`.
//!
//! **The start is always the first class**, as RFC 5545 says ("the DTSTART property value always
//! counts as the first occurrence"), and counts towards `Count`, even when it does not match the rule
//! (a weekly Monday/Wednesday series starting on a Sunday begins with that Sunday). Rule-generated
//! dates on or before the start's date are skipped, so the start is never repeated.
//!
//! **Time zones**: every class keeps the start's local wall-clock time, so a 09:00 class stays at
//! 09:00 local across daylight-saving changes (its UTC instant moves by the change). A local time in
//! a spring-forward gap is moved forward by the length of the gap (02:30 becomes 03:30 when clocks
//! jump from 02:00 to 03:00), and a local time that happens twice in a fall-back fold takes the first
//! (earlier) instant: both are RFC 5545's rules (jiff's "compatible" disambiguation).
//! [`Instance::local_start`] is the nominal wall-clock time the class was generated from (02:30 even
//! when the instant is 03:30 local).

use std::fmt::Write as _;

use jiff::civil::{Date, DateTime, Weekday as CivilWeekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use lectern_model::schedule::{Frequency, MonthlyBy, Recurrence, RecurrenceEnd, Weekday};

/// The largest `interval` a rule may have.
pub const MAX_INTERVAL: u32 = 99;

/// The largest `Count` a rule may have.
pub const MAX_COUNT: u32 = 1000;

/// The longest RRULE text [`parse_rrule`] reads.
const MAX_RRULE_LEN: usize = 1024;

/// Why a repeat rule cannot be used. The messages are meant to be shown to the person editing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("the repeat interval must be between 1 and {MAX_INTERVAL} (got {0})")]
    InvalidInterval(u32),
    #[error("the number of classes must be between 1 and {MAX_COUNT} (got {0})")]
    InvalidCount(u32),
    #[error("the end date {0:?} is not a date like 2026-12-31")]
    InvalidUntil(String),
    #[error("the end date {until} is before the first class on {start}")]
    UntilBeforeStart { until: String, start: String },
    #[error("{} is listed twice in the repeat days", .0.short())]
    DuplicateWeekday(Weekday),
    #[error("repeat days can only be chosen for a weekly series")]
    WeekdaysNeedWeekly,
    #[error("\"the nth weekday of the month\" can only be chosen for a monthly series")]
    NthWeekdayNeedsMonthly,
    #[error("the week of the month must be 1 to 5, or -1 for the last (got {0})")]
    InvalidNth(i8),
    #[error("the repeat rule must end: give a number of classes (COUNT) or an end date (UNTIL)")]
    NoEnd,
    #[error("this repeat rule uses {0}, which Lectern does not support")]
    Unsupported(String),
    #[error("this repeat rule is not valid: {0}")]
    Malformed(String),
    #[error("this schedule would create more than {max} classes; end it sooner")]
    TooMany { max: usize },
    #[error("this schedule runs past the dates Lectern can handle")]
    OutOfRange,
}

/// One occurrence: the instant it starts (UTC ms) and the local wall-clock start it was generated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub starts_at_ms: i64,
    pub local_start: DateTime,
}

/// Check a rule's own consistency: interval 1..=[`MAX_INTERVAL`], count 1..=[`MAX_COUNT`], an until
/// date in `YYYY-MM-DD` form, weekdays only for weekly series (each at most once), the nth weekday
/// only for monthly series and only 1..=5 or -1.
///
/// Checks that need the start (an until date before it) are made by [`expand`].
pub fn validate(rule: &Recurrence) -> Result<(), RecurrenceError> {
    if !(1..=MAX_INTERVAL).contains(&rule.interval) {
        return Err(RecurrenceError::InvalidInterval(rule.interval));
    }
    if rule.frequency == Frequency::Weekly {
        let mut seen = [false; 7];
        for &day in &rule.weekdays {
            if std::mem::replace(&mut seen[day.index()], true) {
                return Err(RecurrenceError::DuplicateWeekday(day));
            }
        }
    } else if !rule.weekdays.is_empty() {
        return Err(RecurrenceError::WeekdaysNeedWeekly);
    }
    if let MonthlyBy::NthWeekday(nth) = rule.monthly_by {
        if rule.frequency != Frequency::Monthly {
            return Err(RecurrenceError::NthWeekdayNeedsMonthly);
        }
        if !valid_nth(nth) {
            return Err(RecurrenceError::InvalidNth(nth));
        }
    }
    match &rule.end {
        RecurrenceEnd::Count(n) if !(1..=MAX_COUNT).contains(n) => Err(RecurrenceError::InvalidCount(*n)),
        RecurrenceEnd::Count(_) => Ok(()),
        RecurrenceEnd::Until(until) => parse_until_date(until).map(|_| ()),
    }
}

/// Expand a series. `dtstart` is the local start of the first occurrence in `tz`. Returns the
/// instances in order, at most `max` of them: `Err(TooMany)` if the rule would produce more.
///
/// `dtstart` is always the first instance (RFC 5545), even if it does not match the rule; see the
/// module documentation for the rest of the semantics.
pub fn expand(
    rule: &Recurrence,
    dtstart: DateTime,
    tz: &TimeZone,
    max: usize,
) -> Result<Vec<Instance>, RecurrenceError> {
    validate(rule)?;
    let start = dtstart.date();
    let (until, count) = match &rule.end {
        RecurrenceEnd::Count(n) => (None, Some(*n as usize)),
        RecurrenceEnd::Until(text) => {
            let until = parse_until_date(text)?;
            if until < start {
                return Err(RecurrenceError::UntilBeforeStart { until: format_date(until), start: format_date(start) });
            }
            (Some(until), None)
        }
    };
    if max == 0 || count.is_some_and(|n| n > max) {
        return Err(RecurrenceError::TooMany { max });
    }

    let mut out = Vec::with_capacity(count.unwrap_or(64).min(max));
    out.push(instance(dtstart, tz)?);
    let time = dtstart.time();
    let mut dates = Dates::new(rule, start, until);
    while count.is_none_or(|n| out.len() < n) {
        let Some(date) = dates.next() else { break };
        if until.is_some_and(|until| date > until) {
            break;
        }
        if out.len() == max {
            return Err(RecurrenceError::TooMany { max });
        }
        out.push(instance(date.to_datetime(time), tz)?);
    }
    if count.is_some_and(|n| out.len() < n) {
        // The calendar ran out before the count was reached.
        return Err(RecurrenceError::OutOfRange);
    }
    Ok(out)
}

/// A single, non-repeating start (for one-off classes). A start at the very edge of the supported
/// calendar (years ±9999) that has no instant is clamped to the first or last supported instant.
pub fn single(dtstart: DateTime, tz: &TimeZone) -> Instance {
    instance(dtstart, tz).unwrap_or_else(|_| {
        let edge = if dtstart.year() > 0 { Timestamp::MAX } else { Timestamp::MIN };
        Instance { starts_at_ms: edge.as_millisecond(), local_start: dtstart }
    })
}

/// The RFC 5545 RRULE value (without the `RRULE:` prefix), for example
/// `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10`.
///
/// `INTERVAL` is left out when it is 1 (the RFC default) and `BYDAY` when a weekly rule lists no
/// days (the start's weekday is the default). A monthly rule is written as `BYMONTHDAY=<day of
/// dtstart>` or `BYDAY=2TU` / `BYDAY=-1FR` (with dtstart's weekday). `UNTIL` is written in UTC
/// (`YYYYMMDDTHHMMSSZ`) as the last second of the until date in `tz`, as RFC 5545 requires when
/// DTSTART has a TZID (or as a plain `YYYYMMDD` date in the rare case that instant cannot be written).
///
/// A rule that fails [`validate`] still gives text, but text that [`parse_rrule`] refuses (an
/// unreadable until date leaves the rule without an end), so it can never silently turn into a
/// different series.
pub fn to_rrule(rule: &Recurrence, dtstart: DateTime, tz: &TimeZone) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(match rule.frequency {
        Frequency::Daily => "FREQ=DAILY",
        Frequency::Weekly => "FREQ=WEEKLY",
        Frequency::Monthly => "FREQ=MONTHLY",
    });
    if rule.interval != 1 {
        let _ = write!(out, ";INTERVAL={}", rule.interval);
    }
    if !rule.weekdays.is_empty() {
        out.push_str(";BYDAY=");
        for (i, day) in rule.weekdays.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(day.ical());
        }
    }
    match rule.monthly_by {
        MonthlyBy::NthWeekday(nth) => {
            let _ = write!(out, ";BYDAY={nth}{}", from_civil(dtstart.weekday()).ical());
        }
        MonthlyBy::DayOfMonth if rule.frequency == Frequency::Monthly => {
            let _ = write!(out, ";BYMONTHDAY={}", dtstart.day());
        }
        MonthlyBy::DayOfMonth => {}
    }
    match &rule.end {
        RecurrenceEnd::Count(n) => {
            let _ = write!(out, ";COUNT={n}");
        }
        RecurrenceEnd::Until(text) => {
            if let Ok(until) = parse_until_date(text) {
                out.push_str(";UNTIL=");
                match last_second_utc(until, tz) {
                    Some(utc) => {
                        let _ = write!(
                            out,
                            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                            utc.year(),
                            utc.month(),
                            utc.day(),
                            utc.hour(),
                            utc.minute(),
                            utc.second()
                        );
                    }
                    None => {
                        let _ = write!(out, "{:04}{:02}{:02}", until.year(), until.month(), until.day());
                    }
                }
            }
        }
    }
    out
}

/// Parse an RRULE value as [`to_rrule`] writes it, and reasonable RFC 5545 variants: parts in any
/// order, names and values in any case, an optional `RRULE:` prefix, `UNTIL` as a date
/// (`YYYYMMDD`), a UTC date-time (`YYYYMMDDTHHMMSSZ`, reduced to its local date in `tz`) or a local
/// date-time (reduced to its date), `BYDAY=+2TU`, and `WKST=MO` (ignored).
///
/// A monthly `BYMONTHDAY=n` or `BYDAY=2TU` is read as "by day of month" or "2nd weekday"; the day
/// and weekday themselves are taken from the class's start when expanding, as the [`Recurrence`]
/// model does not store them.
///
/// Refuses, with an error, anything the model cannot express (`FREQ=YEARLY`, `BYSETPOS`, several
/// monthly days, a rule without `COUNT` or `UNTIL`, a week starting on another day than Monday, ...)
/// and anything malformed. Never panics.
pub fn parse_rrule(text: &str, tz: &TimeZone) -> Result<Recurrence, RecurrenceError> {
    let text = text.trim();
    if text.len() > MAX_RRULE_LEN {
        return Err(malformed("the rule is too long"));
    }
    let upper = text.to_ascii_uppercase();
    let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);

    let mut freq = None;
    let mut interval = None;
    let mut count = None;
    let mut until = None;
    let mut byday = None;
    let mut bymonthday = None;
    let mut wkst = None;
    for part in body.split(';') {
        if part.is_empty() {
            // A stray separator ("FREQ=DAILY;COUNT=2;") is harmless.
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(malformed(format!("{:?} is not NAME=VALUE", snippet(part))));
        };
        let slot = match name {
            "FREQ" => &mut freq,
            "INTERVAL" => &mut interval,
            "COUNT" => &mut count,
            "UNTIL" => &mut until,
            "BYDAY" => &mut byday,
            "BYMONTHDAY" => &mut bymonthday,
            "WKST" => &mut wkst,
            "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYYEARDAY" | "BYWEEKNO" | "BYMONTH" | "BYSETPOS" | "RSCALE"
            | "SKIP" => return Err(RecurrenceError::Unsupported(name.to_owned())),
            _ => return Err(malformed(format!("unknown part {:?}", snippet(name)))),
        };
        if slot.is_some() {
            return Err(malformed(format!("{name} is given twice")));
        }
        if value.is_empty() {
            return Err(malformed(format!("{name} has no value")));
        }
        *slot = Some(value);
    }

    let frequency = match freq {
        None => return Err(malformed("FREQ is missing")),
        Some("DAILY") => Frequency::Daily,
        Some("WEEKLY") => Frequency::Weekly,
        Some("MONTHLY") => Frequency::Monthly,
        Some(other @ ("YEARLY" | "HOURLY" | "MINUTELY" | "SECONDLY")) => {
            return Err(RecurrenceError::Unsupported(format!("FREQ={other}")));
        }
        Some(other) => return Err(malformed(format!("unknown FREQ {:?}", snippet(other)))),
    };
    let interval = match interval {
        None => 1,
        Some(value) => number(value).ok_or_else(|| malformed("INTERVAL must be a number"))?,
    };
    match wkst {
        None | Some("MO") => {}
        Some(day) if ical_weekday(day).is_some() => {
            return Err(RecurrenceError::Unsupported(format!("WKST={day} (weeks must start on Monday)")));
        }
        Some(other) => return Err(malformed(format!("unknown WKST {:?}", snippet(other)))),
    }
    let byday = byday.map(parse_byday).transpose()?;

    let mut weekdays = Vec::new();
    let mut monthly_by = MonthlyBy::DayOfMonth;
    match frequency {
        Frequency::Daily => {
            if byday.is_some() {
                return Err(RecurrenceError::Unsupported("BYDAY in a daily rule".to_owned()));
            }
            if bymonthday.is_some() {
                return Err(RecurrenceError::Unsupported("BYMONTHDAY in a daily rule".to_owned()));
            }
        }
        Frequency::Weekly => {
            if bymonthday.is_some() {
                return Err(RecurrenceError::Unsupported("BYMONTHDAY in a weekly rule".to_owned()));
            }
            for (nth, day) in byday.unwrap_or_default() {
                if nth.is_some() {
                    // RFC 5545: BYDAY MUST NOT have a numeric value unless FREQ is MONTHLY or YEARLY.
                    return Err(malformed("a weekly BYDAY cannot have a week number"));
                }
                weekdays.push(day);
            }
        }
        Frequency::Monthly => match (byday, bymonthday) {
            (Some(_), Some(_)) => {
                return Err(RecurrenceError::Unsupported("BYDAY together with BYMONTHDAY".to_owned()));
            }
            (Some(days), None) => match days[..] {
                [(Some(nth), _)] => monthly_by = MonthlyBy::NthWeekday(nth),
                [(None, _)] => {
                    return Err(RecurrenceError::Unsupported(
                        "a monthly BYDAY without a week number (every such weekday of the month)".to_owned(),
                    ));
                }
                _ => return Err(RecurrenceError::Unsupported("several days in a monthly BYDAY".to_owned())),
            },
            (None, Some(value)) => {
                if value.contains(',') {
                    return Err(RecurrenceError::Unsupported("several days in BYMONTHDAY".to_owned()));
                }
                if value.starts_with('-') {
                    return Err(RecurrenceError::Unsupported(
                        "BYMONTHDAY counted from the end of the month".to_owned(),
                    ));
                }
                let day = number(value.strip_prefix('+').unwrap_or(value));
                if !day.is_some_and(|day| (1..=31).contains(&day)) {
                    return Err(malformed("BYMONTHDAY must be a day 1 to 31"));
                }
            }
            (None, None) => {}
        },
    }

    let end = match (count, until) {
        (Some(_), Some(_)) => return Err(malformed("COUNT and UNTIL cannot both be given")),
        (None, None) => return Err(RecurrenceError::NoEnd),
        (Some(value), None) => RecurrenceEnd::Count(number(value).ok_or_else(|| malformed("COUNT must be a number"))?),
        (None, Some(value)) => RecurrenceEnd::Until(format_date(parse_until_value(value, tz)?)),
    };

    let rule = Recurrence { frequency, interval, weekdays, monthly_by, end };
    validate(&rule)?;
    Ok(rule)
}

/// Resolve a local wall-clock time to an instance (gap: forward by the gap; fold: the earlier instant).
fn instance(local: DateTime, tz: &TimeZone) -> Result<Instance, RecurrenceError> {
    let instant = tz.to_ambiguous_timestamp(local).compatible().map_err(|_| RecurrenceError::OutOfRange)?;
    Ok(Instance { starts_at_ms: instant.as_millisecond(), local_start: local })
}

/// The candidate dates a rule generates after `start` (strictly), in order. It ends at the edge of
/// the calendar, or once a period begins after `until`.
struct Dates {
    after: Date,
    until: Option<Date>,
    kind: DatesKind,
}

enum DatesKind {
    Daily {
        next: Option<Date>,
        step: SignedDuration,
    },
    Weekly {
        /// The Monday of the current week.
        week: Option<Date>,
        step: SignedDuration,
        /// Day offsets from Monday, ascending, each once.
        offsets: [i64; 7],
        len: usize,
        pos: usize,
    },
    Monthly {
        /// `year * 12 + month - 1` of the current month.
        month: i64,
        step: i64,
        pick: MonthPick,
    },
}

#[derive(Clone, Copy)]
enum MonthPick {
    Day(i8),
    Nth(i8, CivilWeekday),
}

impl Dates {
    fn new(rule: &Recurrence, start: Date, until: Option<Date>) -> Dates {
        let interval = i64::from(rule.interval);
        let kind = match rule.frequency {
            Frequency::Daily => {
                let step = days(interval);
                DatesKind::Daily { next: start.checked_add(step).ok(), step }
            }
            Frequency::Weekly => {
                let mut on = [false; 7];
                if rule.weekdays.is_empty() {
                    on[usize::from(start.weekday().to_monday_zero_offset().unsigned_abs())] = true;
                }
                for day in &rule.weekdays {
                    on[day.index()] = true;
                }
                let mut offsets = [0; 7];
                let mut len = 0;
                for (offset, _) in (0..).zip(on).filter(|&(_, on)| on) {
                    offsets[len] = offset;
                    len += 1;
                }
                let monday = start.checked_sub(days(i64::from(start.weekday().to_monday_zero_offset()))).ok();
                DatesKind::Weekly { week: monday, step: days(7 * interval), offsets, len, pos: 0 }
            }
            Frequency::Monthly => {
                let pick = match rule.monthly_by {
                    MonthlyBy::DayOfMonth => MonthPick::Day(start.day()),
                    MonthlyBy::NthWeekday(nth) => MonthPick::Nth(nth, start.weekday()),
                };
                let month = i64::from(start.year()) * 12 + i64::from(start.month()) - 1;
                DatesKind::Monthly { month, step: interval, pick }
            }
        };
        Dates { after: start, until, kind }
    }

    fn past_until(&self, period_start: Date) -> bool {
        self.until.is_some_and(|until| period_start > until)
    }
}

impl Iterator for Dates {
    type Item = Date;

    fn next(&mut self) -> Option<Date> {
        loop {
            match &mut self.kind {
                DatesKind::Daily { next, step } => {
                    let date = (*next)?;
                    *next = date.checked_add(*step).ok();
                    return Some(date);
                }
                DatesKind::Weekly { week, step, offsets, len, pos } => {
                    let monday = (*week)?;
                    if *pos == *len {
                        *week = monday.checked_add(*step).ok();
                        *pos = 0;
                        if week.is_some_and(|monday| self.until.is_some_and(|until| monday > until)) {
                            return None;
                        }
                        continue;
                    }
                    let offset = offsets[*pos];
                    *pos += 1;
                    let Ok(date) = monday.checked_add(days(offset)) else {
                        *week = None;
                        return None;
                    };
                    if date > self.after {
                        return Some(date);
                    }
                }
                DatesKind::Monthly { month, step, pick } => {
                    let index = *month;
                    *month = month.saturating_add(*step);
                    let (Ok(year), Ok(month_of_year)) =
                        (i16::try_from(index.div_euclid(12)), i8::try_from(index.rem_euclid(12) + 1))
                    else {
                        return None;
                    };
                    let Ok(first) = Date::new(year, month_of_year, 1) else { return None };
                    let pick = *pick;
                    if self.past_until(first) {
                        return None;
                    }
                    let date = match pick {
                        MonthPick::Day(day) => Date::new(year, month_of_year, day).ok(),
                        MonthPick::Nth(nth, weekday) => first.nth_weekday_of_month(nth, weekday).ok(),
                    };
                    if let Some(date) = date
                        && date > self.after
                    {
                        return Some(date);
                    }
                }
            }
        }
    }
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n.saturating_mul(24))
}

fn valid_nth(nth: i8) -> bool {
    matches!(nth, -1 | 1..=5)
}

fn from_civil(day: CivilWeekday) -> Weekday {
    Weekday::ALL[usize::from(day.to_monday_zero_offset().unsigned_abs()) % 7]
}

fn ical_weekday(code: &str) -> Option<Weekday> {
    Weekday::ALL.into_iter().find(|day| day.ical() == code)
}

fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// A model until date: exactly `YYYY-MM-DD`.
fn parse_until_date(text: &str) -> Result<Date, RecurrenceError> {
    let invalid = || RecurrenceError::InvalidUntil(snippet(text).to_owned());
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(invalid());
    }
    let (Some(year), Some(month), Some(day)) = (digits(&bytes[0..4]), digits(&bytes[5..7]), digits(&bytes[8..10]))
    else {
        return Err(invalid());
    };
    ymd(year, month, day).ok_or_else(invalid)
}

/// An RRULE `UNTIL` value, reduced to a local date in `tz`.
fn parse_until_value(value: &str, tz: &TimeZone) -> Result<Date, RecurrenceError> {
    let bad = || malformed("UNTIL must be a date like 20261231 or a UTC time like 20261231T225959Z");
    let bytes = value.as_bytes();
    if bytes.len() < 8 {
        return Err(bad());
    }
    let (Some(year), Some(month), Some(day)) = (digits(&bytes[0..4]), digits(&bytes[4..6]), digits(&bytes[6..8]))
    else {
        return Err(bad());
    };
    let date = ymd(year, month, day).ok_or_else(bad)?;
    match bytes.len() {
        8 => Ok(date),
        15 | 16 if bytes[8] == b'T' => {
            let (Some(hour), Some(minute), Some(second)) =
                (digits(&bytes[9..11]), digits(&bytes[11..13]), digits(&bytes[13..15]))
            else {
                return Err(bad());
            };
            let (Ok(hour), Ok(minute), Ok(second)) = (i8::try_from(hour), i8::try_from(minute), i8::try_from(second))
            else {
                return Err(bad());
            };
            let local =
                DateTime::new(date.year(), date.month(), date.day(), hour, minute, second, 0).map_err(|_| bad())?;
            match bytes.get(15) {
                // A local (floating) time: its date.
                None => Ok(date),
                // A UTC time: the date it falls on in the class's time zone.
                Some(b'Z') => {
                    let instant = TimeZone::UTC.to_timestamp(local).map_err(|_| bad())?;
                    Ok(tz.to_datetime(instant).date())
                }
                Some(_) => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// The last second of `date` in `tz`, in UTC, if it can be written as a four-digit-year UTC time
/// that reads back as `date`.
fn last_second_utc(date: Date, tz: &TimeZone) -> Option<DateTime> {
    let next_day = date.tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight());
    // The first instant of the next day ("compatible" resolves a gap at midnight to its end).
    let next_day_starts = tz.to_ambiguous_timestamp(next_day).compatible().ok()?;
    let last = Timestamp::from_second(next_day_starts.as_second().checked_sub(1)?).ok()?;
    let utc = TimeZone::UTC.to_datetime(last);
    (tz.to_datetime(last).date() == date && (0..=9999).contains(&utc.year())).then_some(utc)
}

fn parse_byday(value: &str) -> Result<Vec<(Option<i8>, Weekday)>, RecurrenceError> {
    value
        .split(',')
        .map(|item| {
            let bad = || malformed(format!("{:?} is not a day like MO or 2TU", snippet(item)));
            let (negative, rest) = match item.as_bytes().first() {
                Some(b'-') => (true, &item[1..]),
                Some(b'+') => (false, &item[1..]),
                _ => (false, item),
            };
            let split = rest.len().checked_sub(2).ok_or_else(bad)?;
            if !rest.is_char_boundary(split) {
                return Err(bad());
            }
            let (ordinal, code) = rest.split_at(split);
            let day = ical_weekday(code).ok_or_else(bad)?;
            if ordinal.is_empty() {
                return if item.len() == 2 { Ok((None, day)) } else { Err(bad()) };
            }
            // RFC 5545 allows week numbers 1 to 53.
            let n = digits(ordinal.as_bytes()).filter(|n| (1..=53).contains(n)).ok_or_else(bad)?;
            let n = i8::try_from(n).map_err(|_| bad())?;
            Ok((Some(if negative { -n } else { n }), day))
        })
        .collect()
}

/// A non-negative decimal number (saturating at `u32::MAX`), or `None` if `text` is not all digits.
fn number(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0u32, |n, &b| n.saturating_mul(10).saturating_add(u32::from(b - b'0'))))
}

/// A short, all-digit field.
fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 4 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, &b| n * 10 + u32::from(b - b'0')))
}

fn ymd(year: u32, month: u32, day: u32) -> Option<Date> {
    Date::new(i16::try_from(year).ok()?, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

fn malformed(detail: impl Into<String>) -> RecurrenceError {
    RecurrenceError::Malformed(detail.into())
}

/// At most 32 characters of user input, for error messages.
fn snippet(text: &str) -> &str {
    match text.char_indices().nth(32) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    const MAX: usize = 10_000;

    fn rule(frequency: Frequency, interval: u32, end: RecurrenceEnd) -> Recurrence {
        Recurrence { frequency, interval, weekdays: Vec::new(), monthly_by: MonthlyBy::DayOfMonth, end }
    }

    fn weekly(interval: u32, weekdays: &[Weekday], end: RecurrenceEnd) -> Recurrence {
        Recurrence { weekdays: weekdays.to_vec(), ..rule(Frequency::Weekly, interval, end) }
    }

    fn monthly(interval: u32, monthly_by: MonthlyBy, end: RecurrenceEnd) -> Recurrence {
        Recurrence { monthly_by, ..rule(Frequency::Monthly, interval, end) }
    }

    fn count(n: u32) -> RecurrenceEnd {
        RecurrenceEnd::Count(n)
    }

    fn until(date: &str) -> RecurrenceEnd {
        RecurrenceEnd::Until(date.to_owned())
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    /// Milliseconds of a UTC instant written like "2026-03-23T08:00:00Z".
    fn utc(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    /// The local dates of an expansion, as "YYYY-MM-DD".
    fn dates(rule: &Recurrence, start: DateTime) -> Vec<String> {
        expand(rule, start, &TimeZone::UTC, MAX).unwrap().iter().map(|i| format_date(i.local_start.date())).collect()
    }

    // ---- daily, weekly ----

    #[test]
    fn daily_every_day_and_every_third_day() {
        let start = date(2026, 1, 30).at(9, 0, 0, 0);
        assert_eq!(
            dates(&rule(Frequency::Daily, 1, count(4)), start),
            ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]
        );
        assert_eq!(
            dates(&rule(Frequency::Daily, 3, count(4)), start),
            ["2026-01-30", "2026-02-02", "2026-02-05", "2026-02-08"]
        );
        let all = expand(&rule(Frequency::Daily, 1, count(3)), start, &TimeZone::UTC, MAX).unwrap();
        assert_eq!(all[0], Instance { starts_at_ms: utc("2026-01-30T09:00:00Z"), local_start: start });
        assert_eq!(all[2].starts_at_ms, utc("2026-02-01T09:00:00Z"));
        assert!(all.iter().all(|i| i.local_start.time() == start.time()));
    }

    #[test]
    fn weekly_without_days_repeats_the_start_weekday() {
        // 2026-01-07 is a Wednesday.
        let start = date(2026, 1, 7).at(18, 30, 0, 0);
        assert_eq!(dates(&weekly(1, &[], count(3)), start), ["2026-01-07", "2026-01-14", "2026-01-21"]);
        assert_eq!(dates(&weekly(3, &[], count(3)), start), ["2026-01-07", "2026-01-28", "2026-02-18"]);
    }

    #[test]
    fn weekly_several_days_every_other_week() {
        use Weekday::*;
        // Starts on Wednesday 2026-01-07: that week's Monday is before the start and skipped.
        let start = date(2026, 1, 7).at(9, 0, 0, 0);
        let expected = ["2026-01-07", "2026-01-09", "2026-01-19", "2026-01-21", "2026-01-23", "2026-02-02"];
        assert_eq!(dates(&weekly(2, &[Mon, Wed, Fri], count(6)), start), expected);
        // The order the days are listed in does not matter.
        assert_eq!(dates(&weekly(2, &[Fri, Mon, Wed], count(6)), start), expected);
        // Every week, Tuesday and Thursday, starting on a Tuesday.
        let start = date(2026, 1, 6).at(9, 0, 0, 0);
        assert_eq!(
            dates(&weekly(1, &[Thu, Tue], count(5)), start),
            ["2026-01-06", "2026-01-08", "2026-01-13", "2026-01-15", "2026-01-20"]
        );
    }

    #[test]
    fn weeks_run_monday_to_sunday() {
        use Weekday::*;
        // A Sunday start is the last day of its week, so with INTERVAL=2 the next Monday is not
        // in a counted week; the Monday a week later is.
        let sunday = date(2026, 1, 4).at(9, 0, 0, 0);
        assert_eq!(
            dates(&weekly(2, &[Sun, Mon], count(4)), sunday),
            ["2026-01-04", "2026-01-12", "2026-01-18", "2026-01-26"]
        );
        assert_eq!(
            dates(&weekly(1, &[Sun, Mon], count(4)), sunday),
            ["2026-01-04", "2026-01-05", "2026-01-11", "2026-01-12"]
        );
    }

    #[test]
    fn a_start_that_does_not_match_the_days_is_still_the_first_class() {
        use Weekday::*;
        // Sunday 2026-01-04, repeating on Mondays and Wednesdays: RFC 5545 counts DTSTART as the
        // first occurrence, and it counts towards COUNT.
        let sunday = date(2026, 1, 4).at(9, 0, 0, 0);
        assert_eq!(dates(&weekly(1, &[Mon, Wed], count(3)), sunday), ["2026-01-04", "2026-01-05", "2026-01-07"]);
        // INTERVAL=2 counts from the start's week (29 Dec - 4 Jan), so the next week used is 12 Jan.
        assert_eq!(dates(&weekly(2, &[Mon, Wed], count(3)), sunday), ["2026-01-04", "2026-01-12", "2026-01-14"]);
        // The same with a monthly nth weekday: starts on the 1st Tuesday, repeats on the 2nd.
        let first_tuesday = date(2026, 1, 6).at(9, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::NthWeekday(2), count(3)), first_tuesday),
            ["2026-01-06", "2026-01-13", "2026-02-10"]
        );
        // Starting on the 3rd Tuesday with "2nd Tuesday": January's 2nd Tuesday is before the start.
        let third_tuesday = date(2026, 1, 20).at(9, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::NthWeekday(2), count(3)), third_tuesday),
            ["2026-01-20", "2026-02-10", "2026-03-10"]
        );
    }

    // ---- monthly ----

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        let start = date(2026, 1, 31).at(10, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::DayOfMonth, count(6)), start),
            ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31", "2026-10-31"]
        );
        // Every other month from January: Jan, Mar, May, Jul, Sep (30 days: skipped), Nov (skipped), Jan.
        assert_eq!(
            dates(&monthly(2, MonthlyBy::DayOfMonth, count(5)), start),
            ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31", "2027-01-31"]
        );
        // The 30th skips only February.
        let start = date(2026, 1, 30).at(10, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::DayOfMonth, count(3)), start),
            ["2026-01-30", "2026-03-30", "2026-04-30"]
        );
    }

    #[test]
    fn monthly_on_the_29th_and_29_february() {
        // The 29th: February is kept in a leap year and skipped otherwise.
        let leap = date(2024, 1, 29).at(10, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::DayOfMonth, count(3)), leap),
            ["2024-01-29", "2024-02-29", "2024-03-29"]
        );
        let common = date(2025, 1, 29).at(10, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::DayOfMonth, count(3)), common),
            ["2025-01-29", "2025-03-29", "2025-04-29"]
        );
        // Yearly on 29 February (INTERVAL=12) happens only in leap years: 2100 is not one.
        let feb29 = date(2096, 2, 29).at(10, 0, 0, 0);
        assert_eq!(
            dates(&monthly(12, MonthlyBy::DayOfMonth, count(3)), feb29),
            ["2096-02-29", "2104-02-29", "2108-02-29"]
        );
        // Monthly from 29 February: the 29th of each following month, never clamped to the 28th.
        let feb29 = date(2024, 2, 29).at(10, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::DayOfMonth, until("2025-03-31")), feb29).len(),
            13 - 1 // March 2024 .. March 2025 is 13 months, minus February 2025
                + 1 // the start itself
        );
    }

    #[test]
    fn monthly_second_tuesday() {
        let start = date(2026, 1, 13).at(19, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::NthWeekday(2), count(5)), start),
            ["2026-01-13", "2026-02-10", "2026-03-10", "2026-04-14", "2026-05-12"]
        );
        assert_eq!(
            dates(&monthly(3, MonthlyBy::NthWeekday(2), count(4)), start),
            ["2026-01-13", "2026-04-14", "2026-07-14", "2026-10-13"]
        );
    }

    #[test]
    fn monthly_last_friday() {
        let start = date(2026, 1, 30).at(16, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::NthWeekday(-1), count(7)), start),
            ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24", "2026-05-29", "2026-06-26", "2026-07-31"]
        );
    }

    #[test]
    fn monthly_fifth_monday_skips_months_without_one() {
        let start = date(2026, 3, 30).at(9, 0, 0, 0);
        assert_eq!(
            dates(&monthly(1, MonthlyBy::NthWeekday(5), count(6)), start),
            ["2026-03-30", "2026-06-29", "2026-08-31", "2026-11-30", "2027-03-29", "2027-05-31"]
        );
        // With an until date, months without a 5th Monday are simply skipped.
        assert_eq!(
            dates(&monthly(1, MonthlyBy::NthWeekday(5), until("2026-12-31")), start),
            ["2026-03-30", "2026-06-29", "2026-08-31", "2026-11-30"]
        );
    }

    // ---- ends ----

    #[test]
    fn count_is_the_total_including_the_start() {
        let start = date(2026, 5, 1).at(9, 0, 0, 0);
        for n in [1, 2, 7, 100, MAX_COUNT] {
            assert_eq!(
                expand(&rule(Frequency::Daily, 1, count(n)), start, &TimeZone::UTC, MAX).unwrap().len(),
                n as usize
            );
        }
        assert_eq!(dates(&rule(Frequency::Daily, 5, count(1)), start), ["2026-05-01"]);
    }

    #[test]
    fn until_is_inclusive() {
        let start = date(2026, 1, 1).at(9, 0, 0, 0);
        assert_eq!(
            dates(&rule(Frequency::Daily, 1, until("2026-01-05")), start),
            ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]
        );
        // 2026-01-01 is a Thursday; weekly until the 4th Thursday, then until the day before it.
        assert_eq!(dates(&weekly(1, &[], until("2026-01-22")), start).len(), 4);
        assert_eq!(dates(&weekly(1, &[], until("2026-01-21")), start).len(), 3);
        // Until the start's own date: just the start.
        assert_eq!(dates(&weekly(1, &[], until("2026-01-01")), start), ["2026-01-01"]);
        assert_eq!(dates(&monthly(1, MonthlyBy::DayOfMonth, until("2026-03-01")), start).len(), 3);
    }

    #[test]
    fn until_is_a_local_date() {
        // 23:30 in New York is 04:30 UTC the next day, but the until date is local.
        let ny = zone("America/New_York");
        let start = date(2026, 1, 1).at(23, 30, 0, 0);
        let all = expand(&rule(Frequency::Daily, 1, until("2026-01-03")), start, &ny, MAX).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].starts_at_ms, utc("2026-01-04T04:30:00Z"));
    }

    #[test]
    fn until_before_the_start_is_refused() {
        let start = date(2026, 1, 10).at(9, 0, 0, 0);
        assert_eq!(
            expand(&rule(Frequency::Daily, 1, until("2026-01-09")), start, &TimeZone::UTC, MAX),
            Err(RecurrenceError::UntilBeforeStart { until: "2026-01-09".into(), start: "2026-01-10".into() })
        );
    }

    #[test]
    fn too_many_instances_are_refused() {
        let start = date(2026, 1, 1).at(9, 0, 0, 0);
        let daily = |end| rule(Frequency::Daily, 1, end);
        assert_eq!(expand(&daily(count(10)), start, &TimeZone::UTC, 10).unwrap().len(), 10);
        assert_eq!(expand(&daily(count(11)), start, &TimeZone::UTC, 10), Err(RecurrenceError::TooMany { max: 10 }));
        // 2026 has 365 days.
        assert_eq!(expand(&daily(until("2026-12-31")), start, &TimeZone::UTC, 365).unwrap().len(), 365);
        assert_eq!(
            expand(&daily(until("2026-12-31")), start, &TimeZone::UTC, 364),
            Err(RecurrenceError::TooMany { max: 364 })
        );
        // A far-off until date stops at max + 1 instead of running to the year 9999.
        assert_eq!(
            expand(&daily(until("9999-12-31")), start, &TimeZone::UTC, 500),
            Err(RecurrenceError::TooMany { max: 500 })
        );
        assert_eq!(expand(&daily(count(1)), start, &TimeZone::UTC, 0), Err(RecurrenceError::TooMany { max: 0 }));
        assert!(RecurrenceError::TooMany { max: 500 }.to_string().contains("500"));
    }

    #[test]
    fn a_series_past_the_end_of_the_calendar_is_refused() {
        let start = date(9999, 12, 1).at(9, 0, 0, 0);
        assert_eq!(
            expand(&rule(Frequency::Daily, 1, count(40)), start, &TimeZone::UTC, MAX),
            Err(RecurrenceError::OutOfRange)
        );
        assert_eq!(
            expand(&monthly(1, MonthlyBy::DayOfMonth, count(2)), start, &TimeZone::UTC, MAX),
            Err(RecurrenceError::OutOfRange)
        );
        assert_eq!(dates(&monthly(1, MonthlyBy::DayOfMonth, until("9999-12-31")), start), ["9999-12-01"]);
    }

    // ---- validation ----

    #[test]
    fn validate_checks_the_rule() {
        use RecurrenceError::*;
        use Weekday::*;
        assert_eq!(validate(&rule(Frequency::Daily, 1, count(1))), Ok(()));
        assert_eq!(validate(&rule(Frequency::Daily, 99, count(MAX_COUNT))), Ok(()));
        assert_eq!(validate(&rule(Frequency::Daily, 0, count(1))), Err(InvalidInterval(0)));
        assert_eq!(validate(&rule(Frequency::Daily, 100, count(1))), Err(InvalidInterval(100)));
        assert_eq!(validate(&rule(Frequency::Daily, 1, count(0))), Err(InvalidCount(0)));
        assert_eq!(validate(&rule(Frequency::Daily, 1, count(MAX_COUNT + 1))), Err(InvalidCount(MAX_COUNT + 1)));
        for bad in [
            "",
            "2026-1-01",
            "2026-02-30",
            "2026/01/01",
            "20260101",
            "2026-01-01T00:00",
            "+202-01-01",
            "２０２６-01-01",
        ] {
            assert_eq!(validate(&rule(Frequency::Daily, 1, until(bad))), Err(InvalidUntil(bad.into())), "{bad:?}");
        }
        assert_eq!(validate(&rule(Frequency::Daily, 1, until("2028-02-29"))), Ok(()));
        assert_eq!(validate(&weekly(1, &[Mon, Tue, Mon], count(2))), Err(DuplicateWeekday(Mon)));
        assert_eq!(validate(&weekly(1, &Weekday::ALL, count(2))), Ok(()));
        assert_eq!(
            validate(&Recurrence { weekdays: vec![Mon], ..rule(Frequency::Daily, 1, count(2)) }),
            Err(WeekdaysNeedWeekly)
        );
        assert_eq!(
            validate(&Recurrence { weekdays: vec![Mon], ..monthly(1, MonthlyBy::DayOfMonth, count(2)) }),
            Err(WeekdaysNeedWeekly)
        );
        assert_eq!(
            validate(&Recurrence { monthly_by: MonthlyBy::NthWeekday(1), ..weekly(1, &[], count(2)) }),
            Err(NthWeekdayNeedsMonthly)
        );
        for nth in [-1, 1, 2, 3, 4, 5] {
            assert_eq!(validate(&monthly(1, MonthlyBy::NthWeekday(nth), count(2))), Ok(()));
        }
        for nth in [-5, -2, 0, 6, i8::MIN, i8::MAX] {
            assert_eq!(validate(&monthly(1, MonthlyBy::NthWeekday(nth), count(2))), Err(InvalidNth(nth)));
        }
        // expand validates too.
        let start = date(2026, 1, 1).at(9, 0, 0, 0);
        assert_eq!(expand(&rule(Frequency::Daily, 0, count(1)), start, &TimeZone::UTC, MAX), Err(InvalidInterval(0)));
    }

    #[test]
    fn error_messages_are_readable() {
        use RecurrenceError::*;
        assert_eq!(InvalidInterval(0).to_string(), "the repeat interval must be between 1 and 99 (got 0)");
        assert_eq!(DuplicateWeekday(Weekday::Tue).to_string(), "Tue is listed twice in the repeat days");
        assert_eq!(InvalidUntil("soon".into()).to_string(), "the end date \"soon\" is not a date like 2026-12-31");
        assert_eq!(
            UntilBeforeStart { until: "2026-01-09".into(), start: "2026-01-10".into() }.to_string(),
            "the end date 2026-01-09 is before the first class on 2026-01-10"
        );
        assert_eq!(
            Unsupported("FREQ=YEARLY".into()).to_string(),
            "this repeat rule uses FREQ=YEARLY, which Lectern does not support"
        );
        // User input in messages is cut short.
        let long = "9".repeat(500);
        let Err(InvalidUntil(shown)) = validate(&rule(Frequency::Daily, 1, until(&long))) else { panic!() };
        assert_eq!(shown.len(), 32);
    }

    // ---- time zones ----

    /// A weekly Monday 09:00 series across a DST change: 09:00 local each week, one hour less (spring)
    /// or more (autumn) in UTC after the change.
    fn assert_weekly_monday_nine(zone_name: &str, first_monday: Date, expected_utc: [&str; 3]) {
        let tz = zone(zone_name);
        let start = first_monday.at(9, 0, 0, 0);
        let all = expand(&weekly(1, &[Weekday::Mon], count(3)), start, &tz, MAX).unwrap();
        let got: Vec<i64> = all.iter().map(|i| i.starts_at_ms).collect();
        let want: Vec<i64> = expected_utc.iter().map(|s| utc(s)).collect();
        assert_eq!(got, want, "{zone_name}");
        for i in &all {
            assert_eq!(i.local_start.time(), start.time());
            // The instant really is 09:00 on the wall clock.
            let wall = tz.to_datetime(Timestamp::from_millisecond(i.starts_at_ms).unwrap());
            assert_eq!(wall, i.local_start, "{zone_name}");
        }
    }

    #[test]
    fn weekly_keeps_local_time_across_dst_in_berlin() {
        // Clocks go forward on Sunday 2026-03-29 (CET +01 -> CEST +02).
        assert_weekly_monday_nine(
            "Europe/Berlin",
            date(2026, 3, 23),
            ["2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"],
        );
        // And back on Sunday 2026-10-25.
        assert_weekly_monday_nine(
            "Europe/Berlin",
            date(2026, 10, 19),
            ["2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z"],
        );
    }

    #[test]
    fn weekly_keeps_local_time_across_dst_in_new_york() {
        // Clocks go forward on Sunday 2026-03-08 (EST -05 -> EDT -04).
        assert_weekly_monday_nine(
            "America/New_York",
            date(2026, 3, 2),
            ["2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z", "2026-03-16T13:00:00Z"],
        );
        // And back on Sunday 2026-11-01.
        assert_weekly_monday_nine(
            "America/New_York",
            date(2026, 10, 26),
            ["2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z", "2026-11-09T14:00:00Z"],
        );
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_moves_forward_by_the_gap() {
        // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist; it becomes
        // 03:30 CEST (01:30Z), the same instant as 02:30 CET would have been.
        let tz = zone("Europe/Berlin");
        let start = date(2026, 3, 27).at(2, 30, 0, 0);
        let all = expand(&rule(Frequency::Daily, 1, count(4)), start, &tz, MAX).unwrap();
        let got: Vec<i64> = all.iter().map(|i| i.starts_at_ms).collect();
        assert_eq!(
            got,
            [
                utc("2026-03-27T01:30:00Z"),
                utc("2026-03-28T01:30:00Z"),
                utc("2026-03-29T01:30:00Z"),
                utc("2026-03-30T00:30:00Z"),
            ]
        );
        // The generating wall-clock time stays 02:30.
        assert_eq!(all[2].local_start, date(2026, 3, 29).at(2, 30, 0, 0));
        assert_eq!(tz.to_datetime(Timestamp::from_millisecond(got[2]).unwrap()), date(2026, 3, 29).at(3, 30, 0, 0));

        // New York, 2026-03-08: 02:30 becomes 03:30 EDT (07:30Z).
        let ny = zone("America/New_York");
        let all = expand(&rule(Frequency::Daily, 1, count(2)), date(2026, 3, 7).at(2, 30, 0, 0), &ny, MAX).unwrap();
        assert_eq!(all[1].starts_at_ms, utc("2026-03-08T07:30:00Z"));
    }

    #[test]
    fn a_time_in_the_fall_back_fold_takes_the_earlier_instant() {
        // Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice; the first
        // one (CEST, 00:30Z) is used.
        let tz = zone("Europe/Berlin");
        let start = date(2026, 10, 24).at(2, 30, 0, 0);
        let got: Vec<i64> = expand(&rule(Frequency::Daily, 1, count(3)), start, &tz, MAX)
            .unwrap()
            .iter()
            .map(|i| i.starts_at_ms)
            .collect();
        assert_eq!(got, [utc("2026-10-24T00:30:00Z"), utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]);

        // New York, 2026-11-01: 01:30 happens twice; the first is EDT (05:30Z).
        let ny = zone("America/New_York");
        let all = expand(&rule(Frequency::Daily, 1, count(2)), date(2026, 10, 31).at(1, 30, 0, 0), &ny, MAX).unwrap();
        assert_eq!(all[1].starts_at_ms, utc("2026-11-01T05:30:00Z"));
    }

    #[test]
    fn single_is_one_instance() {
        let tz = zone("Europe/Berlin");
        let start = date(2026, 7, 1).at(9, 15, 0, 0);
        assert_eq!(single(start, &tz), Instance { starts_at_ms: utc("2026-07-01T07:15:00Z"), local_start: start });
        // Same gap handling as expand.
        let gap = date(2026, 3, 29).at(2, 30, 0, 0);
        assert_eq!(single(gap, &tz).starts_at_ms, utc("2026-03-29T01:30:00Z"));
        assert_eq!(single(gap, &tz), expand(&rule(Frequency::Daily, 1, count(1)), gap, &tz, 1).unwrap()[0]);
        // No panic at the edges of the calendar.
        let _ = single(DateTime::MAX, &zone("America/New_York"));
        let _ = single(DateTime::MIN, &zone("Asia/Tokyo"));
    }

    // ---- RRULE ----

    #[test]
    fn to_rrule_writes_rfc_5545() {
        use Weekday::*;
        let berlin = zone("Europe/Berlin");
        let ny = zone("America/New_York");
        let wednesday = date(2026, 1, 7).at(9, 0, 0, 0);
        assert_eq!(to_rrule(&rule(Frequency::Daily, 1, count(5)), wednesday, &berlin), "FREQ=DAILY;COUNT=5");
        assert_eq!(
            to_rrule(&weekly(2, &[Mon, Wed], count(10)), wednesday, &berlin),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10"
        );
        assert_eq!(to_rrule(&weekly(1, &[], count(3)), wednesday, &berlin), "FREQ=WEEKLY;COUNT=3");
        // UNTIL is the last second of the until date in the zone, in UTC.
        assert_eq!(
            to_rrule(&rule(Frequency::Daily, 3, until("2026-12-31")), wednesday, &berlin),
            "FREQ=DAILY;INTERVAL=3;UNTIL=20261231T225959Z"
        );
        assert_eq!(
            to_rrule(&rule(Frequency::Daily, 1, until("2026-07-01")), wednesday, &berlin),
            "FREQ=DAILY;UNTIL=20260701T215959Z"
        );
        assert_eq!(
            to_rrule(&rule(Frequency::Daily, 1, until("2026-12-31")), wednesday, &ny),
            "FREQ=DAILY;UNTIL=20270101T045959Z"
        );
        assert_eq!(
            to_rrule(&rule(Frequency::Daily, 1, until("2026-12-31")), wednesday, &TimeZone::UTC),
            "FREQ=DAILY;UNTIL=20261231T235959Z"
        );
        let the_31st = date(2026, 1, 31).at(9, 0, 0, 0);
        assert_eq!(
            to_rrule(&monthly(1, MonthlyBy::DayOfMonth, count(3)), the_31st, &berlin),
            "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"
        );
        let second_tuesday = date(2026, 1, 13).at(19, 0, 0, 0);
        assert_eq!(
            to_rrule(&monthly(1, MonthlyBy::NthWeekday(2), count(4)), second_tuesday, &berlin),
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=4"
        );
        let last_friday = date(2026, 1, 30).at(16, 0, 0, 0);
        assert_eq!(
            to_rrule(&monthly(2, MonthlyBy::NthWeekday(-1), until("2027-01-31")), last_friday, &ny),
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;UNTIL=20270201T045959Z"
        );
    }

    #[test]
    fn rrule_round_trips() {
        use Weekday::*;
        let berlin = zone("Europe/Berlin");
        let start = date(2026, 1, 7).at(9, 0, 0, 0);
        let rules = [
            rule(Frequency::Daily, 1, count(5)),
            rule(Frequency::Daily, 99, until("2030-03-29")),
            weekly(2, &[Mon, Wed], count(10)),
            weekly(1, &[Sun, Sat, Fri], until("2026-10-25")),
            weekly(3, &[], until("2026-03-29")),
            monthly(1, MonthlyBy::DayOfMonth, count(12)),
            monthly(6, MonthlyBy::NthWeekday(-1), until("2027-12-31")),
            monthly(1, MonthlyBy::NthWeekday(5), count(MAX_COUNT)),
        ];
        for r in rules {
            let text = to_rrule(&r, start, &berlin);
            assert_eq!(parse_rrule(&text, &berlin), Ok(r.clone()), "{text}");
            assert_eq!(parse_rrule(&format!("RRULE:{text}"), &berlin), Ok(r), "{text}");
        }
    }

    #[test]
    fn parse_rrule_accepts_rfc_5545_variants() {
        use Weekday::*;
        let berlin = zone("Europe/Berlin");
        let ny = zone("America/New_York");
        let p = |text: &str| parse_rrule(text, &berlin);
        assert_eq!(p("COUNT=3;BYDAY=TU,TH;FREQ=WEEKLY"), Ok(weekly(1, &[Tue, Thu], count(3))));
        assert_eq!(p("rrule:freq=weekly;byday=mo,we;count=3"), Ok(weekly(1, &[Mon, Wed], count(3))));
        assert_eq!(p("  RRULE:FREQ=DAILY;COUNT=2;  "), Ok(rule(Frequency::Daily, 1, count(2))));
        assert_eq!(p("FREQ=WEEKLY;WKST=MO;INTERVAL=2;UNTIL=20261231"), Ok(weekly(2, &[], until("2026-12-31"))));
        assert_eq!(p("FREQ=DAILY;INTERVAL=01;COUNT=007"), Ok(rule(Frequency::Daily, 1, count(7))));
        assert_eq!(p("FREQ=MONTHLY;BYDAY=+2TU;COUNT=4"), Ok(monthly(1, MonthlyBy::NthWeekday(2), count(4))));
        assert_eq!(p("FREQ=MONTHLY;BYDAY=-1FR;COUNT=4"), Ok(monthly(1, MonthlyBy::NthWeekday(-1), count(4))));
        assert_eq!(p("FREQ=MONTHLY;COUNT=4"), Ok(monthly(1, MonthlyBy::DayOfMonth, count(4))));
        assert_eq!(p("FREQ=MONTHLY;BYMONTHDAY=15;COUNT=4"), Ok(monthly(1, MonthlyBy::DayOfMonth, count(4))));
        // A UTC UNTIL is read as its local date: 2027-01-01T04:59:59Z is still 31 December in New York,
        // but already 1 January in Berlin.
        assert_eq!(
            parse_rrule("FREQ=DAILY;UNTIL=20270101T045959Z", &ny),
            Ok(rule(Frequency::Daily, 1, until("2026-12-31")))
        );
        assert_eq!(p("FREQ=DAILY;UNTIL=20270101T045959Z"), Ok(rule(Frequency::Daily, 1, until("2027-01-01"))));
        // A Google-style UNTIL at the last class's start.
        assert_eq!(p("FREQ=WEEKLY;UNTIL=20260302T080000Z;BYDAY=MO"), Ok(weekly(1, &[Mon], until("2026-03-02"))));
        // A local (floating) date-time.
        assert_eq!(p("FREQ=DAILY;UNTIL=20261231T235959"), Ok(rule(Frequency::Daily, 1, until("2026-12-31"))));
    }

    #[test]
    fn parse_rrule_refuses_what_it_cannot_express() {
        use RecurrenceError::*;
        let berlin = zone("Europe/Berlin");
        let p = |text: &str| parse_rrule(text, &berlin);
        let unsupported = |text: &str| assert!(matches!(p(text), Err(Unsupported(_))), "{text}: {:?}", p(text));
        let malformed = |text: &str| assert!(matches!(p(text), Err(Malformed(_))), "{text}: {:?}", p(text));

        unsupported("FREQ=YEARLY;COUNT=3");
        unsupported("FREQ=HOURLY;COUNT=3");
        unsupported("FREQ=MONTHLY;BYDAY=TU;COUNT=3");
        unsupported("FREQ=MONTHLY;BYDAY=1TU,3TU;COUNT=3");
        unsupported("FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=3");
        unsupported("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3");
        unsupported("FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=1MO;COUNT=3");
        unsupported("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3");
        unsupported("FREQ=DAILY;BYDAY=MO;COUNT=3");
        unsupported("FREQ=DAILY;BYMONTHDAY=3;COUNT=3");
        unsupported("FREQ=WEEKLY;BYMONTHDAY=3;COUNT=3");
        unsupported("FREQ=DAILY;BYHOUR=9,17;COUNT=3");
        unsupported("FREQ=WEEKLY;BYMONTH=1;COUNT=3");
        unsupported("FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SU,MO;COUNT=3");

        malformed("");
        malformed("   ");
        malformed("RRULE:");
        malformed("COUNT=3");
        malformed("FREQ=DAILY COUNT=3");
        malformed("FREQ=DAILY;COUNT");
        malformed("FREQ=DAILY;COUNT=");
        malformed("FREQ=DAILY;COUNT=-1");
        malformed("FREQ=DAILY;COUNT=3x");
        malformed("FREQ=DAILY;COUNT=+3");
        malformed("FREQ=DAILY;INTERVAL=two;COUNT=3");
        malformed("FREQ=FORTNIGHTLY;COUNT=3");
        malformed("FREQ=DAILY;FREQ=WEEKLY;COUNT=3");
        malformed("FREQ=DAILY;COUNT=3;COUNT=4");
        malformed("FREQ=DAILY;COUNT=3;UNTIL=20261231");
        malformed("FREQ=DAILY;COUNT=3;COLOUR=RED");
        malformed("FREQ=DAILY;UNTIL=2026-12-31");
        malformed("FREQ=DAILY;UNTIL=20261301");
        malformed("FREQ=DAILY;UNTIL=20260230");
        malformed("FREQ=DAILY;UNTIL=20261231T250000Z");
        malformed("FREQ=DAILY;UNTIL=20261231T235959+0100");
        malformed("FREQ=DAILY;UNTIL=20261231X235959Z");
        malformed("FREQ=WEEKLY;BYDAY=MO,,WE;COUNT=3");
        malformed("FREQ=WEEKLY;BYDAY=MONDAY;COUNT=3");
        malformed("FREQ=WEEKLY;BYDAY=1MO;COUNT=3");
        malformed("FREQ=WEEKLY;WKST=XX;COUNT=3");
        malformed("FREQ=MONTHLY;BYDAY=0TU;COUNT=3");
        malformed("FREQ=MONTHLY;BYDAY=54TU;COUNT=3");
        malformed("FREQ=MONTHLY;BYDAY=+TU;COUNT=3");
        malformed("FREQ=MONTHLY;BYMONTHDAY=32;COUNT=3");
        malformed("FREQ=MONTHLY;BYMONTHDAY=0;COUNT=3");
        malformed(&format!("FREQ=DAILY;COUNT=3;X-NOTE={}", "A".repeat(2000)));

        // Well-formed but outside the model's limits: the validation errors.
        assert_eq!(p("FREQ=DAILY"), Err(NoEnd));
        assert_eq!(p("FREQ=DAILY;COUNT=0"), Err(InvalidCount(0)));
        assert_eq!(p("FREQ=DAILY;COUNT=1001"), Err(InvalidCount(1001)));
        assert_eq!(p("FREQ=DAILY;COUNT=99999999999999999999"), Err(InvalidCount(u32::MAX)));
        assert_eq!(p("FREQ=DAILY;INTERVAL=0;COUNT=3"), Err(InvalidInterval(0)));
        assert_eq!(p("FREQ=DAILY;INTERVAL=100;COUNT=3"), Err(InvalidInterval(100)));
        assert_eq!(p("FREQ=MONTHLY;BYDAY=-2TU;COUNT=3"), Err(InvalidNth(-2)));
        assert_eq!(p("FREQ=MONTHLY;BYDAY=6TU;COUNT=3"), Err(InvalidNth(6)));
        assert_eq!(p("FREQ=WEEKLY;BYDAY=MO,TU,MO;COUNT=3"), Err(DuplicateWeekday(Weekday::Mon)));
    }

    #[test]
    fn to_rrule_of_an_invalid_rule_is_refused_by_parse_rrule() {
        use Weekday::*;
        let tz = zone("Europe/Berlin");
        let start = date(2026, 1, 7).at(9, 0, 0, 0);
        let invalid = [
            rule(Frequency::Daily, 0, count(3)),
            rule(Frequency::Daily, 1, count(0)),
            rule(Frequency::Daily, 1, until("someday")),
            rule(Frequency::Daily, 1, until("2026-01-01;COUNT=3")),
            weekly(1, &[Mon, Mon], count(3)),
            Recurrence { weekdays: vec![Tue], ..rule(Frequency::Daily, 1, count(3)) },
            Recurrence { weekdays: vec![Tue], ..monthly(1, MonthlyBy::DayOfMonth, count(3)) },
            Recurrence { weekdays: vec![Tue], ..monthly(1, MonthlyBy::NthWeekday(2), count(3)) },
            Recurrence { monthly_by: MonthlyBy::NthWeekday(2), ..weekly(1, &[Mon], count(3)) },
            Recurrence { monthly_by: MonthlyBy::NthWeekday(2), ..rule(Frequency::Daily, 1, count(3)) },
            monthly(1, MonthlyBy::NthWeekday(0), count(3)),
            monthly(1, MonthlyBy::NthWeekday(-3), count(3)),
        ];
        for r in invalid {
            assert!(validate(&r).is_err());
            let text = to_rrule(&r, start, &tz);
            assert!(parse_rrule(&text, &tz).is_err(), "{r:?} -> {text}");
        }
    }

    // ---- properties ----

    const ZONES: [&str; 6] =
        ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"];

    fn any_zone() -> impl Strategy<Value = TimeZone> {
        proptest::sample::select(&ZONES[..]).prop_map(zone)
    }

    fn any_weekday() -> impl Strategy<Value = Weekday> {
        proptest::sample::select(&Weekday::ALL[..])
    }

    fn any_date(years: std::ops::RangeInclusive<i16>) -> impl Strategy<Value = Date> {
        (years, 1..=12i8, 1..=31i8).prop_map(|(y, m, d)| Date::new(y, m, d.min(date(y, m, 1).days_in_month())).unwrap())
    }

    fn any_start() -> impl Strategy<Value = DateTime> {
        (any_date(1990..=2060), 0..24i8, 0..60i8).prop_map(|(d, h, m)| d.at(h, m, 0, 0))
    }

    /// Valid rules in their one canonical form (weekdays only when weekly, the nth only when monthly).
    fn valid_rule(max_interval: u32, max_count: u32) -> impl Strategy<Value = Recurrence> {
        let end = prop_oneof![
            (1..=max_count).prop_map(RecurrenceEnd::Count),
            any_date(1990..=2080).prop_map(|d| RecurrenceEnd::Until(format_date(d))),
        ];
        let frequency = prop_oneof![Just(Frequency::Daily), Just(Frequency::Weekly), Just(Frequency::Monthly)];
        let days = proptest::collection::hash_set(any_weekday(), 0..=7);
        let nth = prop_oneof![Just(None), proptest::sample::select(&[-1i8, 1, 2, 3, 4, 5][..]).prop_map(Some)];
        (frequency, 1..=max_interval, days, nth, end).prop_map(|(frequency, interval, days, nth, end)| Recurrence {
            frequency,
            interval,
            weekdays: if frequency == Frequency::Weekly { days.into_iter().collect() } else { Vec::new() },
            monthly_by: match nth {
                Some(n) if frequency == Frequency::Monthly => MonthlyBy::NthWeekday(n),
                _ => MonthlyBy::DayOfMonth,
            },
            end,
        })
    }

    /// Rules of every shape, valid or not.
    fn any_rule() -> impl Strategy<Value = Recurrence> {
        let end = prop_oneof![
            (0..=MAX_COUNT + 5).prop_map(RecurrenceEnd::Count),
            any::<u32>().prop_map(RecurrenceEnd::Count),
            any_date(0..=9999).prop_map(|d| RecurrenceEnd::Until(format_date(d))),
            ".{0,12}".prop_map(RecurrenceEnd::Until),
        ];
        let frequency = prop_oneof![Just(Frequency::Daily), Just(Frequency::Weekly), Just(Frequency::Monthly)];
        let monthly_by = prop_oneof![Just(MonthlyBy::DayOfMonth), any::<i8>().prop_map(MonthlyBy::NthWeekday)];
        (frequency, 0..=120u32, proptest::collection::vec(any_weekday(), 0..=9), monthly_by, end).prop_map(
            |(frequency, interval, weekdays, monthly_by, end)| Recurrence {
                frequency,
                interval,
                weekdays,
                monthly_by,
                end,
            },
        )
    }

    /// Does `day` match `rule` (anchored at `start`)? Worked out day by day, independently of `Dates`.
    fn matches(rule: &Recurrence, start: Date, day: Date) -> bool {
        let interval = i64::from(rule.interval);
        let days_between = (day - start).get_days() as i64;
        match rule.frequency {
            Frequency::Daily => days_between % interval == 0,
            Frequency::Weekly => {
                let monday =
                    |d: Date| (d - date(2000, 1, 3)).get_days() as i64 - i64::from(d.weekday().to_monday_zero_offset());
                let weeks = (monday(day) - monday(start)) / 7;
                let weekday = from_civil(day.weekday());
                let on = if rule.weekdays.is_empty() {
                    weekday == from_civil(start.weekday())
                } else {
                    rule.weekdays.contains(&weekday)
                };
                weeks % interval == 0 && on
            }
            Frequency::Monthly => {
                let months = (i64::from(day.year()) * 12 + i64::from(day.month()))
                    - (i64::from(start.year()) * 12 + i64::from(start.month()));
                months % interval == 0
                    && match rule.monthly_by {
                        MonthlyBy::DayOfMonth => day.day() == start.day(),
                        MonthlyBy::NthWeekday(nth) => {
                            day.weekday() == start.weekday()
                                && if nth == -1 {
                                    day.day() + 7 > day.days_in_month()
                                } else {
                                    (day.day() - 1) / 7 + 1 == nth
                                }
                        }
                    }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn valid_rules_round_trip_through_rrule(rule in valid_rule(MAX_INTERVAL, MAX_COUNT), start in any_start(), tz in any_zone()) {
            prop_assert_eq!(validate(&rule), Ok(()));
            let text = to_rrule(&rule, start, &tz);
            prop_assert_eq!(parse_rrule(&text, &tz), Ok(rule.clone()), "{}", text);
            prop_assert_eq!(parse_rrule(&text.to_lowercase(), &tz), Ok(rule), "{}", text);
        }

        #[test]
        fn rrule_text_reads_back_exactly_when_the_rule_is_valid(rule in any_rule(), start in any_start(), tz in any_zone()) {
            let text = to_rrule(&rule, start, &tz);
            match validate(&rule) {
                Ok(()) => prop_assert_eq!(parse_rrule(&text, &tz), Ok(rule), "{}", text),
                Err(_) => prop_assert!(parse_rrule(&text, &tz).is_err(), "{}", text),
            }
        }

        #[test]
        fn parse_rrule_never_panics(text in ".{0,200}") {
            let _ = parse_rrule(&text, &TimeZone::UTC);
        }

        #[test]
        fn parse_rrule_never_panics_on_near_misses(
            parts in proptest::collection::vec(
                (
                    proptest::sample::select(&["FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "WKST", "BYSETPOS", "freq", "", "X"][..]),
                    proptest::sample::select(&["=", "", "==", " = "][..]),
                    prop_oneof![
                        proptest::sample::select(&["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "MO", "-1FR", "+5SU", "2TU,3WE", "MO,", "", "0", "99999999999", "20261231", "20261231T235959Z", "20261231T", "-", "+", "é", "1é", "TUé"][..]).prop_map(str::to_owned),
                        "[-+0-9A-Zé,T]{0,18}",
                    ],
                ),
                0..8,
            ),
            sep in proptest::sample::select(&[";", ";;", ",", ""][..]),
            tz in any_zone(),
        ) {
            let text = parts.iter().map(|(name, eq, value)| format!("{name}{eq}{value}")).collect::<Vec<_>>().join(sep);
            if let Ok(rule) = parse_rrule(&text, &tz) {
                // Anything accepted is a valid rule.
                prop_assert_eq!(validate(&rule), Ok(()));
            }
        }

        #[test]
        fn expand_matches_a_day_by_day_check(rule in valid_rule(12, 40), start in any_start(), tz in any_zone()) {
            let until = match &rule.end {
                RecurrenceEnd::Until(text) => Some(parse_until_date(text).unwrap()),
                RecurrenceEnd::Count(_) => None,
            };
            prop_assume!(until.is_none_or(|until| until >= start.date() && (until - start.date()).get_days() < 40 * 366));
            let got = expand(&rule, start, &tz, 20_000).unwrap();

            // The first class is the start; the rest are exactly the matching days after it.
            let mut want = vec![start.date()];
            let mut day = start.date();
            loop {
                if let RecurrenceEnd::Count(n) = rule.end && want.len() == n as usize { break }
                day = day.tomorrow().unwrap();
                if until.is_some_and(|until| day > until) { break }
                if matches(&rule, start.date(), day) { want.push(day) }
            }
            let got_dates: Vec<Date> = got.iter().map(|i| i.local_start.date()).collect();
            prop_assert_eq!(got_dates, want);

            for pair in got.windows(2) {
                prop_assert!(pair[0].starts_at_ms < pair[1].starts_at_ms);
            }
            for i in &got {
                prop_assert_eq!(i.local_start.time(), start.time());
                // Each instant is the wall-clock time, except in a gap, where it is later.
                let wall = tz.to_datetime(Timestamp::from_millisecond(i.starts_at_ms).unwrap());
                prop_assert!(wall >= i.local_start);
                let in_gap = matches!(tz.to_ambiguous_timestamp(i.local_start).offset(), jiff::tz::AmbiguousOffset::Gap { .. });
                prop_assert!(wall == i.local_start || in_gap);
                prop_assert_eq!(*i, single(i.local_start, &tz));
            }
        }

        #[test]
        fn expand_refuses_more_than_max(rule in valid_rule(MAX_INTERVAL, 60), start in any_start(), max in 0usize..70) {
            let all = expand(&rule, start, &TimeZone::UTC, 100_000);
            prop_assume!(all.is_ok());
            let all = all.unwrap();
            match expand(&rule, start, &TimeZone::UTC, max) {
                Ok(some) => {
                    prop_assert!(all.len() <= max);
                    prop_assert_eq!(some, all);
                }
                Err(e) => {
                    prop_assert!(all.len() > max);
                    prop_assert_eq!(e, RecurrenceError::TooMany { max });
                }
            }
        }
    }
}
