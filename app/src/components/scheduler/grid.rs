//! The calendar's arithmetic, free of the DOM: which days a view shows, and how overlapping
//! events share a day column. Unit-tested on the host.

use jiff::civil::{Date, Weekday};
use lectern_model::schedule::CalendarEvent;

/// The four views of the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Month,
    Week,
    Day,
    Agenda,
}

impl View {
    pub fn parse(s: &str) -> View {
        match s {
            "month" => View::Month,
            "day" => View::Day,
            "agenda" => View::Agenda,
            _ => View::Week,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            View::Month => "month",
            View::Week => "week",
            View::Day => "day",
            View::Agenda => "agenda",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            View::Month => "Month",
            View::Week => "Week",
            View::Day => "Day",
            View::Agenda => "Agenda",
        }
    }
}

/// How many days the agenda lists.
pub const AGENDA_DAYS: i32 = 30;
/// Drags and keyboard moves snap to this many minutes.
pub const SNAP_MINUTES: i32 = 15;

pub fn monday_of(date: Date) -> Date {
    let back = date.weekday().to_monday_zero_offset() as i32;
    date.checked_sub(jiff::Span::new().days(back)).unwrap_or(date)
}

pub fn add_days(date: Date, days: i32) -> Date {
    date.checked_add(jiff::Span::new().days(days)).unwrap_or(date)
}

pub fn add_months(date: Date, months: i32) -> Date {
    date.checked_add(jiff::Span::new().months(months)).unwrap_or(date)
}

/// The local dates `[first, last]` a view shows around `focus`.
pub fn visible_days(view: View, focus: Date) -> Vec<Date> {
    let (first, count) = match view {
        View::Day => (focus, 1),
        View::Week => (monday_of(focus), 7),
        // Whole weeks from the Monday on or before the 1st: five or six rows.
        View::Month => {
            let first_of_month = focus.first_of_month();
            let start = monday_of(first_of_month);
            let end = monday_of(first_of_month.last_of_month());
            let weeks = (start.until(end).map(|s| s.get_days()).unwrap_or(28) / 7) + 1;
            (start, weeks * 7)
        }
        View::Agenda => (focus, AGENDA_DAYS),
    };
    (0..count).map(|i| add_days(first, i)).collect()
}

/// Where "previous" and "next" go from `focus`.
pub fn step(view: View, focus: Date, forward: bool) -> Date {
    let sign = if forward { 1 } else { -1 };
    match view {
        View::Day => add_days(focus, sign),
        View::Week => add_days(focus, 7 * sign),
        View::Month => add_months(focus.first_of_month(), sign),
        View::Agenda => add_days(focus, AGENDA_DAYS * sign),
    }
}

/// "November 2026", "23 – 29 November 2026", "Wednesday 25 November 2026".
pub fn title(view: View, focus: Date) -> String {
    match view {
        View::Month => focus.strftime("%B %Y").to_string(),
        View::Day => focus.strftime("%A %-d %B %Y").to_string(),
        View::Week | View::Agenda => {
            let days = visible_days(view, focus);
            let (first, last) = (days[0], days[days.len() - 1]);
            if first.month() == last.month() {
                format!("{} – {}", first.strftime("%-d"), last.strftime("%-d %B %Y"))
            } else {
                format!("{} – {}", first.strftime("%-d %b"), last.strftime("%-d %b %Y"))
            }
        }
    }
}

pub fn weekday_short(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// An event's place in a day column: minutes from midnight and its share of the width.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub index: usize,
    pub top_minute: u32,
    pub end_minute: u32,
    /// Which of `columns` side-by-side columns it occupies.
    pub column: usize,
    pub columns: usize,
}

/// Lay out the events of one day: events that overlap in time share the width side by side,
/// each in the leftmost free column; a group of transitively overlapping events uses the same
/// column count (as FullCalendar does). Events running past midnight are clipped to the day.
pub fn layout_day(events: &[(usize, u32, u32)]) -> Vec<Placed> {
    let mut sorted: Vec<(usize, u32, u32)> = events.to_vec();
    sorted.sort_by_key(|&(i, start, end)| (start, std::cmp::Reverse(end), i));
    let mut placed: Vec<Placed> = Vec::with_capacity(sorted.len());
    let mut group_start = 0;
    let mut group_end = 0u32;
    let mut column_ends: Vec<u32> = Vec::new();
    for (index, start, end) in sorted {
        let end = end.max(start + 1);
        if placed.len() > group_start && start >= group_end {
            // The previous group is closed: fix its column count.
            let columns = column_ends.len();
            for p in &mut placed[group_start..] {
                p.columns = columns;
            }
            group_start = placed.len();
            column_ends.clear();
        }
        let column = match column_ends.iter().position(|&e| e <= start) {
            Some(c) => {
                column_ends[c] = end;
                c
            }
            None => {
                column_ends.push(end);
                column_ends.len() - 1
            }
        };
        group_end = if placed.len() == group_start { end } else { group_end.max(end) };
        placed.push(Placed { index, top_minute: start, end_minute: end, column, columns: 0 });
    }
    let columns = column_ends.len().max(1);
    for p in &mut placed[group_start..] {
        p.columns = columns;
    }
    placed
}

/// The part of an event inside `day`, in minutes from that day's midnight.
pub fn minutes_on(event: &CalendarEvent, day: &str) -> Option<(u32, u32)> {
    let starts_before = event.start.date.as_str() < day;
    let ends_after = event.end.date.as_str() > day;
    if event.start.date.as_str() > day
        || event.end.date.as_str() < day
        || (event.end.date == day && event.end.minute == 0 && starts_before)
    {
        return None;
    }
    let top = if starts_before { 0 } else { event.start.minute };
    let bottom = if ends_after { 24 * 60 } else { event.end.minute };
    Some((top, bottom.max(top + 1)))
}

/// Snap minutes to the grid.
pub fn snap(minutes: i32) -> i32 {
    ((minutes as f64 / SNAP_MINUTES as f64).round() as i32) * SNAP_MINUTES
}

/// `YYYY-MM-DDTHH:MM` for a date and minutes from its midnight (which may spill into the next
/// or previous day).
pub fn local_string(date: Date, minutes: i32) -> String {
    let day_offset = minutes.div_euclid(24 * 60);
    let minute = minutes.rem_euclid(24 * 60);
    let date = add_days(date, day_offset);
    format!("{}T{:02}:{:02}", date, minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn views_show_whole_weeks_from_monday() {
        let wed = date(2026, 11, 25);
        let week = visible_days(View::Week, wed);
        assert_eq!((week[0], week[6]), (date(2026, 11, 23), date(2026, 11, 29)));
        let month = visible_days(View::Month, wed);
        assert_eq!(month[0], date(2026, 10, 26), "November 2026 starts on a Sunday");
        assert_eq!(month.len(), 42);
        assert_eq!(month[41], date(2026, 12, 6));
        // February 2027 starts on a Monday and has four whole weeks... plus none spilling over.
        assert_eq!(visible_days(View::Month, date(2027, 2, 10)).len(), 28);
        assert_eq!(visible_days(View::Day, wed), vec![wed]);
        assert_eq!(visible_days(View::Agenda, wed).len(), AGENDA_DAYS as usize);
    }

    #[test]
    fn stepping_and_titles() {
        let wed = date(2026, 11, 25);
        assert_eq!(step(View::Month, date(2026, 1, 31), true), date(2026, 2, 1));
        assert_eq!(step(View::Week, wed, false), date(2026, 11, 18));
        assert_eq!(step(View::Day, wed, true), date(2026, 11, 26));
        assert_eq!(title(View::Month, wed), "November 2026");
        assert_eq!(title(View::Week, wed), "23 – 29 November 2026");
        assert_eq!(title(View::Week, date(2026, 12, 30)), "28 Dec – 3 Jan 2027");
        assert_eq!(title(View::Day, wed), "Wednesday 25 November 2026");
    }

    #[test]
    fn overlapping_events_share_the_width() {
        // a 9-10, b 9:30-11, c 10-10:30 (reuses a's column), d 12-13 alone.
        let placed = layout_day(&[(0, 540, 600), (1, 570, 660), (2, 600, 630), (3, 720, 780)]);
        let by = |i: usize| placed.iter().find(|p| p.index == i).unwrap().clone();
        assert_eq!((by(0).column, by(0).columns), (0, 2));
        assert_eq!((by(1).column, by(1).columns), (1, 2));
        assert_eq!((by(2).column, by(2).columns), (0, 2));
        assert_eq!((by(3).column, by(3).columns), (0, 1));
        // Three at once get three columns.
        let three = layout_day(&[(0, 60, 120), (1, 60, 120), (2, 90, 100)]);
        assert!(three.iter().all(|p| p.columns == 3));
        let mut columns: Vec<usize> = three.iter().map(|p| p.column).collect();
        columns.sort();
        assert_eq!(columns, vec![0, 1, 2]);
    }

    #[test]
    fn local_strings_spill_across_midnight_and_snap() {
        assert_eq!(local_string(date(2026, 11, 25), 9 * 60 + 30), "2026-11-25T09:30");
        assert_eq!(local_string(date(2026, 11, 25), 24 * 60 + 15), "2026-11-26T00:15");
        assert_eq!(local_string(date(2026, 11, 25), -30), "2026-11-24T23:30");
        assert_eq!(snap(22), 15);
        assert_eq!(snap(23), 30);
        assert_eq!(snap(-8), -15);
    }
}
