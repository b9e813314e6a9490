//! How old a pulled configuration may get: every answer of the gateway (a new configuration
//! or `304 Not Modified`) confirms it, and past `maxStaleS` without one the filter fails closed.
//!
//! Time is the host's clock; one that steps back never makes a configuration younger.

/// Where a pulling filter's configuration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No configuration yet: every request is refused (503).
    Waiting,
    /// Confirmed `age_ms` ago, within the bound: served.
    Serving {
        /// Time since the gateway last confirmed it.
        age_ms: i64,
    },
    /// Not confirmed for longer than the bound: every token is refused (503).
    Expired {
        /// Time since the gateway last confirmed it.
        age_ms: i64,
    },
}

/// The age of the configuration in use.
#[derive(Debug, Clone)]
pub struct Freshness {
    max_stale_ms: i64,
    confirmed_ms: Option<i64>,
    /// The latest time seen.
    latest_ms: i64,
}

impl Freshness {
    /// Nothing confirmed yet; a configuration may go unconfirmed for `max_stale_s`.
    pub fn new(max_stale_s: u64) -> Self {
        Self {
            max_stale_ms: i64::try_from(max_stale_s.saturating_mul(1000)).unwrap_or(i64::MAX),
            confirmed_ms: None,
            latest_ms: i64::MIN,
        }
    }

    /// The gateway confirmed the configuration in use at `now_ms`.
    pub fn confirm(&mut self, now_ms: i64) {
        self.observe(now_ms);
        self.confirmed_ms = Some(self.latest_ms);
    }

    /// Remembers `now_ms`, so a clock that steps back later does not rejuvenate.
    pub fn observe(&mut self, now_ms: i64) {
        self.latest_ms = self.latest_ms.max(now_ms);
    }

    /// The standing at `now_ms`.
    pub fn standing(&self, now_ms: i64) -> Standing {
        let Some(confirmed) = self.confirmed_ms else {
            return Standing::Waiting;
        };
        let age_ms = now_ms.max(self.latest_ms).saturating_sub(confirmed);
        if age_ms > self.max_stale_ms {
            Standing::Expired { age_ms }
        } else {
            Standing::Serving { age_ms }
        }
    }

    /// Whether token requests are decided at `now_ms` (not waiting, not expired).
    pub fn serves(&self, now_ms: i64) -> bool {
        matches!(self.standing(now_ms), Standing::Serving { .. })
    }

    /// The bound, s.
    pub fn max_stale_s(&self) -> i64 {
        self.max_stale_ms / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_serves_until_it_is_older_than_the_bound() {
        let mut freshness = Freshness::new(30);
        assert_eq!(freshness.standing(1_000), Standing::Waiting);
        freshness.confirm(1_000);
        assert!(freshness.serves(31_000));
        assert_eq!(
            freshness.standing(31_001),
            Standing::Expired { age_ms: 30_001 }
        );
        freshness.confirm(40_000);
        assert_eq!(
            freshness.standing(40_500),
            Standing::Serving { age_ms: 500 }
        );
    }

    #[test]
    fn a_clock_that_steps_back_does_not_rejuvenate() {
        let mut freshness = Freshness::new(30);
        freshness.confirm(100_000);
        freshness.observe(140_000);
        // The host clock went back 50 s: the configuration is still 40 s old.
        assert_eq!(
            freshness.standing(90_000),
            Standing::Expired { age_ms: 40_000 }
        );
    }
}
