//! The plugin configuration (the core's export format, `tokengate_core::export`) and the
//! key, checked and compiled into a [`Filter`] before the filter serves anything.
//!
//! A bad field fails the start with a message naming it.

use ipnet::IpNet;
use tokengate_core::export::{Export, ExportedToken};
use tokengate_core::gate::{Gate, Settings as GateSettings};
use tokengate_core::key::{Digest, KeyError, ServerKey};
use tokengate_policy::{CompileError, Rules};

use crate::tokens::{Token, TokenTable};

pub use tokengate_core::export::{AuditCallout, DEFAULT_IDENTITY_HEADER, FORMAT};

/// The environment variable that may hold the key (hex), e.g. set in Envoy through
/// `vm_config.environment_variables.host_env_keys` from a secret.
pub const KEY_ENV: &str = "TOKENGATE_FILTER_KEY";
/// What the audit records say decided: this crate and its version.
pub const DECIDED_BY: &str = concat!("tokengate-proxy-wasm/", env!("CARGO_PKG_VERSION"));

/// The configured filter: the shared pipeline, the tokens, and what only the filter does.
#[derive(Debug)]
pub struct Filter {
    /// The pipeline core (settings, key).
    pub gate: Gate,
    /// The exported tokens, compiled.
    pub tokens: TokenTable,
    /// The decision settings as the policy takes them.
    pub decision: tokengate_policy::Settings,
    /// Header naming the user to the upstream (lower case).
    pub identity_header: String,
    /// Largest body buffered for JSON conditions.
    pub body_limit: usize,
    /// Pass `Cookie` and `Set-Cookie` of token requests.
    pub pass_cookies: bool,
    /// Audit call-out, if configured.
    pub audit: Option<AuditCallout>,
}

/// Why the filter refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not the expected JSON.
    #[error(
        "the plugin configuration is not the JSON that `tokengate token export --for proxy-wasm` writes: {0}"
    )]
    Json(String),
    /// A field with a value that cannot be used.
    #[error("{field}: {message}")]
    Field {
        /// The JSON field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No key, or an unusable one.
    #[error("the HMAC key (VM configuration or {KEY_ENV}): {0}")]
    Key(String),
    /// The export was made with another key.
    #[error(
        "keyId: the export was made with key {exported}, but the filter was given key {given}: export and key must come from the same gateway data directory"
    )]
    KeyMismatch {
        /// `keyId` of the export.
        exported: String,
        /// Id of the key the filter holds.
        given: String,
    },
    /// Token texts the policy refuses; one message per problem.
    #[error("{}", .problems.join("; "))]
    Tokens {
        /// `token "ID": limitTo line N: …` / `token "ID": ip line N: …`.
        problems: Vec<String>,
    },
}

impl ConfigError {
    /// One message per problem, for one log line each.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Self::Tokens { problems } => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

fn field(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field: field.into(),
        message: message.into(),
    }
}

/// Where the key comes from: the VM configuration, or [`KEY_ENV`]; exactly one of them.
pub fn key(
    vm_configuration: Option<&str>,
    environment: Option<&str>,
) -> Result<ServerKey, ConfigError> {
    fn given(text: Option<&str>) -> Option<&str> {
        text.map(str::trim).filter(|text| !text.is_empty())
    }
    let text = match (given(vm_configuration), given(environment)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Key(format!(
                "set either the VM configuration or {KEY_ENV}, not both"
            )));
        }
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => return Err(ConfigError::Key("missing".into())),
    };
    ServerKey::from_hex(text).map_err(|err: KeyError| ConfigError::Key(err.to_string()))
}

/// Reads, checks and compiles the plugin configuration under `key`.
pub fn filter(json: &[u8], key: ServerKey) -> Result<Filter, ConfigError> {
    let written: Export =
        serde_json::from_slice(json).map_err(|err| ConfigError::Json(err.to_string()))?;
    if written.format != FORMAT {
        return Err(field(
            "format",
            format!("`{}` is not `{FORMAT}`", written.format),
        ));
    }
    if written.key_id != key.id() {
        return Err(ConfigError::KeyMismatch {
            exported: written.key_id,
            given: key.id(),
        });
    }
    let settings = GateSettings {
        auth_mode: written.auth_mode,
        scope: written.scope,
        public_base: public_base(&written.public_base)?,
        trusted_proxies: written
            .trusted_proxies
            .iter()
            .map(|text| trusted_proxy(text))
            .collect::<Result<_, _>>()?,
        admins: written.admins,
        passthrough: written.passthrough,
    };
    let identity_header = identity_header(&written.identity_header)?;
    let body_limit = match written.body_limit {
        0 => return Err(field("bodyLimit", "must be above 0")),
        limit => limit,
    };
    let audit = written.audit.map(audit_callout).transpose()?;
    let tokens = tokens(written.tokens)?;
    let revoked = written
        .revoked
        .into_iter()
        .enumerate()
        .map(|(i, revoked)| {
            Ok((
                revoked.id,
                digest(&format!("revoked[{i}].digest"), &revoked.digest)?,
            ))
        })
        .collect::<Result<_, ConfigError>>()?;
    Ok(Filter {
        decision: tokengate_policy::Settings {
            scope: settings.scope,
        },
        gate: Gate::new(settings, key, DECIDED_BY),
        tokens: TokenTable::new(tokens, revoked),
        identity_header,
        body_limit,
        pass_cookies: written.pass_cookies,
        audit,
    })
}

fn tokens(written: Vec<ExportedToken>) -> Result<Vec<Token>, ConfigError> {
    let mut tokens = Vec::with_capacity(written.len());
    let mut problems = Vec::new();
    for (i, token) in written.into_iter().enumerate() {
        let digest = digest(&format!("tokens[{i}].digest"), &token.digest)?;
        match Rules::compile(&token.limit_to, &token.ip) {
            Ok(rules) => tokens.push(Token {
                id: token.id,
                digest,
                user: token.user,
                needs_body: rules.needs_body(),
                limit_to: token.limit_to,
                valid_until: token.valid_until,
                rules,
            }),
            Err(CompileError { limit_to, ip }) => {
                let id = &token.id;
                problems.extend(
                    limit_to
                        .iter()
                        .map(|p| format!("token \"{id}\": limitTo {}", p.message)),
                );
                problems.extend(
                    ip.iter()
                        .map(|p| format!("token \"{id}\": ip {}", p.message)),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(tokens)
    } else {
        Err(ConfigError::Tokens { problems })
    }
}

fn digest(name: &str, text: &str) -> Result<Digest, ConfigError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| Digest::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| field(name, "must be 64 hex characters (an HMAC-SHA256 digest)"))
}
/// The gateway's rule: `scheme://host[:port][/prefix]`, no query, no trailing slash kept.
fn public_base(text: &str) -> Result<String, ConfigError> {
    let bad = || {
        field(
            "publicBase",
            format!("`{text}` must look like https://host[:port][/prefix]"),
        )
    };
    let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or_default();
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok
        || authority.is_empty()
        || text.contains(['?', '#', ' '])
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn trusted_proxy(text: &str) -> Result<IpNet, ConfigError> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            field(
                "trustedProxies",
                format!("`{text}` is not an address or CIDR range"),
            )
        })
}

/// A token header name; not one the filter or the proxy owns.
fn identity_header(text: &str) -> Result<String, ConfigError> {
    let name = text.to_ascii_lowercase();
    let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token_char) {
        return Err(field(
            "identityHeader",
            format!("`{text}` is not a header name"),
        ));
    }
    const RESERVED: &[&str] = &[
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    ];
    if RESERVED.contains(&name.as_str()) {
        return Err(field("identityHeader", format!("`{text}` is reserved")));
    }
    Ok(name)
}

fn audit_callout(written: AuditCallout) -> Result<AuditCallout, ConfigError> {
    if written.cluster.trim().is_empty() {
        return Err(field(
            "audit.cluster",
            "must name the host's cluster of the audit intake",
        ));
    }
    if !written.path.starts_with('/') {
        return Err(field(
            "audit.path",
            format!("`{}` must start with /", written.path),
        ));
    }
    if written.flush_ms == 0 || written.timeout_ms == 0 {
        return Err(field(
            "audit.flushMs",
            "flushMs and timeoutMs must be above 0",
        ));
    }
    Ok(AuditCallout {
        authority: Some(written.authority.unwrap_or_else(|| written.cluster.clone())),
        ..written
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn server_key() -> Result<ServerKey, ConfigError> {
        key(Some(KEY), None)
    }

    fn config(extra: serde_json::Value) -> Result<Vec<u8>, ConfigError> {
        let key = server_key()?;
        let mut json = serde_json::json!({
            "format": FORMAT,
            "publicBase": "https://wiki.example.com/",
            "keyId": key.id(),
            "tokens": [{
                "id": "t1", "digest": hex::encode(key.digest("secret-token-value")),
                "user": "admin", "limitTo": "[get].*/rest/api/.*", "ip": "", "validUntil": null,
            }],
        });
        if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            json.extend(extra.clone());
        }
        Ok(json.to_string().into_bytes())
    }

    fn refusal(extra: serde_json::Value) -> Result<String, ConfigError> {
        Ok(match filter(&config(extra)?, server_key()?) {
            Ok(_) => String::new(),
            Err(err) => err.to_string(),
        })
    }

    #[test]
    fn a_valid_export_compiles() -> Result<(), ConfigError> {
        let gate = filter(&config(serde_json::json!({}))?, server_key()?)?;
        assert_eq!(gate.gate.settings().public_base, "https://wiki.example.com");
        assert_eq!(gate.identity_header, DEFAULT_IDENTITY_HEADER);
        assert_eq!(gate.tokens.len(), 1);
        Ok(())
    }

    #[test]
    fn bad_fields_are_named() -> Result<(), ConfigError> {
        for (extra, named) in [
            (
                serde_json::json!({"publicBase": "wiki.example.com"}),
                "publicBase:",
            ),
            (
                serde_json::json!({"trustedProxies": ["10.0.0.0/33"]}),
                "trustedProxies:",
            ),
            (
                serde_json::json!({"identityHeader": "Authorization"}),
                "identityHeader:",
            ),
            (
                serde_json::json!({"identityHeader": "bad header"}),
                "identityHeader:",
            ),
            (
                serde_json::json!({"authMode": "digest"}),
                "plugin configuration is not",
            ),
            (serde_json::json!({"tokenz": []}), "unknown field `tokenz`"),
            (serde_json::json!({"format": "other/2"}), "format:"),
            (serde_json::json!({"keyId": "0000"}), "keyId:"),
            (serde_json::json!({"bodyLimit": 0}), "bodyLimit:"),
            (
                serde_json::json!({"audit": {"cluster": "a", "path": "x"}}),
                "audit.path:",
            ),
            (
                serde_json::json!({"revoked": [{"id": "r", "digest": "zz"}]}),
                "revoked[0].digest:",
            ),
        ] {
            let message = refusal(extra.clone())?;
            assert!(message.contains(named), "{extra}: {message}");
        }
        Ok(())
    }

    #[test]
    fn every_token_problem_is_reported() -> Result<(), ConfigError> {
        let key = server_key()?;
        let digest = hex::encode(key.digest("x"));
        let json = serde_json::json!({
            "format": FORMAT, "publicBase": "https://w", "keyId": key.id(),
            "tokens": [
                {"id": "a", "digest": digest, "limitTo": "ok.*\n.*(?=x)", "ip": "10.0.0.1/8"},
                {"id": "b", "digest": digest, "limitTo": "(a)\\1"},
            ],
        });
        let Err(err) = filter(json.to_string().as_bytes(), key) else {
            panic!("bad token texts were accepted");
        };
        let messages = err.messages();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(
            messages[0].starts_with("token \"a\": limitTo line 2: "),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("token \"a\": ip line 1: "),
            "{messages:?}"
        );
        assert!(
            messages[2].starts_with("token \"b\": limitTo line 1: "),
            "{messages:?}"
        );
        Ok(())
    }

    #[test]
    fn the_key_comes_from_exactly_one_place() {
        assert!(key(Some(KEY), None).is_ok());
        assert!(key(None, Some(KEY)).is_ok());
        assert!(matches!(
            key(Some(KEY), Some(KEY)),
            Err(ConfigError::Key(_))
        ));
        assert!(matches!(key(None, Some(" ")), Err(ConfigError::Key(_))));
        assert!(matches!(key(Some("abc"), None), Err(ConfigError::Key(_))));
    }
}
