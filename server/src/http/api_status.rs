//! Give server-function failures that happen before our code runs the status they deserve.
//!
//! When a request's arguments cannot be decoded, or its body exceeds the limit while streaming,
//! `server_fn` answers 500 with an `ApiError::Transport` body. Those are the client's mistakes:
//! this middleware re-labels them 400 (or 413), so logs and clients see a client error.

use app::api::ApiError;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::ServerFnErrorErr;

/// Error bodies are small; anything larger is left as it is.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn api_error_status(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(ApiError::Transport(err)) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status = match &err {
            // tower-http's RequestBodyLimit error, met while the body streams in.
            ServerFnErrorErr::Deserialization(m) if m.contains("length limit exceeded") => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_) | ServerFnErrorErr::MissingArg(_) => {
                StatusCode::BAD_REQUEST
            }
            _ => parts.status,
        };
    }
    Response::from_parts(parts, Body::from(bytes))
}
