//! Reading a filter's audit batch: the instance and batch id from its headers, one record
//! per NDJSON line (the filter's `"event":"audit"` lines), each checked and bounded as the
//! gateway's own records are before it joins the audit log.

use http::HeaderMap;
use serde::Deserialize;
use tokengate_core::audit::{Reason, Record, Verdict};
use tokengate_core::export::{BATCH_HEADER, DROPPED_HEADER, INSTANCE_HEADER, MAX_BATCH_RECORDS};

/// Largest batch body taken, bytes (a full batch of long records is about 3 MiB).
pub const MAX_BATCH_BYTES: usize = 8 << 20;
/// Longest instance name.
const MAX_INSTANCE_CHARS: usize = 96;
/// Longest free text kept in a field (detail, line text); longer is cut.
const MAX_TEXT_CHARS: usize = 4096;
/// Longest short field (token id, user, address, method, component).
const MAX_SHORT_CHARS: usize = 256;

/// What a batch's headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The instance that sent it.
    pub instance: String,
    /// Its id (a decimal sequence number per instance).
    pub batch: String,
    /// Records the instance dropped before this batch.
    pub dropped: u64,
}

/// Reads the batch headers.
pub fn meta(headers: &HeaderMap) -> Result<Meta, String> {
    let text = |name: &str| -> Option<&str> { headers.get(name).and_then(|v| v.to_str().ok()) };
    let instance = text(INSTANCE_HEADER).unwrap_or_default();
    if instance.is_empty()
        || instance.len() > MAX_INSTANCE_CHARS
        || !instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "{INSTANCE_HEADER} must be 1 to {MAX_INSTANCE_CHARS} letters, digits, `.`, `_` or `-`"
        ));
    }
    let batch = text(BATCH_HEADER).unwrap_or_default();
    if batch.parse::<u64>().is_err() || batch.starts_with('+') {
        return Err(format!("{BATCH_HEADER} must be a decimal number"));
    }
    let dropped = match text(DROPPED_HEADER) {
        None => 0,
        Some(n) => n
            .parse::<u64>()
            .map_err(|_| format!("{DROPPED_HEADER} must be a decimal number"))?,
    };
    Ok(Meta {
        instance: instance.to_owned(),
        batch: batch.to_owned(),
        dropped,
    })
}

/// One line of a batch, as the filter writes it (`log_line::audit_line`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(default)]
    event: Option<String>,
    time: i64,
    #[serde(default)]
    token_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
    client_ip: String,
    method: String,
    url: String,
    decision: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    line_text: Option<String>,
    #[serde(default)]
    upstream_status: Option<u16>,
    #[serde(default)]
    latency_ms: Option<i64>,
    component: String,
}

/// The records of a batch body, each marked `via`; an error names the line.
pub fn records(body: &[u8], via: &str) -> Result<Vec<Record>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the batch is not UTF-8".to_owned())?;
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if records.len() == MAX_BATCH_RECORDS {
            return Err(format!("a batch holds at most {MAX_BATCH_RECORDS} records"));
        }
        let record = record(line, via).map_err(|why| format!("line {}: {why}", n + 1))?;
        records.push(record);
    }
    if records.is_empty() {
        return Err("the batch holds no record".into());
    }
    Ok(records)
}

fn record(text: &str, via: &str) -> Result<Record, String> {
    let line: Line = serde_json::from_str(text).map_err(|err| err.to_string())?;
    if line.event.as_deref().is_some_and(|event| event != "audit") {
        return Err("not an audit record (`event` is not `audit`)".into());
    }
    let decision = match line.decision.as_str() {
        "allow" => Verdict::Allow,
        "deny" => Verdict::Deny,
        other => return Err(format!("decision `{other}` is neither allow nor deny")),
    };
    let reason = line
        .reason
        .map(|name| Reason::from_name(&name).ok_or_else(|| format!("unknown reason `{name}`")))
        .transpose()?;
    // An allowed request is a use of its token, as in the gateway's own records.
    let count_use = decision == Verdict::Allow && line.token_id.is_some();
    let mut record = Record {
        time: line.time,
        token_id: line.token_id.map(|id| cut(&id, MAX_SHORT_CHARS)),
        user: line.user.map(|user| cut(&user, MAX_SHORT_CHARS)),
        client_ip: cut(&line.client_ip, MAX_SHORT_CHARS),
        method: cut(&line.method, MAX_SHORT_CHARS),
        decision,
        reason,
        line: line.line,
        line_text: line.line_text.map(|text| cut(&text, MAX_TEXT_CHARS)),
        status: line.upstream_status,
        latency_ms: line.latency_ms,
        component: cut(&line.component, MAX_SHORT_CHARS),
        count_use,
        via: Some(via.to_owned()),
        ..Record::default()
    };
    // Bounded and redacted as the gateway's own: a filter cannot write a token value in.
    record.set_url(&line.url);
    if let Some(detail) = line.detail {
        record.set_detail(&cut(&detail, MAX_TEXT_CHARS));
    }
    Ok(record)
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(extra: serde_json::Value) -> String {
        let mut line = serde_json::json!({
            "event": "audit", "time": 1, "tokenId": "t1", "user": "admin",
            "clientIp": "192.0.2.1", "method": "GET",
            "url": "https://wiki.example.com/rest/api/space", "decision": "allow",
            "reason": null, "detail": null, "line": 1, "lineText": ".*", "action": null,
            "upstreamStatus": null, "latencyMs": null, "component": "tokengate-proxy-wasm/0.1.0",
        });
        if let (Some(line), Some(extra)) = (line.as_object_mut(), extra.as_object()) {
            line.extend(extra.clone());
        }
        line.to_string()
    }

    #[test]
    fn filter_lines_become_records_that_count() -> Result<(), String> {
        let denied = line(serde_json::json!({
            "decision": "deny", "reason": "no-matching-rule", "upstreamStatus": 403,
        }));
        let body = format!("{}\n\n{denied}\n", line(serde_json::json!({})));
        let records = records(body.as_bytes(), "fleet/i1")?;
        assert_eq!(records.len(), 2);
        assert!(records[0].count_use);
        assert_eq!(records[0].via.as_deref(), Some("fleet/i1"));
        assert!(!records[1].count_use);
        assert_eq!(
            records[1].reason.map(Reason::as_str),
            Some("no-matching-rule")
        );
        assert_eq!(records[1].status, Some(403));
        Ok(())
    }

    #[test]
    fn bad_lines_are_named() {
        for (body, named) in [
            (
                line(serde_json::json!({"decision": "maybe"})),
                "line 1: decision",
            ),
            (
                line(serde_json::json!({"reason": "because"})),
                "unknown reason",
            ),
            (
                line(serde_json::json!({"event": "explain"})),
                "not an audit record",
            ),
            ("{}".to_owned(), "line 1: missing field"),
            (String::new(), "no record"),
        ] {
            let message = records(body.as_bytes(), "v").err().unwrap_or_default();
            assert!(message.contains(named), "{body}: {message}");
        }
        let many = vec![line(serde_json::json!({})); MAX_BATCH_RECORDS + 1].join("\n");
        assert!(records(many.as_bytes(), "v").is_err());
    }

    #[test]
    fn token_values_are_redacted_and_texts_bounded() -> Result<(), String> {
        let token = tokengate_core::token_value::assemble("0123456789abcdefghijABCDEFGHIJ");
        let body = line(serde_json::json!({
            "url": format!("https://w/rest?t={token}"), "detail": format!("{token} {}", "x".repeat(9000)),
        }));
        let record = records(body.as_bytes(), "v")?.remove(0);
        assert!(!record.url.contains(&token));
        let detail = record.detail.unwrap_or_default();
        assert!(!detail.contains(&token));
        assert!(detail.chars().count() <= MAX_TEXT_CHARS);
        Ok(())
    }

    #[test]
    fn headers_name_the_instance_and_batch() {
        let mut headers = HeaderMap::new();
        assert!(meta(&headers).is_err());
        headers.insert(
            INSTANCE_HEADER,
            http::HeaderValue::from_static("node-1.a_b"),
        );
        headers.insert(BATCH_HEADER, http::HeaderValue::from_static("17"));
        assert_eq!(
            meta(&headers),
            Ok(Meta {
                instance: "node-1.a_b".into(),
                batch: "17".into(),
                dropped: 0
            })
        );
        headers.insert(INSTANCE_HEADER, http::HeaderValue::from_static("a/b"));
        assert!(meta(&headers).is_err());
        headers.insert(INSTANCE_HEADER, http::HeaderValue::from_static("a"));
        headers.insert(BATCH_HEADER, http::HeaderValue::from_static("x"));
        assert!(meta(&headers).is_err());
    }
}
