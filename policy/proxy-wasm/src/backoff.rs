//! Waiting longer after each failed delivery: doubling from the tick up to a cap, less a
//! jitter drawn from the instance's seed, so that a fleet cut off together does not
//! retry in step when the gateway comes back.

/// When the next attempt may go.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: i64,
    cap_ms: i64,
    seed: u64,
    failures: u32,
    not_before_ms: i64,
}

impl Backoff {
    /// The first retry after `base_ms`, doubling up to `cap_ms`; `seed` differs per instance.
    pub fn new(base_ms: u64, cap_ms: u64, seed: u64) -> Self {
        let ms = |value: u64| i64::try_from(value).unwrap_or(i64::MAX).max(1);
        Self {
            base_ms: ms(base_ms),
            cap_ms: ms(cap_ms.max(base_ms)),
            seed,
            failures: 0,
            not_before_ms: i64::MIN,
        }
    }

    /// Whether an attempt may go at `now_ms`.
    pub fn ready(&self, now_ms: i64) -> bool {
        now_ms >= self.not_before_ms
    }

    /// An attempt failed at `now_ms`: the next waits longer.
    pub fn failed(&mut self, now_ms: i64) {
        self.failures = self.failures.saturating_add(1);
        let doubled = self
            .base_ms
            .saturating_mul(1_i64 << self.failures.saturating_sub(1).min(30));
        let delay = doubled.min(self.cap_ms);
        // Up to a quarter less, differing per instance and per attempt.
        let jitter = i64::try_from(mix(self.seed ^ u64::from(self.failures)) % 1024)
            .unwrap_or(0)
            .saturating_mul(delay / 4)
            / 1024;
        self.not_before_ms = now_ms.saturating_add(delay - jitter);
    }

    /// An attempt succeeded: the next may go at once.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.not_before_ms = i64::MIN;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// SplitMix64's finaliser: spreads a seed over all bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_reset_on_success() {
        let mut backoff = Backoff::new(1_000, 8_000, 42);
        assert!(backoff.ready(0));
        let mut waits = Vec::new();
        for _ in 0..6 {
            backoff.failed(0);
            let wait = (0..=8_000).find(|t| backoff.ready(*t)).unwrap_or(-1);
            waits.push(wait);
        }
        for (wait, full) in waits.iter().zip([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]) {
            assert!(*wait > full * 3 / 4 && *wait <= full, "{waits:?}");
        }
        backoff.succeeded();
        assert!(backoff.ready(0));
        assert_eq!(backoff.failures(), 0);
    }

    #[test]
    fn instances_do_not_retry_in_step() {
        let wait = |seed| {
            let mut backoff = Backoff::new(2_000, 60_000, seed);
            backoff.failed(0);
            backoff.failed(0);
            (0..=4_000).find(|t| backoff.ready(*t))
        };
        let waits: std::collections::HashSet<_> = (0..20).map(wait).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
