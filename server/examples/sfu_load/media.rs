//! The tool's media side: one thread, one str0m `Rtc` per peer (the publisher and every
//! subscriber), one loopback UDP socket per peer, all waited on in one epoll.
//!
//! str0m runs in RTP mode: the publisher writes its own VP8 and Opus packets (every one
//! stamped, see `payload`), and subscribers see every RTP packet as it arrives, with no
//! depacketizing, so one thread drives hundreds of peers. str0m still does what a browser's
//! stack does: ICE, DTLS, SRTP, receiver reports, NACKs, transport-wide congestion feedback.
//!
//! The async side (signalling) talks to the thread with commands; answers come back on
//! oneshots.

use super::camera::{Camera, Packet, Schedule, nanos};
use super::metrics::{Histogram, LossCounter};
use super::payload::{self, AUDIO_LAYER};
use server::sfu::arrival;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::sync::oneshot;

/// Simulcast layers, low to high, by the rids Lectern's page gives them (a quarter, half and
/// full resolution).
pub const RIDS: [&str; 3] = ["q", "h", "f"];
const WAKER: mio::Token = mio::Token(usize::MAX - 1);
/// The longest the thread sleeps with nothing due.
const IDLE_WAIT: Duration = Duration::from_millis(10);
/// How long after a keyframe is made a packet counts as sent in its wake: the keyframe's
/// pacing (about 60 ms at the defaults) and the server's fan-out queue behind it.
pub const KEYFRAME_WAKE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Publisher,
    Subscriber,
}

pub struct Offered {
    pub peer: usize,
    pub sdp: String,
    /// Mids of the m-lines, in order: video, then audio.
    pub mids: Vec<String>,
}

type Reply<T> = oneshot::Sender<Result<T, String>>;

enum Command {
    /// A new peer that offers (Lectern: browsers always offer).
    Offer {
        role: Role,
        joined: Instant,
        reply: Reply<Offered>,
    },
    Answer {
        peer: usize,
        sdp: String,
        reply: Reply<()>,
    },
    /// A new subscriber answering the server's offer (Janus offers to subscribers).
    AcceptOffer {
        sdp: String,
        joined: Instant,
        reply: Reply<(usize, String)>,
    },
    /// Start the measured window: counters start from zero.
    Measure,
    StopPublishing,
    Finish {
        reply: oneshot::Sender<MediaReport>,
    },
}

/// Progress the async side waits on.
#[derive(Default)]
pub struct Status {
    pub publisher_connected: AtomicBool,
    pub subscribers_with_frames: AtomicUsize,
}

/// The async side's handle on the media thread.
#[derive(Clone)]
pub struct Media {
    commands: std_mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
    pub status: Arc<Status>,
}

/// What one subscriber saw.
#[derive(Clone, Debug, Default)]
pub struct SubscriberReport {
    /// From the start of its join to the end of its first video frame.
    pub first_frame_ms: Option<f64>,
    pub packets: u64,
    pub video_bytes: u64,
    pub lost: u64,
    pub top_layer_packets: u64,
    pub video_packets: u64,
}

pub struct MediaReport {
    pub window: Duration,
    pub subscribers: Vec<SubscriberReport>,
    pub packets: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Packets long enough to hold a stamp that held none (damaged or misrouted).
    pub malformed: u64,
    /// From the stamp's send time to the datagram's arrival at the subscriber's socket.
    pub latency: Histogram,
    /// From the stamp's send time to when the tool read the datagram: `latency` plus the
    /// tool's own queue (all subscribers share one thread).
    pub latency_read: Histogram,
    /// `latency` of the microphone's packets alone: what a class hears.
    pub audio_latency: Histogram,
    /// `latency` of the packets sent away from keyframes (none made in the `KEYFRAME_WAKE`
    /// before): what the class gets between the keyframes' bursts.
    pub latency_away_from_keyframes: Histogram,
    /// When the publisher was asked for a keyframe (PLI or FIR), since it connected, and of
    /// which layer (`None`: every layer).
    pub keyframe_requests: Vec<(Instant, Option<usize>)>,
    pub keyframes_sent: u64,
    pub publisher_packets: u64,
    /// The publisher's uplink estimate (bits per second) each time str0m revised it, from the
    /// server's transport-wide feedback: what a browser would set its camera's bitrate by.
    pub publisher_estimates: Vec<(Instant, u64)>,
}

impl Media {
    /// `local_ip`: where the peers' sockets bind (an address the server can reach).
    pub fn start(camera: Camera, local_ip: std::net::IpAddr) -> Result<Media, String> {
        let poll = mio::Poll::new().map_err(|e| format!("epoll: {e}"))?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER).map_err(|e| format!("waker: {e}"))?);
        let (commands, inbox) = std_mpsc::channel();
        let status = Arc::new(Status::default());
        let base = Instant::now();
        let mut engine = Engine {
            poll,
            peers: Vec::new(),
            publisher: None,
            local_ip,
            camera,
            status: status.clone(),
            base,
            latency: Histogram::default(),
            latency_read: Histogram::default(),
            audio_latency: Histogram::default(),
            latency_away_from_keyframes: Histogram::default(),
            keyframes_made: std::collections::VecDeque::new(),
            window_start: None,
            window_end: None,
            malformed: 0,
            keyframe_requests: Vec::new(),
            keyframes_sent: 0,
            publisher_estimates: Vec::new(),
            publisher_packets: 0,
            publishing: true,
        };
        std::thread::Builder::new()
            .name("media".into())
            .spawn(move || engine.run(inbox))
            .map_err(|e| format!("start the media thread: {e}"))?;
        Ok(Media { commands, waker, status })
    }

    fn send(&self, command: Command) -> Result<(), String> {
        self.commands.send(command).map_err(|_| "the media thread stopped".to_string())?;
        self.waker.wake().map_err(|e| format!("wake the media thread: {e}"))
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| "the media thread stopped".to_string())?
    }

    pub async fn offer(&self, role: Role, joined: Instant) -> Result<Offered, String> {
        self.ask(|reply| Command::Offer { role, joined, reply }).await
    }

    pub async fn answer(&self, peer: usize, sdp: String) -> Result<(), String> {
        self.ask(|reply| Command::Answer { peer, sdp, reply }).await
    }

    pub async fn accept_offer(&self, sdp: String, joined: Instant) -> Result<(usize, String), String> {
        self.ask(|reply| Command::AcceptOffer { sdp, joined, reply }).await
    }

    pub fn measure(&self) -> Result<(), String> {
        self.send(Command::Measure)
    }

    pub fn stop_publishing(&self) -> Result<(), String> {
        self.send(Command::StopPublishing)
    }

    pub async fn finish(&self) -> Result<MediaReport, String> {
        let (reply, report) = oneshot::channel();
        self.send(Command::Finish { reply })?;
        report.await.map_err(|_| "the media thread stopped".to_string())
    }
}

struct Publisher {
    video: Mid,
    audio: Mid,
    pts: Option<(Pt, Pt)>,
    schedule: Schedule,
}

struct Subscriber {
    joined: Instant,
    streams: HashMap<Ssrc, LossCounter>,
    report: SubscriberReport,
}

enum Kind {
    Publisher(Box<Publisher>),
    Subscriber(Box<Subscriber>),
}

struct Peer {
    rtc: Rtc,
    socket: mio::net::UdpSocket,
    local: SocketAddr,
    next_timeout: Instant,
    /// When the tool read the datagram str0m is handling now.
    read_at: Instant,
    pending: Option<SdpPendingOffer>,
    kind: Kind,
    alive: bool,
}

struct Engine {
    poll: mio::Poll,
    peers: Vec<Peer>,
    /// Which peer is the publisher (once offered).
    publisher: Option<usize>,
    local_ip: std::net::IpAddr,
    camera: Camera,
    status: Arc<Status>,
    base: Instant,
    latency: Histogram,
    latency_read: Histogram,
    audio_latency: Histogram,
    latency_away_from_keyframes: Histogram,
    /// When the publisher made its recent keyframes (any layer), oldest first.
    keyframes_made: std::collections::VecDeque<Instant>,
    window_start: Option<Instant>,
    window_end: Option<Instant>,
    malformed: u64,
    keyframe_requests: Vec<(Instant, Option<usize>)>,
    keyframes_sent: u64,
    publisher_packets: u64,
    publisher_estimates: Vec<(Instant, u64)>,
    publishing: bool,
}

fn rtc_config() -> RtcConfig {
    RtcConfig::new().set_rtp_mode(true).clear_codecs().enable_vp8(true).enable_opus(true, false)
}

impl Engine {
    fn run(&mut self, inbox: std_mpsc::Receiver<Command>) {
        let mut events = mio::Events::with_capacity(1024);
        let mut buf = vec![0u8; 2048];
        let mut control = arrival::control_space();
        loop {
            loop {
                match inbox.try_recv() {
                    Ok(Command::Finish { reply }) => {
                        let _ = reply.send(self.report());
                        return;
                    }
                    Ok(command) => self.handle(command),
                    Err(std_mpsc::TryRecvError::Empty) => break,
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            let mut next = now + IDLE_WAIT;
            if self.publishing {
                next = next.min(self.publish(now));
            }
            for i in 0..self.peers.len() {
                if !self.peers[i].alive {
                    continue;
                }
                if self.peers[i].next_timeout <= now {
                    let _ = self.peers[i].rtc.handle_input(Input::Timeout(now));
                    self.drive(i, now);
                }
                next = next.min(self.peers[i].next_timeout);
            }
            let wait = next.saturating_duration_since(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != ErrorKind::Interrupted
            {
                eprintln!("media: epoll failed: {e}");
                return;
            }
            for event in &events {
                let i = event.token().0;
                if i >= self.peers.len() {
                    continue;
                }
                loop {
                    let datagram = match arrival::recv(&self.peers[i].socket, &mut buf, &mut control) {
                        Ok(got) => got,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                        Err(_) => break,
                    };
                    let peer = &mut self.peers[i];
                    if !peer.alive {
                        continue;
                    }
                    peer.read_at = datagram.read;
                    let Ok(contents) = buf[..datagram.len].try_into() else { continue };
                    // str0m takes the arrival time, as a browser's network thread would give
                    // it; time it is handed that is older than its last is only ever used
                    // for this packet (str0m's clock does not go back).
                    let input = Input::Receive(
                        datagram.arrived,
                        Receive { proto: Protocol::Udp, source: datagram.source, destination: peer.local, contents },
                    );
                    if peer.rtc.handle_input(input).is_ok() {
                        self.drive(i, datagram.read);
                    }
                }
            }
        }
    }

    fn handle(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Offer { role, joined, reply } => {
                let _ = reply.send(self.new_offer(role, joined, now));
            }
            Command::Answer { peer, sdp, reply } => {
                let result = self.accept_answer(peer, &sdp);
                if result.is_ok() {
                    self.drive(peer, now);
                }
                let _ = reply.send(result);
            }
            Command::AcceptOffer { sdp, joined, reply } => {
                let result = self.answer_offer(&sdp, joined, now);
                if let Ok((peer, _)) = &result {
                    self.drive(*peer, now);
                }
                let _ = reply.send(result);
            }
            Command::Measure => {
                self.window_start = Some(now);
                self.latency = Histogram::default();
                self.latency_read = Histogram::default();
                self.audio_latency = Histogram::default();
                self.latency_away_from_keyframes = Histogram::default();
                self.malformed = 0;
                for peer in &mut self.peers {
                    if let Kind::Subscriber(s) = &mut peer.kind {
                        s.streams.clear();
                        s.report = SubscriberReport { first_frame_ms: s.report.first_frame_ms, ..Default::default() };
                    }
                }
            }
            Command::StopPublishing => {
                self.publishing = false;
                self.window_end = Some(now);
            }
            Command::Finish { .. } => {}
        }
    }

    fn bind(&mut self) -> Result<(mio::net::UdpSocket, SocketAddr), String> {
        let socket =
            UdpSocket::bind(SocketAddr::new(self.local_ip, 0)).map_err(|e| format!("bind a UDP socket: {e}"))?;
        let local = socket.local_addr().map_err(|e| format!("UDP socket address: {e}"))?;
        socket.set_nonblocking(true).map_err(|e| format!("UDP socket: {e}"))?;
        arrival::enable(&socket).map_err(|e| format!("UDP socket arrival times: {e}"))?;
        let mut socket = mio::net::UdpSocket::from_std(socket);
        self.poll
            .registry()
            .register(&mut socket, mio::Token(self.peers.len()), mio::Interest::READABLE)
            .map_err(|e| format!("epoll register: {e}"))?;
        Ok((socket, local))
    }

    fn add_peer(&mut self, mut rtc: Rtc, kind: Kind, now: Instant) -> Result<usize, String> {
        let (socket, local) = self.bind()?;
        let candidate = Candidate::host(local, "udp").map_err(|e| format!("ICE candidate: {e}"))?;
        rtc.add_local_candidate(candidate);
        self.peers.push(Peer { rtc, socket, local, next_timeout: now, read_at: now, pending: None, kind, alive: true });
        Ok(self.peers.len() - 1)
    }

    fn new_subscriber(joined: Instant) -> Kind {
        Kind::Subscriber(Box::new(Subscriber { joined, streams: HashMap::new(), report: SubscriberReport::default() }))
    }

    fn new_offer(&mut self, role: Role, joined: Instant, now: Instant) -> Result<Offered, String> {
        let rtc = match role {
            // The publisher estimates its uplink as a browser does; it reports the estimate
            // and does not act on it (its camera's bitrate is fixed).
            Role::Publisher => {
                let sending: u64 = self.camera.layer_bps.iter().sum::<u64>() + self.camera.audio_bps;
                rtc_config().enable_bwe(Some(Bitrate::bps(sending))).build(now)
            }
            Role::Subscriber => rtc_config().build(now),
        };
        // The kind is filled in once the mids are known.
        let i = self.add_peer(rtc, Self::new_subscriber(joined), now)?;
        let peer = &mut self.peers[i];
        let mut change = peer.rtc.sdp_api();
        let (video, audio) = match role {
            Role::Publisher => {
                // Highest first, as Chrome lists them (Janus takes the order as the ranking).
                let mut simulcast = Simulcast::new();
                for rid in RIDS.iter().rev() {
                    simulcast.add_send_layer(SimulcastLayer::new(rid));
                }
                let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, Some(simulcast));
                let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
                (video, audio)
            }
            Role::Subscriber => {
                let video = change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
                let audio = change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
                (video, audio)
            }
        };
        let Some((offer, pending)) = change.apply() else { return Err("str0m made no offer".into()) };
        peer.pending = Some(pending);
        if role == Role::Publisher {
            self.publisher = Some(i);
            let schedule = Schedule::new(self.camera.clone(), self.base);
            peer.kind = Kind::Publisher(Box::new(Publisher { video, audio, pts: None, schedule }));
        }
        Ok(Offered { peer: i, sdp: offer.to_sdp_string(), mids: vec![video.to_string(), audio.to_string()] })
    }

    fn accept_answer(&mut self, i: usize, sdp: &str) -> Result<(), String> {
        let peer = self.peers.get_mut(i).ok_or("no such peer")?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("the answer does not parse: {e}"))?;
        let pending = peer.pending.take().ok_or("no offer is pending")?;
        peer.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| format!("the answer was refused: {e}"))
    }

    fn answer_offer(&mut self, sdp: &str, joined: Instant, now: Instant) -> Result<(usize, String), String> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| format!("the offer does not parse: {e}"))?;
        let i = self.add_peer(rtc_config().build(now), Self::new_subscriber(joined), now)?;
        let answer =
            self.peers[i].rtc.sdp_api().accept_offer(offer).map_err(|e| format!("the offer was refused: {e}"))?;
        Ok((i, answer.to_sdp_string()))
    }

    /// Poll a peer until it waits; send what it sends, record what it receives.
    fn drive(&mut self, i: usize, now: Instant) {
        loop {
            let peer = &mut self.peers[i];
            let output = match peer.rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    eprintln!("media: peer {i} failed: {e}");
                    self.close(i);
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    peer.next_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    // A full socket buffer drops the datagram, as a network would.
                    let _ = peer.socket.send_to(&t.contents, t.destination);
                }
                Output::Event(event) => self.on_event(i, event, now),
            }
        }
        if !self.peers[i].rtc.is_alive() {
            self.close(i);
        }
    }

    fn close(&mut self, i: usize) {
        let peer = &mut self.peers[i];
        if !peer.alive {
            return;
        }
        peer.alive = false;
        let _ = self.poll.registry().deregister(&mut peer.socket);
    }

    fn on_event(&mut self, i: usize, event: Event, now: Instant) {
        let measuring = self.window_start.is_some() && self.window_end.is_none_or(|end| now < end);
        let peer = &mut self.peers[i];
        match (&mut peer.kind, event) {
            (Kind::Publisher(_), Event::Connected) => {
                self.status.publisher_connected.store(true, Ordering::Relaxed);
            }
            (Kind::Publisher(_), Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. })) => {
                self.publisher_estimates.push((now, estimate.as_u64()));
            }
            (Kind::Publisher(p), Event::KeyframeRequest(req)) if req.mid == p.video => {
                let layer = req.rid.and_then(|rid| RIDS.iter().position(|r| Rid::from(*r) == rid));
                self.keyframe_requests.push((now, layer));
                p.schedule.ask_keyframe(layer);
            }
            (Kind::Subscriber(s), Event::RtpPacket(packet)) => {
                let arrived = packet.timestamp;
                let stamp = payload::find_stamp(&packet.payload);
                let is_video =
                    stamp.is_some_and(|st| st.layer != AUDIO_LAYER) || (stamp.is_none() && packet.payload.len() > 200);
                if is_video && packet.header.marker && s.report.first_frame_ms.is_none() {
                    s.report.first_frame_ms = Some(ms(arrived.saturating_duration_since(s.joined)));
                    self.status.subscribers_with_frames.fetch_add(1, Ordering::Relaxed);
                }
                if self.window_start.is_none() {
                    return;
                }
                // Loss is followed past the window's end, so that late repairs count.
                let seq = *packet.seq_no;
                match s.streams.get_mut(&packet.header.ssrc) {
                    Some(loss) => loss.add(seq),
                    None => {
                        s.streams.insert(packet.header.ssrc, LossCounter::new(seq));
                    }
                }
                if !measuring {
                    return;
                }
                s.report.packets += 1;
                if is_video {
                    s.report.video_packets += 1;
                    s.report.video_bytes += packet.payload.len() as u64;
                }
                match stamp {
                    Some(st) => {
                        if st.layer == 2 {
                            s.report.top_layer_packets += 1;
                        }
                        let sent = self.base + Duration::from_nanos(st.sent_ns);
                        let latency_us = arrived.saturating_duration_since(sent).as_micros() as u64;
                        self.latency.record(latency_us);
                        if st.layer == AUDIO_LAYER {
                            self.audio_latency.record(latency_us);
                        }
                        if !in_a_keyframes_wake(&self.keyframes_made, sent) {
                            self.latency_away_from_keyframes.record(latency_us);
                        }
                        self.latency_read.record(peer.read_at.saturating_duration_since(sent).as_micros() as u64);
                    }
                    None if payload::must_hold_stamp(packet.payload.len()) => self.malformed += 1,
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// Send what is due of the camera and the microphone; returns when more is due.
    ///
    /// Like a browser, the camera's packets are paced (at 2.5 times the camera's bitrate, as
    /// libwebrtc does) rather than sent a frame at a time; audio is not paced. Each packet's
    /// stamps get the moment it is actually sent.
    fn publish(&mut self, now: Instant) -> Instant {
        let Some(i) = self.publisher else { return now + IDLE_WAIT };
        if !self.peers[i].alive || !self.peers[i].rtc.is_connected() {
            return now + IDLE_WAIT;
        }
        let base = self.base;
        let peer = &mut self.peers[i];
        let Kind::Publisher(p) = &mut peer.kind else { return now + IDLE_WAIT };
        if p.pts.is_none() {
            let pt_of = |rtc: &mut Rtc, mid: Mid, codec: Codec| {
                rtc.codec_config()
                    .iter()
                    .find(|c| c.spec().codec == codec)
                    .map(|c| c.pt())
                    .filter(|_| rtc.media(mid).is_some())
            };
            p.pts = pt_of(&mut peer.rtc, p.video, Codec::Vp8).zip(pt_of(&mut peer.rtc, p.audio, Codec::Opus));
        }
        let Some((vp8, opus)) = p.pts else { return now + IDLE_WAIT };
        let due = p.schedule.poll(now);
        let mut sent = 0u64;
        let mut api = peer.rtc.direct_api();
        for packet in due.packets {
            match packet {
                Packet::Video { layer, seq, rtp_time, marker, mut payload } => {
                    let Some(stream) = api.stream_tx_by_mid(p.video, Some(Rid::from(RIDS[layer]))) else { continue };
                    // Paced by the schedule, as libwebrtc paces; str0m's own pacer (on with its
                    // estimator) must not pace it again.
                    stream.set_unpaced(true);
                    payload::restamp(&mut payload, nanos(base, Instant::now()));
                    let write =
                        RtpWrite::new(vp8, SeqNo::from(seq), rtp_time, now, payload).marker(marker).nackable(true);
                    stream.write_rtp(write);
                    sent += 1;
                }
                Packet::Audio { seq, rtp_time, payload } => {
                    let Some(stream) = api.stream_tx_by_mid(p.audio, None) else { continue };
                    let ext =
                        ExtensionValues { audio_level: Some(-30), voice_activity: Some(true), ..Default::default() };
                    stream.write_rtp(RtpWrite::new(opus, SeqNo::from(seq), rtp_time, now, payload).ext_vals(ext));
                    sent += 1;
                }
            }
        }
        let keyframes = due.keyframes;
        self.publisher_packets += sent;
        self.keyframes_sent += keyframes;
        if keyframes > 0 {
            self.keyframes_made.push_back(now);
        }
        // Packets older than this are late beyond any measure here.
        while self.keyframes_made.front().is_some_and(|&k| now.saturating_duration_since(k) > Duration::from_secs(10)) {
            self.keyframes_made.pop_front();
        }
        if sent > 0 {
            self.drive(i, now);
        }
        due.next
    }

    fn report(&mut self) -> MediaReport {
        let mut subscribers = Vec::new();
        let mut lost = 0;
        let mut duplicates = 0;
        let mut packets = 0;
        for peer in &mut self.peers {
            if let Kind::Subscriber(s) = &mut peer.kind {
                for loss in s.streams.values_mut() {
                    loss.finish();
                    s.report.lost += loss.lost;
                    duplicates += loss.duplicates;
                }
                lost += s.report.lost;
                packets += s.report.packets;
                subscribers.push(s.report.clone());
            }
        }
        let window = match (self.window_start, self.window_end) {
            (Some(start), Some(end)) => end.duration_since(start),
            (Some(start), None) => start.elapsed(),
            _ => Duration::ZERO,
        };
        MediaReport {
            window,
            subscribers,
            packets,
            lost,
            duplicates,
            malformed: self.malformed,
            latency: std::mem::take(&mut self.latency),
            latency_read: std::mem::take(&mut self.latency_read),
            audio_latency: std::mem::take(&mut self.audio_latency),
            latency_away_from_keyframes: std::mem::take(&mut self.latency_away_from_keyframes),
            keyframe_requests: std::mem::take(&mut self.keyframe_requests),
            keyframes_sent: self.keyframes_sent,
            publisher_estimates: std::mem::take(&mut self.publisher_estimates),
            publisher_packets: self.publisher_packets,
        }
    }
}

/// Whether a packet sent at `sent` left within `KEYFRAME_WAKE` after a keyframe was made.
fn in_a_keyframes_wake(keyframes_made: &std::collections::VecDeque<Instant>, sent: Instant) -> bool {
    keyframes_made.iter().any(|&k| k <= sent && sent < k + KEYFRAME_WAKE)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_is_in_a_keyframes_wake_from_the_keyframe_until_the_wake_ends() {
        let t0 = Instant::now();
        let made: std::collections::VecDeque<Instant> = [t0, t0 + Duration::from_secs(3)].into();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(in_a_keyframes_wake(&made, at(0)));
        assert!(in_a_keyframes_wake(&made, at(199)));
        assert!(!in_a_keyframes_wake(&made, at(200)));
        assert!(!in_a_keyframes_wake(&made, at(2_999)));
        assert!(in_a_keyframes_wake(&made, at(3_100)));
        assert!(!in_a_keyframes_wake(&[].into(), at(0)), "no keyframe made yet");
    }
}
