//! Simulcast: which layer of a camera each receiving slot gets.
//!
//! A publisher's camera sends three layers (rids `q`, `h` and `f`: a quarter, half and full
//! resolution). Each subscriber's downlink estimate is split among the video slots its page
//! shows, most important first ([`allocate`]); a [`LayerSelector`] per slot then moves
//! towards that allocation with hysteresis (a slot keeps its layer down to [`KEEP_PERCENT`] of
//! its rate and then goes down at once; up only after the better layer has fitted for a
//! while) and switches only on a keyframe of the new layer, so the picture never breaks up.

use app::protocol::VideoQuality;
use std::time::{Duration, Instant};
use str0m::media::Rid;

pub const LAYERS: [VideoQuality; 3] = [VideoQuality::Low, VideoQuality::Medium, VideoQuality::High];

/// The rid a browser gives each layer (see the page's `sendEncodings`).
pub fn rid_of(layer: VideoQuality) -> Rid {
    Rid::from(match layer {
        VideoQuality::Low => "q",
        VideoQuality::Medium => "h",
        VideoQuality::High => "f",
    })
}

/// The layer a rid names; `None` for an unknown rid.
pub fn layer_of(rid: Rid) -> Option<VideoQuality> {
    match &*rid {
        "q" => Some(VideoQuality::Low),
        "h" => Some(VideoQuality::Medium),
        "f" => Some(VideoQuality::High),
        _ => None,
    }
}

pub fn index(layer: VideoQuality) -> usize {
    match layer {
        VideoQuality::Low => 0,
        VideoQuality::Medium => 1,
        VideoQuality::High => 2,
    }
}

/// What one slot could receive: the most it needs, and the bitrate of each layer its source
/// sends now (`None`: that layer is not arriving).
#[derive(Clone, Debug, PartialEq)]
pub struct SlotNeed {
    pub max: VideoQuality,
    pub layer_bps: [Option<u64>; 3],
}

/// A slot keeps the layer it has until the budget falls below this share of that layer's
/// rate; moving up needs the whole rate. Downlink estimates hover near what is asked of them
/// (str0m probes only up to the wanted rate), so without this band one 15% dip of the estimate
/// moves a subscriber down and, a hold later, up again, and every move asks the publisher for
/// a keyframe that then fans out to the whole class.
pub const KEEP_PERCENT: u64 = 75;

impl SlotNeed {
    /// The need as the allocator should weigh it for a slot that has `kept` now: that layer
    /// and those below it cost [`KEEP_PERCENT`] of their rate.
    pub fn keeping(mut self, kept: Option<VideoQuality>) -> Self {
        if let Some(kept) = kept {
            for bps in self.layer_bps[..=index(kept)].iter_mut().flatten() {
                *bps = *bps * KEEP_PERCENT / 100;
            }
        }
        self
    }
}

/// Split `budget_bps` among slots given in priority order: first the lowest layer for as many
/// slots as fit, then upgrades, most important slot first. `None`: the slot gets no video. The
/// most important slot always gets its lowest layer: a low estimate (which probing corrects)
/// must never blank the stage.
pub fn allocate(budget_bps: u64, slots: &[SlotNeed]) -> Vec<Option<VideoQuality>> {
    let mut chosen: Vec<Option<usize>> = vec![None; slots.len()];
    let mut left = budget_bps;
    for (n, (slot, pick)) in slots.iter().zip(chosen.iter_mut()).enumerate() {
        let lowest = (0..=index(slot.max)).find(|&i| slot.layer_bps[i].is_some());
        if let Some(i) = lowest {
            let cost = slot.layer_bps[i].unwrap_or(0);
            if cost <= left || n == 0 {
                left = left.saturating_sub(cost);
                *pick = Some(i);
            }
        }
    }
    for (slot, pick) in slots.iter().zip(chosen.iter_mut()) {
        let Some(mut current) = *pick else { continue };
        for better in current + 1..=index(slot.max) {
            let (Some(now_cost), Some(cost)) = (slot.layer_bps[current], slot.layer_bps[better]) else { continue };
            let extra = cost.saturating_sub(now_cost);
            if extra > left {
                break;
            }
            left -= extra;
            current = better;
        }
        *pick = Some(current);
    }
    chosen.into_iter().map(|c| c.map(|i| LAYERS[i])).collect()
}

/// One slot's layer: what it forwards now (`current`), and what it is moving to (`target`).
#[derive(Clone, Debug, Default)]
pub struct LayerSelector {
    current: Option<VideoQuality>,
    target: Option<VideoQuality>,
    better_since: Option<Instant>,
    /// Since when the allocation has left this slot no video at all.
    none_since: Option<Instant>,
}

impl LayerSelector {
    pub fn current(&self) -> Option<VideoQuality> {
        self.current
    }

    pub fn target(&self) -> Option<VideoQuality> {
        self.target
    }

    /// Start over (the slot shows another source): wait for a keyframe of `target`.
    pub fn reset(&mut self, target: Option<VideoQuality>) {
        *self = Self { current: None, target, better_since: None, none_since: None };
    }

    /// Take the allocator's latest answer: a worse layer at once, a better one only after it
    /// has been allowed for `hold` without a break, and no video at all only after `hold` too
    /// (a dip of the estimate should not blank a tile). Returns the target.
    pub fn update(&mut self, now: Instant, allowed: Option<VideoQuality>, hold: Duration) -> Option<VideoQuality> {
        if allowed.is_none() && self.target.is_some() {
            let since = *self.none_since.get_or_insert(now);
            if now.duration_since(since) >= hold {
                self.target = None;
                self.none_since = None;
            }
            self.better_since = None;
            return self.target;
        }
        self.none_since = None;
        if allowed < self.target {
            self.target = allowed;
            self.better_since = None;
        } else if allowed > self.target {
            let since = *self.better_since.get_or_insert(now);
            if self.target.is_none() || now.duration_since(since) >= hold {
                self.target = allowed;
                self.better_since = None;
            }
        } else {
            self.better_since = None;
        }
        self.target
    }

    /// A frame of `layer` arrived: whether to forward it. The slot keeps forwarding its
    /// current layer until a keyframe of the target arrives, then switches.
    pub fn accept(&mut self, layer: VideoQuality, keyframe: bool) -> bool {
        if Some(layer) == self.target && self.current != self.target {
            if keyframe {
                self.current = self.target;
                return true;
            }
            return self.current == Some(layer);
        }
        Some(layer) == self.current && self.target.is_some()
    }

    /// The layer a keyframe is needed from, while a switch is pending.
    pub fn wants_keyframe(&self) -> Option<VideoQuality> {
        if self.target != self.current { self.target } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VideoQuality::{High, Low, Medium};

    const ALL: [Option<u64>; 3] = [Some(150_000), Some(500_000), Some(1_500_000)];

    fn need(max: VideoQuality) -> SlotNeed {
        SlotNeed { max, layer_bps: ALL }
    }

    #[test]
    fn the_budget_goes_first_to_everyone_low_then_upgrades_by_priority() {
        assert_eq!(allocate(10_000_000, &[need(High), need(Low)]), vec![Some(High), Some(Low)]);
        // 2 Mbit/s: the speaker gets high (1.5M) and the tile low (150k).
        assert_eq!(allocate(2_000_000, &[need(High), need(Low), need(Low)]), vec![Some(High), Some(Low), Some(Low)]);
        // 800k: both low first (300k), then the first upgrades to medium (+350k), not high.
        assert_eq!(allocate(800_000, &[need(High), need(High)]), vec![Some(Medium), Some(Low)]);
        // Too little for every tile: the last ones get nothing rather than starving all.
        assert_eq!(allocate(320_000, &[need(High), need(High), need(High)]), vec![Some(Low), Some(Low), None]);
        // Even a tiny estimate keeps the most important video going at its lowest layer.
        assert_eq!(allocate(10_000, &[need(High), need(Low)]), vec![Some(Low), None]);
    }

    #[test]
    fn a_slot_keeps_its_layer_through_a_dip_that_would_not_let_it_move_up() {
        // 1.3 Mbit/s (87% of the full layer): a slot without video gets medium...
        assert_eq!(allocate(1_300_000, &[need(High).keeping(None)]), vec![Some(Medium)]);
        // ...one that has the full layer keeps it, down to 75% of its rate.
        assert_eq!(allocate(1_300_000, &[need(High).keeping(Some(High))]), vec![Some(High)]);
        assert_eq!(allocate(1_125_000, &[need(High).keeping(Some(High))]), vec![Some(High)]);
        assert_eq!(allocate(1_100_000, &[need(High).keeping(Some(High))]), vec![Some(Medium)]);
        // A real drop still moves it down, as far as needed.
        assert_eq!(allocate(300_000, &[need(High).keeping(Some(High))]), vec![Some(Low)]);
        // Keeping medium does not make high any cheaper.
        assert_eq!(allocate(1_400_000, &[need(High).keeping(Some(Medium))]), vec![Some(Medium)]);
    }

    #[test]
    fn layers_that_do_not_arrive_are_skipped() {
        let only_low_and_high = SlotNeed { max: High, layer_bps: [Some(150_000), None, Some(1_500_000)] };
        assert_eq!(allocate(1_000_000, std::slice::from_ref(&only_low_and_high)), vec![Some(Low)]);
        assert_eq!(allocate(2_000_000, &[only_low_and_high]), vec![Some(High)]);
        let nothing = SlotNeed { max: High, layer_bps: [None; 3] };
        assert_eq!(allocate(9_000_000, &[nothing]), vec![None]);
    }

    #[test]
    fn going_down_is_immediate_and_going_up_waits_for_the_hold() {
        let t0 = Instant::now();
        let hold = Duration::from_secs(2);
        let mut s = LayerSelector::default();
        // The first allocation is taken at once (there is nothing to protect).
        assert_eq!(s.update(t0, Some(Medium), hold), Some(Medium));
        assert_eq!(s.update(t0 + Duration::from_millis(500), Some(High), hold), Some(Medium));
        assert_eq!(s.update(t0 + Duration::from_millis(1500), Some(High), hold), Some(Medium));
        // A dip restarts the wait.
        assert_eq!(s.update(t0 + Duration::from_millis(1700), Some(Medium), hold), Some(Medium));
        assert_eq!(s.update(t0 + Duration::from_millis(2600), Some(High), hold), Some(Medium));
        assert_eq!(s.update(t0 + Duration::from_millis(4700), Some(High), hold), Some(High));
        assert_eq!(s.update(t0 + Duration::from_millis(4800), Some(Low), hold), Some(Low));
        // Nothing at all only after the hold.
        assert_eq!(s.update(t0 + Duration::from_millis(5000), None, hold), Some(Low));
        assert_eq!(s.update(t0 + Duration::from_millis(6000), Some(Low), hold), Some(Low));
        assert_eq!(s.update(t0 + Duration::from_millis(6500), None, hold), Some(Low));
        assert_eq!(s.update(t0 + Duration::from_millis(8500), None, hold), None);
    }

    #[test]
    fn switches_happen_on_a_keyframe_of_the_new_layer() {
        let t0 = Instant::now();
        let mut s = LayerSelector::default();
        s.update(t0, Some(Low), Duration::ZERO);
        // Nothing is forwarded until the first keyframe of the target.
        assert!(!s.accept(Low, false));
        assert_eq!(s.wants_keyframe(), Some(Low));
        assert!(s.accept(Low, true));
        assert!(s.accept(Low, false));
        assert!(!s.accept(High, false), "other layers are not forwarded");
        assert_eq!(s.wants_keyframe(), None);
        // Upgrade: the low layer keeps flowing until high's keyframe.
        s.update(t0 + Duration::from_secs(1), Some(High), Duration::ZERO);
        assert_eq!(s.wants_keyframe(), Some(High));
        assert!(s.accept(Low, false));
        assert!(!s.accept(High, false));
        assert!(s.accept(High, true));
        assert!(!s.accept(Low, false));
        assert_eq!(s.current(), Some(High));
        // Nothing allowed: nothing forwarded.
        s.update(t0 + Duration::from_secs(2), None, Duration::ZERO);
        assert!(!s.accept(High, true));
    }

    #[test]
    fn rids_name_the_three_layers() {
        for layer in LAYERS {
            assert_eq!(layer_of(rid_of(layer)), Some(layer));
        }
        assert_eq!(layer_of(Rid::from("x")), None);
    }
}
