//! What the synthetic publisher sends, and when: simulcast VP8 frames paced as libwebrtc paces
//! them, and Opus every 20 ms. No transport here: `media` writes these packets through str0m,
//! and `sfu_floor` sends them as plain UDP to a forwarder that does nothing else.

use super::payload::{self, AUDIO_LAYER, Stamp};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// libwebrtc paces at 2.5 times the target bitrate.
const PACING_FACTOR: f64 = 2.5;
/// The most the pacer sends at once after a wait: about two packets.
const PACER_BURST_BYTES: f64 = 2_400.0;
/// Frame sizes per layer (a 16:9 camera at 180p, 360p, 720p).
const SIZES: [(u16, u16); 3] = [(320, 180), (640, 360), (1280, 720)];
/// A keyframe is this many times a delta frame (a typical camera's ratio).
const KEYFRAME_RATIO: usize = 4;
/// Opus frame: 20 ms at 48 kHz.
const AUDIO_FRAME: Duration = Duration::from_millis(20);
const AUDIO_TICKS: u32 = 960;

/// What the publisher sends.
#[derive(Clone, Debug)]
pub struct Camera {
    /// Bits per second of each layer, low to high.
    pub layer_bps: [u64; 3],
    pub fps: u32,
    pub keyframe_every: Duration,
    pub audio_bps: u64,
}

impl Camera {
    /// Simulcast at a tenth, a third and all of `top_bps`, 30 fps, a keyframe every 3 s, and
    /// 32 kbit/s of Opus: the stream.
    pub fn simulcast(top_bps: u64) -> Self {
        Camera {
            layer_bps: [top_bps / 10, top_bps / 3, top_bps],
            fps: 30,
            keyframe_every: Duration::from_secs(3),
            audio_bps: 32_000,
        }
    }

    /// Average, delta and key frame sizes of a layer.
    fn frame_bytes(&self, layer: usize) -> (usize, usize) {
        let fps = u64::from(self.fps.max(1));
        let per_frame = (self.layer_bps[layer] / 8 / fps) as usize;
        let frames_per_key = (self.keyframe_every.as_secs_f64() * fps as f64).max(1.0) as usize;
        // Sizes that keep the average at the layer's bitrate: (n - 1) deltas and one key.
        let delta = per_frame * frames_per_key / (frames_per_key - 1 + KEYFRAME_RATIO);
        (delta.max(100), (delta * KEYFRAME_RATIO).max(200))
    }
}

/// One packet that is due, its payload stamped (see `payload`).
pub enum Packet {
    /// `layer` 0, 1, 2: low to high. The payload's stamps hold the time the frame was made;
    /// the sender restamps them as it sends.
    Video {
        layer: usize,
        seq: u64,
        rtp_time: u32,
        marker: bool,
        payload: Vec<u8>,
    },
    Audio {
        seq: u64,
        rtp_time: u32,
        payload: Vec<u8>,
    },
}

/// What [`Schedule::poll`] found due.
pub struct Due {
    /// In the order to send them: the camera's paced packets, then audio.
    pub packets: Vec<Packet>,
    /// Keyframes made in this call, one per layer.
    pub keyframes: u64,
    /// When to poll next.
    pub next: Instant,
}

struct Layer {
    seq: u64,
    picture_id: u16,
    frame: u32,
    rtp_offset: u32,
    /// Owed: asked for, or the first frame.
    keyframe_due: bool,
    last_keyframe: Option<Instant>,
}

/// A camera frame's packet waiting for the pacer.
struct Paced {
    layer: usize,
    seq: u64,
    rtp_time: u32,
    marker: bool,
    packet: Vec<u8>,
}

/// The publisher's clock: frames at `fps`, a keyframe per layer every `keyframe_every` or when
/// asked, the camera's packets paced at 2.5 times its bitrate, audio not paced.
pub struct Schedule {
    camera: Camera,
    /// Stamps count nanoseconds from here.
    base: Instant,
    layers: [Layer; 3],
    audio_seq: u64,
    audio_frame: u32,
    next_video: Option<Instant>,
    next_audio: Option<Instant>,
    paced: VecDeque<Paced>,
    /// Bytes the pacer may send now (negative: owed).
    budget: f64,
    paced_at: Option<Instant>,
}

impl Schedule {
    pub fn new(camera: Camera, base: Instant) -> Self {
        let layers = std::array::from_fn(|l| Layer {
            seq: 1 + 1000 * l as u64,
            picture_id: 0,
            frame: 0,
            rtp_offset: 100_000 * (l as u32 + 1),
            keyframe_due: true,
            last_keyframe: None,
        });
        Self {
            camera,
            base,
            layers,
            audio_seq: 1,
            audio_frame: 0,
            next_video: None,
            next_audio: None,
            paced: VecDeque::new(),
            budget: 0.0,
            paced_at: None,
        }
    }

    /// A keyframe of one layer, or of all, with the next frame.
    pub fn ask_keyframe(&mut self, layer: Option<usize>) {
        match layer {
            Some(l) => self.layers[l].keyframe_due = true,
            None => self.layers.iter_mut().for_each(|l| l.keyframe_due = true),
        }
    }

    /// What is due at `now`: a new frame's packets join the pacer's queue, the pacer lets out
    /// what its byte budget allows, and audio comes every 20 ms.
    pub fn poll(&mut self, now: Instant) -> Due {
        let camera = &self.camera;
        let frame_interval = Duration::from_secs(1) / camera.fps.max(1);
        let pacing_bytes_per_s = camera.layer_bps.iter().sum::<u64>() as f64 * PACING_FACTOR / 8.0;
        let mut packets = Vec::new();
        let mut keyframes = 0;
        let next_video = *self.next_video.get_or_insert(now);
        if next_video <= now {
            self.next_video = Some(next_video + frame_interval);
            for (l, layer) in self.layers.iter_mut().enumerate() {
                let periodic = layer.last_keyframe.is_none_or(|t| now.duration_since(t) >= camera.keyframe_every);
                let keyframe = layer.keyframe_due || periodic;
                if keyframe {
                    layer.keyframe_due = false;
                    layer.last_keyframe = Some(now);
                    keyframes += 1;
                }
                let (delta, key) = camera.frame_bytes(l);
                let stamp = Stamp { layer: l as u8, keyframe, frame: layer.frame, sent_ns: nanos(self.base, now) };
                let (w, h) = SIZES[l];
                let frame = payload::vp8_frame(stamp, if keyframe { key } else { delta }, w, h);
                let frame_packets = payload::vp8_packets(&frame, layer.picture_id);
                let rtp_time = layer.rtp_offset.wrapping_add(layer.frame.wrapping_mul(90_000 / camera.fps.max(1)));
                let last = frame_packets.len() - 1;
                for (k, packet) in frame_packets.into_iter().enumerate() {
                    self.paced.push_back(Paced { layer: l, seq: layer.seq, rtp_time, marker: k == last, packet });
                    layer.seq += 1;
                }
                layer.frame += 1;
                layer.picture_id = (layer.picture_id + 1) & 0x7fff;
            }
        }
        // The pacer: a byte budget that grows with time while packets wait, none banked when idle.
        if self.paced.is_empty() {
            self.budget = 0.0;
        } else {
            let elapsed = self.paced_at.map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
            self.budget = (self.budget + elapsed * pacing_bytes_per_s).min(PACER_BURST_BYTES);
        }
        self.paced_at = Some(now);
        while self.budget >= 0.0 {
            let Some(next) = self.paced.pop_front() else { break };
            self.budget -= next.packet.len() as f64;
            packets.push(Packet::Video {
                layer: next.layer,
                seq: next.seq,
                rtp_time: next.rtp_time,
                marker: next.marker,
                payload: next.packet,
            });
        }
        let next_audio = *self.next_audio.get_or_insert(now);
        if next_audio <= now {
            self.next_audio = Some(next_audio + AUDIO_FRAME);
            let size = (camera.audio_bps / 8 / 50) as usize;
            let stamp =
                Stamp { layer: AUDIO_LAYER, keyframe: false, frame: self.audio_frame, sent_ns: nanos(self.base, now) };
            let rtp_time = self.audio_frame.wrapping_mul(AUDIO_TICKS);
            packets.push(Packet::Audio { seq: self.audio_seq, rtp_time, payload: payload::opus_packet(stamp, size) });
            self.audio_seq += 1;
            self.audio_frame += 1;
        }
        let mut next = self.next_video.unwrap_or(now).min(self.next_audio.unwrap_or(now));
        if !self.paced.is_empty() {
            let wait = (-self.budget).max(0.0) / pacing_bytes_per_s;
            next = next.min(now + Duration::from_secs_f64(wait));
        }
        Due { packets, keyframes, next }
    }
}

pub fn nanos(base: Instant, now: Instant) -> u64 {
    now.duration_since(base).as_nanos() as u64
}
