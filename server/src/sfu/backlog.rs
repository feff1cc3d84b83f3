//! Whether a worker keeps up: how long the teacher's packets waited in it.
//!
//! A class too large for one worker's core shows first as packets that wait: in the socket
//! (the kernel's arrival time against the read time, see [`super::arrival`]), and, once read,
//! in the fan-out until the last student is sent them (the worker reads its socket between
//! the send batches of a fan-out, so the socket's wait alone stays short while the fan-out's
//! grows). Then, once the socket's buffer is full, as lost packets. Students see a late or
//! frozen picture; the operator would see nothing. So the worker notes both waits, and the log
//! hears of the ones too long, at most once per period, with the worst of them.

use std::time::{Duration, Instant};

/// A wait longer than this counts as falling behind: a few frames of video.
pub const TOO_LONG: Duration = Duration::from_millis(100);
/// At most one report this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A period in which some packets waited too long.
#[derive(Debug, PartialEq, Eq)]
pub struct Behind {
    /// The longest wait, in the socket or until the fan-out sent the packet.
    pub worst: Duration,
    /// Datagrams that waited longer than [`TOO_LONG`] in the socket.
    pub late: u64,
    /// Datagrams read in the period.
    pub read: u64,
    /// Fan-outs that kept a packet longer than [`TOO_LONG`] from its arrival.
    pub late_fan_outs: u64,
}

#[derive(Debug, Default)]
pub struct BacklogWatch {
    since: Option<Instant>,
    worst: Duration,
    late: u64,
    read: u64,
    late_fan_outs: u64,
}

impl BacklogWatch {
    /// Note a datagram that reached the socket at `arrived` and was read at `read`. Returns a
    /// report when this read ends a period in which some packet waited too long.
    pub fn observe(&mut self, arrived: Instant, read: Instant) -> Option<Behind> {
        let waited = read.saturating_duration_since(arrived);
        self.read += 1;
        if waited > TOO_LONG {
            self.late += 1;
        }
        self.note(waited, read)
    }

    /// Note a fan-out that ended at `ended`, whose longest-kept packet had waited `waited`
    /// since it reached the socket. Returns a report as [`BacklogWatch::observe`] does.
    pub fn observe_fan_out(&mut self, waited: Duration, ended: Instant) -> Option<Behind> {
        if waited > TOO_LONG {
            self.late_fan_outs += 1;
        }
        self.note(waited, ended)
    }

    fn note(&mut self, waited: Duration, at: Instant) -> Option<Behind> {
        let since = *self.since.get_or_insert(at);
        if waited > TOO_LONG {
            self.worst = self.worst.max(waited);
        }
        if at.saturating_duration_since(since) < REPORT_EVERY {
            return None;
        }
        let report = (self.late > 0 || self.late_fan_outs > 0).then_some(Behind {
            worst: self.worst,
            late: self.late,
            read: self.read,
            late_fan_outs: self.late_fan_outs,
        });
        *self = Self { since: Some(at), ..Self::default() };
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

    #[test]
    fn fan_outs_that_keep_packets_too_long_are_reported_though_the_socket_waits_are_short() {
        let mut watch = BacklogWatch::default();
        let start = Instant::now() + Duration::from_secs(1);
        let mut reports = Vec::new();
        // Every 10 ms a read whose datagram waited 2 ms, and a fan-out that kept its last
        // packet 150 ms (then, after 15 s, 20 ms: caught up).
        for k in 0..3_000u32 {
            let at = start + 10 * MS * k;
            reports.extend(watch.observe(at - 2 * MS, at));
            let kept = if at < start + Duration::from_secs(15) { 150 * MS } else { 20 * MS };
            reports.extend(watch.observe_fan_out(kept, at + MS));
        }
        assert_eq!(reports.len(), 2, "the first period, and the one that catches up: {reports:?}");
        assert_eq!(reports[0].worst, 150 * MS);
        assert_eq!(reports[0].late, 0, "no datagram waited long in the socket");
        // The period's last read ends it before that turn's fan-out.
        assert_eq!((reports[0].late_fan_outs, reports[0].read), (1_000, 1_001), "every fan-out was late");
        assert_eq!((reports[1].late_fan_outs, reports[1].read), (500, 1_000), "late until 15 s, then not");
        assert_eq!(reports[1].worst, 150 * MS);
    }
}
