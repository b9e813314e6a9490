//! The audit record of one token-authenticated request and why it ended as it did: the
//! same fields and names in the gateway's audit table and the filter's NDJSON lines.
//!
//! Never a token value: only its id, and token-shaped text anywhere in a record is redacted.

use serde::{Serialize, Serializer};
use tokengate_policy::{DenyReason, TargetRefusal};

use crate::token_value::redact;

/// Longest URL kept in a record, characters.
pub const MAX_URL_CHARS: usize = 2048;

/// Whether the request was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verdict {
    /// Forwarded (or an admin action done).
    Allow,
    /// Refused.
    #[default]
    Deny,
}

impl Verdict {
    /// `allow` or `deny`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a request ended as it did: what the audit log and the metrics say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No token credentials (metrics only: not audited).
    NoCredentials,
    /// An `Authorization` header that cannot be read.
    MalformedCredentials,
    /// No live or revoked token has this value.
    UnknownToken,
    /// The token was revoked.
    Revoked,
    /// The token was rotated and its grace period is over.
    Rotated,
    /// The token has no uses left.
    QuotaExhausted,
    /// A generated-looking value with a wrong checksum (refused before any lookup).
    BadChecksum,
    /// Too many failed authentications from the address (metrics only).
    AuthRateLimited,
    /// The policy refused the request.
    Denied(DenyReason),
    /// The policy refused the request target.
    Target(TargetRefusal),
    /// An admin path used by someone who is not an administrator.
    NotAdmin,
    /// The token's rate limit.
    RateLimited,
    /// A body over the bound.
    BodyTooLarge,
    /// A body that could not be read.
    BodyUnreadable,
    /// A body that did not arrive within its deadline.
    BodyTimeout,
    /// The policy component failed (fail closed).
    PolicyError,
    /// The audit log could not be written.
    AuditUnavailable,
    /// The audit writer's queue is full.
    AuditBacklog,
    /// The store (rate buckets) could not be reached.
    StoreUnavailable,
    /// The filter's configuration is older than it may be (the gateway has not confirmed
    /// it for `maxStaleS`): every token is refused.
    ConfigStale,
    /// Framing that servers could read in two ways (metrics only).
    AmbiguousFraming,
    /// Not exactly one `Host` (metrics only).
    BadHost,
    /// A method no REST API uses, without a token (metrics only).
    MethodNotAllowed,
    /// Allowed and forwarded.
    Forwarded,
    /// Allowed admin action.
    Admin,
    /// The upstream refused the connection.
    UpstreamConnect,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The upstream broke the exchange.
    UpstreamError,
}

impl Reason {
    /// The kebab-case name stored in the audit log and used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCredentials => "no-credentials",
            Self::MalformedCredentials => "malformed-credentials",
            Self::UnknownToken => "unknown-token",
            Self::Revoked => "revoked",
            Self::Rotated => "rotated",
            Self::QuotaExhausted => "quota-exhausted",
            Self::BadChecksum => "bad-checksum",
            Self::AuthRateLimited => "auth-rate-limited",
            Self::Denied(reason) => reason.as_str(),
            Self::Target(refusal) => target_reason(refusal),
            Self::NotAdmin => "not-admin",
            Self::RateLimited => "rate-limited",
            Self::BodyTooLarge => "body-too-large",
            Self::BodyUnreadable => "body-unreadable",
            Self::BodyTimeout => "body-timeout",
            Self::PolicyError => "policy-error",
            Self::AuditUnavailable => "audit-unavailable",
            Self::AuditBacklog => "audit-backlog",
            Self::StoreUnavailable => "store-unavailable",
            Self::ConfigStale => "config-stale",
            Self::AmbiguousFraming => "ambiguous-framing",
            Self::BadHost => "bad-host",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Forwarded => "forwarded",
            Self::Admin => "admin",
            Self::UpstreamConnect => "upstream-connect",
            Self::UpstreamTimeout => "upstream-timeout",
            Self::UpstreamError => "upstream-error",
        }
    }
}

impl Reason {
    /// Every reason a record can carry, for reading one back by name.
    pub const ALL: &'static [Reason] = &[
        Self::NoCredentials,
        Self::MalformedCredentials,
        Self::UnknownToken,
        Self::Revoked,
        Self::Rotated,
        Self::QuotaExhausted,
        Self::BadChecksum,
        Self::AuthRateLimited,
        Self::Denied(DenyReason::MethodNotAllowed),
        Self::Denied(DenyReason::Expired),
        Self::Denied(DenyReason::NotYetValid),
        Self::Denied(DenyReason::MissingUser),
        Self::Denied(DenyReason::BadUserName),
        Self::Denied(DenyReason::UserMismatch),
        Self::Denied(DenyReason::BearerNeedsUser),
        Self::Denied(DenyReason::IpNotAllowed),
        Self::Denied(DenyReason::OutOfScope),
        Self::Denied(DenyReason::NoMatchingRule),
        Self::Target(TargetRefusal::NotOriginForm),
        Self::Target(TargetRefusal::NonAscii),
        Self::Target(TargetRefusal::BadEscape),
        Self::Target(TargetRefusal::EncodedSlash),
        Self::Target(TargetRefusal::Backslash),
        Self::Target(TargetRefusal::EncodedDotSegment),
        Self::Target(TargetRefusal::AboveRoot),
        Self::Target(TargetRefusal::PathParameter),
        Self::Target(TargetRefusal::EmptySegment),
        Self::Target(TargetRefusal::TooLong),
        Self::NotAdmin,
        Self::RateLimited,
        Self::BodyTooLarge,
        Self::BodyUnreadable,
        Self::BodyTimeout,
        Self::PolicyError,
        Self::AuditUnavailable,
        Self::AuditBacklog,
        Self::StoreUnavailable,
        Self::ConfigStale,
        Self::AmbiguousFraming,
        Self::BadHost,
        Self::MethodNotAllowed,
        Self::Forwarded,
        Self::Admin,
        Self::UpstreamConnect,
        Self::UpstreamTimeout,
        Self::UpstreamError,
    ];

    /// The reason stored under `name` ([`Reason::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|reason| reason.as_str() == name)
    }
}

fn target_reason(refusal: TargetRefusal) -> &'static str {
    match refusal {
        TargetRefusal::NotOriginForm => "target-not-origin-form",
        TargetRefusal::NonAscii => "target-non-ascii",
        TargetRefusal::BadEscape => "target-bad-escape",
        TargetRefusal::EncodedSlash => "target-encoded-slash",
        TargetRefusal::Backslash => "target-backslash",
        TargetRefusal::EncodedDotSegment => "target-encoded-dot-segment",
        TargetRefusal::AboveRoot => "target-above-root",
        TargetRefusal::PathParameter => "target-path-parameter",
        TargetRefusal::EmptySegment => "target-empty-segment",
        TargetRefusal::TooLong => "target-too-long",
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One audit record, with the audit table's column names (camelCase in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Epoch ms.
    pub time: i64,
    /// The token's id (never its value); `None` when no token was found.
    pub token_id: Option<String>,
    /// The user the request ran as. `None` for a failed authentication: the name a client
    /// claims may be a secret (a client that swaps user and token), so only its keyed
    /// fingerprint goes into `detail`.
    pub user: Option<String>,
    /// The client address as resolved (trusted proxies considered).
    pub client_ip: String,
    /// HTTP method.
    pub method: String,
    /// The checked URL (public base + canonical path and query), or the raw target when
    /// it was refused before canonicalisation; token-shaped text redacted.
    pub url: String,
    /// Allowed or refused.
    pub decision: Verdict,
    /// Why.
    pub reason: Option<Reason>,
    /// A sentence for administrators (the policy's explanation of a refusal).
    pub detail: Option<String>,
    /// The restriction line that admitted the request (1-based).
    pub line: Option<u32>,
    /// That line's text.
    pub line_text: Option<String>,
    /// Admin action (`tokenTools.set POST` …) and its result.
    pub action: Option<String>,
    /// The status the client got from the host itself, or the upstream's.
    #[serde(rename = "upstreamStatus")]
    pub status: Option<u16>,
    /// Time from request to response headers, ms.
    pub latency_ms: Option<i64>,
    /// What decided: the policy component's SHA-256, or the filter's name and version.
    pub component: String,
    /// The filter instance that decided, as the gateway names it on intake
    /// (`credential/instance`); `None` for the gateway's own records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Count this as a use of the token (counter, last used time and address).
    #[serde(skip)]
    pub count_use: bool,
    /// The use takes one of the token's limited uses; with none left the commit writes
    /// the record as a `quota-exhausted` refusal instead.
    #[serde(skip)]
    pub quota: bool,
    /// Note the client address among the token's last addresses (the host asks at most
    /// once a minute per token and address).
    #[serde(skip)]
    pub note_ip: bool,
}

impl Record {
    /// Sets `url`, truncated to [`MAX_URL_CHARS`] and with token-shaped text redacted.
    pub fn set_url(&mut self, url: &str) {
        let end = url
            .char_indices()
            .nth(MAX_URL_CHARS)
            .map_or(url.len(), |(at, _)| at);
        self.url = redact(&url[..end]).into_owned();
    }

    /// Sets `detail`, with token-shaped text redacted.
    pub fn set_detail(&mut self, detail: &str) {
        self.detail = Some(redact(detail).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialise_as_stored() {
        let record = Record {
            decision: Verdict::Deny,
            reason: Some(Reason::Target(TargetRefusal::EncodedSlash)),
            ..Record::default()
        };
        let json = serde_json::to_value(&record).unwrap_or_default();
        assert_eq!(json["decision"], "deny");
        assert_eq!(json["reason"], "target-encoded-slash");
        assert!(json.get("countUse").is_none());
        assert_eq!(
            Reason::Denied(DenyReason::NoMatchingRule).as_str(),
            "no-matching-rule"
        );
    }

    #[test]
    fn every_reason_reads_back_by_its_name() {
        // `Denied(MethodNotAllowed)` and `MethodNotAllowed` share a name: either reads
        // back as one that is stored the same.
        for reason in Reason::ALL {
            let read = Reason::from_name(reason.as_str()).map(Reason::as_str);
            assert_eq!(read, Some(reason.as_str()));
        }
        assert_eq!(Reason::from_name("no-such-reason"), None);
    }

    #[test]
    fn urls_are_bounded_and_redacted() {
        let token = crate::token_value::assemble("0123456789abcdefghijABCDEFGHIJ");
        let mut record = Record::default();
        record.set_url(&format!("/rest/x?token={token}"));
        assert!(!record.url.contains(&token));
        record.set_url(&"é".repeat(5000));
        assert_eq!(record.url.chars().count(), MAX_URL_CHARS);
    }
}
