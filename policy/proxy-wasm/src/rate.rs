//! Per-token rate limits in one filter instance: a bucket per token that holds a minute's
//! allowance and refills continuously, as the gateway's.
//!
//! Each instance (each proxy worker's VM) keeps its own buckets, so across N instances a
//! token gets at most N times its limit; the README says so.

use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// Buckets by token id.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// Takes one of `per_minute` requests from the token's bucket at `now_ms`, or says how
    /// long until one is free; 0 = no limit.
    pub fn take(&mut self, token_id: &str, per_minute: u32, now_ms: i64) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        // The id is copied for a token's first request only, not on every one.
        if !self.buckets.contains_key(token_id) {
            let full = Bucket {
                tokens: capacity,
                updated_ms: now_ms,
            };
            self.buckets.insert(token_id.to_owned(), full);
        }
        let Some(bucket) = self.buckets.get_mut(token_id) else {
            return Err(Duration::ZERO);
        };
        // A clock that steps back adds nothing.
        let elapsed_ms = now_ms.saturating_sub(bucket.updated_ms).max(0);
        let elapsed_s = Duration::from_millis(u64::try_from(elapsed_ms).unwrap_or(0)).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed_s * capacity / 60.0).min(capacity);
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) * 60.0 / capacity,
            ))
        }
    }

    /// Forgets the buckets of tokens that are no longer live.
    pub fn retain(&mut self, live: impl Fn(&str) -> bool) {
        self.buckets.retain(|id, _| live(id));
    }

    /// Tokens with a bucket.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no token has a bucket.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_up_to_the_limit_then_waits() {
        let mut limiter = RateLimiter::default();
        assert!(limiter.take("a", 2, 0).is_ok());
        assert!(limiter.take("a", 2, 0).is_ok());
        let wait = limiter.take("a", 2, 0).err().unwrap_or_default();
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30));
        assert!(limiter.take("b", 2, 0).is_ok());
        assert!(limiter.take("a", 2, 30_000).is_ok());
        assert!(limiter.take("a", 0, 30_000).is_ok(), "0 = no limit");
        limiter.retain(|id| id == "b");
        assert_eq!(limiter.len(), 1);
    }
}
