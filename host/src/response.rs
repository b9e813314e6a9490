//! Responses the gateway writes itself: the body type, JSON bodies, and refusals, whose
//! status, headers and body the shared core decides (`tokengate_core::refusal`).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

pub use tokengate_core::refusal::{LocalResponse, Refusal, retry_after_secs};

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
    /// The whole body did not arrive in time.
    #[error("the body did not arrive within {0:?}")]
    Timeout(std::time::Duration),
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

/// [`read_limited`] within `deadline` for the whole body: a client sending a byte every
/// few seconds cannot hold its connection for minutes.
pub async fn read_within(
    body: Body,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<Bytes, ReadError> {
    tokio::time::timeout(deadline, read_limited(body, limit))
        .await
        .unwrap_or(Err(ReadError::Timeout(deadline)))
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

/// A refusal as the gateway answers it: the core's status, headers and body.
pub fn refusal(refusal: &Refusal, auth_mode: AuthMode) -> Response<Body> {
    local(refusal.response(auth_mode))
}

/// A response the shared core wrote, as hyper sends it.
pub fn local(answer: LocalResponse) -> Response<Body> {
    let mut response = Response::new(full(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    response
}
