//! The proxy-wasm ABI side: the root context reads the key and the configuration, each
//! HTTP context drives the shared pipeline (`tokengate_core::gate`) on its request, and
//! the root sends audit batches out.
//!
//! The only module that calls the host; everything it decides comes from the core.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use tokengate_core::audit::{Reason, Record};
use tokengate_core::client::client_text;
use tokengate_core::gate::{Exit, Head, Screened, Session, Version};
use tokengate_core::headers::{COOKIE, SET_COOKIE, is_twin};
use tokengate_core::refusal::Refusal;
use tokengate_policy::credentials::AuthMode;

use crate::config::{self, Filter, KEY_ENV};
use crate::log_line::{audit_line, explanation};
use crate::tokens::Token;

/// Audit records kept for the call-out before the oldest are dropped.
const MAX_QUEUED_RECORDS: usize = 10_000;
/// Audit records sent in one call-out.
const MAX_BATCH_RECORDS: usize = 500;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root::default()));
}}

thread_local! {
    /// The VM configuration read at VM start: roots configured later in the same VM (which
    /// get no VM start of their own) take the key from here.
    static VM_CONFIGURATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Audit lines waiting for the call-out, and the batches in flight by call id.
#[derive(Default)]
struct Outbox {
    queued: VecDeque<String>,
    in_flight: HashMap<u32, Vec<String>>,
    dropped: u64,
}

impl Outbox {
    fn push(&mut self, line: String) {
        if self.queued.len() >= MAX_QUEUED_RECORDS {
            self.queued.pop_front();
            self.dropped += 1;
        }
        self.queued.push_back(line);
    }

    /// Puts a failed batch back in front, oldest first (bounded like any push).
    fn requeue(&mut self, lines: Vec<String>) {
        for line in lines.into_iter().rev() {
            if self.queued.len() >= MAX_QUEUED_RECORDS {
                self.dropped += 1;
                continue;
            }
            self.queued.push_front(line);
        }
    }
}

/// One plugin: its filter (once configured) and its audit outbox.
#[derive(Default)]
struct Root {
    filter: Option<Rc<Filter>>,
    outbox: Rc<RefCell<Outbox>>,
}

impl Context for Root {
    fn on_http_call_response(&mut self, call: u32, headers: usize, _body: usize, _trailers: usize) {
        let status = self.get_http_call_response_header(":status");
        let mut outbox = self.outbox.borrow_mut();
        let Some(batch) = outbox.in_flight.remove(&call) else {
            return;
        };
        let delivered = headers > 0 && status.as_deref().is_some_and(|s| s.starts_with('2'));
        if !delivered {
            log::warn!(
                "tokengate: the audit intake did not take {} records (status {}); they are sent again",
                batch.len(),
                status.as_deref().unwrap_or("none")
            );
            outbox.requeue(batch);
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
        if let Ok(level) = proxy_wasm::hostcalls::get_log_level() {
            proxy_wasm::set_log_level(level);
        }
        let configuration = self.get_plugin_configuration().unwrap_or_default();
        let vm_configuration = VM_CONFIGURATION.with(|slot| slot.borrow().clone());
        let environment = std::env::var(KEY_ENV).ok();
        let filter = config::key(vm_configuration.as_deref(), environment.as_deref())
            .and_then(|key| config::filter(&configuration, key));
        let filter = match filter {
            Ok(filter) => filter,
            Err(err) => {
                for message in err.messages() {
                    log::error!("tokengate: refusing the configuration: {message}");
                }
                return false;
            }
        };
        let settings = filter.gate.settings();
        log::info!(
            "tokengate: serving {} tokens (authMode {:?}, scope {:?}, publicBase {}, audit call-out {})",
            filter.tokens.len(),
            settings.auth_mode,
            settings.scope,
            settings.public_base,
            filter
                .audit
                .as_ref()
                .map_or("off", |audit| audit.cluster.as_str()),
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
        if let Some(audit) = &filter.audit {
            self.set_tick_period(Duration::from_millis(audit.flush_ms));
        }
        self.filter = Some(Rc::new(filter));
        true
    }

    fn on_tick(&mut self) {
        let Some(audit) = self
            .filter
            .as_ref()
            .and_then(|filter| filter.audit.as_ref())
        else {
            return;
        };
        let mut outbox = self.outbox.borrow_mut();
        if outbox.dropped > 0 {
            log::warn!(
                "tokengate: {} audit records were dropped (more than {MAX_QUEUED_RECORDS} waited for the intake)",
                outbox.dropped
            );
            outbox.dropped = 0;
        }
        if outbox.queued.is_empty() {
            return;
        }
        let take = outbox.queued.len().min(MAX_BATCH_RECORDS);
        let batch: Vec<String> = outbox.queued.drain(..take).collect();
        let mut body = batch.join("\n");
        body.push('\n');
        let headers = vec![
            (":method", "POST"),
            (":path", audit.path.as_str()),
            (
                ":authority",
                audit.authority.as_deref().unwrap_or(&audit.cluster),
            ),
            ("content-type", "application/x-ndjson"),
        ];
        let timeout = Duration::from_millis(audit.timeout_ms);
        match self.dispatch_http_call(
            &audit.cluster,
            headers,
            Some(body.as_bytes()),
            vec![],
            timeout,
        ) {
            Ok(call) => {
                outbox.in_flight.insert(call, batch);
            }
            Err(status) => {
                log::warn!(
                    "tokengate: the audit call-out to {} failed: {status:?}",
                    audit.cluster
                );
                outbox.requeue(batch);
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let outbox = self
            .filter
            .as_ref()
            .filter(|filter| filter.audit.is_some())
            .map(|_| Rc::clone(&self.outbox));
        Some(Box::new(Stream {
            filter: self.filter.clone(),
            outbox,
            pending: None,
            strip_set_cookie: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct Stream {
    /// `None` only when the host runs requests on a root whose configuration failed.
    filter: Option<Rc<Filter>>,
    outbox: Option<Rc<RefCell<Outbox>>>,
    /// A token request waiting for its body before the decision.
    pending: Option<Session<Rc<Token>>>,
    /// A token request's response loses its cookies.
    strip_set_cookie: bool,
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        let Some(filter) = self.filter.clone() else {
            // Fail closed: no configuration, no decision.
            return self.answer(&Refusal::Unavailable, AuthMode::default());
        };
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
            now_ms: now_ms(self.get_current_time()),
        };
        let credentials = match filter.gate.screen(&head) {
            Ok(Screened::Token(credentials)) => credentials,
            Ok(Screened::Passthrough) => return Action::Continue,
            Err(exit) => return self.refuse(&filter, exit),
        };
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

    fn audit(&self, record: &Record) {
        let line = audit_line(record);
        log::info!("{line}");
        if let Some(outbox) = &self.outbox {
            outbox.borrow_mut().push(line);
        }
    }
}

fn now_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
