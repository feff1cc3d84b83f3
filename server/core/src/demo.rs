//! `lectern demo`: fill an empty install with people and a week of classes, one starting now,
//! so a newcomer sees a working product at once.

use crate::accounts;
use crate::classes::{self, ClassError};
use crate::state::AppState;
use crate::store::users::{InitialRole, NewUser};
use lectern_model::Role;
use lectern_model::schedule::{
    ClassForm, ClassKind, EnrolmentPolicy, Frequency, MonthlyBy, Recurrence, RecurrenceEnd, Weekday,
};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the install already has accounts; the demo only fills an empty one")]
    NotEmpty,
    #[error("{0}")]
    Failed(String),
}

/// Who the demo created, with the shared password (random for each install).
#[derive(Debug)]
pub struct DemoLogins {
    pub password: String,
    pub admin: String,
    pub teacher: String,
    pub students: Vec<String>,
    pub classes: Vec<String>,
}

fn failed(e: impl std::fmt::Display) -> DemoError {
    DemoError::Failed(e.to_string())
}

/// A password people can type: four short words from the OS random source.
fn readable_password() -> String {
    const WORDS: [&str; 32] = [
        "amber", "birch", "cedar", "delta", "ember", "fable", "glade", "harbor", "iris", "juniper", "kite", "lumen",
        "maple", "nectar", "orbit", "pixel", "quartz", "raven", "sierra", "tundra", "umber", "velvet", "willow",
        "xenon", "yonder", "zephyr", "atlas", "beacon", "comet", "dune", "echo", "fjord",
    ];
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| WORDS[(*b as usize) % WORDS.len()]).collect::<Vec<_>>().join("-")
}

pub async fn fill(state: &AppState, time_zone: &str, now: i64) -> Result<DemoLogins, DemoError> {
    if state.store.count_users().await.map_err(failed)? > 0 {
        return Err(DemoError::NotEmpty);
    }
    let zone = accounts::time_zone(time_zone).map_err(|e| DemoError::Failed(e.message))?;
    let password = readable_password();
    let hash = crate::auth::password::hash(password.clone()).await.map_err(failed)?;
    let mut ids = Vec::new();
    let people = [
        ("admin", "Avery Admin", Role::Admin),
        ("teacher", "Rosa Rivera", Role::Teacher),
        ("student1", "Sam Okafor", Role::Student),
        ("student2", "Mei Chen", Role::Student),
        ("student3", "Lukas Becker", Role::Student),
        ("student4", "Priya Nair", Role::Student),
        ("student5", "Diego Santos", Role::Student),
    ];
    for (username, name, role) in people {
        let user = NewUser {
            username: username.into(),
            email: format!("{username}@demo.lectern.invalid"),
            display_name: name.into(),
            password_hash: Some(hash.clone()),
            phone: None,
            time_zone: zone.clone(),
            role: InitialRole::Exactly(role),
        };
        ids.push(state.store.insert_user(&user, now).await.map_err(failed)?.id);
    }

    let teacher_record =
        state.store.user_by_id(ids[1]).await.map_err(failed)?.ok_or_else(|| failed("teacher missing"))?;
    let teacher = crate::auth::Authenticated { user: teacher_record, session_id: 0 };
    let capability = teacher.require_teacher().map_err(failed)?;

    let tz = jiff::tz::TimeZone::get(&zone).map_err(failed)?;
    let local_now = jiff::Timestamp::from_millisecond(now).map_err(failed)?.to_zoned_datetime(tz).datetime();
    // The class "starting now" began five minutes ago, on a five-minute boundary.
    let started = local_now.checked_sub(jiff::Span::new().minutes(5)).map_err(failed)?;
    let started = started
        .with()
        .minute(started.minute() - started.minute() % 5)
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .map_err(failed)?;
    let monday = crate::classes::monday_of(local_now.date());
    let fmt = |d: jiff::civil::DateTime| d.strftime("%Y-%m-%dT%H:%M").to_string();
    let at = |date: jiff::civil::Date, hour: i8| fmt(date.to_datetime(jiff::civil::time(hour, 0, 0, 0)));
    let weekly = |days: Vec<Weekday>, count: u32| Recurrence {
        frequency: Frequency::Weekly,
        interval: 1,
        weekdays: days,
        monthly_by: MonthlyBy::DayOfMonth,
        end: RecurrenceEnd::Count(count),
    };
    let form = |title: &str,
                description: &str,
                kind: ClassKind,
                start: String,
                minutes: i64,
                recurrence: Option<Recurrence>| ClassForm {
        title: title.into(),
        description: description.into(),
        kind,
        time_zone: zone.clone(),
        start_local: start,
        duration_minutes: minutes,
        capacity: Some(30),
        enrolment: EnrolmentPolicy::Open,
        recurrence,
    };
    let plans = vec![
        form(
            "Physics Lab: Pendulums",
            "Bring a stopwatch. We measure g with a string and a bolt.",
            ClassKind::Live,
            fmt(started),
            60,
            None,
        ),
        form(
            "Algebra I",
            "Linear equations, graphs and systems. Homework is set after each class.",
            ClassKind::Live,
            at(monday, 9),
            50,
            Some(weekly(vec![Weekday::Mon, Weekday::Wed, Weekday::Fri], 18)),
        ),
        form(
            "World History",
            "From the Silk Road to the printing press.",
            ClassKind::Live,
            at(monday.tomorrow().map_err(failed)?, 13),
            75,
            Some(weekly(vec![Weekday::Tue, Weekday::Thu], 12)),
        ),
        form(
            "Introduction to Chemistry (recorded)",
            "A recorded lecture to watch before Thursday.",
            ClassKind::Recorded,
            at(local_now.date().tomorrow().map_err(failed)?, 16),
            45,
            None,
        ),
    ];
    let mut titles = Vec::new();
    for plan in plans {
        // Shift a class by whole hours until it fits around the one starting now.
        let mut plan = plan;
        let mut created = None;
        for _ in 0..6 {
            match classes::create_class(state, capability, &plan, now).await {
                Ok(id) => {
                    created = Some(id);
                    break;
                }
                Err(ClassError::Conflict(_)) => {
                    let start = classes::parse_local(&plan.start_local).ok_or_else(|| failed("bad demo start"))?;
                    plan.start_local = fmt(start.checked_add(jiff::Span::new().hours(2)).map_err(failed)?);
                }
                Err(e) => return Err(failed(e)),
            }
        }
        let class_id = created.ok_or_else(|| failed(format!("could not fit {} into the week", plan.title)))?;
        for student in &ids[2..] {
            state.store.enrol(class_id, *student, now).await.map_err(failed)?;
        }
        titles.push(plan.title);
    }
    Ok(DemoLogins {
        password,
        admin: "admin".into(),
        teacher: "teacher".into(),
        students: (1..=5).map(|i| format!("student{i}")).collect(),
        classes: titles,
    })
}
