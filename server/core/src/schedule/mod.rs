pub mod ical;
pub mod recurrence;
