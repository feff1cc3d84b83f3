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
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub classes: ClassesConfig,
    pub room: RoomConfig,
    pub cluster: ClusterConfig,
    pub media: MediaConfig,
    pub uploads: UploadsConfig,
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

/// The live room: its WebSocket, chat and polls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    /// Largest WebSocket message a client may send, in bytes; a larger one closes the socket
    /// with code 1009.
    pub max_frame_bytes: usize,
    /// Messages per second one connection may send, on average...
    pub messages_per_second: u32,
    /// ...and in a burst.
    pub message_burst: u32,
    /// Messages waiting to be sent to one client; a client that falls this far behind is
    /// disconnected (it reconnects and resumes) so that it cannot slow the room.
    pub client_queue: usize,
    /// Longest chat message, in characters.
    pub chat_max_chars: usize,
    /// Chat messages a joining client receives (and most a reconnecting one catches up on).
    pub history_messages: u32,
    /// Most options one poll may have, and the longest question and option, in characters.
    pub poll_max_options: usize,
    pub poll_question_max_chars: usize,
    pub poll_option_max_chars: usize,
    /// Longest reason given with a report or a block, in characters.
    pub reason_max_chars: usize,
    /// Seconds between WebSocket pings; a client that misses two is dropped.
    pub ping_seconds: u64,
    /// Seconds an empty room keeps its state (hands, chat lock, mutes) before it is closed.
    pub idle_close_seconds: u64,
    /// Whiteboard: most pages on a class's board...
    pub board_max_pages: usize,
    /// ...drawings on one page (erased ones count: undo can bring them back)...
    pub board_max_shapes_per_page: usize,
    /// ...points in one stroke, characters in one text...
    pub board_max_points: usize,
    pub board_max_text_chars: usize,
    /// ...and drawings one erase, restore or move may name.
    pub board_max_ids_per_op: usize,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            messages_per_second: 10,
            message_burst: 20,
            client_queue: 512,
            chat_max_chars: 2_000,
            history_messages: 200,
            poll_max_options: 10,
            poll_question_max_chars: 300,
            poll_option_max_chars: 200,
            reason_max_chars: 500,
            ping_seconds: 20,
            idle_close_seconds: 60,
            board_max_pages: 300,
            board_max_shapes_per_page: 10_000,
            board_max_points: 5_000,
            board_max_text_chars: 1_000,
            board_max_ids_per_op: 2_000,
        }
    }
}

/// Several nodes: with a Redis URL, live rooms are shared across nodes through Redis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://host:port`. Unset: this node serves its rooms alone. The plain `REDIS_URL`
    /// environment variable is read when this key is unset.
    pub redis_url: Option<String>,
    /// Starts every Redis key and channel Lectern uses (`<prefix>:room:<class>:owner`), so that
    /// several deployments can share one Redis. The nodes of one deployment use the same prefix.
    pub key_prefix: String,
    /// Seconds a node's claim on a room lasts without renewal (renewed every third of it). When
    /// a node dies, its rooms move to other nodes after about this long.
    pub claim_ttl_seconds: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { redis_url: None, key_prefix: "lectern".into(), claim_ttl_seconds: 10 }
    }
}

/// Live audio and video: the selective forwarding unit (SFU) inside this server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// False: rooms have chat, polls and hands but no audio or video.
    pub enabled: bool,
    /// The address the SFU's UDP sockets bind to.
    pub bind_ip: IpAddr,
    /// The first UDP port: worker `i` listens on `udp_port + i`. 0 picks free ports (tests).
    pub udp_port: u16,
    /// SFU worker threads, each with its own UDP port and its own classes. 0: one per core.
    pub workers: usize,
    /// The addresses browsers send media to: the public address when the server is behind NAT.
    /// Empty: the bind address, or 127.0.0.1 when it binds every address.
    pub announced_ips: Vec<IpAddr>,
    /// STUN/TURN servers handed to browsers, for networks that block UDP (see docs/media.md
    /// for a coturn setup).
    pub ice_servers: Vec<IceServerConfig>,
    /// Media connections one class may have (people with the room open and media on).
    pub max_participants: usize,
    /// People who may publish audio or video at once in one class (teachers included).
    pub max_publishers: usize,
    /// Highest bitrate of a camera's top simulcast layer, in kbit/s.
    pub camera_max_kbps: u32,
    /// Highest bitrate of a screen share, in kbit/s.
    pub screen_max_kbps: u32,
    /// Highest bitrate of a microphone, in kbit/s.
    pub audio_max_kbps: u32,
    /// Video tiles one browser receives at once besides the teacher and a screen share
    /// ("last N"): the most recent speakers.
    pub last_n: usize,
    /// Seconds a participant whose connection dropped keeps their media and place.
    pub rejoin_grace_seconds: u64,
    /// Kernel buffer asked for each worker's UDP socket, each way, in KiB. While a worker
    /// sends one packet to 300 students, the others queue here; the kernel's default (about
    /// 200 KiB, some 90 full datagrams) drops the teacher's packets, and a much deeper one
    /// lets an overloaded worker fall seconds behind. The kernel caps it at
    /// `net.core.rmem_max` / `wmem_max`.
    pub socket_buffer_kib: u32,
    /// A worker that cannot keep up holds its students' video to a lower simulcast layer until
    /// it can (docs/media.md). False: it forwards everything and falls behind.
    pub shed_load: bool,
    /// How the SFU judges what each student's downlink carries, to pick their video layers.
    pub downlink_estimate: DownlinkEstimate,
}

/// How the SFU judges a student's downlink (docs/media.md, "Downlinks").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DownlinkEstimate {
    /// From the packets the student's browser reports lost: cuts on loss, grows back slowly.
    /// The loss comes from its transport-wide feedback (about 20 reports a second).
    #[default]
    Loss,
    /// As `Loss`, from receiver reports alone (about one a second): the browser is not asked
    /// for transport-wide feedback on what it receives, which saves the worker a feedback
    /// stream per student and some work on every packet, but the estimate hears of loss up to
    /// a second later.
    ReceiverReports,
    /// str0m's transport-wide estimator (delay and loss, with probing): reacts before packets
    /// are lost, but costs the worker 30–80% more CPU per packet forwarded.
    TransportCc,
}

/// One entry of the browser's `iceServers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServerConfig {
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential: Option<String>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            udp_port: 40000,
            workers: 0,
            announced_ips: Vec::new(),
            ice_servers: Vec::new(),
            max_participants: 1000,
            max_publishers: 8,
            camera_max_kbps: 1500,
            screen_max_kbps: 2500,
            audio_max_kbps: 64,
            last_n: 4,
            rejoin_grace_seconds: 20,
            socket_buffer_kib: 1024,
            shed_load: true,
            downlink_estimate: DownlinkEstimate::Loss,
        }
    }
}

/// Files teachers upload: PDF slides and files shared with a class. Every upload is treated as
/// hostile: its type is read from its bytes, it is stored under a generated name, and PDFs are
/// rendered in a separate process with the limits below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Where uploaded files and rendered slides are kept. Several nodes must share it.
    pub dir: PathBuf,
    /// Largest upload, in bytes.
    pub max_file_bytes: usize,
    /// Most pages a PDF may have to become slides.
    pub pdf_max_pages: usize,
    /// Width of a rendered slide, in pixels.
    pub slide_width_px: u32,
    /// Most pixels one rendered slide may have (a very tall page is refused, not shrunk).
    pub slide_max_pixels: u64,
    /// Seconds a whole PDF may take to render before it is refused.
    pub pdf_render_seconds: u64,
    /// Memory the rendering process may use, in MiB.
    pub pdf_render_memory_mib: u64,
    /// PDFs rendered at once on this node; more wait their turn.
    pub pdf_renders_at_once: usize,
    /// The program that renders PDFs, run as `<program> render-slides ...`. Empty: this lectern
    /// binary. A sandboxing wrapper (bwrap, firejail) around lectern can be named here.
    pub pdf_renderer: Option<PathBuf>,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data/files"),
            max_file_bytes: 50 * 1024 * 1024,
            pdf_max_pages: 200,
            slide_width_px: 1920,
            slide_max_pixels: 8_000_000,
            pdf_render_seconds: 60,
            pdf_render_memory_mib: 1024,
            pdf_renders_at_once: 1,
            pdf_renderer: None,
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
        let mut config: Config = figment.merge(env).extract().map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        if config.cluster.redis_url.is_none() {
            config.cluster.redis_url = std::env::var("REDIS_URL").ok().filter(|u| !u.trim().is_empty());
        }
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
        let room = &self.room;
        if room.max_frame_bytes < 1024 || room.messages_per_second == 0 || room.client_queue < 16 {
            return bad(
                "room.max_frame_bytes must be at least 1024, room.client_queue at least 16, and room.messages_per_second positive",
            );
        }
        if room.message_burst < room.messages_per_second {
            return bad("room.message_burst must be at least room.messages_per_second");
        }
        if room.board_max_pages == 0
            || room.board_max_shapes_per_page == 0
            || room.board_max_points < 2
            || room.board_max_text_chars == 0
            || room.board_max_ids_per_op == 0
        {
            return bad("room.board_max_* must be positive (board_max_points at least 2)");
        }
        if room.poll_max_options < 2 || room.chat_max_chars == 0 || room.ping_seconds == 0 {
            return bad("room.poll_max_options must be at least 2; room.chat_max_chars and room.ping_seconds positive");
        }
        if let Some(url) = &self.cluster.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return bad("cluster.redis_url must start with redis:// or rediss://");
        }
        let prefix = &self.cluster.key_prefix;
        if prefix.is_empty() || prefix.contains(|c: char| c.is_whitespace() || "*?[]\\".contains(c)) {
            return bad("cluster.key_prefix must be non-empty, without spaces or any of * ? [ ] \\");
        }
        let media = &self.media;
        if media.max_participants == 0 || media.max_publishers == 0 || media.rejoin_grace_seconds == 0 {
            return bad("media.max_participants, media.max_publishers and media.rejoin_grace_seconds must be positive");
        }
        if media.camera_max_kbps < 100 || media.screen_max_kbps < 100 || media.audio_max_kbps < 8 {
            return bad(
                "media.camera_max_kbps and media.screen_max_kbps must be at least 100, media.audio_max_kbps at least 8",
            );
        }
        if !(64..=262_144).contains(&media.socket_buffer_kib) {
            return bad("media.socket_buffer_kib must be between 64 and 262144 (256 MiB)");
        }
        if media.workers > 256 || media.last_n > 25 {
            return bad("media.workers can be at most 256 and media.last_n at most 25");
        }
        if media.udp_port != 0 && usize::from(media.udp_port) + media.workers.max(1) > 65536 {
            return bad("media.udp_port plus media.workers must stay below 65536");
        }
        if media.ice_servers.iter().any(|s| {
            s.urls.is_empty()
                || s.urls.iter().any(|u| !u.starts_with("stun:") && !u.starts_with("turn:") && !u.starts_with("turns:"))
        }) {
            return bad("each media.ice_servers entry needs urls starting with stun:, turn: or turns:");
        }
        let uploads = &self.uploads;
        if uploads.max_file_bytes < 1024 || uploads.pdf_max_pages == 0 || uploads.pdf_renders_at_once == 0 {
            return bad(
                "uploads.max_file_bytes must be at least 1024; uploads.pdf_max_pages and pdf_renders_at_once positive",
            );
        }
        if !(64..=8192).contains(&uploads.slide_width_px)
            || uploads.slide_max_pixels < u64::from(uploads.slide_width_px) * 64
        {
            return bad("uploads.slide_width_px must be 64 to 8192, and slide_max_pixels at least 64 rows of it");
        }
        if uploads.pdf_render_seconds == 0 || uploads.pdf_render_memory_mib < 64 {
            return bad("uploads.pdf_render_seconds must be positive and pdf_render_memory_mib at least 64");
        }
        if self.cluster.claim_ttl_seconds == 0 {
            return bad("cluster.claim_ttl_seconds must be positive");
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

            // The prefix is part of a PSUBSCRIBE pattern: glob characters would match other keys.
            jail.create_file("glob.toml", "[cluster]\nkey_prefix = \"school*\"\n")?;
            let err = Config::load(Some(Path::new("glob.toml"))).unwrap_err().to_string();
            assert!(err.contains("key_prefix"), "{err}");

            jail.create_file("turn.toml", "[[media.ice_servers]]\nurls = [\"http://turn.example\"]\n")?;
            let err = Config::load(Some(Path::new("turn.toml"))).unwrap_err().to_string();
            assert!(err.contains("media.ice_servers"), "{err}");
            jail.create_file("caps.toml", "[media]\ncamera_max_kbps = 10\n")?;
            let err = Config::load(Some(Path::new("caps.toml"))).unwrap_err().to_string();
            assert!(err.contains("camera_max_kbps"), "{err}");
            jail.create_file("buffer.toml", "[media]\nsocket_buffer_kib = 16\n")?;
            let err = Config::load(Some(Path::new("buffer.toml"))).unwrap_err().to_string();
            assert!(err.contains("socket_buffer_kib"), "{err}");
            jail.create_file("ip.toml", "[media]\nannounced_ips = [\"not-an-ip\"]\n")?;
            assert!(Config::load(Some(Path::new("ip.toml"))).is_err());
            jail.create_file("downlink.toml", "[media]\ndownlink_estimate = \"guess\"\n")?;
            let err = Config::load(Some(Path::new("downlink.toml"))).unwrap_err().to_string();
            assert!(err.contains("downlink_estimate") && err.contains("transport-cc"), "{err}");
            jail.create_file("twcc.toml", "[media]\ndownlink_estimate = \"transport-cc\"\n")?;
            let config = Config::load(Some(Path::new("twcc.toml"))).expect("a valid choice");
            assert_eq!(config.media.downlink_estimate, DownlinkEstimate::TransportCc);
            jail.create_file("reports.toml", "[media]\ndownlink_estimate = \"receiver-reports\"\n")?;
            let config = Config::load(Some(Path::new("reports.toml"))).expect("a valid choice");
            assert_eq!(config.media.downlink_estimate, DownlinkEstimate::ReceiverReports);

            jail.set_env("LECTERN_SERVER__BIND", "not an address");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
