//! The active speaker, from the audio levels publishers put in every audio packet (RFC 6464:
//! the level in -dBov, 0 the loudest and -127 silence; str0m reports it negative).
//!
//! Each track's loudness is smoothed; every interval the loudest track that is clearly
//! speaking takes over, but only if it is louder than the current speaker by a margin or the
//! current speaker has gone quiet, and not sooner than a minimum hold, so the highlight does
//! not flicker between two people talking over each other.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Smoothed loudness (127 - level) at or above which a track counts as speaking.
const SPEAKING: f32 = 40.0;
/// How much louder a challenger must be than the current speaker.
const MARGIN: f32 = 8.0;
const EVALUATE_EVERY: Duration = Duration::from_millis(300);
const HOLD: Duration = Duration::from_millis(1200);

#[derive(Debug)]
pub struct SpeakerDetector<K> {
    loudness: HashMap<K, f32>,
    current: Option<K>,
    since: Option<Instant>,
    last_evaluated: Option<Instant>,
}

impl<K> Default for SpeakerDetector<K> {
    fn default() -> Self {
        Self { loudness: HashMap::new(), current: None, since: None, last_evaluated: None }
    }
}

impl<K: Copy + Eq + std::hash::Hash> SpeakerDetector<K> {
    /// One audio packet's level.
    pub fn level(&mut self, key: K, level: i8) {
        let loud = f32::from(127 - level.unsigned_abs().min(127));
        let smoothed = self.loudness.entry(key).or_insert(0.0);
        *smoothed = *smoothed * 0.9 + loud * 0.1;
    }

    /// A track ended.
    pub fn remove(&mut self, key: K) -> Option<Option<K>> {
        self.loudness.remove(&key);
        if self.current == Some(key) {
            self.current = None;
            return Some(None);
        }
        None
    }

    pub fn current(&self) -> Option<K> {
        self.current
    }

    /// On a timer: the new active speaker, if it changed.
    pub fn evaluate(&mut self, now: Instant) -> Option<Option<K>> {
        if self.last_evaluated.is_some_and(|t| now.duration_since(t) < EVALUATE_EVERY) {
            return None;
        }
        self.last_evaluated = Some(now);
        // Silence decays the levels of tracks that stopped sending (DTX sends nothing).
        for loud in self.loudness.values_mut() {
            *loud *= 0.8;
        }
        let (loudest, loudness) = self.loudness.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, l)| (*k, *l))?;
        if loudness < SPEAKING || self.current == Some(loudest) {
            return None;
        }
        if let (Some(current), Some(since)) = (self.current, self.since) {
            let current_loudness = self.loudness.get(&current).copied().unwrap_or(0.0);
            let still_speaking = current_loudness >= SPEAKING;
            if now.duration_since(since) < HOLD || (still_speaking && loudness < current_loudness + MARGIN) {
                return None;
            }
        }
        self.current = Some(loudest);
        self.since = Some(now);
        Some(self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `ms` of 50 packets a second per track at the given levels, evaluating as a worker
    /// does; returns every change.
    fn run(d: &mut SpeakerDetector<u8>, t: &mut Instant, ms: u64, levels: &[(u8, i8)]) -> Vec<Option<u8>> {
        let mut changes = Vec::new();
        for _ in 0..ms / 20 {
            *t += Duration::from_millis(20);
            for (k, l) in levels {
                d.level(*k, *l);
            }
            if let Some(change) = d.evaluate(*t) {
                changes.push(change);
            }
        }
        changes
    }

    #[test]
    fn the_loudest_speaker_wins_without_flicker() {
        let mut d = SpeakerDetector::default();
        let mut t = Instant::now();
        // Teacher (1) talks, a student (2) is quiet.
        assert_eq!(run(&mut d, &mut t, 2000, &[(1, 20), (2, 120)]), vec![Some(1)]);
        // Both talk about as loud: no change back and forth.
        assert_eq!(run(&mut d, &mut t, 3000, &[(1, 22), (2, 20)]), vec![]);
        // The teacher stops; the student is the speaker.
        assert_eq!(run(&mut d, &mut t, 2000, &[(1, 127), (2, 20)]), vec![Some(2)]);
        // Silence everywhere: the last speaker stays highlighted.
        assert_eq!(run(&mut d, &mut t, 3000, &[(1, 127), (2, 127)]), vec![]);
        assert_eq!(d.remove(2), Some(None));
    }
}
