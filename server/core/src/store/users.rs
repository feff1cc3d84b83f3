//! Users: accounts, profiles and roles.

use super::{Store, StoreError, on_pool};
use lectern_model::{Role, User};

/// A user as stored, including the password hash. Never sent to a browser: convert with
/// [`UserRecord::public`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub phone: Option<String>,
    pub time_zone: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRecord {
    pub fn public(&self) -> User {
        User {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            time_zone: self.time_zone.clone(),
            role: self.role,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: String,
    display_name: String,
    password_hash: Option<String>,
    role: String,
    phone: Option<String>,
    time_zone: String,
    created_at: i64,
    updated_at: i64,
}

/// The columns that make a [`UserRow`], as a literal so queries stay `&'static str`.
macro_rules! user_columns {
    () => {
        "id, username, email, display_name, password_hash, role, phone, time_zone, created_at, updated_at"
    };
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let role =
            row.role.parse().map_err(|e: lectern_model::user::UnknownRole| StoreError::Corrupt(e.to_string()))?;
        Ok(UserRecord {
            id: row.id,
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            password_hash: row.password_hash,
            role,
            phone: row.phone,
            time_zone: row.time_zone,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Which role a new account gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialRole {
    /// Admin if this is the first account of the install, otherwise the given role.
    AdminIfFirst(Role),
    Exactly(Role),
}

/// A validated new account.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub phone: Option<String>,
    pub time_zone: String,
    pub role: InitialRole,
}

/// The editable part of a profile, validated.
#[derive(Clone, Debug)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub time_zone: String,
}

/// One page of users for the admin panel.
#[derive(Clone, Debug)]
pub struct UserPage {
    pub users: Vec<UserRecord>,
    pub total: i64,
}

impl Store {
    /// Insert a user. With [`InitialRole::AdminIfFirst`], deciding "first" and inserting happen
    /// atomically, so two people registering on a fresh install cannot both become admin.
    pub async fn insert_user(&self, new: &NewUser, now: i64) -> Result<UserRecord, StoreError> {
        let (role_if_first, role_otherwise) = match new.role {
            InitialRole::AdminIfFirst(role) => (Role::Admin, role),
            InitialRole::Exactly(role) => (role, role),
        };
        let sql = concat!(
            "INSERT INTO users (username, email, display_name, password_hash, phone, time_zone, role, created_at, updated_at) ",
            "VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN EXISTS (SELECT 1 FROM users) THEN $7 ELSE $8 END, $9, $9) ",
            "RETURNING ",
            user_columns!()
        );
        let row: UserRow = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if matches!(self, Store::Postgres(_)) {
                // SQLite serialises writers already; PostgreSQL needs the table locked against
                // other inserts so the EXISTS above sees a settled answer.
                sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
            }
            let row = sqlx::query_as(sql)
                .bind(&new.username)
                .bind(&new.email)
                .bind(&new.display_name)
                .bind(&new.password_hash)
                .bind(&new.phone)
                .bind(&new.time_zone)
                .bind(role_otherwise.as_str())
                .bind(role_if_first.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_query)?;
            tx.commit().await?;
            row
        });
        row.try_into()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Look a user up by username or email, as typed at login (already lower-cased).
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1 OR email = $1 LIMIT 1");
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(sql).bind(login).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    pub async fn username_taken(&self, username: &str) -> Result<bool, StoreError> {
        let sql = "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(username).fetch_one(pool).await)?)
    }

    /// Whether another user than `except` uses this email.
    pub async fn email_taken(&self, email: &str, except: Option<i64>) -> Result<bool, StoreError> {
        let sql = "SELECT EXISTS (SELECT 1 FROM users WHERE email = $1 AND id <> $2)";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(email).bind(except.unwrap_or(0)).fetch_one(pool).await)?)
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await)?)
    }

    pub async fn update_profile(
        &self,
        user_id: i64,
        update: &ProfileUpdate,
        now: i64,
    ) -> Result<UserRecord, StoreError> {
        let sql = concat!(
            "UPDATE users SET display_name = $1, email = $2, phone = $3, time_zone = $4, updated_at = $5 ",
            "WHERE id = $6 RETURNING ",
            user_columns!()
        );
        let row: UserRow = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(&update.display_name)
            .bind(&update.email)
            .bind(&update.phone)
            .bind(&update.time_zone)
            .bind(now)
            .bind(user_id)
            .fetch_one(pool)
            .await)
        .map_err(StoreError::from_query)?;
        row.try_into()
    }

    pub async fn set_password_hash(&self, user_id: i64, hash: &str, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3";
        on_pool!(self, pool => sqlx::query(sql).bind(hash).bind(now).bind(user_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Change a user's role and record who did it, in one transaction.
    pub async fn set_role(
        &self,
        actor_id: i64,
        user_id: i64,
        role: Role,
        now: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = concat!("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 RETURNING ", user_columns!());
        let detail = serde_json::json!({ "role": role.as_str() }).to_string();
        let row: Option<UserRow> = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row: Option<UserRow> = sqlx::query_as(sql)
                .bind(role.as_str())
                .bind(now)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if row.is_some() {
                sqlx::query(
                    "INSERT INTO audit_log (actor_id, action, target_user_id, detail, created_at) VALUES ($1, 'set_role', $2, $3, $4)",
                )
                .bind(actor_id)
                .bind(user_id)
                .bind(&detail)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            row
        });
        row.map(TryInto::try_into).transpose()
    }

    /// Users ordered by username, optionally filtered by a substring of username, name or email.
    pub async fn list_users(&self, filter: &str, limit: i64, offset: i64) -> Result<UserPage, StoreError> {
        let pattern =
            format!("%{}%", filter.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        macro_rules! matching {
            () => {
                " FROM users WHERE (username LIKE $1 ESCAPE '\\' OR email LIKE $1 ESCAPE '\\' OR LOWER(display_name) LIKE $1 ESCAPE '\\')"
            };
        }
        let list_sql = concat!("SELECT ", user_columns!(), matching!(), " ORDER BY username LIMIT $2 OFFSET $3");
        let count_sql = concat!("SELECT COUNT(*)", matching!());
        let (rows, total): (Vec<UserRow>, i64) = on_pool!(self, pool => {
            let rows = sqlx::query_as(list_sql).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            let total = sqlx::query_scalar(count_sql).bind(&pattern).fetch_one(pool).await?;
            (rows, total)
        });
        let users = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(UserPage { users, total })
    }
}
