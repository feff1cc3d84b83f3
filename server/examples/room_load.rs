//! Live-room load test: many WebSocket clients in one class against the real `lectern` binary.
//! A measurement, not a test: it prints PASS/MISS per target and exits non-zero only when the
//! run could not be set up (database, server, joins).
//!
//! ```text
//! cargo build --release -p server --bin lectern --example room_load
//! target/release/examples/room_load [--clients N] [--seconds D] [--rate R] [--json]
//! target/release/examples/room_load --find-max [--max-clients N] [--seconds D] [--json]
//! ```
//!
//! Results are recorded in `docs/benchmarks.md` ("Live room").
//!
//! # What it does
//!
//! 1. A fresh SQLite database in a temporary folder, migrated by `lectern_core`: one teacher,
//!    `--clients` students (users and sessions inserted directly, no password hashing), one live
//!    class with an occurrence that started five minutes ago, every student enrolled.
//! 2. The server as a separate process (`--server`, default: `lectern` beside the examples
//!    folder, i.e. `target/<profile>/lectern`), configured for that database and a free loopback
//!    port, so that its CPU time (`utime + stime` in `/proc/<pid>/stat`) and resident memory
//!    (`VmRSS` in `/proc/<pid>/status`) are its own. The room limits are the defaults; `LECTERN_ROOM__*`
//!    (and other `LECTERN_*`) variables pass through to it, except those naming the database,
//!    the bind address, the cluster or a config file. The server is killed when the run ends,
//!    also on an error or Ctrl-C.
//! 3. The teacher, then every student, opens `GET /classes/{id}/live/ws` with the session cookie
//!    and says `hello` (32 handshakes at a time); the run waits until every client has heard
//!    every `joined`.
//! 4. Chat: `--rate` public messages per second (default 20) for `--seconds` (default 10), sent
//!    by the students in turn (each stays far below the per-connection rate limit). Each body
//!    carries a sequence number. The tool keeps the send time of each message and every client
//!    the receive time of each (one monotonic clock, one process), so a delivery's latency is
//!    receive - send, measured at the receiving client's reader task. Every client, the sender
//!    and the teacher included, must receive every message exactly once.
//! 5. Whiteboard strokes (not with `--find-max`): the teacher draws `STROKES_PER_SECOND` pen
//!    strokes a second of `STROKE_POINTS` points each for `--seconds`, as `board` operations;
//!    every client must receive every stroke exactly once. Latency as for chat.
//! 6. Votes (not with `--find-max`): the teacher opens a named single-choice poll with four
//!    options; every student votes once, the votes spread evenly over one second. Vote latency
//!    is from sending the vote to receiving `your_vote`. The teacher's `poll_counts` must reach
//!    every student. Then the teacher closes the poll and every client must receive
//!    `poll_closed`.
//!
//! Server CPU and RSS are sampled before and after each phase; the report gives latency
//! percentiles (nearest rank), delivery counts, CPU per client, per message and per delivery,
//! and RSS per joined client. `--find-max` runs the chat phase alone (5 s by default) for growing
//! classes and reports the largest whose p99 stays under 100 ms with every message delivered.
//!
//! Every wait is bounded; the tool talks only to 127.0.0.1. It needs about N + 100 file
//! descriptors in both processes: `ulimit -n` must allow that.

use app::board::{BoardAction, BoardOp, Shape, Tool};
use app::protocol::{ClientFrame, ClientMsg, PollKind, ServerMsg};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use lectern_core::config::{Config, RoomConfig};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[path = "support/mod.rs"]
mod support;
use support::fixture::{Fixture, prepare};
use support::proc_stats::{Dist, ProcSample, cpu_model, loadavg, open_files_limit, sample};
use support::server_process::{Launch, Server, default_server, start_server};
use support::{Failure, fail, nanos_since, wait_for};

/// p99 delivery latency the default run must stay under.
const TARGET_P99_MS: f64 = 50.0;
/// p99 delivery latency a class size must stay under to count in `--find-max`.
const FIND_MAX_P99_MS: f64 = 100.0;
/// Class sizes `--find-max` tries, in order, up to `--max-clients` (then steps of 1,000).
const FIND_MAX_SIZES: &[usize] = &[300, 500, 750, 1000, 1500, 2000, 2500, 3000];
/// Extra runs `--find-max` spends halving the gap between the last pass and the first miss.
const FIND_MAX_REFINE: usize = 2;
/// Handshakes in flight at once while a class fills.
const JOIN_CONCURRENCY: usize = 32;
/// Longest wait for one handshake plus welcome.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for one frame to be written.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long deliveries may trail the last message sent before they count as missing.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);
/// File descriptors the tool (and the server) need besides one per client.
const SPARE_FDS: u64 = 100;
/// Slowest messages listed in the report.
const SLOWEST_SHOWN: usize = 3;
/// The tool's read buffer per socket (larger frames, such as a big welcome, still fit).
const CLIENT_READ_BUFFER: usize = 8 * 1024;
/// Whiteboard strokes the teacher draws per second (under the per-connection rate limit)...
const STROKES_PER_SECOND: u32 = 8;
/// ...each with this many points: about a second of a pen on a tablet.
const STROKE_POINTS: usize = 60;
/// The options of the load test's poll.
const POLL_OPTIONS: [&str; 4] = ["Option A", "Option B", "Option C", "Option D"];

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------------------
// Arguments

struct Args {
    clients: usize,
    seconds: Option<u64>,
    rate: u32,
    json: bool,
    find_max: bool,
    max_clients: usize,
    server: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 300,
        seconds: None,
        rate: 20,
        json: false,
        find_max: false,
        max_clients: 3000,
        server: default_server(),
    };
    let mut it = std::env::args().skip(1);
    let number = |flag: &str, value: Option<String>| -> Result<u64, String> {
        let value = value.ok_or(format!("{flag} needs a number"))?;
        value.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("{flag} {value:?}: need a whole number >= 1"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--clients" => args.clients = number("--clients", it.next())? as usize,
            "--seconds" => args.seconds = Some(number("--seconds", it.next())?),
            "--rate" => args.rate = u32::try_from(number("--rate", it.next())?).map_err(|_| "--rate: too large")?,
            "--max-clients" => args.max_clients = number("--max-clients", it.next())? as usize,
            "--json" => args.json = true,
            "--find-max" => args.find_max = true,
            "--server" => args.server = PathBuf::from(it.next().ok_or("--server needs a path")?),
            "-h" | "--help" => {
                println!(
                    "room_load [--clients N] [--seconds D] [--rate R] [--json] [--server PATH]\n\
                     room_load --find-max [--max-clients N] [--seconds D] [--rate R] [--json] [--server PATH]\n\n\
                     N students (default 300) plus a teacher join one live class; R chat messages per second\n\
                     in total (default 20) for D seconds (default 10; 5 per size with --find-max); then every\n\
                     student votes within one second. --find-max runs the chat phase for growing classes up to\n\
                     --max-clients (default 3000) and reports the largest with p99 < {FIND_MAX_P99_MS} ms.\n\
                     --server: the lectern binary (default: target/<profile>/lectern beside this example)."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if args.seconds.unwrap_or(1) > 3600 {
        return Err("--seconds: at most 3600".into());
    }
    if args.rate > 10_000 {
        return Err("--rate: at most 10000 messages per second".into());
    }
    if args.clients > 50_000 || args.max_clients > 50_000 {
        return Err("--clients and --max-clients: at most 50000".into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// Clients

/// What one client has received, written by its reader task.
struct ClientLog {
    /// `joined` frames (counted, not decoded).
    joined: AtomicU64,
    /// Distinct chat messages of this run received.
    chats: AtomicU32,
    strokes: AtomicU32,
    polls_opened: AtomicU32,
    /// The reader stopped (the socket closed or failed).
    ended: AtomicBool,
    inner: Mutex<LogInner>,
}

#[derive(Default)]
struct LogInner {
    /// Receive time (ns since the run's base, +1) of each chat message by sequence number; 0 = not
    /// received.
    chat_at: Vec<u64>,
    duplicates: u64,
    /// Chat messages whose body carried no sequence number of this run.
    stray: u64,
    /// The same for whiteboard strokes, by the sequence number in the shape's id.
    stroke_at: Vec<u64>,
    stroke_duplicates: u64,
    stroke_stray: u64,
    /// The poll as opened: its id and option ids.
    poll: Option<(i64, Vec<i64>)>,
    your_vote_at: u64,
    /// Highest `voters` in `poll_counts` (staff only), and when it first reached `expect_voters`.
    voters_seen: u32,
    all_voters_at: u64,
    expect_voters: u32,
    poll_closed_at: u64,
    poll_closed_voters: u32,
    errors: u64,
    first_error: Option<String>,
    /// Why the reader stopped, if it did.
    end: Option<String>,
}

impl ClientLog {
    fn new(messages: usize, strokes: usize, expect_voters: u32) -> Arc<Self> {
        Arc::new(ClientLog {
            joined: AtomicU64::new(0),
            chats: AtomicU32::new(0),
            strokes: AtomicU32::new(0),
            polls_opened: AtomicU32::new(0),
            ended: AtomicBool::new(false),
            inner: Mutex::new(LogInner {
                chat_at: vec![0; messages],
                stroke_at: vec![0; strokes],
                expect_voters,
                ..LogInner::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_text(&self, text: &str, at: u64) {
        // `joined` is by far the most frequent frame while a class fills; count it undecoded.
        if text.starts_with(r#"{"type":"joined""#) {
            self.joined.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Ok(msg) = ServerMsg::decode(text) else {
            self.error(format!("undecodable frame: {}", text.chars().take(200).collect::<String>()));
            return;
        };
        match msg {
            ServerMsg::Chat { message } => self.record(Deliveries::Chat, chat_seq(&message.body), at),
            ServerMsg::Board { op: BoardOp { action: BoardAction::Draw { shape, .. }, .. }, .. } => {
                self.record(Deliveries::Strokes, stroke_seq(&shape.id), at)
            }
            ServerMsg::PollOpened { poll } => {
                self.lock().poll = Some((poll.id, poll.options.iter().map(|o| o.id).collect()));
                self.polls_opened.fetch_add(1, Ordering::Relaxed);
            }
            ServerMsg::YourVote { .. } => {
                let mut log = self.lock();
                if log.your_vote_at == 0 {
                    log.your_vote_at = at;
                }
            }
            ServerMsg::PollCounts { results, .. } => {
                let mut log = self.lock();
                log.voters_seen = log.voters_seen.max(results.voters);
                if log.all_voters_at == 0 && results.voters >= log.expect_voters {
                    log.all_voters_at = at;
                }
            }
            ServerMsg::PollClosed { results, .. } => {
                let mut log = self.lock();
                if log.poll_closed_at == 0 {
                    log.poll_closed_at = at;
                    log.poll_closed_voters = results.voters;
                }
            }
            ServerMsg::Error { code, message, .. } => self.error(format!("{code:?}: {message}")),
            _ => {}
        }
    }

    /// A numbered chat message or stroke arrived: its first arrival is its delivery time.
    fn record(&self, which: Deliveries, seq: Option<usize>, at: u64) {
        let mut log = self.lock();
        let log = &mut *log;
        let (times, duplicates, stray, counter) = match which {
            Deliveries::Chat => (&mut log.chat_at, &mut log.duplicates, &mut log.stray, &self.chats),
            Deliveries::Strokes => {
                (&mut log.stroke_at, &mut log.stroke_duplicates, &mut log.stroke_stray, &self.strokes)
            }
        };
        match seq.filter(|&s| s < times.len()) {
            Some(seq) if times[seq] == 0 => {
                times[seq] = at;
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => *duplicates += 1,
            None => *stray += 1,
        }
    }

    fn error(&self, what: String) {
        let mut log = self.lock();
        log.errors += 1;
        log.first_error.get_or_insert(what);
    }

    fn end(&self, why: String) {
        self.lock().end.get_or_insert(why);
        self.ended.store(true, Ordering::Relaxed);
    }

    fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }
}

/// A chat body that carries its sequence number, of ordinary length.
fn chat_body(seq: usize) -> String {
    format!("seq {seq} from the room load tool: an ordinary chat line of about this length.")
}

fn chat_seq(body: &str) -> Option<usize> {
    body.strip_prefix("seq ")?.split(' ').next()?.parse().ok()
}

/// A pen stroke of `STROKE_POINTS` points, a gentle wave across the page, whose id carries its
/// sequence number.
fn stroke_op(seq: usize) -> ClientMsg {
    let y0 = 100.0 + (seq % 40) as f32 * 18.0;
    let points = (0..STROKE_POINTS)
        .map(|i| {
            let x = 100.0 + i as f32 * 20.0;
            [x, y0 + (x / 60.0).sin() * 12.0, 0.3 + (i % 5) as f32 * 0.1]
        })
        .collect();
    let shape =
        Shape { id: format!("load-{seq}"), author: 0, color: "#1d4ed8".into(), width: 3.0, tool: Tool::Pen { points } };
    ClientMsg::Board { op: BoardOp { id: format!("load-op-{seq}"), action: BoardAction::Draw { page: 1, shape } } }
}

fn stroke_seq(id: &str) -> Option<usize> {
    id.strip_prefix("load-")?.parse().ok()
}

/// One joined client: the tool writes through `sink`; a task reads into `log`.
struct Conn {
    sink: SplitSink<Ws, Message>,
    log: Arc<ClientLog>,
    reader: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Conn {
    async fn send(&mut self, msg: ClientMsg, reference: Option<u32>) -> Result<(), Failure> {
        let frame = ClientFrame { reference, msg }.encode();
        match tokio::time::timeout(SEND_TIMEOUT, self.sink.send(Message::Text(frame.into()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(fail("send", e)),
            Err(_) => Err(format!("send: not written within {SEND_TIMEOUT:?}")),
        }
    }
}

async fn read_loop(mut stream: SplitStream<Ws>, log: Arc<ClientLog>, base: Instant) {
    while let Some(item) = stream.next().await {
        let at = nanos_since(base);
        match item {
            Ok(Message::Text(text)) => log.on_text(text.as_str(), at),
            Ok(Message::Close(frame)) => {
                log.end(match frame {
                    Some(f) => format!("closed by the server: {} {}", u16::from(f.code), f.reason),
                    None => "closed by the server".into(),
                });
                return;
            }
            Ok(_) => {}
            Err(e) => {
                log.end(fail("socket failed", e));
                return;
            }
        }
    }
    log.end("socket ended".into());
}

/// Open a room socket, say hello, wait for the welcome, then hand the reading half to a task.
async fn join(
    addr: &str,
    class_id: i64,
    token: &str,
    log: Arc<ClientLog>,
    base: Instant,
) -> Result<(Conn, u64), Failure> {
    let started = Instant::now();
    let attempt = support::room_socket::open(addr, class_id, token, CLIENT_READ_BUFFER);
    let (sink, stream, _welcome) = tokio::time::timeout(JOIN_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("no welcome within {JOIN_TIMEOUT:?}"))??;
    let joined_in = started.elapsed().as_nanos() as u64;
    let reader = tokio::spawn(read_loop(stream, log.clone(), base));
    Ok((Conn { sink, log, reader }, joined_in))
}

// ---------------------------------------------------------------------------------------------
// One run

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Join, chat, votes.
    Full,
    /// Join and chat (for `--find-max`).
    ChatOnly,
}

struct Plan {
    students: usize,
    seconds: u64,
    rate: u32,
    mode: Mode,
    server: PathBuf,
}

impl Plan {
    fn clients(&self) -> usize {
        self.students + 1
    }

    fn messages(&self) -> usize {
        self.rate as usize * self.seconds as usize
    }

    fn strokes(&self) -> usize {
        match self.mode {
            Mode::Full => STROKES_PER_SECOND as usize * self.seconds as usize,
            Mode::ChatOnly => 0,
        }
    }
}

struct ChatReport {
    messages: usize,
    expected: u64,
    received: u64,
    missing: u64,
    duplicates: u64,
    stray: u64,
    latency: Option<Dist>,
    /// Per message: the latency of its last delivery (how long the whole fan-out took).
    last_delivery: Option<Dist>,
    /// Per message: the latency of its first delivery (the room's own processing, mostly).
    first_delivery: Option<Dist>,
    /// The messages whose fan-out took longest.
    slowest: Vec<SlowMessage>,
    /// How long after the first send the last delivery arrived, in seconds.
    wall_seconds: f64,
}

/// A message whose fan-out was slow: when it was sent (seconds into the chat phase) and its
/// first and last delivery latency.
struct SlowMessage {
    seq: usize,
    sent_s: f64,
    first_ms: f64,
    last_ms: f64,
}

struct VoteReport {
    votes_sent: usize,
    your_vote_received: usize,
    latency: Option<Dist>,
    teacher_voters: u32,
    /// From sending the last vote to the teacher's `poll_counts` showing every voter, in ms.
    teacher_all_after_last_ms: Option<f64>,
    poll_closed_received: usize,
    poll_closed_voters_ok: usize,
    poll_closed_latency: Option<Dist>,
}

struct ServerReport {
    idle: ProcSample,
    joined: ProcSample,
    after_chat: ProcSample,
    end: ProcSample,
    join_cpu_ms: u64,
    chat_cpu_ms: u64,
    chat_cpu_percent: f64,
    vote_cpu_ms: Option<u64>,
    vote_cpu_percent: Option<f64>,
}

struct RunReport {
    students: usize,
    clients: usize,
    rate: u32,
    seconds: u64,
    load_before: [f64; 3],
    load_after: [f64; 3],
    setup_seconds: f64,
    join_seconds: f64,
    join_latency: Option<Dist>,
    joined_frames: u64,
    joined_frames_expected: u64,
    chat: ChatReport,
    /// Whiteboard strokes (not with `--find-max`), measured like chat.
    strokes: Option<ChatReport>,
    stroke_cpu_ms: Option<u64>,
    votes: Option<VoteReport>,
    server: ServerReport,
    tool_cpu_ms: u64,
    tool_chat_cpu_percent: f64,
    /// Clients whose socket closed or failed before the end of the run, and the first reason.
    dropped: usize,
    first_drop: Option<String>,
    errors: u64,
    first_error: Option<String>,
}

impl RunReport {
    fn complete(&self) -> bool {
        self.chat.missing == 0 && self.chat.duplicates == 0 && self.dropped == 0
    }

    fn p99(&self) -> f64 {
        self.chat.latency.map_or(f64::INFINITY, |d| d.p99)
    }

    fn rss_per_client_kb(&self) -> f64 {
        let s = &self.server;
        (s.joined.rss_kb as f64 - s.idle.rss_kb as f64) / self.clients as f64
    }
}

async fn run_once(plan: &Plan, quiet: bool) -> Result<RunReport, Failure> {
    let progress = |what: &str| {
        if !quiet {
            eprintln!("[room_load {} clients] {what}", plan.clients());
        }
    };
    let load_before = loadavg();
    let setup_started = Instant::now();
    progress("preparing the database");
    let fixture = prepare(plan.students, "room_load").await?;
    progress("starting the server");
    let server = start_server(&plan.server, &fixture, Launch::default()).await?;
    progress(&format!("server pid {} on {}", server.pid, server.addr));
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let result = drive(plan, &fixture, &server, &progress).await;
    let result = result.map_err(|e| format!("{e}\n--- server log (last lines) ---\n{}", server.log_tail()));
    drop(server); // killed before its folder goes
    drop(fixture);
    let mut report = result?;
    report.load_before = load_before;
    report.load_after = loadavg();
    report.setup_seconds = setup_seconds;
    Ok(report)
}

async fn drive(plan: &Plan, fixture: &Fixture, server: &Server, progress: &dyn Fn(&str)) -> Result<RunReport, Failure> {
    let pid = server.pid.as_str();
    let clients = plan.clients();
    let messages = plan.messages();
    let base = Instant::now();
    let tool_start = sample("self")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = sample(pid)?;

    // --- Join: the teacher first, then the students, JOIN_CONCURRENCY at a time.
    progress("joining");
    let join_started = Instant::now();
    let mut slots: Vec<Option<Conn>> = (0..clients).map(|_| None).collect();
    let mut join_latencies = Vec::with_capacity(clients);
    let strokes = plan.strokes();
    let log = ClientLog::new(messages, strokes, plan.students as u32);
    let (teacher, took) = join(&server.addr, fixture.class_id, &fixture.tokens[0], log, base).await?;
    slots[0] = Some(teacher);
    join_latencies.push(took);
    let permits = Arc::new(Semaphore::new(JOIN_CONCURRENCY));
    let mut joins = JoinSet::new();
    for (i, token) in fixture.tokens.iter().enumerate().skip(1) {
        let (permits, addr, token) = (permits.clone(), server.addr.clone(), token.clone());
        let class_id = fixture.class_id;
        let log = ClientLog::new(messages, strokes, plan.students as u32);
        joins.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| fail("semaphore", e))?;
            join(&addr, class_id, &token, log, base).await.map(|(conn, took)| (i, conn, took))
        });
    }
    let mut join_error = None;
    while let Some(done) = joins.join_next().await {
        match done {
            Ok(Ok((i, conn, took))) => {
                slots[i] = Some(conn);
                join_latencies.push(took);
            }
            Ok(Err(e)) => {
                join_error.get_or_insert(e);
            }
            Err(e) => {
                join_error.get_or_insert(fail("join task", e));
            }
        }
    }
    if let Some(e) = join_error {
        let joined = slots.iter().filter(|s| s.is_some()).count();
        return Err(format!("only {joined} of {clients} clients joined; first failure: {e}"));
    }
    let mut conns: Vec<Conn> = slots.into_iter().flatten().collect();
    let join_seconds = join_started.elapsed().as_secs_f64();
    // Each client hears its own `joined` and those of everyone after it: M(M+1)/2 in all.
    let joined_frames_expected = (clients as u64) * (clients as u64 + 1) / 2;
    let settle = Duration::from_secs(30 + (clients * clients / 100_000) as u64);
    let total_joined = |conns: &[Conn]| conns.iter().map(|c| c.log.joined.load(Ordering::Relaxed)).sum::<u64>();
    wait_for(settle, || total_joined(&conns) >= joined_frames_expected || conns.iter().any(|c| c.log.is_ended())).await;
    let joined_frames = total_joined(&conns);
    let joined = sample(pid)?;
    progress(&format!("{clients} joined in {join_seconds:.1} s; chat for {} s", plan.seconds));

    // --- Chat: `rate` messages per second, from the students in turn.
    let cfg = room_limits();
    if f64::from(plan.rate) / plan.students as f64 > f64::from(cfg.messages_per_second) * 0.8 {
        return Err(format!(
            "{} messages/s from {} students would hit the per-connection limit of {}/s",
            plan.rate, plan.students, cfg.messages_per_second
        ));
    }
    let interval = Duration::from_secs_f64(1.0 / f64::from(plan.rate));
    let tool_chat_start = sample("self")?;
    let chat_start = sample(pid)?;
    let first_send = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut sent_at = vec![0u64; messages];
    for (seq, at) in sent_at.iter_mut().enumerate() {
        tokio::time::sleep_until(first_send + interval.mul_f64(seq as f64)).await;
        let sender = 1 + seq % plan.students;
        let msg = ClientMsg::SendChat { body: chat_body(seq), thread: None };
        *at = nanos_since(base);
        conns[sender].send(msg, None).await.map_err(|e| format!("chat message {seq}: {e}"))?;
    }
    let all_chat = |conns: &[Conn]| {
        conns.iter().all(|c| c.log.chats.load(Ordering::Relaxed) as usize >= messages || c.log.is_ended())
    };
    wait_for(DELIVERY_GRACE, || all_chat(&conns)).await;
    let after_chat = sample(pid)?;
    let tool_after_chat = sample("self")?;
    let chat = chat_report(&conns, &sent_at, messages, Deliveries::Chat);

    // --- Whiteboard strokes, from the teacher.
    let (strokes, stroke_cpu_ms) = if strokes > 0 {
        progress("whiteboard strokes");
        let before = sample(pid)?;
        let interval = Duration::from_secs_f64(1.0 / f64::from(STROKES_PER_SECOND));
        let first_send = tokio::time::Instant::now() + Duration::from_millis(50);
        let mut stroke_sent_at = vec![0u64; strokes];
        for (seq, at) in stroke_sent_at.iter_mut().enumerate() {
            tokio::time::sleep_until(first_send + interval.mul_f64(seq as f64)).await;
            *at = nanos_since(base);
            conns[0].send(stroke_op(seq), None).await.map_err(|e| format!("stroke {seq}: {e}"))?;
        }
        let all_strokes = |conns: &[Conn]| {
            conns.iter().all(|c| c.log.strokes.load(Ordering::Relaxed) as usize >= strokes || c.log.is_ended())
        };
        wait_for(DELIVERY_GRACE, || all_strokes(&conns)).await;
        let after = sample(pid)?;
        (Some(chat_report(&conns, &stroke_sent_at, strokes, Deliveries::Strokes)), Some(after.cpu_since(&before).0))
    } else {
        (None, None)
    };

    // --- Votes.
    let votes = match plan.mode {
        Mode::ChatOnly => None,
        Mode::Full => {
            progress("votes");
            Some(vote_phase(plan, &mut conns, base).await?)
        }
    };
    let end = sample(pid)?;
    let tool_end = sample("self")?;

    let (join_cpu_ms, _) = joined.cpu_since(&idle);
    let (chat_cpu_ms, chat_cpu_percent) = after_chat.cpu_since(&chat_start);
    let (vote_cpu_ms, vote_cpu_percent) = match votes {
        Some(_) => {
            let (ms, pct) = end.cpu_since(&after_chat);
            (Some(ms), Some(pct))
        }
        None => (None, None),
    };
    let dropped: Vec<&Conn> = conns.iter().filter(|c| c.log.is_ended()).collect();
    let first_drop = dropped.first().and_then(|c| c.log.lock().end.clone());
    let errors = conns.iter().map(|c| c.log.lock().errors).sum();
    let first_error = conns.iter().find_map(|c| c.log.lock().first_error.clone());
    Ok(RunReport {
        students: plan.students,
        clients,
        rate: plan.rate,
        seconds: plan.seconds,
        load_before: [0.0; 3],
        load_after: [0.0; 3],
        setup_seconds: 0.0,
        join_seconds,
        join_latency: Dist::of_nanos(join_latencies),
        joined_frames,
        joined_frames_expected,
        chat,
        strokes,
        stroke_cpu_ms,
        votes,
        server: ServerReport {
            idle,
            joined,
            after_chat,
            end,
            join_cpu_ms,
            chat_cpu_ms,
            chat_cpu_percent,
            vote_cpu_ms,
            vote_cpu_percent,
        },
        tool_cpu_ms: tool_end.cpu_ms.saturating_sub(tool_start.cpu_ms),
        tool_chat_cpu_percent: tool_after_chat.cpu_since(&tool_chat_start).1,
        dropped: dropped.len(),
        first_drop,
        errors,
        first_error,
    })
}

/// The room limits the server runs with: the defaults, or `LECTERN_ROOM__*` if set.
fn room_limits() -> RoomConfig {
    Config::load(None).map(|c| c.room).unwrap_or_default()
}

/// Which deliveries a report is about.
#[derive(Clone, Copy)]
enum Deliveries {
    Chat,
    Strokes,
}

fn chat_report(conns: &[Conn], sent_at: &[u64], messages: usize, which: Deliveries) -> ChatReport {
    let mut latencies = Vec::with_capacity(conns.len() * messages);
    let mut last = vec![0u64; messages];
    let mut first_in = vec![u64::MAX; messages];
    let (mut duplicates, mut stray, mut received, mut latest) = (0, 0, 0u64, 0u64);
    for conn in conns {
        let log = conn.log.lock();
        let (times, dups, strays) = match which {
            Deliveries::Chat => (&log.chat_at, log.duplicates, log.stray),
            Deliveries::Strokes => (&log.stroke_at, log.stroke_duplicates, log.stroke_stray),
        };
        duplicates += dups;
        stray += strays;
        for (seq, &at) in times.iter().enumerate() {
            if at == 0 {
                continue;
            }
            received += 1;
            let latency = at.saturating_sub(sent_at[seq]);
            latencies.push(latency);
            last[seq] = last[seq].max(latency);
            first_in[seq] = first_in[seq].min(latency);
            latest = latest.max(at);
        }
    }
    let expected = (conns.len() * messages) as u64;
    let first = sent_at.first().copied().unwrap_or(0);
    let mut slowest: Vec<SlowMessage> = (0..messages)
        .filter(|&seq| last[seq] > 0)
        .map(|seq| SlowMessage {
            seq,
            sent_s: sent_at[seq].saturating_sub(first) as f64 / 1e9,
            first_ms: first_in[seq] as f64 / 1e6,
            last_ms: last[seq] as f64 / 1e6,
        })
        .collect();
    slowest.sort_by(|a, b| b.last_ms.total_cmp(&a.last_ms));
    slowest.truncate(SLOWEST_SHOWN);
    ChatReport {
        messages,
        expected,
        received,
        missing: expected - received,
        duplicates,
        stray,
        latency: Dist::of_nanos(latencies),
        first_delivery: Dist::of_nanos(first_in.into_iter().filter(|&l| l < u64::MAX).collect()),
        last_delivery: Dist::of_nanos(last.into_iter().filter(|&l| l > 0).collect()),
        slowest,
        wall_seconds: latest.saturating_sub(first) as f64 / 1e9,
    }
}

async fn vote_phase(plan: &Plan, conns: &mut [Conn], base: Instant) -> Result<VoteReport, Failure> {
    let students = plan.students;
    let create = ClientMsg::CreatePoll {
        question: "Load test: which option?".into(),
        kind: PollKind::Single,
        anonymous: false,
        options: POLL_OPTIONS.iter().map(|o| o.to_string()).collect(),
    };
    conns[0].send(create, Some(1)).await.map_err(|e| format!("create poll: {e}"))?;
    let opened =
        |conns: &[Conn]| conns.iter().all(|c| c.log.polls_opened.load(Ordering::Relaxed) >= 1 || c.log.is_ended());
    if !wait_for(Duration::from_secs(10), || opened(conns)).await {
        return Err("not every client saw the poll open within 10 s".into());
    }
    let (poll, options) = conns[0].log.lock().poll.clone().ok_or("the teacher did not see the poll open")?;
    if options.is_empty() {
        return Err("the poll has no options".into());
    }

    // Every student votes once, spread evenly over one second.
    let spacing = Duration::from_secs(1).div_f64(students as f64);
    let first = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut sent_at = vec![0u64; students];
    for (i, at) in sent_at.iter_mut().enumerate() {
        tokio::time::sleep_until(first + spacing.mul_f64(i as f64)).await;
        let vote = ClientMsg::Vote { poll, options: vec![options[i % options.len()]] };
        *at = nanos_since(base);
        conns[1 + i].send(vote, None).await.map_err(|e| format!("vote {i}: {e}"))?;
    }
    let last_sent = sent_at.last().copied().unwrap_or(0);
    let voted = |conns: &[Conn]| {
        conns[1..].iter().all(|c| c.log.lock().your_vote_at > 0 || c.log.is_ended())
            && (conns[0].log.lock().voters_seen as usize >= students || conns[0].log.is_ended())
    };
    wait_for(DELIVERY_GRACE, || voted(conns)).await;
    let mut latencies = Vec::with_capacity(students);
    for (conn, &sent) in conns[1..].iter().zip(&sent_at) {
        let at = conn.log.lock().your_vote_at;
        if at > 0 {
            latencies.push(at.saturating_sub(sent));
        }
    }
    let (teacher_voters, all_at) = {
        let log = conns[0].log.lock();
        (log.voters_seen, log.all_voters_at)
    };

    // Close it: every client hears the results.
    let close_sent = nanos_since(base);
    conns[0].send(ClientMsg::ClosePoll { poll }, Some(2)).await.map_err(|e| format!("close poll: {e}"))?;
    let closed = |conns: &[Conn]| conns.iter().all(|c| c.log.lock().poll_closed_at > 0 || c.log.is_ended());
    wait_for(DELIVERY_GRACE, || closed(conns)).await;
    let mut closed_latencies = Vec::with_capacity(conns.len());
    let mut voters_ok = 0;
    for conn in conns.iter() {
        let log = conn.log.lock();
        if log.poll_closed_at > 0 {
            closed_latencies.push(log.poll_closed_at.saturating_sub(close_sent));
            if log.poll_closed_voters as usize == students {
                voters_ok += 1;
            }
        }
    }
    Ok(VoteReport {
        votes_sent: students,
        your_vote_received: latencies.len(),
        latency: Dist::of_nanos(latencies),
        teacher_voters,
        teacher_all_after_last_ms: (all_at > 0).then(|| (all_at as f64 - last_sent as f64) / 1e6),
        poll_closed_received: closed_latencies.len(),
        poll_closed_voters_ok: voters_ok,
        poll_closed_latency: Dist::of_nanos(closed_latencies),
    })
}

// ---------------------------------------------------------------------------------------------
// Reports

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn machine_json() -> serde_json::Value {
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu_model(),
        "open_files_limit": open_files_limit(),
    })
}

fn run_json(r: &RunReport) -> serde_json::Value {
    let s = &r.server;
    let deliveries = r.chat.received.max(1) as f64;
    let votes = r.votes.as_ref().map(|v| {
        json!({
            "votes_sent": v.votes_sent,
            "your_vote_received": v.your_vote_received,
            "latency_ms": Dist::json(&v.latency),
            "teacher_voters_seen": v.teacher_voters,
            "teacher_all_counted_after_last_vote_ms": v.teacher_all_after_last_ms,
            "poll_closed_received": v.poll_closed_received,
            "poll_closed_with_all_voters": v.poll_closed_voters_ok,
            "poll_closed_latency_ms": Dist::json(&v.poll_closed_latency),
            "server_cpu_ms": s.vote_cpu_ms,
            "server_cpu_percent": s.vote_cpu_percent,
        })
    });
    let strokes = r.strokes.as_ref().map(|b| {
        json!({
            "strokes": b.messages,
            "points_per_stroke": STROKE_POINTS,
            "per_second": STROKES_PER_SECOND,
            "deliveries_expected": b.expected,
            "deliveries_received": b.received,
            "missing": b.missing,
            "duplicates": b.duplicates,
            "latency_ms": Dist::json(&b.latency),
            "last_delivery_per_stroke_ms": Dist::json(&b.last_delivery),
            "server_cpu_ms": r.stroke_cpu_ms,
        })
    });
    json!({
        "students": r.students,
        "clients": r.clients,
        "rate_per_second": r.rate,
        "seconds": r.seconds,
        "loadavg_before": r.load_before,
        "loadavg_after": r.load_after,
        "setup_seconds": r.setup_seconds,
        "join": {
            "seconds": r.join_seconds,
            "latency_ms": Dist::json(&r.join_latency),
            "joined_frames": r.joined_frames,
            "joined_frames_expected": r.joined_frames_expected,
            "server_cpu_ms": s.join_cpu_ms,
            "server_cpu_ms_per_client": s.join_cpu_ms as f64 / r.clients as f64,
        },
        "chat": {
            "messages": r.chat.messages,
            "deliveries_expected": r.chat.expected,
            "deliveries_received": r.chat.received,
            "missing": r.chat.missing,
            "duplicates": r.chat.duplicates,
            "stray": r.chat.stray,
            "latency_ms": Dist::json(&r.chat.latency),
            "last_delivery_per_message_ms": Dist::json(&r.chat.last_delivery),
            "first_delivery_per_message_ms": Dist::json(&r.chat.first_delivery),
            "slowest_messages": r.chat.slowest.iter().map(|m| json!({
                "seq": m.seq, "sent_s": m.sent_s, "first_ms": m.first_ms, "last_ms": m.last_ms,
            })).collect::<Vec<_>>(),
            "wall_seconds": r.chat.wall_seconds,
            "server_cpu_ms": s.chat_cpu_ms,
            "server_cpu_percent": s.chat_cpu_percent,
            "server_cpu_ms_per_message": s.chat_cpu_ms as f64 / r.chat.messages.max(1) as f64,
            "server_cpu_us_per_delivery": s.chat_cpu_ms as f64 * 1000.0 / deliveries,
            "server_cpu_ms_per_client": s.chat_cpu_ms as f64 / r.clients as f64,
            "tool_cpu_percent": r.tool_chat_cpu_percent,
        },
        "strokes": strokes,
        "votes": votes,
        "server_memory": {
            "rss_idle_mb": mb(s.idle.rss_kb),
            "rss_joined_mb": mb(s.joined.rss_kb),
            "rss_after_chat_mb": mb(s.after_chat.rss_kb),
            "rss_end_mb": mb(s.end.rss_kb),
            "rss_peak_mb": mb(s.end.hwm_kb),
            "rss_per_client_kb": r.rss_per_client_kb(),
            "threads": s.end.threads,
        },
        "tool_cpu_ms": r.tool_cpu_ms,
        "dropped_clients": r.dropped,
        "first_drop": r.first_drop,
        "errors": r.errors,
        "first_error": r.first_error,
        "complete": r.complete(),
    })
}

fn fmt_dist(d: &Option<Dist>) -> String {
    match d {
        Some(d) => {
            format!("p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2} ms", d.p50, d.p90, d.p99, d.p999, d.max)
        }
        None => "none".into(),
    }
}

fn print_run(r: &RunReport) {
    let s = &r.server;
    let l = |v: [f64; 3]| format!("{:.2} {:.2} {:.2}", v[0], v[1], v[2]);
    println!(
        "live room: {} students + 1 teacher = {} WebSocket clients; chat {} msg/s for {} s ({} messages)",
        r.students, r.clients, r.rate, r.seconds, r.chat.messages
    );
    println!(
        "machine: {} CPUs ({}); loadavg before {}, after {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model(),
        l(r.load_before),
        l(r.load_after)
    );
    println!();
    println!(
        "join     {} clients in {:.2} s (setup {:.1} s); handshake+welcome {}",
        r.clients,
        r.join_seconds,
        r.setup_seconds,
        fmt_dist(&r.join_latency)
    );
    println!("         joined frames {} of {}", r.joined_frames, r.joined_frames_expected);
    println!(
        "chat     deliveries {} of {} (missing {}, duplicate {}, stray {}); dropped clients {}; errors {}",
        r.chat.received, r.chat.expected, r.chat.missing, r.chat.duplicates, r.chat.stray, r.dropped, r.errors
    );
    println!("         latency          {}", fmt_dist(&r.chat.latency));
    println!("         last per message {}", fmt_dist(&r.chat.last_delivery));
    println!("         first per message {}", fmt_dist(&r.chat.first_delivery));
    let slow: Vec<String> = r
        .chat
        .slowest
        .iter()
        .map(|m| format!("#{} at {:.2} s: first {:.1} ms, last {:.1} ms", m.seq, m.sent_s, m.first_ms, m.last_ms))
        .collect();
    println!("         slowest          {}", slow.join("; "));
    if let Some(b) = &r.strokes {
        println!(
            "strokes  {} pen strokes of {STROKE_POINTS} points from the teacher, {STROKES_PER_SECOND}/s; deliveries {} of {} (missing {}, duplicate {})",
            b.messages, b.received, b.expected, b.missing, b.duplicates
        );
        println!("         latency          {}", fmt_dist(&b.latency));
        println!("         last per stroke  {}", fmt_dist(&b.last_delivery));
        if let Some(ms) = r.stroke_cpu_ms {
            println!(
                "         server CPU {ms} ms ({:.2} µs per delivery)",
                ms as f64 * 1000.0 / b.received.max(1) as f64
            );
        }
    }
    if let Some(v) = &r.votes {
        println!("votes    your_vote {} of {}; latency {}", v.your_vote_received, v.votes_sent, fmt_dist(&v.latency));
        println!(
            "         teacher's poll_counts reached {} voters{}",
            v.teacher_voters,
            v.teacher_all_after_last_ms
                .map(|ms| format!(", {ms:.1} ms after the last vote was sent"))
                .unwrap_or_default()
        );
        println!(
            "         poll_closed {} of {} clients ({} with all {} voters); {}",
            v.poll_closed_received,
            r.clients,
            v.poll_closed_voters_ok,
            r.students,
            fmt_dist(&v.poll_closed_latency)
        );
    }
    println!();
    println!(
        "server   RSS idle {:.1} MB, {} joined {:.1} MB ({:.1} KB per client), end {:.1} MB, peak {:.1} MB; {} threads",
        mb(s.idle.rss_kb),
        r.clients,
        mb(s.joined.rss_kb),
        r.rss_per_client_kb(),
        mb(s.end.rss_kb),
        mb(s.end.hwm_kb),
        s.end.threads
    );
    println!(
        "         CPU join {} ms ({:.2} ms per client); chat {} ms = {:.1}% of a core ({:.2} ms per message, {:.2} µs per delivery, {:.2} ms per client)",
        s.join_cpu_ms,
        s.join_cpu_ms as f64 / r.clients as f64,
        s.chat_cpu_ms,
        s.chat_cpu_percent,
        s.chat_cpu_ms as f64 / r.chat.messages.max(1) as f64,
        s.chat_cpu_ms as f64 * 1000.0 / r.chat.received.max(1) as f64,
        s.chat_cpu_ms as f64 / r.clients as f64,
    );
    if let (Some(ms), Some(pct)) = (s.vote_cpu_ms, s.vote_cpu_percent) {
        println!("         CPU votes {ms} ms ({pct:.1}% of a core over the poll phase)");
    }
    println!("tool     CPU {} ms in all; {:.1}% of a core during chat", r.tool_cpu_ms, r.tool_chat_cpu_percent);
    if let Some(why) = &r.first_drop {
        println!("first dropped client: {why}");
    }
    if let Some(e) = &r.first_error {
        println!("first error: {e}");
    }
}

fn print_targets(r: &RunReport) {
    println!();
    println!("targets:");
    println!(
        "  {}  every client received every chat message exactly once ({} of {}, {} duplicates, {} dropped)",
        verdict(r.complete()),
        r.chat.received,
        r.chat.expected,
        r.chat.duplicates,
        r.dropped
    );
    println!("  {}  p99 delivery latency {:.2} ms < {TARGET_P99_MS} ms", verdict(r.p99() < TARGET_P99_MS), r.p99());
    if let Some(b) = &r.strokes {
        let p99 = b.latency.map_or(f64::INFINITY, |d| d.p99);
        println!(
            "  {}  every client received every stroke once, p99 {p99:.2} ms < {TARGET_P99_MS} ms",
            verdict(b.missing == 0 && b.duplicates == 0 && p99 < TARGET_P99_MS)
        );
    }
    if let Some(v) = &r.votes {
        let ok = v.your_vote_received == v.votes_sent
            && v.teacher_voters as usize == r.students
            && v.poll_closed_received == r.clients
            && v.poll_closed_voters_ok == r.clients;
        println!("  {}  every vote answered, counted for the teacher and in every client's poll_closed", verdict(ok));
    }
}

// ---------------------------------------------------------------------------------------------
// Modes

async fn single(args: &Args) -> Result<(), Failure> {
    let plan = Plan {
        students: args.clients,
        seconds: args.seconds.unwrap_or(10),
        rate: args.rate,
        mode: Mode::Full,
        server: args.server.clone(),
    };
    let report = run_once(&plan, false).await?;
    if args.json {
        let mut value = run_json(&report);
        value["machine"] = machine_json();
        value["target_p99_ms"] = json!(TARGET_P99_MS);
        value["pass_p99"] = json!(report.p99() < TARGET_P99_MS);
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| fail("JSON", e))?);
    } else {
        print_run(&report);
        print_targets(&report);
    }
    Ok(())
}

struct Step {
    students: usize,
    outcome: Result<RunReport, Failure>,
}

impl Step {
    fn passed(&self) -> bool {
        matches!(&self.outcome, Ok(r) if r.complete() && r.p99() < FIND_MAX_P99_MS)
    }
}

async fn find_max(args: &Args) -> Result<(), Failure> {
    let seconds = args.seconds.unwrap_or(5);
    let mut sizes: Vec<usize> = FIND_MAX_SIZES.iter().copied().filter(|&n| n <= args.max_clients).collect();
    let mut next = 4000;
    while next <= args.max_clients {
        sizes.push(next);
        next += 1000;
    }
    let mut steps: Vec<Step> = Vec::new();
    let run = async |students: usize, steps: &mut Vec<Step>| {
        let plan = Plan { students, seconds, rate: args.rate, mode: Mode::ChatOnly, server: args.server.clone() };
        let outcome = run_once(&plan, false).await;
        match &outcome {
            Ok(r) => eprintln!(
                "[room_load {} clients] p99 {:.2} ms, max {:.2} ms, {} of {} delivered, {} dropped: {}",
                r.clients,
                r.p99(),
                r.chat.latency.map_or(f64::NAN, |d| d.max),
                r.chat.received,
                r.chat.expected,
                r.dropped,
                if r.complete() && r.p99() < FIND_MAX_P99_MS { "holds" } else { "misses" }
            ),
            Err(e) => eprintln!("[room_load {students} students] failed: {e}"),
        }
        let step = Step { students, outcome };
        let passed = step.passed();
        steps.push(step);
        passed
    };
    let mut best: Option<usize> = None;
    let mut first_miss: Option<usize> = None;
    for &n in &sizes {
        if run(n, &mut steps).await {
            best = Some(n);
        } else {
            first_miss = Some(n);
            break;
        }
    }
    // Narrow the gap between the last size that held and the first that did not.
    if let (Some(mut low), Some(mut high)) = (best, first_miss) {
        for _ in 0..FIND_MAX_REFINE {
            let mid = (low + high) / 2 / 50 * 50;
            if mid <= low || mid >= high {
                break;
            }
            if run(mid, &mut steps).await {
                low = mid;
                best = Some(mid);
            } else {
                high = mid;
            }
        }
    }
    // `best` counts students; the class also has its teacher.
    if args.json {
        let value = json!({
            "mode": "find_max",
            "machine": machine_json(),
            "threshold_p99_ms": FIND_MAX_P99_MS,
            "seconds_per_size": seconds,
            "rate_per_second": args.rate,
            "max_clients": args.max_clients,
            "largest_students_holding": best,
            "steps": steps.iter().map(|s| match &s.outcome {
                Ok(r) => { let mut v = run_json(r); v["holds"] = json!(s.passed()); v }
                Err(e) => json!({ "students": s.students, "failed": e, "holds": false }),
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| fail("JSON", e))?);
        return Ok(());
    }
    println!(
        "live room, largest class: chat {} msg/s for {seconds} s per size, p99 < {FIND_MAX_P99_MS} ms and every message delivered",
        args.rate
    );
    println!("machine: {} CPUs ({})", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), cpu_model());
    println!();
    println!(
        "{:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>10} {:>11}  result",
        "students",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "missing",
        "dropped",
        "CPU %",
        "µs/deliv",
        "tool %",
        "RSS MB",
        "KB/client",
        "load 1 min"
    );
    for s in &steps {
        match &s.outcome {
            Ok(r) => {
                let d = r.chat.latency;
                let get = |f: fn(&Dist) -> f64| d.as_ref().map_or(f64::NAN, f);
                println!(
                    "{:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>8} {:>8.1} {:>9.2} {:>8.1} {:>8.1} {:>10.1} {:>11}  {}",
                    r.students,
                    get(|d| d.p50),
                    get(|d| d.p90),
                    get(|d| d.p99),
                    get(|d| d.max),
                    r.chat.missing,
                    r.dropped,
                    r.server.chat_cpu_percent,
                    r.server.chat_cpu_ms as f64 * 1000.0 / r.chat.received.max(1) as f64,
                    r.tool_chat_cpu_percent,
                    mb(r.server.joined.rss_kb),
                    r.rss_per_client_kb(),
                    format!("{:.1}/{:.1}", r.load_before[0], r.load_after[0]),
                    if s.passed() { "holds" } else { "MISS" }
                );
            }
            Err(e) => println!("{:>8}  failed: {}", s.students, e.lines().next().unwrap_or("")),
        }
    }
    println!();
    match best {
        Some(n) => {
            println!("largest class holding p99 < {FIND_MAX_P99_MS} ms: {n} students + 1 teacher (of the sizes tried)")
        }
        None => println!("no size tried held p99 < {FIND_MAX_P99_MS} ms"),
    }
    Ok(())
}

async fn run(args: &Args) -> Result<(), Failure> {
    let largest = if args.find_max { args.max_clients } else { args.clients } as u64 + 1;
    if let Some(limit) = open_files_limit()
        && limit < largest + SPARE_FDS
    {
        return Err(format!(
            "{largest} clients need about {} open files, the limit is {limit}: raise it first (ulimit -n {})",
            largest + SPARE_FDS,
            largest + SPARE_FDS
        ));
    }
    if args.find_max { find_max(args).await } else { single(args).await }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("room_load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("room_load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ctrl-C drops the run, which kills the server and removes the temporary folder.
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(&args) => outcome,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("room_load: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
