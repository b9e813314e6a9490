//! Reading token credentials from the `Authorization` header under the configured
//! auth mode. Only parsing: finding and checking the token is the gateway's job.

use base64::Engine as _;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::config::AuthMode;

/// The credentials of a request that presents a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic base64(USER:TOKEN)`: the token replaces the password.
    Basic {
        /// The user name (may be empty: the policy refuses it as `missing-user`).
        user: String,
        /// The token.
        token: String,
    },
    /// `Bearer TOKEN`.
    Bearer {
        /// The token.
        token: String,
    },
}

impl Credentials {
    /// The presented token value.
    pub fn token(&self) -> &str {
        match self {
            Self::Basic { token, .. } | Self::Bearer { token } => token,
        }
    }
}

/// What the `Authorization` header says about token credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// No header, or a scheme that is not an enabled token scheme: the request
    /// carries no token (401, or forwarded untouched in passthrough mode).
    Nothing,
    /// Token credentials.
    Token(Credentials),
    /// An enabled scheme whose credentials cannot be read; the reason is for the
    /// audit log only.
    Malformed(&'static str),
}

/// Reads the request's `Authorization` header.
pub fn presented(headers: &HeaderMap, mode: AuthMode) -> Presented {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Malformed("several Authorization headers");
    }
    let Ok(value) = value.to_str() else {
        return Presented::Malformed("Authorization is not visible ASCII");
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim_matches(' ');
    if scheme.eq_ignore_ascii_case("basic") && mode.basic() {
        basic(rest)
    } else if scheme.eq_ignore_ascii_case("bearer") && mode.bearer() {
        if rest.is_empty() || rest.contains(' ') {
            Presented::Malformed("bearer credentials are not one token")
        } else {
            Presented::Token(Credentials::Bearer {
                token: rest.to_owned(),
            })
        }
    } else {
        Presented::Nothing
    }
}

fn basic(encoded: &str) -> Presented {
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return Presented::Malformed("basic credentials are not base64");
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Presented::Malformed("basic credentials are not UTF-8");
    };
    // The user name cannot contain a colon; the token may (RFC 7617).
    let Some((user, token)) = decoded.split_once(':') else {
        return Presented::Malformed("basic credentials have no colon");
    };
    if token.is_empty() {
        return Presented::Malformed("basic credentials have an empty token");
    }
    Presented::Token(Credentials::Basic {
        user: user.to_owned(),
        token: token.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn basic_splits_at_the_first_colon() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("admin:to:ken");
        assert_eq!(
            presented(&with(&format!("Basic {encoded}")), AuthMode::Basic),
            Presented::Token(Credentials::Basic {
                user: "admin".into(),
                token: "to:ken".into()
            })
        );
    }

    #[test]
    fn disabled_schemes_are_no_credentials() {
        assert_eq!(
            presented(&with("Bearer abc"), AuthMode::Basic),
            Presented::Nothing
        );
        assert_eq!(
            presented(&with("Bearer abc"), AuthMode::Both),
            Presented::Token(Credentials::Bearer {
                token: "abc".into()
            })
        );
        assert!(matches!(
            presented(&with("Basic !!!"), AuthMode::Basic),
            Presented::Malformed(_)
        ));
    }
}
