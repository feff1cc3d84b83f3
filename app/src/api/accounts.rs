//! Registration, login, logout and the profile.

use super::ApiError;
use lectern_model::User;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::server, lectern_core::accounts as core_accounts, lectern_core::now_ms};

/// The signed-in user, or `None`.
#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, ApiError> {
    server::respond(async { Ok(server::caller().await?.map(|me| me.user.public())) }.await)
}

/// Create an account and sign in to it.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    username: String,
    email: String,
    display_name: String,
    password: String,
    time_zone: String,
) -> Result<User, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let form =
                core_accounts::Registration { username, email, display_name, password: password.clone(), time_zone };
            let now = now_ms();
            let user = core_accounts::register(&state, &form, now).await?;
            let session = core_accounts::login(&state, &user.username, &password, &server::client_info(), now).await?;
            server::set_session_cookie(&state, &session.token, (session.expires_at - now) / 1000);
            leptos_axum::redirect("/");
            Ok(user.public())
        }
        .await,
    )
}

/// Sign in with a username or email address.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(login: String, password: String) -> Result<User, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            // A new session id at every login; the one the browser had (if any) ends here.
            if let Some(old) = server::session_token() {
                core_accounts::logout(&state, &old).await?;
            }
            let now = now_ms();
            let session = core_accounts::login(&state, &login, &password, &server::client_info(), now).await?;
            server::set_session_cookie(&state, &session.token, (session.expires_at - now) / 1000);
            leptos_axum::redirect("/");
            Ok(session.user.public())
        }
        .await,
    )
}

/// End the session on the server and in the browser.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            if let Some(token) = server::session_token() {
                core_accounts::logout(&state, &token).await?;
            }
            server::clear_session_cookie(&state);
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "update_profile")]
pub async fn update_profile(
    display_name: String,
    email: String,
    phone: String,
    time_zone: String,
) -> Result<User, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let form = core_accounts::ProfileForm { display_name, email, phone, time_zone };
            Ok(core_accounts::update_profile(&state, &me, &form, now_ms()).await?.public())
        }
        .await,
    )
}

/// The IANA time zone names a user can choose from.
#[server(prefix = "/api", endpoint = "time_zones")]
pub async fn time_zones() -> Result<Vec<String>, ApiError> {
    Ok(core_accounts::time_zone_names())
}
