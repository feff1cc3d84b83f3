//! Typed configuration: defaults, then a TOML file, then `LECTERN_*` environment variables.
//!
//! Every key and its default is documented in `lectern.sample.toml` at the repository root; a
//! test keeps that file and these defaults equal.
//!
//! Environment variables name a key by its path with `__` between levels, for example
//! `LECTERN_DATABASE__URL=postgres://...` or `LECTERN_SERVER__BIND=0.0.0.0:8443`.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub classes: ClassesConfig,
    pub log: LogConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// The URL people type to reach Lectern, when it differs from `bind` (behind a reverse
    /// proxy, or a LAN name). Used for links and to recognise same-origin requests.
    pub public_url: Option<String>,
    /// Where the built site lives (the wasm client, CSS and public assets).
    pub site_root: PathBuf,
    /// Serve HTTPS from these PEM files. Leave both unset behind a TLS-terminating proxy.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you control).
    pub trust_forwarded_for: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long in-flight requests get to finish after SIGTERM or Ctrl-C, in seconds.
    pub shutdown_grace_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (created on first start) or `postgres://user@host/db`.
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long to wait for a pooled connection, in seconds.
    pub acquire_timeout_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// A session ends this many hours after login, however active.
    pub session_absolute_hours: i64,
    /// Failed logins allowed for one account within `login_window_minutes`.
    pub login_failures_per_account: u32,
    /// Failed logins allowed from one address within `login_window_minutes`.
    pub login_failures_per_address: u32,
    pub login_window_minutes: i64,
    /// Let anyone create an account on the login page. When false, only admins
    /// (and `lectern create-admin`) add people, except the first account of a new install.
    pub open_registration: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassesConfig {
    /// Most occurrences one series may have (a weekly class for five years is 261).
    pub max_occurrences_per_series: u32,
    /// Longest single occurrence, in minutes.
    pub max_duration_minutes: i64,
    /// Largest capacity a class may have.
    pub max_capacity: i64,
    /// The live room opens this many minutes before an occurrence starts.
    pub join_opens_minutes_before: i64,
}

impl Default for ClassesConfig {
    fn default() -> Self {
        Self {
            max_occurrences_per_series: 600,
            max_duration_minutes: 12 * 60,
            max_capacity: 10_000,
            join_opens_minutes_before: 10,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, such as `info` or `lectern=debug,sqlx=warn`. `RUST_LOG` overrides it.
    pub filter: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            site_root: PathBuf::from("target/site"),
            tls_cert: None,
            tls_key: None,
            trust_forwarded_for: false,
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_grace_seconds: 10,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://data/lectern.db".into(), max_connections: 16, acquire_timeout_seconds: 10 }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 7 * 24 * 60,
            session_absolute_hours: 30 * 24,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            login_window_minutes: 15,
            open_registration: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { filter: "info".into(), format: LogFormat::Text }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    Missing { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Invalid(Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Inconsistent(String),
}

impl Config {
    /// Defaults, then `file` (if given, it must exist), then `LECTERN_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Missing { path: path.to_owned() });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("LECTERN_").ignore(&["CONFIG"]).split("__");
        let config: Config = figment.merge(env).extract().map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Inconsistent(m.into()));
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return bad("server.tls_cert and server.tls_key must be set together");
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad("server.public_url must start with http:// or https://");
        }
        if self.auth.session_idle_minutes <= 0 || self.auth.session_absolute_hours <= 0 {
            return bad("auth.session_idle_minutes and auth.session_absolute_hours must be positive");
        }
        if self.auth.login_window_minutes <= 0 {
            return bad("auth.login_window_minutes must be positive");
        }
        let classes = &self.classes;
        if classes.max_occurrences_per_series == 0 || classes.max_duration_minutes <= 0 || classes.max_capacity <= 0 {
            return bad("classes.max_occurrences_per_series, max_duration_minutes and max_capacity must be positive");
        }
        if classes.max_duration_minutes > 24 * 60 {
            return bad("classes.max_duration_minutes can be at most 1440 (one day)");
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections must be at least 1");
        }
        Ok(())
    }

    /// Whether browsers reach us over HTTPS, directly or through a proxy.
    pub fn served_over_https(&self) -> bool {
        self.server.tls_cert.is_some() || self.server.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    const SAMPLE: &str = include_str!("../../../lectern.sample.toml");

    #[test]
    fn the_sample_file_documents_exactly_the_defaults() {
        let from_sample: Config = Figment::from(Toml::string(SAMPLE)).extract().expect("sample parses");
        assert_eq!(from_sample, Config::default());
        // Every key, including those unset by default, is named in the sample.
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let sections = defaults.as_object().unwrap();
        for (section, keys) in sections {
            assert!(SAMPLE.contains(&format!("[{section}]")), "section [{section}] missing from the sample");
            for key in keys.as_object().unwrap().keys() {
                let named = SAMPLE.lines().any(|l| {
                    let l = l.trim_start_matches(['#', ' ']);
                    l.starts_with(&format!("{key} ="))
                });
                assert!(named, "{section}.{key} is not documented in lectern.sample.toml");
            }
        }
    }

    #[test]
    fn file_then_environment_override_the_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("lectern.toml", "[server]\nbind = \"0.0.0.0:8080\"\n[auth]\nopen_registration = false\n")?;
            jail.set_env("LECTERN_DATABASE__URL", "postgres://lectern@db/lectern");
            jail.set_env("LECTERN_AUTH__LOGIN_WINDOW_MINUTES", "30");
            jail.set_env("LECTERN_CONFIG", "ignored.toml");
            let config = Config::load(Some(Path::new("lectern.toml"))).expect("loads");
            assert_eq!(config.server.bind.to_string(), "0.0.0.0:8080");
            assert!(!config.auth.open_registration);
            assert_eq!(config.database.url, "postgres://lectern@db/lectern");
            assert_eq!(config.auth.login_window_minutes, 30);
            Ok(())
        });
    }

    #[test]
    fn bad_configuration_is_refused_with_the_reason() {
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[server]\nbnd = \"0.0.0.0:1\"\n")?;
            let err = Config::load(Some(Path::new("typo.toml"))).unwrap_err().to_string();
            assert!(err.contains("bnd"), "{err}");

            jail.create_file("half-tls.toml", "[server]\ntls_cert = \"c.pem\"\n")?;
            let err = Config::load(Some(Path::new("half-tls.toml"))).unwrap_err().to_string();
            assert!(err.contains("tls_key"), "{err}");

            let err = Config::load(Some(Path::new("nope.toml"))).unwrap_err().to_string();
            assert!(err.contains("nope.toml"), "{err}");

            jail.set_env("LECTERN_SERVER__BIND", "not an address");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
