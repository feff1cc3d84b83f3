//! Who is asking, and what they may do.
//!
//! A request proves who it comes from with a session cookie ([`crate::accounts::authenticate`]
//! turns it into an [`Authenticated`]). Powers are values: a function that needs an admin takes
//! an [`Admin`], which only [`Authenticated::require_admin`] can make. Class-scoped powers
//! (teacher of this class) follow the same pattern.

pub mod password;
pub mod throttle;
pub mod token;

use crate::store::users::UserRecord;
use lectern_model::Role;

/// A signed-in user, proven by a live session.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub user: UserRecord,
    pub session_id: i64,
}

/// Proof that the holder is a site admin. Cannot be built outside this module.
#[derive(Clone, Copy, Debug)]
pub struct Admin<'a> {
    by: &'a Authenticated,
}

impl<'a> Admin<'a> {
    pub fn user(&self) -> &'a UserRecord {
        &self.by.user
    }
}

/// The caller lacks the role the action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {needed} role")]
pub struct Forbidden {
    pub needed: Role,
}

impl Authenticated {
    pub fn require_admin(&self) -> Result<Admin<'_>, Forbidden> {
        if self.user.role == Role::Admin { Ok(Admin { by: self }) } else { Err(Forbidden { needed: Role::Admin }) }
    }
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "lectern_session";

/// The session cookie's value among a request's `Cookie` header values.
pub fn session_cookie<'a>(cookie_headers: impl IntoIterator<Item = &'a str>) -> Option<String> {
    cookie_headers.into_iter().flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE).then(|| value.to_owned())
    })
}

/// The client's address as the HTTP layer determined it (the socket peer, or `X-Forwarded-For`
/// when configured to trust it); put into request extensions for handlers to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// Proof that the holder may schedule classes (a teacher or an admin).
#[derive(Clone, Copy, Debug)]
pub struct Teacher<'a> {
    by: &'a Authenticated,
}

impl<'a> Teacher<'a> {
    pub fn user(&self) -> &'a UserRecord {
        &self.by.user
    }
}

/// Proof that the holder teaches one particular class (or is an admin).
#[derive(Clone, Copy, Debug)]
pub struct ClassTeacher<'a> {
    by: &'a Authenticated,
    class_id: i64,
    /// The class's own teacher (the holder, or the class an admin acts on).
    owner_id: i64,
}

impl<'a> ClassTeacher<'a> {
    pub fn user(&self) -> &'a UserRecord {
        &self.by.user
    }

    pub fn class_id(&self) -> i64 {
        self.class_id
    }

    pub fn owner_id(&self) -> i64 {
        self.owner_id
    }
}

impl Authenticated {
    pub fn require_teacher(&self) -> Result<Teacher<'_>, Forbidden> {
        if self.user.role.can_teach() { Ok(Teacher { by: self }) } else { Err(Forbidden { needed: Role::Teacher }) }
    }

    /// The capability to change `class`: its own teacher, or an admin.
    pub fn teacher_of(&self, class: &crate::store::classes::ClassRecord) -> Result<ClassTeacher<'_>, Forbidden> {
        if class.teacher_id == self.user.id || self.user.role == Role::Admin {
            Ok(ClassTeacher { by: self, class_id: class.id, owner_id: class.teacher_id })
        } else {
            Err(Forbidden { needed: Role::Teacher })
        }
    }
}
