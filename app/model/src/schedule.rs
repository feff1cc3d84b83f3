use serde::{Deserialize, Serialize};

/// One occurrence of a class on someone's dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpcomingClass {
    pub class_id: i64,
    pub occurrence_id: i64,
    pub title: String,
    pub teacher_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Start and end in the viewer's time zone, ready to show ("Mon 30 Nov, 09:00–10:00").
    pub when: String,
    /// Whether it is in progress now.
    pub live_now: bool,
}

/// A day of the week, as recurrence rules name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    /// The RFC 5545 two-letter code (`MO`, `TU`, ...).
    pub fn ical(self) -> &'static str {
        match self {
            Weekday::Mon => "MO",
            Weekday::Tue => "TU",
            Weekday::Wed => "WE",
            Weekday::Thu => "TH",
            Weekday::Fri => "FR",
            Weekday::Sat => "SA",
            Weekday::Sun => "SU",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Weekday::Mon => "Mon",
            Weekday::Tue => "Tue",
            Weekday::Wed => "Wed",
            Weekday::Thu => "Thu",
            Weekday::Fri => "Fri",
            Weekday::Sat => "Sat",
            Weekday::Sun => "Sun",
        }
    }

    /// 0 for Monday through 6 for Sunday.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

/// How a monthly series picks its day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthlyBy {
    /// The start's day of the month (the 15th). Months without that day are skipped, as RFC 5545 says.
    DayOfMonth,
    /// The nth weekday of the month, with the start's weekday: 1..=5, or -1 for the last.
    NthWeekday(i8),
}

/// When a series stops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrenceEnd {
    /// After this many occurrences.
    Count(u32),
    /// On this local date, inclusive (`YYYY-MM-DD` in the class's time zone).
    Until(String),
}

/// A repeating schedule with RFC 5545 RRULE semantics, anchored at a class's local start time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub frequency: Frequency,
    /// Every `interval` days, weeks or months (1 = every).
    pub interval: u32,
    /// Weekly only: the days it repeats on; empty means the start's weekday.
    pub weekdays: Vec<Weekday>,
    /// Monthly only.
    pub monthly_by: MonthlyBy,
    pub end: RecurrenceEnd,
}

/// Whether a class is taught live or published as a recorded lecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassKind {
    Live,
    Recorded,
}

impl ClassKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClassKind::Live => "live",
            ClassKind::Recorded => "recorded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(ClassKind::Live),
            "recorded" => Some(ClassKind::Recorded),
            _ => None,
        }
    }
}

/// Who may enrol: anyone, holders of the invite link, or only people the teacher adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentPolicy {
    Open,
    Invite,
    Closed,
}

impl EnrolmentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentPolicy::Open => "open",
            EnrolmentPolicy::Invite => "invite",
            EnrolmentPolicy::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(EnrolmentPolicy::Open),
            "invite" => Some(EnrolmentPolicy::Invite),
            "closed" => Some(EnrolmentPolicy::Closed),
            _ => None,
        }
    }
}

/// What a teacher submits to schedule a class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassForm {
    pub title: String,
    pub description: String,
    pub kind: ClassKind,
    /// IANA zone the class is held in; recurrence keeps its wall-clock time there.
    pub time_zone: String,
    /// Local start of the first occurrence, `YYYY-MM-DDTHH:MM`.
    pub start_local: String,
    pub duration_minutes: i64,
    pub capacity: Option<i64>,
    pub enrolment: EnrolmentPolicy,
    /// `None` for a one-off class.
    pub recurrence: Option<Recurrence>,
}

/// A place on the calendar in the viewer's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalSlot {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Minutes since local midnight.
    pub minute: u32,
}

/// One occurrence on the scheduler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEvent {
    pub occurrence_id: i64,
    pub class_id: i64,
    pub title: String,
    pub teacher_name: String,
    pub kind: ClassKind,
    pub start: LocalSlot,
    pub end: LocalSlot,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Part of a repeating series.
    pub in_series: bool,
    pub cancelled: bool,
    /// The viewer may move, resize or cancel it.
    pub editable: bool,
}

/// An occurrence on a class page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceView {
    pub id: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    /// In the viewer's time zone.
    pub when: String,
    pub cancelled: bool,
    /// Its local start in the class's time zone (`YYYY-MM-DDTHH:MM`), to re-plan from it.
    pub class_local_start: String,
    /// For a member of a series: how many occurrences of the series remain from this one on.
    pub remaining_in_series: Option<u32>,
}

/// Someone enrolled in a class, as its teachers see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterMember {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    /// A co-teacher rather than a student: teaches alongside in the live room.
    pub co_teacher: bool,
}

/// Everything the class page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassDetails {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub kind: ClassKind,
    pub time_zone: String,
    pub teacher_name: String,
    pub capacity: Option<i64>,
    pub enrolled_count: i64,
    pub enrolment: EnrolmentPolicy,
    pub cancelled: bool,
    /// "Weekly on Mon and Wed, 10 times", for series.
    pub schedule_text: Option<String>,
    /// The current series' rule, to prefill "this and following".
    pub recurrence: Option<Recurrence>,
    pub next: Vec<OccurrenceView>,
    /// The viewer teaches this class (or is an admin).
    pub is_teacher: bool,
    pub is_enrolled: bool,
    /// The viewer may enrol now (open class, or they came with the invite).
    pub can_enrol: bool,
    /// Teachers only.
    pub invite_path: Option<String>,
    pub roster: Option<Vec<RosterMember>>,
    /// The occurrence whose live room is open now (10 minutes before its start until its end).
    pub join_occurrence: Option<i64>,
    /// Server time when this was read, so the page can open the Join button on time.
    pub now: i64,
    /// How long before a start the room opens, in milliseconds.
    pub join_lead_ms: i64,
}
