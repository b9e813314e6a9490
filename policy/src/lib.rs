#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admit;
mod condition;
pub mod credentials;
mod decision;
mod explain;
mod facts;
mod ip;
mod json_path;
pub mod limits;
mod lines;
pub mod methods;
mod pattern;
mod problem;
mod rule;
mod rules;
mod target;
pub mod user_name;

pub use admit::{Admission, RawRequest};
pub use decision::{Allowed, Decision, Denied, DenyReason};
pub use explain::{ConditionCheck, LineCheck};
pub use facts::{AuthScheme, RequestFacts, Scope, Settings, TokenFacts};
pub use problem::{CompileError, Problem};
pub use rules::{Rules, validate_ip, validate_limit_to};
pub use target::{CanonicalTarget, TargetError, TargetRefusal, canonicalize};
