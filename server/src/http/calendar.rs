//! Calendar files: a class as `.ics`, and each user's private feed that calendar apps poll.

use super::{HttpState, session_token};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lectern_core::accounts;
use lectern_core::classes::{self, ClassError};

fn ics(body: String, filename: &str) -> Response {
    let safe: String = filename.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}.ics\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res
}

fn failure(err: ClassError) -> Response {
    match err {
        ClassError::NotFound | ClassError::Forbidden(_) => (StatusCode::NOT_FOUND, "No such class.").into_response(),
        other => {
            tracing::error!(error = %other, "calendar file failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

/// `GET /classes/{id}/calendar.ics`, for a signed-in user who may see the class.
pub async fn class_file(State(state): State<HttpState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Ok(class_id) = id.parse::<i64>() else { return (StatusCode::NOT_FOUND, "No such class.").into_response() };
    let app = &state.app;
    let me = match session_token(&headers) {
        Some(token) => accounts::authenticate(app, &token, lectern_core::now_ms()).await.ok().flatten(),
        None => None,
    };
    let Some(me) = me else { return (StatusCode::UNAUTHORIZED, "Please sign in first.").into_response() };
    match classes::class_ics(app, &me, class_id).await {
        Ok((title, body)) => ics(body, &title),
        Err(err) => failure(err),
    }
}

/// `GET /calendar/{secret}.ics`: the private feed. No cookie: calendar apps fetch it by URL.
pub async fn feed(State(state): State<HttpState>, Path(file): Path<String>) -> Response {
    let secret = file.strip_suffix(".ics").unwrap_or(&file);
    match classes::feed_ics(&state.app, secret).await {
        Ok(Some(body)) => ics(body, "lectern"),
        Ok(None) => {
            (StatusCode::NOT_FOUND, "This calendar link is not valid (it may have been reset).").into_response()
        }
        Err(err) => failure(err),
    }
}
