//! Per-token rate limiting in one gateway's memory (the SQLite backend; PostgreSQL
//! keeps the same buckets in the database, shared by every instance): a token
//! bucket per token id that holds a minute's allowance and refills continuously,
//! so bursts up to the limit pass.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets by token id.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one of `per_minute` requests from the token's bucket, or says how long
    /// until one is free; 0 = no limit.
    pub fn take(&self, token_id: &str, per_minute: u32, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(token_id.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// Forgets a revoked token's bucket.
    pub fn forget(&self, token_id: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_up_to_the_limit_then_waits() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        assert!(limiter.take("a", 2, now).is_ok());
        assert!(limiter.take("a", 2, now).is_ok());
        let wait = limiter.take("a", 2, now).err().unwrap_or_default();
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30));
        assert!(limiter.take("b", 2, now).is_ok());
        assert!(limiter.take("a", 2, now + Duration::from_secs(30)).is_ok());
    }
}
