//! Who may enter a class's live room, and as what. Checked at every WebSocket handshake.

use super::actor::RoomSetup;
use super::state::Identity;
use app::protocol::RoomRole;
use lectern_core::AppState;
use lectern_core::auth::Authenticated;
use lectern_core::store::classes::ClassRecord;
use lectern_core::store::{Store, StoreError};
use lectern_model::Role;

/// A participant let in, and the room they enter.
#[derive(Clone, Debug)]
pub struct Admission {
    pub who: Identity,
    pub setup: RoomSetup,
}

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("There is no such class.")]
    NotFound,
    #[error("{0}")]
    NotLive(String),
    #[error("You are blocked from this class: {0}")]
    Blocked(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `me` is in a class: its teacher, a co-teacher, an enrolled student, or (for site
/// admins) a moderator. `None`: none of these.
pub async fn class_role(
    store: &Store,
    me: &Authenticated,
    class: &ClassRecord,
) -> Result<Option<RoomRole>, StoreError> {
    let enrolment = store.enrolment_role(class.id, me.user.id).await?;
    Ok(if class.teacher_id == me.user.id {
        Some(RoomRole::Teacher)
    } else if enrolment.as_deref() == Some("co_teacher") {
        Some(RoomRole::CoTeacher)
    } else if enrolment.as_deref() == Some("student") {
        Some(RoomRole::Student)
    } else if me.user.role == Role::Admin {
        Some(RoomRole::Moderator)
    } else {
        None
    })
}

/// Decide whether `me` may enter the room of `class_id` at `now`:
/// - its teacher, its co-teachers and site admins (as moderators) at any time, to prepare;
/// - its enrolled students from `join_opens_minutes_before` the start of an occurrence to its end,
///   unless they are blocked.
pub async fn admit(app: &AppState, me: &Authenticated, class_id: i64, now: i64) -> Result<Admission, Refused> {
    let store = &app.store;
    let class = store.class_by_id(class_id).await?.ok_or(Refused::NotFound)?;
    let Some(role) = class_role(store, me, &class).await? else {
        return Err(Refused::Forbidden("Enrol in this class to join its live room.".into()));
    };
    if class.kind != "live" {
        return Err(Refused::NotLive("This is a recorded lecture; it has no live room.".into()));
    }
    if class.cancelled_at.is_some() {
        return Err(Refused::NotLive("This class has been cancelled.".into()));
    }
    if !role.is_staff()
        && let Some(reason) = store.active_block(class_id, me.user.id).await?
    {
        return Err(Refused::Blocked(reason));
    }
    let upcoming = store.class_occurrences(class_id, now, 4).await?;
    let occurrence = lectern_core::classes::open_for_joining(&app.config.classes, &upcoming, now);
    if occurrence.is_none() && !role.is_staff() {
        return Err(Refused::NotLive(format!(
            "This class is not live now. Its room opens {} minutes before it starts.",
            app.config.classes.join_opens_minutes_before
        )));
    }
    Ok(Admission {
        who: Identity { user: me.user.id, name: me.user.display_name.clone(), role },
        setup: RoomSetup { class_id, title: class.title, occurrence_id: occurrence.map(|o| o.id) },
    })
}
