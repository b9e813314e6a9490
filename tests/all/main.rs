//! tokengate's integration tests: one binary, one module per area.

mod component;
mod gateway;
mod postgres;
mod proxy_wasm;
mod store;
mod vectors;
