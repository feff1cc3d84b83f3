//! WebRTC peers for the SFU tests, on webrtc-rs: a WebRTC implementation independent of the
//! server's str0m. Like the browser, a peer is always the offerer; it gathers its candidates
//! before offering (no trickle), publishes on sendonly transceivers and receives on recvonly
//! ones. Media is synthetic and self-describing: every VP8 frame, H.264 NAL unit and Opus
//! packet carries its counter, so a receiver can check that it got exactly what was sent, in
//! order, with no gap.
#![allow(dead_code)] // each test file uses its own subset

use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Attribute, Interceptor, Packet as ChainPacket, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media::Sample;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::Packet as RtpPacket;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpTransceiver;

/// The longest any one media step (gathering, connecting, the first packet) may take.
pub const MEDIA_WAIT: Duration = Duration::from_secs(20);
pub const VIDEO_FPS: u32 = 30;
/// A keyframe every second, as an encoder might; more when the SFU asks for one.
pub const KEYFRAME_EVERY: u32 = 30;
const VIDEO_CLOCK: u32 = 90_000;
/// 1/30 s, rounded up so that webrtc-rs's `duration × clock` truncation gives exactly 3000.
const FRAME_DURATION: Duration = Duration::from_nanos(33_333_334);
pub const VIDEO_TICKS_PER_FRAME: u32 = VIDEO_CLOCK / VIDEO_FPS;
pub const AUDIO_PACKETS_PER_SECOND: u32 = 50;
const AUDIO_DURATION: Duration = Duration::from_millis(20);
pub const AUDIO_TICKS_PER_PACKET: u32 = 48_000 / AUDIO_PACKETS_PER_SECOND;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    fn codec_kind(self) -> RtpCodecKind {
        match self {
            Kind::Audio => RtpCodecKind::Audio,
            Kind::Video => RtpCodecKind::Video,
        }
    }
}

/// Which codecs a peer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codecs {
    /// VP8 and Opus only, so that a publisher is sure to send VP8.
    Vp8Opus,
    /// webrtc-rs's defaults (Opus, G722, PCMU/A, VP8, VP9, H.264, AV1 with RTX…), like a browser.
    BrowserLike,
    /// H.264 (packetization-mode 1, constrained baseline) and Opus only, as iPad Safari may
    /// publish: a publisher is sure to send H.264.
    H264Opus,
}

impl Codecs {
    /// What the peer's cameras send.
    pub fn video(self) -> VideoCodec {
        match self {
            Codecs::Vp8Opus | Codecs::BrowserLike => VideoCodec::Vp8,
            Codecs::H264Opus => VideoCodec::H264,
        }
    }
}

/// The codec of a sent camera, and how its synthetic frames are made and read back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VideoCodec {
    #[default]
    Vp8,
    H264,
}

impl VideoCodec {
    fn rtp_codec(self) -> RTCRtpCodec {
        match self {
            VideoCodec::Vp8 => vp8(),
            VideoCodec::H264 => h264(),
        }
    }

    /// The frame numbered `counter`.
    pub fn frame(self, counter: u32, key: bool) -> Vec<u8> {
        match self {
            VideoCodec::Vp8 => vp8_frame(counter, key),
            VideoCodec::H264 => h264_access_unit(counter, key),
        }
    }

    /// Reassemble the frames of a received stream.
    pub fn frames(self, who: &str, packets: &[RtpPacket], payload_type: u8) -> Vec<Unit> {
        match self {
            VideoCodec::Vp8 => vp8_frames(who, packets, payload_type),
            VideoCodec::H264 => h264_frames(who, packets, payload_type),
        }
    }

    /// A sent frame as `frames` gives it back: H.264 NAL units get 4-byte start codes (the
    /// SFU repacketizes, so start-code lengths are not kept).
    pub fn normalize(self, frame: &[u8]) -> Vec<u8> {
        match self {
            VideoCodec::Vp8 => frame.to_vec(),
            VideoCodec::H264 => annex_b(&nal_units(frame)),
        }
    }

    pub fn is_keyframe(self, frame: &[u8]) -> bool {
        match self {
            VideoCodec::Vp8 => vp8_is_keyframe(frame),
            VideoCodec::H264 => h264_is_keyframe(frame),
        }
    }

    pub fn counter(self, frame: &[u8]) -> Option<u32> {
        match self {
            VideoCodec::Vp8 => vp8_counter(frame),
            VideoCodec::H264 => h264_counter(frame),
        }
    }
}

fn vp8() -> RTCRtpCodec {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback { typ: typ.into(), parameter: parameter.into() };
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.into(),
        clock_rate: VIDEO_CLOCK,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![feedback("nack", ""), feedback("nack", "pli"), feedback("ccm", "fir")],
    }
}

/// H.264 as Safari offers it first: non-interleaved (packetization-mode 1), constrained
/// baseline level 3.1.
fn h264() -> RTCRtpCodec {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback { typ: typ.into(), parameter: parameter.into() };
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.into(),
        clock_rate: VIDEO_CLOCK,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".into(),
        rtcp_feedback: vec![feedback("nack", ""), feedback("nack", "pli"), feedback("ccm", "fir")],
    }
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

/// The last stage of the receive chain: hands keyframe requests (PLI, FIR) about our sent
/// tracks to the application, as a browser's encoder would get them. Inbound RTCP otherwise
/// ends in the interceptors.
#[derive(Default)]
struct KeyframeRequestsToApp {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestsToApp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let ChainPacket::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<_> = packets
                .iter()
                .filter(|p| p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>())
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = ChainPacket::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
}

impl Interceptor for KeyframeRequestsToApp {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

/// A track the peer receives, and its RTP packets as they arrive.
pub struct RemoteTrack {
    pub kind: Kind,
    pub packets: mpsc::UnboundedReceiver<RtpPacket>,
}

/// The peer's events, as watch values and a queue of tracks.
struct Events {
    name: String,
    connection: watch::Sender<RTCPeerConnectionState>,
    gathering: watch::Sender<RTCIceGatheringState>,
    tracks: mpsc::UnboundedSender<RemoteTrack>,
}

type Callback<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

// The trait is declared with `async_trait`; these are its methods written out by hand, so the
// tests need no macro crate of their own.
impl PeerConnectionEventHandler for Events {
    fn on_connection_state_change<'a, 'b>(&'a self, state: RTCPeerConnectionState) -> Callback<'b>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            tracing::debug!(peer = %self.name, %state, "webrtc-rs connection state");
            self.connection.send_replace(state);
        })
    }

    fn on_ice_gathering_state_change<'a, 'b>(&'a self, state: RTCIceGatheringState) -> Callback<'b>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            self.gathering.send_replace(state);
        })
    }

    fn on_track<'a, 'b>(&'a self, track: Arc<dyn TrackRemote>) -> Callback<'b>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let kind = if track.kind().await == RtpCodecKind::Audio { Kind::Audio } else { Kind::Video };
            tracing::debug!(peer = %self.name, ?kind, "webrtc-rs track opened");
            let (sink, packets) = mpsc::unbounded_channel();
            // Read at once: webrtc-rs drops packets when a track's queue is full.
            let name = self.name.clone();
            tokio::spawn(async move {
                while let Some(event) = track.poll().await {
                    tracing::trace!(peer = %name, ?kind, ?event, "webrtc-rs track event");
                    let go_on = match event {
                        TrackRemoteEvent::OnRtpPacket(packet) => sink.send(packet).is_ok(),
                        TrackRemoteEvent::OnEnded => false,
                        _ => true,
                    };
                    if !go_on {
                        return;
                    }
                }
            });
            let _ = self.tracks.send(RemoteTrack { kind, packets });
        })
    }
}

/// A track the peer sends, on a sendonly transceiver.
pub struct Outgoing {
    pub kind: Kind,
    /// For a camera, what its frames are.
    pub video_codec: VideoCodec,
    track: Arc<TrackLocalStaticSample>,
    transceiver: Arc<dyn RtpTransceiver>,
    ssrc: u32,
    payload_type: Option<u8>,
    keyframe_wanted: Arc<AtomicBool>,
    /// PLIs and FIRs received for this track.
    pub keyframe_requests: Arc<AtomicUsize>,
}

impl Outgoing {
    /// The transceiver's mid (known once the offer is the local description).
    pub async fn mid(&self) -> String {
        self.transceiver.mid().await.expect("the transceiver is there").expect("a mid after the offer")
    }

    /// After the connection is up: learn the negotiated payload type, start listening for
    /// keyframe requests.
    pub async fn start(&mut self) {
        let sender = self.transceiver.sender().await.expect("the transceiver is there").expect("a sender");
        let parameters = sender.get_parameters().await.expect("sender parameters");
        let codec = parameters.rtp_parameters.codecs.first().expect("a negotiated codec");
        self.payload_type = Some(codec.payload_type);
        let (track, wanted, count) = (self.track.clone(), self.keyframe_wanted.clone(), self.keyframe_requests.clone());
        tokio::spawn(async move {
            while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = track.poll().await {
                let requests = packets
                    .iter()
                    .filter(|p| p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>())
                    .count();
                if requests > 0 {
                    count.fetch_add(requests, Ordering::Relaxed);
                    wanted.store(true, Ordering::Relaxed);
                }
            }
        });
    }

    /// Whether the SFU asked for a keyframe since the last call.
    pub fn take_keyframe_request(&self) -> bool {
        self.keyframe_wanted.swap(false, Ordering::Relaxed)
    }

    /// Send one video frame of 1/30 s.
    pub async fn send_frame(&self, frame: Vec<u8>) {
        self.write(frame, FRAME_DURATION).await;
    }

    async fn write(&self, data: Vec<u8>, duration: Duration) {
        let payload_type = self.payload_type.expect("Outgoing::start before sending");
        let sample = Sample { data: data.into(), duration, ..Sample::new(Instant::now()) };
        self.track.write_sample(self.ssrc, payload_type, &sample, &[]).await.expect("write a sample");
    }
}

pub struct Peer {
    pub name: String,
    codecs: Codecs,
    pub pc: Arc<dyn PeerConnection>,
    connection: watch::Receiver<RTCPeerConnectionState>,
    gathering: watch::Receiver<RTCIceGatheringState>,
    tracks: mpsc::UnboundedReceiver<RemoteTrack>,
    arrived: HashMap<Kind, VecDeque<RemoteTrack>>,
}

static NEXT_SSRC: AtomicU32 = AtomicU32::new(0x1000_0000);

impl Peer {
    /// A peer on one loopback UDP socket.
    pub async fn new(name: &str, codecs: Codecs) -> Peer {
        let mut engine = MediaEngine::default();
        match codecs {
            Codecs::Vp8Opus => {
                engine
                    .register_codec(RTCRtpCodecParameters { rtp_codec: vp8(), payload_type: 96 }, RtpCodecKind::Video)
                    .unwrap();
                engine
                    .register_codec(RTCRtpCodecParameters { rtp_codec: opus(), payload_type: 111 }, RtpCodecKind::Audio)
                    .unwrap();
            }
            Codecs::BrowserLike => engine.register_default_codecs().unwrap(),
            Codecs::H264Opus => {
                engine
                    .register_codec(RTCRtpCodecParameters { rtp_codec: h264(), payload_type: 102 }, RtpCodecKind::Video)
                    .unwrap();
                engine
                    .register_codec(RTCRtpCodecParameters { rtp_codec: opus(), payload_type: 111 }, RtpCodecKind::Audio)
                    .unwrap();
            }
        }
        // NACK, RTCP reports and transport-wide congestion control feedback, as a browser.
        let registry = register_default_interceptors(Registry::new(), &mut engine).unwrap();
        let registry = registry.with(Slot::from(14_000), KeyframeRequestsToApp::default());
        // No mDNS: it would bind port 5353 once per peer, and the SFU could not resolve it.
        let settings = SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::Disabled).build();
        let (connection_tx, connection) = watch::channel(RTCPeerConnectionState::New);
        let (gathering_tx, gathering) = watch::channel(RTCIceGatheringState::New);
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        let events =
            Events { name: name.to_owned(), connection: connection_tx, gathering: gathering_tx, tracks: tracks_tx };
        let pc = PeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(Arc::new(events))
            .with_udp_addrs(vec!["127.0.0.1:0"])
            .build()
            .await
            .expect("build a webrtc-rs peer");
        Peer { name: name.to_owned(), codecs, pc: Arc::new(pc), connection, gathering, tracks, arrived: HashMap::new() }
    }

    /// A sendonly transceiver with a sample track (Opus, or the peer's video codec).
    pub async fn send(&self, kind: Kind) -> Outgoing {
        let ssrc = NEXT_SSRC.fetch_add(1, Ordering::Relaxed);
        let video_codec = self.codecs.video();
        let codec = match kind {
            Kind::Audio => opus(),
            Kind::Video => video_codec.rtp_codec(),
        };
        let label = format!("{}-{kind:?}", self.name).to_lowercase();
        let encoding = RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec,
            active: true,
            ..Default::default()
        };
        let track = MediaStreamTrack::new(
            format!("{}-stream", self.name),
            label.clone(),
            label,
            kind.codec_kind(),
            vec![encoding],
        );
        let track = Arc::new(TrackLocalStaticSample::new(Instant::now(), track).expect("a sample track"));
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Sendonly, ..Default::default() };
        let transceiver = self
            .pc
            .add_transceiver_from_track(track.clone() as Arc<dyn TrackLocal>, Some(init))
            .await
            .expect("add a sendonly transceiver");
        Outgoing {
            kind,
            video_codec,
            track,
            transceiver,
            ssrc,
            payload_type: None,
            keyframe_wanted: Arc::default(),
            keyframe_requests: Arc::default(),
        }
    }

    /// A recvonly transceiver: a slot the SFU fills.
    pub async fn receive(&self, kind: Kind) -> Arc<dyn RtpTransceiver> {
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
        self.pc.add_transceiver_from_kind(kind.codec_kind(), Some(init)).await.expect("add a recvonly transceiver")
    }

    /// Create the offer, make it the local description, wait until every candidate is in it
    /// and return its SDP.
    pub async fn offer(&mut self) -> String {
        let offer = self.pc.create_offer(None).await.expect("create an offer");
        self.pc.set_local_description(offer).await.expect("set the local offer");
        let gathering = &mut self.gathering;
        tokio::time::timeout(MEDIA_WAIT, gathering.wait_for(|s| *s == RTCIceGatheringState::Complete))
            .await
            .unwrap_or_else(|_| panic!("{}: ICE gathering did not complete", self.name))
            .unwrap();
        let local = self.pc.local_description().await.expect("a local description");
        assert!(local.sdp.contains("a=candidate"), "{}: the offer has no candidate:\n{}", self.name, local.sdp);
        local.sdp
    }

    pub async fn accept(&self, answer: String) {
        let answer = RTCSessionDescription::answer(answer).expect("an answer");
        self.pc.set_remote_description(answer).await.expect("set the remote answer");
    }

    /// Wait for ICE and DTLS.
    pub async fn connected(&mut self) {
        let name = self.name.clone();
        let connection = &mut self.connection;
        let settled = |s: &RTCPeerConnectionState| {
            matches!(s, RTCPeerConnectionState::Connected | RTCPeerConnectionState::Failed)
        };
        let reached = tokio::time::timeout(MEDIA_WAIT, connection.wait_for(settled)).await.map(|r| r.map(|s| *s));
        match reached {
            Ok(Ok(state)) => assert_eq!(state, RTCPeerConnectionState::Connected, "{name}: the connection failed"),
            Ok(Err(_)) => panic!("{name}: the peer connection is gone"),
            Err(_) => panic!("{name}: not connected within {MEDIA_WAIT:?} (state {})", *connection.borrow()),
        }
    }

    /// The next received track of `kind` (its first RTP packet has arrived).
    pub async fn track(&mut self, kind: Kind) -> RemoteTrack {
        let deadline = tokio::time::Instant::now() + MEDIA_WAIT;
        loop {
            if let Some(track) = self.arrived.get_mut(&kind).and_then(VecDeque::pop_front) {
                return track;
            }
            let next = tokio::time::timeout_at(deadline, self.tracks.recv()).await;
            match next {
                Ok(Some(track)) => self.arrived.entry(track.kind).or_default().push_back(track),
                Ok(None) => panic!("{}: the peer is gone", self.name),
                Err(_) => panic!("{}: no {kind:?} RTP packet arrived within {MEDIA_WAIT:?}", self.name),
            }
        }
    }

    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// A VP8 frame (RFC 6386 §9.1 frame tag; a keyframe has the start code and a size) carrying
/// `counter`, with a size that varies so that keyframes span several RTP packets.
pub fn vp8_frame(counter: u32, key: bool) -> Vec<u8> {
    let size = if key { 2_500 + (counter % 7) as usize * 350 } else { 200 + (counter % 11) as usize * 170 };
    let first_partition = (size as u32 / 2) & 0x7_ffff;
    let tag = u32::from(!key) | (1 << 4) | (first_partition << 5);
    let mut frame = tag.to_le_bytes()[..3].to_vec();
    if key {
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        frame.extend_from_slice(&320u16.to_le_bytes());
        frame.extend_from_slice(&240u16.to_le_bytes());
    }
    frame.extend_from_slice(&counter.to_be_bytes());
    while frame.len() < size {
        frame.push((frame.len() as u32).wrapping_mul(7).wrapping_add(counter) as u8);
    }
    frame
}

pub fn vp8_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

pub fn vp8_counter(frame: &[u8]) -> Option<u32> {
    let at = if vp8_is_keyframe(frame) { 10 } else { 3 };
    Some(u32::from_be_bytes(frame.get(at..at + 4)?.try_into().ok()?))
}

/// NAL unit types of H.264 (RFC 6184 §5.4): the ones the synthetic camera sends, and the two
/// RTP payload structures a packetizer may use.
const NAL_SLICE: u8 = 1;
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

/// One NAL unit: its header byte, then `counter` as eight nibbles (0x40 | nibble), then filler.
/// No body byte is below 0x04, so no start code can appear inside it.
fn h264_nal(header: u8, counter: u32, size: usize) -> Vec<u8> {
    let mut nal = vec![header];
    nal.extend((0..8).rev().map(|i| 0x40 | ((counter >> (4 * i)) & 0x0f) as u8));
    while nal.len() < size {
        nal.push(0x04 + ((nal.len() as u32).wrapping_mul(13).wrapping_add(counter) % 250) as u8);
    }
    nal
}

/// An H.264 access unit in Annex B carrying `counter` in each NAL unit: a keyframe is SPS, PPS
/// and an IDR slice large enough to need FU-A fragments; another frame is one non-IDR slice, of
/// a size that varies. Start codes are 4 or 3 bytes long, as encoders mix them.
pub fn h264_access_unit(counter: u32, key: bool) -> Vec<u8> {
    let nals = if key {
        vec![
            h264_nal(0x60 | NAL_SPS, counter, 14),
            h264_nal(0x60 | NAL_PPS, counter, 11),
            h264_nal(0x60 | NAL_IDR, counter, 3_000 + (counter % 7) as usize * 400),
        ]
    } else {
        vec![h264_nal(0x40 | NAL_SLICE, counter, 200 + (counter % 11) as usize * 170)]
    };
    let mut unit = Vec::new();
    for (i, nal) in nals.iter().enumerate() {
        let long = i == 0 && counter.is_multiple_of(2);
        unit.extend_from_slice(if long { &[0, 0, 0, 1] } else { &[0, 0, 1] });
        unit.extend_from_slice(nal);
    }
    unit
}

/// The NAL units of an Annex B byte stream, without their start codes (3 or 4 bytes).
pub fn nal_units(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new(); // (start code begins, NAL unit begins)
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i..i + 3] == [0, 0, 1] {
            let code = if i > 0 && stream[i - 1] == 0 { i - 1 } else { i };
            starts.push((code, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends = starts.iter().skip(1).map(|&(code, _)| code).chain([stream.len()]);
    starts.iter().zip(ends).map(|(&(_, begin), end)| stream[begin..end].to_vec()).collect()
}

/// NAL units joined with 4-byte start codes.
pub fn annex_b(nals: &[Vec<u8>]) -> Vec<u8> {
    nals.iter().flat_map(|nal| [0, 0, 0, 1].iter().chain(nal)).copied().collect()
}

/// Whether an access unit has SPS, PPS and an IDR slice.
pub fn h264_is_keyframe(unit: &[u8]) -> bool {
    let types: Vec<u8> = nal_units(unit).iter().filter_map(|n| n.first().map(|h| h & 0x1f)).collect();
    [NAL_SPS, NAL_PPS, NAL_IDR].iter().all(|t| types.contains(t))
}

/// The counter of an access unit's first NAL unit.
pub fn h264_counter(unit: &[u8]) -> Option<u32> {
    let nals = nal_units(unit);
    let digits = nals.first()?.get(1..9)?;
    digits.iter().try_fold(0u32, |c, &d| (d & 0xf0 == 0x40).then_some((c << 4) | u32::from(d & 0x0f)))
}

/// Reassemble H.264 access units from RTP (RFC 6184, non-interleaved: single NAL units,
/// STAP-A, FU-A); an access unit ends at the marker bit. Each comes back in Annex B with
/// 4-byte start codes.
pub fn h264_frames(who: &str, packets: &[RtpPacket], payload_type: u8) -> Vec<Unit> {
    let mut frames = Vec::new();
    let mut current: Option<(u32, Vec<Vec<u8>>)> = None;
    let mut fragment: Option<Vec<u8>> = None;
    for p in in_order(who, packets, payload_type) {
        let payload = &p.payload[..];
        if payload.is_empty() {
            continue; // padding
        }
        let seq = p.header.sequence_number;
        let (timestamp, nals) = current.get_or_insert_with(|| (p.header.timestamp, Vec::new()));
        assert_eq!(*timestamp, p.header.timestamp, "{who}: an access unit's packets have different timestamps");
        match payload[0] & 0x1f {
            NAL_STAP_A => {
                let mut rest = &payload[1..];
                while !rest.is_empty() {
                    let size = rest.get(..2).map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])));
                    let nal = size.and_then(|size| rest.get(2..2 + size));
                    let Some(nal) = nal else { panic!("{who}: a truncated STAP-A (seq {seq})") };
                    nals.push(nal.to_vec());
                    rest = &rest[2 + nal.len()..];
                }
            }
            NAL_FU_A => {
                let Some(&fu) = payload.get(1) else { panic!("{who}: an FU-A without its header (seq {seq})") };
                if fu & 0x80 != 0 {
                    assert!(fragment.is_none(), "{who}: an FU-A began inside another (seq {seq})");
                    fragment = Some(vec![(payload[0] & 0xe0) | (fu & 0x1f)]);
                }
                let Some(nal) = fragment.as_mut() else {
                    panic!("{who}: an FU-A continued without a start (seq {seq})")
                };
                nal.extend_from_slice(&payload[2..]);
                if fu & 0x40 != 0 {
                    nals.push(fragment.take().unwrap());
                }
            }
            1..=23 => {
                assert!(fragment.is_none(), "{who}: an FU-A did not end (seq {seq})");
                nals.push(payload.to_vec());
            }
            other => panic!("{who}: RTP payload with NAL type {other} (seq {seq})"),
        }
        if p.header.marker {
            assert!(fragment.is_none(), "{who}: an access unit ended inside an FU-A (seq {seq})");
            let (timestamp, nals) = current.take().unwrap();
            frames.push(Unit { timestamp, data: annex_b(&nals) });
        }
    }
    frames
}

/// An Opus packet carrying `counter` (a TOC byte, then the counter, then filler).
pub fn opus_packet(counter: u32) -> Vec<u8> {
    let mut packet = vec![0x78];
    packet.extend_from_slice(&counter.to_be_bytes());
    let size = 40 + (counter % 37) as usize;
    while packet.len() < size {
        packet.push((packet.len() as u32 ^ counter) as u8);
    }
    packet
}

pub fn opus_counter(packet: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(packet.get(1..5)?.try_into().ok()?))
}

/// What a publisher sent, index = counter.
#[derive(Debug, Default)]
pub struct Sent {
    pub video_codec: VideoCodec,
    pub video: Vec<Vec<u8>>,
    pub audio: Vec<Vec<u8>>,
    /// Keyframes sent because the SFU asked for one.
    pub requested_keyframes: usize,
}

/// Send `seconds` of camera at 30 fps, paced in real time: a keyframe every second and
/// whenever the SFU asks for one. Returns the frames and how many keyframes were asked for.
pub async fn send_video(video: &Outgoing, seconds: u32) -> (Vec<Vec<u8>>, usize) {
    let mut sent = Vec::new();
    let mut requested = 0;
    let mut tick = tokio::time::interval(FRAME_DURATION);
    for counter in 0..seconds * VIDEO_FPS {
        tick.tick().await;
        let asked = video.take_keyframe_request();
        let periodic = counter % KEYFRAME_EVERY == 0;
        requested += usize::from(asked && !periodic);
        let frame = video.video_codec.frame(counter, periodic || asked);
        video.send_frame(frame.clone()).await;
        sent.push(frame);
    }
    (sent, requested)
}

/// Send `seconds` of microphone in 20 ms packets, paced in real time.
pub async fn send_audio(audio: &Outgoing, seconds: u32) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    let mut tick = tokio::time::interval(AUDIO_DURATION);
    for counter in 0..seconds * AUDIO_PACKETS_PER_SECOND {
        tick.tick().await;
        let packet = opus_packet(counter);
        audio.write(packet.clone(), AUDIO_DURATION).await;
        sent.push(packet);
    }
    sent
}

/// Camera and microphone together.
pub async fn stream(video: &Outgoing, audio: &Outgoing, seconds: u32) -> Sent {
    let video_codec = video.video_codec;
    let ((video, requested_keyframes), audio) = tokio::join!(send_video(video, seconds), send_audio(audio, seconds));
    Sent { video_codec, video, audio, requested_keyframes }
}

/// Read a track's packets until no media (a packet with a payload) came for `quiet`, or the
/// deadline passed.
pub async fn drain(track: &mut RemoteTrack, quiet: Duration, deadline: tokio::time::Instant) -> Vec<RtpPacket> {
    let mut packets = Vec::new();
    let mut last_media = tokio::time::Instant::now();
    loop {
        let until = (last_media + quiet).min(deadline);
        match tokio::time::timeout_at(until, track.packets.recv()).await {
            Ok(Some(packet)) => {
                if !packet.payload.is_empty() {
                    last_media = tokio::time::Instant::now();
                }
                packets.push(packet);
            }
            Ok(None) | Err(_) => return packets,
        }
    }
}

/// A frame (or audio packet) as the receiver reassembled it.
#[derive(Clone, Debug)]
pub struct Unit {
    pub timestamp: u32,
    pub data: Vec<u8>,
}

/// The packets of the stream's main SSRC and payload type, in sequence order (extended to 64
/// bits, retransmitted duplicates dropped). Panics on a gap in the sequence.
fn in_order(who: &str, packets: &[RtpPacket], payload_type: u8) -> Vec<RtpPacket> {
    let media: Vec<&RtpPacket> = packets.iter().filter(|p| p.header.payload_type == payload_type).collect();
    let Some(first) = media.iter().find(|p| !p.payload.is_empty()) else {
        panic!(
            "{who}: no media arrived: {} RTP packets, none with a payload of type {payload_type} (only padding or RTX)",
            packets.len()
        )
    };
    let ssrc = first.header.ssrc;
    let mut by_seq: BTreeMap<u64, RtpPacket> = BTreeMap::new();
    let mut last: Option<u64> = None;
    for p in media.into_iter().filter(|p| p.header.ssrc == ssrc) {
        let seq = p.header.sequence_number;
        let extended = match last {
            None => u64::from(seq) + (1 << 16),
            Some(prev) => {
                let delta = seq.wrapping_sub(prev as u16) as i16;
                prev.wrapping_add_signed(i64::from(delta))
            }
        };
        last = Some(last.map_or(extended, |l| l.max(extended)));
        by_seq.entry(extended).or_insert_with(|| p.clone());
    }
    let seqs: Vec<u64> = by_seq.keys().copied().collect();
    let gaps: Vec<(u64, u64)> = seqs.windows(2).filter(|w| w[1] != w[0] + 1).map(|w| (w[0], w[1])).collect();
    assert!(gaps.is_empty(), "{who}: RTP sequence gaps (after, before): {gaps:?}");
    by_seq.into_values().collect()
}

/// Reassemble VP8 frames from RTP (RFC 7741): a frame starts at S=1, PID=0 and ends at the
/// marker bit.
pub fn vp8_frames(who: &str, packets: &[RtpPacket], payload_type: u8) -> Vec<Unit> {
    let mut frames = Vec::new();
    let mut current: Option<Unit> = None;
    for p in in_order(who, packets, payload_type) {
        let payload = &p.payload[..];
        if payload.is_empty() {
            continue; // padding
        }
        let (start, header) = vp8_descriptor(payload).unwrap_or_else(|| panic!("{who}: bad VP8 descriptor"));
        if start {
            assert!(current.is_none(), "{who}: a VP8 frame began before the previous one ended (no marker)");
            current = Some(Unit { timestamp: p.header.timestamp, data: Vec::new() });
        }
        let Some(frame) = current.as_mut() else {
            panic!("{who}: a VP8 continuation packet without a start (seq {})", p.header.sequence_number)
        };
        assert_eq!(frame.timestamp, p.header.timestamp, "{who}: one frame's packets have different timestamps");
        frame.data.extend_from_slice(&payload[header..]);
        if p.header.marker {
            frames.push(current.take().unwrap());
        }
    }
    frames
}

/// (S=1 and PID=0, length of the payload descriptor).
fn vp8_descriptor(payload: &[u8]) -> Option<(bool, usize)> {
    let first = *payload.first()?;
    let mut len = 1;
    if first & 0x80 != 0 {
        let ext = *payload.get(1)?;
        len += 1;
        if ext & 0x80 != 0 {
            len += if payload.get(len)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            len += 1;
        }
        if ext & 0x30 != 0 {
            len += 1;
        }
    }
    (len < payload.len()).then_some((first & 0x10 != 0 && first & 0x07 == 0, len))
}

pub fn opus_packets(who: &str, packets: &[RtpPacket], payload_type: u8) -> Vec<Unit> {
    in_order(who, packets, payload_type)
        .into_iter()
        .filter(|p| !p.payload.is_empty())
        .map(|p| Unit { timestamp: p.header.timestamp, data: p.payload.to_vec() })
        .collect()
}

/// Check received units against what was sent: each equals the sent one of its counter,
/// counters follow one another with none missing, the stream runs to the last one sent, and
/// RTP timestamps advance by exactly the sent durations. Returns the first counter received.
pub fn check_units(
    who: &str,
    received: &[Unit],
    sent: &[Vec<u8>],
    counter: impl Fn(&[u8]) -> Option<u32>,
    ticks_per_unit: u32,
) -> u32 {
    assert!(!received.is_empty(), "{who}: nothing received");
    let counters: Vec<u32> = received
        .iter()
        .map(|u| counter(&u.data).unwrap_or_else(|| panic!("{who}: a unit too short to carry a counter: {:?}", u.data)))
        .collect();
    for (unit, &c) in received.iter().zip(&counters) {
        let expected = sent.get(c as usize).unwrap_or_else(|| panic!("{who}: counter {c} was never sent"));
        assert!(
            unit.data == *expected,
            "{who}: unit {c} differs from what was sent ({} bytes received, {} sent)",
            unit.data.len(),
            expected.len()
        );
    }
    let breaks: Vec<(u32, u32)> = counters.windows(2).filter(|w| w[1] != w[0] + 1).map(|w| (w[0], w[1])).collect();
    assert!(breaks.is_empty(), "{who}: counters do not follow one another: {breaks:?} (all: {counters:?})");
    assert_eq!(*counters.last().unwrap() as usize, sent.len() - 1, "{who}: the stream stopped early");
    let steps: Vec<u32> = received.windows(2).map(|w| w[1].timestamp.wrapping_sub(w[0].timestamp)).collect();
    let wrong: Vec<(usize, u32)> = steps.iter().copied().enumerate().filter(|(_, s)| *s != ticks_per_unit).collect();
    assert!(
        wrong.is_empty(),
        "{who}: RTP timestamps must advance by {ticks_per_unit} per unit; (index, step) off: {wrong:?}"
    );
    counters[0]
}

/// The payload type of `codec` (e.g. "VP8/90000") in the m-section of `sdp` with `mid`.
pub fn payload_type(sdp: &str, mid: &str, codec: &str) -> u8 {
    let section = sdp
        .split("\r\nm=")
        .find(|s| s.lines().any(|l| l.trim() == format!("a=mid:{mid}")))
        .unwrap_or_else(|| panic!("no m-section with mid {mid} in:\n{sdp}"));
    section
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("a=rtpmap:")?;
            let (pt, name) = rest.split_once(' ')?;
            name.to_ascii_lowercase().starts_with(&codec.to_ascii_lowercase()).then(|| pt.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {codec} in m-section {mid} of:\n{sdp}"))
}

/// Everything a receiver got, checked against what a publisher sent.
pub struct Reception {
    pub first_video_frame: u32,
    pub first_audio_packet: u32,
    pub video_frames: usize,
    pub audio_packets: usize,
}

/// Drain a subscriber's video and audio tracks and check them against `sent`.
pub async fn check_reception(
    who: &str,
    video: &mut RemoteTrack,
    audio: &mut RemoteTrack,
    video_pt: u8,
    audio_pt: u8,
    sent: &Sent,
) -> Reception {
    let (video_packets, audio_packets) = drain_both(video, audio).await;
    check_packets(who, &video_packets, &audio_packets, video_pt, audio_pt, sent)
}

/// Drain a video and an audio track together.
pub async fn drain_both(video: &mut RemoteTrack, audio: &mut RemoteTrack) -> (Vec<RtpPacket>, Vec<RtpPacket>) {
    let deadline = tokio::time::Instant::now() + MEDIA_WAIT;
    let quiet = Duration::from_millis(600);
    tokio::join!(drain(video, quiet, deadline), drain(audio, quiet, deadline))
}

/// Check a subscriber's received packets against `sent`.
pub fn check_packets(
    who: &str,
    video_packets: &[RtpPacket],
    audio_packets: &[RtpPacket],
    video_pt: u8,
    audio_pt: u8,
    sent: &Sent,
) -> Reception {
    let packets = opus_packets(&format!("{who} audio"), audio_packets, audio_pt);
    let first_audio_packet =
        check_units(&format!("{who} audio"), &packets, &sent.audio, opus_counter, AUDIO_TICKS_PER_PACKET);
    let codec = sent.video_codec;
    let frames = codec.frames(&format!("{who} video"), video_packets, video_pt);
    assert!(
        frames.first().is_some_and(|f| codec.is_keyframe(&f.data)),
        "{who}: the first video frame forwarded must be a keyframe"
    );
    let sent_video: Vec<Vec<u8>> = sent.video.iter().map(|f| codec.normalize(f)).collect();
    let first_video_frame =
        check_units(&format!("{who} video"), &frames, &sent_video, |f| codec.counter(f), VIDEO_TICKS_PER_FRAME);
    Reception { first_video_frame, first_audio_packet, video_frames: frames.len(), audio_packets: packets.len() }
}

/// The encoding name and format parameters of payload type `pt` in the m-section of `sdp`
/// with `mid`, e.g. ("H264/90000", "packetization-mode=1;…").
pub fn rtpmap(sdp: &str, mid: &str, pt: u8) -> Option<(String, String)> {
    let section = sdp.split("\r\nm=").find(|s| s.lines().any(|l| l.trim() == format!("a=mid:{mid}")))?;
    let attribute =
        |name: &str| section.lines().find_map(|l| l.trim().strip_prefix(&format!("a={name}:{pt} ")).map(str::to_owned));
    Some((attribute("rtpmap")?, attribute("fmtp").unwrap_or_default()))
}

/// Log to the test output when RUST_LOG is set (`RUST_LOG=server=debug,str0m=debug`).
pub fn init_logs() {
    static ONCE: Mutex<bool> = Mutex::new(false);
    let mut done = ONCE.lock().unwrap();
    if !*done && std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    *done = true;
}
