//! RFC 5545 iCalendar output: classes (single or recurring) as a `VCALENDAR` that calendar apps
//! (Google, Apple, Outlook, Thunderbird) can subscribe to or import.
//!
//! Times are written in the event's IANA zone (`DTSTART;TZID=Europe/Berlin:20261130T090000`), and
//! every zone used gets a `VTIMEZONE` built from jiff's bundled time zone database: one explicit
//! observance per transition over the span the events need (no `RRULE` inside `VTIMEZONE`).
//! A zone name jiff does not know falls back to UTC (`…Z`, no `TZID`).
//!
//! The output depends only on the input (and on the tz database compiled into jiff): no clock is
//! read, so the same events always give the same bytes.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// `PRODID` of every calendar written here.
pub const PRODID: &str = "-//Lectern//Lectern//EN";

/// `ORGANIZER` needs a calendar address, and an event only knows the organizer's name; this
/// address is in the reserved `.invalid` domain (RFC 2606), so nothing is ever sent to it.
pub const ORGANIZER_ADDRESS: &str = "mailto:noreply@lectern.invalid";

/// Content lines are folded at this many octets, not counting the CRLF (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// `VTIMEZONE` observances start this long before the earliest time an event uses...
const ZONE_LEAD: SignedDuration = SignedDuration::from_hours(366 * 24);
/// ...and end this long after the latest one (the end of a series included).
const ZONE_TAIL: SignedDuration = SignedDuration::from_hours(2 * 366 * 24);
/// A series without `UNTIL`/`COUNT` (or with a later end) is assumed to last this long when
/// choosing which transitions to write, which keeps a `VTIMEZONE` to a few dozen observances.
const MAX_SERIES_SPAN: SignedDuration = SignedDuration::from_hours(10 * 366 * 24);

/// One calendar event: a single class, or a series with an RRULE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcalEvent {
    /// Stable across exports, e.g. `"class-42@lectern"`.
    pub uid: String,
    pub summary: String,
    /// Left out when empty.
    pub description: String,
    pub url: Option<String>,
    /// Written as `ORGANIZER;CN="…":` [`ORGANIZER_ADDRESS`].
    pub organizer_name: Option<String>,
    /// IANA name, e.g. `"Europe/Berlin"`; an unknown name falls back to UTC.
    pub time_zone: String,
    /// `DTSTART`, wall-clock time in `time_zone`.
    pub start_local: DateTime,
    /// `DTEND` is start + this many minutes of real time; no `DTEND` when zero or negative.
    pub duration_minutes: i64,
    /// RRULE value without `"RRULE:"`, e.g. `"FREQ=WEEKLY;BYDAY=MO;COUNT=10"`, written as given
    /// (with `DTSTART` in a zone, RFC 5545 wants any `UNTIL` in UTC, `…Z`).
    pub rrule: Option<String>,
    /// Cancelled occurrences of the series (their original local starts). Ignored without `rrule`.
    pub exdates_local: Vec<DateTime>,
    /// Moved occurrences of the series, written as extra `VEVENT`s with the same `UID` and a
    /// `RECURRENCE-ID`. Ignored without `rrule`.
    pub overrides: Vec<IcalOverride>,
    /// The whole event (the series and its moved occurrences) is cancelled: `STATUS:CANCELLED`.
    pub cancelled: bool,
    pub sequence: u32,
    /// UTC milliseconds; written as both `LAST-MODIFIED` and `DTSTAMP`.
    pub last_modified_ms: i64,
}

/// One moved occurrence of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcalOverride {
    /// The occurrence's original local start, as the RRULE generates it.
    pub recurrence_id_local: DateTime,
    pub start_local: DateTime,
    pub duration_minutes: i64,
}

/// A whole `VCALENDAR` (PRODID [`PRODID`], VERSION 2.0, CALSCALE GREGORIAN, METHOD PUBLISH,
/// X-WR-CALNAME = `calendar_name`) with one `VTIMEZONE` per distinct time zone used, then the
/// events (each series followed by its moved occurrences). Lines end in CRLF and are folded.
pub fn calendar(calendar_name: &str, events: &[IcalEvent]) -> String {
    let zones: Vec<Zone> = events.iter().map(|event| Zone::resolve(&event.time_zone)).collect();

    // For each zone in use: the instants its VTIMEZONE has to cover.
    let mut spans: BTreeMap<&str, (&TimeZone, Timestamp, Timestamp)> = BTreeMap::new();
    for (event, zone) in events.iter().zip(&zones) {
        let Zone::Named { tzid, tz } = zone else { continue };
        let Some((lo, hi)) = needed_span(event, tz) else { continue };
        spans
            .entry(tzid.as_str())
            .and_modify(|(_, start, end)| {
                *start = (*start).min(lo);
                *end = (*end).max(hi);
            })
            .or_insert((tz, lo, hi));
    }

    let mut w = Writer::default();
    w.line("BEGIN:VCALENDAR");
    w.line(format!("PRODID:{PRODID}"));
    w.line("VERSION:2.0");
    w.line("CALSCALE:GREGORIAN");
    w.line("METHOD:PUBLISH");
    w.line(format!("X-WR-CALNAME:{}", escape_text(calendar_name)));
    for (tzid, (tz, lo, hi)) in spans {
        write_vtimezone(
            &mut w,
            tzid,
            tz,
            lo.checked_sub(ZONE_LEAD).unwrap_or(lo),
            hi.checked_add(ZONE_TAIL).unwrap_or(hi),
        );
    }
    for (event, zone) in events.iter().zip(&zones) {
        write_event(&mut w, event, zone);
    }
    w.line("END:VCALENDAR");
    w.out
}

/// The zone an event's local times are in.
enum Zone {
    /// Known to jiff: local times with `TZID=<tzid>` and a `VTIMEZONE`.
    Named { tzid: String, tz: TimeZone },
    /// Unknown name: local times are taken as UTC and written with `Z`.
    UtcFallback,
}

impl Zone {
    fn resolve(name: &str) -> Zone {
        match TimeZone::get(name.trim()) {
            // The canonical spelling ("europe/berlin" -> "Europe/Berlin"): apps match TZIDs
            // against their own databases, case-sensitively.
            Ok(tz) => match tz.iana_name().map(sanitize_value) {
                Some(tzid) if !tzid.is_empty() => Zone::Named { tzid, tz },
                _ => Zone::UtcFallback,
            },
            Err(_) => Zone::UtcFallback,
        }
    }

    /// The instant of a local time, read as RFC 5545 §3.3.5 reads it: in a gap with the offset
    /// before the gap, in a fold the first occurrence (jiff's "compatible" disambiguation).
    fn instant(&self, local: DateTime) -> Option<Timestamp> {
        match self {
            Zone::Named { tz, .. } => tz.to_timestamp(local).ok(),
            Zone::UtcFallback => Offset::UTC.to_timestamp(local).ok(),
        }
    }

    /// `NAME;TZID=…:local` or, for the fallback, `NAME:…Z`.
    fn date_time(&self, name: &str, local: DateTime) -> String {
        match self {
            Zone::Named { tzid, .. } => format!("{name};TZID={}:{}", param_value(tzid), format_local(local)),
            Zone::UtcFallback => format!("{name}:{}Z", format_local(local)),
        }
    }

    /// `DTEND` for an event starting at `start_local` and lasting `minutes` of real time.
    ///
    /// Normally `DTEND;TZID=…` with the end instant expressed in the zone. When that wall-clock
    /// time would be read back as another instant (it falls in the repeated hour after clocks go
    /// back, and the end is the second occurrence) it is written in UTC instead, which RFC 5545
    /// allows (DTEND only has to be a DATE-TIME like DTSTART) and which is unambiguous.
    fn end(&self, start_local: DateTime, minutes: i64) -> Option<String> {
        if minutes <= 0 {
            return None;
        }
        let start = self.instant(start_local)?;
        let end = start.checked_add(SignedDuration::try_from_mins(minutes)?).ok()?;
        match self {
            Zone::Named { tzid, tz } => {
                let local = tz.to_datetime(end);
                if tz.to_timestamp(local).ok() == Some(end) {
                    Some(format!("DTEND;TZID={}:{}", param_value(tzid), format_local(local)))
                } else {
                    Some(format!("DTEND:{}", format_utc(end)))
                }
            }
            Zone::UtcFallback => Some(format!("DTEND:{}", format_utc(end))),
        }
    }
}

/// The earliest and latest instants `event` needs its zone's `VTIMEZONE` for: its start and end,
/// the end of its series (estimated from the RRULE), excluded dates and moved occurrences.
fn needed_span(event: &IcalEvent, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = tz.to_timestamp(event.start_local).ok()?;
    let end_of = |start: Timestamp, minutes: i64| {
        SignedDuration::try_from_mins(minutes.max(0)).and_then(|d| start.checked_add(d).ok()).unwrap_or(start)
    };
    let (mut lo, mut hi) = (start, end_of(start, event.duration_minutes));
    if let Some(rrule) = series_rrule(event) {
        hi = hi.max(series_end_estimate(&rrule, start, tz));
        let exdates = event.exdates_local.iter().filter_map(|&local| tz.to_timestamp(local).ok());
        let moved = event.overrides.iter().flat_map(|o| {
            let recurrence = tz.to_timestamp(o.recurrence_id_local).ok();
            let start = tz.to_timestamp(o.start_local).ok();
            [recurrence, start, start.map(|start| end_of(start, o.duration_minutes))]
        });
        for instant in exdates.chain(moved.flatten()) {
            lo = lo.min(instant);
            hi = hi.max(instant);
        }
    }
    Some((lo, hi))
}

/// Roughly when a series starting at `start` ends: its `UNTIL`, or `COUNT` × `INTERVAL` periods
/// of `FREQ` (an over-estimate when BY* parts pick several occurrences per period), capped at
/// [`MAX_SERIES_SPAN`], which is also the guess for a series without an end.
fn series_end_estimate(rrule: &str, start: Timestamp, tz: &TimeZone) -> Timestamp {
    let cap = start.checked_add(MAX_SERIES_SPAN).unwrap_or(start);
    let (mut period_days, mut interval, mut count, mut until) = (1i64, 1i64, None, None);
    for part in rrule.split(';') {
        let Some((key, value)) = part.split_once('=') else { continue };
        let value = value.trim();
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => {
                period_days = match value.to_ascii_uppercase().as_str() {
                    "WEEKLY" => 7,
                    "MONTHLY" => 31,
                    "YEARLY" => 366,
                    _ => 1,
                }
            }
            "INTERVAL" => interval = value.parse::<i64>().unwrap_or(1).max(1),
            "COUNT" => count = value.parse::<i64>().ok(),
            "UNTIL" => until = Some(value.to_owned()),
            _ => {}
        }
    }
    let end = if let Some(until) = until {
        parse_until(&until, tz)
    } else if let Some(count) = count {
        let hours = count.max(1).saturating_mul(interval).saturating_mul(period_days).saturating_mul(24);
        SignedDuration::try_from_hours(hours).and_then(|d| start.checked_add(d).ok())
    } else {
        None
    };
    end.map_or(cap, |end| end.clamp(start, cap))
}

/// The day of an `UNTIL` value (`YYYYMMDD`, optionally followed by `THHMMSS[Z]`), at midnight in
/// `tz`: precise enough for choosing transitions, which get a couple of years of slack anyway.
fn parse_until(value: &str, tz: &TimeZone) -> Option<Timestamp> {
    let digits = value.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    let (year, month, day) = (digits[..4].parse().ok()?, digits[4..6].parse().ok()?, digits[6..].parse().ok()?);
    tz.to_timestamp(Date::new(year, month, day).ok()?.at(0, 0, 0, 0)).ok()
}

/// One `STANDARD` or `DAYLIGHT` sub-component of a `VTIMEZONE`.
struct Observance {
    daylight: bool,
    /// Local time of the onset, in the offset in effect before it.
    start: DateTime,
    from: Offset,
    to: Offset,
    name: String,
}

/// The observances of `tz` between `from` and `until`: the one in effect at `from`, then one
/// per transition. A zone without transitions in that span gets a single `STANDARD` with its
/// offset then, starting 1970-01-01.
fn observances(tz: &TimeZone, from: Timestamp, until: Timestamp) -> Vec<Observance> {
    let observance = |at: Timestamp, to: Offset, name: &str, daylight: bool| {
        let before = at.checked_sub(SignedDuration::from_secs(1)).map_or(to, |t| tz.to_offset(t));
        Observance { daylight, start: before.to_datetime(at), from: before, to, name: name.to_owned() }
    };
    let in_span: Vec<Observance> = tz
        .following(from)
        .take_while(|t| t.timestamp() <= until)
        .map(|t| observance(t.timestamp(), t.offset(), t.abbreviation(), t.dst().is_dst()))
        .collect();
    if in_span.is_empty() {
        let info = tz.to_offset_info(from);
        let offset = info.offset();
        let epoch = Date::constant(1970, 1, 1).at(0, 0, 0, 0);
        return vec![Observance {
            daylight: false,
            start: epoch,
            from: offset,
            to: offset,
            name: info.abbreviation().to_owned(),
        }];
    }
    let in_effect = match tz.preceding(from).next() {
        Some(t) => observance(t.timestamp(), t.offset(), t.abbreviation(), t.dst().is_dst()),
        None => {
            let info = tz.to_offset_info(from);
            let offset = info.offset();
            Observance {
                daylight: info.dst().is_dst(),
                start: offset.to_datetime(from),
                from: offset,
                to: offset,
                name: info.abbreviation().to_owned(),
            }
        }
    };
    std::iter::once(in_effect).chain(in_span).collect()
}

fn write_vtimezone(w: &mut Writer, tzid: &str, tz: &TimeZone, from: Timestamp, until: Timestamp) {
    w.line("BEGIN:VTIMEZONE");
    w.line(format!("TZID:{tzid}"));
    for o in observances(tz, from, until) {
        let kind = if o.daylight { "DAYLIGHT" } else { "STANDARD" };
        w.line(format!("BEGIN:{kind}"));
        w.line(format!("DTSTART:{}", format_local(o.start)));
        w.line(format!("TZOFFSETFROM:{}", format_offset(o.from)));
        w.line(format!("TZOFFSETTO:{}", format_offset(o.to)));
        if !o.name.is_empty() {
            w.line(format!("TZNAME:{}", escape_text(&o.name)));
        }
        w.line(format!("END:{kind}"));
    }
    w.line("END:VTIMEZONE");
}

/// The RRULE of a series, cleaned up, or `None` for a single event.
fn series_rrule(event: &IcalEvent) -> Option<String> {
    let rrule = sanitize_value(event.rrule.as_deref()?.trim());
    let rrule = match rrule.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => rrule[6..].trim().to_owned(),
        _ => rrule,
    };
    (!rrule.is_empty()).then_some(rrule)
}

fn write_event(w: &mut Writer, event: &IcalEvent, zone: &Zone) {
    let rrule = series_rrule(event);
    w.line("BEGIN:VEVENT");
    write_identity(w, event);
    w.line(zone.date_time("DTSTART", event.start_local));
    if let Some(end) = zone.end(event.start_local, event.duration_minutes) {
        w.line(end);
    }
    if let Some(rrule) = &rrule {
        w.line(format!("RRULE:{rrule}"));
        let mut exdates = event.exdates_local.clone();
        exdates.sort();
        exdates.dedup();
        for exdate in exdates {
            w.line(zone.date_time("EXDATE", exdate));
        }
    }
    write_details(w, event);
    w.line("END:VEVENT");

    if rrule.is_none() {
        return;
    }
    let mut overrides: Vec<&IcalOverride> = event.overrides.iter().collect();
    overrides.sort_by_key(|o| (o.recurrence_id_local, o.start_local, o.duration_minutes));
    for o in overrides {
        w.line("BEGIN:VEVENT");
        write_identity(w, event);
        w.line(zone.date_time("RECURRENCE-ID", o.recurrence_id_local));
        w.line(zone.date_time("DTSTART", o.start_local));
        if let Some(end) = zone.end(o.start_local, o.duration_minutes) {
            w.line(end);
        }
        write_details(w, event);
        w.line("END:VEVENT");
    }
}

/// UID, DTSTAMP, LAST-MODIFIED and SEQUENCE.
fn write_identity(w: &mut Writer, event: &IcalEvent) {
    let modified = Timestamp::from_millisecond(event.last_modified_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    w.line(format!("UID:{}", escape_text(&event.uid)));
    w.line(format!("DTSTAMP:{}", format_utc(modified)));
    w.line(format!("LAST-MODIFIED:{}", format_utc(modified)));
    w.line(format!("SEQUENCE:{}", event.sequence));
}

/// SUMMARY, DESCRIPTION, URL, ORGANIZER and STATUS.
fn write_details(w: &mut Writer, event: &IcalEvent) {
    w.line(format!("SUMMARY:{}", escape_text(&event.summary)));
    if !event.description.is_empty() {
        w.line(format!("DESCRIPTION:{}", escape_text(&event.description)));
    }
    if let Some(url) = event.url.as_deref().map(|url| sanitize_value(url.trim())).filter(|url| !url.is_empty()) {
        w.line(format!("URL:{url}"));
    }
    if let Some(name) = event.organizer_name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        let name: String = sanitize_value(name).chars().map(|c| if c == '"' { '\'' } else { c }).collect();
        w.line(format!("ORGANIZER;CN=\"{name}\":{ORGANIZER_ADDRESS}"));
    }
    w.line(if event.cancelled { "STATUS:CANCELLED" } else { "STATUS:CONFIRMED" });
}

/// Collects content lines, folded and CRLF-terminated.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn line(&mut self, line: impl AsRef<str>) {
        fold_into(&mut self.out, line.as_ref());
    }
}

/// Appends `line` folded at [`MAX_LINE_OCTETS`] octets (a continuation line's leading space
/// counts), never inside a UTF-8 character, followed by CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_LINE_OCTETS;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = MAX_LINE_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Escapes a TEXT value (RFC 5545 §3.3.11): `\` `;` `,` get a backslash, any line break (CRLF, LF
/// or CR) becomes `\n`, and the other control characters, which TEXT cannot hold, are dropped.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_ascii_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A value that is not TEXT (URI, RRULE, TZID): control characters dropped so it cannot break
/// out of its line.
fn sanitize_value(value: &str) -> String {
    value.chars().filter(|c| !c.is_ascii_control()).collect()
}

/// A parameter value, quoted when it holds `;`, `:` or `,` (it never holds `"`: dropped).
fn param_value(value: &str) -> String {
    let value: String = value.chars().filter(|&c| c != '"' && !c.is_ascii_control()).collect();
    if value.contains([';', ':', ',']) { format!("\"{value}\"") } else { value }
}

/// `YYYYMMDDTHHMMSS` (a local DATE-TIME; fractional seconds are dropped).
fn format_local(dt: DateTime) -> String {
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}", dt.year(), dt.month(), dt.day(), dt.hour(), dt.minute(), dt.second())
}

/// `YYYYMMDDTHHMMSSZ`.
fn format_utc(ts: Timestamp) -> String {
    format!("{}Z", format_local(Offset::UTC.to_datetime(ts)))
}

/// `+HHMM` / `-HHMM` (`+HHMMSS` for the odd historical offset with seconds); never `-0000`.
fn format_offset(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (hours, minutes, secs) = (abs / 3600, abs / 60 % 60, abs % 60);
    if secs == 0 { format!("{sign}{hours:02}{minutes:02}") } else { format!("{sign}{hours:02}{minutes:02}{secs:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icalendar::parser::{Component, Property, read_calendar, unfold};
    use jiff::civil::date;

    /// 2026-11-30T08:00:00Z.
    const MODIFIED_MS: i64 = 1_796_025_600_000;

    fn event(time_zone: &str, start_local: DateTime, duration_minutes: i64) -> IcalEvent {
        IcalEvent {
            uid: "class-42@lectern".to_owned(),
            summary: "Yoga".to_owned(),
            description: String::new(),
            url: None,
            organizer_name: None,
            time_zone: time_zone.to_owned(),
            start_local,
            duration_minutes,
            rrule: None,
            exdates_local: Vec::new(),
            overrides: Vec::new(),
            cancelled: false,
            sequence: 0,
            last_modified_ms: MODIFIED_MS,
        }
    }

    fn prop<'a>(component: &'a Component<'a>, name: &str) -> &'a Property<'a> {
        component.find_prop(name).unwrap_or_else(|| panic!("{} has no {name}", component.name.as_str()))
    }

    fn val<'a>(component: &'a Component<'a>, name: &str) -> &'a str {
        prop(component, name).val.as_str()
    }

    fn param<'a>(property: &'a Property<'a>, key: &str) -> Option<&'a str> {
        property.params.iter().find(|p| p.key == key).and_then(|p| p.val.as_ref()).map(|v| v.as_str())
    }

    fn props<'a>(component: &'a Component<'a>, name: &str) -> Vec<&'a Property<'a>> {
        component.properties.iter().filter(|p| p.name == name).collect()
    }

    /// The `NAME...` content lines of `ics`, unfolded.
    fn unfolded_lines(ics: &str, name: &str) -> Vec<String> {
        unfold(ics).split("\r\n").filter(|l| l.starts_with(name)).map(str::to_owned).collect()
    }

    /// (kind, DTSTART, TZOFFSETFROM, TZOFFSETTO, TZNAME) of each observance of a VTIMEZONE.
    fn observance_rows(vtimezone: &Component<'_>) -> Vec<[String; 5]> {
        vtimezone
            .components
            .iter()
            .map(|o| {
                [o.name.as_str(), val(o, "DTSTART"), val(o, "TZOFFSETFROM"), val(o, "TZOFFSETTO"), val(o, "TZNAME")]
                    .map(str::to_owned)
            })
            .collect()
    }

    fn row(kind: &str, start: &str, from: &str, to: &str, name: &str) -> [String; 5] {
        [kind, start, from, to, name].map(str::to_owned)
    }

    #[test]
    fn weekly_series_with_exdate_and_override_parses_back() {
        let mut series = event("Europe/Berlin", date(2026, 11, 30).at(9, 0, 0, 0), 60);
        series.summary = "Yoga; beginners, level 1".to_owned();
        series.description = "Bring a mat.\nRoom 2\\B".to_owned();
        series.url = Some("https://lectern.example/classes/42".to_owned());
        series.organizer_name = Some("Ada \"The Teacher\" Lovelace".to_owned());
        series.rrule = Some("FREQ=WEEKLY;BYDAY=MO;COUNT=10".to_owned());
        series.exdates_local = vec![date(2026, 12, 14).at(9, 0, 0, 0)];
        series.overrides = vec![IcalOverride {
            recurrence_id_local: date(2026, 12, 21).at(9, 0, 0, 0),
            start_local: date(2026, 12, 22).at(18, 0, 0, 0),
            duration_minutes: 90,
        }];
        series.sequence = 3;
        let ics = calendar("Lectern: my classes", std::slice::from_ref(&series));
        assert_eq!(ics, calendar("Lectern: my classes", &[series]), "deterministic");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains(['\r', '\n']), "only CRLF line endings");

        let unfolded = unfold(&ics);
        let cal = read_calendar(&unfolded).expect("parses");
        let cal_prop = |name: &str| cal.properties.iter().find(|p| p.name == name).map(|p| p.val.as_str());
        assert_eq!(cal_prop("PRODID"), Some("-//Lectern//Lectern//EN"));
        assert_eq!(cal_prop("VERSION"), Some("2.0"));
        assert_eq!(cal_prop("CALSCALE"), Some("GREGORIAN"));
        assert_eq!(cal_prop("METHOD"), Some("PUBLISH"));
        assert!(ics.contains("\r\nX-WR-CALNAME:Lectern: my classes\r\n"));

        let names: Vec<&str> = cal.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["VTIMEZONE", "VEVENT", "VEVENT"]);
        let (vtimezone, master, moved) = (&cal.components[0], &cal.components[1], &cal.components[2]);

        // From the transition in effect a year before the first class (2025-11-30) to two years
        // after the tenth one (2027-02-01): clocks go forward at 01:00Z on the last Sunday of
        // March (02:00 CET) and back at 01:00Z on the last Sunday of October (03:00 CEST).
        assert_eq!(val(vtimezone, "TZID"), "Europe/Berlin");
        assert_eq!(
            observance_rows(vtimezone),
            [
                row("STANDARD", "20251026T030000", "+0200", "+0100", "CET"),
                row("DAYLIGHT", "20260329T020000", "+0100", "+0200", "CEST"),
                row("STANDARD", "20261025T030000", "+0200", "+0100", "CET"),
                row("DAYLIGHT", "20270328T020000", "+0100", "+0200", "CEST"),
                row("STANDARD", "20271031T030000", "+0200", "+0100", "CET"),
                row("DAYLIGHT", "20280326T020000", "+0100", "+0200", "CEST"),
                row("STANDARD", "20281029T030000", "+0200", "+0100", "CET"),
            ]
        );

        assert_eq!(val(master, "UID"), "class-42@lectern");
        assert_eq!(val(master, "DTSTAMP"), "20261130T080000Z");
        assert_eq!(val(master, "LAST-MODIFIED"), "20261130T080000Z");
        assert_eq!(val(master, "SEQUENCE"), "3");
        assert_eq!(param(prop(master, "DTSTART"), "TZID"), Some("Europe/Berlin"));
        assert_eq!(val(master, "DTSTART"), "20261130T090000");
        assert_eq!(param(prop(master, "DTEND"), "TZID"), Some("Europe/Berlin"));
        assert_eq!(val(master, "DTEND"), "20261130T100000");
        assert_eq!(val(master, "RRULE"), "FREQ=WEEKLY;BYDAY=MO;COUNT=10");
        let exdates = props(master, "EXDATE");
        assert_eq!(exdates.len(), 1);
        assert_eq!(param(exdates[0], "TZID"), Some("Europe/Berlin"));
        assert_eq!(exdates[0].val.as_str(), "20261214T090000");
        assert!(master.find_prop("RECURRENCE-ID").is_none());
        assert_eq!(val(master, "SUMMARY"), "Yoga; beginners, level 1");
        assert_eq!(val(master, "DESCRIPTION"), "Bring a mat.\nRoom 2\\B");
        assert_eq!(val(master, "URL"), "https://lectern.example/classes/42");
        assert_eq!(param(prop(master, "ORGANIZER"), "CN"), Some("Ada 'The Teacher' Lovelace"));
        assert_eq!(val(master, "ORGANIZER"), "mailto:noreply@lectern.invalid");
        assert_eq!(val(master, "STATUS"), "CONFIRMED");

        assert_eq!(val(moved, "UID"), "class-42@lectern");
        assert_eq!(val(moved, "SEQUENCE"), "3");
        assert_eq!(param(prop(moved, "RECURRENCE-ID"), "TZID"), Some("Europe/Berlin"));
        assert_eq!(val(moved, "RECURRENCE-ID"), "20261221T090000");
        assert_eq!(param(prop(moved, "DTSTART"), "TZID"), Some("Europe/Berlin"));
        assert_eq!(val(moved, "DTSTART"), "20261222T180000");
        assert_eq!(val(moved, "DTEND"), "20261222T193000");
        assert_eq!(val(moved, "SUMMARY"), "Yoga; beginners, level 1");
        assert!(moved.find_prop("RRULE").is_none() && moved.find_prop("EXDATE").is_none());
    }

    #[test]
    fn long_text_is_folded_at_75_octets_without_splitting_characters() {
        let mut e = event("Europe/Berlin", date(2026, 11, 30).at(9, 0, 0, 0), 60);
        e.description = "Grüße aus Köln, 日本語のテキスト; 🎓🎓 Lernen\nmacht Spaß. ".repeat(12);
        let ics = calendar("Folding", &[e.clone()]);

        let mut continuations = 0;
        let body = ics.strip_suffix("\r\n").expect("the last line ends in CRLF");
        for line in body.split("\r\n") {
            assert!(!line.contains(['\r', '\n']), "a bare CR or LF: {line:?}");
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            if line.starts_with(' ') {
                continuations += 1;
            }
        }
        assert!(continuations >= 10, "the description is folded over many lines");
        // Lines with multibyte characters are cut short of 75 octets rather than mid-character,
        // but never needlessly: each folded piece is at least 72 octets (75 minus a 4-octet char).
        let description_start = ics.find("DESCRIPTION:").unwrap();
        let folded = &ics[description_start..ics[description_start..].find("\r\nSTATUS").unwrap() + description_start];
        let pieces: Vec<&str> = folded.split("\r\n").collect();
        assert!(pieces[..pieces.len() - 1].iter().all(|p| p.len() >= 72));

        let expected = e.description.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n");
        assert_eq!(unfolded_lines(&ics, "DESCRIPTION:"), [format!("DESCRIPTION:{expected}")]);

        let unfolded = unfold(&ics);
        let cal = read_calendar(&unfolded).expect("parses");
        assert_eq!(val(&cal.components[1], "DESCRIPTION"), e.description);
    }

    #[test]
    fn text_values_escape_backslash_semicolon_comma_and_newlines() {
        assert_eq!(escape_text(r"C:\temp; a, b"), r"C:\\temp\; a\, b");
        assert_eq!(escape_text("one\ntwo\r\nthree\rfour"), r"one\ntwo\nthree\nfour");
        assert_eq!(escape_text("tab\tkept, bell\u{7} dropped"), "tab\tkept\\, bell dropped");

        let mut e = event("UTC", date(2026, 11, 30).at(9, 0, 0, 0), 60);
        e.summary = r"Maths; algebra, \o/".to_owned();
        e.description = "Line 1\r\nLine 2\nLine 3".to_owned();
        e.uid = "class-7@lectern".to_owned();
        let ics = calendar("Me, myself; and I", &[e]);
        assert!(ics.contains("\r\nSUMMARY:Maths\\; algebra\\, \\\\o/\r\n"), "{ics}");
        assert!(ics.contains("\r\nDESCRIPTION:Line 1\\nLine 2\\nLine 3\r\n"), "{ics}");
        assert!(ics.contains("\r\nX-WR-CALNAME:Me\\, myself\\; and I\r\n"), "{ics}");

        let unfolded = unfold(&ics);
        let cal = read_calendar(&unfolded).expect("parses");
        let vevent = cal.components.iter().find(|c| c.name == "VEVENT").unwrap();
        assert_eq!(val(vevent, "SUMMARY"), r"Maths; algebra, \o/");
        assert_eq!(val(vevent, "DESCRIPTION"), "Line 1\nLine 2\nLine 3");
    }

    #[test]
    fn zones_without_dst_get_a_single_standard_observance() {
        let mut kolkata = event("Asia/Kolkata", date(2026, 11, 30).at(19, 0, 0, 0), 45);
        kolkata.uid = "class-1@lectern".to_owned();
        kolkata.rrule = Some("FREQ=DAILY;COUNT=5".to_owned());
        let mut utc = event("UTC", date(2026, 11, 30).at(23, 30, 0, 0), 60);
        utc.uid = "class-2@lectern".to_owned();
        let ics = calendar("No DST", &[kolkata, utc]);

        let unfolded = unfold(&ics);
        let cal = read_calendar(&unfolded).expect("parses");
        let names: Vec<&str> = cal.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["VTIMEZONE", "VTIMEZONE", "VEVENT", "VEVENT"]);
        assert_eq!(val(&cal.components[0], "TZID"), "Asia/Kolkata");
        assert_eq!(observance_rows(&cal.components[0]), [row("STANDARD", "19700101T000000", "+0530", "+0530", "IST")]);
        assert_eq!(val(&cal.components[1], "TZID"), "UTC");
        assert_eq!(observance_rows(&cal.components[1]), [row("STANDARD", "19700101T000000", "+0000", "+0000", "UTC")]);

        let (kolkata, utc) = (&cal.components[2], &cal.components[3]);
        assert_eq!(param(prop(kolkata, "DTSTART"), "TZID"), Some("Asia/Kolkata"));
        assert_eq!(val(kolkata, "DTSTART"), "20261130T190000");
        assert_eq!(val(kolkata, "DTEND"), "20261130T194500");
        assert_eq!(param(prop(utc, "DTSTART"), "TZID"), Some("UTC"));
        assert_eq!(val(utc, "DTSTART"), "20261130T233000");
        // Crosses midnight.
        assert_eq!(val(utc, "DTEND"), "20261201T003000");
    }

    #[test]
    fn unknown_zone_falls_back_to_utc() {
        let mut e = event("Mars/Olympus_Mons", date(2026, 11, 30).at(9, 0, 0, 0), 90);
        e.rrule = Some("FREQ=WEEKLY;COUNT=4".to_owned());
        e.exdates_local = vec![date(2026, 12, 7).at(9, 0, 0, 0)];
        e.overrides = vec![IcalOverride {
            recurrence_id_local: date(2026, 12, 14).at(9, 0, 0, 0),
            start_local: date(2026, 12, 15).at(10, 0, 0, 0),
            duration_minutes: 30,
        }];
        let mut empty = event("", date(2026, 12, 1).at(12, 0, 0, 0), 60);
        empty.uid = "class-43@lectern".to_owned();
        let ics = calendar("Fallback", &[e, empty]);

        assert!(!ics.contains("VTIMEZONE") && !ics.contains("TZID"), "{ics}");
        assert_eq!(
            unfolded_lines(&ics, "DTSTART"),
            ["DTSTART:20261130T090000Z", "DTSTART:20261215T100000Z", "DTSTART:20261201T120000Z"]
        );
        assert_eq!(
            unfolded_lines(&ics, "DTEND"),
            ["DTEND:20261130T103000Z", "DTEND:20261215T103000Z", "DTEND:20261201T130000Z"]
        );
        assert_eq!(unfolded_lines(&ics, "EXDATE"), ["EXDATE:20261207T090000Z"]);
        assert_eq!(unfolded_lines(&ics, "RECURRENCE-ID"), ["RECURRENCE-ID:20261214T090000Z"]);
        let unfolded = unfold(&ics);
        assert_eq!(read_calendar(&unfolded).expect("parses").components.len(), 3);
    }

    #[test]
    fn dtend_across_dst_changes() {
        let berlin = |start: DateTime, minutes: i64| {
            let ics = calendar("DST", &[event("Europe/Berlin", start, minutes)]);
            let mut lines = unfolded_lines(&ics, "DTEND");
            assert_eq!(lines.len(), 1, "{ics}");
            lines.remove(0)
        };

        // Clocks go back at 2026-10-25T01:00Z (03:00 CEST becomes 02:00 CET). A class at 01:30
        // CEST (+02:00) is 2026-10-24T23:30Z; 120 minutes later is 01:30Z, which is 02:30 CET.
        // But 02:30 happens twice that night (00:30Z in CEST, then 01:30Z in CET) and RFC 5545
        // reads `DTEND;TZID=Europe/Berlin:20261025T023000` as the first one, a one-hour class.
        // So this end is written in UTC, which says exactly 120 minutes.
        assert_eq!(berlin(date(2026, 10, 25).at(1, 30, 0, 0), 120), "DTEND:20261025T013000Z");
        // Ending at the first 02:30 (60 minutes, still CEST) is what the local time means anyway.
        assert_eq!(berlin(date(2026, 10, 25).at(1, 30, 0, 0), 60), "DTEND;TZID=Europe/Berlin:20261025T023000");
        // 01:00 CEST + 180 minutes = 02:00Z = 03:00 CET: three hours though the wall clock moved
        // two, and 03:00 is unambiguous, so it stays local.
        assert_eq!(berlin(date(2026, 10, 25).at(1, 0, 0, 0), 180), "DTEND;TZID=Europe/Berlin:20261025T030000");
        // Clocks go forward at 2026-03-29T01:00Z (02:00 CET becomes 03:00 CEST): 01:30 CET is
        // 00:30Z, an hour later is 01:30Z = 03:30 CEST.
        assert_eq!(berlin(date(2026, 3, 29).at(1, 30, 0, 0), 60), "DTEND;TZID=Europe/Berlin:20260329T033000");
        // No DTEND for an event without a duration (it then ends when it starts).
        let ics = calendar("DST", &[event("Europe/Berlin", date(2026, 3, 29).at(1, 30, 0, 0), 0)]);
        assert!(unfolded_lines(&ics, "DTEND").is_empty());
    }

    #[test]
    fn vtimezone_covers_the_whole_series_and_every_zone_once() {
        let mut until = event("europe/berlin", date(2026, 11, 30).at(9, 0, 0, 0), 60);
        until.rrule = Some("RRULE:FREQ=WEEKLY;UNTIL=20301230T080000Z".to_owned());
        let mut other = event("America/New_York", date(2026, 6, 1).at(18, 0, 0, 0), 60);
        other.uid = "class-43@lectern".to_owned();
        let mut single = event("Europe/Berlin", date(2026, 6, 1).at(9, 0, 0, 0), 60);
        single.uid = "class-44@lectern".to_owned();
        let ics = calendar("Span", &[until, other, single]);

        let unfolded = unfold(&ics);
        let cal = read_calendar(&unfolded).expect("parses");
        let zones: Vec<&str> =
            cal.components.iter().filter(|c| c.name == "VTIMEZONE").map(|c| val(c, "TZID")).collect();
        assert_eq!(zones, ["America/New_York", "Europe/Berlin"]);
        assert_eq!(val(&cal.components[2], "RRULE"), "FREQ=WEEKLY;UNTIL=20301230T080000Z");

        let berlin = observance_rows(&cal.components[1]);
        // From the one in effect on 2025-06-01 (a year before the earliest class)...
        assert_eq!(berlin[0], row("DAYLIGHT", "20250330T020000", "+0100", "+0200", "CEST"));
        // ...to the last one before 2032-12-30 (two years after UNTIL).
        assert_eq!(berlin.last().unwrap(), &row("STANDARD", "20321031T030000", "+0200", "+0100", "CET"));
        // The one in effect, 2025-10-26, then two a year from 2026 to 2032.
        assert_eq!(berlin.len(), 2 + 2 * 7);

        // A single class on 2026-06-01: from the transition in effect on 2025-06-01 to the last one
        // before 2028-06-01.
        let new_york = observance_rows(&cal.components[0]);
        assert_eq!(new_york[0], row("DAYLIGHT", "20250309T020000", "-0500", "-0400", "EDT"));
        assert_eq!(new_york.last().unwrap(), &row("DAYLIGHT", "20280312T020000", "-0500", "-0400", "EDT"));
        assert_eq!(
            unfolded_lines(&ics, "DTSTART;TZID=America/New_York:"),
            ["DTSTART;TZID=America/New_York:20260601T180000"]
        );
    }
}
