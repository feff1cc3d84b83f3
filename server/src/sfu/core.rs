//! One SFU worker's media state, without I/O: its peers (one str0m `Rtc` per browser), what
//! each publishes and what each receives, and the forwarding between them.
//!
//! The worker thread feeds it datagrams and the time and sends what it returns; tests feed it
//! simulated time and a simulated network. Every call is a plain `&mut self` call: there is no
//! lock anywhere on the packet path.
//!
//! Each browser has one peer connection and is always the offerer, so there is never glare:
//! its sending m-lines carry what it publishes (declared in `media_offer`), its receiving
//! m-lines are slots the server fills: audio slots with the class's microphones, video slots
//! with whatever the page asked for in `media_view` (last-N: only what it shows).
//!
//! str0m runs in RTP mode: packets are forwarded one by one as they arrive (see [`super::rtp`]),
//! their payloads shared, with sequence numbers and timestamps rewritten per slot; str0m still
//! does ICE, DTLS, SRTP, NACK and retransmission and RTCP. Each student's downlink is judged
//! from the loss it reports ([`super::downlink`]; with `media.downlink_estimate =
//! "receiver-reports"` from its receiver reports alone, see [`super::feedback`]), or by str0m's
//! bandwidth estimator with `"transport-cc"`.

use super::downlink::LossEstimate;
use super::feedback;
use super::keyframes::KeyframeGate;
use super::layers::{self, LayerSelector, SlotNeed};
use super::rtp::{FrameStart, FrameTracker, SeqRewriter, h264_is_keyframe, vp8_frame_start};
use super::speaker::SpeakerDetector;
use super::timeline::Timeline;
use app::protocol::{MediaSource, Publication, UserId, VideoQuality, ViewSlot};
use lectern_core::config::DownlinkEstimate;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::SdpOffer;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, MediaTime, Mid, Pt, Rid, Rids};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, PacerReason, Reason, Rtc, RtcConfig};

pub type PeerId = u64;
pub type ClassId = i64;
/// A published track: its peer and its m-line there.
pub type TrackKey = (PeerId, Mid);

/// A map keyed by ids the server hands out (peers, classes), looked up several times per
/// forwarded packet. The default SipHash resists keys chosen to collide, which these are not,
/// and it was the core's largest cost of its own (`bench/sfu_cost.sh`). Maps keyed by what
/// arrives from the network (`by_source`, mids) keep SipHash.
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Multiply-rotate hashing of integer ids: sequential ids spread over every bit.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // An odd constant with well-mixed bits (2^64 divided by the golden ratio).
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

/// How often layers are re-allocated, meters rolled and owed keyframes sent.
const HOUSEKEEPING: Duration = Duration::from_millis(250);
/// How often str0m reports each peer's statistics, with the estimates judged by loss.
const LOSS_REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// Bitrates assumed for a layer not yet measured.
const NOMINAL_BPS: [u64; 3] = [150_000, 500_000, 1_500_000];
/// Downlink kept for each audio slot when splitting a subscriber's estimate among videos.
const AUDIO_BPS: u64 = 50_000;
/// A layer not heard from for this long is taken as stopped (the publisher's encoder dropped it).
const LAYER_STALE: Duration = Duration::from_millis(1500);
/// How far above its cap a layer may be measured (bursts, RTP and RTX overhead) before it is
/// held back, in percent.
const CAP_TOLERANCE_PERCENT: u64 = 150;
/// Timers already due that one `drive` answers itself before leaving the rest to `tick`.
/// str0m asks for a timeout before sending what was just written to a stream; answering it
/// here sends a forwarded packet in the pass that wrote it, not one worker turn later. The
/// bound only guards against a peer whose timer never moves.
const DUE_TIMERS_PER_DRIVE: usize = 64;
/// Most m-lines one browser may declare as published (camera, microphone, screen).
const MAX_PUBLICATIONS: usize = 3;
/// Longest mid accepted (str0m's limit).
const MAX_MID_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SfuError {
    #[error("the SDP offer is not valid: {0}")]
    BadSdp(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("this class has reached its limit of {0} media connections")]
    ClassFull(usize),
    #[error("this class already has {0} people publishing; ask a teacher to stop someone first")]
    TooManyPublishers(usize),
    #[error("that media session is not yours")]
    NotYours,
    #[error("no such media session; offer again")]
    NoSession,
    #[error("the media server is not running")]
    Unavailable,
}

/// Limits and tuning of one worker.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_participants: usize,
    pub max_publishers: usize,
    pub rejoin_grace: Duration,
    /// At most one keyframe request per published layer this often.
    pub keyframe_interval: Duration,
    /// How long a better layer must fit before a slot moves up to it.
    pub upgrade_hold: Duration,
    /// How each subscriber's downlink is judged (`media.downlink_estimate`).
    pub downlink: DownlinkEstimate,
    /// The downlink estimate a new subscriber starts from, with `DownlinkEstimate::TransportCc`
    /// (with `Loss` there is no limit until something is lost).
    pub initial_estimate_bps: u64,
    /// Bitrate caps per source (`media.*_max_kbps`). Browsers set them as their encoders'
    /// `maxBitrate`; a layer measured well above its cap (a client that ignores it) is not
    /// forwarded, so that one publisher cannot flood 300 downlinks.
    pub camera_max_bps: u64,
    pub screen_max_bps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_participants: 1000,
            max_publishers: 8,
            rejoin_grace: Duration::from_secs(20),
            keyframe_interval: Duration::from_millis(500),
            upgrade_hold: Duration::from_secs(2),
            downlink: DownlinkEstimate::default(),
            initial_estimate_bps: 1_000_000,
            camera_max_bps: 1_500_000,
            screen_max_bps: 2_500_000,
        }
    }
}

/// A browser's offer, already checked by the room (role, may it publish).
#[derive(Clone, Debug)]
pub struct OfferRequest {
    pub class: ClassId,
    pub peer: PeerId,
    pub user: UserId,
    pub sdp: String,
    pub publish: Vec<Publication>,
}

/// The answer, and what the peer now publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    pub answer: String,
    pub published: Vec<(String, MediaSource)>,
}

/// What the room hears from the SFU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SfuEvent {
    /// The peer is gone (its connection failed, or it did not come back within the grace).
    PeerClosed {
        class: ClassId,
        peer: PeerId,
    },
    ActiveSpeaker {
        class: ClassId,
        user: Option<UserId>,
    },
}

/// A datagram to send.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// Bytes and packets one layer of a published track brought in.
#[derive(Clone, Debug, Default)]
struct Meter {
    window_start: Option<Instant>,
    bytes: u64,
    packets: u64,
    bps: Option<u64>,
    /// Packets per second: what forwarding the layer costs the worker (see `forwarding_rate`).
    pps: Option<u64>,
    last_seen: Option<Instant>,
}

impl Meter {
    fn add(&mut self, now: Instant, bytes: usize) {
        self.window_start.get_or_insert(now);
        self.bytes += bytes as u64;
        self.packets += 1;
        self.last_seen = Some(now);
    }

    fn roll(&mut self, now: Instant) {
        if self.last_seen.is_none_or(|seen| now.duration_since(seen) > LAYER_STALE) {
            *self = Meter::default();
            return;
        }
        if let Some(start) = self.window_start {
            let span = now.duration_since(start);
            if span >= Duration::from_secs(1) {
                let ms = span.as_millis().max(1) as u64;
                self.bps = Some(self.bytes * 8 * 1000 / ms);
                self.pps = Some(self.packets * 1000 / ms);
                self.bytes = 0;
                self.packets = 0;
                self.window_start = Some(now);
            }
        }
    }

    /// The layer's bitrate, if it is arriving.
    fn rate(&self, nominal: u64) -> Option<u64> {
        self.last_seen.map(|_| self.bps.unwrap_or(nominal).max(1))
    }
}

#[derive(Debug)]
struct Published {
    source: MediaSource,
    kind: MediaKind,
    /// Per simulcast layer (index 0 also serves a track without simulcast).
    meters: [Meter; 3],
    gates: [KeyframeGate; 3],
    frames: [FrameTracker; 3],
    simulcast: bool,
}

/// Where a frame of a published track goes in a subscriber.
#[derive(Debug)]
struct AudioSlot {
    mid: Mid,
    track: Option<TrackKey>,
    timeline: Timeline,
    seq: SeqRewriter,
    last_source: Option<TrackKey>,
    /// The publisher's payload type and this subscriber's for the same codec.
    pt: Option<(Pt, Pt)>,
}

#[derive(Debug)]
struct VideoSlot {
    mid: Mid,
    track: Option<TrackKey>,
    quality: VideoQuality,
    selector: LayerSelector,
    timeline: Timeline,
    seq: SeqRewriter,
    last_source: Option<(TrackKey, VideoQuality)>,
    /// The frame (RTP time) of each layer whose packets this slot forwards.
    forwarding: [Option<u64>; 3],
    pt: Option<(Pt, Pt)>,
}

impl VideoSlot {
    /// An empty slot: it shows nothing until the page's view names a track.
    fn new(mid: Mid) -> Self {
        Self {
            mid,
            track: None,
            quality: VideoQuality::High,
            selector: LayerSelector::default(),
            timeline: Timeline::default(),
            seq: SeqRewriter::default(),
            last_source: None,
            forwarding: [None; 3],
            pt: None,
        }
    }

    /// Whether a packet of `layer`'s frame at RTP time `time` goes out. A layer's frame is
    /// taken or left whole, decided on its first packet here; taking one leaves the rest of any
    /// other layer's frame (a switch), so two layers never interleave in one stream.
    fn takes(&mut self, layer: VideoQuality, time: u64, keyframe: bool) -> bool {
        let li = layers::index(layer);
        if self.forwarding[li] == Some(time) {
            return true;
        }
        if !self.selector.accept(layer, keyframe) {
            return false;
        }
        self.forwarding = [None; 3];
        self.forwarding[li] = Some(time);
        true
    }
}

struct Peer {
    class: ClassId,
    user: UserId,
    rtc: Rtc,
    published: HashMap<Mid, Published>,
    audio_slots: Vec<AudioSlot>,
    video_slots: Vec<VideoSlot>,
    /// The downlink's estimate (`None`: no limit), from str0m's estimator or from `downlink`.
    egress_bps: Option<u64>,
    /// With `DownlinkEstimate::Loss` or `ReceiverReports`.
    downlink: LossEstimate,
    next_timeout: Instant,
    disconnected_since: Option<Instant>,
    /// In `SfuCore::written`.
    written: bool,
    /// Forwarded packets written to this peer's streams that have not left yet, as far as
    /// `drive` can tell: it counts RTP datagrams out, and starts again from nought when a
    /// pass sends nothing.
    unsent: u32,
    /// When the oldest of the `unsent` packets reached the worker's socket (the kernel's
    /// arrival time): how long the fan-out kept it waiting is measured from there.
    unsent_since: Option<Instant>,
    /// Forwarded packets were written since str0m last advanced this peer's clock. str0m sends
    /// a written packet only once a timeout has stamped it, so the next drive for forwarded
    /// packets gives that timeout first instead of polling to be asked for it.
    awaiting_stamp: bool,
}

impl Peer {
    /// Hand str0m one input, caught if it panics. Every input advances str0m's clock, which
    /// stamps what was written, so this is the one place `awaiting_stamp` is cleared.
    fn handle_input(&mut self, input: Input) -> std::thread::Result<Result<(), str0m::RtcError>> {
        self.awaiting_stamp = false;
        catch_unwind(AssertUnwindSafe(|| self.rtc.handle_input(input)))
    }
}

#[derive(Default)]
struct ClassMedia {
    peers: Vec<PeerId>,
    speaker: SpeakerDetector<TrackKey>,
}

/// A packet from a publisher, with what its stream and payload type say.
struct Incoming {
    mid: Mid,
    rid: Option<Rid>,
    params: PayloadParams,
    packet: RtpPacket,
}

/// Work that needs more than one peer, queued so that no peer is borrowed twice.
enum Action {
    Forward(PeerId, Box<Incoming>),
    Keyframe(TrackKey, usize),
    /// Poll a peer until str0m has nothing more for now.
    Drive(PeerId),
    /// Poll a subscriber for the forwarded packets written to it (see `drive`).
    SendForwarded(PeerId),
}

pub struct SfuCore {
    limits: Limits,
    candidates: Vec<SocketAddr>,
    peers: IdMap<PeerId, Peer>,
    classes: IdMap<ClassId, ClassMedia>,
    /// Which peer a remote address belongs to, learnt from `Rtc::accepts`.
    by_source: HashMap<SocketAddr, PeerId>,
    outbox: VecDeque<Datagram>,
    /// Subscribers written to but not yet driven (see `poll_datagram`).
    written: VecDeque<PeerId>,
    /// The time of the latest input.
    last_now: Instant,
    events: Vec<SfuEvent>,
    actions: VecDeque<Action>,
    next_housekeeping: Option<Instant>,
    /// The best layer any video slot may receive while the worker is overloaded (see
    /// [`super::overload`]); `None`: no limit.
    video_ceiling: Option<VideoQuality>,
    /// The longest a forwarded packet waited between reaching the socket and going out to a
    /// subscriber, since `take_longest_fan_out_wait` was last called.
    longest_fan_out_wait: Duration,
}

impl SfuCore {
    /// `candidates`: the addresses browsers are told to send to (one per UDP socket family).
    pub fn new(limits: Limits, candidates: Vec<SocketAddr>) -> Self {
        Self {
            limits,
            candidates,
            peers: IdMap::default(),
            classes: IdMap::default(),
            by_source: HashMap::new(),
            outbox: VecDeque::new(),
            written: VecDeque::new(),
            last_now: Instant::now(),
            events: Vec::new(),
            actions: VecDeque::new(),
            next_housekeeping: None,
            video_ceiling: None,
            longest_fan_out_wait: Duration::ZERO,
        }
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Accept a browser's offer (its first, or a renegotiation or ICE restart) and answer it.
    pub fn offer(&mut self, now: Instant, req: OfferRequest) -> Result<Accepted, SfuError> {
        let sdp = match self.limits.downlink {
            DownlinkEstimate::ReceiverReports => {
                Cow::Owned(feedback::without_estimator_extensions_on_received_media(&req.sdp))
            }
            DownlinkEstimate::Loss | DownlinkEstimate::TransportCc => Cow::Borrowed(req.sdp.as_str()),
        };
        let offer = SdpOffer::from_sdp_string(&sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        check_publications(&req.publish)?;
        let is_new = match self.peers.get(&req.peer) {
            Some(peer) if peer.user != req.user || peer.class != req.class => return Err(SfuError::NotYours),
            Some(_) => false,
            None => {
                let present = self.classes.get(&req.class).map_or(0, |c| c.peers.len());
                if present >= self.limits.max_participants {
                    return Err(SfuError::ClassFull(self.limits.max_participants));
                }
                true
            }
        };
        if !req.publish.is_empty() {
            let publishers = self.publishers(req.class, Some(req.user));
            if publishers >= self.limits.max_publishers {
                return Err(SfuError::TooManyPublishers(self.limits.max_publishers));
            }
        }
        if is_new {
            let rtc = self.new_rtc(now);
            let peer = Peer {
                class: req.class,
                user: req.user,
                rtc,
                published: HashMap::new(),
                audio_slots: Vec::new(),
                video_slots: Vec::new(),
                egress_bps: None,
                downlink: LossEstimate::default(),
                next_timeout: now,
                disconnected_since: None,
                written: false,
                unsent: 0,
                unsent_since: None,
                awaiting_stamp: false,
            };
            self.peers.insert(req.peer, peer);
            self.classes.entry(req.class).or_default().peers.push(req.peer);
        }
        let Some(peer) = self.peers.get_mut(&req.peer) else { return Err(SfuError::NoSession) };
        // str0m is strict, but an offer is outside input: a panic in it must cost this peer,
        // never the worker and its other classes.
        let answer = match catch_unwind(AssertUnwindSafe(|| peer.rtc.sdp_api().accept_offer(offer))) {
            Ok(Ok(answer)) => answer,
            Ok(Err(err)) => {
                if is_new {
                    self.close_peer(req.peer);
                }
                return Err(SfuError::BadSdp(err.to_string()));
            }
            Err(_) => {
                tracing::warn!(peer = req.peer, "str0m panicked on an offer; the peer is closed");
                self.close_peer(req.peer);
                return Err(SfuError::BadSdp("the offer could not be processed".into()));
            }
        };
        // The slots are known from the offer at once (str0m's MediaAdded events wait for the
        // connection, and a page sends its view right after the answer).
        for mid in offer_mids(&req.sdp) {
            if let Some((kind, direction)) = peer.rtc.media(mid).map(|m| (m.kind(), m.direction())) {
                sync_slot(peer, mid, kind, direction);
            }
        }
        // What the browser declared must match its m-lines: a sending m-line of the right kind.
        let mut published = Vec::new();
        let mut wanted: HashMap<Mid, MediaSource> = HashMap::new();
        for p in &req.publish {
            let mid = Mid::from(p.mid.as_str());
            let fits = peer.rtc.media(mid).is_some_and(|m| {
                let receiving = matches!(m.direction(), Direction::RecvOnly | Direction::SendRecv);
                receiving && (m.kind() == MediaKind::Video) == p.source.is_video()
            });
            if !fits {
                if is_new {
                    self.close_peer(req.peer);
                }
                return Err(SfuError::BadRequest(format!(
                    "m-line {} is not a {} the browser sends",
                    p.mid,
                    if p.source.is_video() { "video" } else { "audio track" }
                )));
            }
            wanted.insert(mid, p.source);
            published.push((p.mid.clone(), p.source));
        }
        let ended: Vec<Mid> = peer.published.keys().filter(|m| !wanted.contains_key(*m)).copied().collect();
        for mid in &ended {
            peer.published.remove(mid);
        }
        for (mid, source) in wanted {
            let kind = if source.is_video() { MediaKind::Video } else { MediaKind::Audio };
            let simulcast =
                peer.rtc.media(mid).is_some_and(|m| matches!(m.rids_rx(), Rids::Specific(rids) if rids.len() > 1));
            let entry = peer.published.entry(mid).or_insert_with(|| Published {
                source,
                kind,
                meters: Default::default(),
                gates: Default::default(),
                frames: Default::default(),
                simulcast,
            });
            entry.source = source;
            entry.simulcast = simulcast;
        }
        let class = req.class;
        for mid in ended {
            self.track_ended(class, (req.peer, mid));
        }
        self.drive(now, req.peer, false);
        self.assign_audio(class);
        self.run_actions(now);
        Ok(Accepted { answer: answer.to_sdp_string(), published })
    }

    /// Set what a browser's receiving video m-lines show.
    pub fn view(&mut self, now: Instant, peer_id: PeerId, user: UserId, slots: &[ViewSlot]) -> Result<(), SfuError> {
        let peer = self.peers.get(&peer_id).ok_or(SfuError::NoSession)?;
        if peer.user != user {
            return Err(SfuError::NotYours);
        }
        let class = peer.class;
        let mut wanted: Vec<(Mid, Option<TrackKey>, VideoQuality)> = Vec::new();
        for slot in slots {
            let mid = Mid::from(slot.mid.as_str());
            if slot.mid.len() > MAX_MID_LEN || !peer.video_slots.iter().any(|s| s.mid == mid) {
                return Err(SfuError::BadRequest(format!("m-line {} is not one of your video slots", slot.mid)));
            }
            if wanted.iter().any(|(m, _, _)| *m == mid) {
                return Err(SfuError::BadRequest(format!("m-line {} is named twice", slot.mid)));
            }
            let track = match &slot.track {
                None => None,
                Some(id) => {
                    let key = parse_track_id(id)
                        .filter(|k| k.0 != peer_id && self.is_video_track(class, *k))
                        .ok_or_else(|| SfuError::BadRequest(format!("there is no video track {id} to show")))?;
                    Some(key)
                }
            };
            wanted.push((mid, track, slot.quality));
        }
        let Some(peer) = self.peers.get_mut(&peer_id) else { return Err(SfuError::NoSession) };
        for slot in &mut peer.video_slots {
            let (track, quality) =
                wanted.iter().find(|(m, _, _)| *m == slot.mid).map_or((None, slot.quality), |(_, t, q)| (*t, *q));
            slot.quality = quality;
            if slot.track != track {
                slot.track = track;
                slot.selector.reset(None);
            }
        }
        self.allocate(now, peer_id);
        self.run_actions(now);
        Ok(())
    }

    /// End a peer's publishing (a teacher stopped a student); it goes on receiving.
    pub fn stop_publishing(&mut self, now: Instant, class: ClassId, user: UserId) {
        let ids: Vec<PeerId> = self.class_peers(class).filter(|id| self.peers[id].user == user).collect();
        for id in ids {
            let Some(peer) = self.peers.get_mut(&id) else { continue };
            let mids: Vec<Mid> = peer.published.drain().map(|(m, _)| m).collect();
            for mid in mids {
                self.track_ended(class, (id, mid));
            }
        }
        self.assign_audio(class);
        self.run_actions(now);
    }

    /// Close a peer for good.
    pub fn close(&mut self, now: Instant, peer: PeerId) {
        self.close_peer(peer);
        self.run_actions(now);
    }

    /// A datagram that reached the worker's socket at `destination` (the announced address) at
    /// `arrived`, read at `now`. str0m is given the arrival time: it goes into the congestion
    /// feedback the sender's browser estimates its uplink from (see [`super::arrival`]).
    pub fn receive(
        &mut self,
        now: Instant,
        arrived: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        self.last_now = now;
        let Ok(contents) = bytes.try_into() else { return };
        let input = Input::Receive(arrived.min(now), Receive { proto: Protocol::Udp, source, destination, contents });
        let cached = self.by_source.get(&source).copied().filter(|id| {
            // An address can move to another peer (a NAT rebinding); check before trusting it.
            self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input))
        });
        let found = cached.or_else(|| self.peers.iter().find(|(_, p)| p.rtc.accepts(&input)).map(|(id, _)| *id));
        let Some(id) = found else { return };
        self.by_source.insert(source, id);
        let Some(peer) = self.peers.get_mut(&id) else { return };
        match peer.handle_input(input) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::debug!(peer = id, %err, "a datagram was refused"),
            Err(_) => {
                tracing::warn!(peer = id, "str0m panicked on a datagram; the peer is closed");
                let class = peer.class;
                self.close_peer(id);
                self.events.push(SfuEvent::PeerClosed { class, peer: id });
                return;
            }
        }
        self.actions.push_back(Action::Drive(id));
        self.run_actions(now);
    }

    /// Advance time: peers' timers, layer allocation, owed keyframes, the grace for peers
    /// whose connection dropped, and the active speaker.
    pub fn tick(&mut self, now: Instant) {
        self.last_now = now;
        let due: Vec<PeerId> = self.peers.iter().filter(|(_, p)| p.next_timeout <= now).map(|(id, _)| *id).collect();
        for id in due {
            if let Some(peer) = self.peers.get_mut(&id) {
                let _ = peer.handle_input(Input::Timeout(now));
                self.actions.push_back(Action::Drive(id));
            }
        }
        self.run_actions(now);
        if self.next_housekeeping.is_none_or(|t| t <= now) {
            self.next_housekeeping = Some(now + HOUSEKEEPING);
            self.housekeeping(now);
        }
    }

    /// When `tick` is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self.peers.values().map(|p| p.next_timeout).min();
        match (peers, self.next_housekeeping) {
            (Some(p), Some(h)) => Some(p.min(h)),
            (p, h) => p.or(h),
        }
    }

    /// The next datagram to send, at `now` (the worker reads the clock for each call: a send
    /// takes time). Subscribers written to since the last call are driven in turn, one packet
    /// each per turn (str0m's pacer lets one out per timeout, see `drive`), round and round
    /// until each has sent what it was given: every subscriber gets a packet before any gets
    /// the next. Each is driven at the `now` of the call that reaches it, so its packets carry
    /// the time they really leave: str0m stamps them for transport-wide feedback, and stamped
    /// with the time the publisher's packet arrived, the worker's own fan-out to a class would
    /// look like network delay to every subscriber's bandwidth estimate.
    pub fn poll_datagram(&mut self, now: Instant) -> Option<Datagram> {
        loop {
            if let Some(datagram) = self.outbox.pop_front() {
                return Some(datagram);
            }
            let id = self.written.pop_front()?;
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.written = false;
            }
            let now = now.max(self.last_now);
            self.last_now = now;
            self.actions.push_back(Action::SendForwarded(id));
            self.run_actions(now);
        }
    }

    /// Hold every video slot to `ceiling` or below (`None`: no limit). Slots move at once
    /// (down on the lower layer's next keyframe, which is asked for).
    pub fn set_video_ceiling(&mut self, now: Instant, ceiling: Option<VideoQuality>) {
        if self.video_ceiling == ceiling {
            return;
        }
        self.video_ceiling = ceiling;
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.allocate(now, id);
        }
        self.run_actions(now);
    }

    /// The RTP packets per second this worker would forward with `ceiling` as the video limit,
    /// from the rates its publishers' layers arrive at now: each audio slot its microphone's,
    /// each video slot the best layer it may have (its page's choice, at most the limit; the
    /// downlink may allow less, so this errs high).
    pub fn forwarding_rate(&self, ceiling: Option<VideoQuality>) -> u64 {
        let track = |key: TrackKey| self.peers.get(&key.0).and_then(|p| p.published.get(&key.1));
        let mut rate = 0;
        for peer in self.peers.values() {
            for slot in &peer.audio_slots {
                rate += slot.track.and_then(track).and_then(|t| t.meters[0].pps).unwrap_or(0);
            }
            for slot in &peer.video_slots {
                let Some(t) = slot.track.and_then(track) else { continue };
                let best = if t.simulcast {
                    let arriving = std::array::from_fn(|l| t.meters[l].pps.is_some());
                    layers::index(limited(slot.quality, ceiling, arriving))
                } else {
                    0
                };
                // The best layer that arrives, as the allocation would pick.
                rate += t.meters[..=best].iter().rev().find_map(|m| m.pps).unwrap_or(0);
            }
        }
        rate
    }

    pub fn take_events(&mut self) -> Vec<SfuEvent> {
        std::mem::take(&mut self.events)
    }

    /// The longest a forwarded packet waited, from reaching the worker's socket to going out
    /// to a subscriber, since the last call: the delay the worker's own queue adds, the
    /// fan-out's included. Reading the socket between batches (the worker's `flush`) keeps
    /// the socket's own wait short even when the worker cannot keep up; this does not.
    pub fn take_longest_fan_out_wait(&mut self) -> Duration {
        std::mem::take(&mut self.longest_fan_out_wait)
    }

    fn new_rtc(&self, now: Instant) -> Rtc {
        let config = RtcConfig::new()
            .set_rtp_mode(true)
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true);
        let mut rtc = match self.limits.downlink {
            DownlinkEstimate::TransportCc => {
                config.enable_bwe(Some(Bitrate::bps(self.limits.initial_estimate_bps))).build(now)
            }
            // No estimator: str0m then sends what it is given without a timer per packet. Its
            // statistics, once a second, carry the loss the student's feedback reports.
            DownlinkEstimate::Loss | DownlinkEstimate::ReceiverReports => {
                config.set_stats_interval(Some(LOSS_REPORT_INTERVAL)).build(now)
            }
        };
        for addr in &self.candidates {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(err) => tracing::error!(%addr, %err, "cannot use this address as an ICE candidate"),
            }
        }
        rtc
    }

    fn class_peers(&self, class: ClassId) -> impl Iterator<Item = PeerId> + '_ {
        self.classes.get(&class).into_iter().flat_map(|c| c.peers.iter().copied())
    }

    /// People publishing in a class, not counting `except`.
    fn publishers(&self, class: ClassId, except: Option<UserId>) -> usize {
        let mut users: Vec<UserId> = self
            .class_peers(class)
            .filter_map(|id| self.peers.get(&id))
            .filter(|p| !p.published.is_empty() && Some(p.user) != except)
            .map(|p| p.user)
            .collect();
        users.sort_unstable();
        users.dedup();
        users.len()
    }

    fn is_video_track(&self, class: ClassId, (peer, mid): TrackKey) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| p.class == class && p.published.get(&mid).is_some_and(|t| t.kind == MediaKind::Video))
    }

    fn close_peer(&mut self, id: PeerId) {
        let Some(mut peer) = self.peers.remove(&id) else { return };
        peer.rtc.disconnect();
        self.by_source.retain(|_, p| *p != id);
        let class = peer.class;
        for mid in peer.published.keys() {
            self.track_ended(class, (id, *mid));
        }
        if let Some(c) = self.classes.get_mut(&class) {
            c.peers.retain(|p| *p != id);
            if c.peers.is_empty() {
                self.classes.remove(&class);
                return;
            }
        }
        self.assign_audio(class);
    }

    /// Take a track out of every slot showing it.
    fn track_ended(&mut self, class: ClassId, key: TrackKey) {
        let Some(c) = self.classes.get_mut(&class) else { return };
        if c.speaker.remove(key).is_some() {
            self.events.push(SfuEvent::ActiveSpeaker { class, user: None });
        }
        for id in c.peers.clone() {
            let Some(peer) = self.peers.get_mut(&id) else { continue };
            for slot in peer.video_slots.iter_mut().filter(|s| s.track == Some(key)) {
                slot.track = None;
                slot.selector.reset(None);
            }
            for slot in peer.audio_slots.iter_mut().filter(|s| s.track == Some(key)) {
                slot.track = None;
            }
        }
    }

    /// Fill each peer's audio slots with the class's microphones (not its own), keeping the
    /// slots that already carry a microphone still published.
    fn assign_audio(&mut self, class: ClassId) {
        let ids: Vec<PeerId> = self.class_peers(class).collect();
        let mut microphones: Vec<TrackKey> = Vec::new();
        for id in &ids {
            if let Some(p) = self.peers.get(id) {
                let mut mids: Vec<Mid> =
                    p.published.iter().filter(|(_, t)| t.kind == MediaKind::Audio).map(|(m, _)| *m).collect();
                mids.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                microphones.extend(mids.into_iter().map(|m| (*id, m)));
            }
        }
        for id in ids {
            let Some(peer) = self.peers.get_mut(&id) else { continue };
            for slot in &mut peer.audio_slots {
                if slot.track.is_some_and(|t| !microphones.contains(&t)) {
                    slot.track = None;
                }
            }
            let missing: Vec<TrackKey> = microphones
                .iter()
                .filter(|t| t.0 != id && !peer.audio_slots.iter().any(|s| s.track == Some(**t)))
                .copied()
                .collect();
            let mut missing = missing.into_iter();
            for slot in peer.audio_slots.iter_mut().filter(|s| s.track.is_none()) {
                slot.track = missing.next();
            }
        }
    }

    fn run_actions(&mut self, now: Instant) {
        // Bounded: each action is finite and queues work only for other peers.
        let mut budget = 100_000usize;
        while let Some(action) = self.actions.pop_front() {
            budget -= 1;
            if budget == 0 {
                tracing::error!("SFU action loop did not settle; dropping the rest");
                self.actions.clear();
                break;
            }
            match action {
                Action::Drive(id) => self.drive(now, id, false),
                Action::SendForwarded(id) => self.drive(now, id, true),
                Action::Forward(from, data) => self.forward(now, from, data),
                Action::Keyframe(key, layer) => self.request_keyframe(now, key, layer),
            }
        }
    }

    /// Poll a peer until it has nothing more to say; queue what concerns others.
    ///
    /// With `only_forwarded`, and no str0m pacer (downlinks judged by loss), stop once the last
    /// forwarded packet written to the peer is out: without a pacer, what was written goes out
    /// at once, and one more pass would only hand back the timer this peer already waits for,
    /// at the cost of polling ICE, DTLS and every stream again, once per subscriber per packet.
    /// Anything due meanwhile is answered at `next_timeout`. Other drives (input, timers) poll
    /// to the end, so the retransmissions a report asks for all leave in the drive of that
    /// report, and none is left to be counted here as a forwarded packet.
    fn drive(&mut self, now: Instant, id: PeerId, only_forwarded: bool) {
        let Some(peer) = self.peers.get_mut(&id) else { return };
        let mut failed = false;
        let mut due_answered = 0;
        let mut transmitted = false;
        let stop_when_sent = only_forwarded && self.limits.downlink != DownlinkEstimate::TransportCc;
        // The poll that would only ask for this timeout is the costliest kind: it goes through
        // every part of the peer to find when it is next needed.
        if only_forwarded && peer.awaiting_stamp {
            let _ = peer.handle_input(Input::Timeout(now));
        }
        loop {
            let output = match catch_unwind(AssertUnwindSafe(|| peer.rtc.poll_output())) {
                Ok(Ok(output)) => output,
                Ok(Err(err)) => {
                    tracing::debug!(peer = id, %err, "peer failed");
                    failed = true;
                    break;
                }
                Err(_) => {
                    tracing::warn!(peer = id, "str0m panicked while polling; the peer is closed");
                    failed = true;
                    break;
                }
            };
            match output {
                Output::Timeout(t) => {
                    if t <= now && due_answered < DUE_TIMERS_PER_DRIVE {
                        due_answered += 1;
                        let _ = peer.handle_input(Input::Timeout(now));
                        continue;
                    }
                    peer.next_timeout = t;
                    // With its estimator (`DownlinkEstimate::TransportCc`), str0m's pacer lets
                    // one packet out per timeout it is given and asks for the next 1 µs on.
                    // Coming back to this peer later in the same flush, once the clock has
                    // moved, sends the rest of what it was given in the flush, in turn with the
                    // class's other subscribers, instead of one packet per worker turn. Only
                    // while some of it is left (a last visit would cost a timeout that the next
                    // packet's own would have covered), and only after a transmit, so a peer is
                    // never polled twice at one instant for nothing.
                    if !transmitted {
                        peer.unsent = 0;
                        peer.unsent_since = None;
                    } else if peer.unsent > 0
                        && !peer.written
                        && peer.rtc.last_timeout_reason() == Reason::Pacer(PacerReason::Immediate)
                    {
                        peer.written = true;
                        self.written.push_back(id);
                    }
                    break;
                }
                Output::Transmit(t) => {
                    transmitted = true;
                    let mut last_forwarded = false;
                    if super::rtp::is_rtp(&t.contents) {
                        last_forwarded = peer.unsent == 1;
                        peer.unsent = peer.unsent.saturating_sub(1);
                        if let Some(since) = peer.unsent_since.take() {
                            let waited = now.saturating_duration_since(since);
                            self.longest_fan_out_wait = self.longest_fan_out_wait.max(waited);
                        }
                    }
                    // str0m hands over its buffer: no copy.
                    self.outbox.push_back(Datagram { destination: t.destination, contents: t.contents.into() });
                    if stop_when_sent && last_forwarded && peer.next_timeout > now {
                        break;
                    }
                }
                Output::Event(event) => match event {
                    Event::IceConnectionStateChange(state) => {
                        peer.disconnected_since = match state {
                            IceConnectionState::Disconnected => Some(peer.disconnected_since.unwrap_or(now)),
                            _ => None,
                        };
                    }
                    Event::RtpPacket(packet) => {
                        let pt = packet.header.payload_type;
                        let params = peer.rtc.codec_config().params().iter().find(|p| p.pt() == pt).copied();
                        let stream = peer.rtc.direct_api().stream_rx(&packet.header.ssrc).map(|s| (s.mid(), s.rid()));
                        if let (Some(params), Some((mid, rid))) = (params, stream)
                            && peer.published.contains_key(&mid)
                        {
                            self.actions
                                .push_back(Action::Forward(id, Box::new(Incoming { mid, rid, params, packet })));
                        }
                    }
                    Event::KeyframeRequest(req) => {
                        if let Some(slot) = peer.video_slots.iter().find(|s| s.mid == req.mid)
                            && let (Some(track), Some(layer)) = (slot.track, slot.selector.current())
                        {
                            self.actions.push_back(Action::Keyframe(track, layers::index(layer)));
                        }
                    }
                    Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                        peer.egress_bps = Some(estimate.as_u64());
                    }
                    // A browser's own estimate of what it receives. Not acted on: downlinks are
                    // judged by loss. Chromium sends none, even with `"receiver-reports"`
                    // (docs/media.md), so one arriving is worth a line in the log.
                    Event::EgressBitrateEstimate(BweKind::Remb { estimate, mid }) => {
                        tracing::debug!(peer = id, %mid, kbps = estimate.as_u64() / 1000, "a browser sent REMB");
                    }
                    Event::PeerStats(stats) => {
                        if peer.downlink.report(now, stats.bytes_tx, stats.egress_loss_fraction) {
                            peer.egress_bps = peer.downlink.estimate();
                        }
                    }
                    Event::MediaEgressStats(stats) => {
                        if let Some(lost) = stats.loss {
                            peer.downlink.receiver_report(lost);
                        }
                    }
                    _ => {}
                },
            }
        }
        if failed || !peer.rtc.is_alive() {
            let class = peer.class;
            self.close_peer(id);
            self.events.push(SfuEvent::PeerClosed { class, peer: id });
        }
    }

    /// A packet from a publisher: measure it, then write it into every slot that shows it.
    fn forward(&mut self, now: Instant, from: PeerId, incoming: Box<Incoming>) {
        let Incoming { mid, rid, params, packet } = *incoming;
        let key = (from, mid);
        let Some(publisher) = self.peers.get_mut(&from) else { return };
        let class = publisher.class;
        let Some(track) = publisher.published.get_mut(&mid) else { return };
        // Some browsers announce rids only in the RTP header extension.
        track.simulcast |= rid.is_some();
        let is_video = track.kind == MediaKind::Video;
        let layer = match rid {
            Some(rid) if track.simulcast => match layers::layer_of(rid) {
                Some(layer) => layer,
                None => return,
            },
            _ => VideoQuality::Low,
        };
        let li = layers::index(layer);
        track.meters[li].add(now, packet.payload.len());
        let time = packet.time.numer();
        let keyframe = is_video && {
            let codec = params.spec().codec;
            let start = if codec == Codec::Vp8 { vp8_frame_start(&packet.payload) } else { FrameStart::No };
            let h264_key = codec == Codec::H264 && h264_is_keyframe(&packet.payload);
            let key = track.frames[li].observe(time, start, h264_key);
            if key {
                track.gates[li].keyframe_arrived();
            }
            key
        };
        let level = packet.header.ext_vals.audio_level;
        let voice = packet.header.ext_vals.voice_activity.unwrap_or(false);
        let Some(c) = self.classes.get_mut(&class) else { return };
        if !is_video && let Some(level) = level {
            c.speaker.level(key, level);
        }
        let incoming_seq = *packet.seq_no;
        for &to in &c.peers {
            if to == from {
                continue;
            }
            let Some(sub) = self.peers.get_mut(&to) else { continue };
            let mut wrote = false;
            if is_video {
                for slot in sub.video_slots.iter_mut().filter(|s| s.track == Some(key)) {
                    if !slot.takes(layer, time, keyframe) {
                        continue;
                    }
                    let switched = slot.last_source != Some((key, layer));
                    let Some(out_seq) = slot.seq.map(incoming_seq, switched) else { continue };
                    slot.last_source = Some((key, layer));
                    let out_time = slot.timeline.map(packet.time, packet.timestamp, switched);
                    let Some(pt) = outgoing_pt(&mut slot.pt, &sub.rtc, &params) else { continue };
                    let out = Outgoing { mid: slot.mid, pt, seq: out_seq, time: out_time };
                    if write_forwarded(&mut sub.rtc, out, &packet, |w| w.nackable(true)) {
                        wrote = true;
                        sub.unsent += 1;
                    }
                }
            } else {
                for slot in sub.audio_slots.iter_mut().filter(|s| s.track == Some(key)) {
                    let switched = slot.last_source != Some(key);
                    let Some(out_seq) = slot.seq.map(incoming_seq, switched) else { continue };
                    slot.last_source = Some(key);
                    let out_time = slot.timeline.map(packet.time, packet.timestamp, switched);
                    let Some(pt) = outgoing_pt(&mut slot.pt, &sub.rtc, &params) else { continue };
                    let ext = ExtensionValues {
                        audio_level: level,
                        voice_activity: level.map(|_| voice),
                        ..Default::default()
                    };
                    let out = Outgoing { mid: slot.mid, pt, seq: out_seq, time: out_time };
                    if write_forwarded(&mut sub.rtc, out, &packet, |w| w.ext_vals(ext)) {
                        wrote = true;
                        sub.unsent += 1;
                    }
                }
            }
            if wrote {
                sub.awaiting_stamp = true;
                sub.unsent_since.get_or_insert(packet.timestamp);
                if !sub.written {
                    sub.written = true;
                    self.written.push_back(to);
                }
            }
        }
    }

    fn request_keyframe(&mut self, now: Instant, (peer_id, mid): TrackKey, layer: usize) {
        let interval = self.limits.keyframe_interval;
        let Some(peer) = self.peers.get_mut(&peer_id) else { return };
        let Some(track) = peer.published.get_mut(&mid) else { return };
        if track.kind != MediaKind::Video || !track.gates[layer].request(now, interval) {
            return;
        }
        let rid = track.simulcast.then(|| layers::rid_of(layers::LAYERS[layer]));
        send_keyframe_request(peer, mid, rid);
        self.actions.push_back(Action::Drive(peer_id));
    }

    fn housekeeping(&mut self, now: Instant) {
        let interval = self.limits.keyframe_interval;
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        let mut lost = Vec::new();
        for id in &ids {
            let Some(peer) = self.peers.get_mut(id) else { continue };
            let mut owed = Vec::new();
            for (mid, track) in &mut peer.published {
                for meter in &mut track.meters {
                    meter.roll(now);
                }
                for (i, gate) in track.gates.iter_mut().enumerate() {
                    if gate.due(now, interval) {
                        owed.push((*mid, track.simulcast.then(|| layers::rid_of(layers::LAYERS[i]))));
                    }
                }
            }
            if !owed.is_empty() {
                for (mid, rid) in owed {
                    send_keyframe_request(peer, mid, rid);
                }
                self.actions.push_back(Action::Drive(*id));
            }
            if peer.disconnected_since.is_some_and(|t| now.duration_since(t) >= self.limits.rejoin_grace) {
                lost.push((*id, peer.class));
            }
        }
        for id in &ids {
            self.allocate(now, *id);
        }
        for (id, class) in lost {
            tracing::debug!(peer = id, "media connection lost for longer than the grace");
            self.close_peer(id);
            self.events.push(SfuEvent::PeerClosed { class, peer: id });
        }
        for (class, c) in &mut self.classes {
            if let Some(change) = c.speaker.evaluate(now) {
                let user = change.and_then(|(peer, _)| self.peers.get(&peer)).map(|p| p.user);
                self.events.push(SfuEvent::ActiveSpeaker { class: *class, user });
            }
        }
        self.run_actions(now);
    }

    /// Split a subscriber's downlink among its video slots and move each towards its share.
    fn allocate(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else { return };
        let mut order: Vec<usize> =
            (0..peer.video_slots.len()).filter(|i| peer.video_slots[*i].track.is_some()).collect();
        order.sort_by_key(|i| std::cmp::Reverse(peer.video_slots[*i].quality));
        let cap_of = |source: MediaSource| {
            let cap =
                if source == MediaSource::Screen { self.limits.screen_max_bps } else { self.limits.camera_max_bps };
            cap * CAP_TOLERANCE_PERCENT / 100
        };
        let needs: Vec<SlotNeed> = order
            .iter()
            .map(|i| {
                let slot = &peer.video_slots[*i];
                let track = slot.track.and_then(|(p, m)| self.peers.get(&p)?.published.get(&m));
                match track {
                    Some(t) if t.simulcast => {
                        let layer_bps: [Option<u64>; 3] = std::array::from_fn(|l| {
                            t.meters[l].rate(NOMINAL_BPS[l]).filter(|bps| *bps <= cap_of(t.source))
                        });
                        let arriving = layer_bps.map(|bps| bps.is_some());
                        SlotNeed { max: limited(slot.quality, self.video_ceiling, arriving), layer_bps }
                    }
                    // One layer: it goes or it does not; assume it small until measured.
                    Some(t) => {
                        let rate = t.meters[0].rate(NOMINAL_BPS[0]).filter(|bps| *bps <= cap_of(t.source));
                        SlotNeed { max: VideoQuality::Low, layer_bps: [rate, None, None] }
                    }
                    None => SlotNeed { max: VideoQuality::Low, layer_bps: [None; 3] },
                }
            })
            .collect();
        let audio = AUDIO_BPS * peer.audio_slots.iter().filter(|s| s.track.is_some()).count() as u64;
        let budget = peer.egress_bps.map_or(u64::MAX, |e| e.saturating_sub(audio));
        let weighed: Vec<SlotNeed> = order
            .iter()
            .zip(&needs)
            .map(|(i, need)| need.clone().keeping(peer.video_slots[*i].selector.target()))
            .collect();
        let allowed = layers::allocate(budget, &weighed);
        let desired: u64 = needs
            .iter()
            .map(|n| n.layer_bps[..=layers::index(n.max)].iter().flatten().max().copied().unwrap_or(0))
            .sum::<u64>()
            + audio;
        let hold = self.limits.upgrade_hold;
        let Some(peer) = self.peers.get_mut(&id) else { return };
        peer.downlink.want(desired);
        if desired > 0 && self.limits.downlink == DownlinkEstimate::TransportCc {
            let minimum = needs.iter().filter_map(|n| n.layer_bps.iter().flatten().min().copied()).sum::<u64>() + audio;
            peer.rtc.bwe().set_bitrate(Bitrate::bps(minimum), Bitrate::bps(desired));
            // That re-arms str0m's pacer and probe timers: poll for the new timeout.
            self.actions.push_back(Action::Drive(id));
        }
        for (i, layer) in order.into_iter().zip(allowed) {
            let slot = &mut peer.video_slots[i];
            slot.selector.update(now, layer, hold);
            if let (Some(track), Some(want)) = (slot.track, slot.selector.wants_keyframe()) {
                self.actions.push_back(Action::Keyframe(track, layers::index(want)));
            }
        }
    }
}

/// The best layer a slot asking for `quality` may have under the worker's video limit, given
/// which layers of its source arrive. When none at or under the limit does (a camera that
/// stopped sending its small layers), the lowest that does: the limit must never leave a
/// student with no picture.
fn limited(quality: VideoQuality, ceiling: Option<VideoQuality>, arriving: [bool; 3]) -> VideoQuality {
    let max = ceiling.map_or(quality, |c| quality.min(c));
    if arriving[..=layers::index(max)].contains(&true) {
        return max;
    }
    (0..=layers::index(quality)).find(|&l| arriving[l]).map_or(max, |l| layers::LAYERS[l])
}

/// A receiving m-line of a browser (sending, from here) is a slot; any other direction is not.
fn sync_slot(peer: &mut Peer, mid: Mid, kind: MediaKind, direction: Direction) {
    let sending = matches!(direction, Direction::SendOnly | Direction::SendRecv);
    peer.audio_slots.retain(|s| s.mid != mid || (sending && kind == MediaKind::Audio));
    peer.video_slots.retain(|s| s.mid != mid || (sending && kind == MediaKind::Video));
    if !sending {
        return;
    }
    match kind {
        MediaKind::Audio if !peer.audio_slots.iter().any(|s| s.mid == mid) => peer.audio_slots.push(AudioSlot {
            mid,
            track: None,
            timeline: Timeline::default(),
            seq: SeqRewriter::default(),
            last_source: None,
            pt: None,
        }),
        MediaKind::Video if !peer.video_slots.iter().any(|s| s.mid == mid) => {
            peer.video_slots.push(VideoSlot::new(mid))
        }
        _ => {}
    }
}

fn send_keyframe_request(peer: &mut Peer, mid: Mid, rid: Option<Rid>) {
    match peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
        Some(stream) => stream.request_keyframe(KeyframeRequestKind::Pli),
        None => tracing::debug!(%mid, ?rid, "keyframe request not sent: no such incoming stream"),
    }
}

/// Where a forwarded packet goes in a subscriber, and the numbers it gets there.
struct Outgoing {
    mid: Mid,
    pt: Pt,
    seq: u64,
    time: MediaTime,
}

/// Write a forwarded packet (its payload shared, not copied) into a subscriber's stream;
/// `finish` adds what differs between audio and video. False if the stream is not there.
fn write_forwarded(
    rtc: &mut Rtc,
    out: Outgoing,
    packet: &RtpPacket,
    finish: impl FnOnce(RtpWrite) -> RtpWrite,
) -> bool {
    let mut api = rtc.direct_api();
    let Some(stream) = api.stream_tx_by_mid(out.mid, None) else { return false };
    // Forward as the packet arrives: the publisher's browser already paced it, and str0m's
    // pacer (1.1 times a subscriber's estimate) would hold a keyframe's burst back again, for
    // tens to hundreds of milliseconds per subscriber. Padding and bandwidth probes stay paced.
    stream.set_unpaced(true);
    let write =
        RtpWrite::new(out.pt, SeqNo::from(out.seq), out.time.numer() as u32, packet.timestamp, packet.payload.clone())
            .marker(packet.header.marker);
    stream.write_rtp(finish(write));
    true
}

/// The subscriber's payload type for what the publisher sent as `params` (two browsers may
/// number the same codec differently), remembered per slot.
fn outgoing_pt(cache: &mut Option<(Pt, Pt)>, rtc: &Rtc, params: &PayloadParams) -> Option<Pt> {
    if let Some((incoming, outgoing)) = *cache
        && incoming == params.pt()
    {
        return Some(outgoing);
    }
    let outgoing = rtc.codec_config().match_params(*params)?.pt();
    *cache = Some((params.pt(), outgoing));
    Some(outgoing)
}

fn check_publications(publish: &[Publication]) -> Result<(), SfuError> {
    if publish.len() > MAX_PUBLICATIONS {
        return Err(SfuError::BadRequest(format!("at most {MAX_PUBLICATIONS} tracks may be published")));
    }
    for (i, p) in publish.iter().enumerate() {
        if p.mid.is_empty() || p.mid.len() > MAX_MID_LEN {
            return Err(SfuError::BadRequest(format!("mid must be 1 to {MAX_MID_LEN} characters")));
        }
        if publish[..i].iter().any(|q| q.mid == p.mid || q.source == p.source) {
            return Err(SfuError::BadRequest("each m-line and each source may be published once".into()));
        }
    }
    Ok(())
}

/// The mids an SDP names, in order.
fn offer_mids(sdp: &str) -> impl Iterator<Item = Mid> + '_ {
    sdp.lines()
        .filter_map(|line| line.trim_end().strip_prefix("a=mid:"))
        .filter(|mid| !mid.is_empty() && mid.len() <= MAX_MID_LEN)
        .map(Mid::from)
}

/// The wire id of a track: `<peer>-<mid>`.
pub fn track_id((peer, mid): TrackKey) -> String {
    format!("{peer}-{mid}")
}

pub fn parse_track_id(id: &str) -> Option<TrackKey> {
    let (peer, mid) = id.split_once('-')?;
    if mid.is_empty() || mid.len() > MAX_MID_LEN {
        return None;
    }
    Some((peer.parse().ok()?, Mid::from(mid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_ids_spread_over_the_bits_a_hash_table_uses() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (1..=4096u64).map(|id| build.hash_one(id)).collect();
        let distinct: std::collections::HashSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
        // hashbrown picks a bucket with the low bits and tags it with the top seven.
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 4095).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 4096 * 6 / 10, "{} of 4096 buckets", buckets.len());
        assert_eq!(tags.len(), 128);
        assert_ne!(build.hash_one(7i64), build.hash_one(-7i64));
    }

    #[test]
    fn at_a_switch_the_old_layer_stops_mid_frame_and_the_new_one_starts_whole() {
        let t0 = Instant::now();
        let hold = Duration::from_secs(2);
        let mut slot = VideoSlot::new(Mid::from("v"));
        slot.selector.reset(Some(VideoQuality::Low));
        assert!(!slot.takes(VideoQuality::Low, 100, false), "no keyframe yet");
        assert!(slot.takes(VideoQuality::Low, 200, true));
        assert!(slot.takes(VideoQuality::Low, 200, false), "the rest of that frame");
        assert!(!slot.takes(VideoQuality::High, 200, true), "not the target yet");
        slot.selector.update(t0, Some(VideoQuality::High), hold);
        slot.selector.update(t0 + hold, Some(VideoQuality::High), hold);
        // Low's frame 300 has begun; High's keyframe 300 arrives in the middle of it.
        assert!(slot.takes(VideoQuality::Low, 300, false));
        assert!(!slot.takes(VideoQuality::High, 300, false), "a delta of the new layer waits");
        assert!(slot.takes(VideoQuality::High, 400, true), "its keyframe switches");
        assert!(!slot.takes(VideoQuality::Low, 300, false), "the old layer's frame is left");
        assert!(!slot.takes(VideoQuality::Low, 400, false));
        assert!(slot.takes(VideoQuality::High, 400, false), "the new frame goes on whole");
        assert!(slot.takes(VideoQuality::High, 500, false));
    }
}
