//! Responses the gateway writes itself: the body type, JSON bodies and the one
//! function that turns every refusal or failure into its HTTP status.
//!
//! Each error knows where it came from (client, token, upstream, gateway), so the
//! status is decided here and nowhere else.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

use crate::config::AuthMode;

/// Errors carried by streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every body the gateway sends or forwards.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A fully known body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Why a body could not be buffered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Longer than the bound.
    #[error("the body is longer than {0} bytes")]
    TooLarge(usize),
    /// The client's stream failed.
    #[error("reading the body: {0}")]
    Stream(String),
}

/// Reads a whole body of at most `limit` bytes. (Hand-written rather than
/// `http_body_util::Limited`, whose boxed error trips rustc's `Send` inference in
/// the request future.)
pub async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, ReadError> {
    let mut buffer = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| ReadError::Stream(err.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limit {
                return Err(ReadError::TooLarge(limit));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

/// A `Retry-After` value: whole seconds, rounded up.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Why the gateway answers a request itself with an error.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Any authentication failure; the precise reason goes to the audit log only.
    #[error("authentication failed")]
    Unauthenticated,
    /// A valid token that may not do this (no hint of which rule).
    #[error("this token is not allowed to access this resource")]
    Forbidden,
    /// A request target that servers would read differently.
    #[error("the request target is not accepted: {0}")]
    BadTarget(String),
    /// A malformed request (framing, JSON, parameters).
    #[error("{0}")]
    BadRequest(String),
    /// Token texts the policy refused, one message per problem.
    #[error("the token is not valid")]
    Invalid(Vec<String>),
    /// Not an admin endpoint.
    #[error("not found")]
    NotFound,
    /// Wrong method for an admin endpoint.
    #[error("method not allowed")]
    MethodNotAllowed,
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
    /// The policy, audit log or store failed: fail closed.
    #[error("the gateway cannot decide right now")]
    Unavailable,
    /// The upstream could not be reached or answered badly.
    #[error("the upstream could not be reached")]
    BadGateway,
    /// The upstream did not answer in time.
    #[error("the upstream did not answer in time")]
    GatewayTimeout,
}

impl GatewayError {
    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::BadTarget(_) | Self::BadRequest(_) | Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } | Self::TooManyFailures { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The response: `{"status":"error","message":…}` plus the headers the status
    /// calls for. Every 401 is byte-for-byte the same.
    pub fn response(&self, auth_mode: AuthMode) -> Response<Body> {
        let mut body = serde_json::json!({ "status": "error", "message": self.to_string() });
        if let Self::Invalid(errors) = self {
            body["errors"] = serde_json::json!(errors);
            body["message"] = serde_json::json!(errors.join("\n"));
        }
        let mut response = json(self.status(), &body);
        let headers = response.headers_mut();
        match self {
            Self::Unauthenticated => {
                if auth_mode.basic() {
                    headers.append(
                        WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"tokengate\", charset=\"UTF-8\""),
                    );
                }
                if auth_mode.bearer() {
                    headers.append(
                        WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"tokengate\""),
                    );
                }
            }
            Self::RateLimited { retry_after_secs } | Self::TooManyFailures { retry_after_secs } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}
