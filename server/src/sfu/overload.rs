//! Keeping a worker within its core: when its classes need more forwarding than one core does,
//! every video slot on the worker is held to a lower simulcast layer until they fit again.
//!
//! Past its core a worker falls behind: datagrams wait in its socket, then the socket drops
//! them, and every student sees a frozen, broken picture (at 500 students on one core, a third
//! of the packets were lost). A lower layer has about a third of the packets of the top one, so
//! the same class fits with a smaller but whole picture. Audio is never limited, nor are tracks
//! sent in one layer (screen shares).
//!
//! The governor looks at each [`WINDOW`]: how busy the worker was (the time it did not spend
//! waiting for input) and the longest a packet waited before it went on: in the socket, or,
//! once read, until the fan-out sent it to its last subscriber. It lowers the limit one
//! layer when the worker is saturated *and* falling behind, so a busy worker that keeps up is
//! left alone. It lifts the limit one layer when the layer above would have fitted with room
//! to spare ([`RAISE_BELOW_PERCENT`]) for [`RAISE_HOLD`]: the worker's busy share scaled by the
//! packets it would forward with the higher limit (measured per layer, see
//! `SfuCore::forwarding_rate`). After any change it waits [`SETTLE`]: slots switch layers only
//! on keyframes, so the load follows a change with a delay.

use super::backlog::TOO_LONG;
use app::protocol::VideoQuality;
use std::time::{Duration, Instant};

/// How often the governor decides.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Lower the limit when the worker was busy at least this share of a window...
pub const SHED_BUSY_PERCENT: u64 = 90;
/// ...and some packet waited longer than this (the backlog warning's mark).
pub const SHED_WAIT: Duration = TOO_LONG;
/// Lift the limit when the worker would be busy less than this share with the layer above.
pub const RAISE_BELOW_PERCENT: u64 = 80;
/// How long the layer above must have fitted before the limit lifts.
pub const RAISE_HOLD: Duration = Duration::from_secs(10);
/// No decision for this long after a change: slots switch on the new layer's next keyframe.
pub const SETTLE: Duration = Duration::from_secs(3);

/// A change of the worker's video limit. `None`: no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Lowered { to: VideoQuality, busy_percent: u64, worst_wait: Duration },
    Raised { to: Option<VideoQuality>, predicted_percent: u64 },
}

#[derive(Debug, Default)]
pub struct LoadGovernor {
    /// The best layer any slot on this worker may receive; `None`: no limit.
    ceiling: Option<VideoQuality>,
    window_start: Option<Instant>,
    idle: Duration,
    worst_wait: Duration,
    changed_at: Option<Instant>,
    /// Since when the layer above has fitted, window after window.
    fits_since: Option<Instant>,
}

impl LoadGovernor {
    pub fn ceiling(&self) -> Option<VideoQuality> {
        self.ceiling
    }

    /// Time the worker spent waiting for input (idle).
    pub fn note_idle(&mut self, idle: Duration) {
        self.idle += idle;
    }

    /// How long a datagram waited in the socket before the worker read it, or a forwarded
    /// packet from reaching the socket to going out to a subscriber.
    pub fn note_wait(&mut self, waited: Duration) {
        self.worst_wait = self.worst_wait.max(waited);
    }

    /// Decide, once a window is over; called earlier, it does nothing. `rate_at(limit)`: the
    /// packets per second the worker would forward under that limit, from what its publishers
    /// send now.
    pub fn assess(&mut self, now: Instant, rate_at: impl Fn(Option<VideoQuality>) -> u64) -> Option<Change> {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed < WINDOW {
            return None;
        }
        let busy_percent = 100u64.saturating_sub(percent(self.idle, elapsed));
        let worst_wait = self.worst_wait;
        self.window_start = Some(now);
        self.idle = Duration::ZERO;
        self.worst_wait = Duration::ZERO;
        if self.changed_at.is_some_and(|at| now.saturating_duration_since(at) < SETTLE) {
            return None;
        }
        if busy_percent >= SHED_BUSY_PERCENT && worst_wait > SHED_WAIT {
            self.fits_since = None;
            let to = lower(self.ceiling)?;
            self.ceiling = Some(to);
            self.changed_at = Some(now);
            return Some(Change::Lowered { to, busy_percent, worst_wait });
        }
        let ceiling = self.ceiling?;
        let up = raise(ceiling);
        let predicted_percent = busy_percent * rate_at(up) / rate_at(Some(ceiling)).max(1);
        if predicted_percent >= RAISE_BELOW_PERCENT {
            self.fits_since = None;
            return None;
        }
        let since = *self.fits_since.get_or_insert(start);
        if now.saturating_duration_since(since) < RAISE_HOLD {
            return None;
        }
        self.ceiling = up;
        self.changed_at = Some(now);
        self.fits_since = None;
        Some(Change::Raised { to: up, predicted_percent })
    }
}

/// `part` as a whole percentage of `whole`, at most 100.
fn percent(part: Duration, whole: Duration) -> u64 {
    (part.as_micros() * 100 / whole.as_micros().max(1)).min(100) as u64
}

/// One layer below the limit; `None` when it is already the lowest.
fn lower(ceiling: Option<VideoQuality>) -> Option<VideoQuality> {
    match ceiling {
        None | Some(VideoQuality::High) => Some(VideoQuality::Medium),
        Some(VideoQuality::Medium) => Some(VideoQuality::Low),
        Some(VideoQuality::Low) => None,
    }
}

/// One layer above the limit; `None` (no limit) above the medium layer.
fn raise(ceiling: VideoQuality) -> Option<VideoQuality> {
    match ceiling {
        VideoQuality::Low => Some(VideoQuality::Medium),
        VideoQuality::Medium | VideoQuality::High => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Packets per second a class of 500 forwards under each limit: 500 students, audio
    /// (50 a second) and video (60, 100 or 180 a second by layer).
    fn class_of_500(limit: Option<VideoQuality>) -> u64 {
        500 * (50
            + match limit {
                Some(VideoQuality::Low) => 60,
                Some(VideoQuality::Medium) => 100,
                None | Some(VideoQuality::High) => 180,
            })
    }

    /// Runs `windows` windows from `*now`, each with `idle` of it idle and a worst wait of
    /// `waited`; returns the changes, each with the window it came in.
    fn run(
        governor: &mut LoadGovernor,
        now: &mut Instant,
        windows: usize,
        idle: Duration,
        waited: Duration,
        rate_at: impl Fn(Option<VideoQuality>) -> u64 + Copy,
    ) -> Vec<(usize, Change)> {
        let mut changes = Vec::new();
        governor.assess(*now, rate_at);
        for w in 0..windows {
            governor.note_idle(idle);
            governor.note_wait(waited);
            *now += WINDOW;
            if let Some(change) = governor.assess(*now, rate_at) {
                changes.push((w, change));
            }
        }
        changes
    }

    #[test]
    fn a_busy_worker_that_keeps_up_is_left_alone() {
        let mut governor = LoadGovernor::default();
        let mut now = Instant::now();
        // 97% busy, but nothing waited long: a full core, not an overloaded one.
        let changes = run(&mut governor, &mut now, 30, 30 * MS, 40 * MS, class_of_500);
        assert_eq!(changes, vec![]);
        assert_eq!(governor.ceiling(), None);
    }

    #[test]
    fn a_worker_that_falls_behind_sheds_one_layer_at_a_time_and_waits_between() {
        let mut governor = LoadGovernor::default();
        let mut now = Instant::now();
        // Saturated and 400 ms behind, window after window.
        let changes = run(&mut governor, &mut now, 8, Duration::ZERO, 400 * MS, class_of_500);
        assert_eq!(
            changes,
            vec![
                (0, Change::Lowered { to: VideoQuality::Medium, busy_percent: 100, worst_wait: 400 * MS }),
                (3, Change::Lowered { to: VideoQuality::Low, busy_percent: 100, worst_wait: 400 * MS }),
            ],
            "the second step comes only after the first has settled, and there is no third"
        );
        assert_eq!(governor.ceiling(), Some(VideoQuality::Low));
    }

    #[test]
    fn the_limit_lifts_only_when_the_layer_above_would_fit_with_room_to_spare() {
        let mut governor = LoadGovernor::default();
        let mut now = Instant::now();
        run(&mut governor, &mut now, 1, Duration::ZERO, 400 * MS, class_of_500);
        assert_eq!(governor.ceiling(), Some(VideoQuality::Medium));
        // At the medium layer the worker is 60% busy: the top layer would take 60 × 230 / 150
        // = 92%, too close to the core. It stays.
        let changes = run(&mut governor, &mut now, 30, 400 * MS, 5 * MS, class_of_500);
        assert_eq!(changes, vec![]);
        // Half the class leaves: 30% busy, 46% predicted. It lifts after the hold.
        let changes = run(&mut governor, &mut now, 30, 700 * MS, 5 * MS, class_of_500);
        assert_eq!(changes, vec![(9, Change::Raised { to: None, predicted_percent: 46 })]);
        assert_eq!(governor.ceiling(), None);
    }

    #[test]
    fn a_moment_of_overload_while_the_limit_would_lift_starts_the_hold_again() {
        let mut governor = LoadGovernor::default();
        let mut now = Instant::now();
        run(&mut governor, &mut now, 4, Duration::ZERO, 400 * MS, class_of_500);
        assert_eq!(governor.ceiling(), Some(VideoQuality::Low));
        let light = run(&mut governor, &mut now, 6, 800 * MS, 5 * MS, class_of_500);
        assert_eq!(light, vec![]);
        // One window at 85%: the medium layer would not fit (85 × 150 / 110 = 115%).
        assert_eq!(run(&mut governor, &mut now, 1, 150 * MS, 5 * MS, class_of_500), vec![]);
        let changes = run(&mut governor, &mut now, 12, 800 * MS, 5 * MS, class_of_500);
        assert_eq!(
            changes
                .iter()
                .map(|(w, c)| (*w, matches!(c, Change::Raised { to: Some(VideoQuality::Medium), .. })))
                .collect::<Vec<_>>(),
            vec![(9, true)],
            "a full hold after the busy window, not the rest of the first one"
        );
    }

    #[test]
    fn an_empty_worker_has_no_limit_for_long() {
        let mut governor = LoadGovernor::default();
        let mut now = Instant::now();
        run(&mut governor, &mut now, 1, Duration::ZERO, 400 * MS, class_of_500);
        // Everyone left: nothing to forward under any limit.
        let changes = run(&mut governor, &mut now, 12, WINDOW, Duration::ZERO, |_| 0);
        assert_eq!(changes, vec![(11, Change::Raised { to: None, predicted_percent: 0 })]);
    }
}
