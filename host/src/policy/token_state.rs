//! What the policy threads remember of one token: whether it reads the body, how many of
//! its decisions run at once, and whether its decisions keep hitting the deadline.
//!
//! A token is never edited, so what is learnt about it holds until it is revoked, but for
//! an inline token that overran its deadline: a loaded machine can stall any thread for
//! longer than that, so it leaves the lane only for a while.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Deadline hits in a row after which a token is held back.
const STRIKES: u32 = 3;
/// How long a token that keeps hitting the deadline is held back, ms.
pub(super) const QUARANTINE_MS: i64 = 60_000;

/// How long an inline token that overran its deadline stays on the policy threads, ms: a
/// token holds a worker past the inline deadline at most once in this time.
pub(super) const INLINE_PAUSE_MS: i64 = 60_000;

/// Where a token's decisions run: not known yet, inline on the request's worker, on the
/// policy threads for good, or on the policy threads until its pause ends.
const LANE_UNKNOWN: u8 = 0;
const LANE_INLINE: u8 = 1;
const LANE_THREADS: u8 = 2;
const LANE_PAUSED: u8 = 3;

/// One token's state, kept with the token while it is live.
#[derive(Debug, Default)]
pub struct TokenState {
    needs_body: OnceLock<bool>,
    lane: AtomicU8,
    /// While paused: from when (epoch ms) it may be decided inline again.
    paused_until: AtomicI64,
    in_flight: AtomicUsize,
    released: Notify,
    strikes: AtomicU32,
    quarantined_until: AtomicI64,
}

impl TokenState {
    /// Whether the token reads the body; `None` until a policy thread compiled it.
    pub fn needs_body(&self) -> Option<bool> {
        self.needs_body.get().copied()
    }

    pub(super) fn learn_needs_body(&self, needs_body: bool) {
        let _ = self.needs_body.set(needs_body);
    }

    /// Whether the token proved cheap enough to be decided inline.
    pub(super) fn inline(&self) -> bool {
        self.lane.load(Ordering::Relaxed) == LANE_INLINE
    }

    /// Whether its lane is still to be learnt.
    pub(super) fn lane_unknown(&self) -> bool {
        self.lane.load(Ordering::Relaxed) == LANE_UNKNOWN
    }

    /// Its first measured decision says where it runs from now on.
    pub(super) fn learn_lane(&self, fast: bool) {
        let lane = if fast { LANE_INLINE } else { LANE_THREADS };
        let _ =
            self.lane
                .compare_exchange(LANE_UNKNOWN, lane, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// It ran past the inline deadline: the policy threads take it for
    /// [`INLINE_PAUSE_MS`].
    pub(super) fn pause_inline(&self, now_ms: i64) {
        self.paused_until
            .store(now_ms.saturating_add(INLINE_PAUSE_MS), Ordering::Relaxed);
        self.lane.store(LANE_PAUSED, Ordering::Relaxed);
    }

    /// A cheap decision on a policy thread after its pause ended brings it back inline.
    pub(super) fn resume_inline(&self, now_ms: i64) {
        if self.lane.load(Ordering::Relaxed) == LANE_PAUSED
            && now_ms >= self.paused_until.load(Ordering::Relaxed)
        {
            let _ = self.lane.compare_exchange(
                LANE_PAUSED,
                LANE_INLINE,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Until when (epoch ms) the token is held back, if it is now.
    pub(super) fn quarantined(&self, now_ms: i64) -> Option<i64> {
        let until = self.quarantined_until.load(Ordering::Relaxed);
        (until > now_ms).then_some(until)
    }

    /// A decision ran past its deadline: the third in a row holds the token back.
    pub(super) fn strike(&self, now_ms: i64) {
        if self.strikes.fetch_add(1, Ordering::Relaxed) + 1 >= STRIKES {
            self.strikes.store(0, Ordering::Relaxed);
            self.quarantined_until
                .store(now_ms.saturating_add(QUARANTINE_MS), Ordering::Relaxed);
            tracing::warn!(
                "a token's decisions ran past their deadline {STRIKES} times in a row: its \
                 requests are refused for {} s",
                QUARANTINE_MS / 1000
            );
        }
    }

    /// A decision ended in time.
    pub(super) fn cleared(&self) {
        if self.strikes.load(Ordering::Relaxed) != 0 {
            self.strikes.store(0, Ordering::Relaxed);
        }
    }

    /// Waits until fewer than `limit` of this token's decisions run, then counts one more
    /// until the returned guard drops.
    pub(super) async fn enter(&self, limit: usize) -> InFlight<'_> {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let current = self.in_flight.load(Ordering::Acquire);
            if current < limit
                && self
                    .in_flight
                    .compare_exchange(current, current + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return InFlight(self);
            }
            if current < limit {
                continue;
            }
            released.await;
        }
    }
}

/// One decision of a token in flight.
pub(super) struct InFlight<'a>(&'a TokenState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_deadlines_in_a_row_hold_a_token_back() {
        let state = TokenState::default();
        state.strike(1000);
        state.strike(1000);
        state.cleared();
        state.strike(1000);
        state.strike(1000);
        assert_eq!(state.quarantined(1000), None);
        state.strike(1000);
        assert_eq!(state.quarantined(1000), Some(1000 + QUARANTINE_MS));
        assert_eq!(state.quarantined(1000 + QUARANTINE_MS), None);
    }

    #[test]
    fn an_overrun_pauses_the_inline_lane_for_a_while() {
        let state = TokenState::default();
        state.learn_lane(true);
        assert!(state.inline());
        state.pause_inline(1000);
        assert!(!state.inline());
        state.resume_inline(1000 + INLINE_PAUSE_MS - 1);
        assert!(!state.inline());
        state.resume_inline(1000 + INLINE_PAUSE_MS);
        assert!(state.inline());

        // A token first found slow never comes inline.
        let slow = TokenState::default();
        slow.learn_lane(false);
        slow.resume_inline(i64::MAX);
        assert!(!slow.inline());
    }

    #[tokio::test]
    async fn a_token_runs_at_most_its_limit_at_once() {
        let state = std::sync::Arc::new(TokenState::default());
        let first = state.enter(1).await;
        let waiting = {
            let state = std::sync::Arc::clone(&state);
            tokio::spawn(async move {
                let _second = state.enter(1).await;
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let joined = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        assert!(matches!(joined, Ok(Ok(()))));
    }
}
