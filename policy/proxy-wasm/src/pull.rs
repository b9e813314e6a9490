//! Pulling the configuration from the gateway: one request at a time, `If-None-Match`
//! with the version in use, and what each answer means for the filter.
//!
//! A configuration the filter refused is remembered by its `ETag`, so the same bad one is
//! neither compiled nor logged again on every tick; it is still not a confirmation.

/// What an answer to a pull asks of the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `304`: the configuration in use is current (a confirmation).
    Unchanged,
    /// `200` with a configuration to compile; then [`Pull::applied`] or [`Pull::rejected`].
    Apply,
    /// `200` with the configuration refused last time: nothing to do, no confirmation.
    Rejected,
    /// The gateway refused the credential (401, 403).
    Unauthorized(u16),
    /// No answer, or one that confirms nothing.
    Failed(String),
}

/// The state of pulling.
#[derive(Debug, Default)]
pub struct Pull {
    /// `ETag` of the configuration in use.
    in_use: Option<String>,
    /// `ETag` of the last configuration refused.
    rejected: Option<String>,
    /// The call in flight, and when it was sent.
    in_flight: Option<(u32, i64)>,
    /// After this long without an answer a call counts as lost, ms.
    stuck_ms: i64,
}

impl Pull {
    /// Nothing pulled yet; a call unanswered after `stuck_ms` is given up.
    pub fn new(stuck_ms: u64) -> Self {
        Self {
            stuck_ms: i64::try_from(stuck_ms).unwrap_or(i64::MAX),
            ..Self::default()
        }
    }

    /// Whether a pull may go at `now_ms` (none in flight, or one lost).
    pub fn due(&mut self, now_ms: i64) -> bool {
        match self.in_flight {
            Some((_, sent_ms)) if now_ms.saturating_sub(sent_ms) <= self.stuck_ms => false,
            _ => {
                self.in_flight = None;
                true
            }
        }
    }

    /// A pull went out as `call` at `now_ms`.
    pub fn sent(&mut self, call: u32, now_ms: i64) {
        self.in_flight = Some((call, now_ms));
    }

    /// Whether `call` is the pull in flight.
    pub fn is_mine(&self, call: u32) -> bool {
        self.in_flight.is_some_and(|(mine, _)| mine == call)
    }

    /// `If-None-Match` for the next pull.
    pub fn etag(&self) -> Option<&str> {
        self.in_use.as_deref()
    }

    /// The answer to the pull in flight: its status (`None`: no response) and `ETag`.
    pub fn answered(&mut self, status: Option<u16>, etag: Option<&str>) -> Step {
        self.in_flight = None;
        match status {
            Some(304) if self.in_use.is_some() => Step::Unchanged,
            Some(304) => Step::Failed("304 Not Modified, but no configuration is in use".into()),
            Some(200) if etag.is_some() && etag == self.rejected.as_deref() => Step::Rejected,
            Some(200) => Step::Apply,
            Some(status @ (401 | 403)) => Step::Unauthorized(status),
            Some(status) => Step::Failed(format!("the gateway answered {status}")),
            None => Step::Failed("no answer (connection failed or timed out)".into()),
        }
    }

    /// The configuration with `etag` is in use.
    pub fn applied(&mut self, etag: Option<&str>) {
        self.in_use = etag.map(str::to_owned);
        self.rejected = None;
    }

    /// The configuration with `etag` was refused; the one in use stays.
    pub fn rejected(&mut self, etag: Option<&str>) {
        self.rejected = etag.map(str::to_owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mean_what_they_say() {
        let mut pull = Pull::new(10_000);
        assert!(pull.due(0));
        pull.sent(1, 0);
        assert!(!pull.due(5_000), "one at a time");
        assert!(pull.is_mine(1));
        assert!(matches!(pull.answered(Some(304), None), Step::Failed(_)));
        assert_eq!(pull.answered(Some(200), Some("\"v1\"")), Step::Apply);
        pull.applied(Some("\"v1\""));
        assert_eq!(pull.etag(), Some("\"v1\""));
        assert_eq!(pull.answered(Some(304), None), Step::Unchanged);
        assert_eq!(pull.answered(Some(200), Some("\"v2\"")), Step::Apply);
        pull.rejected(Some("\"v2\""));
        assert_eq!(pull.etag(), Some("\"v1\""), "the old one stays");
        assert_eq!(pull.answered(Some(200), Some("\"v2\"")), Step::Rejected);
        assert_eq!(pull.answered(Some(200), Some("\"v3\"")), Step::Apply);
        assert_eq!(pull.answered(Some(401), None), Step::Unauthorized(401));
        assert!(matches!(pull.answered(Some(503), None), Step::Failed(_)));
        assert!(matches!(pull.answered(None, None), Step::Failed(_)));
    }

    #[test]
    fn a_lost_call_is_given_up() {
        let mut pull = Pull::new(10_000);
        pull.sent(1, 0);
        assert!(!pull.due(10_000));
        assert!(pull.due(10_001));
        assert!(!pull.is_mine(1));
    }
}
