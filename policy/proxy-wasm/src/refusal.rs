//! The responses the filter sends itself, byte for byte the gateway's
//! (`host/src/response.rs`): one status per kind of refusal, decided here only.

use tokengate_policy::credentials::AuthMode;

/// Why the filter answers a request itself.
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
    /// A malformed request (framing).
    #[error("{0}")]
    BadRequest(String),
    /// A method no REST API uses (`CONNECT`, `TRACE`, `get`…).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A body larger than the configured bound.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The filter has no usable configuration: fail closed.
    #[error("the gateway cannot decide right now")]
    Unavailable,
}

/// A response the filter sends in place of the upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u32,
    /// Headers, in order.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The JSON body.
    pub body: String,
}

impl Refusal {
    /// The status this refusal is answered with.
    pub fn status(&self) -> u32 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::BadTarget(_) | Self::BadRequest(_) => 400,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::Unavailable => 503,
        }
    }

    /// The response: `{"status":"error","message":…}` plus the headers the status calls
    /// for. Every 401 is byte-for-byte the same.
    pub fn response(&self, auth_mode: AuthMode) -> LocalResponse {
        let body = serde_json::json!({ "status": "error", "message": self.to_string() });
        let mut headers = vec![("content-type", "application/json; charset=utf-8")];
        if *self == Self::Unauthenticated {
            if auth_mode.basic() {
                headers.push((
                    "www-authenticate",
                    "Basic realm=\"tokengate\", charset=\"UTF-8\"",
                ));
            }
            if auth_mode.bearer() {
                headers.push(("www-authenticate", "Bearer realm=\"tokengate\""));
            }
        }
        LocalResponse {
            status: self.status(),
            headers,
            body: body.to_string(),
        }
    }
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
        let challenges: Vec<_> = response
            .headers
            .iter()
            .filter(|(name, _)| *name == "www-authenticate")
            .collect();
        assert_eq!(challenges.len(), 2);
        assert_eq!(Refusal::Forbidden.response(AuthMode::Both).headers.len(), 1);
    }
}
