//! Role checks on every class and calendar server function, through the router, on both databases:
//! anonymous callers get 401, students and other teachers 403 (or 404 where existence is secret),
//! and the class's teacher gets through.

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::*;
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;
use serde_json::{Value, json};

struct Cast {
    app: Router,
    admin: String,
    rosa: String,
    theo: String,
    sam: String,
    sam_id: i64,
}

async fn cast(db: &TestDb) -> Cast {
    let app = app(db);
    let admin = register(&app, "ada").await.session().unwrap();
    let rosa = register(&app, "rosa").await.session().unwrap();
    let theo = register(&app, "theo").await.session().unwrap();
    let sam = register(&app, "sam").await.session().unwrap();
    for who in [&rosa, &theo] {
        let id = call(&app, "current_user", Some(who), &[], &[]).await.json()["id"].as_i64().unwrap().to_string();
        let res = call(&app, "admin/set_role", Some(&admin), &[("user_id", &id), ("role", "teacher")], &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let sam_id = call(&app, "current_user", Some(&sam), &[], &[]).await.json()["id"].as_i64().unwrap();
    Cast { app, admin, rosa, theo, sam, sam_id }
}

fn class_form(title: &str, start: &str) -> Value {
    json!({ "form": {
        "title": title, "description": "", "kind": "live", "time_zone": "UTC", "start_local": start,
        "duration_minutes": 60, "capacity": null, "enrolment": "closed",
        "recurrence": { "frequency": "weekly", "interval": 1, "weekdays": ["mon"], "monthly_by": "day_of_month",
                        "end": { "count": 3 } }
    }})
}

async fn every_class_function_checks_its_caller(db: &TestDb) {
    let c = cast(db).await;
    let app = &c.app;

    // Creating: anonymous 401, student 403, teachers 200.
    let form = class_form("Algebra", "2026-03-02T09:00");
    assert_eq!(call_json(app, "classes/create", None, &form).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call_json(app, "classes/create", Some(&c.sam), &form).await.status, StatusCode::FORBIDDEN);
    let created = call_json(app, "classes/create", Some(&c.rosa), &form).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let class_id = created.json().as_i64().unwrap();
    let id = class_id.to_string();

    // The teacher's calendar has the occurrences; find one.
    let calendar =
        call(app, "classes/calendar_view", Some(&c.rosa), &[("view", "month"), ("date", "2026-03-02")], &[]).await;
    assert_eq!(calendar.status, StatusCode::OK, "{}", calendar.body);
    let events = calendar.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 3);
    let occurrence = events[0]["occurrence_id"].as_i64().unwrap().to_string();
    assert_eq!(events[0]["editable"], true);
    assert_eq!(
        call(app, "classes/calendar_view", None, &[("view", "month")], &[]).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Changing: only the class's teacher (or an admin).
    let moves =
        [("occurrence_id", occurrence.as_str()), ("start_local", "2026-03-03T09:00"), ("duration_minutes", "60")];
    let teacher_only: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("classes/move", moves.to_vec()),
        ("classes/add_student", vec![("class_id", &id), ("login", "sam")]),
        ("classes/add_co_teacher", vec![("class_id", &id), ("login", "theo")]),
        (
            "classes/update",
            vec![
                ("class_id", &id),
                ("title", "Hijacked"),
                ("description", ""),
                ("capacity", ""),
                ("enrolment", "open"),
            ],
        ),
        ("classes/cancel_occurrence", vec![("occurrence_id", &occurrence)]),
        ("classes/cancel", vec![("class_id", &id)]),
    ];
    for (endpoint, args) in &teacher_only {
        assert_eq!(call(app, endpoint, None, args, &[]).await.status, StatusCode::UNAUTHORIZED, "{endpoint} anonymous");
        for (who, name) in [(&c.sam, "student"), (&c.theo, "another teacher")] {
            let res = call(app, endpoint, Some(who), args, &[]).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{endpoint} as {name}: {}", res.body);
        }
    }
    let following = call_json(
        app,
        "classes/edit_following",
        Some(&c.theo),
        &json!({ "occurrence_id": occurrence.parse::<i64>().unwrap(), "form": class_form("x", "2026-03-09T09:00")["form"] }),
    )
    .await;
    assert_eq!(following.status, StatusCode::FORBIDDEN, "{}", following.body);
    // Nothing changed.
    let page = call(app, "classes/details", Some(&c.rosa), &[("class_id", &id)], &[]).await.json();
    assert_eq!(page["title"], "Algebra");
    assert_eq!(page["cancelled"], false);
    assert_eq!(page["roster"], json!([]));

    // The teacher can do all of it.
    let moved = call(app, "classes/move", Some(&c.rosa), &moves, &[]).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let added = call(app, "classes/add_student", Some(&c.rosa), &[("class_id", &id), ("login", "sam")], &[]).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let sam_id = c.sam_id.to_string();
    let removed =
        call(app, "classes/remove_student", Some(&c.sam), &[("class_id", &id), ("user_id", &sam_id)], &[]).await;
    assert_eq!(removed.status, StatusCode::FORBIDDEN, "a student cannot remove people, even themselves, this way");

    // The class is closed: its page and file are hidden from outsiders, shown to the enrolled.
    let theo_page = call(app, "classes/details", Some(&c.theo), &[("class_id", &id)], &[]).await;
    assert_eq!(theo_page.status, StatusCode::NOT_FOUND);
    let sam_page = call(app, "classes/details", Some(&c.sam), &[("class_id", &id)], &[]).await;
    assert_eq!(sam_page.json()["is_enrolled"], true);
    assert!(sam_page.json()["roster"].is_null(), "students do not see the roster");
    assert!(sam_page.json()["invite_path"].is_null());
    assert_eq!(get(app, &format!("/classes/{id}/calendar.ics"), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(app, &format!("/classes/{id}/calendar.ics"), Some(&c.theo)).await.status, StatusCode::NOT_FOUND);
    let file = get(app, &format!("/classes/{id}/calendar.ics"), Some(&c.sam)).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "text/calendar; charset=utf-8");
    assert!(file.body.starts_with("BEGIN:VCALENDAR\r\n"));

    // A student can leave; an admin can change any class.
    assert_eq!(call(app, "classes/leave", Some(&c.sam), &[("class_id", &id)], &[]).await.status, StatusCode::OK);
    let renamed = call(
        app,
        "classes/update",
        Some(&c.admin),
        &[("class_id", &id), ("title", "Algebra II"), ("description", ""), ("capacity", "12"), ("enrolment", "open")],
        &[],
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    // Now open: anyone signed in may enrol and browse it.
    assert_eq!(call(app, "classes/enrol", Some(&c.theo), &[("class_id", &id)], &[]).await.status, StatusCode::OK);
    assert_eq!(call(app, "classes/open", None, &[], &[]).await.status, StatusCode::UNAUTHORIZED);
}

async fn clashes_and_bad_forms_are_client_errors_with_messages(db: &TestDb) {
    let c = cast(db).await;
    let app = &c.app;
    assert_eq!(
        call_json(app, "classes/create", Some(&c.rosa), &class_form("Algebra", "2026-03-02T09:00")).await.status,
        StatusCode::OK
    );
    let clash = call_json(app, "classes/create", Some(&c.rosa), &class_form("Physics", "2026-03-09T09:30")).await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(
        clash.json()["Conflict"],
        "This overlaps your class \u{201c}Algebra\u{201d} on Mon 9 Mar, 09:00–10:00, and 1 more occurrence."
    );
    let mut bad = class_form("", "2026-03-02T09:00");
    bad["form"]["duration_minutes"] = json!(100_000);
    let res = call_json(app, "classes/create", Some(&c.rosa), &bad).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> =
        res.json()["Invalid"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["title", "duration"]);
    let garbage = call_json(app, "classes/create", Some(&c.rosa), &json!({ "form": { "title": 5 } })).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

async fn calendar_feed_urls_are_private_and_revocable(db: &TestDb) {
    let c = cast(db).await;
    let app = &c.app;
    assert_eq!(call(app, "calendar/reset_feed", None, &[], &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(app, "calendar/has_feed", Some(&c.sam), &[], &[]).await.json(), false);
    let url = call(app, "calendar/reset_feed", Some(&c.sam), &[], &[]).await.json().as_str().unwrap().to_owned();
    assert!(url.starts_with("/calendar/") && url.ends_with(".ics"));
    assert_eq!(call(app, "calendar/has_feed", Some(&c.sam), &[], &[]).await.json(), true);
    let feed = get(app, &url, None).await;
    assert_eq!(feed.status, StatusCode::OK, "calendar apps fetch it without a cookie");
    assert!(feed.body.contains("BEGIN:VCALENDAR"));
    // A reset makes a new URL and kills the old one.
    let newer = call(app, "calendar/reset_feed", Some(&c.sam), &[], &[]).await.json().as_str().unwrap().to_owned();
    assert_ne!(newer, url);
    assert_eq!(get(app, &url, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(app, "calendar/revoke_feed", Some(&c.sam), &[], &[]).await.status, StatusCode::OK);
    assert_eq!(get(app, &newer, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(app, "/calendar/../../etc/passwd", None).await.status, StatusCode::NOT_FOUND);
}

async fn class_pages_render_on_the_server_with_their_status(db: &TestDb) {
    let c = cast(db).await;
    let app = &c.app;
    let id = call_json(app, "classes/create", Some(&c.rosa), &class_form("Algebra", "2026-03-02T09:00")).await.json();
    let page = get(app, &format!("/classes/{id}"), Some(&c.rosa)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Algebra") && page.body.contains("Roster"));
    assert_eq!(get(app, &format!("/classes/{id}"), Some(&c.theo)).await.status, StatusCode::NOT_FOUND);
    let schedule = get(app, "/schedule?view=week&date=2026-03-02", Some(&c.rosa)).await;
    assert_eq!(schedule.status, StatusCode::OK);
    assert!(schedule.body.contains("Algebra"), "the week view lists the class in the HTML");
    assert_eq!(get(app, "/schedule", None).await.status, StatusCode::UNAUTHORIZED);
}

async fn admins_filter_the_calendar_by_teacher(db: &TestDb) {
    let c = cast(db).await;
    let app = &c.app;
    call_json(app, "classes/create", Some(&c.rosa), &class_form("Algebra", "2026-03-02T09:00")).await;
    call_json(app, "classes/create", Some(&c.theo), &class_form("Art", "2026-03-02T09:00")).await;
    let all = call(app, "classes/calendar_view", Some(&c.admin), &[("view", "week"), ("date", "2026-03-02")], &[])
        .await
        .json();
    let titles = |v: &Value| -> Vec<String> {
        v["events"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(titles(&all), ["Algebra", "Art"]);
    let teachers: Vec<String> =
        all["teachers"].as_array().unwrap().iter().map(|t| t[1].as_str().unwrap().to_owned()).collect();
    assert_eq!(teachers, ["Test User", "Test User", "Test User"], "the admin and both teachers may teach");
    let theo_id = call(app, "current_user", Some(&c.theo), &[], &[]).await.json()["id"].as_i64().unwrap().to_string();
    let only_theo = call(
        app,
        "classes/calendar_view",
        Some(&c.admin),
        &[("view", "week"), ("date", "2026-03-02"), ("teacher", &theo_id)],
        &[],
    )
    .await
    .json();
    assert_eq!(titles(&only_theo), ["Art"]);
    // A teacher's filter is ignored: they see only their own classes.
    let rosa = call(
        app,
        "classes/calendar_view",
        Some(&c.rosa),
        &[("view", "week"), ("date", "2026-03-02"), ("teacher", &theo_id)],
        &[],
    )
    .await
    .json();
    assert_eq!(titles(&rosa), ["Algebra"]);
}

on_both_databases!(
    admins_filter_the_calendar_by_teacher,
    every_class_function_checks_its_caller,
    clashes_and_bad_forms_are_client_errors_with_messages,
    calendar_feed_urls_are_private_and_revocable,
    class_pages_render_on_the_server_with_their_status,
);
