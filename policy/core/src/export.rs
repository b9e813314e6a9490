//! The proxy-wasm filter's configuration: what `tokengate token export --for proxy-wasm`
//! writes, what the gateway serves at [`CONFIG_PATH`] and what the filter reads, one serde
//! type for all three; and the plugin configuration of a filter that pulls it ([`Live`]).
//!
//! Tokens appear as keyed digests only, with the id of the key; never a value or the key.

use serde::{Deserialize, Serialize};
use tokengate_policy::Scope;
use tokengate_policy::credentials::AuthMode;

/// The format this crate writes and reads (`format` in the JSON).
pub const FORMAT: &str = "tokengate-proxy-wasm/1";
/// Default identity header, as the gateway's.
pub const DEFAULT_IDENTITY_HEADER: &str = "x-forwarded-user";
/// Default largest body buffered for JSON conditions (1 MiB), as the gateway's.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Where the gateway serves the filter configuration (`GET`, `ETag` / `If-None-Match`).
pub const CONFIG_PATH: &str = "/tokengate/filter/config";
/// Where the gateway takes the filters' audit batches (`POST`, NDJSON).
pub const AUDIT_PATH: &str = "/tokengate/filter/audit";
/// The header naming the filter instance that sent an audit batch.
pub const INSTANCE_HEADER: &str = "tokengate-filter-instance";
/// The header carrying an audit batch's id (a decimal sequence number per instance).
pub const BATCH_HEADER: &str = "tokengate-filter-batch";
/// The header carrying how many records the instance dropped since its last batch.
pub const DROPPED_HEADER: &str = "tokengate-filter-dropped";
/// The header carrying the configuration's version on the gateway's answer.
pub const VERSION_HEADER: &str = "tokengate-config-version";

/// Default interval between pulls (and audit batches), ms.
pub const DEFAULT_TICK_MS: u64 = 2000;
/// Default age after which a configuration the gateway no longer confirms is refused, s.
pub const DEFAULT_MAX_STALE_S: u64 = 60;
/// Default call-out timeout, ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// Default number of audit records an instance keeps for the gateway before it drops the
/// oldest.
pub const DEFAULT_BUFFER_RECORDS: usize = 10_000;
/// Default number of audit records in one batch.
pub const DEFAULT_BATCH_RECORDS: usize = 500;
/// Most records the gateway takes in one batch.
pub const MAX_BATCH_RECORDS: usize = 1000;

/// The filter's configuration as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Export {
    /// Always [`FORMAT`].
    pub format: String,
    /// The gateway's token change version the tokens reflect (0: unknown).
    #[serde(default)]
    pub version: i64,
    /// Which `Authorization` schemes carry tokens.
    #[serde(default)]
    pub auth_mode: AuthMode,
    /// Paths tokens may reach.
    #[serde(default, with = "scope_name")]
    pub scope: Scope,
    /// What restriction lines match before the path.
    pub public_base: String,
    /// Peers whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Header naming the user to the upstream.
    #[serde(default = "default_identity_header")]
    pub identity_header: String,
    /// Users whose own tokens may reach the admin API path.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Let requests without token credentials through.
    #[serde(default)]
    pub passthrough: bool,
    /// Pass `Cookie` and `Set-Cookie` of token requests (off: stripped).
    #[serde(default)]
    pub pass_cookies: bool,
    /// Largest body buffered for JSON conditions, bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Requests per minute per token in each filter instance (0: no limit).
    #[serde(default)]
    pub rate_limit_per_minute: u32,
    /// The id of the server key the digests were made with.
    pub key_id: String,
    /// Every live token.
    pub tokens: Vec<ExportedToken>,
    /// Every revoked token, so that the filter audits it as `revoked`.
    #[serde(default)]
    pub revoked: Vec<RevokedToken>,
}

/// A live token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportedToken {
    /// The gateway's id.
    pub id: String,
    /// HMAC-SHA256 of the value under the server key, hex.
    pub digest: String,
    /// The bound user.
    #[serde(default)]
    pub user: Option<String>,
    /// Restriction lines as stored.
    #[serde(default)]
    pub limit_to: String,
    /// IP rules as stored.
    #[serde(default)]
    pub ip: String,
    /// Expiry, epoch ms.
    #[serde(default)]
    pub valid_until: Option<i64>,
    /// A rotated token's end (its grace period's), epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<i64>,
    /// Start of validity, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
}

/// A revoked token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokedToken {
    /// The gateway's id.
    pub id: String,
    /// Its digest, hex.
    pub digest: String,
}

/// The plugin configuration of a filter that pulls its configuration from the gateway
/// and pushes its audit records back: only the link, never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Live {
    /// Always [`FORMAT`].
    pub format: String,
    /// The gateway.
    pub gateway: GatewayLink,
}

/// How a filter reaches the gateway (`dispatch_http_call` to a cluster of the proxy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayLink {
    /// The proxy's cluster of the gateway.
    pub cluster: String,
    /// `:authority` of the call-outs; `None` = the cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Interval between pulls and between audit batches, ms.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// Age of the last configuration the gateway confirmed after which every token request
    /// is refused (503), s.
    #[serde(default = "default_max_stale_s")]
    pub max_stale_s: u64,
    /// Call-out timeout, ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Audit records kept for the gateway; beyond, the oldest are dropped (and counted).
    #[serde(default = "default_buffer_records")]
    pub buffer_records: usize,
    /// Audit records per batch.
    #[serde(default = "default_batch_records")]
    pub batch_records: usize,
}

fn default_identity_header() -> String {
    DEFAULT_IDENTITY_HEADER.into()
}
fn default_body_limit() -> usize {
    DEFAULT_BODY_LIMIT
}
fn default_tick_ms() -> u64 {
    DEFAULT_TICK_MS
}
fn default_max_stale_s() -> u64 {
    DEFAULT_MAX_STALE_S
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}
fn default_buffer_records() -> usize {
    DEFAULT_BUFFER_RECORDS
}
fn default_batch_records() -> usize {
    DEFAULT_BATCH_RECORDS
}

/// `scope` as `rest` or `extender`.
mod scope_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use tokengate_policy::Scope;

    pub fn serialize<S: Serializer>(scope: &Scope, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match scope {
            Scope::Rest => "rest",
            Scope::Extender => "extender",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "rest" => Ok(Scope::Rest),
            "extender" => Ok(Scope::Extender),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["rest", "extender"],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_reads_back_as_written() -> Result<(), serde_json::Error> {
        let export = Export {
            format: FORMAT.into(),
            version: 7,
            auth_mode: AuthMode::Both,
            scope: Scope::Extender,
            public_base: "https://wiki.example.com".into(),
            trusted_proxies: vec!["10.0.0.0/8".into()],
            identity_header: DEFAULT_IDENTITY_HEADER.into(),
            admins: vec!["admin".into()],
            passthrough: false,
            pass_cookies: false,
            body_limit: 1024,
            rate_limit_per_minute: 60,
            key_id: "0011223344556677".into(),
            tokens: vec![ExportedToken {
                id: "t1".into(),
                digest: "00".repeat(32),
                user: None,
                limit_to: String::new(),
                ip: String::new(),
                valid_until: None,
                retire_at: None,
                valid_from: None,
            }],
            revoked: Vec::new(),
        };
        let text = serde_json::to_string(&export)?;
        assert!(text.contains(r#""scope":"extender""#), "{text}");
        assert!(text.contains(r#""authMode":"both""#), "{text}");
        assert_eq!(serde_json::from_str::<Export>(&text)?, export);
        Ok(())
    }

    #[test]
    fn a_live_plugin_configuration_takes_defaults() -> Result<(), serde_json::Error> {
        let live: Live = serde_json::from_str(
            r#"{"format": "tokengate-proxy-wasm/1", "gateway": {"cluster": "tokengate"}}"#,
        )?;
        assert_eq!(live.gateway.tick_ms, DEFAULT_TICK_MS);
        assert_eq!(live.gateway.max_stale_s, DEFAULT_MAX_STALE_S);
        assert_eq!(live.gateway.authority, None);
        Ok(())
    }
}
