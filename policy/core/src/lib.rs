//! The request pipeline that both hosts of the policy drive, without I/O: the gateway
//! (`host/`) and the proxy-wasm filter (`policy/proxy-wasm`).
//!
//! A request passes named phases over one [`gate::Session`]: credentials are screened,
//! the token is found by keyed digest, the policy's admission is concluded on, and every
//! way out is an [`gate::Exit`] with its refusal and audit record. The hosts read bodies,
//! call the policy, write the audit log and forward: only I/O.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin_path;
pub mod audit;
pub mod client;
pub mod export;
pub mod gate;
pub mod headers;
pub mod key;
pub mod refusal;
pub mod token_value;
pub mod tokens;
