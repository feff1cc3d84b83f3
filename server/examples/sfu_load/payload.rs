//! What the synthetic publisher puts in its packets, and how a subscriber checks them.
//!
//! Every frame body is a run of 24-byte stamps: a magic, the layer, the frame's number, the
//! send time and a checksum. However an SFU cuts a frame into packets (Lectern's re-packetizes
//! whole frames; Janus forwards packets as they are), any packet of 47 payload bytes or more
//! holds at least one whole stamp, so every packet carries its own send time.

/// Marks the start of a stamp.
const MAGIC: [u8; 4] = *b"LcTn";
pub const STAMP_LEN: usize = 24;
/// Payload bytes per RTP packet the publisher writes (a browser's packets are about this size).
pub const MAX_PACKET_PAYLOAD: usize = 1_100;
/// The VP8 payload descriptor the publisher writes: X, S, PID 0; I with a 15-bit picture id
/// (RFC 7741 §4.2), as a browser without temporal layers writes it. Four bytes.
const VP8_DESCRIPTOR_LEN: usize = 4;

/// A stamp as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// 0, 1, 2: simulcast layer (low to high); 3: audio.
    pub layer: u8,
    pub keyframe: bool,
    pub frame: u32,
    /// Nanoseconds since the tool's clock base.
    pub sent_ns: u64,
}

pub const AUDIO_LAYER: u8 = 3;

fn checksum(bytes: &[u8]) -> u32 {
    // FNV-1a: enough to tell a damaged or misaligned stamp from a good one.
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

fn write_stamp(out: &mut Vec<u8>, stamp: Stamp) {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(stamp.layer);
    out.push(u8::from(stamp.keyframe));
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&stamp.frame.to_be_bytes());
    out.extend_from_slice(&stamp.sent_ns.to_be_bytes());
    let sum = checksum(&out[start..]);
    out.extend_from_slice(&sum.to_be_bytes());
}

/// The first whole, intact stamp in a packet's payload.
pub fn find_stamp(payload: &[u8]) -> Option<Stamp> {
    if payload.len() < STAMP_LEN {
        return None;
    }
    for at in 0..=payload.len() - STAMP_LEN {
        if payload[at..at + 4] != MAGIC {
            continue;
        }
        let s = &payload[at..at + STAMP_LEN];
        if checksum(&s[..20]).to_be_bytes() != s[20..24] {
            continue;
        }
        let frame = u32::from_be_bytes([s[8], s[9], s[10], s[11]]);
        let mut sent = [0u8; 8];
        sent.copy_from_slice(&s[12..20]);
        return Some(Stamp { layer: s[4], keyframe: s[5] != 0, frame, sent_ns: u64::from_be_bytes(sent) });
    }
    None
}

/// Give every whole stamp in a packet's payload a new send time (the pacer sent it later than
/// its frame was made).
pub fn restamp(payload: &mut [u8], sent_ns: u64) {
    if payload.len() < STAMP_LEN {
        return;
    }
    let mut at = 0;
    while at + STAMP_LEN <= payload.len() {
        let s = &payload[at..at + STAMP_LEN];
        if s[..4] == MAGIC && checksum(&s[..20]).to_be_bytes() == s[20..24] {
            payload[at + 12..at + 20].copy_from_slice(&sent_ns.to_be_bytes());
            let sum = checksum(&payload[at..at + 20]);
            payload[at + 20..at + 24].copy_from_slice(&sum.to_be_bytes());
            at += STAMP_LEN;
        } else {
            at += 1;
        }
    }
}

/// A payload this long always holds a whole stamp, wherever it was cut.
pub fn must_hold_stamp(payload_len: usize) -> bool {
    payload_len >= 2 * STAMP_LEN - 1 + VP8_DESCRIPTOR_LEN
}

/// The VP8 frame (RFC 6386 §9.1 frame tag; a keyframe also has the start code and its size)
/// filled with stamps up to `size` bytes.
pub fn vp8_frame(stamp: Stamp, size: usize, width: u16, height: u16) -> Vec<u8> {
    let size = size.max(STAMP_LEN + 10);
    let first_partition = (size as u32 / 2) & 0x7_ffff;
    let tag = u32::from(!stamp.keyframe) | (1 << 4) | (first_partition << 5);
    let mut frame = Vec::with_capacity(size + STAMP_LEN);
    frame.extend_from_slice(&tag.to_le_bytes()[..3]);
    if stamp.keyframe {
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        frame.extend_from_slice(&width.to_le_bytes());
        frame.extend_from_slice(&height.to_le_bytes());
    }
    while frame.len() < size {
        write_stamp(&mut frame, stamp);
    }
    frame.truncate(size);
    frame
}

/// Cut a VP8 frame into RTP payloads, each with its payload descriptor.
pub fn vp8_packets(frame: &[u8], picture_id: u16) -> Vec<Vec<u8>> {
    let chunk = MAX_PACKET_PAYLOAD - VP8_DESCRIPTOR_LEN;
    let count = frame.len().div_ceil(chunk).max(1);
    // Even sizes, as browsers cut them (no runt packet at the end).
    let each = frame.len().div_ceil(count);
    frame
        .chunks(each.max(1))
        .enumerate()
        .map(|(i, part)| {
            let mut p = Vec::with_capacity(VP8_DESCRIPTOR_LEN + part.len());
            p.push(0x80 | if i == 0 { 0x10 } else { 0 });
            p.push(0x80);
            p.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
            p.push(picture_id as u8);
            p.extend_from_slice(part);
            p
        })
        .collect()
}

/// An Opus packet of `size` bytes: a TOC byte (CELT fullband, 20 ms, one frame), then stamps.
pub fn opus_packet(stamp: Stamp, size: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(size + STAMP_LEN);
    p.push(0xfc);
    while p.len() < size.max(1 + STAMP_LEN) {
        write_stamp(&mut p, stamp);
    }
    p.truncate(size.max(1 + STAMP_LEN));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_packet_of_a_frame_carries_its_stamp_however_it_is_cut() {
        let stamp = Stamp { layer: 2, keyframe: true, frame: 77, sent_ns: 123_456_789 };
        let frame = vp8_frame(stamp, 6_250, 1280, 720);
        assert_eq!(frame.len(), 6_250);
        let packets = vp8_packets(&frame, 300);
        assert_eq!(packets.len(), 6);
        for p in &packets {
            assert!(p.len() <= MAX_PACKET_PAYLOAD);
            assert_eq!(find_stamp(p), Some(stamp));
        }
        // Another packetizer's cut (an SFU that re-packetizes): any 52-byte window holds one.
        for start in 0..200 {
            assert_eq!(find_stamp(&frame[start..start + 52]), Some(stamp), "at {start}");
        }
        let mut later = packets[2].clone();
        restamp(&mut later, 999);
        assert_eq!(find_stamp(&later), Some(Stamp { sent_ns: 999, ..stamp }));
        let mut damaged = packets[1].clone();
        for b in damaged.iter_mut().skip(4) {
            *b ^= 0x55;
        }
        assert_eq!(find_stamp(&damaged), None);
        assert_eq!(find_stamp(&opus_packet(Stamp { layer: AUDIO_LAYER, ..stamp }, 80)).map(|s| s.layer), Some(3));
    }
}
