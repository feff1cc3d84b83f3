//! SFU load tool: one publisher and N subscribers against Lectern's SFU or Janus's VideoRoom,
//! on this machine's loopback. A measurement, not a test: it exits non-zero only when a run
//! could not be set up.
//!
//! ```text
//! cargo build --release -p server --bin lectern --example sfu_load
//! target/release/examples/sfu_load [--sfu lectern|janus] [--subscribers N] [--seconds D]
//!     [--warmup W] [--storm S] [--kbps K] [--server-cpus LIST] [--json]
//! target/release/examples/sfu_load --matrix --sfu lectern,janus --subscribers 50,100,200 --repeat 3
//! ```
//!
//! `bench/sfu.sh` installs Janus and runs the benchmark recorded in `docs/benchmarks.md` ("SFU").
//!
//! # One run
//!
//! 1. The server under test as a child process, pinned with `taskset -c <--server-cpus>` when
//!    given: `lectern` (beside this program, or `--server`) on a fresh SQLite database with a
//!    teacher and N enrolled students and media on one worker; or `janus -F bench/janus`
//!    (`--janus`, `--janus-config`), HTTP on 127.0.0.1:8088, VideoRoom room 1234.
//! 2. The publisher joins (Lectern: the teacher's room WebSocket and `media_offer`; Janus:
//!    VideoRoom `publish`) and sends synthetic VP8 simulcast (`--kbps` for the top layer, a
//!    third and a tenth of it for the others, 30 fps, a keyframe every 3 s and whenever asked)
//!    and 32 kbit/s Opus. Every packet carries a stamp with its send time (see `payload`).
//! 3. N subscribers join, 32 at a time, or all within `--storm` seconds, evenly spread. Each
//!    receives the camera's top layer it can get and the microphone.
//! 4. After `--warmup` seconds (bandwidth estimates settle), `--seconds` are measured: every
//!    packet a subscriber receives is decrypted by str0m and checked (its stamp, its sequence
//!    number); one-way latency is the datagram's arrival at the subscriber's socket (the
//!    kernel's receive timestamp) minus the stamp's send time (one clock, one process), and is
//!    also reported as read by the tool, which adds the tool's own queue; loss is sequence
//!    numbers never received, after NACK had two seconds to repair them. The server's CPU
//!    time and memory come from `/proc/<pid>`.
//!
//! The report: packets forwarded per second, loss, latency p50/p99/p99.9, time from the start
//! of a subscriber's join to its first whole video frame, the keyframes the publisher was
//! asked for, the server's CPU (per forwarded packet too) and resident memory, and the UDP
//! datagrams dropped for a full socket buffer in the server's network namespace.
//!
//! Traffic goes to 127.0.0.1, or with `--netns` to the namespace `bench/sfu.sh` makes; every
//! wait is bounded. `SFU_LOAD_DEBUG=1` prints each student's welcome and the server's log tail.

mod camera;
mod janus;
mod lectern;
mod media;
mod metrics;
mod payload;
#[path = "../support/mod.rs"]
mod support;

use camera::Camera;
use media::{Media, MediaReport, Role};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::proc_stats::{ProcSample, UdpDrops, cpu_model, sample, udp_drops};
use support::server_process::{Launch, Server, default_server, launch_command, start_server};
use support::{Failure, fail, wait_for};
use tokio::sync::Semaphore;

/// Joins in flight at once outside a storm.
const JOIN_CONCURRENCY: usize = 32;
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long every joined subscriber gets to see its first frame.
const FIRST_FRAMES_TIMEOUT: Duration = Duration::from_secs(30);
/// After the window, time for repairs in flight before loss is counted.
const REPAIR_GRACE: Duration = Duration::from_secs(2);
const JANUS_HTTP_PORT: u16 = 8088;
/// Keep Janus sessions alive (its `session_timeout` is 60 s).
const JANUS_KEEPALIVE: Duration = Duration::from_secs(20);
/// The targets of the comparison in `docs/benchmarks.md`: what an SFU must hold to count.
const HOLD_LOSS_PERCENT: f64 = 0.5;
const HOLD_P99_MS: f64 = 50.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sfu {
    Lectern,
    Janus,
}

impl Sfu {
    fn name(self) -> &'static str {
        match self {
            Sfu::Lectern => "lectern",
            Sfu::Janus => "janus",
        }
    }
}

#[derive(Clone, Debug)]
struct Args {
    sfus: Vec<Sfu>,
    subscribers: Vec<usize>,
    seconds: u64,
    warmup: u64,
    storm: Option<u64>,
    kbps: u64,
    repeat: usize,
    matrix: bool,
    json: bool,
    server: PathBuf,
    janus: PathBuf,
    janus_config: PathBuf,
    server_cpus: Option<String>,
    netns: Option<String>,
    server_ip: std::net::IpAddr,
    client_ip: std::net::IpAddr,
}

fn parse_args() -> Result<Args, String> {
    parse_args_from(std::env::args().skip(1).collect())
}

fn parse_args_from(argv: Vec<String>) -> Result<Args, String> {
    let mut args = Args {
        sfus: vec![Sfu::Lectern],
        subscribers: vec![300],
        seconds: 20,
        warmup: 8,
        storm: None,
        kbps: 1500,
        repeat: 1,
        matrix: false,
        json: false,
        server: default_server(),
        janus: PathBuf::from("/usr/bin/janus"),
        janus_config: Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/janus"),
        server_cpus: None,
        netns: None,
        server_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let mut it = argv.into_iter();
    let number = |flag: &str, value: Option<String>| -> Result<u64, String> {
        let value = value.ok_or(format!("{flag} needs a number"))?;
        value.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("{flag} {value:?}: need a whole number >= 1"))
    };
    let ip = |flag: &str, value: Option<String>| -> Result<std::net::IpAddr, String> {
        let value = value.ok_or(format!("{flag} needs an IP address"))?;
        value.parse().map_err(|_| format!("{flag} {value:?}: not an IP address"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sfu" => {
                let list = it.next().ok_or("--sfu needs lectern, janus or both (comma-separated)")?;
                args.sfus = list
                    .split(',')
                    .map(|s| match s {
                        "lectern" => Ok(Sfu::Lectern),
                        "janus" => Ok(Sfu::Janus),
                        other => Err(format!("--sfu {other:?}: lectern or janus")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--subscribers" => {
                let list = it.next().ok_or("--subscribers needs a number or a comma-separated list")?;
                args.subscribers = list
                    .split(',')
                    .map(|n| number("--subscribers", Some(n.to_string())).map(|n| n as usize))
                    .collect::<Result<_, _>>()?;
            }
            "--seconds" => args.seconds = number("--seconds", it.next())?,
            "--warmup" => args.warmup = number("--warmup", it.next())?,
            "--storm" => args.storm = Some(number("--storm", it.next())?),
            "--kbps" => args.kbps = number("--kbps", it.next())?,
            "--repeat" => args.repeat = number("--repeat", it.next())? as usize,
            "--matrix" => args.matrix = true,
            "--json" => args.json = true,
            "--server" => args.server = it.next().ok_or("--server needs a path")?.into(),
            "--janus" => args.janus = it.next().ok_or("--janus needs a path")?.into(),
            "--janus-config" => args.janus_config = it.next().ok_or("--janus-config needs a folder")?.into(),
            "--server-cpus" => args.server_cpus = Some(it.next().ok_or("--server-cpus needs a CPU list")?),
            "--netns" => args.netns = Some(it.next().ok_or("--netns needs a network namespace")?),
            "--server-ip" => args.server_ip = ip("--server-ip", it.next())?,
            "--client-ip" => args.client_ip = ip("--client-ip", it.next())?,
            "-h" | "--help" => {
                return Err("usage: sfu_load [--sfu lectern|janus[,..]] [--subscribers N[,..]] [--seconds D] \
                     [--warmup W] [--storm S] [--kbps K] [--repeat R] [--matrix] [--json] [--server PATH] \
                     [--janus PATH] [--janus-config DIR] [--server-cpus LIST] [--netns NAME \
                     --server-ip IP --client-ip IP]"
                    .into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if args.subscribers.iter().any(|n| *n > 2000) {
        return Err("--subscribers: at most 2000".into());
    }
    if !args.matrix && (args.sfus.len() > 1 || args.subscribers.len() > 1 || args.repeat > 1) {
        return Err("several SFUs, sizes or repeats need --matrix".into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// Janus as a child process; killed when dropped.
struct JanusProcess {
    child: Child,
    pid: String,
    _dir: tempfile::TempDir,
}

impl Drop for JanusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_janus(args: &Args) -> Result<JanusProcess, Failure> {
    if !args.janus.is_file() {
        return Err(format!("no Janus at {} (bench/sfu.sh installs it: apt-get install janus)", args.janus.display()));
    }
    let http = janus_http(args);
    let taken =
        http.parse().ok().is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok());
    if taken {
        return Err(format!("{http} answers already: is another Janus running? (pkill janus)"));
    }
    let dir = tempfile::Builder::new().prefix("sfu_load_janus").tempdir().map_err(|e| fail("temp dir", e))?;
    let log = std::fs::File::create(dir.path().join("janus.log")).map_err(|e| fail("Janus log", e))?;
    let err = log.try_clone().map_err(|e| fail("Janus log", e))?;
    let mut command = launch_command(&args.janus, &launch(args, ""));
    command.arg("-F").arg(&args.janus_config).stdin(Stdio::null()).stdout(log).stderr(err);
    let child = command.spawn().map_err(|e| fail(&format!("start {}", args.janus.display()), e))?;
    let mut janus = JanusProcess { pid: child.id().to_string(), child, _dir: dir };
    if let Err(e) = janus::wait_ready(&http, Duration::from_secs(15)).await {
        let exited = janus.child.try_wait().ok().flatten();
        let log = std::fs::read_to_string(janus._dir.path().join("janus.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("Janus did not come up ({e}; exited: {exited:?}):\n{}", tail.join("\n")));
    }
    Ok(janus)
}

enum UnderTest {
    Lectern { server: Server, class_id: i64, tokens: Vec<String>, _fixture: support::fixture::Fixture },
    Janus(JanusProcess),
}

impl UnderTest {
    fn pid(&self) -> &str {
        match self {
            UnderTest::Lectern { server, .. } => &server.pid,
            UnderTest::Janus(j) => &j.pid,
        }
    }
}

/// The server's address, port 8088: Janus's HTTP transport (bench/janus/janus.transport.http.jcfg).
fn janus_http(args: &Args) -> String {
    SocketAddr::new(args.server_ip, JANUS_HTTP_PORT).to_string()
}

fn launch<'a>(args: &'a Args, extra_config: &'a str) -> Launch<'a> {
    Launch { extra_config, pin_cpus: args.server_cpus.as_deref(), netns: args.netns.as_deref(), ip: args.server_ip }
}

/// Lectern with media on, one SFU worker, limits that let the largest run in.
fn lectern_media_config(args: &Args, subscribers: usize) -> String {
    format!(
        "[media]\nenabled = true\nbind_ip = \"{}\"\nudp_port = 0\nworkers = 1\nmax_participants = {}\n",
        args.server_ip,
        subscribers + 10
    )
}

async fn start_under_test(sfu: Sfu, args: &Args, subscribers: usize) -> Result<UnderTest, Failure> {
    match sfu {
        Sfu::Lectern => {
            let fixture = support::fixture::prepare(subscribers, "sfu_load").await?;
            let config = lectern_media_config(args, subscribers);
            let server = start_server(&args.server, &fixture, launch(args, &config)).await?;
            Ok(UnderTest::Lectern {
                server,
                class_id: fixture.class_id,
                tokens: fixture.tokens.clone(),
                _fixture: fixture,
            })
        }
        Sfu::Janus => Ok(UnderTest::Janus(start_janus(args).await?)),
    }
}

// ---------------------------------------------------------------------------------------------
// Joining

/// What keeps a participant in: its room socket, or its Janus session.
enum Joined {
    Lectern(#[allow(dead_code)] lectern::Participant),
    Janus(Arc<janus::JanusPeer>),
}

async fn join_publisher(media: &Media, under: &UnderTest, http: &str) -> Result<(Joined, Option<u64>), Failure> {
    match under {
        UnderTest::Lectern { server, class_id, tokens, .. } => {
            let p = lectern::publish(media, &server.addr, *class_id, &tokens[0]).await?;
            Ok((Joined::Lectern(p), None))
        }
        UnderTest::Janus(_) => {
            let offered = media.offer(Role::Publisher, Instant::now()).await?;
            let (peer, feed, answer) = janus::JanusPeer::publish(http, offered.sdp).await?;
            media.answer(offered.peer, answer).await?;
            Ok((Joined::Janus(Arc::new(peer)), Some(feed)))
        }
    }
}

async fn join_subscriber(media: Media, target: Target, n: usize) -> Result<Joined, Failure> {
    match target {
        Target::Lectern { addr, class_id, token } => {
            Ok(Joined::Lectern(lectern::subscribe(&media, &addr, class_id, &token, n).await?))
        }
        Target::Janus { http, feed } => {
            let joined = Instant::now();
            let (peer, offer) = janus::JanusPeer::subscribe(&http, feed).await?;
            let (_, answer) = media.accept_offer(offer, joined).await?;
            peer.start(answer).await?;
            Ok(Joined::Janus(Arc::new(peer)))
        }
    }
}

/// Where one subscriber joins.
#[derive(Clone)]
enum Target {
    Lectern { addr: String, class_id: i64, token: String },
    Janus { http: String, feed: u64 },
}

// ---------------------------------------------------------------------------------------------
// One run

#[derive(Clone, Debug)]
struct RunReport {
    sfu: Sfu,
    subscribers: usize,
    joined: usize,
    failed_joins: usize,
    first_join_error: Option<String>,
    with_frames: usize,
    window_s: f64,
    packets_per_s: f64,
    loss_percent: f64,
    lost: u64,
    packets: u64,
    duplicates: u64,
    malformed: u64,
    /// p50, p99, p99.9 at the subscriber's socket.
    latency_ms: [Option<f64>; 3],
    /// The same, as the tool read the datagrams.
    latency_read_ms: [Option<f64>; 3],
    /// p50, p99, p99.9 at the subscriber's socket, audio packets only.
    audio_latency_ms: [Option<f64>; 3],
    /// p50, p99, p99.9 at the subscriber's socket, packets sent away from keyframes.
    latency_away_from_keyframes_ms: [Option<f64>; 3],
    first_frame_ms: [Option<f64>; 3],
    video_kbps_median: f64,
    top_layer_percent: f64,
    keyframe_requests_joining: usize,
    keyframe_requests_window: usize,
    /// Of those, per layer (q, h, f).
    keyframe_requests_window_by_layer: [usize; 3],
    keyframes_sent: u64,
    publisher_packets_per_s: f64,
    /// The publisher's uplink estimate in the window (kbit/s): the lowest, and the median of
    /// the values str0m reported. It sends a fixed rate on a path with nothing else on it, so
    /// an estimate below that rate is the server's doing (late or lost feedback).
    publisher_estimate_kbps: [Option<f64>; 2],
    server_cpu_percent: f64,
    server_cpu_us_per_packet: f64,
    server_rss_mb: f64,
    /// Datagrams dropped for full socket buffers in the server's network namespace, in the
    /// window (with `--netns` the namespace holds only the server).
    server_udp_drops: UdpDrops,
    tool_cpu_percent: f64,
}

fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

async fn run_once(sfu: Sfu, subscribers: usize, args: &Args, progress: &dyn Fn(&str)) -> Result<RunReport, Failure> {
    progress(&format!("{}: starting the server for {subscribers} subscribers", sfu.name()));
    let under = start_under_test(sfu, args, subscribers).await?;
    let media = Media::start(Camera::simulcast(args.kbps * 1000), args.client_ip)?;
    let (publisher, feed) = join_publisher(&media, &under, &janus_http(args)).await?;
    if !wait_for(Duration::from_secs(15), || media.status.publisher_connected.load(Ordering::Relaxed)).await {
        return Err("the publisher did not connect within 15 s".into());
    }
    let publishing_since = Instant::now();
    let target = |n: usize| match &under {
        UnderTest::Lectern { server, class_id, tokens, .. } => {
            Target::Lectern { addr: server.addr.clone(), class_id: *class_id, token: tokens[n + 1].clone() }
        }
        UnderTest::Janus(_) => Target::Janus { http: janus_http(args), feed: feed.unwrap_or_default() },
    };
    progress(&format!("{}: publisher connected; {subscribers} subscribers joining", sfu.name()));
    let joins_started = Instant::now();
    let limit = Arc::new(Semaphore::new(if args.storm.is_some() { subscribers.max(1) } else { JOIN_CONCURRENCY }));
    let mut tasks = Vec::with_capacity(subscribers);
    for n in 0..subscribers {
        let media = media.clone();
        let target = target(n);
        let limit = limit.clone();
        let at = args.storm.map(|s| Duration::from_secs(s) * n as u32 / subscribers.max(1) as u32);
        tasks.push(tokio::spawn(async move {
            if let Some(at) = at {
                tokio::time::sleep_until((joins_started + at).into()).await;
            }
            let _permit = limit.acquire_owned().await.map_err(|e| fail("join limit", e))?;
            tokio::time::timeout(JOIN_TIMEOUT, join_subscriber(media, target, n))
                .await
                .map_err(|_| format!("no join within {JOIN_TIMEOUT:?}"))?
        }));
    }
    let mut joined = Vec::new();
    let mut failed_joins = 0;
    let mut first_join_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(j)) => joined.push(j),
            Ok(Err(e)) => {
                failed_joins += 1;
                first_join_error.get_or_insert(e);
            }
            Err(e) => {
                failed_joins += 1;
                first_join_error.get_or_insert(e.to_string());
            }
        }
    }
    let keepalive = tokio::spawn({
        let peers: Vec<Arc<janus::JanusPeer>> = joined
            .iter()
            .chain(std::iter::once(&publisher))
            .filter_map(|j| match j {
                Joined::Janus(p) => Some(p.clone()),
                Joined::Lectern(_) => None,
            })
            .collect();
        async move {
            loop {
                tokio::time::sleep(JANUS_KEEPALIVE).await;
                for p in &peers {
                    let _ = p.keepalive().await;
                }
            }
        }
    });
    let count = joined.len();
    progress(&format!("{}: {count} joined ({failed_joins} failed); waiting for first frames", sfu.name()));
    wait_for(FIRST_FRAMES_TIMEOUT, || media.status.subscribers_with_frames.load(Ordering::Relaxed) >= count).await;
    let joins_done = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;

    progress(&format!("{}: measuring for {} s", sfu.name(), args.seconds));
    let server_before = sample(under.pid())?;
    let drops_before = udp_drops(under.pid())?;
    let tool_before = sample("self")?;
    media.measure()?;
    let window_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let server_after = sample(under.pid())?;
    let drops_after = udp_drops(under.pid())?;
    let tool_after = sample("self")?;
    media.stop_publishing()?;
    let window_end = Instant::now();
    tokio::time::sleep(REPAIR_GRACE).await;
    let report = media.finish().await?;
    keepalive.abort();
    if std::env::var_os("SFU_LOAD_DEBUG").is_some()
        && let UnderTest::Lectern { server, .. } = &under
    {
        eprintln!("{}", server.log_tail());
    }
    drop(joined);
    drop(publisher);
    drop(under);
    Ok(summarize(
        sfu,
        subscribers,
        count,
        failed_joins,
        first_join_error,
        report,
        Phases {
            joins_started,
            joins_done,
            window_start,
            window_end,
            server: (server_before, server_after),
            server_udp_drops: drops_after.since(&drops_before),
            tool: (tool_before, tool_after),
            publishing_s: window_end.duration_since(publishing_since).as_secs_f64(),
        },
    ))
}

struct Phases {
    joins_started: Instant,
    joins_done: Instant,
    window_start: Instant,
    window_end: Instant,
    server: (ProcSample, ProcSample),
    server_udp_drops: UdpDrops,
    tool: (ProcSample, ProcSample),
    /// From the publisher's connection to the end of the window.
    publishing_s: f64,
}

fn summarize(
    sfu: Sfu,
    subscribers: usize,
    joined: usize,
    failed_joins: usize,
    first_join_error: Option<String>,
    report: MediaReport,
    phases: Phases,
) -> RunReport {
    let window_s = report.window.as_secs_f64().max(1e-9);
    let mut first: Vec<f64> = report.subscribers.iter().filter_map(|s| s.first_frame_ms).collect();
    let with_frames = first.len();
    let mut kbps: Vec<f64> =
        report.subscribers.iter().map(|s| s.video_bytes as f64 * 8.0 / window_s / 1000.0).collect();
    let video_packets: u64 = report.subscribers.iter().map(|s| s.video_packets).sum();
    let top_packets: u64 = report.subscribers.iter().map(|s| s.top_layer_packets).sum();
    let (server_cpu_ms, server_cpu_percent) = phases.server.1.cpu_since(&phases.server.0);
    let (_, tool_cpu_percent) = phases.tool.1.cpu_since(&phases.tool.0);
    let q = |us: Option<u64>| us.map(|u| u as f64 / 1000.0);
    let counted = report.packets + report.lost;
    let in_phase =
        |from: Instant, to: Instant| report.keyframe_requests.iter().filter(move |(t, _)| *t >= from && *t < to);
    // A request without a rid asks every layer.
    let window_by_layer: [usize; 3] = std::array::from_fn(|l| {
        in_phase(phases.window_start, phases.window_end).filter(|(_, layer)| layer.is_none_or(|x| x == l)).count()
    });
    RunReport {
        sfu,
        subscribers,
        joined,
        failed_joins,
        first_join_error,
        with_frames,
        window_s,
        packets_per_s: report.packets as f64 / window_s,
        loss_percent: if counted == 0 { 0.0 } else { 100.0 * report.lost as f64 / counted as f64 },
        lost: report.lost,
        packets: report.packets,
        duplicates: report.duplicates,
        malformed: report.malformed,
        latency_ms: [0.5, 0.99, 0.999].map(|p| q(report.latency.quantile_us(p))),
        latency_read_ms: [0.5, 0.99, 0.999].map(|p| q(report.latency_read.quantile_us(p))),
        audio_latency_ms: [0.5, 0.99, 0.999].map(|p| q(report.audio_latency.quantile_us(p))),
        latency_away_from_keyframes_ms: [0.5, 0.99, 0.999]
            .map(|p| q(report.latency_away_from_keyframes.quantile_us(p))),
        first_frame_ms: [percentile(&mut first, 0.5), percentile(&mut first, 0.99), percentile(&mut first, 1.0)],
        video_kbps_median: percentile(&mut kbps, 0.5).unwrap_or(0.0),
        top_layer_percent: if video_packets == 0 { 0.0 } else { 100.0 * top_packets as f64 / video_packets as f64 },
        keyframe_requests_joining: in_phase(phases.joins_started, phases.joins_done).count(),
        keyframe_requests_window: in_phase(phases.window_start, phases.window_end).count(),
        keyframe_requests_window_by_layer: window_by_layer,
        keyframes_sent: report.keyframes_sent,
        publisher_estimate_kbps: {
            // str0m reports an estimate when it changes: the one in force as the window
            // opened counts too.
            let estimates = &report.publisher_estimates;
            let first = estimates.iter().rposition(|(t, _)| *t <= phases.window_start).unwrap_or(0);
            let mut kbps: Vec<f64> = estimates[first..]
                .iter()
                .filter(|(t, _)| *t < phases.window_end)
                .map(|(_, bps)| *bps as f64 / 1000.0)
                .collect();
            [percentile(&mut kbps, 0.0), percentile(&mut kbps, 0.5)]
        },
        publisher_packets_per_s: report.publisher_packets as f64 / phases.publishing_s.max(1e-9),
        server_cpu_percent,
        server_cpu_us_per_packet: if report.packets == 0 {
            0.0
        } else {
            server_cpu_ms as f64 * 1000.0 / report.packets as f64
        },
        server_rss_mb: phases.server.1.rss_kb as f64 / 1024.0,
        server_udp_drops: phases.server_udp_drops,
        tool_cpu_percent,
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn run_json(r: &RunReport) -> serde_json::Value {
    json!({
        "sfu": r.sfu.name(),
        "subscribers": r.subscribers,
        "joined": r.joined,
        "failed_joins": r.failed_joins,
        "first_join_error": r.first_join_error,
        "with_first_frame": r.with_frames,
        "window_s": r.window_s,
        "packets_forwarded_per_s": r.packets_per_s,
        "loss_percent": r.loss_percent,
        "lost": r.lost,
        "packets": r.packets,
        "duplicates": r.duplicates,
        "malformed": r.malformed,
        "latency_ms": { "p50": r.latency_ms[0], "p99": r.latency_ms[1], "p99_9": r.latency_ms[2] },
        "latency_as_read_by_the_tool_ms": {
            "p50": r.latency_read_ms[0], "p99": r.latency_read_ms[1], "p99_9": r.latency_read_ms[2],
        },
        "audio_latency_ms": { "p50": r.audio_latency_ms[0], "p99": r.audio_latency_ms[1], "p99_9": r.audio_latency_ms[2] },
        "latency_away_from_keyframes_ms": {
            "p50": r.latency_away_from_keyframes_ms[0],
            "p99": r.latency_away_from_keyframes_ms[1],
            "p99_9": r.latency_away_from_keyframes_ms[2],
        },
        "first_frame_ms": { "p50": r.first_frame_ms[0], "p99": r.first_frame_ms[1], "max": r.first_frame_ms[2] },
        "video_kbps_per_subscriber_median": r.video_kbps_median,
        "top_layer_percent": r.top_layer_percent,
        "keyframe_requests": {
            "while_joining": r.keyframe_requests_joining,
            "in_window": r.keyframe_requests_window,
            "in_window_by_layer": r.keyframe_requests_window_by_layer,
        },
        "keyframes_sent": r.keyframes_sent,
        "publisher_packets_per_s": r.publisher_packets_per_s,
        "publisher_uplink_estimate_kbps": { "min": r.publisher_estimate_kbps[0], "median": r.publisher_estimate_kbps[1] },
        "server": {
            "cpu_percent_of_core": r.server_cpu_percent,
            "cpu_us_per_forwarded_packet": r.server_cpu_us_per_packet,
            "rss_mb": r.server_rss_mb,
            "udp_dropped_receive_buffer_full": r.server_udp_drops.receive_buffer,
            "udp_dropped_send_buffer_full": r.server_udp_drops.send_buffer,
        },
        "tool_cpu_percent_of_core": r.tool_cpu_percent,
    })
}

fn print_run(r: &RunReport) {
    println!("{} with {} subscribers ({:.1} s measured)", r.sfu.name(), r.subscribers, r.window_s);
    println!(
        "  joined {} ({} failed{}), {} saw a first frame",
        r.joined,
        r.failed_joins,
        r.first_join_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
        r.with_frames
    );
    println!(
        "  publisher     {:.0} packets/s; its uplink estimate in the window: lowest {} kbit/s, median {} kbit/s",
        r.publisher_packets_per_s,
        opt(r.publisher_estimate_kbps[0]),
        opt(r.publisher_estimate_kbps[1])
    );
    println!(
        "  forwarded     {:.0} packets/s; median subscriber {:.0} kbit/s of video, {:.1}% of video packets from the top layer",
        r.packets_per_s, r.video_kbps_median, r.top_layer_percent
    );
    println!(
        "  loss          {:.4}% ({} of {}; {} duplicates, {} malformed)",
        r.loss_percent,
        r.lost,
        r.packets + r.lost,
        r.duplicates,
        r.malformed
    );
    println!(
        "  latency       p50 {} ms, p99 {} ms, p99.9 {} ms at the subscribers' sockets",
        opt(r.latency_ms[0]),
        opt(r.latency_ms[1]),
        opt(r.latency_ms[2])
    );
    println!(
        "                p50 {} ms, p99 {} ms, p99.9 {} ms as the load tool read them",
        opt(r.latency_read_ms[0]),
        opt(r.latency_read_ms[1]),
        opt(r.latency_read_ms[2])
    );
    println!(
        "                p50 {} ms, p99 {} ms, p99.9 {} ms for audio alone, at the sockets",
        opt(r.audio_latency_ms[0]),
        opt(r.audio_latency_ms[1]),
        opt(r.audio_latency_ms[2])
    );
    println!(
        "                p50 {} ms, p99 {} ms, p99.9 {} ms sent away from keyframes (none made in the {} ms before)",
        opt(r.latency_away_from_keyframes_ms[0]),
        opt(r.latency_away_from_keyframes_ms[1]),
        opt(r.latency_away_from_keyframes_ms[2]),
        media::KEYFRAME_WAKE.as_millis()
    );
    println!(
        "  first frame   p50 {} ms, p99 {} ms, max {} ms after the join began",
        opt(r.first_frame_ms[0]),
        opt(r.first_frame_ms[1]),
        opt(r.first_frame_ms[2])
    );
    println!(
        "  keyframes     {} requested while joining, {} in the window (q/h/f {}/{}/{}); {} sent in all",
        r.keyframe_requests_joining,
        r.keyframe_requests_window,
        r.keyframe_requests_window_by_layer[0],
        r.keyframe_requests_window_by_layer[1],
        r.keyframe_requests_window_by_layer[2],
        r.keyframes_sent
    );
    println!(
        "  server        {:.1}% of a core, {:.2} µs CPU per forwarded packet, {:.1} MB resident",
        r.server_cpu_percent, r.server_cpu_us_per_packet, r.server_rss_mb
    );
    println!(
        "  server's UDP  {} datagrams dropped on a full receive buffer, {} on a full send buffer (its network namespace)",
        r.server_udp_drops.receive_buffer, r.server_udp_drops.send_buffer
    );
    println!("  load tool     {:.1}% of a core", r.tool_cpu_percent);
}

/// A run holds its subscribers when they all joined and saw video, with little loss and delay.
fn holds(r: &RunReport) -> bool {
    r.failed_joins == 0
        && r.with_frames == r.subscribers
        && r.loss_percent < HOLD_LOSS_PERCENT
        && r.latency_ms[1].is_some_and(|p99| p99 < HOLD_P99_MS)
}

fn median(mut v: Vec<f64>) -> f64 {
    percentile(&mut v, 0.5).unwrap_or(f64::NAN)
}

/// Medians per SFU and size over the repeats, and the largest size each held.
fn print_matrix(runs: &[RunReport], args: &Args) {
    println!();
    println!(
        "medians of {} interleaved runs; {} s measured each; top layer {} kbit/s",
        args.repeat, args.seconds, args.kbps
    );
    println!(
        "| SFU | subscribers | packets/s | loss % | p50 ms | p99 ms | p99.9 ms | p99 as read ms | first frame p99 ms | server CPU % | µs/packet | RSS MB | held |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for sfu in &args.sfus {
        let mut largest = None;
        for n in &args.subscribers {
            let these: Vec<&RunReport> = runs.iter().filter(|r| r.sfu == *sfu && r.subscribers == *n).collect();
            if these.is_empty() {
                continue;
            }
            let m = |f: &dyn Fn(&RunReport) -> f64| median(these.iter().map(|r| f(r)).collect());
            let held = these.iter().filter(|r| holds(r)).count() * 2 > these.len();
            if held {
                largest = Some(*n);
            }
            println!(
                "| {} | {} | {:.0} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.1} | {:.2} | {:.0} | {}/{} |",
                sfu.name(),
                n,
                m(&|r| r.packets_per_s),
                m(&|r| r.loss_percent),
                m(&|r| r.latency_ms[0].unwrap_or(f64::NAN)),
                m(&|r| r.latency_ms[1].unwrap_or(f64::NAN)),
                m(&|r| r.latency_ms[2].unwrap_or(f64::NAN)),
                m(&|r| r.latency_read_ms[1].unwrap_or(f64::NAN)),
                m(&|r| r.first_frame_ms[1].unwrap_or(f64::NAN)),
                m(&|r| r.server_cpu_percent),
                m(&|r| r.server_cpu_us_per_packet),
                m(&|r| r.server_rss_mb),
                these.iter().filter(|r| holds(r)).count(),
                these.len(),
            );
        }
        println!(
            "{}: largest size held (loss < {HOLD_LOSS_PERCENT}%, p99 < {HOLD_P99_MS} ms, in most runs): {}",
            sfu.name(),
            largest.map_or("none of those tried".into(), |n| n.to_string())
        );
    }
}

async fn run(args: &Args) -> Result<(), Failure> {
    let quiet = args.json && !args.matrix;
    let progress = |s: &str| {
        if !quiet {
            eprintln!("[sfu_load] {s}");
        }
    };
    let mut runs = Vec::new();
    // Interleaved: every SFU at a size, then again, so that a noisy minute hits both.
    for n in &args.subscribers {
        for _ in 0..args.repeat {
            for sfu in &args.sfus {
                let r = run_once(*sfu, *n, args, &progress).await?;
                if args.json {
                    println!("{}", run_json(&r));
                } else {
                    print_run(&r);
                }
                runs.push(r);
            }
        }
    }
    if args.matrix {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        eprintln!("[sfu_load] machine: {}; {cpus} CPU(s) for the tool (see taskset)", cpu_model());
        print_matrix(&runs, args);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfu_load: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tool against the real `lectern` binary (built beside this test by `cargo test`):
    /// a few subscribers get every packet, checked, with their first frames.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_run_against_lectern_delivers_every_packet_to_every_subscriber() {
        let mut args = parse_args_from(Vec::new()).expect("defaults");
        args.subscribers = vec![4];
        args.seconds = 2;
        args.warmup = 1;
        let r = run_once(Sfu::Lectern, 4, &args, &|_| {}).await.expect("the run is set up");
        assert_eq!((r.joined, r.failed_joins, r.with_frames), (4, 0, 4), "{:?}", r.first_join_error);
        assert!(r.packets > 4 * 2 * 100, "video and audio flowed: {} packets", r.packets);
        assert_eq!(r.malformed, 0);
        assert!(r.loss_percent < 1.0, "loopback loses nothing: {}%", r.loss_percent);
        assert!(r.latency_ms[1].is_some() && r.first_frame_ms[2].is_some());
        // Keyframes come every 3 s and their wake lasts 200 ms: most of a 2 s window is away.
        assert!(r.latency_away_from_keyframes_ms[1].is_some(), "packets away from keyframes were measured");
        assert!(r.audio_latency_ms[1].is_some(), "audio arrived stamped");
        // The socket's arrival comes before the tool's read of the same datagrams.
        let (at_socket, as_read) = (r.latency_ms[0].unwrap(), r.latency_read_ms[0].expect("read latency"));
        assert!(at_socket <= as_read, "median at the socket {at_socket} ms, as read {as_read} ms");
        assert!(r.publisher_estimate_kbps[0].is_some(), "the publisher estimated its uplink from the feedback");
        assert!(r.keyframes_sent >= 3, "a first keyframe on every layer");
        assert!(r.server_rss_mb > 1.0);
    }
}
