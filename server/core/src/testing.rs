//! Test support: a fresh database per test, on SQLite or on PostgreSQL, so one suite runs
//! against both. Enabled by the `testing` feature (dev-dependencies only).
//!
//! PostgreSQL tests use `LECTERN_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and isolate each test in a schema of its own.

use crate::config::Config;
use crate::state::AppState;
use crate::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};

const SCHEMA_PREFIX: &str = "lectern_test_";

pub fn postgres_url() -> String {
    std::env::var("LECTERN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database and the state around it.
pub struct TestDb {
    pub state: AppState,
    /// The SQLite file and the uploads.
    _dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        Self::with_config(backend, Config::default()).await
    }

    /// `config.database.url` is replaced by the test database, uploads go to a temporary
    /// folder, and tests never take fixed UDP ports: the SFU binds free loopback ports.
    pub async fn with_config(backend: Backend, mut config: Config) -> TestDb {
        config.media.udp_port = 0;
        config.media.bind_ip = std::net::Ipv4Addr::LOCALHOST.into();
        config.media.workers = config.media.workers.clamp(1, 2);
        let dir = tempfile::tempdir().expect("temp dir");
        config.uploads.dir = dir.path().join("files");
        match backend {
            Backend::Sqlite => {
                config.database.url = format!("sqlite://{}/lectern.db", dir.path().display());
                let state = AppState::open(config).await.expect("open SQLite test database");
                TestDb { state, _dir: dir, schema: None }
            }
            Backend::Postgres => {
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let base = postgres_url();
                let admin = sqlx::PgPool::connect(&base)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL tests need a server at {base} ({e}); see README.md"));
                sweep_abandoned_schemas(&admin).await;
                let schema =
                    format!("{SCHEMA_PREFIX}{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .expect("create schema");
                admin.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                config.database.url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                config.database.max_connections = 4;
                let state = AppState::open(config).await.expect("open PostgreSQL test database");
                TestDb { state, _dir: dir, schema: Some(schema) }
            }
        }
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Close the pool and drop the test's schema. A test that panics leaves its schema behind;
    /// the next run sweeps it.
    pub async fn finish(self) {
        self.state.store.close().await;
        if let Some(schema) = &self.schema
            && let Ok(admin) = sqlx::PgPool::connect(&postgres_url()).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

/// Drop test schemas left by processes that no longer run.
async fn sweep_abandoned_schemas(admin: &sqlx::PgPool) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'lectern_test_%'")
            .fetch_all(admin)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.trim_start_matches(SCHEMA_PREFIX).split('_').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ =
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE"))).execute(admin).await;
        }
    }
}

/// Define each listed `async fn name(db: &TestDb)` as two tests, `sqlite::name` and
/// `postgres::name`. `on_both_databases!(config = expr; names...)` opens each database with the
/// config `expr` gives (evaluated in the test modules: name a function as `super::f()`).
#[macro_export]
macro_rules! on_both_databases {
    (config = $config:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::with_config($crate::testing::Backend::Sqlite, $config).await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::with_config($crate::testing::Backend::Postgres, $config).await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_databases!(config = $crate::config::Config::default(); $($name),*);
    };
}
