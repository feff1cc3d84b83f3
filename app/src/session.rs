//! The signed-in user, shared by every page through context, and the actions that change it.

use crate::api::ApiError;
use crate::api::accounts::{Login, Logout, Register, UpdateProfile, current_user};
use lectern_model::User;
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Session {
    /// Refetched whenever one of the actions below completes.
    pub user: Resource<Result<Option<User>, ApiError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub register: ServerAction<Register>,
    pub update_profile: ServerAction<UpdateProfile>,
}

pub fn provide_session() {
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let register = ServerAction::<Register>::new();
    let update_profile = ServerAction::<UpdateProfile>::new();
    let user = Resource::new(
        move || {
            (login.version().get(), logout.version().get(), register.version().get(), update_profile.version().get())
        },
        |_| current_user(),
    );
    provide_context(Session { user, login, logout, register, update_profile });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Set the HTTP status of the page being rendered on the server; nothing in the browser.
pub fn set_page_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(options), Ok(status)) =
        (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(code))
    {
        options.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}
