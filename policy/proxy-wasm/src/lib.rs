#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Everything but `filter` is host-independent (no proxy-wasm call), so it also builds and
// is unit-tested natively; `filter` binds the shared pipeline (`tokengate_core`) and these
// modules to the proxy-wasm ABI and exists on wasm only.
pub mod backoff;
pub mod config;
pub mod freshness;
pub mod log_line;
pub mod outbox;
pub mod pull;
pub mod rate;
pub mod tokens;

#[cfg(target_arch = "wasm32")]
mod filter;
