//! tokengate's integration tests: one binary, one module per area.

mod cli;
mod component;
mod gateway;
mod postgres;
mod proxy_wasm;
mod store;
mod vectors;
