//! Helpers for driving the router value like a browser does: server-function calls with form or
//! JSON bodies, pages with a session cookie.
#![allow(dead_code)] // each test file uses its own subset

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, Response, StatusCode, header};
use lectern_core::testing::TestDb;
use serde_json::Value;
use tower::ServiceExt;

pub mod room;
pub mod sdp;

pub const PASSWORD: &str = "violet-anchor-trombone";

pub struct Reply {
    pub status: StatusCode,
    pub cookies: Vec<String>,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The session token the server set, if any.
    pub fn session(&self) -> Option<String> {
        self.cookies.iter().find_map(|c| c.strip_prefix("lectern_session=")?.split(';').next().map(str::to_owned))
    }
}

pub async fn reply(res: Response<Body>) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let cookies = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let body = String::from_utf8_lossy(&to_bytes(res.into_body(), 1 << 22).await.unwrap()).into_owned();
    Reply { status, cookies, headers, body }
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Call a server function as the wasm client does.
pub async fn call(
    app: &Router,
    endpoint: &str,
    session: Option<&str>,
    pairs: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, "127.0.0.1:3000");
    if let Some(token) = session {
        req = req.header(header::COOKIE, format!("theme=dark; lectern_session={token}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    reply(app.clone().oneshot(req.body(Body::from(form(pairs))).unwrap()).await.unwrap()).await
}

pub async fn get(app: &Router, path: &str, session: Option<&str>) -> Reply {
    let mut req = Request::get(path).header(header::HOST, "127.0.0.1:3000");
    if let Some(token) = session {
        req = req.header(header::COOKIE, format!("lectern_session={token}"));
    }
    reply(app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()).await
}

pub async fn register(app: &Router, username: &str) -> Reply {
    let email = format!("{username}@example.org");
    let res = call(
        app,
        "register",
        None,
        &[
            ("username", username),
            ("email", &email),
            ("display_name", "Test User"),
            ("password", PASSWORD),
            ("time_zone", "UTC"),
        ],
        &[],
    )
    .await;
    assert!(res.status.is_success() || res.status.is_redirection(), "register {username}: {} {}", res.status, res.body);
    res
}

pub async fn login(app: &Router, username: &str, password: &str) -> Reply {
    call(app, "login", None, &[("login", username), ("password", password)], &[]).await
}

pub fn app(db: &TestDb) -> Router {
    server::http::router(db.state.clone())
}

/// Call a server function that takes JSON (forms with nested values).
pub async fn call_json(app: &Router, endpoint: &str, session: Option<&str>, body: &Value) -> Reply {
    let mut req = Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, "127.0.0.1:3000");
    if let Some(token) = session {
        req = req.header(header::COOKIE, format!("lectern_session={token}"));
    }
    reply(app.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap()).await
}
