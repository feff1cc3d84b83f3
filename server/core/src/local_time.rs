//! Showing stored UTC instants in a viewer's time zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// "Mon 30 Nov, 09:00–10:00" in `zone` (or with both dates when it spans midnight). Falls back to
/// UTC for a zone the database does not know.
pub fn format_span(starts_at_ms: i64, ends_at_ms: i64, zone: &str) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let (Ok(start), Ok(end)) = (Timestamp::from_millisecond(starts_at_ms), Timestamp::from_millisecond(ends_at_ms))
    else {
        return String::new();
    };
    let (start, end) = (start.to_zoned_datetime(tz.clone()), end.to_zoned_datetime(tz));
    if start.date() == end.date() {
        format!("{}–{}", start.strftime("%a %-d %b, %H:%M"), end.strftime("%H:%M"))
    } else {
        format!("{} – {}", start.strftime("%a %-d %b, %H:%M"), end.strftime("%a %-d %b, %H:%M"))
    }
}

/// Today's date in `zone` (UTC for an unknown zone), as `YYYY-MM-DD`.
pub fn today(zone: &str) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    Timestamp::now().to_zoned_datetime(tz).date().to_string()
}

#[cfg(test)]
mod tests {
    use super::format_span;

    #[test]
    fn spans_are_shown_in_the_viewers_zone() {
        // 2026-11-30T08:00Z, an hour long.
        let start = 1_796_025_600_000;
        let hour = 3_600_000;
        assert_eq!(format_span(start, start + hour, "UTC"), "Mon 30 Nov, 08:00–09:00");
        assert_eq!(format_span(start, start + hour, "Europe/Berlin"), "Mon 30 Nov, 09:00–10:00");
        assert_eq!(format_span(start, start + hour, "America/Los_Angeles"), "Mon 30 Nov, 00:00–01:00");
        assert_eq!(format_span(start, start + hour, "Asia/Kolkata"), "Mon 30 Nov, 13:30–14:30");
        assert_eq!(format_span(start, start + hour, "Nowhere/Land"), "Mon 30 Nov, 08:00–09:00");
        assert_eq!(format_span(start - hour, start + hour, "America/New_York"), "Mon 30 Nov, 02:00–04:00");
        assert_eq!(format_span(start + 15 * hour, start + 17 * hour, "UTC"), "Mon 30 Nov, 23:00 – Tue 1 Dec, 01:00");
    }
}
