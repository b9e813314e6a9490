//! Rate limiting in one gateway's memory: per token (the SQLite backend; PostgreSQL
//! keeps the same buckets in the database, shared by every instance) and per client
//! address for failed authentications (each instance its own). Both are buckets that
//! hold a minute's allowance and refill continuously, so bursts up to the limit pass.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(per_minute: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(per_minute),
            updated: now,
        }
    }

    /// Adds what has dripped in since the last update, up to a minute's allowance.
    fn refill(&mut self, per_minute: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        let capacity = f64::from(per_minute);
        self.tokens = (self.tokens + elapsed * capacity / 60.0).min(capacity);
        self.updated = now;
    }

    /// How long until one whole unit is back.
    fn wait(&self, per_minute: u32) -> Duration {
        Duration::from_secs_f64((1.0 - self.tokens).max(0.0) * 60.0 / f64::from(per_minute))
    }
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
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry(token_id.to_owned())
            .or_insert_with(|| Bucket::full(per_minute, now));
        bucket.refill(per_minute, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(bucket.wait(per_minute))
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

/// Failed authentications per client address: each failure takes one unit of a
/// minute's allowance; while less than one unit is left, every request with
/// credentials from that address is refused before its token is looked up, so a
/// guess that happens to be right is refused too and tells the guesser nothing.
///
/// The check comes before the request and the failure is counted after it, so
/// concurrent guesses can overdraw the allowance; the debt is kept, which holds the
/// address back for as long as its guesses exceeded the rate (the long-run rate is
/// exact). At most `max_addresses` are remembered (the one first seen longest ago
/// is forgotten), so memory is bounded whatever the number of addresses.
#[derive(Debug)]
pub struct AuthFailureLimiter {
    per_minute: u32,
    max_addresses: usize,
    state: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    buckets: HashMap<IpAddr, Bucket>,
    /// Every key of `buckets`, oldest first.
    order: VecDeque<IpAddr>,
}

impl AuthFailureLimiter {
    /// `per_minute` failures per address (0 = no limit), remembering at most
    /// `max_addresses` addresses.
    pub fn new(per_minute: u32, max_addresses: usize) -> Self {
        Self {
            per_minute,
            max_addresses: max_addresses.max(1),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Err(wait)` while `client` has no failure left to spend.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut state = self.state();
        match state.buckets.get_mut(&address_key(client)) {
            Some(bucket) => {
                bucket.refill(self.per_minute, now);
                if bucket.tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(bucket.wait(self.per_minute))
                }
            }
            None => Ok(()),
        }
    }

    /// Counts one failed authentication from `client`; `true` when it spent the
    /// address's last unit (the moment to log that the address is held back).
    pub fn fail(&self, client: IpAddr, now: Instant) -> bool {
        if self.per_minute == 0 {
            return false;
        }
        let key = address_key(client);
        let mut state = self.state();
        if !state.buckets.contains_key(&key) {
            while state.buckets.len() >= self.max_addresses {
                let Some(oldest) = state.order.pop_front() else {
                    break;
                };
                state.buckets.remove(&oldest);
            }
            state.order.push_back(key);
        }
        let bucket = state
            .buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.per_minute, now));
        bucket.refill(self.per_minute, now);
        let had_one = bucket.tokens >= 1.0;
        bucket.tokens -= 1.0;
        had_one && bucket.tokens < 1.0
    }

    /// Addresses remembered.
    pub fn tracked(&self) -> usize {
        self.state().buckets.len()
    }
}

/// What failures are counted by: the address, except that an IPv6 client is its /64
/// (one host usually holds a whole /64) and an IPv4-mapped address is the IPv4 one.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
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

    #[test]
    fn failures_beyond_the_limit_hold_the_address_back_until_they_drip_away() {
        let limiter = AuthFailureLimiter::new(3, 100);
        let now = Instant::now();
        let attacker: IpAddr = [203, 0, 113, 7].into();
        let other: IpAddr = [198, 51, 100, 1].into();
        for n in 1..=3 {
            assert!(limiter.check(attacker, now).is_ok());
            assert_eq!(limiter.fail(attacker, now), n == 3);
        }
        let wait = limiter.check(attacker, now).err().unwrap_or_default();
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20));
        assert!(limiter.check(other, now).is_ok());
        // Guesses that were already in flight overdraw it, and are paid back.
        limiter.fail(attacker, now);
        assert!(
            limiter
                .check(attacker, now + Duration::from_secs(20))
                .is_err()
        );
        assert!(
            limiter
                .check(attacker, now + Duration::from_secs(40))
                .is_ok()
        );
    }

    #[test]
    fn an_ipv6_host_is_its_64_and_mapped_ipv4_is_ipv4() {
        let limiter = AuthFailureLimiter::new(1, 100);
        let now = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1"
            .parse()
            .unwrap_or(IpAddr::V4([0; 4].into()));
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap_or(one);
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(one);
        limiter.fail(one, now);
        assert!(limiter.check(same_64, now).is_err());
        assert!(limiter.check(next_64, now).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap_or(one);
        limiter.fail(mapped, now);
        assert!(limiter.check([192, 0, 2, 1].into(), now).is_err());
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_oldest_address() {
        let limiter = AuthFailureLimiter::new(1, 1000);
        let now = Instant::now();
        let first: IpAddr = [10, 0, 0, 0].into();
        limiter.fail(first, now);
        for n in 1..=5000u32 {
            limiter.fail(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n)), now);
            assert!(limiter.tracked() <= 1000);
        }
        assert_eq!(limiter.tracked(), 1000);
        // The first address was forgotten, the newest is still held back.
        assert!(limiter.check(first, now).is_ok());
        let newest = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + 5000));
        assert!(limiter.check(newest, now).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = AuthFailureLimiter::new(0, 10);
        let now = Instant::now();
        let ip: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..100 {
            assert!(!limiter.fail(ip, now));
        }
        assert!(limiter.check(ip, now).is_ok());
        assert_eq!(limiter.tracked(), 0);
    }
}
