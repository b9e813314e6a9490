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
pub mod export;
pub mod filter_api;
mod finish;
pub mod gateway;
pub mod health;
pub mod index;
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

pub use gateway::{App, app};

/// Now, in epoch milliseconds (the one clock the gateway reads).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
