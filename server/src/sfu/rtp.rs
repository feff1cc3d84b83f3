//! Packet-level forwarding: where frames start and which are keyframes (read from the codec's
//! payload, RFC 7741 for VP8 and RFC 6184 for H.264), and the sequence numbers of an outgoing
//! stream.
//!
//! The SFU forwards RTP packets as they arrive, without putting frames together: a frame's
//! first packet goes out before its last has come in (a browser paces a frame over several
//! milliseconds), and 300 subscribers share one payload buffer instead of 300 copies.

/// What the first bytes of a packet say about its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameStart {
    /// Not the start of a frame (or the codec does not say).
    No,
    Delta,
    Key,
}

/// Whether one of our datagrams is RTP rather than RTCP (RFC 5761: an RTCP packet's second
/// byte is its type, 192 to 223; SRTP leaves the header in the clear).
pub fn is_rtp(datagram: &[u8]) -> bool {
    datagram.len() > 12 && (128..192).contains(&datagram[0]) && !(192..224).contains(&datagram[1])
}

/// VP8 (RFC 7741 §4.2): the payload descriptor, then, on a frame's first packet (S set,
/// partition 0), the frame tag whose lowest bit is 0 for a keyframe.
pub fn vp8_frame_start(payload: &[u8]) -> FrameStart {
    let Some(&first) = payload.first() else { return FrameStart::No };
    let start = first & 0x10 != 0 && first & 0x07 == 0;
    if !start {
        return FrameStart::No;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&ext) = payload.get(1) else { return FrameStart::No };
        at = 2;
        if ext & 0x80 != 0 {
            // Picture id: 7 bits, or 15 when its M bit is set.
            let Some(&pid) = payload.get(2) else { return FrameStart::No };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    match payload.get(at) {
        Some(tag) if tag & 0x01 == 0 => FrameStart::Key,
        Some(_) => FrameStart::Delta,
        None => FrameStart::No,
    }
}

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

/// H.264 (RFC 6184 §5.6–5.8): a packet that carries an IDR slice or a sequence parameter set
/// (alone, aggregated in a STAP-A, or as the first fragment of an FU-A) belongs to a keyframe.
/// H.264 packets do not mark a frame's start; the caller takes a new RTP timestamp as one.
pub fn h264_is_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else { return false };
    match header & 0x1f {
        NAL_IDR | NAL_SPS => true,
        NAL_STAP_A => {
            let mut at = 1;
            while let (Some(&hi), Some(&lo)) = (payload.get(at), payload.get(at + 1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                let Some(&nal) = payload.get(at + 2) else { return false };
                if matches!(nal & 0x1f, NAL_IDR | NAL_SPS) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        NAL_FU_A => payload.get(1).is_some_and(|fu| fu & 0x80 != 0 && matches!(fu & 0x1f, NAL_IDR | NAL_SPS)),
        _ => false,
    }
}

/// The frames of one simulcast layer as its packets arrive: which frame is current (by RTP
/// timestamp) and whether it is a keyframe.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameTracker {
    time: Option<u64>,
    key: bool,
}

impl FrameTracker {
    /// Take a packet with RTP time `time`; returns whether its frame is a keyframe. A
    /// keyframe's first packet may arrive after others of its frame (reordering): the frame
    /// becomes a keyframe then.
    pub fn observe(&mut self, time: u64, start: FrameStart, h264_key: bool) -> bool {
        if self.time != Some(time) {
            self.time = Some(time);
            self.key = false;
        }
        if start == FrameStart::Key || h264_key {
            self.key = true;
        }
        self.key
    }
}

/// Sequence numbers of one outgoing stream, continuous across switches of source or layer.
/// Gaps within a source are kept (the subscriber asks for those packets again; the repair from
/// the publisher fills them), and a packet from before the last switch is dropped (its number
/// would collide with one already sent).
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqRewriter {
    /// Added to an incoming (extended) sequence number.
    offset: i64,
    /// The first incoming number since the last switch.
    floor: u64,
    last_out: u64,
    started: bool,
}

impl SeqRewriter {
    pub fn map(&mut self, incoming: u64, switched: bool) -> Option<u64> {
        if switched || !self.started {
            // Start below 65,536: str0m tells the receiver no rollover count out of band.
            let next = if self.started { self.last_out + 1 } else { 1 };
            self.offset = next as i64 - incoming as i64;
            self.floor = incoming;
            self.started = true;
        }
        if incoming < self.floor {
            return None;
        }
        let out = (incoming as i64 + self.offset) as u64;
        self.last_out = self.last_out.max(out);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_and_rtcp_are_told_apart_by_their_second_byte() {
        let mut rtp = [0u8; 20];
        rtp[0] = 0x80;
        rtp[1] = 96 | 0x80; // VP8 with the marker bit
        assert!(is_rtp(&rtp));
        let mut rtcp = rtp;
        rtcp[1] = 205; // transport-wide feedback
        assert!(!is_rtp(&rtcp));
        assert!(!is_rtp(&rtp[..12]), "too short for a payload");
        assert!(!is_rtp(&[0x16; 20]), "DTLS");
    }

    #[test]
    fn vp8_descriptors_of_every_shape_show_the_frame_start_and_keyframes() {
        // X, S; I with a 15-bit picture id; then a keyframe tag (bit 0 clear).
        assert_eq!(vp8_frame_start(&[0x90, 0x80, 0x81, 0x23, 0x10, 0x02]), FrameStart::Key);
        // The same with a delta tag.
        assert_eq!(vp8_frame_start(&[0x90, 0x80, 0x81, 0x23, 0x11]), FrameStart::Delta);
        // 7-bit picture id, TL0PICIDX and TID/KEYIDX, as Chrome writes with temporal layers.
        assert_eq!(vp8_frame_start(&[0x90, 0xe0, 0x05, 0x07, 0x20, 0x10]), FrameStart::Key);
        // No extension at all.
        assert_eq!(vp8_frame_start(&[0x10, 0x11]), FrameStart::Delta);
        // A later packet of the frame (no S), a later partition, and truncated packets.
        assert_eq!(vp8_frame_start(&[0x80, 0x80, 0x81, 0x23, 0x10]), FrameStart::No);
        assert_eq!(vp8_frame_start(&[0x11, 0x10]), FrameStart::No);
        assert_eq!(vp8_frame_start(&[0x90, 0x80, 0x81]), FrameStart::No);
        assert_eq!(vp8_frame_start(&[]), FrameStart::No);
    }

    #[test]
    fn h264_keyframes_are_found_alone_aggregated_and_fragmented() {
        assert!(h264_is_keyframe(&[0x65, 0x88]));
        assert!(h264_is_keyframe(&[0x67, 0x42]));
        assert!(!h264_is_keyframe(&[0x41, 0x9a]));
        // STAP-A with an SEI (type 6) then an SPS.
        assert!(h264_is_keyframe(&[0x18, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x67, 0x42]));
        assert!(!h264_is_keyframe(&[0x18, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x41, 0x42]));
        // A STAP-A whose size runs past the end stops there.
        assert!(!h264_is_keyframe(&[0x18, 0xff, 0xff, 0x41]));
        // FU-A: the IDR's first fragment counts, its later fragments and other slices do not.
        assert!(h264_is_keyframe(&[0x7c, 0x85, 0x88]));
        assert!(!h264_is_keyframe(&[0x7c, 0x05, 0x88]));
        assert!(!h264_is_keyframe(&[0x7c, 0x81, 0x88]));
        assert!(!h264_is_keyframe(&[]));
    }

    #[test]
    fn a_frame_is_a_keyframe_from_the_packet_that_says_so() {
        let mut frames = FrameTracker::default();
        assert!(!frames.observe(3000, FrameStart::No, false));
        assert!(frames.observe(3000, FrameStart::Key, false), "its first packet came late");
        assert!(frames.observe(3000, FrameStart::No, false));
        assert!(!frames.observe(6000, FrameStart::Delta, false));
        assert!(frames.observe(9000, FrameStart::No, true));
    }

    #[test]
    fn sequence_numbers_stay_continuous_across_switches_and_keep_gaps() {
        let mut seq = SeqRewriter::default();
        assert_eq!(seq.map(40_000, true), Some(1));
        assert_eq!(seq.map(40_001, false), Some(2));
        // 40,002 lost upstream: the gap is kept, and the late repair fills it.
        assert_eq!(seq.map(40_003, false), Some(4));
        assert_eq!(seq.map(40_002, false), Some(3));
        // Another layer with numbers far away: carries on from 4.
        assert_eq!(seq.map(7, true), Some(5));
        assert_eq!(seq.map(8, false), Some(6));
        // A repair from before the switch would collide: dropped.
        assert_eq!(seq.map(6, false), None);
    }
}
