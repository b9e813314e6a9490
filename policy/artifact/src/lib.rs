//! The policy component (`wit/policy.wit`, world `policy`) and the proxy-wasm
//! filter as bytes.
//!
//! Built from `policy/component` and `policy/proxy-wasm` by this crate's build
//! script, so the gateway, the tests and the web page all run the very same bytes.

#![forbid(unsafe_code)]

/// The component: a WebAssembly component with exports only.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tokengate_policy.wasm"));

/// Lower-case hex SHA-256 of [`COMPONENT`]; the gateway's `/healthz` and the
/// web page show it so that people can see both run the same decision.
pub const COMPONENT_SHA256: &str =
    include_str!(concat!(env!("OUT_DIR"), "/tokengate_policy.sha256"));

/// The proxy-wasm filter (`policy/proxy-wasm`): a `wasm32-wasip1` core module for
/// proxy-wasm ABI 0.2.1 hosts such as Envoy, with the same policy code inside.
/// Built with the `proxy-wasm-filter` feature only.
#[cfg(feature = "proxy-wasm-filter")]
pub const PROXY_WASM_FILTER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tokengate_proxy_wasm.wasm"));
