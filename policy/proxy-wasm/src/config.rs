//! The plugin configuration and the secrets, checked before the filter serves anything:
//! either a whole configuration (the core's export format, `tokengate_core::export`),
//! compiled into a [`Filter`], or the link to a gateway that serves it ([`Link`]).
//!
//! A bad field fails the start (or, pulled, is refused) with a message naming it.

use std::collections::HashMap;
use std::rc::Rc;

use ipnet::IpNet;
use tokengate_core::export::{Export, ExportedToken, GatewayLink, Live, MAX_BATCH_RECORDS};
use tokengate_core::gate::{Gate, Settings as GateSettings};
use tokengate_core::key::{Digest, KeyError, ServerKey};
use tokengate_policy::{CompileError, Rules};

use crate::tokens::{Token, TokenTable};

pub use tokengate_core::export::{DEFAULT_IDENTITY_HEADER, FORMAT};

/// The environment variable that may hold the key (hex), e.g. set in Envoy through
/// `vm_config.environment_variables.host_env_keys` from a secret.
pub const KEY_ENV: &str = "TOKENGATE_FILTER_KEY";
/// The environment variable that may hold the filter credential (`tgf_…`).
pub const CREDENTIAL_ENV: &str = "TOKENGATE_FILTER_CREDENTIAL";
/// What the audit records say decided: this crate and its version.
pub const DECIDED_BY: &str = concat!("tokengate-proxy-wasm/", env!("CARGO_PKG_VERSION"));

/// The configured filter: the shared pipeline, the tokens, and what only the filter does.
#[derive(Debug)]
pub struct Filter {
    /// The gateway's token change version the tokens reflect.
    pub version: i64,
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
    /// Requests per minute per token in this instance (0: no limit).
    pub rate_limit_per_minute: u32,
}

/// What a plugin configuration asks for.
#[derive(Debug)]
pub enum Plugin {
    /// A whole configuration, served as it is.
    Static(Filter),
    /// The gateway's, pulled (and the audit pushed) through the link.
    Live(Link),
}

/// How a live filter reaches the gateway, and what it presents there.
#[derive(Debug, Clone)]
pub struct Link {
    /// Cluster, authority (filled in), tick, staleness bound, timeout, buffer.
    pub gateway: GatewayLink,
    /// The filter credential.
    pub credential: String,
    /// The key the gateway's configurations are compiled under.
    pub key: ServerKey,
}

/// The secrets, each from exactly one place.
#[derive(Clone)]
pub struct Secrets {
    /// The HMAC key.
    pub key: ServerKey,
    /// The filter credential, when given.
    pub credential: Option<String>,
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
    /// No credential for a live filter, or one given twice.
    #[error("the filter credential (VM configuration or {CREDENTIAL_ENV}): {0}")]
    Credential(String),
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

/// The VM configuration when it holds both secrets.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VmSecrets {
    key: Option<String>,
    credential: Option<String>,
}

/// Where the secrets come from: the VM configuration (the key as hex, or
/// `{"key": …, "credential": …}`) and the environment ([`KEY_ENV`], [`CREDENTIAL_ENV`]);
/// each secret from exactly one of them.
pub fn secrets(
    vm_configuration: Option<&str>,
    key_environment: Option<&str>,
    credential_environment: Option<&str>,
) -> Result<Secrets, ConfigError> {
    fn given(text: Option<&str>) -> Option<&str> {
        text.map(str::trim).filter(|text| !text.is_empty())
    }
    let (vm_key, vm_credential) = match given(vm_configuration) {
        Some(text) if text.starts_with('{') => {
            let vm: VmSecrets = serde_json::from_str(text).map_err(|err| {
                ConfigError::Key(format!(
                    "the VM configuration is not {{\"key\", \"credential\"}}: {err}"
                ))
            })?;
            (vm.key, vm.credential)
        }
        text => (text.map(str::to_owned), None),
    };
    let key_text = match (given(vm_key.as_deref()), given(key_environment)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Key(format!(
                "set either the VM configuration or {KEY_ENV}, not both"
            )));
        }
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => return Err(ConfigError::Key("missing".into())),
    };
    let key =
        ServerKey::from_hex(key_text).map_err(|err: KeyError| ConfigError::Key(err.to_string()))?;
    let credential = match (
        given(vm_credential.as_deref()),
        given(credential_environment),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Credential(format!(
                "set either the VM configuration or {CREDENTIAL_ENV}, not both"
            )));
        }
        (Some(text), None) | (None, Some(text)) => Some(text.to_owned()),
        (None, None) => None,
    };
    Ok(Secrets { key, credential })
}

/// Reads the plugin configuration: a whole configuration, compiled under the key, or the
/// link to a gateway (which needs the credential).
pub fn plugin(json: &[u8], secrets: Secrets) -> Result<Plugin, ConfigError> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|err| ConfigError::Json(err.to_string()))?;
    if value.get("gateway").is_none() {
        let written: Export =
            serde_json::from_value(value).map_err(|err| ConfigError::Json(err.to_string()))?;
        return compile(written, secrets.key, None).map(Plugin::Static);
    }
    let live: Live =
        serde_json::from_value(value).map_err(|err| ConfigError::Json(err.to_string()))?;
    if live.format != FORMAT {
        return Err(field(
            "format",
            format!("`{}` is not `{FORMAT}`", live.format),
        ));
    }
    let credential = secrets.credential.ok_or_else(|| {
        ConfigError::Credential(
            "missing: a filter that pulls from the gateway presents a credential \
             (`tokengate filter credential create`)"
                .into(),
        )
    })?;
    if !credential.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::Credential(
            "must be visible ASCII characters".into(),
        ));
    }
    Ok(Plugin::Live(Link {
        gateway: gateway_link(live.gateway)?,
        credential,
        key: secrets.key,
    }))
}

fn gateway_link(written: GatewayLink) -> Result<GatewayLink, ConfigError> {
    if written.cluster.trim().is_empty() {
        return Err(field(
            "gateway.cluster",
            "must name the proxy's cluster of the gateway",
        ));
    }
    if written.tick_ms == 0 {
        return Err(field("gateway.tickMs", "must be above 0"));
    }
    if written.timeout_ms == 0 {
        return Err(field("gateway.timeoutMs", "must be above 0"));
    }
    if u128::from(written.max_stale_s) * 1000 <= u128::from(written.tick_ms) {
        return Err(field(
            "gateway.maxStaleS",
            format!(
                "{} s must be longer than one tick ({} ms), or the configuration expires between pulls",
                written.max_stale_s, written.tick_ms
            ),
        ));
    }
    if written.buffer_records == 0 {
        return Err(field("gateway.bufferRecords", "must be above 0"));
    }
    if !(1..=MAX_BATCH_RECORDS).contains(&written.batch_records) {
        return Err(field(
            "gateway.batchRecords",
            format!("must be 1 to {MAX_BATCH_RECORDS} (what the gateway takes in one batch)"),
        ));
    }
    Ok(GatewayLink {
        authority: Some(written.authority.unwrap_or_else(|| written.cluster.clone())),
        ..written
    })
}

/// Reads, checks and compiles a whole configuration (an export, or the gateway's answer to
/// a pull) under `key`. Tokens whose texts are unchanged since `previous` are not
/// compiled again.
pub fn filter(
    json: &[u8],
    key: ServerKey,
    previous: Option<&Filter>,
) -> Result<Filter, ConfigError> {
    let written: Export =
        serde_json::from_slice(json).map_err(|err| ConfigError::Json(err.to_string()))?;
    compile(written, key, previous)
}

fn compile(
    written: Export,
    key: ServerKey,
    previous: Option<&Filter>,
) -> Result<Filter, ConfigError> {
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
    let tokens = tokens(written.tokens, previous.map(|filter| &filter.tokens))?;
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
        version: written.version,
        decision: tokengate_policy::Settings {
            scope: settings.scope,
        },
        gate: Gate::new(settings, key, DECIDED_BY),
        tokens: TokenTable::new(tokens, revoked),
        identity_header,
        body_limit,
        pass_cookies: written.pass_cookies,
        rate_limit_per_minute: written.rate_limit_per_minute,
    })
}

/// Compiles the written tokens, taking those of `previous` whose texts are unchanged.
fn tokens(
    written: Vec<ExportedToken>,
    previous: Option<&TokenTable>,
) -> Result<Vec<Rc<Token>>, ConfigError> {
    let known: HashMap<&str, &Rc<Token>> = previous
        .map(|table| table.shared().iter().map(|t| (t.id.as_str(), t)).collect())
        .unwrap_or_default();
    let mut tokens = Vec::with_capacity(written.len());
    let mut problems = Vec::new();
    for (i, token) in written.into_iter().enumerate() {
        let digest = digest(&format!("tokens[{i}].digest"), &token.digest)?;
        if let Some(same) = known.get(token.id.as_str()).filter(|known| {
            known.digest == digest
                && known.user == token.user
                && known.limit_to == token.limit_to
                && known.ip == token.ip
                && known.valid_until == token.valid_until
                && known.retire_at == token.retire_at
                && known.valid_from == token.valid_from
        }) {
            tokens.push(Rc::clone(same));
            continue;
        }
        match Rules::compile(&token.limit_to, &token.ip) {
            Ok(rules) => tokens.push(Rc::new(Token {
                id: token.id,
                digest,
                user: token.user,
                needs_body: rules.needs_body(),
                limit_to: token.limit_to,
                ip: token.ip,
                valid_until: token.valid_until,
                retire_at: token.retire_at,
                valid_from: token.valid_from,
                rules,
            })),
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn server_key() -> Result<ServerKey, ConfigError> {
        secrets(Some(KEY), None, None).map(|secrets| secrets.key)
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
        Ok(match filter(&config(extra)?, server_key()?, None) {
            Ok(_) => String::new(),
            Err(err) => err.to_string(),
        })
    }

    #[test]
    fn a_valid_export_compiles() -> Result<(), ConfigError> {
        let gate = filter(&config(serde_json::json!({}))?, server_key()?, None)?;
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
                serde_json::json!({"audit": {"cluster": "a"}}),
                "unknown field `audit`",
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
        let Err(err) = filter(json.to_string().as_bytes(), key, None) else {
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
    fn each_secret_comes_from_exactly_one_place() {
        let key_only = secrets(Some(KEY), None, None);
        assert!(key_only.is_ok_and(|s| s.credential.is_none()));
        assert!(secrets(None, Some(KEY), Some("tgf_x")).is_ok_and(|s| s.credential.is_some()));
        let both = format!(r#"{{"key": "{KEY}", "credential": "tgf_abc"}}"#);
        assert!(
            secrets(Some(&both), None, None)
                .is_ok_and(|s| s.credential.as_deref() == Some("tgf_abc"))
        );
        assert!(matches!(
            secrets(Some(KEY), Some(KEY), None),
            Err(ConfigError::Key(_))
        ));
        assert!(matches!(
            secrets(Some(&both), None, Some("tgf_other")),
            Err(ConfigError::Credential(_))
        ));
        assert!(matches!(
            secrets(None, Some(" "), None),
            Err(ConfigError::Key(_))
        ));
        assert!(matches!(
            secrets(Some("abc"), None, None),
            Err(ConfigError::Key(_))
        ));
        assert!(matches!(
            secrets(Some(r#"{"kee": "x"}"#), None, None),
            Err(ConfigError::Key(_))
        ));
    }

    fn live(gateway: serde_json::Value, credential: Option<&str>) -> Result<Plugin, ConfigError> {
        let json = serde_json::json!({ "format": FORMAT, "gateway": gateway });
        let secrets = Secrets {
            key: server_key()?,
            credential: credential.map(str::to_owned),
        };
        plugin(json.to_string().as_bytes(), secrets)
    }

    #[test]
    fn a_gateway_link_is_checked_and_needs_a_credential() -> Result<(), ConfigError> {
        let Plugin::Live(link) = live(serde_json::json!({"cluster": "tokengate"}), Some("tgf_a"))?
        else {
            panic!("a link is a live plugin");
        };
        assert_eq!(link.gateway.authority.as_deref(), Some("tokengate"));
        assert_eq!(link.credential, "tgf_a");
        assert!(matches!(
            live(serde_json::json!({"cluster": "tokengate"}), None),
            Err(ConfigError::Credential(_))
        ));
        for (gateway, named) in [
            (serde_json::json!({"cluster": " "}), "gateway.cluster:"),
            (
                serde_json::json!({"cluster": "g", "tickMs": 5000, "maxStaleS": 5}),
                "gateway.maxStaleS:",
            ),
            (
                serde_json::json!({"cluster": "g", "batchRecords": 5000}),
                "gateway.batchRecords:",
            ),
            (
                serde_json::json!({"cluster": "g", "tick": 1}),
                "unknown field `tick`",
            ),
        ] {
            let message = live(gateway.clone(), Some("tgf_a"))
                .err()
                .map(|err| err.to_string())
                .unwrap_or_default();
            assert!(message.contains(named), "{gateway}: {message}");
        }
        Ok(())
    }

    #[test]
    fn unchanged_tokens_are_not_compiled_again() -> Result<(), ConfigError> {
        let first = filter(&config(serde_json::json!({}))?, server_key()?, None)?;
        let again = filter(&config(serde_json::json!({}))?, server_key()?, Some(&first))?;
        let same =
            |a: &Filter, b: &Filter| Rc::ptr_eq(&a.tokens.shared()[0], &b.tokens.shared()[0]);
        assert!(same(&first, &again));
        let key = server_key()?;
        let changed = serde_json::json!({"tokens": [{
            "id": "t1", "digest": hex::encode(key.digest("secret-token-value")),
            "user": "admin", "limitTo": "[post].*", "ip": "",
        }]});
        let changed = filter(&config(changed)?, key, Some(&again))?;
        assert!(!same(&again, &changed));
        assert_eq!(changed.tokens.shared()[0].limit_to, "[post].*");
        Ok(())
    }
}
