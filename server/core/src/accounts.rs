//! Accounts: registration, login and logout, sessions, profiles and roles.
//!
//! Every function validates all of its input before writing anything, so a refused request
//! leaves nothing half-written.

use crate::auth::throttle::ThrottleKey;
use crate::auth::{Admin, Authenticated, Forbidden, password, token};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::schedule::UpcomingOccurrence;
use crate::store::sessions::NewSession;
use crate::store::users::{InitialRole, NewUser, ProfileUpdate, UserPage, UserRecord};
use lectern_model::validate;
use lectern_model::{Field, FieldError, Role};
use std::net::IpAddr;

/// How long a session may go unseen before it is touched again; bounds writes per request.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input: {}", list(.0))]
    Invalid(Vec<FieldError>),
    /// Unknown user or wrong password: deliberately one case, so a response never tells which.
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed logins; retry in {retry_after_ms} ms")]
    Throttled { retry_after_ms: i64 },
    #[error("registration is closed: ask an admin for an account")]
    RegistrationClosed,
    #[error("not signed in")]
    NotSignedIn,
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> Self {
        match err {
            // A unique constraint that a concurrent request won: report it on its field.
            StoreError::Duplicate { column } => match column.as_str() {
                "username" => AccountError::Invalid(vec![taken(Field::Username)]),
                "email" => AccountError::Invalid(vec![taken(Field::Email)]),
                _ => AccountError::Store(StoreError::Duplicate { column }),
            },
            other => AccountError::Store(other),
        }
    }
}

fn list(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn taken(field: Field) -> FieldError {
    match field {
        Field::Username => FieldError::new(field, "This username is taken. Try another."),
        _ => FieldError::new(field, "An account with this email already exists."),
    }
}

/// What the registration form sends.
#[derive(Clone, Debug, Default)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password: String,
    pub time_zone: String,
}

/// What the profile form sends.
#[derive(Clone, Debug, Default)]
pub struct ProfileForm {
    pub display_name: String,
    pub email: String,
    pub phone: String,
    pub time_zone: String,
}

/// Where a request comes from, for throttling and the session list.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A new session: the token goes into the cookie, never into the database.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: UserRecord,
    pub token: String,
    pub expires_at: i64,
}

/// Collects every field's problem before deciding, so the form shows them all at once.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    fn add(&mut self, error: FieldError) {
        self.0.push(error);
    }

    fn into_result(self) -> Result<(), AccountError> {
        if self.0.is_empty() { Ok(()) } else { Err(AccountError::Invalid(self.0)) }
    }
}

/// An IANA zone name that the time zone database knows.
pub fn time_zone(input: &str) -> Result<String, FieldError> {
    let name = validate::time_zone_shape(input)?;
    match jiff::tz::db().get(&name) {
        Ok(_) => Ok(name),
        Err(_) => Err(FieldError::new(
            Field::TimeZone,
            format!("{name:?} is not a time zone we know. Choose one from the list."),
        )),
    }
}

/// The zone names a person can choose from, sorted.
pub fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.to_string())
        .filter(|n| n == "UTC" || (n.contains('/') && !n.starts_with("Etc/") && !n.starts_with("SystemV/")))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Validate a new account fully and hash its password.
async fn new_user(state: &AppState, form: &Registration, role: InitialRole) -> Result<NewUser, AccountError> {
    let mut problems = Problems::default();
    let username = problems.check(validate::username(&form.username));
    let email = problems.check(validate::email(&form.email));
    let display_name = problems.check(validate::display_name(&form.display_name));
    let time_zone = problems.check(time_zone(&form.time_zone));
    if problems.check(validate::password(&form.password)).is_some()
        && password::is_common(&form.password, username.as_deref().unwrap_or(""))
    {
        problems
            .add(FieldError::new(Field::Password, "This password is too common. Choose one that is harder to guess."));
    }
    if let Some(username) = &username
        && state.store.username_taken(username).await?
    {
        problems.add(taken(Field::Username));
    }
    if let Some(email) = &email
        && state.store.email_taken(email, None).await?
    {
        problems.add(taken(Field::Email));
    }
    problems.into_result()?;
    let (Some(username), Some(email), Some(display_name), Some(time_zone)) = (username, email, display_name, time_zone)
    else {
        unreachable!("every field was checked and no problem was found")
    };
    let password_hash = Some(password::hash(form.password.clone()).await?);
    Ok(NewUser { username, email, display_name, password_hash, phone: None, time_zone, role })
}

/// Create an account from the registration form. The first account of an install becomes admin.
pub async fn register(state: &AppState, form: &Registration, now: i64) -> Result<UserRecord, AccountError> {
    if !state.config.auth.open_registration && state.store.count_users().await? > 0 {
        return Err(AccountError::RegistrationClosed);
    }
    let new = new_user(state, form, InitialRole::AdminIfFirst(Role::Student)).await?;
    Ok(state.store.insert_user(&new, now).await?)
}

/// Create an admin account (for `lectern create-admin` and scripted installs).
pub async fn create_admin(state: &AppState, form: &Registration, now: i64) -> Result<UserRecord, AccountError> {
    let new = new_user(state, form, InitialRole::Exactly(Role::Admin)).await?;
    Ok(state.store.insert_user(&new, now).await?)
}

/// Check a login and open a session. Throttled per account and per address; an unknown user
/// and a wrong password give the same error after the same work.
pub async fn login(
    state: &AppState,
    login: &str,
    password: &str,
    client: &ClientInfo,
    now: i64,
) -> Result<LoggedIn, AccountError> {
    let login = login.trim().to_lowercase();
    let mut keys = vec![ThrottleKey::Account(login.clone())];
    keys.extend(client.ip.map(ThrottleKey::Address));
    state.throttle.check(&keys, now).map_err(|retry_after_ms| AccountError::Throttled { retry_after_ms })?;

    let too_long = password.chars().count() > validate::PASSWORD_MAX;
    let user = if login.is_empty() || too_long { None } else { state.store.user_by_login(&login).await? };
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = !too_long && password::verify(password.to_owned(), stored_hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        state.throttle.record_failure(&keys, now);
        return Err(AccountError::BadCredentials);
    };
    state.throttle.record_success(&keys[0]);

    let token = token::generate();
    let expires_at = now + state.config.auth.session_absolute_hours * 3_600_000;
    let ip = client.ip.map(|ip| ip.to_string());
    let user_agent = client.user_agent.as_deref().map(|ua| truncate(ua, 256));
    state
        .store
        .insert_session(&NewSession {
            token_hash: &token::digest(&token),
            user_id: user.id,
            now,
            expires_at,
            ip: ip.as_deref(),
            user_agent,
        })
        .await?;
    Ok(LoggedIn { user, token, expires_at })
}

fn truncate(s: &str, max_chars: usize) -> &str {
    s.char_indices().nth(max_chars).map_or(s, |(i, _)| &s[..i])
}

fn idle_cutoff(state: &AppState, now: i64) -> i64 {
    now - state.config.auth.session_idle_minutes * 60_000
}

/// The signed-in user behind a session cookie value, if the session is alive. Refreshes the
/// idle timer at most once a minute.
pub async fn authenticate(
    state: &AppState,
    cookie_token: &str,
    now: i64,
) -> Result<Option<Authenticated>, AccountError> {
    if !token::looks_valid(cookie_token) {
        return Ok(None);
    }
    let found = state.store.session_user(&token::digest(cookie_token), now, idle_cutoff(state, now)).await?;
    let Some(session) = found else { return Ok(None) };
    if now - session.last_seen_at >= TOUCH_EVERY_MS {
        state.store.touch_session(session.session_id, now).await?;
    }
    Ok(Some(Authenticated { user: session.user, session_id: session.session_id }))
}

/// End the session behind a cookie value on the server.
pub async fn logout(state: &AppState, cookie_token: &str) -> Result<(), AccountError> {
    if token::looks_valid(cookie_token) {
        state.store.delete_session(&token::digest(cookie_token)).await?;
    }
    Ok(())
}

/// Drop sessions that can no longer be used; run periodically.
pub async fn sweep_sessions(state: &AppState, now: i64) -> Result<u64, AccountError> {
    Ok(state.store.delete_dead_sessions(now, idle_cutoff(state, now)).await?)
}

pub async fn update_profile(
    state: &AppState,
    me: &Authenticated,
    form: &ProfileForm,
    now: i64,
) -> Result<UserRecord, AccountError> {
    let mut problems = Problems::default();
    let display_name = problems.check(validate::display_name(&form.display_name));
    let email = problems.check(validate::email(&form.email));
    let phone = problems.check(validate::phone(&form.phone));
    let time_zone = problems.check(time_zone(&form.time_zone));
    if let Some(email) = &email
        && state.store.email_taken(email, Some(me.user.id)).await?
    {
        problems.add(taken(Field::Email));
    }
    problems.into_result()?;
    let (Some(display_name), Some(email), Some(phone), Some(time_zone)) = (display_name, email, phone, time_zone)
    else {
        unreachable!("every field was checked and no problem was found")
    };
    Ok(state.store.update_profile(me.user.id, &ProfileUpdate { display_name, email, phone, time_zone }, now).await?)
}

/// The admin panel's user list.
pub async fn list_users(
    state: &AppState,
    _admin: Admin<'_>,
    filter: &str,
    page: i64,
    per_page: i64,
) -> Result<UserPage, AccountError> {
    let per_page = per_page.clamp(1, 200);
    let offset = page.max(0).saturating_mul(per_page);
    Ok(state.store.list_users(truncate(filter.trim(), 100), per_page, offset).await?)
}

/// Change someone's role. Admins cannot change their own, so an install never loses its last
/// admin by accident.
pub async fn set_role(
    state: &AppState,
    admin: Admin<'_>,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<UserRecord, AccountError> {
    if admin.user().id == user_id {
        return Err(AccountError::Invalid(vec![FieldError::new(Field::Role, "You cannot change your own role.")]));
    }
    state.store.set_role(admin.user().id, user_id, role, now).await?.ok_or(AccountError::UserNotFound)
}

/// The dashboard's list of what comes next for this user.
pub async fn upcoming(state: &AppState, me: &Authenticated, now: i64) -> Result<Vec<UpcomingOccurrence>, AccountError> {
    Ok(state.store.upcoming_occurrences(me.user.id, now, 20).await?)
}
