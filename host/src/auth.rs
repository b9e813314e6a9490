//! Reading token credentials from the `Authorization` header under the configured
//! auth mode. The parsing is the policy crate's (shared with the proxy-wasm filter);
//! finding and checking the token is the gateway's job.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::config::AuthMode;
pub use tokengate_policy::credentials::{Credentials, Presented};

/// Reads the request's `Authorization` headers (every one of that name).
pub fn presented(headers: &HeaderMap, mode: AuthMode) -> Presented {
    let values: Vec<&[u8]> = headers
        .get_all(AUTHORIZATION)
        .iter()
        .map(|value| value.as_bytes())
        .collect();
    tokengate_policy::credentials::presented(&values, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use http::HeaderValue;

    #[test]
    fn every_authorization_header_is_read() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("admin:to:ken");
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Basic {encoded}"));
        let Ok(value) = value else {
            panic!("a valid header value");
        };
        headers.append(AUTHORIZATION, value.clone());
        assert_eq!(
            presented(&headers, AuthMode::Basic),
            Presented::Token(Credentials::Basic {
                user: "admin".into(),
                token: "to:ken".into()
            })
        );
        headers.append(AUTHORIZATION, value);
        assert!(matches!(
            presented(&headers, AuthMode::Basic),
            Presented::Malformed(_)
        ));
    }
}
