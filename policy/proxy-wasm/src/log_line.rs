//! The filter's log lines: the audit record (`"event":"audit"`, the core's record) and
//! the debug-level explanation of a decision (`"event":"explain"`).

use serde::Serialize;
use tokengate_core::audit::Record;
use tokengate_policy::{CanonicalTarget, LineCheck};

/// An audit record as one log line and one NDJSON line of a call-out batch.
#[derive(Serialize)]
struct AuditLine<'a> {
    event: &'static str,
    #[serde(flatten)]
    record: &'a Record,
}

/// The record as one line of JSON.
pub fn audit_line(record: &Record) -> String {
    serde_json::to_string(&AuditLine {
        event: "audit",
        record,
    })
    .unwrap_or_default()
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
