//! The `lectern` server as a child process of a load tool, so that its CPU time and memory are
//! its own.

use super::fixture::Fixture;
use super::{Failure, fail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server gets to answer `/healthz` after it starts.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// `target/<profile>/lectern`, beside the `examples` folder this program runs from.
pub fn default_server() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    profile_dir.join("lectern")
}

/// The `lectern` process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub pid: String,
    pub addr: String,
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Quote a string for TOML (a JSON string is a valid TOML basic string).
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Variables that would point the server elsewhere than this run's database and port.
fn must_not_pass(name: &str) -> bool {
    name == "REDIS_URL"
        || name == "LECTERN_CONFIG"
        || name.starts_with("LECTERN_DATABASE__")
        || name.starts_with("LECTERN_SERVER__")
        || name.starts_with("LECTERN_CLUSTER__")
}

/// Where and how a load tool starts the server.
#[derive(Clone, Copy, Debug)]
pub struct Launch<'a> {
    /// TOML appended to the generated config (sections other than `[server]` and `[database]`).
    pub extra_config: &'a str,
    /// A `taskset -c` list: keeps the server on those cores.
    pub pin_cpus: Option<&'a str>,
    /// A network namespace to run it in (`ip netns exec`), and its address there.
    pub netns: Option<&'a str>,
    pub ip: std::net::IpAddr,
}

impl Default for Launch<'_> {
    fn default() -> Self {
        Self { extra_config: "", pin_cpus: None, netns: None, ip: std::net::Ipv4Addr::LOCALHOST.into() }
    }
}

/// The command that runs `binary` as `launch` says: `[ip netns exec NS] [taskset -c CPUS] binary`.
/// Both exec the next program, so the child's pid is the program's.
pub fn launch_command(binary: &Path, launch: &Launch) -> Command {
    let mut words: Vec<std::ffi::OsString> = Vec::new();
    if let Some(ns) = launch.netns {
        words.extend(["ip".into(), "netns".into(), "exec".into(), ns.into()]);
    }
    if let Some(cpus) = launch.pin_cpus {
        words.extend(["taskset".into(), "-c".into(), cpus.into()]);
    }
    words.push(binary.as_os_str().to_owned());
    let mut command = Command::new(&words[0]);
    command.args(&words[1..]);
    command
}

/// Start `binary` on the fixture's database and a free port.
pub async fn start_server(binary: &Path, fixture: &Fixture, launch: Launch<'_>) -> Result<Server, Failure> {
    if !binary.is_file() {
        return Err(format!(
            "no server binary at {} (build it: cargo build --release -p server --bin lectern, or pass --server PATH)",
            binary.display()
        ));
    }
    // A port free here; in a namespace of its own every port is.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail("find a free port", e))?;
        probe.local_addr().map_err(|e| fail("find a free port", e))?.port()
    };
    let addr = std::net::SocketAddr::new(launch.ip, port).to_string();
    let extra_config = launch.extra_config;
    let dir = fixture.dir.path();
    let config = format!(
        "[server]\nbind = {}\nsite_root = {}\n\n[database]\nurl = {}\n\n{extra_config}\n",
        toml_string(&addr),
        toml_string(&dir.join("site").display().to_string()),
        toml_string(&fixture.db_url),
    );
    let config_path = dir.join("lectern.toml");
    std::fs::write(&config_path, config).map_err(|e| fail("write the server config", e))?;
    let log = dir.join("server.log");
    let out = std::fs::File::create(&log).map_err(|e| fail("create the server log", e))?;
    let err = out.try_clone().map_err(|e| fail("create the server log", e))?;
    let mut command = launch_command(binary, &launch);
    command.arg("--config").arg(&config_path).arg("serve").current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if must_not_pass(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    let child = command.spawn().map_err(|e| fail(&format!("start {}", binary.display()), e))?;
    let mut server = Server { pid: child.id().to_string(), child, addr, log };

    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| fail("HTTP client", e))?;
    let url = format!("http://{}/healthz", server.addr);
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("the server exited at startup ({status}):\n{}", server.log_tail()));
        }
        if let Ok(res) = http.get(&url).send().await
            && res.status().is_success()
        {
            return Ok(server);
        }
        if Instant::now() >= deadline {
            return Err(format!("no answer from {url} within {STARTUP_TIMEOUT:?}:\n{}", server.log_tail()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
