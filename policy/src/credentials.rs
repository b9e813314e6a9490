//! Reading token credentials from `Authorization` headers under the configured auth
//! mode: one parser for the gateway and the proxy-wasm filter, so both read a header alike.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Which `Authorization` schemes carry tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// `Basic base64(USER:TOKEN)` only.
    #[default]
    Basic,
    /// `Bearer TOKEN` only (tokens bound to a user).
    Bearer,
    /// Both.
    Both,
}

impl AuthMode {
    /// The name used in configuration: `basic`, `bearer` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Bearer => "bearer",
            Self::Both => "both",
        }
    }

    /// Whether Basic credentials carry tokens.
    pub fn basic(self) -> bool {
        matches!(self, Self::Basic | Self::Both)
    }
    /// Whether Bearer credentials carry tokens.
    pub fn bearer(self) -> bool {
        matches!(self, Self::Bearer | Self::Both)
    }
}

impl std::str::FromStr for AuthMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "basic" => Ok(Self::Basic),
            "bearer" => Ok(Self::Bearer),
            "both" => Ok(Self::Both),
            other => Err(format!("`{other}` is not basic, bearer or both")),
        }
    }
}

/// The credentials of a request that presents a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic base64(USER:TOKEN)`; the user name may be empty (the policy refuses it).
    Basic {
        /// The user name.
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
    /// No header, or a scheme that is not an enabled token scheme.
    Nothing,
    /// Token credentials.
    Token(Credentials),
    /// An enabled scheme whose credentials cannot be read; the reason is for the audit
    /// log only.
    Malformed(&'static str),
}

/// Reads the request's `Authorization` values (every header of that name, in order).
pub fn presented(values: &[&[u8]], mode: AuthMode) -> Presented {
    let value = match values {
        [] => return Presented::Nothing,
        [value] => *value,
        _ => return Presented::Malformed("several Authorization headers"),
    };
    // As `http::HeaderValue::to_str` reads it: visible ASCII, space and tab.
    let visible = value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    let Some(value) = std::str::from_utf8(value).ok().filter(|_| visible) else {
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

    fn basic_header(text: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
        .into_bytes()
    }

    #[test]
    fn basic_splits_at_the_first_colon() {
        let header = basic_header("admin:to:ken");
        assert_eq!(
            presented(&[&header], AuthMode::Basic),
            Presented::Token(Credentials::Basic {
                user: "admin".into(),
                token: "to:ken".into()
            })
        );
    }

    #[test]
    fn disabled_schemes_are_no_credentials() {
        assert_eq!(
            presented(&[b"Bearer abc"], AuthMode::Basic),
            Presented::Nothing
        );
        assert_eq!(
            presented(&[b"bearer abc"], AuthMode::Both),
            Presented::Token(Credentials::Bearer {
                token: "abc".into()
            })
        );
        assert_eq!(presented(&[], AuthMode::Both), Presented::Nothing);
    }

    #[test]
    fn unreadable_credentials_are_malformed() {
        let header = basic_header("admin:t");
        for (values, mode) in [
            (vec![&b"Basic !!!"[..]], AuthMode::Basic),
            (vec![&header[..], &header[..]], AuthMode::Basic),
            (vec![&b"Bearer a b"[..]], AuthMode::Bearer),
            (vec![&b"Bearer \xff"[..]], AuthMode::Bearer),
            (vec![&basic_header("admin:")[..]], AuthMode::Basic),
            (vec![&basic_header("no-colon")[..]], AuthMode::Basic),
        ] {
            assert!(
                matches!(presented(&values, mode), Presented::Malformed(_)),
                "{values:?}"
            );
        }
    }
}
