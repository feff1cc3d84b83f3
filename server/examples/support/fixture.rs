//! A fresh database for a load run: a teacher, students with sessions, one live class.

use super::{Failure, fail};
use lectern_core::AppState;
use lectern_core::auth::token;
use lectern_core::config::Config;
use lectern_core::store::classes::{ClassSchedule, NewClass, Slot};
use lectern_core::store::sessions::NewSession;
use lectern_core::store::users::{InitialRole, NewUser};
use lectern_model::Role;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub class_id: i64,
    /// Session tokens: the teacher's first, then the students'.
    pub tokens: Vec<String>,
}

pub async fn add_person(
    state: &AppState,
    username: &str,
    name: &str,
    role: Role,
    now: i64,
) -> Result<(i64, String), Failure> {
    let user = NewUser {
        username: username.into(),
        email: format!("{username}@load.lectern.invalid"),
        display_name: name.into(),
        password_hash: None,
        phone: None,
        time_zone: "UTC".into(),
        role: InitialRole::Exactly(role),
    };
    let user = state.store.insert_user(&user, now).await.map_err(|e| fail("insert user", e))?;
    let cookie = token::generate();
    let session = NewSession {
        token_hash: &token::digest(&cookie),
        user_id: user.id,
        now,
        expires_at: now + 24 * 3_600_000,
        ip: None,
        user_agent: None,
    };
    state.store.insert_session(&session).await.map_err(|e| fail("insert session", e))?;
    Ok((user.id, cookie))
}

/// A fresh, migrated SQLite database with a teacher, `students` students and one live class.
pub async fn prepare(students: usize, tool: &str) -> Result<Fixture, Failure> {
    let dir = tempfile::Builder::new().prefix(tool).tempdir().map_err(|e| fail("temp dir", e))?;
    let db_url = format!("sqlite://{}/lectern.db", dir.path().display());
    let mut config = Config::default();
    config.database.url = db_url.clone();
    let state = AppState::open(config).await.map_err(|e| fail("open the database", e))?;
    let now = lectern_core::now_ms();
    let (teacher_id, teacher_token) = add_person(&state, "teacher", "Load Teacher", Role::Teacher, now).await?;
    let class = NewClass {
        teacher_id,
        title: "Load test".into(),
        description: format!("A live class for {tool}."),
        kind: "live",
        time_zone: "UTC".into(),
        capacity: None,
        enrolment_policy: "closed",
        invite_token: token::generate(),
    };
    let slots = [Slot { starts_at: now - 5 * 60_000, ends_at: now + 6 * 3_600_000, original_start_at: None }];
    let class_id = state
        .store
        .create_class(&ClassSchedule { class: &class, series: None, slots: &slots }, now)
        .await
        .map_err(|e| fail("create the class", e))?
        .map_err(|clashes| format!("create the class: {} clashes", clashes.len()))?;
    let mut tokens = vec![teacher_token];
    for i in 1..=students {
        let (id, cookie) =
            add_person(&state, &format!("student{i:05}"), &format!("Student {i:05}"), Role::Student, now).await?;
        state.store.set_enrolment_role(class_id, id, "student", now).await.map_err(|e| fail("enrol", e))?;
        tokens.push(cookie);
    }
    state.store.close().await;
    Ok(Fixture { dir, db_url, class_id, tokens })
}
