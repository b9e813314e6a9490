//! tokengate's integration tests: one binary, one module per area.

mod component;
mod gateway;
mod proxy_wasm;
mod vectors;
