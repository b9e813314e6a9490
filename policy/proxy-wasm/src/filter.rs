//! The proxy-wasm ABI side: the root context reads the secrets and the plugin
//! configuration, pulls the configuration from the gateway and pushes the audit back on
//! its tick; each HTTP context drives the shared pipeline (`tokengate_core::gate`).
//!
//! The only module that calls the host; what it decides comes from the core and from the
//! host-independent modules beside it (pull, freshness, outbox, rate).

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use tokengate_core::audit::{Reason, Record};
use tokengate_core::client::client_text;
use tokengate_core::export::{
    AUDIT_PATH, BATCH_HEADER, CONFIG_PATH, DROPPED_HEADER, INSTANCE_HEADER,
};
use tokengate_core::gate::{Exit, Head, Screened, Session, Version};
use tokengate_core::headers::{COOKIE, SET_COOKIE, is_twin};
use tokengate_core::refusal::{Refusal, retry_after_secs};
use tokengate_policy::credentials::AuthMode;

use crate::config::{self, CREDENTIAL_ENV, Filter, KEY_ENV, Link, Plugin};
use crate::freshness::{Freshness, Standing};
use crate::log_line::{audit_line, explanation};
use crate::outbox::{Delivery, Outbox};
use crate::pull::{Pull, Step};
use crate::rate::RateLimiter;
use crate::tokens::Token;

/// What a token request is told while the configuration is too old.
const STALE_DETAIL: &str = "the filter's configuration was not confirmed by the gateway within \
                            maxStaleS: every token is refused until it is";

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root::default()));
}}

thread_local! {
    /// The VM configuration read at VM start: roots configured later in the same VM (which
    /// get no VM start of their own) take the secrets from here.
    static VM_CONFIGURATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The instance's metrics in the host's metrics ABI (Envoy: stats), once defined.
#[derive(Debug, Default, Clone, Copy)]
struct Metrics {
    /// Audit records dropped (buffer full, or a batch the gateway refused).
    dropped: Option<u32>,
    /// Configurations from the gateway the filter refused.
    rejected: Option<u32>,
    /// The configuration version in use.
    version: Option<u32>,
    /// 1 while every token is refused for an old configuration.
    failing_closed: Option<u32>,
}

impl Metrics {
    fn define() -> Self {
        let define = |kind, name| hostcalls::define_metric(kind, name).ok();
        Self {
            dropped: define(
                MetricType::Counter,
                "tokengate_filter_audit_dropped_records",
            ),
            rejected: define(MetricType::Counter, "tokengate_filter_config_rejected"),
            version: define(MetricType::Gauge, "tokengate_filter_config_version"),
            failing_closed: define(MetricType::Gauge, "tokengate_filter_failing_closed"),
        }
    }

    fn add(metric: Option<u32>, n: u64) {
        if let Some(id) = metric
            && n > 0
        {
            let _ = hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    fn set(metric: Option<u32>, value: u64) {
        if let Some(id) = metric {
            let _ = hostcalls::record_metric(id, value);
        }
    }
}

/// What a root and its requests share.
#[derive(Default)]
struct Shared {
    /// The configuration in use; swapped whole when a new one is pulled.
    filter: Option<Rc<Filter>>,
    /// How old a pulled configuration is; `None` for a static one, which never ages.
    freshness: Option<Freshness>,
    /// Audit records for the gateway (pulling filters only).
    outbox: Option<Outbox>,
    limiter: RateLimiter,
    metrics: Metrics,
}

/// One plugin.
#[derive(Default)]
struct Root {
    shared: Rc<RefCell<Shared>>,
    /// The link to the gateway, for a filter that pulls.
    live: Option<Live>,
}

/// A pulling filter's side of the link.
struct Live {
    link: Link,
    /// Names this VM to the gateway (`via` in the audit log).
    instance: String,
    pull: Pull,
    /// The last problem reaching the gateway, logged once while it lasts.
    problem: Option<String>,
    /// Whether failing closed was logged.
    failing_closed: bool,
}

impl Live {
    fn authority(&self) -> &str {
        self.link
            .gateway
            .authority
            .as_deref()
            .unwrap_or(&self.link.gateway.cluster)
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.link.gateway.timeout_ms)
    }

    /// Logs a problem reaching the gateway once while it lasts.
    fn problem(&mut self, text: String) {
        if self.problem.as_ref() != Some(&text) {
            log::warn!("tokengate: {text}");
            self.problem = Some(text);
        }
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, call: u32, headers: usize, body: usize, _trailers: usize) {
        let now = now_ms(self.get_current_time());
        let status = (headers > 0)
            .then(|| self.get_http_call_response_header(":status"))
            .flatten()
            .and_then(|status| status.parse::<u16>().ok());
        if self
            .live
            .as_ref()
            .is_some_and(|live| live.pull.is_mine(call))
        {
            let etag = self.get_http_call_response_header("etag");
            let body = (status == Some(200))
                .then(|| self.get_http_call_response_body(0, body))
                .flatten();
            self.pulled(
                now,
                status,
                etag.as_deref(),
                body.as_deref().unwrap_or_default(),
            );
            return;
        }
        let mut shared = self.shared.borrow_mut();
        let metrics = shared.metrics;
        let Some(outbox) = shared.outbox.as_mut() else {
            return;
        };
        if !outbox.is_mine(call) {
            return;
        }
        let delivery = Delivery::of_status(status);
        let lost = outbox.answered(call, delivery, now);
        if lost > 0 {
            log::error!(
                "tokengate: the gateway refused an audit batch (status {}): its {lost} records are dropped",
                status.unwrap_or_default()
            );
            Metrics::add(metrics.dropped, lost);
        } else if delivery == Delivery::Failed && outbox.failures() == 1 {
            log::warn!(
                "tokengate: the gateway did not take an audit batch (status {}); it is sent again, waiting longer after each failure",
                status.map_or("none".into(), |s| s.to_string())
            );
        }
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        let text = self
            .get_vm_configuration()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        VM_CONFIGURATION.with(|slot| *slot.borrow_mut() = text);
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        if let Ok(level) = hostcalls::get_log_level() {
            proxy_wasm::set_log_level(level);
        }
        let configuration = self.get_plugin_configuration().unwrap_or_default();
        let vm_configuration = VM_CONFIGURATION.with(|slot| slot.borrow().clone());
        let key = std::env::var(KEY_ENV).ok();
        let credential = std::env::var(CREDENTIAL_ENV).ok();
        let plugin = config::secrets(
            vm_configuration.as_deref(),
            key.as_deref(),
            credential.as_deref(),
        )
        .and_then(|secrets| config::plugin(&configuration, secrets));
        let plugin = match plugin {
            Ok(plugin) => plugin,
            Err(err) => {
                for message in err.messages() {
                    log::error!("tokengate: refusing the configuration: {message}");
                }
                return false;
            }
        };
        match plugin {
            Plugin::Static(filter) => {
                log_serving(&filter, "the plugin configuration");
                self.shared.borrow_mut().filter = Some(Rc::new(filter));
            }
            Plugin::Live(link) => self.start_pulling(link),
        }
        true
    }

    fn on_tick(&mut self) {
        let now = now_ms(self.get_current_time());
        if let Some(freshness) = self.shared.borrow_mut().freshness.as_mut() {
            freshness.observe(now);
        }
        self.report_standing(now);
        self.pull(now);
        self.push(now);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream {
            shared: Rc::clone(&self.shared),
            filter: None,
            pending: None,
            strip_set_cookie: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

impl Root {
    fn start_pulling(&mut self, link: Link) {
        let (instance, seed) = instance_id(self.get_property(vec!["node", "id"]));
        let gateway = &link.gateway;
        {
            let mut shared = self.shared.borrow_mut();
            shared.freshness = Some(Freshness::new(gateway.max_stale_s));
            shared.outbox = Some(Outbox::new(
                gateway.buffer_records,
                gateway.batch_records,
                gateway.tick_ms,
                gateway.timeout_ms.saturating_mul(2),
                seed,
            ));
            shared.metrics = Metrics::define();
        }
        log::info!(
            "tokengate: instance {instance} pulls its configuration from cluster {} every {} ms (maxStaleS {}); no token is served before the first one arrives",
            gateway.cluster,
            gateway.tick_ms,
            gateway.max_stale_s
        );
        self.set_tick_period(Duration::from_millis(gateway.tick_ms));
        self.live = Some(Live {
            pull: Pull::new(gateway.timeout_ms.saturating_mul(2)),
            link,
            instance,
            problem: None,
            failing_closed: false,
        });
        // The first pull goes at once; the tick retries if the host cannot send it yet.
        self.pull(now_ms(self.get_current_time()));
    }

    /// Sends a pull unless one is in flight.
    fn pull(&mut self, now: i64) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if !live.pull.due(now) {
            return;
        }
        let bearer = format!("Bearer {}", live.link.credential);
        let mut headers = vec![
            (":method", "GET"),
            (":path", CONFIG_PATH),
            (":authority", live.authority()),
            ("authorization", bearer.as_str()),
            ("accept", "application/json"),
        ];
        if let Some(etag) = live.pull.etag() {
            headers.push(("if-none-match", etag));
        }
        let sent = hostcalls::dispatch_http_call(
            &live.link.gateway.cluster,
            headers,
            None,
            vec![],
            live.timeout(),
        );
        match sent {
            Ok(call) => live.pull.sent(call, now),
            Err(status) => {
                let cluster = live.link.gateway.cluster.clone();
                live.problem(format!(
                    "the pull could not be sent to cluster {cluster}: {status:?}"
                ));
            }
        }
    }

    /// Acts on the answer to a pull.
    fn pulled(&mut self, now: i64, status: Option<u16>, etag: Option<&str>, body: &[u8]) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match live.pull.answered(status, etag) {
            Step::Unchanged => self.confirm(now),
            Step::Apply => {
                let previous = self.shared.borrow().filter.clone();
                match config::filter(body, live.link.key.clone(), previous.as_deref()) {
                    Ok(filter) => {
                        live.pull.applied(etag);
                        if let Some(previous) = &previous
                            && filter.version < previous.version
                        {
                            log::warn!(
                                "tokengate: the gateway's configuration went back from version {} to {} (a restored database?); serving it",
                                previous.version,
                                filter.version
                            );
                        }
                        log_serving(&filter, "the gateway");
                        let live_ids: HashSet<&str> =
                            filter.tokens.iter().map(|token| token.id.as_str()).collect();
                        let mut shared = self.shared.borrow_mut();
                        shared.limiter.retain(|id| live_ids.contains(id));
                        Metrics::set(
                            shared.metrics.version,
                            u64::try_from(filter.version).unwrap_or(0),
                        );
                        drop(live_ids);
                        shared.filter = Some(Rc::new(filter));
                        drop(shared);
                        self.confirm(now);
                    }
                    Err(err) => {
                        live.pull.rejected(etag);
                        let kept = previous
                            .as_ref()
                            .map_or("none yet".to_owned(), |f| format!("version {}", f.version));
                        for message in err.messages() {
                            log::error!(
                                "tokengate: refusing the gateway's configuration {}: {message} (keeping {kept})",
                                etag.unwrap_or_default()
                            );
                        }
                        Metrics::add(self.shared.borrow().metrics.rejected, 1);
                    }
                }
            }
            Step::Rejected => {}
            Step::Unauthorized(status) => live.problem(format!(
                "the gateway refused the filter credential ({status}): check {CREDENTIAL_ENV} or `tokengate filter credential list`"
            )),
            Step::Failed(why) => {
                let cluster = live.link.gateway.cluster.clone();
                live.problem(format!("pulling from cluster {cluster}: {why}"));
            }
        }
        self.report_standing(now);
    }

    /// The gateway confirmed the configuration in use.
    fn confirm(&mut self, now: i64) {
        if let Some(freshness) = self.shared.borrow_mut().freshness.as_mut() {
            freshness.confirm(now);
        }
        if let Some(live) = self.live.as_mut()
            && live.problem.take().is_some()
        {
            log::info!("tokengate: the gateway answers again");
        }
    }

    /// Logs the moment the filter starts or stops failing closed.
    fn report_standing(&mut self, now: i64) {
        let shared = self.shared.borrow();
        let (Some(live), Some(freshness)) = (self.live.as_mut(), shared.freshness.as_ref()) else {
            return;
        };
        match freshness.standing(now) {
            Standing::Expired { age_ms } if !live.failing_closed => {
                live.failing_closed = true;
                log::error!(
                    "tokengate: refusing every token (503): the gateway last confirmed the configuration {} s ago, more than maxStaleS ({} s); last problem: {}",
                    age_ms / 1000,
                    freshness.max_stale_s(),
                    live.problem.as_deref().unwrap_or("none")
                );
                Metrics::set(shared.metrics.failing_closed, 1);
            }
            Standing::Serving { .. } if live.failing_closed => {
                live.failing_closed = false;
                log::info!(
                    "tokengate: the gateway confirmed the configuration: serving tokens again"
                );
                Metrics::set(shared.metrics.failing_closed, 0);
            }
            _ => {}
        }
    }

    /// Sends the next audit batch, unless one is in flight or the last failure is recent.
    fn push(&mut self, now: i64) {
        let Some(live) = self.live.as_ref() else {
            return;
        };
        let mut shared = self.shared.borrow_mut();
        let Some(outbox) = shared.outbox.as_mut() else {
            return;
        };
        let Some(batch) = outbox.next(now) else {
            return;
        };
        let body = batch.body();
        let id = batch.id.to_string();
        let dropped = batch.dropped.to_string();
        let bearer = format!("Bearer {}", live.link.credential);
        let headers = vec![
            (":method", "POST"),
            (":path", AUDIT_PATH),
            (":authority", live.authority()),
            ("authorization", bearer.as_str()),
            ("content-type", "application/x-ndjson"),
            (INSTANCE_HEADER, live.instance.as_str()),
            (BATCH_HEADER, id.as_str()),
            (DROPPED_HEADER, dropped.as_str()),
        ];
        let sent = hostcalls::dispatch_http_call(
            &live.link.gateway.cluster,
            headers,
            Some(body.as_bytes()),
            vec![],
            live.timeout(),
        );
        match sent {
            Ok(call) => outbox.sent(call, now),
            Err(status) => {
                outbox.not_sent(now);
                if outbox.failures() == 1 {
                    log::warn!(
                        "tokengate: an audit batch could not be sent to cluster {}: {status:?}",
                        live.link.gateway.cluster
                    );
                }
            }
        }
    }
}

/// Logs what a configuration serves (and, at debug level, each token's lines).
fn log_serving(filter: &Filter, from: &str) {
    let settings = filter.gate.settings();
    log::info!(
        "tokengate: serving {} tokens from {from}, version {} (authMode {:?}, scope {:?}, publicBase {}, rateLimitPerMinute {})",
        filter.tokens.len(),
        filter.version,
        settings.auth_mode,
        settings.scope,
        settings.public_base,
        filter.rate_limit_per_minute,
    );
    if log::log_enabled!(log::Level::Debug) {
        for token in filter.tokens.iter() {
            let line = serde_json::json!({
                "event": "token", "id": token.id, "lines": token.rules.lines(),
                "needsBody": token.needs_body,
            });
            log::debug!("{line}");
        }
    }
}

/// This VM's name for the gateway: the proxy's node id (when it has one) and 8 random
/// bytes, so that a restarted VM never reuses the batch ids of an earlier one. Also the
/// seed of its retry jitter.
fn instance_id(node: Option<Vec<u8>>) -> (String, u64) {
    let mut random = [0u8; 8];
    if getrandom::fill(&mut random).is_err() {
        // No random source: the clock still tells restarts apart.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        random = (nanos as u64).to_le_bytes();
    }
    let node: String = node
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(40)
        .collect();
    let random_hex = hex::encode(random);
    let instance = if node.is_empty() {
        random_hex
    } else {
        format!("{node}-{random_hex}")
    };
    (instance, u64::from_le_bytes(random))
}

/// One request.
struct Stream {
    shared: Rc<RefCell<Shared>>,
    /// The configuration this request is decided under, taken when its headers arrive
    /// (a swap meanwhile does not change it).
    filter: Option<Rc<Filter>>,
    /// A token request waiting for its body before the decision.
    pending: Option<Session<Rc<Token>>>,
    /// A token request's response loses its cookies.
    strip_set_cookie: bool,
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        let now = now_ms(self.get_current_time());
        let (filter, serves) = {
            let shared = self.shared.borrow();
            let serves = shared
                .freshness
                .as_ref()
                .is_none_or(|freshness| freshness.serves(now));
            (shared.filter.clone(), serves)
        };
        let Some(filter) = filter else {
            // Fail closed: no configuration, no decision.
            return self.answer(&Refusal::Unavailable, AuthMode::default());
        };
        self.filter = Some(Rc::clone(&filter));
        let headers = self.get_http_request_headers_bytes();
        // No client may claim an identity, or send a twin of a header set here.
        for (name, _) in &headers {
            if name.eq_ignore_ascii_case(&filter.identity_header)
                || is_twin(name, &filter.identity_header)
            {
                self.set_http_request_header(name, None);
            }
        }
        let all = |wanted: &str| -> Vec<&[u8]> {
            headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map(|(_, value)| value.as_slice())
                .collect()
        };
        let text = |wanted: &str| {
            all(wanted)
                .first()
                .and_then(|value| std::str::from_utf8(value).ok())
                .unwrap_or_default()
        };
        let source = self
            .get_property(vec!["source", "address"])
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let settings = filter.gate.settings();
        let head = Head {
            method: text(":method"),
            target: text(":path"),
            // The proxy has turned `Host` into `:authority`; a second one is still refused.
            version: Version::Http2,
            hosts: all("host").len(),
            ambiguous_framing: !all("content-length").is_empty()
                && !all("transfer-encoding").is_empty(),
            authorization: all("authorization"),
            client: client_text(
                source.as_deref(),
                &all("x-forwarded-for"),
                &settings.trusted_proxies,
            ),
            now_ms: now,
        };
        let credentials = match filter.gate.screen(&head) {
            Ok(Screened::Token(credentials)) => credentials,
            Ok(Screened::Passthrough) => return Action::Continue,
            Err(exit) => return self.refuse(&filter, exit),
        };
        if !serves {
            let exit = filter.gate.refuse_unlooked(
                &head,
                Refusal::Unavailable,
                Reason::ConfigStale,
                STALE_DETAIL,
            );
            return self.refuse(&filter, exit);
        }
        let session = match filter.gate.authenticate(&head, credentials, &filter.tokens) {
            Ok(session) => session,
            Err(exit) => return self.refuse(&filter, exit),
        };
        if !session.token().needs_body {
            return self.decide(&filter, session, None);
        }
        if end_of_stream {
            // No body at all is an empty one, as the gateway reads it.
            return self.decide(&filter, session, Some(String::new()));
        }
        self.pending = Some(session);
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let (Some(filter), Some(session)) = (self.filter.clone(), self.pending.take()) else {
            return Action::Continue;
        };
        if body_size > filter.body_limit {
            let exit = session.fail(Refusal::PayloadTooLarge, Reason::BodyTooLarge, None);
            return self.refuse(&filter, exit);
        }
        if !end_of_stream {
            // Pausing in the body callback buffers what has arrived.
            self.pending = Some(session);
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        // Not UTF-8 means not JSON: the conditions see no body.
        let text = String::from_utf8(body).unwrap_or_default();
        self.decide(&filter, session, Some(text))
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if self.strip_set_cookie {
            self.set_http_response_header(SET_COOKIE, None);
        }
        Action::Continue
    }
}

impl Stream {
    /// Decides a token request and forwards or refuses it.
    fn decide(
        &mut self,
        filter: &Filter,
        session: Session<Rc<Token>>,
        body: Option<String>,
    ) -> Action {
        let token = Rc::clone(session.token());
        let request = session.request(body);
        let now = request.now_ms;
        let public_base = &filter.gate.settings().public_base;
        if log::log_enabled!(log::Level::Debug)
            && let Ok(target) = tokengate_policy::canonicalize(&request.target, public_base)
        {
            let facts = tokengate_policy::RequestFacts {
                scheme: request.scheme,
                presented_user: request.presented_user.clone(),
                method: request.method.clone(),
                target,
                body: request.body.clone(),
                client_ip: request.client_ip.clone(),
                now_ms: request.now_ms,
            };
            let lines = token.rules.explain(&facts);
            log::debug!("{}", explanation(&token.id, &facts.target, &lines));
        }
        let admission = token.rules.admit(
            &session.token_facts(),
            request,
            &filter.decision,
            public_base,
        );
        let admitted = match session.conclude(&filter.gate, admission) {
            Ok(admitted) => admitted,
            Err(exit) => return self.refuse(filter, exit),
        };
        if filter.rate_limit_per_minute > 0 {
            let taken = self.shared.borrow_mut().limiter.take(
                &admitted.token.id,
                filter.rate_limit_per_minute,
                now,
            );
            if let Err(wait) = taken {
                let retry_after_secs = retry_after_secs(wait);
                let exit = admitted.fail(
                    Refusal::RateLimited { retry_after_secs },
                    Reason::RateLimited,
                );
                return self.refuse(filter, exit);
            }
        }
        // The filter cannot answer the admin API: an administrator's request (`Route::Admin`)
        // goes on to the gateway behind it, like any other allowed one.
        self.audit(&admitted.record);
        self.set_http_request_header(":path", Some(&admitted.path_and_query));
        self.set_http_request_header("authorization", None);
        self.set_http_request_header(&filter.identity_header, Some(&admitted.user));
        if !filter.pass_cookies {
            self.set_http_request_header(COOKIE, None);
            self.strip_set_cookie = true;
        }
        Action::Continue
    }

    fn refuse(&mut self, filter: &Filter, exit: Exit) -> Action {
        if let Some(record) = &exit.record {
            self.audit(record);
        }
        self.answer(&exit.refusal, filter.gate.settings().auth_mode)
    }

    fn answer(&mut self, refusal: &Refusal, auth_mode: AuthMode) -> Action {
        let response = refusal.response(auth_mode);
        let headers: Vec<(&str, &str)> = response
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        self.send_http_response(
            u32::from(response.status),
            headers,
            Some(response.body.as_bytes()),
        );
        Action::Pause
    }

    /// Logs the record and, in a pulling filter, queues it for the gateway.
    fn audit(&self, record: &Record) {
        let line = audit_line(record);
        log::info!("{line}");
        let mut shared = self.shared.borrow_mut();
        let metrics = shared.metrics;
        if let Some(outbox) = shared.outbox.as_mut()
            && outbox.push(line)
        {
            Metrics::add(metrics.dropped, 1);
        }
    }
}

fn now_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
