//! Latency histogram and per-stream loss, cheap enough to run for every packet.

/// Latencies in microseconds: 1 µs buckets up to 10 ms, then 100 µs buckets up to 10 s.
pub struct Histogram {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    overflow: u64,
    count: u64,
}

const FINE_LIMIT_US: u64 = 10_000;
const COARSE_STEP_US: u64 = 100;
const COARSE_LIMIT_US: u64 = 10_000_000;

impl Default for Histogram {
    fn default() -> Self {
        Self {
            fine: vec![0; FINE_LIMIT_US as usize],
            coarse: vec![0; ((COARSE_LIMIT_US - FINE_LIMIT_US) / COARSE_STEP_US) as usize],
            overflow: 0,
            count: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        self.count += 1;
        if micros < FINE_LIMIT_US {
            self.fine[micros as usize] += 1;
        } else if micros < COARSE_LIMIT_US {
            self.coarse[((micros - FINE_LIMIT_US) / COARSE_STEP_US) as usize] += 1;
        } else {
            self.overflow += 1;
        }
    }

    /// The value at quantile `q` (nearest rank), in microseconds (above 10 ms, the upper edge
    /// of its 100 µs bucket).
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (us, n) in self.fine.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(us as u64);
            }
        }
        for (i, n) in self.coarse.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(FINE_LIMIT_US + (i as u64 + 1) * COARSE_STEP_US);
            }
        }
        Some(COARSE_LIMIT_US)
    }
}

/// Which sequence numbers of one RTP stream arrived, in a sliding window: a packet missing
/// when it leaves the window is lost (NACK had that long to repair it).
pub struct LossCounter {
    /// Sequence number of `seen[0]`.
    base: u64,
    seen: std::collections::VecDeque<bool>,
    pub received: u64,
    pub lost: u64,
    pub duplicates: u64,
}

/// Packets a stream may run ahead of a hole before the hole counts as lost (at 250 packets a
/// second, two seconds: several NACK round trips).
const WINDOW: u64 = 512;

impl LossCounter {
    pub fn new(first: u64) -> Self {
        let mut seen = std::collections::VecDeque::new();
        seen.push_back(true);
        Self { base: first, seen, received: 1, lost: 0, duplicates: 0 }
    }

    pub fn add(&mut self, seq: u64) {
        if seq < self.base {
            // Older than the window: already counted as lost; a very late repair.
            self.duplicates += 1;
            return;
        }
        let at = (seq - self.base) as usize;
        if at >= self.seen.len() {
            self.seen.resize(at + 1, false);
        }
        if self.seen[at] {
            self.duplicates += 1;
        } else {
            self.seen[at] = true;
            self.received += 1;
        }
        while self.seen.len() as u64 > WINDOW {
            if self.seen.pop_front() == Some(false) {
                self.lost += 1;
            }
            self.base += 1;
        }
    }

    /// Holes still in the window (at the end of a run, after a pause for repairs).
    pub fn finish(&mut self) {
        self.lost += self.seen.iter().filter(|s| !**s).count() as u64;
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_right_buckets() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile_us(0.5), None);
        for us in 0..1000 {
            h.record(us);
        }
        h.record(25_000);
        assert_eq!(h.quantile_us(0.5), Some(500));
        assert_eq!(h.quantile_us(0.99), Some(990));
        assert_eq!(h.quantile_us(1.0), Some(25_100));
    }

    #[test]
    fn holes_count_as_lost_and_repairs_and_duplicates_do_not() {
        let mut l = LossCounter::new(100);
        for seq in [101, 103, 102, 105, 105] {
            l.add(seq);
        }
        // 104 is missing; 102 came late (a repair), 105 twice.
        assert_eq!((l.received, l.duplicates), (5, 1));
        for seq in 106..1000 {
            l.add(seq);
        }
        assert_eq!(l.lost, 1);
        l.add(104);
        assert_eq!((l.lost, l.duplicates), (1, 2));
        l.add(1002);
        l.finish();
        assert_eq!(l.lost, 3, "1000 and 1001 never came");
    }
}
