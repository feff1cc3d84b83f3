//! The admin panel: people and their roles. Every function here needs the admin capability.

use super::ApiError;
use lectern_model::{Role, User};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use {super::server, lectern_core::accounts as core_accounts};

pub const USERS_PER_PAGE: i64 = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<User>,
    pub total: i64,
    pub page: i64,
}

#[server(prefix = "/api", endpoint = "admin/users")]
pub async fn list_users(filter: String, page: i64) -> Result<UserList, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let admin = me.require_admin()?;
            let found = core_accounts::list_users(&state, admin, &filter, page, USERS_PER_PAGE).await?;
            Ok(UserList {
                users: found.users.iter().map(|u| u.public()).collect(),
                total: found.total,
                page: page.max(0),
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "admin/set_role")]
pub async fn set_user_role(user_id: i64, role: Role) -> Result<User, ApiError> {
    server::respond(
        async {
            let state = server::state()?;
            let me = server::signed_in().await?;
            let admin = me.require_admin()?;
            Ok(core_accounts::set_role(&state, admin, user_id, role, lectern_core::now_ms()).await?.public())
        }
        .await,
    )
}
