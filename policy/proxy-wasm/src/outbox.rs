//! The audit records waiting for the gateway: a bounded queue that drops the oldest (and
//! counts them), and the one batch being delivered, sent again unchanged (same id, same
//! records) until the gateway answers, so that its id makes a retry harmless.
//!
//! Failed deliveries back off ([`crate::backoff`]); a batch the gateway refuses for good
//! (4xx other than 401, 403, 408, 429) is dropped and counted, not retried for ever.

use std::collections::VecDeque;

use crate::backoff::Backoff;

/// Longest wait between two attempts, ms.
const MAX_BACKOFF_MS: u64 = 60_000;

/// A batch of audit lines and its id (a sequence number of this instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Unique per instance; the gateway stores a batch once per (instance, id).
    pub id: u64,
    /// NDJSON lines, oldest first.
    pub lines: Vec<String>,
    /// Records this instance dropped before the batch was formed, reported with it.
    pub dropped: u64,
}

impl Batch {
    /// The request body: one line per record.
    pub fn body(&self) -> String {
        let mut body = self.lines.join("\n");
        body.push('\n');
        body
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The gateway stored the batch (or had stored it before).
    Taken,
    /// The gateway will never take it (malformed, too large).
    Refused,
    /// No answer, or one that may change: sent again after a wait.
    Failed,
}

impl Delivery {
    /// What an HTTP status (`None`: no response) means for a batch.
    pub fn of_status(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Self::Taken,
            Some(401 | 403 | 408 | 429) => Self::Failed,
            Some(400..=499) => Self::Refused,
            _ => Self::Failed,
        }
    }
}

/// Records waiting, the batch being delivered and the drop count.
#[derive(Debug)]
pub struct Outbox {
    queued: VecDeque<String>,
    capacity: usize,
    batch_records: usize,
    pending: Option<Batch>,
    /// The call carrying `pending`, and when it was sent.
    in_flight: Option<(u32, i64)>,
    /// After this long without an answer a call counts as failed, ms.
    stuck_ms: i64,
    next_id: u64,
    dropped_total: u64,
    dropped_unreported: u64,
    backoff: Backoff,
}

impl Outbox {
    /// At most `capacity` records wait (plus one batch being delivered), sent
    /// `batch_records` at a time; failed attempts back off from `retry_ms`. A call
    /// unanswered after `stuck_ms` counts as failed.
    pub fn new(
        capacity: usize,
        batch_records: usize,
        retry_ms: u64,
        stuck_ms: u64,
        seed: u64,
    ) -> Self {
        Self {
            queued: VecDeque::new(),
            capacity: capacity.max(1),
            batch_records: batch_records.max(1),
            pending: None,
            in_flight: None,
            stuck_ms: i64::try_from(stuck_ms).unwrap_or(i64::MAX),
            next_id: 1,
            dropped_total: 0,
            dropped_unreported: 0,
            backoff: Backoff::new(retry_ms, MAX_BACKOFF_MS, seed),
        }
    }

    /// Queues a line; `true` when the oldest waiting one was dropped to make room.
    pub fn push(&mut self, line: String) -> bool {
        let dropped = self.queued.len() >= self.capacity;
        if dropped {
            self.queued.pop_front();
            self.count_dropped(1);
        }
        self.queued.push_back(line);
        dropped
    }

    /// The batch to send at `now_ms`: the undelivered one again, or a new one; `None`
    /// while a call is in flight, while backing off, or when nothing waits.
    pub fn next(&mut self, now_ms: i64) -> Option<&Batch> {
        if let Some((_, sent_ms)) = self.in_flight {
            if now_ms.saturating_sub(sent_ms) <= self.stuck_ms {
                return None;
            }
            // The host never answered: count it as failed and send it again later.
            self.in_flight = None;
            self.backoff.failed(now_ms);
        }
        if !self.backoff.ready(now_ms) {
            return None;
        }
        if self.pending.is_none() && !self.queued.is_empty() {
            let take = self.queued.len().min(self.batch_records);
            let batch = Batch {
                id: self.next_id,
                lines: self.queued.drain(..take).collect(),
                dropped: std::mem::take(&mut self.dropped_unreported),
            };
            self.next_id += 1;
            self.pending = Some(batch);
        }
        self.pending.as_ref()
    }

    /// The pending batch went out as `call` at `now_ms`.
    pub fn sent(&mut self, call: u32, now_ms: i64) {
        self.in_flight = Some((call, now_ms));
    }

    /// The host could not send the pending batch at all.
    pub fn not_sent(&mut self, now_ms: i64) {
        self.backoff.failed(now_ms);
    }

    /// Whether `call` carries the pending batch.
    pub fn is_mine(&self, call: u32) -> bool {
        self.in_flight.is_some_and(|(mine, _)| mine == call)
    }

    /// The answer to `call` arrived at `now_ms`; the records it dropped (a refused batch).
    pub fn answered(&mut self, call: u32, delivery: Delivery, now_ms: i64) -> u64 {
        if !self.is_mine(call) {
            return 0;
        }
        self.in_flight = None;
        match delivery {
            Delivery::Taken => {
                self.pending = None;
                self.backoff.succeeded();
                0
            }
            Delivery::Refused => {
                let Some(batch) = self.pending.take() else {
                    return 0;
                };
                let lost = u64::try_from(batch.lines.len()).unwrap_or(u64::MAX);
                // The drops it was to report are reported with the next batch.
                self.dropped_unreported += batch.dropped;
                self.count_dropped(lost);
                self.backoff.succeeded();
                lost
            }
            Delivery::Failed => {
                self.backoff.failed(now_ms);
                0
            }
        }
    }

    fn count_dropped(&mut self, n: u64) {
        self.dropped_total = self.dropped_total.saturating_add(n);
        self.dropped_unreported = self.dropped_unreported.saturating_add(n);
    }

    /// Records waiting (not counting the batch being delivered).
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Records dropped since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped_total
    }

    /// Failed attempts since the last delivery.
    pub fn failures(&self) -> u32 {
        self.backoff.failures()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox() -> Outbox {
        Outbox::new(3, 2, 1_000, 10_000, 7)
    }

    #[test]
    fn a_failed_batch_goes_again_unchanged_after_a_wait() {
        let mut outbox = outbox();
        for n in 0..3 {
            outbox.push(format!("r{n}"));
        }
        let first = outbox.next(0).cloned();
        assert_eq!(
            first.as_ref().map(|b| (b.id, b.lines.clone())),
            Some((1, vec!["r0".into(), "r1".into()]))
        );
        outbox.sent(11, 0);
        assert!(outbox.next(10).is_none(), "one call at a time");
        outbox.answered(11, Delivery::Failed, 100);
        assert!(outbox.next(500).is_none(), "backing off");
        outbox.push("r3".into());
        assert_eq!(
            outbox.next(1_100).cloned(),
            first,
            "the same batch, same id"
        );
        outbox.sent(12, 1_100);
        outbox.answered(12, Delivery::Taken, 1_200);
        let second = outbox.next(1_200).cloned();
        assert_eq!(
            second.map(|b| (b.id, b.lines)),
            Some((2, vec!["r2".into(), "r3".into()]))
        );
    }

    #[test]
    fn beyond_the_bound_the_oldest_are_dropped_and_reported() {
        let mut outbox = outbox();
        let dropped: Vec<bool> = (0..5).map(|n| outbox.push(format!("r{n}"))).collect();
        assert_eq!(dropped, [false, false, false, true, true]);
        assert_eq!(outbox.dropped(), 2);
        let batch = outbox.next(0).cloned();
        assert_eq!(
            batch.map(|b| (b.lines, b.dropped)),
            Some((vec!["r2".into(), "r3".into()], 2))
        );
    }

    #[test]
    fn a_refused_batch_is_dropped_and_counted() {
        let mut outbox = outbox();
        outbox.push("bad".into());
        assert!(outbox.next(0).is_some());
        outbox.sent(5, 0);
        assert_eq!(outbox.answered(5, Delivery::Refused, 10), 1);
        assert_eq!(outbox.dropped(), 1);
        assert!(outbox.next(10).is_none(), "nothing left");
        outbox.push("next".into());
        assert_eq!(outbox.next(10).map(|b| b.dropped), Some(1));
    }

    #[test]
    fn an_unanswered_call_counts_as_failed() {
        let mut outbox = outbox();
        outbox.push("r".into());
        assert!(outbox.next(0).is_some());
        outbox.sent(1, 0);
        assert!(outbox.next(10_000).is_none());
        // Stuck: failed at 10,001, sent again after the first wait.
        assert!(outbox.next(10_001).is_none());
        assert_eq!(outbox.next(11_001).map(|b| b.id), Some(1));
        assert_eq!(outbox.failures(), 1);
    }

    #[test]
    fn statuses_mean_what_the_gateway_says() {
        assert_eq!(Delivery::of_status(Some(200)), Delivery::Taken);
        assert_eq!(Delivery::of_status(Some(400)), Delivery::Refused);
        assert_eq!(Delivery::of_status(Some(413)), Delivery::Refused);
        assert_eq!(Delivery::of_status(Some(401)), Delivery::Failed);
        assert_eq!(Delivery::of_status(Some(503)), Delivery::Failed);
        assert_eq!(Delivery::of_status(None), Delivery::Failed);
    }
}
