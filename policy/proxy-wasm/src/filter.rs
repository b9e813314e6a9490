//! The proxy-wasm ABI side: the root context reads the key and the configuration, each
//! HTTP context runs [`Gate`] on its request, and the root sends audit batches out.
//!
//! The only module that calls the host; everything it decides comes from `gate`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::config::{self, AuditCallout, KEY_ENV};
use crate::gate::{Body, Gate, Pending, Request, Step};
use crate::refusal::Refusal;

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

/// One plugin: its gate (once configured) and its audit outbox.
#[derive(Default)]
struct Root {
    gate: Option<Rc<Gate>>,
    audit: Option<AuditCallout>,
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
        let gate = config::key(vm_configuration.as_deref(), environment.as_deref())
            .and_then(|key| config::gate(&configuration, key));
        let gate = match gate {
            Ok(gate) => gate,
            Err(err) => {
                for message in err.messages() {
                    log::error!("tokengate: refusing the configuration: {message}");
                }
                return false;
            }
        };
        let settings = gate.settings();
        log::info!(
            "tokengate: serving {} tokens (authMode {:?}, scope {:?}, publicBase {}, audit call-out {})",
            gate.tokens().len(),
            settings.auth_mode,
            settings.scope,
            settings.public_base,
            settings
                .audit
                .as_ref()
                .map_or("off", |audit| audit.cluster.as_str()),
        );
        if log::log_enabled!(log::Level::Debug) {
            for token in gate.tokens().iter() {
                let line = serde_json::json!({
                    "event": "token", "id": token.id, "lines": token.rules.lines(),
                    "needsBody": token.needs_body,
                });
                log::debug!("{line}");
            }
        }
        self.audit = settings.audit.clone();
        if let Some(audit) = &self.audit {
            self.set_tick_period(Duration::from_millis(audit.flush_ms));
        }
        self.gate = Some(Rc::new(gate));
        true
    }

    fn on_tick(&mut self) {
        let Some(audit) = &self.audit else {
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
            (":authority", audit.authority.as_str()),
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
        Some(Box::new(Stream {
            gate: self.gate.clone(),
            outbox: self.audit.is_some().then(|| Rc::clone(&self.outbox)),
            pending: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct Stream {
    /// `None` only when the host runs requests on a root whose configuration failed.
    gate: Option<Rc<Gate>>,
    outbox: Option<Rc<RefCell<Outbox>>>,
    pending: Option<Box<Pending>>,
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        let Some(gate) = self.gate.clone() else {
            // Fail closed: no configuration, no decision.
            let response = Refusal::Unavailable.response(Default::default());
            let headers = response.headers.clone();
            self.send_http_response(response.status, headers, Some(response.body.as_bytes()));
            return Action::Pause;
        };
        // No client may claim an identity, whatever happens next.
        self.set_http_request_header(&gate.settings().identity_header, None);
        let headers = self.get_http_request_headers_bytes();
        let source = self
            .get_property(vec!["source", "address"])
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let request =
            Request::from_headers(&headers, source.as_deref(), now_ms(self.get_current_time()));
        let outcome = gate.with_headers(
            &request,
            end_of_stream,
            log::log_enabled!(log::Level::Debug),
        );
        self.act(&gate, outcome)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let (Some(gate), Some(pending)) = (self.gate.clone(), self.pending.take()) else {
            return Action::Continue;
        };
        let explain = log::log_enabled!(log::Level::Debug);
        let outcome = if body_size > gate.settings().body_limit {
            gate.with_body(*pending, Body::TooLarge, explain)
        } else if !end_of_stream {
            // Pausing in the body callback buffers what has arrived.
            self.pending = Some(pending);
            return Action::Pause;
        } else {
            let body = self.get_http_request_body(0, body_size).unwrap_or_default();
            gate.with_body(*pending, Body::Read(&body), explain)
        };
        self.act(&gate, outcome)
    }
}

impl Stream {
    fn act(&mut self, gate: &Gate, outcome: crate::gate::Outcome) -> Action {
        if let Some(explanation) = &outcome.explanation {
            log::debug!("{explanation}");
        }
        if let Some(record) = &outcome.record {
            let line = record.to_json();
            log::info!("{line}");
            if let Some(outbox) = &self.outbox {
                outbox.borrow_mut().push(line);
            }
        }
        match outcome.step {
            Step::Forward(forward) => {
                if let Some(path) = &forward.path {
                    self.set_http_request_header(":path", Some(path));
                }
                if let Some(user) = &forward.user {
                    self.set_http_request_header("authorization", None);
                    self.set_http_request_header(&gate.settings().identity_header, Some(user));
                }
                Action::Continue
            }
            Step::Refuse(response) => {
                self.send_http_response(
                    response.status,
                    response.headers.clone(),
                    Some(response.body.as_bytes()),
                );
                Action::Pause
            }
            Step::ReadBody(pending) => {
                self.pending = Some(pending);
                Action::Pause
            }
        }
    }
}

fn now_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
