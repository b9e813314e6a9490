#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Everything but `filter` is host-independent (no proxy-wasm call), so it also builds and
// is unit-tested natively; `filter` binds it to the proxy-wasm ABI and exists on wasm only.
pub mod audit;
pub mod client;
pub mod config;
pub mod gate;
pub mod key;
pub mod refusal;
pub mod tokens;

#[cfg(target_arch = "wasm32")]
mod filter;
