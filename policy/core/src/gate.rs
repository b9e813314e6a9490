//! The phases of one request, without I/O: screen the head, authenticate the token, then
//! conclude on the policy's admission. The gateway and the filter drive these phases and
//! only do I/O around them (reading a body, calling the policy, auditing, forwarding).
//!
//! Every way out of a phase is an [`Exit`]: the refusal, why, and the audit record.

use ipnet::IpNet;
use tokengate_policy::credentials::{self, AuthMode, Credentials, Presented};
use tokengate_policy::{
    Admission, AuthScheme, Decision, DenyReason, RawRequest, Scope, TargetError, TokenFacts,
};

use crate::admin_path::{Endpoint, admin_path};
use crate::audit::{Reason, Record, Verdict};
use crate::key::ServerKey;
use crate::refusal::Refusal;
use crate::tokens::{Lookup, TokenTable, TokenView, lookup};

/// The settings both hosts apply to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Which `Authorization` schemes carry tokens.
    pub auth_mode: AuthMode,
    /// Paths tokens may reach.
    pub scope: Scope,
    /// What restriction lines match before the path, e.g. `https://wiki.example.com`.
    pub public_base: String,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Users whose own tokens may use the admin API.
    pub admins: Vec<String>,
    /// Requests without token credentials are forwarded untouched.
    pub passthrough: bool,
}

/// The HTTP version of a request, as far as the pipeline cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: `Host` is optional.
    Http10,
    /// HTTP/1.1: exactly one `Host` (RFC 9112, section 3.2).
    Http11,
    /// HTTP/2 or later: the authority is a pseudo-header; at most one `Host`.
    Http2,
}

/// What the pipeline learns of a request from its head.
#[derive(Debug, Clone)]
pub struct Head<'a> {
    /// The method as sent.
    pub method: &'a str,
    /// The request target as received.
    pub target: &'a str,
    /// The HTTP version.
    pub version: Version,
    /// How many `Host` headers the request has.
    pub hosts: usize,
    /// Whether it has both `Content-Length` and `Transfer-Encoding`.
    pub ambiguous_framing: bool,
    /// Every `Authorization` value.
    pub authorization: Vec<&'a [u8]>,
    /// The client address, as [`crate::client`] resolved it from the peer and the
    /// `X-Forwarded-For` of trusted proxies.
    pub client: String,
    /// Now, epoch ms (the host's clock).
    pub now_ms: i64,
}

/// A way out of the pipeline: what to answer, why, and what to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The answer.
    pub refusal: Refusal,
    /// Why (audit log and metrics).
    pub reason: Reason,
    /// The audit record, for requests that presented token credentials (boxed: refusals
    /// are the rare path, and an `Exit` travels in every phase's `Result`).
    pub record: Option<Box<Record>>,
}

impl Exit {
    fn unaudited(refusal: Refusal, reason: Reason) -> Self {
        Self {
            refusal,
            reason,
            record: None,
        }
    }

    fn audited(refusal: Refusal, reason: Reason, mut record: Record) -> Self {
        record.decision = Verdict::Deny;
        record.reason = Some(reason);
        record.status = Some(refusal.status());
        record.count_use = false;
        record.quota = false;
        record.note_ip = false;
        Self {
            refusal,
            reason,
            record: Some(Box::new(record)),
        }
    }
}

/// What screening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// Token credentials: authenticate them next.
    Token(Credentials),
    /// No token credentials, and passthrough is on: forward untouched.
    Passthrough,
}

/// A request whose token was found; the policy decides next.
#[derive(Debug)]
pub struct Session<T> {
    token: T,
    request: RawRequest,
    record: Record,
}

/// Where an admitted request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the upstream.
    Upstream,
    /// To the admin API (the gateway answers it; the filter forwards it to the gateway).
    /// `None`: a spelling of the admin namespace that names no endpoint (404).
    Admin(Option<Endpoint>),
}

/// An allowed request.
#[derive(Debug)]
pub struct Admitted<T> {
    /// Its token.
    pub token: T,
    /// The user it runs as.
    pub user: String,
    /// Where it goes.
    pub route: Route,
    /// The canonical path (admin requests are routed on it).
    pub path: String,
    /// The path and query forwarded: exactly the checked ones.
    pub path_and_query: String,
    /// Its allow record, written before the request goes anywhere.
    pub record: Record,
}

/// The configured pipeline: settings, server key and what decides.
#[derive(Debug, Clone)]
pub struct Gate {
    settings: Settings,
    key: ServerKey,
    component: String,
}

impl Gate {
    /// A pipeline under `settings` and `key`; `component` names what decides in the audit log.
    pub fn new(settings: Settings, key: ServerKey, component: impl Into<String>) -> Self {
        Self {
            settings,
            key,
            component: component.into(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The server key.
    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    /// The answer to a refusal under this pipeline's auth mode.
    pub fn response(&self, refusal: &Refusal) -> crate::refusal::LocalResponse {
        refusal.response(self.settings.auth_mode)
    }

    /// Checks what every request must satisfy and reads its credentials.
    pub fn screen(&self, head: &Head<'_>) -> Result<Screened, Exit> {
        if head.ambiguous_framing {
            return Err(Exit::unaudited(
                Refusal::BadRequest(
                    "a request must not have both Content-Length and Transfer-Encoding".into(),
                ),
                Reason::AmbiguousFraming,
            ));
        }
        let hosts_ok = match head.version {
            Version::Http11 => head.hosts == 1,
            Version::Http10 | Version::Http2 => head.hosts <= 1,
        };
        if !hosts_ok {
            return Err(Exit::unaudited(
                Refusal::BadRequest("a request needs exactly one Host header".into()),
                Reason::BadHost,
            ));
        }
        match credentials::presented(&head.authorization, self.settings.auth_mode) {
            Presented::Token(credentials) => Ok(Screened::Token(credentials)),
            Presented::Nothing if self.settings.passthrough => {
                if tokengate_policy::methods::is_rest_method(head.method) {
                    Ok(Screened::Passthrough)
                } else {
                    Err(Exit::unaudited(
                        Refusal::MethodNotAllowed,
                        Reason::MethodNotAllowed,
                    ))
                }
            }
            Presented::Nothing => Err(Exit::unaudited(
                Refusal::Unauthenticated,
                Reason::NoCredentials,
            )),
            Presented::Malformed(why) => {
                // Same work as a well-formed failure: the timing tells nothing.
                let _ = self.key.digest("");
                let mut record = self.record(head);
                record.set_detail(why);
                Err(Exit::audited(
                    Refusal::Unauthenticated,
                    Reason::MalformedCredentials,
                    record,
                ))
            }
        }
    }

    /// Finds the presented token in `table`.
    pub fn authenticate<T: TokenTable + ?Sized>(
        &self,
        head: &Head<'_>,
        credentials: Credentials,
        table: &T,
    ) -> Result<Session<T::Token>, Exit> {
        let (scheme, presented_user, value) = match credentials {
            Credentials::Basic { user, token } => (AuthScheme::Basic, Some(user), token),
            Credentials::Bearer { token } => (AuthScheme::Bearer, None, token),
        };
        // Always computed, before any check, so every failure costs the same.
        let digest = self.key.digest(&value);
        let found = lookup(table, &value, &digest);
        let mut record = self.record(head);
        let (reason, token_id) = match found {
            Lookup::Found(token) if token.retire_at().is_some_and(|end| head.now_ms >= end) => {
                (Reason::Rotated, Some(token.id().to_owned()))
            }
            Lookup::Found(token) => {
                record.token_id = Some(token.id().to_owned());
                let request = RawRequest {
                    scheme,
                    presented_user,
                    method: head.method.to_owned(),
                    target: head.target.to_owned(),
                    body: None,
                    client_ip: record.client_ip.clone(),
                    now_ms: head.now_ms,
                };
                return Ok(Session {
                    token,
                    request,
                    record,
                });
            }
            Lookup::Revoked(id) => (Reason::Revoked, Some(id)),
            Lookup::BadChecksum => (Reason::BadChecksum, None),
            Lookup::Unknown => (Reason::UnknownToken, None),
        };
        record.token_id = token_id;
        if let Some(detail) = self.presented_user_note(presented_user.as_deref()) {
            record.set_detail(&detail);
        }
        Err(Exit::audited(Refusal::Unauthenticated, reason, record))
    }

    /// Refuses a request whose credentials were screened without looking its token up
    /// (the filter's tokens are too old to be trusted), audited from its head alone.
    pub fn refuse_unlooked(
        &self,
        head: &Head<'_>,
        refusal: Refusal,
        reason: Reason,
        detail: &str,
    ) -> Exit {
        let mut record = self.record(head);
        record.set_detail(detail);
        Exit::audited(refusal, reason, record)
    }

    /// The record of a request, as far as its head tells.
    fn record(&self, head: &Head<'_>) -> Record {
        let mut record = Record {
            time: head.now_ms,
            client_ip: head.client.clone(),
            method: head.method.to_owned(),
            component: self.component.clone(),
            ..Record::default()
        };
        record.set_url(head.target);
        record
    }

    /// What a failed authentication's record says of the user name the client claimed:
    /// its keyed fingerprint, never the name (it may be a token, swapped for the user).
    fn presented_user_note(&self, presented: Option<&str>) -> Option<String> {
        presented.filter(|user| !user.is_empty()).map(|user| {
            format!(
                "presented user name fingerprint {}",
                self.key.fingerprint(user)
            )
        })
    }

    fn is_admin<T: TokenView>(&self, token: &T, user: &str) -> bool {
        token.user() == Some(user) && self.settings.admins.iter().any(|admin| admin == user)
    }
}

impl<T: TokenView> Session<T> {
    /// The token.
    pub fn token(&self) -> &T {
        &self.token
    }

    /// What the policy is asked about the token.
    pub fn token_facts(&self) -> TokenFacts {
        TokenFacts {
            user: self.token.user().map(str::to_owned),
            valid_until: self.token.valid_until(),
            valid_from: self.token.valid_from(),
        }
    }

    /// What the policy is asked about the request, with its body if the token needs it.
    pub fn request(&self, body: Option<String>) -> RawRequest {
        RawRequest {
            body,
            ..self.request.clone()
        }
    }

    /// Ends the request before a decision: the body could not be read, the policy failed.
    pub fn fail(self, refusal: Refusal, reason: Reason, detail: Option<&str>) -> Exit {
        let mut record = self.record;
        if let Some(detail) = detail {
            record.set_detail(detail);
        }
        Exit::audited(refusal, reason, record)
    }

    /// Concludes on the policy's admission: a refusal, or where the request goes and its
    /// allow record.
    pub fn conclude(
        self,
        gate: &Gate,
        admission: Result<Admission, TargetError>,
    ) -> Result<Admitted<T>, Exit> {
        let Session {
            token,
            request,
            mut record,
        } = self;
        let admission = match admission {
            Ok(admission) => admission,
            Err(refused) => {
                record.set_detail(&refused.detail);
                return Err(Exit::audited(
                    Refusal::BadTarget(refused.detail),
                    Reason::Target(refused.reason),
                    record,
                ));
            }
        };
        let path_and_query = admission.path_and_query();
        record.set_url(&format!("{}{path_and_query}", gate.settings.public_base));
        let allowed = match admission.decision {
            Decision::Allow(allowed) => allowed,
            Decision::Deny(denied) => {
                let refusal = refusal_of(denied.reason);
                let mut detail = denied.detail;
                if refusal == Refusal::Unauthenticated {
                    if let Some(note) = gate.presented_user_note(request.presented_user.as_deref())
                    {
                        detail = format!("{detail}; {note}");
                    }
                } else {
                    record.user = request.presented_user.or(token.user().map(str::to_owned));
                }
                record.set_detail(&detail);
                return Err(Exit::audited(
                    refusal,
                    Reason::Denied(denied.reason),
                    record,
                ));
            }
        };
        record.user = Some(allowed.user.clone());
        let route = match admin_path(&admission.path) {
            None => Route::Upstream,
            Some(_) if !gate.is_admin(&token, &allowed.user) => {
                return Err(Exit::audited(Refusal::Forbidden, Reason::NotAdmin, record));
            }
            Some(endpoint) => Route::Admin(endpoint),
        };
        // An allowed record has no reason unless what follows fails (the upstream).
        record.decision = Verdict::Allow;
        record.line = allowed.line;
        record.line_text = allowed.line.and_then(|n| token.line(n)).map(str::to_owned);
        record.count_use = true;
        record.quota = token.has_quota();
        Ok(Admitted {
            token,
            user: allowed.user,
            route,
            path: admission.path,
            path_and_query,
            record,
        })
    }
}

impl<T> Admitted<T> {
    /// Ends an allowed request after all: its rate limit, or a store that failed.
    pub fn fail(self, refusal: Refusal, reason: Reason) -> Exit {
        Exit::audited(refusal, reason, self.record)
    }
}

/// How a policy refusal is answered: authentication failures alike (401), methods no
/// REST API uses (405), everything else without a hint of the rule (403).
pub fn refusal_of(reason: DenyReason) -> Refusal {
    match reason {
        DenyReason::Expired
        | DenyReason::NotYetValid
        | DenyReason::MissingUser
        | DenyReason::UserMismatch
        | DenyReason::BearerNeedsUser
        | DenyReason::BadUserName => Refusal::Unauthenticated,
        DenyReason::MethodNotAllowed => Refusal::MethodNotAllowed,
        DenyReason::IpNotAllowed | DenyReason::OutOfScope | DenyReason::NoMatchingRule => {
            Refusal::Forbidden
        }
    }
}
