//! The gateway, built from a [`Config`]: the store, the audit writer, the policy threads,
//! the upstream client and the shared pipeline core, plus its background services.
//!
//! [`app`] builds it, so tests drive the very service `serve` runs; requests enter through
//! [`App::handle`] (`router`), pass the phases of `pipeline` and leave through `finish`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use tokengate_core::gate::{Gate, Settings as GateSettings};
use tokengate_policy as native;

use crate::audit::AuditLog;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::{PolicyError, PolicyRuntime};
use crate::proxy::{Proxy, ProxyError};
use crate::rate::AuthFailureLimiter;
use crate::response::{Body, BoxError};
use crate::store::{Store, StoreError};

pub use tokengate_core::admin_path::ADMIN_PREFIX;

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
    /// The pipeline core shared with the proxy-wasm filter.
    pub(crate) gate: Gate,
    /// The decision settings and public base, as the policy threads take them.
    pub(crate) decision_settings: native::Settings,
    pub(crate) public_base: Arc<str>,
    /// What the proxy-wasm filters pull (`filter_api`).
    pub(crate) filter_config: crate::filter_api::ServedConfig,
}

/// The gateway service; cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Gateway>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds the gateway: opens the store, starts the audit writer and the policy threads,
/// and builds the upstream client.
pub async fn app(config: Config) -> Result<App, AppError> {
    let policy = PolicyRuntime::with_limits(crate::policy::Limits {
        memory: config.policy_memory,
        threads: config.policy_threads,
        ..crate::policy::Limits::default()
    })?;
    app_with_policy(config, policy).await
}

/// [`app`] with a policy runtime the caller already loaded (shared by tests); its
/// memory limit and threads apply, not the config's.
pub async fn app_with_policy(config: Config, policy: PolicyRuntime) -> Result<App, AppError> {
    let store = Store::open(&config.data_dir, &config.store).await?;
    store.backend().set_audit_sync(config.audit_sync).await?;
    let metrics = Arc::new(Metrics::default());
    let audit = AuditLog::with_limits(
        store.backend(),
        Arc::clone(&metrics),
        config.audit_queue,
        config.audit_commits,
    );
    let proxy = Proxy::new(&config)?;
    let retention = config.audit_retention;
    let auth_failures = AuthFailureLimiter::new(
        config.auth_failure_limit_per_minute,
        crate::config::limits::AUTH_FAILURE_ADDRESSES,
    );
    let scope = config.scope.to_native();
    let gate = Gate::new(
        GateSettings {
            auth_mode: config.auth_mode,
            scope,
            public_base: config.public_base.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            admins: config.admins.clone(),
            passthrough: config.passthrough,
        },
        store.key().clone(),
        policy.digest(),
    );
    let filter_config =
        crate::filter_api::ServedConfig::new(crate::export::FilterSettings::from_config(&config));
    let inner = Arc::new(Gateway {
        filter_config,
        public_base: config.public_base.as_str().into(),
        decision_settings: native::Settings { scope },
        config,
        store,
        audit,
        policy,
        proxy,
        metrics,
        auth_failures,
        gate,
    });
    if let Some(keep) = retention {
        tokio::spawn(prune_audit(Arc::downgrade(&inner), keep));
    }
    if matches!(inner.config.store, crate::store::Location::Postgres(_)) {
        tokio::spawn(fold_uses(Arc::downgrade(&inner)));
    }
    tokio::spawn(crate::webhooks::run(
        Arc::downgrade(&inner),
        inner.config.webhook.clone(),
    ));
    Ok(App { inner })
}

/// Deletes audit records older than `keep`, at start and then hourly, until the gateway
/// is dropped.
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

/// Moves the uses audit commits appended into the token rows every `USE_FOLD`, until
/// the gateway is dropped: reads stay exact without it, but sum ever more rows.
async fn fold_uses(gateway: std::sync::Weak<Gateway>) {
    let mut every = tokio::time::interval(crate::config::limits::USE_FOLD);
    loop {
        every.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        if let Err(err) = gateway.store.fold_uses().await {
            tracing::warn!(error = %err, "folding token uses failed; retrying later");
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
    ) -> Pin<Box<dyn Future<Output = http::Response<Body>> + Send + 'static>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let gateway = Arc::clone(&self.inner);
        let request = request.map(|body| body.map_err(Into::into).boxed_unsync());
        Box::pin(async move { crate::router::answer(&gateway, request, peer.ip()).await })
    }
}
