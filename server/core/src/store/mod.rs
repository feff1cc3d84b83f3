//! The database: an embedded SQLite file by default, PostgreSQL when several nodes share it.
//!
//! Both backends run the same SQL text wherever the dialects agree (they do for everything so
//! far: `$n` placeholders, `RETURNING`, `ON CONFLICT`), through [`on_pool!`], which expands one
//! query body for each pool type. Where they differ, a function matches on [`Store`] itself.
//! Times are Unix milliseconds (`i64`) in both.

use crate::config::DatabaseConfig;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

pub mod audit;
pub mod board;
pub mod classes;
pub mod files;
pub mod room;
pub mod schedule;
pub mod sessions;
pub mod users;

/// A pool of connections to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run the same query body against whichever pool `store` holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} is not supported: use sqlite://<file> or postgres://<user>@<host>/<database>")]
    UnsupportedUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database at {target}: {source}")]
    Open { target: String, source: sqlx::Error },
    #[error("cannot migrate the database at {target}: {source}")]
    Migrate { target: String, source: sqlx::migrate::MigrateError },
    /// A unique constraint refused the write; `column` names what was taken, when known.
    #[error("{column} is already taken")]
    Duplicate { column: String },
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Sort a failed query: unique violations become [`StoreError::Duplicate`] naming the
    /// column, so callers can say which field is taken.
    pub(crate) fn from_query(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return StoreError::Duplicate { column: duplicate_column(db.as_ref()) };
        }
        StoreError::Database(err)
    }
}

/// The column behind a unique violation: PostgreSQL names the constraint (`users_email_key`),
/// SQLite puts `table.column` in its message (`UNIQUE constraint failed: users.email`).
fn duplicate_column(db: &dyn sqlx::error::DatabaseError) -> String {
    if let (Some(constraint), Some(table)) = (db.constraint(), db.table()) {
        let column = constraint.strip_prefix(table).and_then(|c| c.strip_prefix('_')).unwrap_or(constraint);
        return column.strip_suffix("_key").unwrap_or(column).to_owned();
    }
    let message = db.message();
    message
        .rsplit_once(": ")
        .map(|(_, cols)| cols.split(", ").map(|c| c.rsplit('.').next().unwrap_or(c)).collect::<Vec<_>>().join(","))
        .unwrap_or_else(|| "value".to_owned())
}

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Store {
    /// Open the database named by `config.url`, creating a SQLite file and its folder if needed,
    /// and apply every pending migration.
    pub async fn open(config: &DatabaseConfig) -> Result<Store, StoreError> {
        let url = config.url.trim();
        let target = redact_url(url);
        let acquire_timeout = Duration::from_secs(config.acquire_timeout_seconds);
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|source| StoreError::Open { target: target.clone(), source })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let file = options.get_filename();
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| StoreError::CreateDir { path: dir.to_owned(), source })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| StoreError::Open { target: target.clone(), source })?;
            Store::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|source| StoreError::Open { target: target.clone(), source })?;
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|source| StoreError::Open { target: target.clone(), source })?;
            Store::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(target));
        };
        store.migrate().await.map_err(|source| StoreError::Migrate { target, source })?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("../../migrations/sqlite").run(pool).await,
            Store::Postgres(pool) => sqlx::migrate!("../../migrations/postgres").run(pool).await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Round-trip a trivial query; returns how long it took.
    pub async fn ping(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(started.elapsed())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// The URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact_url("postgres://lectern:s3cret@db:5432/lectern"), "postgres://lectern:***@db:5432/lectern");
        assert_eq!(redact_url("postgres://lectern@db/lectern"), "postgres://lectern@db/lectern");
        assert_eq!(redact_url("sqlite://data/lectern.db"), "sqlite://data/lectern.db");
    }
}
