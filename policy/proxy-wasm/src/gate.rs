//! One request through the filter, in the gateway's order (`host/src/gateway.rs`):
//! framing, credentials, token, target, body, decision, admin path; host-independent.
//!
//! Each step ends in what the proxy should do and the audit record of it.

use tokengate_policy::{
    AuthScheme, CanonicalTarget, Decision, DenyReason, RequestFacts, TokenFacts, canonicalize,
};

use crate::audit::{self, Record};
use crate::client;
use crate::config::Settings;
use crate::key::{Digest, ServerKey};
use crate::refusal::{LocalResponse, Refusal};
use crate::tokens::{Lookup, Token, TokenTable};
use tokengate_policy::credentials::{self, Credentials, Presented};

/// Where the gateway serves its admin API; the filter forwards token requests there only
/// for configured admins using their own tokens, as the gateway answers them.
pub const ADMIN_PREFIX: &str = "/rest/extender/1.0/tokenTools/";
/// Longest raw target kept in an audit record.
const MAX_AUDITED_TARGET: usize = 2048;

/// The configured filter: settings, key and tokens.
#[derive(Debug)]
pub struct Gate {
    settings: Settings,
    key: ServerKey,
    tokens: TokenTable,
}

/// What the filter learns of a request from its headers and the host.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:path`: the request target as received.
    pub target: &'a str,
    /// Every `Authorization` value.
    pub authorization: Vec<&'a [u8]>,
    /// Every `X-Forwarded-For` value.
    pub forwarded_for: Vec<&'a [u8]>,
    /// Whether `Content-Length` and `Transfer-Encoding` are both present.
    pub ambiguous_framing: bool,
    /// The host's `source.address`.
    pub source_address: Option<&'a str>,
    /// Now, epoch ms, from the host clock.
    pub now_ms: i64,
}

impl<'a> Request<'a> {
    /// Collects the fields from the request headers (lower-case names, as proxies give
    /// them).
    pub fn from_headers(
        headers: &'a [(String, Vec<u8>)],
        source_address: Option<&'a str>,
        now_ms: i64,
    ) -> Self {
        let all = |name: &str| -> Vec<&'a [u8]> {
            headers
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_slice())
                .collect()
        };
        let text = |name: &str| {
            all(name)
                .first()
                .and_then(|value| std::str::from_utf8(value).ok())
                .unwrap_or_default()
        };
        Self {
            method: text(":method"),
            target: text(":path"),
            authorization: all("authorization"),
            forwarded_for: all("x-forwarded-for"),
            ambiguous_framing: !all("content-length").is_empty()
                && !all("transfer-encoding").is_empty(),
            source_address,
            now_ms,
        }
    }
}

/// What the proxy does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Let the request through after these changes (the identity header is removed
    /// from every request before anything else).
    Forward(Forward),
    /// Answer the request with this response.
    Refuse(LocalResponse),
    /// Buffer the body, then call [`Gate::with_body`].
    ReadBody(Box<Pending>),
}

/// The changes made to an allowed request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forward {
    /// The new `:path`: the checked path and query, exactly.
    pub path: Option<String>,
    /// Remove `Authorization` and set the identity header to this user.
    pub user: Option<String>,
}

/// A request waiting for its body before the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    digest: Digest,
    scheme: AuthScheme,
    presented_user: Option<String>,
    method: String,
    target: CanonicalTarget,
    record: Record,
}

/// The request body as the proxy buffered it.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// The whole body.
    Read(&'a [u8]),
    /// More than `bodyLimit` bytes arrived.
    TooLarge,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What the proxy does.
    pub step: Step,
    /// The audit record, when the step ends a token-authenticated request.
    pub record: Option<Record>,
    /// The debug explanation, when asked for and a decision was made.
    pub explanation: Option<String>,
}

impl Outcome {
    fn unaudited(step: Step) -> Self {
        Self {
            step,
            record: None,
            explanation: None,
        }
    }
}

impl Gate {
    /// A gate over compiled tokens.
    pub fn new(settings: Settings, key: ServerKey, tokens: TokenTable) -> Self {
        Self {
            settings,
            key,
            tokens,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The tokens.
    pub fn tokens(&self) -> &TokenTable {
        &self.tokens
    }

    fn refuse(&self, refusal: Refusal, mut record: Record, reason: String) -> Outcome {
        record.decision = audit::DENY;
        record.reason = Some(reason);
        let response = refusal.response(self.settings.auth_mode);
        record.upstream_status = Some(response.status);
        Outcome {
            step: Step::Refuse(response),
            record: Some(record),
            explanation: None,
        }
    }

    /// Handles the request headers; `explain` asks for the debug explanation.
    pub fn with_headers(
        &self,
        request: &Request<'_>,
        end_of_stream: bool,
        explain: bool,
    ) -> Outcome {
        let auth_mode = self.settings.auth_mode;
        // Request smuggling: servers disagree on which framing wins, so refuse both.
        if request.ambiguous_framing {
            let refusal = Refusal::BadRequest(
                "a request must not have both Content-Length and Transfer-Encoding".into(),
            );
            return Outcome::unaudited(Step::Refuse(refusal.response(auth_mode)));
        }
        let credentials = match credentials::presented(&request.authorization, auth_mode) {
            Presented::Nothing if self.settings.passthrough => {
                return Outcome::unaudited(Step::Forward(Forward::default()));
            }
            Presented::Nothing => {
                return Outcome::unaudited(Step::Refuse(
                    Refusal::Unauthenticated.response(auth_mode),
                ));
            }
            Presented::Malformed(why) => {
                // Same work as a well-formed failure: the timing tells nothing.
                let _ = self.key.digest("");
                let mut record = self.record(request, None);
                record.detail = Some(why.into());
                return self.refuse(
                    Refusal::Unauthenticated,
                    record,
                    "malformed-credentials".into(),
                );
            }
            Presented::Token(credentials) => credentials,
        };
        let (scheme, presented_user) = match &credentials {
            Credentials::Basic { user, .. } => (AuthScheme::Basic, Some(user.clone())),
            Credentials::Bearer { .. } => (AuthScheme::Bearer, None),
        };
        let value = credentials.token();
        // Always computed, before any check, so every failure costs the same.
        let digest = self.key.digest(value);
        let token = match self.tokens.find(value, &digest) {
            Lookup::Found(token) => token,
            failed => {
                let mut record = self.record(request, presented_user);
                if let Lookup::Revoked(id) = failed {
                    record.token_id = Some(id.to_owned());
                }
                return self.refuse(Refusal::Unauthenticated, record, failed.reason().into());
            }
        };
        let mut record = self.record(request, presented_user.clone());
        record.token_id = Some(token.id.clone());
        let target = match canonicalize(request.target, &self.settings.public_base) {
            Ok(target) => target,
            Err(refusal) => {
                record.detail = Some(refusal.detail.clone());
                let reason = format!("target-{}", refusal.reason.as_str());
                return self.refuse(Refusal::BadTarget(refusal.detail), record, reason);
            }
        };
        record.url = match &target.query {
            Some(query) => format!("{}?{query}", target.url),
            None => target.url.clone(),
        };
        let pending = Pending {
            digest,
            scheme,
            presented_user,
            method: request.method.to_owned(),
            target,
            record,
        };
        if token.needs_body && !end_of_stream {
            return Outcome::unaudited(Step::ReadBody(Box::new(pending)));
        }
        // No body at all is an empty one, as the gateway reads it.
        let body = token.needs_body.then(String::new);
        self.decide(token, pending, body, explain)
    }

    /// Decides a request whose body was buffered.
    pub fn with_body(&self, pending: Pending, body: Body<'_>, explain: bool) -> Outcome {
        let Some(token) = self.tokens.by_digest(&pending.digest) else {
            // The gate is immutable while a request holds it: not reached.
            return self.refuse(
                Refusal::Unauthenticated,
                pending.record,
                "unknown-token".into(),
            );
        };
        match body {
            Body::TooLarge => self.refuse(
                Refusal::PayloadTooLarge,
                pending.record,
                "body-too-large".into(),
            ),
            // Not UTF-8 means not JSON: the conditions see no body.
            Body::Read(bytes) => {
                let text = std::str::from_utf8(bytes).ok().map(str::to_owned);
                self.decide(token, pending, text, explain)
            }
        }
    }

    fn decide(
        &self,
        token: &Token,
        pending: Pending,
        body: Option<String>,
        explain: bool,
    ) -> Outcome {
        let Pending {
            scheme,
            presented_user,
            method,
            target,
            mut record,
            ..
        } = pending;
        let facts = RequestFacts {
            scheme,
            presented_user,
            method,
            target,
            body,
            client_ip: record.client_ip.clone(),
            now_ms: record.time,
        };
        let token_facts = TokenFacts {
            user: token.user.clone(),
            valid_until: token.valid_until,
        };
        let settings = tokengate_policy::Settings {
            scope: self.settings.scope,
        };
        let explanation = explain
            .then(|| audit::explanation(&token.id, &facts.target, &token.rules.explain(&facts)));
        let allowed = match token.rules.decide(&token_facts, &facts, &settings) {
            Decision::Deny(denied) => {
                let refusal = match denied.reason {
                    DenyReason::MethodNotAllowed => Refusal::MethodNotAllowed,
                    DenyReason::Expired
                    | DenyReason::MissingUser
                    | DenyReason::BadUserName
                    | DenyReason::UserMismatch
                    | DenyReason::BearerNeedsUser => Refusal::Unauthenticated,
                    DenyReason::IpNotAllowed
                    | DenyReason::OutOfScope
                    | DenyReason::NoMatchingRule => Refusal::Forbidden,
                };
                record.detail = Some(denied.detail);
                let outcome = self.refuse(refusal, record, denied.reason.as_str().into());
                return Outcome {
                    explanation,
                    ..outcome
                };
            }
            Decision::Allow(allowed) => allowed,
        };
        record.user = Some(allowed.user.clone());
        // The gateway cannot send such a name either (its forward fails); refuse it here,
        // before a proxy is asked to put a line break into a header.
        if !allowed
            .user
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
        {
            let refusal = Refusal::BadRequest("the user name cannot be sent upstream".into());
            let outcome = self.refuse(refusal, record, "bad-user-name".into());
            return Outcome {
                explanation,
                ..outcome
            };
        }
        if facts.target.path.starts_with(ADMIN_PREFIX) && !self.is_admin(token, &allowed.user) {
            let outcome = self.refuse(Refusal::Forbidden, record, "not-admin".into());
            return Outcome {
                explanation,
                ..outcome
            };
        }
        record.decision = audit::ALLOW;
        record.line = allowed.line;
        record.line_text = allowed.line.and_then(|n| token.line(n)).map(str::to_owned);
        let path = match &facts.target.query {
            Some(query) => format!("{}?{query}", facts.target.path),
            None => facts.target.path.clone(),
        };
        Outcome {
            step: Step::Forward(Forward {
                path: Some(path),
                user: Some(allowed.user),
            }),
            record: Some(record),
            explanation,
        }
    }

    /// Administrators use their own tokens: bound to them, and named in the config.
    fn is_admin(&self, token: &Token, user: &str) -> bool {
        token.user.as_deref() == Some(user)
            && self.settings.admins.iter().any(|admin| admin == user)
    }

    fn record(&self, request: &Request<'_>, user: Option<String>) -> Record {
        let mut record = Record::new(
            request.now_ms,
            client::client_ip(
                request.source_address,
                &request.forwarded_for,
                &self.settings.trusted_proxies,
            ),
            request.method.to_owned(),
            request.target.chars().take(MAX_AUDITED_TARGET).collect(),
        );
        record.user = user;
        record
    }
}
