//! Login sessions. The cookie carries a random token; the database holds only its SHA-256, so a
//! copy of the database cannot be used to sign in.

use super::users::{UserRecord, UserRow};
use super::{Store, StoreError, on_pool};

/// A new session's facts.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub now: i64,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A live session and its user.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub session_id: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user: UserRecord,
}

#[derive(sqlx::FromRow)]
struct SessionUserRow {
    session_id: i64,
    last_seen_at: i64,
    expires_at: i64,
    #[sqlx(flatten)]
    user: UserRow,
}

impl Store {
    pub async fn insert_session(&self, new: &NewSession<'_>) -> Result<i64, StoreError> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) \
                   VALUES ($1, $2, $3, $3, $4, $5, $6) RETURNING id";
        let id = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(new.token_hash)
            .bind(new.user_id)
            .bind(new.now)
            .bind(new.expires_at)
            .bind(new.ip)
            .bind(new.user_agent)
            .fetch_one(pool)
            .await)
        .map_err(StoreError::from_query)?;
        Ok(id)
    }

    /// The session with this token hash, if it has neither expired nor been idle since
    /// `idle_cutoff`.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
        idle_cutoff: i64,
    ) -> Result<Option<SessionUser>, StoreError> {
        let sql = concat!(
            "SELECT s.id AS session_id, s.last_seen_at, s.expires_at, ",
            "u.id, u.username, u.email, u.display_name, u.password_hash, u.role, u.phone, u.time_zone, u.created_at, u.updated_at ",
            "FROM sessions s JOIN users u ON u.id = s.user_id ",
            "WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3"
        );
        let row: Option<SessionUserRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(token_hash)
            .bind(now)
            .bind(idle_cutoff)
            .fetch_optional(pool)
            .await)?;
        row.map(|r| {
            Ok(SessionUser {
                session_id: r.session_id,
                last_seen_at: r.last_seen_at,
                expires_at: r.expires_at,
                user: r.user.try_into()?,
            })
        })
        .transpose()
    }

    /// Record activity, for the idle expiry.
    pub async fn touch_session(&self, session_id: i64, now: i64) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2").bind(now).bind(session_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let affected = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(affected > 0)
    }

    /// End every session of a user (password change, block).
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        let affected = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(affected)
    }

    /// Remove sessions that can no longer be used; returns how many.
    pub async fn delete_dead_sessions(&self, now: i64, idle_cutoff: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2";
        let affected = on_pool!(self, pool => sqlx::query(sql).bind(now).bind(idle_cutoff).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(affected)
    }
}
