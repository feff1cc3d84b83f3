//! Whether a worker keeps up: how long datagrams waited in its socket before it read them.
//!
//! A class too large for one worker's core shows first as datagrams waiting in the socket
//! (the kernel's arrival time against the read time, see [`super::arrival`]), then as lost
//! packets once the socket's buffer is full. Students see a late or frozen picture; the
//! operator would see nothing. So the worker notes every wait, and the log hears of the ones
//! too long, at most once per period, with the worst of them.

use std::time::{Duration, Instant};

/// A wait longer than this counts as falling behind: a few frames of video.
pub const TOO_LONG: Duration = Duration::from_millis(100);
/// At most one report this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A period in which some datagrams waited too long.
#[derive(Debug, PartialEq, Eq)]
pub struct Behind {
    pub worst: Duration,
    /// Datagrams that waited longer than [`TOO_LONG`].
    pub late: u64,
    /// Datagrams read in the period.
    pub read: u64,
}

#[derive(Debug, Default)]
pub struct BacklogWatch {
    since: Option<Instant>,
    worst: Duration,
    late: u64,
    read: u64,
}

impl BacklogWatch {
    /// Note a datagram that reached the socket at `arrived` and was read at `read`. Returns a
    /// report when this read ends a period in which some datagram waited too long.
    pub fn observe(&mut self, arrived: Instant, read: Instant) -> Option<Behind> {
        let since = *self.since.get_or_insert(read);
        let waited = read.saturating_duration_since(arrived);
        self.read += 1;
        if waited > TOO_LONG {
            self.late += 1;
            self.worst = self.worst.max(waited);
        }
        if read.saturating_duration_since(since) < REPORT_EVERY {
            return None;
        }
        let report = (self.late > 0).then_some(Behind { worst: self.worst, late: self.late, read: self.read });
        *self = Self { since: Some(read), ..Self::default() };
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Reads every `every` from `from` for `lasting`, each datagram having waited `waited`;
    /// the reports, with the time of the read that gave each.
    fn reads(
        watch: &mut BacklogWatch,
        from: Instant,
        lasting: Duration,
        every: Duration,
        waited: impl Fn(Duration) -> Duration,
    ) -> Vec<(Duration, Behind)> {
        let mut reports = Vec::new();
        let mut t = Duration::ZERO;
        while t < lasting {
            let read = from + t;
            if let Some(report) = watch.observe(read - waited(t), read) {
                reports.push((t, report));
            }
            t += every;
        }
        reports
    }

    #[test]
    fn a_worker_that_keeps_up_is_never_reported() {
        let mut watch = BacklogWatch::default();
        let start = Instant::now() + Duration::from_secs(1);
        let reports = reads(&mut watch, start, Duration::from_secs(60), 5 * MS, |_| 3 * MS);
        assert!(reports.is_empty(), "{reports:?}");
    }

    #[test]
    fn a_period_with_long_waits_is_reported_once_at_its_end_with_the_worst() {
        let mut watch = BacklogWatch::default();
        let start = Instant::now() + Duration::from_secs(1);
        // Behind for a second (waits rising to 400 ms) three seconds in, then keeping up.
        let waited = |t: Duration| {
            if t >= 3000 * MS && t < 4000 * MS { 150 * MS + (t - 3000 * MS) / 4 } else { 2 * MS }
        };
        let reports = reads(&mut watch, start, Duration::from_secs(35), 10 * MS, waited);
        assert_eq!(reports.len(), 1, "{reports:?}");
        let (at, behind) = &reports[0];
        assert_eq!(*at, REPORT_EVERY, "reported as the period ends, not at each late read");
        assert_eq!(behind.late, 100);
        assert_eq!(behind.read, 1001);
        assert!(behind.worst > 390 * MS && behind.worst <= 400 * MS, "{behind:?}");
    }

    #[test]
    fn a_worker_that_stays_behind_is_reported_once_per_period() {
        let mut watch = BacklogWatch::default();
        let start = Instant::now() + Duration::from_secs(1);
        let reports = reads(&mut watch, start, Duration::from_secs(45), 20 * MS, |_| 250 * MS);
        let times: Vec<Duration> = reports.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [1, 2, 3, 4].map(|n| REPORT_EVERY * n));
        assert!(reports.iter().all(|(_, b)| b.worst == 250 * MS && b.late == b.read));
    }
}
