//! Keyframe requests, coalesced. When 300 students join at once, or many subscribers lose a
//! packet at the same moment, each would ask the publisher for a keyframe; a keyframe is large,
//! and a storm of them chokes the teacher's uplink. One gate per published layer lets at most
//! one request through per interval, remembers that more were asked for, and sends one more at
//! the end of the interval only if no keyframe has arrived meanwhile.

use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default)]
pub struct KeyframeGate {
    last_sent: Option<Instant>,
    /// Asked for during the quiet interval, still owed.
    owed: bool,
}

impl KeyframeGate {
    /// Someone needs a keyframe: true if a request should go to the publisher now.
    pub fn request(&mut self, now: Instant, interval: Duration) -> bool {
        match self.last_sent {
            Some(sent) if now.duration_since(sent) < interval => {
                self.owed = true;
                false
            }
            _ => {
                self.last_sent = Some(now);
                self.owed = false;
                true
            }
        }
    }

    /// A keyframe arrived: everyone waiting has it.
    pub fn keyframe_arrived(&mut self) {
        self.owed = false;
    }

    /// On a timer: true if an owed request is now due.
    pub fn due(&mut self, now: Instant, interval: Duration) -> bool {
        if self.owed && self.last_sent.is_none_or(|sent| now.duration_since(sent) >= interval) {
            self.last_sent = Some(now);
            self.owed = false;
            return true;
        }
        false
    }

    /// When [`due`](Self::due) could next say yes.
    pub fn next_due(&self, interval: Duration) -> Option<Instant> {
        if self.owed { self.last_sent.map(|sent| sent + interval) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(500);

    #[test]
    fn three_hundred_joins_in_a_second_send_three_requests() {
        let t0 = Instant::now();
        let mut gate = KeyframeGate::default();
        let mut sent = 0;
        // 300 requests spread over one second, with the timer polled every 10 ms as a worker
        // does; the publisher never answers.
        for ms in 0..1000u64 {
            let now = t0 + Duration::from_millis(ms);
            if ms % 10 == 0 && gate.due(now, INTERVAL) {
                sent += 1;
            }
            if ms % 3 == 0 && ms / 3 < 300 && gate.request(now, INTERVAL) {
                sent += 1;
            }
        }
        assert!(gate.due(t0 + Duration::from_millis(1000), INTERVAL));
        sent += 1;
        // At 0 ms, 500 ms and 1000 ms: one per interval.
        assert_eq!(sent, 3);
    }

    #[test]
    fn a_keyframe_that_arrives_pays_what_was_owed() {
        let t0 = Instant::now();
        let mut gate = KeyframeGate::default();
        assert!(gate.request(t0, INTERVAL));
        assert!(!gate.request(t0 + Duration::from_millis(100), INTERVAL));
        assert_eq!(gate.next_due(INTERVAL), Some(t0 + INTERVAL));
        gate.keyframe_arrived();
        assert!(!gate.due(t0 + Duration::from_millis(600), INTERVAL));
        assert_eq!(gate.next_due(INTERVAL), None);
        // After the interval a new request goes straight through.
        assert!(gate.request(t0 + Duration::from_millis(700), INTERVAL));
    }
}
