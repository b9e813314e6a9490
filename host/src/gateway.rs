//! The request pipeline: authenticate, canonicalise, decide, audit, count, forward.
//! [`app`] builds it from a [`Config`] so tests drive the very service `serve` runs.
//!
//! Every refusal is decided here and answered through [`GatewayError::response`].

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::BodyExt;

use crate::audit::{self, AuditLog, AuditRecord, Completion};
use crate::auth::{self, Credentials, Presented};
use crate::config::Config;
use crate::index::Token;
use crate::metrics::Metrics;
use crate::policy::{
    AuthScheme, CanonicalTarget, Decision, DenyReason, PolicyError, PolicyRuntime, RequestFacts,
    Settings, TokenFacts, TokenRules,
};
use crate::proxy::{Identity, Proxy, ProxyError};
use crate::rate::AuthFailureLimiter;
use crate::response::{
    Body, BoxError, GatewayError, ReadError, full, read_limited, retry_after_secs,
};
use crate::store::{Store, StoreError};
use crate::token;

/// Where the admin API lives (the seed's paths).
pub const ADMIN_PREFIX: &str = "/rest/extender/1.0/tokenTools/";
/// Health endpoint (no authentication).
pub const HEALTH_PATH: &str = "/healthz";
/// Metrics endpoint (no authentication).
pub const METRICS_PATH: &str = "/metrics";

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The data directory or database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policy component.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The upstream client.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// Everything a request needs, shared by all connections.
pub struct Gateway {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) audit: AuditLog,
    pub(crate) policy: PolicyRuntime,
    pub(crate) proxy: Proxy,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) auth_failures: AuthFailureLimiter,
}

/// The gateway service; cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Gateway>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds the gateway: opens the store, starts the audit writer, loads the policy
/// component and the upstream client.
pub async fn app(config: Config) -> Result<App, AppError> {
    let policy = PolicyRuntime::with_memory_limit(config.policy_memory)?;
    app_with_policy(config, policy).await
}

/// [`app`] with a policy runtime the caller already loaded (shared by tests); its
/// memory limit applies, not `config.policy_memory`.
pub async fn app_with_policy(config: Config, policy: PolicyRuntime) -> Result<App, AppError> {
    let store = Store::open(&config.data_dir, &config.store).await?;
    store.backend().set_audit_sync(config.audit_sync).await?;
    let metrics = Arc::new(Metrics::default());
    let audit = AuditLog::start(store.backend(), Arc::clone(&metrics));
    let proxy = Proxy::new(&config)?;
    let retention = config.audit_retention;
    let auth_failures = AuthFailureLimiter::new(
        config.auth_failure_limit_per_minute,
        crate::config::limits::AUTH_FAILURE_ADDRESSES,
    );
    let inner = Arc::new(Gateway {
        config,
        store,
        audit,
        policy,
        proxy,
        metrics,
        auth_failures,
    });
    if let Some(keep) = retention {
        tokio::spawn(prune_audit(Arc::downgrade(&inner), keep));
    }
    Ok(App { inner })
}

/// Deletes audit records older than `keep`, at start and then hourly, until the
/// gateway is dropped.
async fn prune_audit(gateway: std::sync::Weak<Gateway>, keep: std::time::Duration) {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let mut every = tokio::time::interval(crate::config::limits::AUDIT_PRUNE);
    loop {
        every.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        let before = crate::now_ms().saturating_sub(keep_ms);
        match gateway.store.prune_audit(before).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit records past retention deleted"),
            Err(err) => tracing::warn!(error = %err, "audit retention failed; retrying later"),
        }
    }
}

/// What one request came to, for the audit log and metrics.
struct Outcome {
    response: Response<Body>,
    decision: &'static str,
    reason: String,
}

/// Facts gathered about a token-authenticated request, for its audit record.
struct Seen {
    time: i64,
    client_ip: IpAddr,
    method: String,
    url: String,
    token_id: Option<String>,
    user: Option<String>,
}

impl Seen {
    fn record(&self, decision: &'static str, reason: Option<String>) -> AuditRecord {
        AuditRecord {
            time: self.time,
            token_id: self.token_id.clone(),
            user: self.user.clone(),
            client_ip: self.client_ip.to_string(),
            method: self.method.clone(),
            url: self.url.clone(),
            decision,
            reason,
            ..AuditRecord::default()
        }
    }
}

impl App {
    /// The configuration the gateway runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The token store (the demo and tests create tokens through it).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The policy runtime.
    pub fn policy(&self) -> &PolicyRuntime {
        &self.inner.policy
    }

    /// Picks up tokens created or revoked by another process (the CLI, another
    /// instance): every `TOKEN_REFRESH`, and at once when the database signals.
    pub async fn watch_tokens(&self) {
        let mut signals = self.inner.store.watch();
        let mut every = tokio::time::interval(crate::config::limits::TOKEN_REFRESH);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                Some(()) = async {
                    match signals.as_mut() {
                        Some(signals) => signals.recv().await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            if let Err(err) = self.inner.store.refresh().await {
                tracing::warn!(error = %err, "catching up on token changes failed");
            }
        }
    }

    /// Commits pending audit records and stops the writer (graceful shutdown).
    pub async fn shutdown(&self) {
        self.inner.audit.shutdown().await;
    }

    /// Answers one request from `peer`. The future is boxed and `'static` so that
    /// hyper's connection tasks can hold it without higher-ranked `Send` proofs.
    pub fn handle<B>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let app = self.clone();
        let request = request.map(|body| body.map_err(Into::into).boxed_unsync());
        Box::pin(async move { app.answer(request, peer).await })
    }

    async fn answer(&self, request: Request<Body>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let outcome = self.route(request, peer.ip(), started).await;
        self.inner
            .metrics
            .observe_request(outcome.decision, &outcome.reason, started.elapsed());
        outcome.response
    }

    fn refuse(
        &self,
        error: GatewayError,
        decision: &'static str,
        reason: impl Into<String>,
    ) -> Outcome {
        Outcome {
            response: error.response(self.inner.config.auth_mode),
            decision,
            reason: reason.into(),
        }
    }

    async fn route(&self, request: Request<Body>, peer: IpAddr, started: Instant) -> Outcome {
        let gateway = &*self.inner;
        let path = request.uri().path();
        if request.method() == Method::GET && path == HEALTH_PATH {
            return Outcome {
                response: crate::health::response(gateway).await,
                decision: "internal",
                reason: "health".into(),
            };
        }
        if request.method() == Method::GET && path == METRICS_PATH {
            let mut response =
                Response::new(full(gateway.metrics.render(gateway.store.live_tokens())));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return Outcome {
                response,
                decision: "internal",
                reason: "metrics".into(),
            };
        }
        if matches!(*request.method(), Method::GET | Method::HEAD)
            && let Some(response) = crate::web::asset(path)
        {
            return Outcome {
                response,
                decision: "internal",
                reason: "web".into(),
            };
        }
        // Requests with both Content-Length and Transfer-Encoding never get here as
        // such: hyper's HTTP/1 parser lets chunked win, drops the length and closes
        // the connection after the answer; HTTP/2 forbids Transfer-Encoding.
        match auth::presented(request.headers(), gateway.config.auth_mode) {
            Presented::Nothing if gateway.config.passthrough => {
                self.passthrough(request, peer).await
            }
            Presented::Nothing => {
                self.refuse(GatewayError::Unauthenticated, audit::DENY, "no-credentials")
            }
            presented => {
                self.with_credentials(request, peer, started, presented)
                    .await
            }
        }
    }

    /// A request that presents credentials, well-formed or not. An address with too
    /// many recent failed authentications is refused before any lookup (429), and
    /// every 401 counts as one more failure.
    async fn with_credentials(
        &self,
        request: Request<Body>,
        peer: IpAddr,
        started: Instant,
        presented: Presented,
    ) -> Outcome {
        let gateway = &*self.inner;
        let client = gateway.proxy.client_ip(peer, request.headers());
        if let Err(wait) = gateway.auth_failures.check(client, Instant::now()) {
            let retry_after_secs = retry_after_secs(wait);
            return self.refuse(
                GatewayError::TooManyFailures { retry_after_secs },
                audit::DENY,
                "auth-rate-limited",
            );
        }
        let outcome = match presented {
            Presented::Token(credentials) => {
                self.with_token(request, peer, started, credentials).await
            }
            Presented::Malformed(why) => {
                // Same work as a well-formed failure: the timing tells nothing.
                let digest = gateway.store.digest("");
                let _ = gateway.store.revoked_id(&digest).await;
                let seen = self.seen(&request, peer, None, None);
                let mut record = seen.record(audit::DENY, Some("malformed-credentials".into()));
                record.detail = Some(why.into());
                self.audited_refusal(record, GatewayError::Unauthenticated, started)
                    .await
            }
            Presented::Nothing => {
                self.refuse(GatewayError::Unauthenticated, audit::DENY, "no-credentials")
            }
        };
        if outcome.response.status() == http::StatusCode::UNAUTHORIZED
            && gateway.auth_failures.fail(client, Instant::now())
        {
            tracing::warn!(
                %client,
                per_minute = gateway.config.auth_failure_limit_per_minute,
                "too many failed authentications: refusing this address for a while"
            );
        }
        outcome
    }

    fn seen(
        &self,
        request: &Request<Body>,
        peer: IpAddr,
        token: Option<&Token>,
        user: Option<String>,
    ) -> Seen {
        Seen {
            time: crate::now_ms(),
            client_ip: self.inner.proxy.client_ip(peer, request.headers()),
            method: request.method().as_str().to_owned(),
            url: raw_target(request).chars().take(2048).collect(),
            token_id: token.map(|t| t.id.clone()),
            user,
        }
    }

    /// Writes a refusal's audit record, then answers it (503 if the record fails).
    async fn audited_refusal(
        &self,
        mut record: AuditRecord,
        error: GatewayError,
        started: Instant,
    ) -> Outcome {
        let reason = record.reason.clone().unwrap_or_default();
        record.status = Some(error.status().as_u16());
        record.latency_ms = Some(elapsed_ms(started));
        record.component = self.inner.policy.digest().to_owned();
        match self.inner.audit.append(record).await {
            Ok(_) => self.refuse(error, audit::DENY, reason),
            Err(err) => {
                tracing::error!(error = %err, "refusing: audit log unavailable");
                self.refuse(GatewayError::Unavailable, audit::DENY, "audit-unavailable")
            }
        }
    }

    async fn with_token(
        &self,
        request: Request<Body>,
        peer: IpAddr,
        started: Instant,
        credentials: Credentials,
    ) -> Outcome {
        let gateway = &*self.inner;
        let (scheme, presented_user) = match &credentials {
            Credentials::Basic { user, .. } => (AuthScheme::Basic, Some(user.clone())),
            Credentials::Bearer { .. } => (AuthScheme::Bearer, None),
        };
        let value = credentials.token();
        // Always computed, before any check, so every failure costs the same.
        let digest = gateway.store.digest(value);
        let bad_checksum = token::claims_generated(value) && !token::generated_well_formed(value);
        let live = if bad_checksum {
            None
        } else {
            gateway.store.find(&digest)
        };
        let found = match live {
            Some(token) => Ok(token),
            // Every failure asks the store about revoked tokens, so that an unknown, a
            // revoked and a mistyped token cost the same.
            None => match gateway.store.revoked_id(&digest).await {
                _ if bad_checksum => Err(("bad-checksum", None)),
                Some(id) => Err(("revoked", Some(id))),
                None => Err(("unknown-token", None)),
            },
        };
        let token = match found {
            Ok(token) => token,
            Err((reason, id)) => {
                let mut seen = self.seen(&request, peer, None, presented_user);
                seen.token_id = id;
                let record = seen.record(audit::DENY, Some(reason.into()));
                return self
                    .audited_refusal(record, GatewayError::Unauthenticated, started)
                    .await;
            }
        };
        let mut seen = self.seen(&request, peer, Some(&token), presented_user.clone());
        let component = gateway.policy.digest();
        let rules = TokenRules {
            id: token.id.clone(),
            limit_to: token.limit_to.clone(),
            ip: token.ip.clone(),
        };

        // Canonicalise and learn whether the body is needed, then give the instance back
        // before waiting for the client.
        let prepared = gateway.policy.session().and_then(|mut session| {
            let target =
                session.canonicalize(&raw_target(&request), &gateway.config.public_base)?;
            let needs_body = match &target {
                Ok(_) => session.needs_body(&rules)?,
                Err(_) => false,
            };
            Ok((target, needs_body))
        });
        let (target, needs_body) = match prepared {
            Ok(prepared) => prepared,
            Err(err) => return self.policy_failure(&seen, err, started).await,
        };
        let target = match target {
            Ok(target) => target,
            Err(refusal) => {
                let mut record = seen.record(
                    audit::DENY,
                    Some(format!("target-{}", refusal.reason.as_str())),
                );
                record.detail = Some(refusal.detail.clone());
                return self
                    .audited_refusal(record, GatewayError::BadTarget(refusal.detail), started)
                    .await;
            }
        };
        seen.url = match &target.query {
            Some(query) => format!("{}?{query}", target.url),
            None => target.url.clone(),
        };

        let (parts, body) = request.into_parts();
        if gateway.proxy.declares_too_large_body(&parts.headers) {
            let record = seen.record(audit::DENY, Some("body-too-large".into()));
            return self
                .audited_refusal(record, GatewayError::PayloadTooLarge, started)
                .await;
        }
        let (body, body_text) = if needs_body {
            match read_limited(body, gateway.config.body_limit).await {
                Ok(bytes) => {
                    // Not UTF-8 means not JSON: the conditions see no body.
                    let text = std::str::from_utf8(&bytes).ok().map(str::to_owned);
                    (full(bytes), text)
                }
                Err(err) => {
                    let (error, reason) = match err {
                        ReadError::TooLarge(_) => (GatewayError::PayloadTooLarge, "body-too-large"),
                        ReadError::Stream(_) => (
                            GatewayError::BadRequest("the request body could not be read".into()),
                            "body-unreadable",
                        ),
                    };
                    let record = seen.record(audit::DENY, Some(reason.into()));
                    return self.audited_refusal(record, error, started).await;
                }
            }
        } else {
            (body, None)
        };

        let facts = RequestFacts {
            scheme,
            presented_user,
            method: parts.method.as_str().to_owned(),
            target: target.clone(),
            body: body_text,
            client_ip: seen.client_ip.to_string(),
            now_ms: seen.time,
        };
        let token_facts = TokenFacts {
            user: token.user.clone(),
            valid_until: token.valid_until,
        };
        let settings = Settings {
            scope: gateway.config.scope.to_policy(),
        };
        let decision = gateway
            .policy
            .session()
            .and_then(|mut session| session.decide(&rules, &token_facts, &facts, settings));
        let allowed = match decision {
            Err(err) => return self.policy_failure(&seen, err, started).await,
            Ok(Decision::Deny(denied)) => {
                let error = match denied.reason {
                    DenyReason::MethodNotAllowed => GatewayError::MethodNotAllowed,
                    DenyReason::Expired
                    | DenyReason::MissingUser
                    | DenyReason::BadUserName
                    | DenyReason::UserMismatch
                    | DenyReason::BearerNeedsUser => GatewayError::Unauthenticated,
                    DenyReason::IpNotAllowed
                    | DenyReason::OutOfScope
                    | DenyReason::NoMatchingRule => GatewayError::Forbidden,
                };
                let mut record = seen.record(audit::DENY, Some(denied.reason.as_str().into()));
                record.detail = Some(denied.detail);
                return self.audited_refusal(record, error, started).await;
            }
            Ok(Decision::Allow(allowed)) => allowed,
        };
        seen.user = Some(allowed.user.clone());
        let is_admin_path = target.path.starts_with(ADMIN_PREFIX);
        if is_admin_path && !self.is_admin(&token, &allowed.user) {
            let record = seen.record(audit::DENY, Some("not-admin".into()));
            return self
                .audited_refusal(record, GatewayError::Forbidden, started)
                .await;
        }
        let rate = gateway
            .store
            .take_rate(&token.id, gateway.config.rate_limit_per_minute)
            .await;
        let rate = match rate {
            Ok(rate) => rate,
            Err(err) => {
                tracing::error!(error = %err, "refusing: rate buckets unavailable");
                return self.refuse(GatewayError::Unavailable, audit::DENY, "store-unavailable");
            }
        };
        if let Err(wait) = rate {
            let record = seen.record(audit::DENY, Some("rate-limited".into()));
            let retry_after_secs = retry_after_secs(wait);
            return self
                .audited_refusal(
                    record,
                    GatewayError::RateLimited { retry_after_secs },
                    started,
                )
                .await;
        }

        // The record of an allowed request is committed before anything is done for it.
        let mut record = seen.record(audit::ALLOW, None);
        record.line = allowed.line;
        record.line_text = allowed.line.and_then(|n| token.line(n)).map(str::to_owned);
        record.component = component.to_owned();
        record.count_use = true;
        if is_admin_path {
            record.action = Some(admin_action(&parts.method, &target.path));
        }
        let audit_id = match gateway.audit.append(record).await {
            Ok(id) => id,
            Err(err) => {
                tracing::error!(error = %err, "refusing: audit log unavailable");
                return self.refuse(GatewayError::Unavailable, audit::DENY, "audit-unavailable");
            }
        };

        if is_admin_path {
            let (response, action) =
                crate::admin::handle(gateway, &parts, body, &target, &allowed.user).await;
            gateway.audit.complete(Completion {
                id: audit_id,
                status: Some(response.status().as_u16()),
                latency_ms: elapsed_ms(started),
                action,
                reason: None,
            });
            gateway.audit.flush().await;
            return Outcome {
                response,
                decision: audit::ALLOW,
                reason: "admin".into(),
            };
        }

        let path_and_query = forwarded_target(&target);
        let forwarded = gateway
            .proxy
            .forward(
                parts,
                body,
                &path_and_query,
                peer,
                Identity::User(&allowed.user),
            )
            .await;
        match forwarded {
            Ok(response) => {
                gateway.audit.complete(Completion {
                    id: audit_id,
                    status: Some(response.status().as_u16()),
                    latency_ms: elapsed_ms(started),
                    action: None,
                    reason: None,
                });
                Outcome {
                    response,
                    decision: audit::ALLOW,
                    reason: "forwarded".into(),
                }
            }
            Err(failure) => {
                if failure.is_upstream() {
                    gateway.metrics.upstream_error(failure.as_str());
                }
                gateway.audit.complete(Completion {
                    id: audit_id,
                    status: None,
                    latency_ms: elapsed_ms(started),
                    action: None,
                    reason: Some(failure.as_str().into()),
                });
                self.refuse(failure.error(), audit::ALLOW, failure.as_str())
            }
        }
    }

    /// Administrators use their own tokens: bound to them, and named in the config.
    fn is_admin(&self, token: &Token, user: &str) -> bool {
        token.user.as_deref() == Some(user)
            && self.inner.config.admins.iter().any(|admin| admin == user)
    }

    async fn policy_failure(&self, seen: &Seen, err: PolicyError, started: Instant) -> Outcome {
        tracing::error!(error = %err, "refusing: policy failed (fail closed)");
        let mut record = seen.record(audit::DENY, Some("policy-error".into()));
        record.detail = Some(err.to_string());
        self.audited_refusal(record, GatewayError::Unavailable, started)
            .await
    }

    /// A request without token credentials in passthrough mode: forwarded as sent
    /// (no policy, no audit), except that no one may claim an identity.
    async fn passthrough(&self, request: Request<Body>, peer: IpAddr) -> Outcome {
        let gateway = &*self.inner;
        let target = raw_target(&request);
        if !target.starts_with('/') {
            return self.refuse(
                GatewayError::BadTarget("only origin-form targets are forwarded".into()),
                audit::DENY,
                "target-not-origin-form",
            );
        }
        let (parts, body) = request.into_parts();
        match gateway
            .proxy
            .forward(parts, body, &target, peer, Identity::Anonymous)
            .await
        {
            Ok(response) => Outcome {
                response,
                decision: "passthrough",
                reason: "forwarded".into(),
            },
            Err(failure) => {
                if failure.is_upstream() {
                    gateway.metrics.upstream_error(failure.as_str());
                }
                self.refuse(failure.error(), "passthrough", failure.as_str())
            }
        }
    }
}

/// The target as the client sent it: origin-form from the request line, or the
/// whole absolute-form URI (which the policy refuses). HTTP/2 requests always carry
/// a scheme and authority, so their path and query are the target.
fn raw_target(request: &Request<Body>) -> String {
    let uri = request.uri();
    let origin_form = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| uri.to_string());
    if request.version() == http::Version::HTTP_2 || uri.scheme().is_none() {
        origin_form
    } else {
        uri.to_string()
    }
}

/// The path and query forwarded: exactly the checked ones.
fn forwarded_target(target: &CanonicalTarget) -> String {
    match &target.query {
        Some(query) => format!("{}?{query}", target.path),
        None => target.path.clone(),
    }
}

fn admin_action(method: &Method, path: &str) -> String {
    let name = path.strip_prefix(ADMIN_PREFIX).unwrap_or(path);
    format!("tokenTools.{name} {method}")
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}
