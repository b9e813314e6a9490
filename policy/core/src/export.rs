//! The proxy-wasm filter's configuration: what `tokengate token export --for proxy-wasm`
//! writes and what the filter reads, one serde type for both.
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
/// Default interval between audit call-outs, ms.
pub const DEFAULT_AUDIT_FLUSH_MS: u64 = 1000;
/// Default audit call-out timeout, ms.
pub const DEFAULT_AUDIT_TIMEOUT_MS: u64 = 5000;
/// Default path of the audit intake.
pub const DEFAULT_AUDIT_PATH: &str = "/audit/intake";

/// The filter's configuration as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Export {
    /// Always [`FORMAT`].
    pub format: String,
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
    /// Where audit records are also sent, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditCallout>,
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

/// The audit call-out: NDJSON batches to a cluster of the proxy (`dispatch_http_call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditCallout {
    /// The proxy's cluster of the intake.
    pub cluster: String,
    /// Request path of the intake.
    #[serde(default = "default_audit_path")]
    pub path: String,
    /// `:authority` of the call-out; `None` = the cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Interval between batches, ms.
    #[serde(default = "default_audit_flush_ms")]
    pub flush_ms: u64,
    /// Call-out timeout, ms.
    #[serde(default = "default_audit_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_identity_header() -> String {
    DEFAULT_IDENTITY_HEADER.into()
}
fn default_body_limit() -> usize {
    DEFAULT_BODY_LIMIT
}
fn default_audit_path() -> String {
    DEFAULT_AUDIT_PATH.into()
}
fn default_audit_flush_ms() -> u64 {
    DEFAULT_AUDIT_FLUSH_MS
}
fn default_audit_timeout_ms() -> u64 {
    DEFAULT_AUDIT_TIMEOUT_MS
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
            auth_mode: AuthMode::Both,
            scope: Scope::Extender,
            public_base: "https://wiki.example.com".into(),
            trusted_proxies: vec!["10.0.0.0/8".into()],
            identity_header: DEFAULT_IDENTITY_HEADER.into(),
            admins: vec!["admin".into()],
            passthrough: false,
            pass_cookies: false,
            body_limit: 1024,
            audit: None,
            key_id: "0011223344556677".into(),
            tokens: vec![ExportedToken {
                id: "t1".into(),
                digest: "00".repeat(32),
                user: None,
                limit_to: String::new(),
                ip: String::new(),
                valid_until: None,
            }],
            revoked: Vec::new(),
        };
        let text = serde_json::to_string(&export)?;
        assert!(text.contains(r#""scope":"extender""#), "{text}");
        assert!(text.contains(r#""authMode":"both""#), "{text}");
        assert_eq!(serde_json::from_str::<Export>(&text)?, export);
        Ok(())
    }
}
