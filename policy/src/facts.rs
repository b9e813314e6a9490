//! The inputs of a decision: what the store knows about the token, what the host knows
//! about the request, and the gateway settings. The caller supplies all of them.

use crate::target::CanonicalTarget;

/// Which paths tokens may reach at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Paths under `/rest/`.
    #[default]
    Rest,
    /// Paths under `/rest/extender/` only.
    Extender,
}

impl Scope {
    /// The path prefix this scope admits.
    pub fn prefix(self) -> &'static str {
        match self {
            Scope::Rest => "/rest/",
            Scope::Extender => "/rest/extender/",
        }
    }
}

/// How the client presented the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Basic base64(user:token)`.
    Basic,
    /// `Authorization: Bearer token`.
    Bearer,
}

/// What the store knows about the token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenFacts {
    /// The user the token is bound to; `None` (or an empty name) = any user, Basic only.
    pub user: Option<String>,
    /// Expiry in epoch milliseconds; `None` = never.
    pub valid_until: Option<i64>,
    /// Start of validity in epoch milliseconds; `None` = from creation.
    pub valid_from: Option<i64>,
}

/// What the host knows about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// How the token was presented.
    pub scheme: AuthScheme,
    /// The user name of a Basic credential; `None` for Bearer. Never repeated in a deny
    /// detail (it may be a token, swapped with the user).
    pub presented_user: Option<String>,
    /// The HTTP method as sent, compared case-sensitively as HTTP defines methods (see
    /// [`methods`](crate::methods)).
    pub method: String,
    /// The canonical target, from [`canonicalize`](crate::canonicalize).
    pub target: CanonicalTarget,
    /// The request body when the token has JSON conditions and the body was read.
    pub body: Option<String>,
    /// The client address (IPv4 or IPv6 text) as the host resolved it.
    pub client_ip: String,
    /// Now, in epoch milliseconds.
    pub now_ms: i64,
}

/// Gateway settings that take part in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    /// Which paths tokens may reach.
    pub scope: Scope,
}
