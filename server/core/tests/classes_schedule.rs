//! Classes, the schedule and enrolment, against SQLite and PostgreSQL by the same code.

use icalendar::parser::{read_calendar, unfold};
use lectern_core::auth::Authenticated;
use lectern_core::classes::{self, ClassError};
use lectern_core::on_both_databases;
use lectern_core::store::users::{InitialRole, NewUser};
use lectern_core::testing::TestDb;
use lectern_model::Role;
use lectern_model::schedule::{
    ClassForm, ClassKind, EnrolmentPolicy, Frequency, MonthlyBy, Recurrence, RecurrenceEnd, Weekday,
};

/// 2026-03-01T00:00Z: tests are independent of the real clock.
const NOW: i64 = 1_772_323_200_000;
const HOUR: i64 = 3_600_000;

async fn person(db: &TestDb, username: &str, role: Role, zone: &str) -> Authenticated {
    let user = db
        .store()
        .insert_user(
            &NewUser {
                username: username.into(),
                email: format!("{username}@example.org"),
                display_name: username.into(),
                password_hash: None,
                phone: None,
                time_zone: zone.into(),
                role: InitialRole::Exactly(role),
            },
            NOW,
        )
        .await
        .unwrap();
    Authenticated { user, session_id: 0 }
}

fn weekly(days: Vec<Weekday>, count: u32) -> Recurrence {
    Recurrence {
        frequency: Frequency::Weekly,
        interval: 1,
        weekdays: days,
        monthly_by: MonthlyBy::DayOfMonth,
        end: RecurrenceEnd::Count(count),
    }
}

fn form(title: &str, start: &str, minutes: i64, recurrence: Option<Recurrence>) -> ClassForm {
    ClassForm {
        title: title.into(),
        description: String::new(),
        kind: ClassKind::Live,
        time_zone: "Europe/Berlin".into(),
        start_local: start.into(),
        duration_minutes: minutes,
        capacity: None,
        enrolment: EnrolmentPolicy::Open,
        recurrence,
    }
}

async fn count(db: &TestDb, table: &str) -> i64 {
    use lectern_core::store::Store;
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    match db.store() {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn a_weekly_series_keeps_its_local_time_across_dst(db: &TestDb) {
    let teacher = person(db, "rosa", Role::Teacher, "Europe/Berlin").await;
    // Mondays 09:00 Berlin from 16 March 2026; clocks go forward on 29 March.
    let id = classes::create_class(
        &db.state,
        teacher.require_teacher().unwrap(),
        &form("Algebra", "2026-03-16T09:00", 60, Some(weekly(vec![Weekday::Mon], 4))),
        NOW,
    )
    .await
    .unwrap();
    let occurrences = db.store().class_occurrences(id, i64::MIN, 100).await.unwrap();
    let starts: Vec<i64> = occurrences.iter().map(|o| o.starts_at).collect();
    // 08:00Z (CET) twice, then 07:00Z (CEST) twice.
    let monday_16 = 1_773_648_000_000; // 2026-03-16T08:00Z
    let week = 7 * 24 * HOUR;
    assert_eq!(starts, vec![monday_16, monday_16 + week, monday_16 + 2 * week - HOUR, monday_16 + 3 * week - HOUR]);
    assert!(occurrences.iter().all(|o| o.ends_at - o.starts_at == HOUR && o.original_start_at == Some(o.starts_at)));
    // The viewer in New York sees them in their own zone, on the calendar's local slots.
    let viewer = person(db, "ny", Role::Admin, "America/New_York").await;
    let events = classes::calendar(&db.state, &viewer, "2026-03-01", "2026-04-12", None).await.unwrap();
    let local: Vec<(String, u32)> = events.iter().map(|e| (e.start.date.clone(), e.start.minute)).collect();
    // Berlin 09:00 is 03:00 New York, except the week New York has moved and Berlin has not (04:00).
    assert_eq!(
        local,
        vec![
            ("2026-03-16".into(), 4 * 60),
            ("2026-03-23".into(), 4 * 60),
            ("2026-03-30".into(), 3 * 60),
            ("2026-04-06".into(), 3 * 60)
        ]
    );
}

async fn students_cannot_schedule_and_teachers_only_change_their_own(db: &TestDb) {
    let student = person(db, "sam", Role::Student, "UTC").await;
    let rosa = person(db, "rosa", Role::Teacher, "UTC").await;
    let theo = person(db, "theo", Role::Teacher, "UTC").await;
    let admin = person(db, "ada", Role::Admin, "UTC").await;
    assert!(student.require_teacher().is_err(), "a student holds no teacher capability");
    let id = classes::create_class(
        &db.state,
        rosa.require_teacher().unwrap(),
        &form("Algebra", "2026-03-02T09:00", 60, None),
        NOW,
    )
    .await
    .unwrap();
    let class = db.store().class_by_id(id).await.unwrap().unwrap();
    assert!(theo.teacher_of(&class).is_err());
    assert!(student.teacher_of(&class).is_err());
    assert!(rosa.teacher_of(&class).is_ok());
    assert!(admin.teacher_of(&class).is_ok(), "admins may change any class");
    let occurrence = db.store().class_occurrences(id, i64::MIN, 1).await.unwrap()[0].clone();
    for who in [&theo, &student] {
        let moved = classes::move_occurrence(&db.state, who, occurrence.id, "2026-03-03T09:00", 60, "UTC", NOW).await;
        assert!(matches!(moved, Err(ClassError::Forbidden(_))), "{moved:?}");
        let cancelled = classes::cancel_occurrence(&db.state, who, occurrence.id, NOW).await;
        assert!(matches!(cancelled, Err(ClassError::Forbidden(_))));
    }
    let unchanged = db.store().occurrence_by_id(occurrence.id).await.unwrap().unwrap();
    assert_eq!(unchanged, occurrence);
    // A student or another teacher cannot read the roster or the invite link.
    let page = classes::details(&db.state, &student, id, None, NOW).await.unwrap();
    assert!(page.roster.is_none() && page.invite_path.is_none() && !page.is_teacher);
    let page = classes::details(&db.state, &rosa, id, None, NOW).await.unwrap();
    assert!(page.roster.is_some() && page.invite_path.is_some() && page.is_teacher);
}

async fn overlapping_classes_of_one_teacher_are_refused_whole(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "Europe/Berlin").await;
    let theo = person(db, "theo", Role::Teacher, "Europe/Berlin").await;
    let teacher = rosa.require_teacher().unwrap();
    classes::create_class(
        &db.state,
        teacher,
        &form("Algebra", "2026-03-02T09:00", 60, Some(weekly(vec![Weekday::Mon], 10))),
        NOW,
    )
    .await
    .unwrap();
    let (classes_before, occurrences_before) = (count(db, "classes").await, count(db, "occurrences").await);
    // A daily series whose eighth day (a Monday) overlaps Algebra by half an hour.
    let clash =
        form("Reading", "2026-03-03T08:30", 60, Some(Recurrence { frequency: Frequency::Daily, ..weekly(vec![], 10) }));
    let err = classes::create_class(&db.state, teacher, &clash, NOW).await.unwrap_err();
    match &err {
        ClassError::Conflict(clashes) => {
            assert_eq!(clashes.len(), 1);
            assert_eq!(clashes[0].title, "Algebra");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let message = classes::describe_clash(
        match &err {
            ClassError::Conflict(c) => c,
            _ => unreachable!(),
        },
        "Europe/Berlin",
    );
    assert_eq!(message, "This overlaps your class \u{201c}Algebra\u{201d} on Mon 9 Mar, 09:00–10:00.");
    assert_eq!((count(db, "classes").await, count(db, "occurrences").await), (classes_before, occurrences_before));
    // Back to back is fine, and another teacher may teach at the same time.
    classes::create_class(&db.state, teacher, &form("Reading", "2026-03-02T10:00", 30, None), NOW).await.unwrap();
    classes::create_class(&db.state, theo.require_teacher().unwrap(), &form("Art", "2026-03-02T09:00", 60, None), NOW)
        .await
        .unwrap();
}

async fn capacity_holds_under_concurrent_enrolment(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "UTC").await;
    let mut capped = form("Seminar", "2026-03-02T09:00", 60, None);
    capped.capacity = Some(5);
    let id = classes::create_class(&db.state, rosa.require_teacher().unwrap(), &capped, NOW).await.unwrap();
    let mut students = Vec::new();
    for i in 0..20 {
        students.push(person(db, &format!("student{i}"), Role::Student, "UTC").await);
    }
    let mut tasks = Vec::new();
    for student in students {
        let state = db.state.clone();
        tasks.push(tokio::spawn(async move { classes::enrol(&state, &student, id, None, NOW).await }));
    }
    let mut enrolled = 0;
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => enrolled += 1,
            Err(ClassError::Full) => full += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((enrolled, full), (5, 15));
    assert_eq!(db.store().enrolled_count(id).await.unwrap(), 5);
}

async fn enrolment_follows_the_class_policy(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "UTC").await;
    let sam = person(db, "sam", Role::Student, "UTC").await;
    let teacher = rosa.require_teacher().unwrap();
    let mut invite_only = form("Invite", "2026-03-02T09:00", 60, None);
    invite_only.enrolment = EnrolmentPolicy::Invite;
    let invite_id = classes::create_class(&db.state, teacher, &invite_only, NOW).await.unwrap();
    let mut closed = form("Closed", "2026-03-02T11:00", 60, None);
    closed.enrolment = EnrolmentPolicy::Closed;
    let closed_id = classes::create_class(&db.state, teacher, &closed, NOW).await.unwrap();

    // Invite-only: hidden and refused without the token, open with it.
    assert!(matches!(classes::details(&db.state, &sam, invite_id, None, NOW).await, Err(ClassError::NotFound)));
    assert!(matches!(classes::enrol(&db.state, &sam, invite_id, None, NOW).await, Err(ClassError::EnrolmentClosed)));
    assert!(matches!(
        classes::enrol(&db.state, &sam, invite_id, Some("guess"), NOW).await,
        Err(ClassError::EnrolmentClosed)
    ));
    let token = db.store().class_by_id(invite_id).await.unwrap().unwrap().invite_token.unwrap();
    let page = classes::details(&db.state, &sam, invite_id, Some(&token), NOW).await.unwrap();
    assert!(page.can_enrol);
    classes::enrol(&db.state, &sam, invite_id, Some(&token), NOW).await.unwrap();
    assert!(classes::details(&db.state, &sam, invite_id, None, NOW).await.unwrap().is_enrolled);

    // Closed: only the teacher adds people, by username or email.
    assert!(matches!(classes::enrol(&db.state, &sam, closed_id, None, NOW).await, Err(ClassError::EnrolmentClosed)));
    let (class, _) = classes::class_for_teacher(&db.state, &rosa, closed_id).await.unwrap();
    classes::add_student(&db.state, rosa.teacher_of(&class).unwrap(), "SAM@example.org", NOW).await.unwrap();
    assert!(matches!(
        classes::add_student(&db.state, rosa.teacher_of(&class).unwrap(), "nobody", NOW).await,
        Err(ClassError::Invalid(_))
    ));
    assert_eq!(db.store().roster(closed_id).await.unwrap().len(), 1);
    classes::remove_student(&db.state, rosa.teacher_of(&class).unwrap(), sam.user.id).await.unwrap();
    assert!(db.store().roster(closed_id).await.unwrap().is_empty());

    // Co-teachers: teachers only, never the class's own teacher, and not counted as students.
    let cole = person(db, "cole", Role::Teacher, "UTC").await;
    let added = classes::add_co_teacher(&db.state, rosa.teacher_of(&class).unwrap(), "cole", NOW).await;
    assert!(added.is_ok(), "{added:?}");
    let student = classes::add_co_teacher(&db.state, rosa.teacher_of(&class).unwrap(), "sam", NOW).await;
    assert!(matches!(student, Err(ClassError::Invalid(ref e)) if e[0].message.contains("is a student")), "{student:?}");
    let herself = classes::add_co_teacher(&db.state, rosa.teacher_of(&class).unwrap(), "rosa", NOW).await;
    assert!(matches!(herself, Err(ClassError::Invalid(_))), "{herself:?}");
    let roster = db.store().roster(closed_id).await.unwrap();
    assert_eq!((roster.len(), roster[0].user_id, roster[0].role.as_str()), (1, cole.user.id, "co_teacher"));
    assert_eq!(db.store().enrolled_count(closed_id).await.unwrap(), 0, "a co-teacher takes no student's place");
    assert!(cole.teacher_of(&class).is_err(), "a co-teacher does not own the class");
    classes::remove_student(&db.state, rosa.teacher_of(&class).unwrap(), cole.user.id).await.unwrap();

    // A cancelled class takes no one.
    classes::cancel_class(&db.state, rosa.teacher_of(&class).unwrap(), NOW).await.unwrap();
    let mut open = form("Open", "2026-03-02T13:00", 60, None);
    open.enrolment = EnrolmentPolicy::Open;
    let (cancelled, _) = classes::class_for_teacher(&db.state, &rosa, closed_id).await.unwrap();
    assert!(cancelled.cancelled_at.is_some());
    assert!(matches!(classes::enrol(&db.state, &sam, closed_id, None, NOW).await, Err(ClassError::Cancelled)));
}

async fn one_occurrence_moves_or_cancels_without_touching_the_others(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "Europe/Berlin").await;
    let teacher = rosa.require_teacher().unwrap();
    let algebra = classes::create_class(
        &db.state,
        teacher,
        &form("Algebra", "2026-03-02T09:00", 60, Some(weekly(vec![Weekday::Mon], 4))),
        NOW,
    )
    .await
    .unwrap();
    classes::create_class(&db.state, teacher, &form("Lunch duty", "2026-03-10T12:00", 60, None), NOW).await.unwrap();
    let before = db.store().class_occurrences(algebra, i64::MIN, 10).await.unwrap();
    let second = &before[1];
    // Onto Tuesday 10 March at 12:30: clashes with lunch duty.
    let clash =
        classes::move_occurrence(&db.state, &rosa, second.id, "2026-03-10T12:30", 60, "Europe/Berlin", NOW).await;
    assert!(matches!(clash, Err(ClassError::Conflict(_))), "{clash:?}");
    // Onto Tuesday 10 March at 14:00 for 90 minutes.
    classes::move_occurrence(&db.state, &rosa, second.id, "2026-03-10T14:00", 90, "Europe/Berlin", NOW).await.unwrap();
    let after = db.store().class_occurrences(algebra, i64::MIN, 10).await.unwrap();
    let moved = after.iter().find(|o| o.id == second.id).unwrap();
    assert_eq!(moved.starts_at, 1_773_147_600_000); // 2026-03-10T13:00Z
    assert_eq!(moved.ends_at - moved.starts_at, 90 * 60_000);
    assert_eq!(moved.original_start_at, second.original_start_at, "it remembers which occurrence it was");
    for (a, b) in before.iter().zip(&after) {
        if a.id != second.id {
            assert_eq!(a, b);
        }
    }
    // Moving it back onto its own old slot does not clash with itself.
    classes::move_occurrence(&db.state, &rosa, second.id, "2026-03-09T09:00", 60, "Europe/Berlin", NOW).await.unwrap();
    classes::cancel_occurrence(&db.state, &rosa, before[2].id, NOW).await.unwrap();
    let events = classes::calendar(&db.state, &rosa, "2026-03-01", "2026-04-01", None).await.unwrap();
    let cancelled: Vec<bool> = events.iter().filter(|e| e.class_id == algebra).map(|e| e.cancelled).collect();
    assert_eq!(cancelled, vec![false, false, true, false]);
    // A cancelled occurrence frees its time.
    classes::create_class(&db.state, teacher, &form("Makeup", "2026-03-16T09:00", 60, None), NOW).await.unwrap();
}

async fn this_and_following_splits_the_series(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "Europe/Berlin").await;
    let id = classes::create_class(
        &db.state,
        rosa.require_teacher().unwrap(),
        &form("Algebra", "2026-03-02T09:00", 60, Some(weekly(vec![Weekday::Mon], 6))),
        NOW,
    )
    .await
    .unwrap();
    let occurrences = db.store().class_occurrences(id, i64::MIN, 10).await.unwrap();
    // From the fourth (23 March) on: Tuesdays and Thursdays at 10:00, four times.
    let new_plan = form("Algebra", "2026-03-24T10:00", 45, Some(weekly(vec![Weekday::Tue, Weekday::Thu], 4)));
    classes::edit_following(&db.state, &rosa, occurrences[3].id, &new_plan, NOW).await.unwrap();
    let after = db.store().class_occurrences(id, i64::MIN, 20).await.unwrap();
    assert_eq!(after.len(), 3 + 4);
    assert_eq!(&after[..3], &occurrences[..3], "the earlier occurrences are untouched");
    assert!(after[3..].iter().all(|o| o.ends_at - o.starts_at == 45 * 60_000));
    let rules = db.store().class_rules(id).await.unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules[0].rrule.contains("UNTIL="), "the old series now ends: {}", rules[0].rrule);
    assert!(rules[1].rrule.contains("BYDAY=TU,TH"), "{}", rules[1].rrule);
    let page = classes::details(&db.state, &rosa, id, None, NOW).await.unwrap();
    assert_eq!(page.schedule_text.as_deref(), Some("Weekly on Tue and Thu, 4 times"));
    // Splitting at the very first occurrence replaces the whole series.
    let first = after[0].id;
    classes::edit_following(
        &db.state,
        &rosa,
        first,
        &form("Algebra", "2026-03-02T08:00", 60, Some(weekly(vec![], 2))),
        NOW,
    )
    .await
    .unwrap();
    let rules = db.store().class_rules(id).await.unwrap();
    assert_eq!(rules.len(), 2, "the first rule was replaced, the Tue/Thu one kept");
}

async fn the_calendar_shows_each_role_its_classes(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "UTC").await;
    let theo = person(db, "theo", Role::Teacher, "UTC").await;
    let sam = person(db, "sam", Role::Student, "UTC").await;
    let outsider = person(db, "olga", Role::Student, "UTC").await;
    let admin = person(db, "ada", Role::Admin, "UTC").await;
    let algebra = classes::create_class(
        &db.state,
        rosa.require_teacher().unwrap(),
        &form("Algebra", "2026-03-02T09:00", 60, None),
        NOW,
    )
    .await
    .unwrap();
    let art = classes::create_class(
        &db.state,
        theo.require_teacher().unwrap(),
        &form("Art", "2026-03-03T09:00", 60, None),
        NOW,
    )
    .await
    .unwrap();
    classes::enrol(&db.state, &sam, algebra, None, NOW).await.unwrap();
    let titles = |events: Vec<lectern_model::schedule::CalendarEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.title).collect()
    };
    let range = ("2026-03-01", "2026-03-08");
    assert_eq!(titles(classes::calendar(&db.state, &sam, range.0, range.1, None).await.unwrap()), ["Algebra"]);
    assert_eq!(titles(classes::calendar(&db.state, &rosa, range.0, range.1, None).await.unwrap()), ["Algebra"]);
    assert_eq!(titles(classes::calendar(&db.state, &theo, range.0, range.1, None).await.unwrap()), ["Art"]);
    assert!(classes::calendar(&db.state, &outsider, range.0, range.1, None).await.unwrap().is_empty());
    assert_eq!(titles(classes::calendar(&db.state, &admin, range.0, range.1, None).await.unwrap()), ["Algebra", "Art"]);
    assert_eq!(
        titles(classes::calendar(&db.state, &admin, range.0, range.1, Some(theo.user.id)).await.unwrap()),
        ["Art"]
    );
    let sam_view = classes::calendar(&db.state, &sam, range.0, range.1, None).await.unwrap();
    assert!(!sam_view[0].editable, "students cannot move classes");
    assert!(classes::calendar(&db.state, &rosa, range.0, range.1, None).await.unwrap()[0].editable);
    // Ranges are bounded and well-formed.
    assert!(classes::calendar(&db.state, &sam, "2026-03-08", "2026-03-01", None).await.is_err());
    assert!(classes::calendar(&db.state, &sam, "2026-01-01", "2026-12-31", None).await.is_err());
    assert!(classes::calendar(&db.state, &sam, "yesterday", "today", None).await.is_err());
    let _ = art;
}

async fn bad_class_forms_name_their_fields_and_write_nothing(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "UTC").await;
    let teacher = rosa.require_teacher().unwrap();
    let mut bad = form("", "not a date", 1, Some(Recurrence { interval: 0, ..weekly(vec![], 3) }));
    bad.time_zone = "Mars/Base".into();
    bad.capacity = Some(0);
    let err = classes::create_class(&db.state, teacher, &bad, NOW).await.unwrap_err();
    let ClassError::Invalid(errors) = err else { panic!("expected field errors") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["title", "time_zone", "start", "duration", "capacity", "recurrence"]);
    // Too many occurrences for the configured limit.
    let endless =
        form("Daily", "2026-03-02T09:00", 30, Some(Recurrence { frequency: Frequency::Daily, ..weekly(vec![], 5000) }));
    assert!(matches!(classes::create_class(&db.state, teacher, &endless, NOW).await, Err(ClassError::Invalid(_))));
    assert_eq!(
        (count(db, "classes").await, count(db, "occurrences").await, count(db, "recurrence_rules").await),
        (0, 0, 0)
    );
}

async fn ics_files_describe_series_exceptions_and_moves(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "Europe/Berlin").await;
    let sam = person(db, "sam", Role::Student, "UTC").await;
    let olga = person(db, "olga", Role::Student, "UTC").await;
    let mut private =
        form("Algebra; Part 1", "2026-03-02T09:00", 60, Some(weekly(vec![Weekday::Mon, Weekday::Wed], 6)));
    private.enrolment = EnrolmentPolicy::Closed;
    let id = classes::create_class(&db.state, rosa.require_teacher().unwrap(), &private, NOW).await.unwrap();
    let occurrences = db.store().class_occurrences(id, i64::MIN, 10).await.unwrap();
    classes::cancel_occurrence(&db.state, &rosa, occurrences[1].id, NOW).await.unwrap();
    classes::move_occurrence(&db.state, &rosa, occurrences[2].id, "2026-03-09T11:00", 60, "Europe/Berlin", NOW)
        .await
        .unwrap();

    let (_, ics) = classes::class_ics(&db.state, &rosa, id).await.unwrap();
    let unfolded = unfold(&ics);
    let calendar = read_calendar(&unfolded).expect("a parser reads it back");
    let names: Vec<&str> = calendar.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["VTIMEZONE", "VEVENT", "VEVENT"], "{ics}");
    let series = &calendar.components[1];
    let value = |c: &icalendar::parser::Component<'_>, name: &str| c.find_prop(name).map(|p| p.val.as_str().to_owned());
    assert_eq!(value(series, "SUMMARY").as_deref(), Some("Algebra; Part 1"));
    assert_eq!(value(series, "RRULE").as_deref(), Some("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"));
    assert_eq!(value(series, "DTSTART").as_deref(), Some("20260302T090000"));
    assert_eq!(value(series, "EXDATE").as_deref(), Some("20260304T090000"));
    let moved = &calendar.components[2];
    assert_eq!(value(moved, "RECURRENCE-ID").as_deref(), Some("20260309T090000"));
    assert_eq!(value(moved, "DTSTART").as_deref(), Some("20260309T110000"));
    assert_eq!(value(series, "UID"), value(moved, "UID"));
    assert!(value(series, "SEQUENCE").unwrap().parse::<u32>().unwrap() >= 2, "edits raise SEQUENCE");

    // A closed class's file is not for outsiders.
    assert!(matches!(classes::class_ics(&db.state, &olga, id).await, Err(ClassError::NotFound)));

    // The private feed: a secret URL, revocable.
    let (class, _) = classes::class_for_teacher(&db.state, &rosa, id).await.unwrap();
    classes::add_student(&db.state, rosa.teacher_of(&class).unwrap(), "sam", NOW).await.unwrap();
    let secret = lectern_core::auth::token::generate();
    db.store().set_calendar_feed(sam.user.id, &lectern_core::auth::token::digest(&secret), NOW).await.unwrap();
    let feed = classes::feed_ics(&db.state, &secret).await.unwrap().expect("the feed answers");
    assert!(feed.contains("SUMMARY:Algebra\\; Part 1"), "{feed}");
    assert!(classes::feed_ics(&db.state, "not-a-token").await.unwrap().is_none());
    db.store().revoke_calendar_feed(sam.user.id).await.unwrap();
    assert!(classes::feed_ics(&db.state, &secret).await.unwrap().is_none(), "a revoked URL stops working");
}

async fn the_join_button_opens_ten_minutes_before_the_start(db: &TestDb) {
    let rosa = person(db, "rosa", Role::Teacher, "UTC").await;
    let sam = person(db, "sam", Role::Student, "UTC").await;
    let olga = person(db, "olga", Role::Student, "UTC").await;
    // 02:00 Berlin is 01:00Z: it starts at NOW + 1 h and lasts 1 h.
    let id = classes::create_class(
        &db.state,
        rosa.require_teacher().unwrap(),
        &form("Live", "2026-03-01T02:00", 60, None),
        NOW,
    )
    .await
    .unwrap();
    classes::enrol(&db.state, &sam, id, None, NOW).await.unwrap();
    let join = |who: Authenticated, at: i64| {
        let state = db.state.clone();
        async move { classes::details(&state, &who, id, None, at).await.unwrap().join_occurrence }
    };
    let minute = 60_000;
    assert!(join(sam.clone(), NOW + HOUR - 11 * minute).await.is_none());
    assert!(join(sam.clone(), NOW + HOUR - 10 * minute).await.is_some());
    assert!(join(rosa.clone(), NOW + HOUR + 30 * minute).await.is_some());
    assert!(join(sam.clone(), NOW + 2 * HOUR).await.is_none(), "closed at the end");
    assert!(join(olga.clone(), NOW + HOUR).await.is_none(), "only participants may join");
}

on_both_databases!(
    a_weekly_series_keeps_its_local_time_across_dst,
    students_cannot_schedule_and_teachers_only_change_their_own,
    overlapping_classes_of_one_teacher_are_refused_whole,
    capacity_holds_under_concurrent_enrolment,
    enrolment_follows_the_class_policy,
    one_occurrence_moves_or_cancels_without_touching_the_others,
    this_and_following_splits_the_series,
    the_calendar_shows_each_role_its_classes,
    bad_class_forms_name_their_fields_and_write_nothing,
    ics_files_describe_series_exceptions_and_moves,
    the_join_button_opens_ten_minutes_before_the_start,
);
