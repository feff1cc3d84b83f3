//! A student's downlink, judged from the packets it reports lost (`media.downlink_estimate =
//! "loss"`, the default). Sans-IO: the core hands it str0m's once-a-second peer statistics.
//!
//! str0m's own estimator (`"transport-cc"`) follows delay as well as loss, but it comes with a
//! pacer that lets one packet out per timer, so every packet forwarded costs a full pass of
//! the student's `Rtc`: about 40% of the SFU's user-space work per packet
//! (docs/benchmarks.md). This one reads the loss the browser's transport-wide feedback already
//! reports, as the loss-based half of Google's congestion control does: it starts with no
//! limit (most students' links carry the class), cuts to what was sent less half the loss when
//! over a tenth is lost, and grows back 8% a second while under 2% is (a browser that sends no
//! transport-wide feedback is judged by its receiver reports instead). A student whose link
//! cannot carry a layer tries it again later and later, so the publisher is not asked for a
//! keyframe every few seconds on that student's account.

use std::time::{Duration, Instant};

/// Lost above this share: the link is full; cut.
const CUT_ABOVE: f32 = 0.10;
/// Lost under this share: the link has room; grow.
const GROW_BELOW: f32 = 0.02;
/// Growth per report (one a second).
const GROW_PERCENT: u64 = 108;
/// Never below this: audio and the smallest layer of one camera.
pub const FLOOR_BPS: u64 = 100_000;
/// After a cut, no growth for this long; doubled by each cut that comes within `CALM` of the
/// last hold's end after growing (growth found the same limit again). Cuts in a row, before
/// the student's layers have moved down, are one congestion and keep the hold they had.
const FIRST_HOLD: Duration = Duration::from_secs(4);
const LONGEST_HOLD: Duration = Duration::from_secs(60);
const CALM: Duration = Duration::from_secs(30);
/// Growth stops this far above what the student's slots would take at their best.
const HEADROOM_PERCENT: u64 = 125;
/// For this long after a cut, loss is reported on packets sent before it: slots move down on
/// the next keyframe, receiver reports cover about a second and reach the estimate up to a
/// second later. Cut again meanwhile only while more is still sent than the estimate allows.
const SETTLE: Duration = Duration::from_secs(3);
/// Shorter report intervals say too little about the rate sent.
const SHORTEST_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, Default)]
pub struct LossEstimate {
    /// `None`: nothing lost yet, no limit.
    estimate: Option<u64>,
    /// What the student's slots would take at their best (`want`).
    wanted: u64,
    /// Media bytes sent in all, and when, at the last report.
    last_report: Option<(Instant, u64)>,
    hold: Duration,
    hold_until: Option<Instant>,
    last_cut: Option<Instant>,
    /// Whether the estimate grew since the last cut.
    grew: bool,
    /// The most any stream's receiver reports said was lost since the last `report`: the loss
    /// to go by for a browser that sends no transport-wide feedback.
    receiver_reported: Option<f32>,
}

impl LossEstimate {
    /// The rate to plan this student's video by; `None`: no limit.
    pub fn estimate(&self) -> Option<u64> {
        self.estimate
    }

    /// What the student's slots would take at their best: growth stops a little above it.
    pub fn want(&mut self, bps: u64) {
        self.wanted = bps;
    }

    /// The share lost on one of the student's streams, from a receiver report (str0m's
    /// per-stream statistics, which come just after its peer statistics: this fallback is a
    /// second late).
    pub fn receiver_report(&mut self, lost: f32) {
        self.receiver_reported = Some(self.receiver_reported.map_or(lost, |l| l.max(lost)));
    }

    /// One of str0m's peer statistics: media bytes sent to the student in all, and the share
    /// of the last second's packets the student's transport-wide feedback reported lost
    /// (`None`: none came; the receiver reports noted since the last call stand in).
    /// True when the estimate changed.
    pub fn report(&mut self, now: Instant, bytes_sent: u64, lost: Option<f32>) -> bool {
        let lost = lost.or(self.receiver_reported.take());
        let previous = self.last_report.replace((now, bytes_sent));
        let Some((then, bytes_then)) = previous else { return false };
        let elapsed = now.saturating_duration_since(then);
        let Some(lost) = lost.filter(|l| l.is_finite()) else { return false };
        if elapsed < SHORTEST_INTERVAL {
            // Too short to say what was sent; keep the earlier mark.
            self.last_report = previous;
            return false;
        }
        let sent_bps = (bytes_sent.saturating_sub(bytes_then) as u128 * 8 * 1000 / elapsed.as_millis().max(1)) as u64;
        let before = self.estimate;
        if lost > CUT_ABOVE {
            // Soon after a cut, with less sent than it allows, this is the loss of packets sent
            // before it: wait for its effect.
            let settling = self.last_cut.is_some_and(|t| now.saturating_duration_since(t) < SETTLE);
            if !(settling && self.estimate.is_some_and(|e| sent_bps <= e)) {
                self.cut(now, sent_bps, lost);
            }
        } else if lost < GROW_BELOW
            && self.hold_until.is_none_or(|t| now >= t)
            && let Some(e) = self.estimate
        {
            let cap = (self.wanted.saturating_mul(HEADROOM_PERCENT) / 100).max(FLOOR_BPS);
            if e < cap {
                self.estimate = Some((e.saturating_mul(GROW_PERCENT) / 100).min(cap));
                self.grew = true;
            }
        }
        self.estimate != before
    }

    fn cut(&mut self, now: Instant, sent_bps: u64, lost: f32) {
        let base = self.estimate.map_or(sent_bps, |e| e.min(sent_bps));
        let lost_permille = (lost.clamp(0.0, 1.0) * 1000.0) as u64;
        self.estimate = Some((base.saturating_mul(2000 - lost_permille) / 2000).max(FLOOR_BPS));
        self.hold = match self.hold_until {
            Some(_) if !self.grew => self.hold,
            Some(end) if now < end + CALM => (self.hold * 2).clamp(FIRST_HOLD, LONGEST_HOLD),
            _ => FIRST_HOLD,
        };
        self.grew = false;
        self.last_cut = Some(now);
        self.hold_until = Some(now + self.hold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// A student sending `bps` for `seconds` reports, each losing `lost`; the estimate after each.
    fn reports(
        est: &mut LossEstimate,
        now: &mut Instant,
        sent: &mut u64,
        bps: u64,
        lost: f32,
        seconds: u32,
    ) -> Vec<Option<u64>> {
        (0..seconds)
            .map(|_| {
                *now += SECOND;
                *sent += bps / 8;
                est.report(*now, *sent, Some(lost));
                est.estimate()
            })
            .collect()
    }

    #[test]
    fn a_link_that_loses_nothing_is_never_limited() {
        let (mut est, mut now, mut sent) = (LossEstimate::default(), Instant::now(), 0);
        est.want(1_600_000);
        let after = reports(&mut est, &mut now, &mut sent, 1_600_000, 0.0, 30);
        assert!(after.iter().all(Option::is_none), "{after:?}");
        // Loss between the thresholds (a lossy radio, not a full link) does not start a limit either.
        let after = reports(&mut est, &mut now, &mut sent, 1_600_000, 0.05, 10);
        assert!(after.iter().all(Option::is_none), "{after:?}");
    }

    #[test]
    fn heavy_loss_cuts_to_what_was_sent_less_half_the_loss() {
        let (mut est, mut now, mut sent) = (LossEstimate::default(), Instant::now(), 0);
        est.want(1_600_000);
        reports(&mut est, &mut now, &mut sent, 1_600_000, 0.0, 2);
        let after = reports(&mut est, &mut now, &mut sent, 1_600_000, 0.30, 1);
        assert_eq!(after, vec![Some(1_360_000)]);
        // Still sending more than that and losing: cut again, from the lower of the two.
        let after = reports(&mut est, &mut now, &mut sent, 1_600_000, 0.20, 1);
        assert_eq!(after, vec![Some(1_224_000)]);
        // Sending less now, and the loss reported is of packets sent before the cut took
        // effect: wait for it, 3 s.
        let after = reports(&mut est, &mut now, &mut sent, 1_000_000, 0.20, 3);
        assert_eq!(after, vec![Some(1_224_000), Some(1_224_000), Some(900_000)]);
        // Never to nothing: audio and the smallest layer stay.
        reports(&mut est, &mut now, &mut sent, 50_000, 0.05, 3);
        let after = reports(&mut est, &mut now, &mut sent, 50_000, 0.9, 1);
        assert_eq!(after, vec![Some(FLOOR_BPS)]);
    }

    #[test]
    fn after_a_cut_it_holds_then_grows_back_to_a_little_over_what_is_wanted() {
        let (mut est, mut now, mut sent) = (LossEstimate::default(), Instant::now(), 0);
        est.want(1_000_000);
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 1);
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.20, 1);
        assert_eq!(est.estimate(), Some(900_000));
        let after = reports(&mut est, &mut now, &mut sent, 500_000, 0.0, 3);
        assert_eq!(after, vec![Some(900_000); 3], "held for the first 4 s");
        let after = reports(&mut est, &mut now, &mut sent, 500_000, 0.0, 12);
        assert_eq!(after[0], Some(972_000), "8% a second once the hold is over");
        assert_eq!(after.last(), Some(&Some(1_250_000)), "and no further than 25% over what is wanted: {after:?}");
    }

    #[test]
    fn cuts_in_a_row_hold_longer_each_time_and_a_calm_spell_starts_again() {
        let (mut est, mut now, mut sent) = (LossEstimate::default(), Instant::now(), 0);
        est.want(2_000_000);
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 1);
        // Each time growth resumes, the student fails again at once: the link is full.
        let mut holds = Vec::new();
        for _ in 0..6 {
            reports(&mut est, &mut now, &mut sent, 1_000_000, 0.5, 1);
            let cut = est.estimate();
            let mut held = 0;
            while est.estimate() == cut && held < 90 {
                reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 1);
                held += 1;
            }
            holds.push(held);
        }
        assert_eq!(holds, vec![4, 8, 16, 32, 60, 60]);

        // Cuts one after another, before the estimate grows again, are one congestion (the
        // student's layers take a moment to move down): the hold does not grow.
        let (mut est, mut now, mut sent) = (LossEstimate::default(), Instant::now(), 0);
        est.want(2_000_000);
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 1);
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.5, 3);
        let cut = est.estimate();
        let after = reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 5);
        assert_eq!(after.iter().take_while(|e| **e == cut).count() + 1, 4, "{after:?}");
        // Thirty seconds without trouble after the hold: the next cut holds briefly again.
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 30);
        reports(&mut est, &mut now, &mut sent, 1_000_000, 0.5, 1);
        let cut = est.estimate();
        let after = reports(&mut est, &mut now, &mut sent, 1_000_000, 0.0, 4);
        assert_eq!(after.iter().take_while(|e| **e == cut).count() + 1, 4, "{after:?}");
    }

    #[test]
    fn reports_without_feedback_or_too_close_together_change_nothing() {
        let (mut est, now) = (LossEstimate::default(), Instant::now());
        est.want(1_000_000);
        assert!(!est.report(now, 0, Some(0.5)), "the first report only marks the start");
        assert!(!est.report(now + SECOND, 125_000, None));
        assert!(!est.report(now + SECOND + Duration::from_millis(50), 130_000, Some(0.5)));
        assert_eq!(est.estimate(), None);
        assert!(!est.report(now + SECOND * 2, 250_000, Some(f32::NAN)));
        assert!(est.report(now + SECOND * 3, 375_000, Some(0.5)));
        assert_eq!(est.estimate(), Some(750_000));
    }

    #[test]
    fn without_transport_wide_feedback_the_worst_receiver_report_stands_in_once() {
        let (mut est, now) = (LossEstimate::default(), Instant::now());
        est.want(2_000_000);
        est.report(now, 0, None);
        est.receiver_report(0.05);
        est.receiver_report(0.4);
        assert!(est.report(now + SECOND, 125_000, None), "the worst stream's 40% cuts");
        assert_eq!(est.estimate(), Some(800_000));
        // Used once: the next second, with no report, nothing is known.
        assert!(!est.report(now + SECOND * 5, 625_000, None));
        // Transport-wide feedback, when there is some, goes first.
        est.receiver_report(0.9);
        assert!(!est.report(now + SECOND * 6, 750_000, Some(0.05)));
        assert_eq!(est.estimate(), Some(800_000));
    }
}
