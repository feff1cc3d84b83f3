//! The SFU's threads. Each worker owns one UDP socket, one [`SfuCore`] and the classes hashed
//! to it, so all of a class's forwarding happens on one thread with plain `&mut` access. The
//! async side (room actors) talks to a worker over a channel; answers come back on oneshots,
//! events (a peer lost, the active speaker) on the class's event channel.

use super::core::{Accepted, ClassId, Limits, OfferRequest, PeerId, SfuCore, SfuError, SfuEvent};
use app::protocol::{UserId, ViewSlot};
use lectern_core::config::MediaConfig;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Where a class's SFU events go (its room actor).
pub type EventSink = mpsc::UnboundedSender<SfuEvent>;

/// The longest a worker sleeps before looking at its commands.
const COMMAND_LATENCY: Duration = Duration::from_millis(5);
/// Datagrams read in a row before the worker looks at its timers and commands again.
const READ_BURST: usize = 64;

enum Command {
    Offer { req: OfferRequest, events: EventSink, reply: oneshot::Sender<Result<Accepted, SfuError>> },
    View { peer: PeerId, user: UserId, slots: Vec<ViewSlot>, reply: oneshot::Sender<Result<(), SfuError>> },
    StopPublishing { class: ClassId, user: UserId },
    Close { peer: PeerId },
    Shutdown,
}

struct WorkerHandle {
    commands: std_mpsc::Sender<Command>,
    local: SocketAddr,
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
            ..Limits::default()
        };
        let mut workers = Vec::with_capacity(count);
        for i in 0..count {
            let port = if config.udp_port == 0 { 0 } else { config.udp_port + i as u16 };
            let socket = UdpSocket::bind(SocketAddr::new(config.bind_ip, port))?;
            let local = socket.local_addr()?;
            let announced = announced_addresses(config, local);
            tracing::info!(worker = i, %local, candidates = ?announced, "SFU worker listening");
            let (commands, inbox) = std_mpsc::channel();
            let core = SfuCore::new(limits.clone(), announced.clone());
            std::thread::Builder::new().name(format!("sfu-{i}")).spawn(move || run(socket, announced, core, inbox))?;
            workers.push(WorkerHandle { commands, local });
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
        let worker = self.worker(req.class);
        worker.commands.send(Command::Offer { req, events, reply }).map_err(|_| SfuError::Unavailable)?;
        answer.await.map_err(|_| SfuError::Unavailable)?
    }

    pub async fn view(&self, class: ClassId, peer: PeerId, user: UserId, slots: Vec<ViewSlot>) -> Result<(), SfuError> {
        let (reply, done) = oneshot::channel();
        let worker = self.worker(class);
        worker.commands.send(Command::View { peer, user, slots, reply }).map_err(|_| SfuError::Unavailable)?;
        done.await.map_err(|_| SfuError::Unavailable)?
    }

    pub fn stop_publishing(&self, class: ClassId, user: UserId) {
        let _ = self.worker(class).commands.send(Command::StopPublishing { class, user });
    }

    pub fn close(&self, class: ClassId, peer: PeerId) {
        let _ = self.worker(class).commands.send(Command::Close { peer });
    }
}

impl Drop for Sfu {
    fn drop(&mut self) {
        for w in &self.workers {
            let _ = w.commands.send(Command::Shutdown);
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

fn run(socket: UdpSocket, announced: Vec<SocketAddr>, mut core: SfuCore, inbox: std_mpsc::Receiver<Command>) {
    let mut sinks: HashMap<ClassId, EventSink> = HashMap::new();
    let mut buf = vec![0u8; 2048];
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
        flush(&mut core, &socket, &mut sinks);
        let wait = core
            .poll_timeout()
            .map_or(COMMAND_LATENCY, |t| t.saturating_duration_since(Instant::now()))
            .clamp(Duration::from_millis(1), COMMAND_LATENCY);
        if socket.set_read_timeout(Some(wait)).is_err() {
            std::thread::sleep(wait);
        }
        for _ in 0..READ_BURST {
            match socket.recv_from(&mut buf) {
                Ok((n, source)) => {
                    let destination = announced
                        .iter()
                        .find(|a| a.is_ipv4() == source.is_ipv4())
                        .or(announced.first())
                        .copied()
                        .unwrap_or(source);
                    let bytes = &buf[..n];
                    guarded("datagram", || core.receive(Instant::now(), source, destination, bytes));
                    flush(&mut core, &socket, &mut sinks);
                    // Only the first read waits; the rest take what is already queued.
                    let _ = socket.set_read_timeout(Some(Duration::from_micros(1)));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                // An ICMP "port unreachable" from a browser that left surfaces here; not ours.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    tracing::warn!(%e, "SFU socket read failed");
                    break;
                }
            }
        }
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

fn flush(core: &mut SfuCore, socket: &UdpSocket, sinks: &mut HashMap<ClassId, EventSink>) {
    while let Some(d) = core.poll_datagram() {
        if let Err(e) = socket.send_to(&d.contents, d.destination) {
            tracing::trace!(%e, to = %d.destination, "SFU send failed");
        }
    }
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
}

/// A bug of ours must not take every class on this worker down with it.
fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(what, "the SFU worker caught a panic and goes on");
    }
}
