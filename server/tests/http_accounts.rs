//! The HTTP surface of accounts, driven through the router value (no socket), on SQLite and on
//! PostgreSQL.

use axum::http::{StatusCode, header};
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;
use serde_json::Value;

mod common;

use common::*;

async fn registering_signs_in_with_a_hardened_cookie(db: &TestDb) {
    let app = app(db);
    let res = register(&app, "ada").await;
    let cookie = res.cookies.iter().find(|c| c.starts_with("lectern_session=")).expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP cannot set Secure cookies: {cookie}");
    let me = call(&app, "current_user", res.session().as_deref(), &[], &[]).await;
    assert_eq!(me.json()["username"], "ada");
    assert_eq!(me.json()["role"], "admin", "the first account is the admin");
    assert!(me.json().get("password_hash").is_none());
}

async fn logout_ends_the_session_on_the_server(db: &TestDb) {
    let app = app(db);
    register(&app, "ada").await;
    let token = login(&app, "ada", PASSWORD).await.session().expect("logged in");
    let out = call(&app, "logout", Some(&token), &[], &[]).await;
    assert!(out.status.is_success() || out.status.is_redirection(), "{}", out.status);
    assert!(
        out.cookies.iter().any(|c| c.starts_with("lectern_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        out.cookies
    );
    // Replaying the old cookie gets nothing: the session is gone server-side.
    assert_eq!(call(&app, "current_user", Some(&token), &[], &[]).await.json(), Value::Null);
}

async fn every_login_gets_a_new_session_id_and_ends_the_old_one(db: &TestDb) {
    let app = app(db);
    register(&app, "ada").await;
    let first = login(&app, "ada", PASSWORD).await.session().unwrap();
    let second =
        call(&app, "login", Some(&first), &[("login", "ada"), ("password", PASSWORD)], &[]).await.session().unwrap();
    assert_ne!(first, second);
    assert_eq!(call(&app, "current_user", Some(&first), &[], &[]).await.json(), Value::Null);
    assert_eq!(call(&app, "current_user", Some(&second), &[], &[]).await.json()["username"], "ada");
}

async fn wrong_passwords_and_unknown_users_get_the_same_answer(db: &TestDb) {
    let app = app(db);
    register(&app, "ada").await;
    let wrong = login(&app, "ada", "not-the-password").await;
    let unknown = login(&app, "nobody", "not-the-password").await;
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.session().is_none());
}

async fn repeated_failures_are_throttled_with_retry_after(db: &TestDb) {
    let app = app(db);
    register(&app, "ada").await;
    let limit = db.state.config.auth.login_failures_per_account;
    for _ in 0..limit {
        assert_eq!(login(&app, "ada", "not-the-password").await.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = login(&app, "ada", PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = throttled.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= db.state.config.auth.login_window_minutes * 60, "{retry}");
    assert!(throttled.body.contains("Throttled"), "{}", throttled.body);
}

async fn cross_site_requests_are_refused_before_they_act(db: &TestDb) {
    let app = app(db);
    register(&app, "ada").await;
    let creds = [("login", "ada"), ("password", PASSWORD)];
    let cross = call(&app, "login", None, &creds, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.session().is_none());
    let foreign = call(&app, "login", None, &creds, &[("origin", "https://evil.example")]).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let same =
        call(&app, "login", None, &creds, &[("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")])
            .await;
    assert!(same.session().is_some(), "{} {}", same.status, same.body);
    // Nothing changes state on GET: a server function called with GET is not found.
    let get_logout = get(&app, "/api/logout", Some(&same.session().unwrap())).await;
    assert!(!get_logout.status.is_success());
    assert_eq!(call(&app, "current_user", same.session().as_deref(), &[], &[]).await.json()["username"], "ada");
}

async fn students_are_refused_admin_functions_and_pages(db: &TestDb) {
    let app = app(db);
    let admin = register(&app, "ada").await.session().unwrap();
    let student = register(&app, "grace").await.session().unwrap();
    let listed = call(&app, "admin/users", Some(&student), &[("filter", ""), ("page", "0")], &[]).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN, "{}", listed.body);
    let grace_id = call(&app, "current_user", Some(&student), &[], &[]).await.json()["id"].as_i64().unwrap();
    let id = grace_id.to_string();
    let promote = call(&app, "admin/set_role", Some(&student), &[("user_id", &id), ("role", "admin")], &[]).await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/admin", Some(&student)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/admin", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, "admin/users", None, &[("filter", ""), ("page", "0")], &[]).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The admin can do both.
    let page = get(&app, "/admin", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("grace"), "the people list is rendered on the server");
    let promoted = call(&app, "admin/set_role", Some(&admin), &[("user_id", &id), ("role", "teacher")], &[]).await;
    assert_eq!(promoted.json()["role"], "teacher");
    let bad_role = call(&app, "admin/set_role", Some(&admin), &[("user_id", &id), ("role", "overlord")], &[]).await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST, "{}", bad_role.body);
}

async fn invalid_profiles_are_refused_field_by_field(db: &TestDb) {
    let app = app(db);
    let token = register(&app, "ada").await.session().unwrap();
    let long = "x".repeat(500);
    let res = call(
        &app,
        "update_profile",
        Some(&token),
        &[("display_name", &long), ("email", "nope"), ("phone", "555"), ("time_zone", "Mars/Base")],
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.json();
    let fields: Vec<&str> = body["Invalid"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["display_name", "email", "phone", "time_zone"]);
    let unchanged = call(&app, "current_user", Some(&token), &[], &[]).await.json();
    assert_eq!(unchanged["display_name"], "Test User");
    let anonymous = call(
        &app,
        "update_profile",
        None,
        &[("display_name", "x"), ("email", "a@b.cd"), ("phone", ""), ("time_zone", "UTC")],
        &[],
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn oversized_and_malformed_requests_get_client_errors(db: &TestDb) {
    let app = app(db);
    let huge = "x".repeat(db.state.config.server.max_body_bytes + 1);
    // Streamed without a length (refused while reading) and with one (refused up front).
    let res = call(&app, "login", None, &[("login", &huge), ("password", "x")], &[]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    let length = form(&[("login", &huge), ("password", "x")]).len().to_string();
    let res = call(&app, "login", None, &[("login", &huge), ("password", "x")], &[("content-length", &length)]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    let res = call(&app, "login", None, &[("login", "ada")], &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "a missing argument: {}", res.body);
    let res = call(&app, "admin/users", None, &[("filter", ""), ("page", "not-a-number")], &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

async fn health_reports_the_database(db: &TestDb) {
    let app = app(db);
    let ok = get(&app, "/healthz", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    let body = ok.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "ok");
    let backend = if matches!(db.store(), lectern_core::store::Store::Sqlite(_)) { "sqlite" } else { "postgres" };
    assert_eq!(body["database"]["backend"], backend);
    assert_eq!(ok.headers["x-content-type-options"], "nosniff");

    db.store().close().await;
    let down = get(&app, "/healthz", None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.json()["database"]["status"], "unreachable");
}

async fn unknown_pages_are_404_and_pages_render_on_the_server(db: &TestDb) {
    let app = app(db);
    let missing = get(&app, "/no/such/page", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Page not found"));
    let login = get(&app, "/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Username or email") && login.body.contains("/pkg/lectern.js"));
    let home = get(&app, "/", None).await;
    assert!(home.body.contains("Live classes, in your browser"));
    assert_eq!(home.headers["x-frame-options"], "DENY");
}

/// Building a router lists the app's routes, and leptos does that with resource loading turned
/// off for the whole process: a page whose resource first ran meanwhile, under another router,
/// never finished (leptos-rs/leptos#4773). Tests build routers side by side, and so do the
/// nodes of a cluster in one process.
async fn pages_render_while_other_routers_are_built(db: &TestDb) {
    let app = app(db);
    let admin = register(&app, "ada").await.session().unwrap();
    let state = db.state.clone();
    let builder = tokio::task::spawn_blocking(move || {
        for _ in 0..40 {
            drop(server::http::router(state.clone()));
        }
    });
    for i in 0..40 {
        let page = tokio::time::timeout(std::time::Duration::from_secs(10), get(&app, "/admin", Some(&admin)))
            .await
            .unwrap_or_else(|_| panic!("render {i} of the admin page never finished"));
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("ada"), "the people list was rendered");
    }
    builder.await.expect("routers were built");
}

on_both_databases!(
    pages_render_while_other_routers_are_built,
    registering_signs_in_with_a_hardened_cookie,
    logout_ends_the_session_on_the_server,
    every_login_gets_a_new_session_id_and_ends_the_old_one,
    wrong_passwords_and_unknown_users_get_the_same_answer,
    repeated_failures_are_throttled_with_retry_after,
    cross_site_requests_are_refused_before_they_act,
    students_are_refused_admin_functions_and_pages,
    invalid_profiles_are_refused_field_by_field,
    oversized_and_malformed_requests_get_client_errors,
    health_reports_the_database,
    unknown_pages_are_404_and_pages_render_on_the_server,
);
