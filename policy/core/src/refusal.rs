//! Every answer a host gives itself instead of the upstream's, and its status: decided here
//! only, so the gateway and the filter answer a refusal byte for byte alike.
//!
//! Each refusal knows where it came from (client, token, upstream, gateway), so its status
//! follows from its kind (4xx, 502/504, 503).

use tokengate_policy::credentials::AuthMode;

/// The methods a gateway answers `405` with (the REST methods, in `Allow` form).
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Why a host answers a request itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Any authentication failure; the precise reason goes to the audit log only.
    #[error("authentication failed")]
    Unauthenticated,
    /// A valid token that may not do this (no hint of which rule).
    #[error("this token is not allowed to access this resource")]
    Forbidden,
    /// A request target that servers would read differently.
    #[error("the request target is not accepted: {0}")]
    BadTarget(String),
    /// A malformed request (framing, headers, JSON, parameters).
    #[error("{0}")]
    BadRequest(String),
    /// Token texts the policy refused, one message per problem.
    #[error("the token is not valid")]
    Invalid(Vec<String>),
    /// Not an admin endpoint.
    #[error("not found")]
    NotFound,
    /// A method no REST API uses, or the wrong one for an admin endpoint.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client did not send its body in time.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// A body larger than the configured bound.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The token's rate limit is exhausted.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a request will be admitted.
        retry_after_secs: u64,
    },
    /// Too many failed authentications from the client's address.
    #[error("too many failed authentications from this address")]
    TooManyFailures {
        /// Seconds until a request will be looked at again.
        retry_after_secs: u64,
    },
    /// The policy, audit log or store failed or is full: fail closed.
    #[error("the gateway cannot decide right now")]
    Unavailable,
    /// The upstream could not be reached or answered badly.
    #[error("the upstream could not be reached")]
    BadGateway,
    /// The upstream did not answer in time.
    #[error("the upstream did not answer in time")]
    GatewayTimeout,
}

/// A response a host sends in place of the upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, in order (lower-case names).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: String,
}

impl Refusal {
    /// The status this refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::BadTarget(_) | Self::BadRequest(_) | Self::Invalid(_) => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::BodyTimeout => 408,
            Self::PayloadTooLarge => 413,
            Self::RateLimited { .. } | Self::TooManyFailures { .. } => 429,
            Self::Unavailable => 503,
            Self::BadGateway => 502,
            Self::GatewayTimeout => 504,
        }
    }

    /// The response: `{"status":"error","message":…}` plus the headers the status calls
    /// for. Every 401 is byte-for-byte the same.
    pub fn response(&self, auth_mode: AuthMode) -> LocalResponse {
        let mut body = serde_json::json!({ "status": "error", "message": self.to_string() });
        if let Self::Invalid(errors) = self {
            body["errors"] = serde_json::json!(errors);
            body["message"] = serde_json::json!(errors.join("\n"));
        }
        let mut headers = vec![("content-type", "application/json; charset=utf-8".into())];
        match self {
            Self::Unauthenticated => {
                if auth_mode.basic() {
                    headers.push((
                        "www-authenticate",
                        "Basic realm=\"tokengate\", charset=\"UTF-8\"".into(),
                    ));
                }
                if auth_mode.bearer() {
                    headers.push(("www-authenticate", "Bearer realm=\"tokengate\"".into()));
                }
            }
            Self::RateLimited { retry_after_secs } | Self::TooManyFailures { retry_after_secs } => {
                headers.push(("retry-after", retry_after_secs.to_string()));
            }
            Self::MethodNotAllowed => headers.push(("allow", ALLOWED_METHODS.into())),
            Self::BodyTimeout => headers.push(("connection", "close".into())),
            _ => {}
        }
        LocalResponse {
            status: self.status(),
            headers,
            body: body.to_string(),
        }
    }
}

/// A `Retry-After` value: whole seconds, rounded up.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthenticated_names_every_enabled_scheme() {
        let response = Refusal::Unauthenticated.response(AuthMode::Both);
        assert_eq!(response.status, 401);
        assert_eq!(
            response.body,
            r#"{"message":"authentication failed","status":"error"}"#
        );
        let challenges = response
            .headers
            .iter()
            .filter(|(name, _)| *name == "www-authenticate")
            .count();
        assert_eq!(challenges, 2);
        assert_eq!(Refusal::Forbidden.response(AuthMode::Both).headers.len(), 1);
    }

    #[test]
    fn waits_are_whole_seconds_rounded_up() {
        let refusal = Refusal::RateLimited {
            retry_after_secs: retry_after_secs(std::time::Duration::from_millis(1500)),
        };
        let response = refusal.response(AuthMode::Basic);
        assert_eq!(response.status, 429);
        assert!(response.headers.contains(&("retry-after", "2".into())));
    }
}
