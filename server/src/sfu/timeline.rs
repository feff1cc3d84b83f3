//! RTP timestamps of one outgoing stream. A receiving slot may switch source (another
//! speaker) or layer (another simulcast encoding); each source has its own random timestamp
//! base, and a jump would stall the browser's jitter buffer. The timeline keeps the outgoing
//! timestamps continuous: at a switch it carries on from the last one sent, advanced by the
//! wall-clock time that passed.

use std::time::Instant;
use str0m::media::MediaTime;

#[derive(Clone, Debug, Default)]
pub struct Timeline {
    offset: u64,
    last: Option<(u64, Instant)>,
}

impl Timeline {
    /// The outgoing time for an incoming `time` received at `at`. `switched`: this frame is
    /// the first from a new source or layer.
    pub fn map(&mut self, time: MediaTime, at: Instant, switched: bool) -> MediaTime {
        let rate = u64::from(time.denom()).max(1);
        if switched && let Some((last_out, last_at)) = self.last {
            let elapsed = at.saturating_duration_since(last_at);
            let ticks = (elapsed.as_micros() as u64).saturating_mul(rate) / 1_000_000;
            let expected = last_out.wrapping_add(ticks.max(1));
            self.offset = expected.wrapping_sub(time.numer());
        }
        let out = time.numer().wrapping_add(self.offset);
        self.last = Some((out, at));
        MediaTime::new(out, time.frequency())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use str0m::media::Frequency;

    #[test]
    fn a_switch_continues_from_the_last_timestamp() {
        let t0 = Instant::now();
        let mut line = Timeline::default();
        let v = |n| MediaTime::new(n, Frequency::NINETY_KHZ);
        assert_eq!(line.map(v(1_000), t0, true).numer(), 1_000);
        assert_eq!(line.map(v(4_000), t0 + Duration::from_millis(33), false).numer(), 4_000);
        // Another source with a far-off base, 100 ms later: 9,000 ticks on from 4,000.
        assert_eq!(line.map(v(9_000_000), t0 + Duration::from_millis(133), true).numer(), 13_000);
        assert_eq!(line.map(v(9_003_000), t0 + Duration::from_millis(166), false).numer(), 16_000);
    }
}
