//! The server on a real socket (TLS, graceful shutdown) and the `lectern` command line.

use lectern_core::AppState;
use lectern_core::config::Config;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::net::TcpListener;

const PASSWORD: &str = "violet-anchor-trombone";

fn lectern() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lectern"));
    // Only the variables each test sets: nothing from the developer's environment.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("LECTERN_")) {
        cmd.env_remove(key);
    }
    cmd.env("RUST_LOG", "warn");
    // Free UDP ports for the SFU, so that tests can run side by side.
    cmd.env("LECTERN_MEDIA__UDP_PORT", "0").env("LECTERN_MEDIA__BIND_IP", "127.0.0.1");
    cmd
}

async fn sqlite_config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}/lectern.db", dir.path().display());
    // Free UDP ports for the SFU: these tests run side by side.
    config.media.udp_port = 0;
    config.media.bind_ip = std::net::Ipv4Addr::LOCALHOST.into();
    config
}

#[tokio::test]
async fn serves_https_with_secure_cookies_and_stops_gracefully() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    let mut config = sqlite_config(&dir).await;
    config.server.tls_cert = Some(cert_path);
    config.server.tls_key = Some(key_path);
    let state = AppState::open(config).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve::serve_on(listener, state, async move {
        let _ = stop_rx.await;
    }));

    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let base = format!("https://localhost:{port}");
    let health: serde_json::Value = client.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let registered = client
        .post(format!("{base}/api/register"))
        .header("accept", "application/json")
        .form(&[
            ("username", "ada"),
            ("email", "ada@example.org"),
            ("display_name", "Ada"),
            ("password", PASSWORD),
            ("time_zone", "UTC"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = registered.headers().get("set-cookie").expect("session cookie").to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "cookies over TLS are Secure: {cookie}");
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    stop_tx.send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(15), server).await.expect("stops within the grace period");
    stopped.unwrap().unwrap();
}

#[tokio::test]
async fn plain_http_stops_when_asked_and_frees_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(sqlite_config(&dir).await).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve::serve_on(listener, state, async move {
        let _ = stop_rx.await;
    }));
    assert!(reqwest::get(format!("http://{addr}/healthz")).await.unwrap().status().is_success());
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server).await.expect("stops").unwrap().unwrap();
    assert!(TcpListener::bind(addr).await.is_ok(), "the port is released");
}

#[test]
fn the_binary_serves_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = lectern()
        .arg("serve")
        .env("LECTERN_DATABASE__URL", format!("sqlite://{}/data/lectern.db", dir.path().display()))
        .env("LECTERN_SERVER__BIND", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let up = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(up, "lectern serve did not start");
    assert!(dir.path().join("data/lectern.db").exists(), "the SQLite file and its folder are created on first start");
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn a_database_that_cannot_be_opened_stops_with_its_path_and_reason() {
    let out = lectern()
        .arg("migrate")
        .env("LECTERN_DATABASE__URL", "sqlite:///proc/no-such-place/lectern.db")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/proc/no-such-place"), "{stderr}");

    let out = lectern()
        .arg("migrate")
        .env("LECTERN_DATABASE__URL", "postgres://lectern:hunter2@127.0.0.1:1/lectern")
        .env("LECTERN_DATABASE__ACQUIRE_TIMEOUT_SECONDS", "2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("postgres://lectern:***@127.0.0.1:1/lectern"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password is never printed: {stderr}");

    let out = lectern().args(["--config", "/nonexistent/lectern.toml", "migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/lectern.toml"));
}

#[test]
fn migrate_and_create_admin_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/lectern.db", dir.path().display());
    let config = dir.path().join("lectern.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{url}\"\n")).unwrap();

    let out = lectern().args(["--config", config.to_str().unwrap(), "migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    let create = |username: &str, password: &str| {
        let mut child = lectern()
            .args(["--config", config.to_str().unwrap(), "create-admin", "--username", username, "--email"])
            .arg(format!("{username}@example.org"))
            .args(["--time-zone", "Europe/Paris"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("root", PASSWORD);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created admin root"));

    let again = create("root", "password");
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("username: This username is taken") && stderr.contains("password: This password is too common"),
        "{stderr}"
    );
}

#[test]
fn demo_fills_an_empty_install_once_and_prints_the_logins() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/lectern.db", dir.path().display());
    let out = lectern()
        .args(["demo", "--no-serve", "--time-zone", "Europe/Berlin"])
        .env("LECTERN_DATABASE__URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("teacher:  teacher") && stdout.contains("student1, student2"), "{stdout}");
    assert!(stdout.contains("Physics Lab"), "{stdout}");
    let password = stdout.split("password is: ").nth(1).unwrap().lines().next().unwrap().trim().to_owned();
    assert_eq!(password.split('-').count(), 4, "a readable random password: {password}");

    // The demo's classes exist, one of them running now, with the students enrolled.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = Config::default();
        config.database.url = url.clone();
        let state = AppState::open(config).await.unwrap();
        let session =
            lectern_core::accounts::login(&state, "student1", &password, &Default::default(), lectern_core::now_ms())
                .await
                .expect("the printed password signs in");
        let me = lectern_core::accounts::authenticate(&state, &session.token, lectern_core::now_ms())
            .await
            .unwrap()
            .unwrap();
        let upcoming = lectern_core::accounts::upcoming(&state, &me, lectern_core::now_ms()).await.unwrap();
        assert!(upcoming.iter().any(|o| o.title.starts_with("Physics Lab") && o.starts_at <= lectern_core::now_ms()));
        assert!(upcoming.len() >= 4, "{upcoming:?}");
        state.store.close().await;
    });

    let again = lectern().args(["demo", "--no-serve"]).env("LECTERN_DATABASE__URL", &url).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("only fills an empty one"));
}
