//! tokengate: an API-token gateway. Clients present revocable, restricted tokens
//! instead of passwords; tokengate authenticates them, asks the policy component,
//! writes the audit log and forwards allowed requests to one upstream.
//!
//! [`app`] builds the service from a [`config::Config`]; [`server::serve`] runs it.

#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod audit_sink;
pub mod cli;
pub mod config;
pub mod demo;
pub mod events;
pub mod export;
pub mod filter_api;
mod finish;
pub mod gateway;
pub mod health;
pub mod index;
pub mod lifetime;
pub mod metrics;
mod pipeline;
pub mod policy;
pub mod proxy;
pub mod rate;
pub mod response;
mod router;
pub mod server;
pub mod store;
pub mod token;
pub mod web;
pub mod webhooks;

pub use gateway::{App, app};

/// Now, in epoch milliseconds (the one clock the gateway reads).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time requests are decided at: [`now_ms`] plus an offset that only tests move
/// (expiry, validity and rotation grace periods, without waiting for them).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        now_ms().saturating_add(self.offset.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) `ms` forward.
    pub fn advance(&self, ms: i64) {
        self.offset
            .fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}
