//! The SFU's threads. Each worker owns one UDP socket, one [`SfuCore`] and the classes hashed
//! to it, so all of a class's forwarding happens on one thread with plain `&mut` access. The
//! async side (room actors) talks to a worker over a channel; answers come back on oneshots,
//! events (a peer lost, the active speaker) on the class's event channel.

use super::arrival;
use super::backlog::{BacklogWatch, Behind};
use super::core::{Accepted, ClassId, Limits, OfferRequest, PeerId, SfuCore, SfuError, SfuEvent};
use super::overload::{Change, LoadGovernor};
use super::send_batch::SendBatch;
use app::protocol::{UserId, ViewSlot};
use lectern_core::config::MediaConfig;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Where a class's SFU events go (its room actor).
pub type EventSink = mpsc::UnboundedSender<SfuEvent>;

/// The longest a worker sleeps with nothing to do (commands wake it at once).
const IDLE_WAIT: Duration = Duration::from_millis(100);
const SOCKET: mio::Token = mio::Token(0);
const COMMANDS: mio::Token = mio::Token(1);
/// Datagrams read in a row before the worker sends and looks at its timers and commands
/// again. A worker that keeps up reads one at a time; one that falls behind catches up in
/// bursts, which cost less per packet (see `SfuCore::poll_datagram`).
const READ_BURST: usize = 64;
/// How long a flush goes on reading the socket between its batches (see `flush`): longer than
/// a fan-out of one packet to a large class, short enough that commands and timers wait little.
const READ_DURING_FLUSH: Duration = Duration::from_millis(10);

enum Command {
    Offer { req: OfferRequest, events: EventSink, reply: oneshot::Sender<Result<Accepted, SfuError>> },
    View { peer: PeerId, user: UserId, slots: Vec<ViewSlot>, reply: oneshot::Sender<Result<(), SfuError>> },
    StopPublishing { class: ClassId, user: UserId },
    Close { peer: PeerId },
    Shutdown,
}

struct WorkerHandle {
    commands: std_mpsc::Sender<Command>,
    /// Wakes the worker out of its epoll wait when a command is queued.
    waker: Arc<mio::Waker>,
    local: SocketAddr,
}

impl WorkerHandle {
    fn send(&self, command: Command) -> Result<(), SfuError> {
        self.commands.send(command).map_err(|_| SfuError::Unavailable)?;
        self.waker.wake().map_err(|_| SfuError::Unavailable)
    }
}

/// The running SFU: its workers and their addresses.
pub struct Sfu {
    workers: Vec<WorkerHandle>,
}

impl Sfu {
    /// Bind the workers' sockets and start their threads.
    pub fn start(config: &MediaConfig) -> std::io::Result<Self> {
        let count = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let limits = Limits {
            max_participants: config.max_participants,
            max_publishers: config.max_publishers,
            rejoin_grace: Duration::from_secs(config.rejoin_grace_seconds),
            camera_max_bps: u64::from(config.camera_max_kbps) * 1000,
            screen_max_bps: u64::from(config.screen_max_kbps) * 1000,
            downlink: config.downlink_estimate,
            ..Limits::default()
        };
        let mut workers = Vec::with_capacity(count);
        for i in 0..count {
            let port = if config.udp_port == 0 { 0 } else { config.udp_port + i as u16 };
            let socket = UdpSocket::bind(SocketAddr::new(config.bind_ip, port))?;
            let local = socket.local_addr()?;
            let asked = config.socket_buffer_kib as usize * 1024;
            match size_buffers(&socket, asked) {
                Ok(given) if given.receive < asked || given.send < asked => tracing::warn!(
                    worker = i,
                    asked_kib = asked / 1024,
                    receive_kib = given.receive / 1024,
                    send_kib = given.send / 1024,
                    "the kernel gave the SFU socket smaller buffers than media.socket_buffer_kib: \
                     raise net.core.rmem_max and net.core.wmem_max (docs/media.md)"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(worker = i, %e, "cannot size the SFU socket's buffers"),
            }
            let announced = announced_addresses(config, local);
            tracing::info!(worker = i, %local, candidates = ?announced, "SFU worker listening");
            let (commands, inbox) = std_mpsc::channel();
            let governor = config.shed_load.then(LoadGovernor::default);
            let core = SfuCore::new(limits.clone(), announced.clone());
            socket.set_nonblocking(true)?;
            // Without arrival times the worker still runs, on read times (see `arrival`).
            if let Err(e) = arrival::enable(&socket) {
                tracing::warn!(worker = i, %e, "SFU socket gives no arrival times");
            }
            let mut socket = mio::net::UdpSocket::from_std(socket);
            let poll = mio::Poll::new()?;
            poll.registry().register(&mut socket, SOCKET, mio::Interest::READABLE)?;
            let waker = Arc::new(mio::Waker::new(poll.registry(), COMMANDS)?);
            std::thread::Builder::new()
                .name(format!("sfu-{i}"))
                .spawn(move || run(i, poll, socket, announced, core, governor, inbox))?;
            workers.push(WorkerHandle { commands, waker, local });
        }
        Ok(Self { workers })
    }

    /// The workers' bound addresses (for tests and logs).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.local).collect()
    }

    fn worker(&self, class: ClassId) -> &WorkerHandle {
        &self.workers[(class.unsigned_abs() % self.workers.len() as u64) as usize]
    }

    /// Hand a browser's offer to its class's worker and wait for the answer.
    pub async fn offer(&self, req: OfferRequest, events: EventSink) -> Result<Accepted, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.worker(req.class).send(Command::Offer { req, events, reply })?;
        answer.await.map_err(|_| SfuError::Unavailable)?
    }

    pub async fn view(&self, class: ClassId, peer: PeerId, user: UserId, slots: Vec<ViewSlot>) -> Result<(), SfuError> {
        let (reply, done) = oneshot::channel();
        self.worker(class).send(Command::View { peer, user, slots, reply })?;
        done.await.map_err(|_| SfuError::Unavailable)?
    }

    pub fn stop_publishing(&self, class: ClassId, user: UserId) {
        let _ = self.worker(class).send(Command::StopPublishing { class, user });
    }

    pub fn close(&self, class: ClassId, peer: PeerId) {
        let _ = self.worker(class).send(Command::Close { peer });
    }
}

impl Drop for Sfu {
    fn drop(&mut self) {
        for w in &self.workers {
            let _ = w.send(Command::Shutdown);
        }
    }
}

/// What browsers are told to send to: the announced addresses (or a usable bind address),
/// each with this worker's port.
fn announced_addresses(config: &MediaConfig, local: SocketAddr) -> Vec<SocketAddr> {
    let ips: Vec<IpAddr> = if !config.announced_ips.is_empty() {
        config.announced_ips.clone()
    } else if local.ip().is_unspecified() {
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
    } else {
        vec![local.ip()]
    };
    ips.into_iter().map(|ip| SocketAddr::new(ip, local.port())).collect()
}

/// A socket's kernel buffers for data, each way, in bytes.
#[derive(Debug)]
struct Buffers {
    receive: usize,
    send: usize,
}

/// Ask for `bytes` of buffer each way; returns what the kernel gave, at most its cap
/// (`net.core.rmem_max`, `wmem_max`). Linux reserves twice the figure asked, half of it for
/// its own bookkeeping, and reports the double: halved here, so it compares with the ask.
fn size_buffers(socket: &UdpSocket, bytes: usize) -> nix::Result<Buffers> {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt};
    setsockopt(socket, sockopt::RcvBuf, &bytes)?;
    setsockopt(socket, sockopt::SndBuf, &bytes)?;
    Ok(Buffers { receive: getsockopt(socket, sockopt::RcvBuf)? / 2, send: getsockopt(socket, sockopt::SndBuf)? / 2 })
}

/// The worker's loop. It waits in epoll: a socket read timeout counts in kernel ticks (asked
/// for 1 ms it can sleep 4 to 12 ms), which would spread str0m's paced packets and bandwidth
/// probes and ruin the downlink estimates.
fn run(
    worker: usize,
    mut poll: mio::Poll,
    socket: mio::net::UdpSocket,
    announced: Vec<SocketAddr>,
    mut core: SfuCore,
    mut governor: Option<LoadGovernor>,
    inbox: std_mpsc::Receiver<Command>,
) {
    let mut events = mio::Events::with_capacity(4);
    let mut sinks: HashMap<ClassId, EventSink> = HashMap::new();
    let mut inbound = Inbound::new(worker, announced);
    let mut more_queued = false;
    let mut outgoing = SendBatch::default();
    loop {
        loop {
            match inbox.try_recv() {
                Ok(Command::Shutdown) | Err(std_mpsc::TryRecvError::Disconnected) => return,
                Ok(command) => guarded("command", || handle(&mut core, &mut sinks, command)),
                Err(std_mpsc::TryRecvError::Empty) => break,
            }
        }
        let now = Instant::now();
        if core.poll_timeout().is_some_and(|t| t <= now) {
            guarded("timer", || core.tick(now));
        }
        if let Some(governor) = &mut governor {
            guarded("load", || govern(worker, &mut core, governor, now));
        }
        more_queued |= flush(&mut core, &socket, &mut outgoing, &mut sinks, &mut inbound, &mut governor);
        let wait = if more_queued {
            Duration::ZERO
        } else {
            core.poll_timeout().map_or(IDLE_WAIT, |t| t.saturating_duration_since(Instant::now())).min(IDLE_WAIT)
        };
        let idle_from = Instant::now();
        if let Err(e) = poll.poll(&mut events, Some(wait))
            && e.kind() != ErrorKind::Interrupted
        {
            tracing::warn!(%e, "SFU poll failed");
        }
        if let Some(governor) = &mut governor {
            governor.note_idle(idle_from.elapsed());
        }
        more_queued = inbound.read_burst(&socket, &mut core, governor.as_mut());
        // Once per burst: each subscriber sends all it was given in one pass.
        more_queued |= flush(&mut core, &socket, &mut outgoing, &mut sinks, &mut inbound, &mut governor);
    }
}

/// The worker's reading side: its socket's datagrams handed to the core, and how long each
/// waited there, and in the fan-out after, noted.
struct Inbound {
    worker: usize,
    announced: Vec<SocketAddr>,
    buf: Vec<u8>,
    control: Vec<u8>,
    backlog: BacklogWatch,
}

impl Inbound {
    fn new(worker: usize, announced: Vec<SocketAddr>) -> Self {
        Self {
            worker,
            announced,
            buf: vec![0u8; 2048],
            control: arrival::control_space(),
            backlog: BacklogWatch::default(),
        }
    }

    /// Read what is queued, up to [`READ_BURST`] datagrams (edge-triggered: until the socket
    /// is empty or the burst is used up). Returns whether the burst was used up, so more may
    /// be queued.
    fn read_burst(
        &mut self,
        socket: &mio::net::UdpSocket,
        core: &mut SfuCore,
        mut governor: Option<&mut LoadGovernor>,
    ) -> bool {
        for i in 0..READ_BURST {
            match arrival::recv(socket, &mut self.buf, &mut self.control) {
                Ok(d) => {
                    let destination = self
                        .announced
                        .iter()
                        .find(|a| a.is_ipv4() == d.source.is_ipv4())
                        .or(self.announced.first())
                        .copied()
                        .unwrap_or(d.source);
                    let bytes = &self.buf[..d.len];
                    guarded("datagram", || core.receive(d.read, d.arrived, d.source, destination, bytes));
                    if let Some(governor) = governor.as_deref_mut() {
                        governor.note_wait(d.read.saturating_duration_since(d.arrived));
                    }
                    if let Some(behind) = self.backlog.observe(d.arrived, d.read) {
                        self.warn_behind(&behind);
                    }
                    if i + 1 == READ_BURST {
                        return true;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // An ICMP "port unreachable" from a browser that left surfaces here; not ours.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    tracing::warn!(%e, "SFU socket read failed");
                    break;
                }
            }
        }
        false
    }

    /// The fan-out just ended kept its longest-waiting packet `waited` since it reached the
    /// socket: the wait the socket's alone no longer shows, since a fan-out reads between its
    /// send batches. Like each socket wait in [`Inbound::read_burst`], it goes to the governor
    /// and to the log's warning.
    fn note_fan_out(&mut self, waited: Duration, governor: Option<&mut LoadGovernor>) {
        if let Some(governor) = governor {
            governor.note_wait(waited);
        }
        if let Some(behind) = self.backlog.observe_fan_out(waited, Instant::now()) {
            self.warn_behind(&behind);
        }
    }

    fn warn_behind(&self, behind: &Behind) {
        tracing::warn!(
            worker = self.worker,
            worst_wait_ms = behind.worst.as_millis() as u64,
            late = behind.late,
            read = behind.read,
            late_fan_outs = behind.late_fan_outs,
            "the SFU worker is falling behind: packets waited in its socket or its fan-out; its classes \
             are too large for one core (docs/media.md)"
        );
    }
}

/// The governor's decision for the window just ended, applied to the worker's slots.
fn govern(worker: usize, core: &mut SfuCore, governor: &mut LoadGovernor, now: Instant) {
    let Some(change) = governor.assess(now, |ceiling| core.forwarding_rate(ceiling)) else { return };
    core.set_video_ceiling(now, governor.ceiling());
    match change {
        Change::Lowered { to, busy_percent, worst_wait } => tracing::warn!(
            worker,
            layer = ?to,
            busy_percent,
            worst_wait_ms = worst_wait.as_millis() as u64,
            "the SFU worker cannot keep up: its students' video is held to a lower layer until it can \
             (docs/media.md)"
        ),
        Change::Raised { to, predicted_percent } => tracing::info!(
            worker,
            layer = ?to,
            predicted_busy_percent = predicted_percent,
            "the SFU worker has room again: its students' video may use a better layer"
        ),
    }
}

fn handle(core: &mut SfuCore, sinks: &mut HashMap<ClassId, EventSink>, command: Command) {
    let now = Instant::now();
    match command {
        Command::Offer { req, events, reply } => {
            sinks.insert(req.class, events);
            let _ = reply.send(core.offer(now, req));
        }
        Command::View { peer, user, slots, reply } => {
            let _ = reply.send(core.view(now, peer, user, &slots));
        }
        Command::StopPublishing { class, user } => core.stop_publishing(now, class, user),
        Command::Close { peer } => core.close(now, peer),
        Command::Shutdown => {}
    }
}

/// Send all the core has to send, and pass its events on. Nothing stays in `outgoing`: the
/// worker may sleep next. Returns whether the socket may still hold datagrams (its last read
/// used up its burst): the socket is edge-triggered, so the worker must not wait for it then.
///
/// Between batches the socket is read again, for up to [`READ_DURING_FLUSH`]: a fan-out to a
/// large class takes milliseconds, and a packet of the teacher's that arrives meanwhile is
/// then written at once to the students this flush has not reached yet, so it leaves with
/// what they are about to be sent instead of after the whole flush. The students already
/// reached get it on their next turn, in this flush. Past that time the flush only sends, so
/// commands and timers are not kept waiting by a worker that cannot keep up.
fn flush(
    core: &mut SfuCore,
    socket: &mio::net::UdpSocket,
    outgoing: &mut SendBatch,
    sinks: &mut HashMap<ClassId, EventSink>,
    inbound: &mut Inbound,
    governor: &mut Option<LoadGovernor>,
) -> bool {
    let reading_until = Instant::now() + READ_DURING_FLUSH;
    let mut more_queued = false;
    while let Some(d) = core.poll_datagram(Instant::now()) {
        outgoing.push(socket, d);
        if outgoing.is_empty() && Instant::now() < reading_until {
            more_queued = inbound.read_burst(socket, core, governor.as_mut());
        }
    }
    outgoing.finish(socket);
    inbound.note_fan_out(core.take_longest_fan_out_wait(), governor.as_mut());
    for event in core.take_events() {
        let class = match &event {
            SfuEvent::PeerClosed { class, .. } | SfuEvent::ActiveSpeaker { class, .. } => *class,
        };
        if let Some(sink) = sinks.get(&class)
            && sink.send(event).is_err()
        {
            sinks.remove(&class);
        }
    }
    more_queued
}

/// A bug of ours must not take every class on this worker down with it.
fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(what, "the SFU worker caught a panic and goes on");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_cap(name: &str) -> usize {
        let path = format!("/proc/sys/net/core/{name}");
        std::fs::read_to_string(&path).ok().and_then(|v| v.trim().parse().ok()).expect("the kernel's buffer cap")
    }

    #[test]
    fn a_worker_socket_gets_the_buffers_asked_for_up_to_the_kernels_cap() {
        use nix::sys::socket::{getsockopt, sockopt};
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let default = getsockopt(&socket, sockopt::RcvBuf).expect("read the default") / 2;
        let asked = 1024 * 1024;
        let given = size_buffers(&socket, asked).expect("size the buffers");
        assert_eq!(given.receive, asked.min(kernel_cap("rmem_max")), "{given:?}");
        assert_eq!(given.send, asked.min(kernel_cap("wmem_max")), "{given:?}");
        // Where the cap allows it, more than the kernel's default: what the setting is for.
        if kernel_cap("rmem_max") >= asked {
            assert!(given.receive > default, "{given:?} against a default of {default}");
        }
        // Past the cap, the cap: what `Sfu::start` compares with the ask to warn.
        let cap = kernel_cap("rmem_max");
        if cap <= 64 << 20 {
            assert_eq!(size_buffers(&socket, cap * 2).expect("ask past the cap").receive, cap);
        }
    }
}
