//! The audit record of one decision, with the fields and names of the gateway's audit
//! rows (`host/src/audit.rs`, `AuditRow`), and the debug-level explanation of a decision.
//!
//! Never the token: only its id.

use serde::Serialize;
use tokengate_policy::{CanonicalTarget, LineCheck};

/// `decision` of a request that was let through.
pub const ALLOW: &str = "allow";
/// `decision` of a refused request.
pub const DENY: &str = "deny";
/// What `decidedBy` says: this crate and its version (the gateway records its component
/// digest in `component` instead).
pub const DECIDED_BY: &str = concat!("tokengate-proxy-wasm/", env!("CARGO_PKG_VERSION"));

/// One audit record: one JSON log line (`"event":"audit"`), and one NDJSON line of a
/// call-out batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Always `audit`: tells audit lines from the filter's other log lines.
    pub event: &'static str,
    /// Epoch ms (the host clock).
    pub time: i64,
    /// The token's id; `None` when no token was found.
    pub token_id: Option<String>,
    /// The user the request runs as, or the presented user of a refused one.
    pub user: Option<String>,
    /// The client address as resolved (trusted proxies considered).
    pub client_ip: String,
    /// HTTP method.
    pub method: String,
    /// The canonical URL and `?query`, or the raw target before canonicalisation.
    pub url: String,
    /// [`ALLOW`] or [`DENY`].
    pub decision: &'static str,
    /// Why: a policy deny reason, an authentication failure, `target-…`, …
    pub reason: Option<String>,
    /// A sentence for administrators.
    pub detail: Option<String>,
    /// The restriction line that admitted the request (1-based).
    pub line: Option<u32>,
    /// That line's text.
    pub line_text: Option<String>,
    /// The status the filter answered with, for requests it refused (the gateway's
    /// column name); `None` for forwarded ones.
    pub upstream_status: Option<u32>,
    /// [`DECIDED_BY`].
    pub decided_by: &'static str,
}

impl Record {
    /// A record of a request seen at `time`; the decision fields are set by the caller.
    pub fn new(time: i64, client_ip: String, method: String, url: String) -> Self {
        Self {
            event: "audit",
            time,
            token_id: None,
            user: None,
            client_ip,
            method,
            url,
            decision: DENY,
            reason: None,
            detail: None,
            line: None,
            line_text: None,
            upstream_status: None,
            decided_by: DECIDED_BY,
        }
    }

    /// The record as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The explanation of a decided request (`"event":"explain"`), logged at debug level:
/// the checked target and how each restriction line fared.
pub fn explanation(token_id: &str, target: &CanonicalTarget, lines: &[LineCheck]) -> String {
    let lines: Vec<_> = lines
        .iter()
        .map(|line| {
            serde_json::json!({
                "line": line.line,
                "text": line.text,
                "method": line.method,
                "url": line.url,
                "conditions": line.conditions.iter().map(|c| serde_json::json!({
                    "text": c.text, "matched": c.matched,
                })).collect::<Vec<_>>(),
                "matched": line.matched,
            })
        })
        .collect();
    serde_json::json!({
        "event": "explain",
        "tokenId": token_id,
        "target": {
            "path": target.path,
            "query": target.query,
            "queryPairs": target.query_pairs,
            "url": target.url,
        },
        "lines": lines,
    })
    .to_string()
}
