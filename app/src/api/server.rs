//! What every server function needs on the server: the shared state, the caller's session, and a
//! way to turn an error into the HTTP status it deserves.

use super::ApiError;
use http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use http::request::Parts;
use lectern_core::AppState;
use lectern_core::accounts::{self, ClientInfo};
use lectern_core::auth::{Authenticated, ClientAddr, SESSION_COOKIE};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// The state the HTTP layer provided. Missing only if the router was built wrongly.
pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        ApiError::Internal
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The session cookie's value, if the request carries one.
pub fn session_token() -> Option<String> {
    let parts = parts()?;
    lectern_core::auth::session_cookie(parts.headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()))
}

/// The signed-in caller, if any.
pub async fn caller() -> Result<Option<Authenticated>, ApiError> {
    let state = state()?;
    match session_token() {
        Some(token) => Ok(accounts::authenticate(&state, &token, lectern_core::now_ms()).await?),
        None => Ok(None),
    }
}

/// The signed-in caller, or [`ApiError::NotSignedIn`].
pub async fn signed_in() -> Result<Authenticated, ApiError> {
    caller().await?.ok_or(ApiError::NotSignedIn)
}

pub fn client_info() -> ClientInfo {
    let parts = parts();
    ClientInfo {
        ip: parts.as_ref().and_then(|p| p.extensions.get::<ClientAddr>()).map(|a| a.0),
        user_agent: parts
            .as_ref()
            .and_then(|p| p.headers.get(USER_AGENT))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

fn set_cookie(value: String) {
    if let (Some(options), Ok(value)) = (use_context::<ResponseOptions>(), http::HeaderValue::from_str(&value)) {
        options.append_header(SET_COOKIE, value);
    }
}

/// Send the session cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site
/// posts), Secure when browsers reach us over HTTPS.
pub fn set_session_cookie(state: &AppState, token: &str, max_age_secs: i64) {
    let secure = if state.config.served_over_https() { "; Secure" } else { "" };
    set_cookie(format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"));
}

pub fn clear_session_cookie(state: &AppState) {
    set_session_cookie(state, "", 0);
}

/// Finish a server function: on error, set the HTTP status the error calls for (and
/// `Retry-After` when throttled).
pub fn respond<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(err) = &result
        && let Some(options) = use_context::<ResponseOptions>()
    {
        options.set_status(http::StatusCode::from_u16(err.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        if let ApiError::Throttled { retry_after_secs } = err {
            options.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(*retry_after_secs));
        }
    }
    result
}
