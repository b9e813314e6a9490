//! The proxy-wasm filter in a real proxy-wasm host (proxy-wasm-host, ABI 0.2.1, on
//! wasmtime): every decision vector through its configure and request callbacks, the
//! headers it forwards, its refusals against the gateway's, its audit and its size.
//!
//! The filter is observed as a proxy sees it: the local response or `Continue`, the
//! request headers it leaves, its log lines (`"event":"audit"` at info, the
//! `"event":"explain"` and `"event":"token"` lines at debug), its metrics and its
//! call-outs (relayed to a real gateway in `live`).

mod live;

use std::borrow::Cow;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use base64::Engine as _;
use http_body_util::BodyExt as _;
use proxy_wasm_host::abi::v0_2_1::types::{
    Action, BufferType, LogLevel, MapType, MetricType, Status,
};
use proxy_wasm_host::abi::v0_2_1::{
    Access, CalloutId, Callouts, Clock, ContextId, Guest, Host, HttpCall, HttpCallRefusal,
    Invocation, LocalResponse, LogContext, LogSink, MetricId, NoStream, PluginConfig,
    SharedServices, Started, StreamKind, StreamState, VmServices,
};
use proxy_wasm_host::{Buffer, Engine, HeaderMap, HeaderMapExt as _, Limits, Module, VecHeaderMap};
use serde_json::{Value, json};
use tokengate::config::AuthMode;
use tokengate::response::Refusal as GatewayError;
use tokengate::token::ServerKey;
use tokengate_policy_artifact::PROXY_WASM_FILTER;
use tokengate_tests::{
    Canonical, DecisionInput, ExplainedLine, Field, Observed, Runner, Validated, assert_clean,
    run_all,
};

/// The server key the filter is given (its VM configuration), as hex.
const KEY_HEX: &str = "5f1c0e2a9b7d4c3e8f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6";
/// The one token value every case presents.
const TOKEN: &str = "vector-token-value-0001";
/// What the key id is the HMAC of (`policy/core/src/key.rs`).
const KEY_ID_INPUT: &str = "\u{0}tokengate key id";
/// The size budget of the filter: the policy (with Java 17's Unicode block and script
/// names for Java-exact lines, about 1.1 MB) plus the filter's pull, push and rate-limit
/// modules, with room for the policy to grow a little. Each proxy worker loads it once.
const MAX_FILTER_BYTES: usize = 1_300_000;

fn server_key() -> ServerKey {
    let mut bytes = [0u8; 32];
    if let Ok(decoded) = hex::decode(KEY_HEX) {
        bytes.copy_from_slice(&decoded);
    }
    ServerKey::new(bytes)
}

/// The key id, through the gateway's own HMAC.
fn key_id() -> String {
    hex::encode(&server_key().digest(KEY_ID_INPUT)[..8])
}

/// A plugin configuration with one token (`TOKEN`, id `t1`) and `settings` merged in.
fn config(token: Value, settings: Value) -> Value {
    let mut token_record = json!({
        "id": "t1", "digest": hex::encode(server_key().digest(TOKEN)),
        "user": "admin", "limitTo": "", "ip": "", "validUntil": null,
    });
    merge(&mut token_record, token);
    let mut config = json!({
        "format": "tokengate-proxy-wasm/1",
        "authMode": "both",
        "publicBase": "https://wiki.example.com",
        "keyId": key_id(),
        "tokens": [token_record],
    });
    merge(&mut config, settings);
    config
}

fn merge(base: &mut Value, over: Value) {
    if let (Some(base), Value::Object(over)) = (base.as_object_mut(), over) {
        base.extend(over);
    }
}

/// Log lines the filter wrote.
#[derive(Default)]
struct Lines(Mutex<Vec<(LogLevel, String)>>);

impl LogSink for Lines {
    fn log(&self, _: LogContext<'_>, level: LogLevel, message: &[u8]) {
        let line = String::from_utf8_lossy(message).into_owned();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((level, line));
    }
}

impl Lines {
    fn take(&self) -> Vec<(LogLevel, String)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A clock the test sets: the filter's "now".
#[derive(Default)]
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn realtime_nanos(&self) -> u64 {
        u64::try_from(self.0.load(Ordering::SeqCst)).unwrap_or(0) * 1_000_000
    }
    fn monotonic_nanos(&self) -> u64 {
        self.realtime_nanos()
    }
}

/// The proxy's cluster of the gateway, as the live filter's configuration names it.
const GATEWAY_CLUSTER: &str = "tokengate";

/// HTTP call-outs the filter made, to the one cluster this proxy knows.
#[derive(Default)]
struct Outbox(Mutex<Vec<(Invocation, CalloutId, HttpCall<'static>)>>);

impl Outbox {
    fn take(&self) -> Vec<(Invocation, CalloutId, HttpCall<'static>)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Callouts for Outbox {
    fn http_call(
        &self,
        call: Invocation,
        callout: CalloutId,
        request: HttpCall<'_>,
    ) -> Result<(), HttpCallRefusal> {
        if request.upstream.as_ref() != GATEWAY_CLUSTER.as_bytes() {
            return Err(HttpCallRefusal::UnknownUpstream);
        }
        let mut calls = self.0.lock().map_err(|_| HttpCallRefusal::Failed)?;
        calls.push((call, callout, request.into_owned()));
        Ok(())
    }
}

/// The metrics the filter defined and their values, as a proxy's stats would hold them.
#[derive(Default)]
struct Metrics(Mutex<Vec<(String, MetricType, u64)>>);

impl Metrics {
    /// The value of the metric `name`, if the filter defined it.
    fn value(&self, name: &str) -> Option<u64> {
        let metrics = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        metrics
            .iter()
            .find(|(known, _, _)| known == name)
            .map(|(_, _, value)| *value)
    }

    fn slot<T>(
        &self,
        metric: MetricId,
        change: impl FnOnce(&mut (String, MetricType, u64)) -> T,
    ) -> Result<T, Status> {
        let mut metrics = self.0.lock().map_err(|_| Status::InternalFailure)?;
        let index = usize::try_from(metric.get()).unwrap_or(usize::MAX) - 1;
        metrics.get_mut(index).map(change).ok_or(Status::NotFound)
    }
}

impl SharedServices for Metrics {
    fn define_metric(
        &self,
        _: Invocation,
        _: &[u8],
        kind: MetricType,
        name: &[u8],
    ) -> Result<MetricId, Status> {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut metrics = self.0.lock().map_err(|_| Status::InternalFailure)?;
        let index = match metrics.iter().position(|(known, _, _)| *known == name) {
            Some(index) => index,
            None => {
                metrics.push((name, kind, 0));
                metrics.len() - 1
            }
        };
        MetricId::try_from(u32::try_from(index + 1).unwrap_or(u32::MAX))
            .map_err(|_| Status::InternalFailure)
    }

    fn record_metric(&self, _: Invocation, metric: MetricId, value: u64) -> Result<(), Status> {
        self.slot(metric, |slot| slot.2 = value)
    }

    fn increment_metric(&self, _: Invocation, metric: MetricId, delta: i64) -> Result<(), Status> {
        self.slot(metric, |slot| slot.2 = slot.2.saturating_add_signed(delta))
    }

    fn get_metric(&self, _: Invocation, metric: MetricId) -> Result<u64, Status> {
        self.slot(metric, |slot| slot.2)
    }
}

/// One request as the proxy holds it while the filter runs.
#[derive(Default)]
struct Exchange {
    headers: VecHeaderMap,
    body: Vec<u8>,
    source_address: Option<String>,
    local: Option<LocalResponse<'static>>,
}

impl StreamState for Exchange {
    fn header_map(
        &mut self,
        _: Invocation,
        _: Access,
        map: MapType,
    ) -> Result<&mut dyn HeaderMap, Status> {
        match map {
            MapType::HttpRequestHeaders => Ok(&mut self.headers),
            _ => Err(Status::BadArgument),
        }
    }

    fn buffer(
        &mut self,
        _: Invocation,
        _: Access,
        buffer: BufferType,
    ) -> Result<&mut dyn Buffer, Status> {
        match buffer {
            BufferType::HttpRequestBody => Ok(&mut self.body),
            _ => Err(Status::NotFound),
        }
    }

    fn send_local_response(
        &mut self,
        _: Invocation,
        response: LocalResponse<'_>,
    ) -> Result<(), Status> {
        self.local = Some(response.into_owned());
        Ok(())
    }

    fn property(&mut self, _: Invocation, path: &[&[u8]], out: &mut Vec<u8>) -> Result<(), Status> {
        match (path, &self.source_address) {
            ([b"source", b"address"], Some(address)) => {
                out.extend_from_slice(address.as_bytes());
                Ok(())
            }
            _ => Err(Status::NotFound),
        }
    }
}

/// What a request came to.
struct Sent {
    /// The answers of the headers callback and, when called, of the body callbacks.
    actions: Vec<Action>,
    /// The request as the filter left it (headers, local response).
    exchange: Exchange,
    /// The log lines written while it ran.
    lines: Vec<(LogLevel, String)>,
}

impl Sent {
    fn events(&self, event: &str) -> Vec<Value> {
        self.lines
            .iter()
            .filter_map(|(_, line)| serde_json::from_str::<Value>(line).ok())
            .filter(|value| value["event"] == event)
            .collect()
    }

    fn audit(&self) -> Result<Value, String> {
        match self.events("audit").as_slice() {
            [record] => Ok(record.clone()),
            other => Err(format!(
                "expected one audit line, got {other:?}; log: {:?}",
                self.lines
            )),
        }
    }

    fn header(&self, name: &str) -> Vec<String> {
        self.exchange
            .headers
            .get_all(name.as_bytes())
            .iter()
            .map(|value| String::from_utf8_lossy(value).into_owned())
            .collect()
    }
}

/// A request to send.
#[derive(Clone)]
struct Send {
    headers: Vec<(String, String)>,
    source_address: Option<String>,
    /// Chunks of the body; the last one ends the stream.
    body: Vec<Vec<u8>>,
    now: i64,
}

impl Send {
    fn get(path: &str) -> Self {
        Self {
            headers: vec![
                (":method".into(), "GET".into()),
                (":path".into(), path.into()),
                (":authority".into(), "wiki.example.com".into()),
            ],
            source_address: Some("192.0.2.10:51234".into()),
            body: Vec::new(),
            now: 1_700_000_000_000,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn basic(self, user: &str, token: &str) -> Self {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        self.header("authorization", &format!("Basic {encoded}"))
    }
}

fn compiled() -> Result<&'static (Engine, Module), String> {
    static COMPILED: OnceLock<Result<(Engine, Module), String>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let engine = Engine::new().map_err(|err| err.to_string())?;
            let module = Module::new(&engine, PROXY_WASM_FILTER).map_err(|err| err.to_string())?;
            Ok((engine, module))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One instance of the filter, as a proxy worker holds it.
struct Filter {
    guest: Guest,
    log: Arc<Lines>,
    clock: Arc<TestClock>,
    outbox: Arc<Outbox>,
    metrics: Arc<Metrics>,
    roots: u64,
}

impl Filter {
    /// An instance whose VM configuration is `vm_configuration` (the key).
    fn with_vm_configuration(vm_configuration: &str) -> Result<Self, String> {
        Self::with_services(vm_configuration, &[])
    }

    /// An instance with `vm_configuration` and the VM environment `environment`.
    fn with_services(vm_configuration: &str, environment: &[(&str, &str)]) -> Result<Self, String> {
        let (engine, module) = compiled()?;
        let log = Arc::new(Lines::default());
        let clock = Arc::new(TestClock::default());
        let outbox = Arc::new(Outbox::default());
        let metrics = Arc::new(Metrics::default());
        let environment = environment
            .iter()
            .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec()))
            .collect();
        let services = VmServices::new(log.clone())
            .with_clock(clock.clone())
            .with_callouts(outbox.clone())
            .with_shared(metrics.clone())
            .with_environment(environment)
            .with_log_level(LogLevel::Debug)
            .with_vm_configuration(vm_configuration.as_bytes().to_vec());
        let host = Host::new(engine).map_err(|err| err.to_string())?;
        let guest = Guest::new(&host, module, services, &Limits::default())
            .map_err(|err| err.to_string())?;
        Ok(Self {
            guest,
            log,
            clock,
            outbox,
            metrics,
            roots: 0,
        })
    }

    fn new() -> Result<Self, String> {
        Self::with_vm_configuration(KEY_HEX)
    }

    /// Starts a plugin with `config`: its root, or the error lines it logged.
    fn configure(&mut self, config: &Value) -> Result<ContextId, Vec<String>> {
        self.roots += 1;
        let plugin = PluginConfig::new()
            .with_name("tokengate")
            .with_root_id(format!("root-{}", self.roots))
            .with_configuration(config.to_string().into_bytes());
        let started = self.guest.start(plugin);
        let lines = self.log.take();
        let errors = || {
            lines
                .iter()
                .filter(|(level, _)| *level == LogLevel::Error)
                .map(|(_, line)| line.clone())
                .collect::<Vec<_>>()
        };
        match started {
            Ok(Started::Serving(root)) => {
                // Put the start's lines back: the debug token lines are read by callers.
                self.log
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(lines);
                Ok(root)
            }
            Ok(Started::Refused { root, .. }) => {
                self.remove(root);
                Err(errors())
            }
            Err(err) => Err(vec![format!("the start failed: {err}")]),
        }
    }

    fn remove(&mut self, root: ContextId) {
        let (_, _) = self.guest.with(NoStream, |scope| {
            let _ = scope.on_done(root);
            let _ = scope.on_delete(root);
        });
    }

    /// Runs one request through `root`, as a proxy would.
    fn send(&mut self, root: ContextId, send: Send) -> Result<Sent, String> {
        self.clock.0.store(send.now, Ordering::SeqCst);
        let _ = self.log.take();
        let headers: VecHeaderMap = send
            .headers
            .iter()
            .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec()))
            .collect();
        let count = u32::try_from(headers.len()).unwrap_or(u32::MAX);
        let exchange = Exchange {
            headers,
            body: Vec::new(),
            source_address: send.source_address.clone(),
            local: None,
        };
        let chunks = send.body.clone();
        let (result, exchange) = self.guest.with(exchange, |scope| {
            let stream = scope.on_context_create(Some(root))?;
            scope.expect_stream_kind(stream, StreamKind::Http)?;
            let mut actions = vec![scope.on_request_headers(stream, count, chunks.is_empty())?];
            // As a proxy: the body reaches the filter unless it answered the request.
            for (i, chunk) in chunks.iter().enumerate() {
                if scope.stream().local.is_some() {
                    break;
                }
                scope.stream_mut().body.extend_from_slice(chunk);
                let size = u32::try_from(scope.stream().body.len()).unwrap_or(u32::MAX);
                actions.push(scope.on_request_body(stream, size, i + 1 == chunks.len())?);
            }
            scope.on_done(stream)?;
            scope.on_log(stream)?;
            scope.on_delete(stream)?;
            Ok::<_, proxy_wasm_host::abi::v0_2_1::GuestError>(actions)
        });
        let actions = result.map_err(|err| format!("the filter failed: {err}"))?;
        let lines = self.log.take();
        // Never the token, in any form, in any log line.
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!(":{TOKEN}"));
        for (_, line) in &lines {
            if line.contains(TOKEN) || line.contains(&encoded[4..]) {
                return Err(format!("a log line holds the token: {line}"));
            }
        }
        Ok(Sent {
            actions,
            exchange,
            lines,
        })
    }
}

/// The filter as a vector runner: one plugin (root) per case.
struct FilterRunner {
    filter: Filter,
}

/// The source address a proxy reports for a client address: `ip:port`, IPv6 bracketed.
/// Texts that are no address stay unreadable (`garbage:51234`), and the filter hands them
/// to the policy as they are, as it does with any source it cannot read.
fn source_address(client_ip: &str) -> String {
    if client_ip.parse::<Ipv6Addr>().is_ok() {
        format!("[{client_ip}]:51234")
    } else {
        format!("{client_ip}:51234")
    }
}

impl Runner for FilterRunner {
    fn decide(&mut self, input: &DecisionInput) -> Result<Observed, String> {
        let config = config(
            json!({
                "id": "case", "user": input.token_user, "limitTo": input.limit_to,
                "ip": input.ip, "validUntil": input.valid_until, "validFrom": input.valid_from,
            }),
            // The admin path is the host's business: this host's admin is the token's user.
            json!({ "scope": input.scope, "publicBase": input.public_base, "admins": ["admin"] }),
        );
        let root = match self.filter.configure(&config) {
            Ok(root) => root,
            Err(errors) => return Ok(Observed::CompileFailed(errors)),
        };
        let mut send = Send::get(&input.target);
        send.headers[0].1 = input.method.clone();
        send.source_address = Some(source_address(&input.client_ip));
        send.now = input.now;
        send = match input.scheme.as_str() {
            "bearer" => {
                if input.user.is_some() {
                    return Err("a Bearer credential carries no user name".into());
                }
                send.header("authorization", &format!("Bearer {TOKEN}"))
            }
            _ => send.basic(input.user.as_deref().unwrap_or_default(), TOKEN),
        };
        if let Some(body) = &input.body {
            send.body = vec![body.clone().into_bytes()];
        }
        let sent = self.filter.send(root, send);
        self.filter.remove(root);
        observe(&sent?)
    }

    fn validate(&mut self, field: Field, text: &str) -> Result<Validated, String> {
        let (token, name) = match field {
            Field::LimitTo => (json!({ "id": "v", "limitTo": text }), "limitTo"),
            Field::Ip => (json!({ "id": "v", "ip": text }), "ip"),
        };
        match self.filter.configure(&config(token, json!({}))) {
            Ok(root) => {
                let lines = self.filter.log.take();
                self.filter.remove(root);
                let token_lines = lines
                    .iter()
                    .filter_map(|(_, line)| serde_json::from_str::<Value>(line).ok())
                    .find(|value| value["event"] == "token")
                    .ok_or("no debug line describes the configured token")?;
                let lines = serde_json::from_value::<Vec<String>>(token_lines["lines"].clone())
                    .map_err(|err| err.to_string())?;
                Ok(Validated {
                    problems: Vec::new(),
                    lines: matches!(field, Field::LimitTo).then_some(lines),
                })
            }
            Err(errors) => {
                let prefix = format!("tokengate: refusing the configuration: token \"v\": {name} ");
                let problems = errors
                    .iter()
                    .filter_map(|line| line.strip_prefix(&prefix))
                    .map(|message| {
                        let number = message
                            .strip_prefix("line ")
                            .and_then(|rest| rest.split(':').next())
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0);
                        (number, message.to_owned())
                    })
                    .collect::<Vec<_>>();
                if problems.is_empty() {
                    return Err(format!("refused without a problem line: {errors:?}"));
                }
                Ok(Validated {
                    problems,
                    lines: None,
                })
            }
        }
    }
}

/// Reads the decision back from what the filter did and logged.
fn observe(sent: &Sent) -> Result<Observed, String> {
    let audit = sent.audit()?;
    let reason = audit["reason"].as_str().unwrap_or_default();
    if let Some(target_reason) = reason.strip_prefix("target-") {
        return Ok(Observed::BadTarget(target_reason.to_owned()));
    }
    let explained = match sent.events("explain").as_slice() {
        [explained] => explained.clone(),
        other => return Err(format!("expected one explain line, got {other:?}")),
    };
    let target = &explained["target"];
    let canonical = Canonical {
        path: target["path"].as_str().unwrap_or_default().to_owned(),
        url: target["url"].as_str().unwrap_or_default().to_owned(),
        query: target["query"].as_str().map(str::to_owned),
        query_pairs: serde_json::from_value(target["queryPairs"].clone())
            .map_err(|err| err.to_string())?,
    };
    let explain = explained["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| ExplainedLine {
            line: line["line"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            method: line["method"].as_bool(),
            url: line["url"].as_bool().unwrap_or(false),
            conditions: line["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["matched"].as_bool().unwrap_or(false))
                .collect(),
            matched: line["matched"].as_bool().unwrap_or(false),
        })
        .collect();
    let decision = match (audit["decision"].as_str(), &sent.exchange.local) {
        (Some("allow"), None) => {
            let user = audit["user"].as_str().unwrap_or_default().to_owned();
            // What the proxy forwards: the checked target, the user, no credential.
            let forwarded = match &canonical.query {
                Some(query) => format!("{}?{query}", canonical.path),
                None => canonical.path.clone(),
            };
            if sent.header(":path") != [forwarded.clone()]
                || sent.header("x-forwarded-user") != [user.clone()]
                || !sent.header("authorization").is_empty()
                || sent.actions.last() != Some(&Action::Continue)
            {
                return Err(format!(
                    "allowed, but forwarded {:?} as {:?} ({:?}), expected {forwarded} as {user}",
                    sent.header(":path"),
                    sent.header("x-forwarded-user"),
                    sent.actions
                ));
            }
            Ok((
                audit["line"].as_u64().and_then(|n| u32::try_from(n).ok()),
                user,
            ))
        }
        (Some("deny"), Some(local))
            if u64::from(local.status_code) == audit["upstreamStatus"].as_u64().unwrap_or(0) =>
        {
            Err(reason.to_owned())
        }
        other => {
            return Err(format!(
                "the audit line and the response disagree: {other:?} / {audit}"
            ));
        }
    };
    Ok(Observed::Decided {
        canonical,
        decision,
        explain,
    })
}

#[test]
fn filter_agrees_with_every_vector() -> Result<(), String> {
    let report = run_all(&mut FilterRunner {
        filter: Filter::new()?,
    })?;
    assert_clean("proxy-wasm", &report);
    Ok(())
}

#[test]
fn filter_fits_its_size_budget() {
    assert!(
        PROXY_WASM_FILTER.len() <= MAX_FILTER_BYTES,
        "the filter is {} bytes, over its budget of {MAX_FILTER_BYTES}",
        PROXY_WASM_FILTER.len()
    );
}

#[test]
fn allowed_requests_carry_the_user_instead_of_the_credential() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let root = filter
        .configure(&config(json!({}), json!({})))
        .map_err(|e| e.join("\n"))?;
    let sent = filter.send(
        root,
        Send::get("/rest/api/./space/%7euser?expand=a%2cb")
            .basic("admin", TOKEN)
            .header("x-forwarded-user", "mallory"),
    )?;
    assert_eq!(sent.actions, [Action::Continue]);
    assert!(sent.exchange.local.is_none());
    assert!(sent.header("authorization").is_empty());
    assert_eq!(sent.header("x-forwarded-user"), ["admin"]);
    assert_eq!(sent.header(":path"), ["/rest/api/space/~user?expand=a%2Cb"]);
    let audit = sent.audit()?;
    assert_eq!(audit["decision"], "allow");
    assert_eq!(audit["tokenId"], "t1");
    assert_eq!(audit["clientIp"], "192.0.2.10");
    assert_eq!(
        audit["url"],
        "https://wiki.example.com/rest/api/space/~user?expand=a%2Cb"
    );
    assert_eq!(audit["time"], 1_700_000_000_000_i64);
    Ok(())
}

/// A response as sent: status, headers, body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u32,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    /// The gateway's response for `error`.
    fn gateway(error: &GatewayError) -> Result<Self, String> {
        let response = tokengate::response::refusal(error, AuthMode::Both);
        let status = u32::from(response.status().as_u16());
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = value.to_str().unwrap_or_default();
                (name.as_str().to_owned(), value.to_owned())
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|err| err.to_string())?;
        let body = runtime
            .block_on(response.into_body().collect())
            .map_err(|err| err.to_string())?
            .to_bytes();
        Ok(Self {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// The filter's local response.
    fn filter(local: &LocalResponse<'_>) -> Self {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        Self {
            status: local.status_code,
            headers: local
                .headers
                .iter()
                .map(|(name, value)| (text(name), text(value)))
                .collect(),
            body: text(&local.body),
        }
    }
}

#[test]
fn a_rotated_token_ends_in_the_filter_with_its_grace_period() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let end = 1_700_000_060_000_i64;
    let root = filter
        .configure(&config(json!({ "retireAt": end }), json!({})))
        .map_err(|e| e.join("\n"))?;
    let mut during = Send::get("/rest/api/space").basic("admin", TOKEN);
    during.now = end - 1;
    let sent = filter.send(root, during)?;
    assert_eq!(
        sent.actions,
        [Action::Continue],
        "allowed during the grace period"
    );
    let mut after = Send::get("/rest/api/space").basic("admin", TOKEN);
    after.now = end;
    let sent = filter.send(root, after)?;
    assert!(sent.exchange.local.is_some(), "refused once it is over");
    assert_eq!(sent.audit()?["reason"], "rotated");
    Ok(())
}

#[test]
fn refusals_are_the_gateways_byte_for_byte() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let token = json!({ "limitTo": "[get].*/rest/api/space.*\n[post].*/rest/api/content[JsonData::type==page]" });
    let root = filter
        .configure(&config(token, json!({ "bodyLimit": 16 })))
        .map_err(|e| e.join("\n"))?;
    let mut too_large = Send::get("/rest/api/content").basic("admin", TOKEN);
    too_large.headers[0].1 = "POST".into();
    too_large.body = vec![
        br#"{"type":"page","#.to_vec(),
        br#""title":"far too long"}"#.to_vec(),
    ];
    let mut trace = Send::get("/rest/api/space").basic("admin", TOKEN);
    trace.headers[0].1 = "TRACE".into();
    let cases = [
        (
            Send::get("/rest/api/space").basic("admin", "not-the-token-at-all"),
            GatewayError::Unauthenticated,
            "unknown-token",
        ),
        (
            Send::get("/rest/api/space").basic("admin", "tgk_thisclaimstobegenerated"),
            GatewayError::Unauthenticated,
            "bad-checksum",
        ),
        (
            Send::get("/rest/api/space").header("authorization", "Basic !!!"),
            GatewayError::Unauthenticated,
            "malformed-credentials",
        ),
        (
            Send::get("/rest/api/space").basic("mallory", TOKEN),
            GatewayError::Unauthenticated,
            "user-mismatch",
        ),
        (
            Send::get("/rest/api/user").basic("admin", TOKEN),
            GatewayError::Forbidden,
            "no-matching-rule",
        ),
        (
            Send::get("/rest/api/space/%2Fx").basic("admin", TOKEN),
            GatewayError::BadTarget(String::new()),
            "target-encoded-slash",
        ),
        (too_large, GatewayError::PayloadTooLarge, "body-too-large"),
        (trace, GatewayError::MethodNotAllowed, "method-not-allowed"),
        (
            Send::get("/rest/api/space").basic(" admin", TOKEN),
            GatewayError::Unauthenticated,
            "bad-user-name",
        ),
    ];
    for (send, error, reason) in cases {
        let sent = filter.send(root, send)?;
        let local = sent
            .exchange
            .local
            .as_ref()
            .ok_or(format!("{reason}: no local response"))?;
        let audit = sent.audit()?;
        assert_eq!(audit["reason"], reason, "{audit}");
        assert_eq!(
            audit["upstreamStatus"],
            u64::from(local.status_code),
            "{reason}"
        );
        let error = match error {
            // The detail is the policy's sentence, which the audit record keeps.
            GatewayError::BadTarget(_) => {
                GatewayError::BadTarget(audit["detail"].as_str().unwrap_or_default().into())
            }
            other => other,
        };
        assert_eq!(Answer::filter(local), Answer::gateway(&error)?, "{reason}");
    }
    Ok(())
}

#[test]
fn requests_without_credentials_are_refused_or_passed_through() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let strict = filter
        .configure(&config(json!({}), json!({})))
        .map_err(|e| e.join("\n"))?;
    let sent = filter.send(
        strict,
        Send::get("/rest/api/space").header("authorization", "Negotiate abc"),
    )?;
    assert_eq!(
        sent.exchange.local.as_ref().map(|r| r.status_code),
        Some(401)
    );
    assert!(
        sent.events("audit").is_empty(),
        "no token, no audit record (as the gateway)"
    );

    let open = filter
        .configure(&config(json!({}), json!({ "passthrough": true })))
        .map_err(|e| e.join("\n"))?;
    let sent = filter.send(
        open,
        Send::get("/anything").header("x-forwarded-user", "admin"),
    )?;
    assert_eq!(sent.actions, [Action::Continue]);
    assert!(
        sent.header("x-forwarded-user").is_empty(),
        "no client claims a user"
    );
    assert_eq!(sent.header(":path"), ["/anything"]);
    Ok(())
}

#[test]
fn trusted_proxies_pass_on_the_client_address() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let token = json!({ "ip": "198.51.100.7" });
    let trusting = filter
        .configure(&config(
            token.clone(),
            json!({ "trustedProxies": ["10.0.0.0/8"] }),
        ))
        .map_err(|e| e.join("\n"))?;
    let distrusting = filter
        .configure(&config(token, json!({})))
        .map_err(|e| e.join("\n"))?;
    let mut send = Send::get("/rest/api/space")
        .basic("admin", TOKEN)
        .header("x-forwarded-for", "203.0.113.9, 198.51.100.7");
    send.source_address = Some("10.1.2.3:40000".into());
    let sent = filter.send(trusting, send.clone())?;
    assert_eq!(sent.audit()?["decision"], "allow");
    assert_eq!(sent.audit()?["clientIp"], "198.51.100.7");
    let sent = filter.send(distrusting, send)?;
    assert_eq!(sent.audit()?["reason"], "ip-not-allowed");
    assert_eq!(sent.audit()?["clientIp"], "10.1.2.3");
    Ok(())
}

#[test]
fn json_conditions_are_decided_on_the_whole_body() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let token = json!({ "limitTo": "[post].*/rest/api/content[JsonData::space.key==DOCS]" });
    let root = filter
        .configure(&config(token, json!({})))
        .map_err(|e| e.join("\n"))?;
    let post = |chunks: &[&str]| {
        let mut send = Send::get("/rest/api/content").basic("admin", TOKEN);
        send.headers[0].1 = "POST".into();
        send.body = chunks
            .iter()
            .map(|chunk| chunk.as_bytes().to_vec())
            .collect();
        send
    };
    let sent = filter.send(root, post(&[r#"{"space":{"#, r#""key":"DOCS"}}"#]))?;
    assert_eq!(
        sent.actions,
        [Action::Pause, Action::Pause, Action::Continue]
    );
    assert_eq!(sent.audit()?["decision"], "allow");
    assert_eq!(sent.header("x-forwarded-user"), ["admin"]);
    let sent = filter.send(root, post(&[r#"{"space":{"key":"HR"}}"#]))?;
    assert_eq!(
        sent.exchange.local.as_ref().map(|r| r.status_code),
        Some(403)
    );
    assert_eq!(sent.audit()?["reason"], "no-matching-rule");
    let sent = filter.send(root, post(&[]))?;
    assert_eq!(
        sent.audit()?["reason"],
        "no-matching-rule",
        "no body is an empty one"
    );
    Ok(())
}

#[test]
fn generated_tokens_are_checked_before_any_lookup() -> Result<(), String> {
    let mut filter = Filter::new()?;
    let root = filter
        .configure(&config(json!({}), json!({})))
        .map_err(|e| e.join("\n"))?;
    let generated = tokengate::token::generate().map_err(|err| err.to_string())?;
    let sent = filter.send(
        root,
        Send::get("/rest/api/space").basic("admin", &generated),
    )?;
    assert_eq!(
        sent.audit()?["reason"],
        "unknown-token",
        "a well-formed generated token"
    );
    let mut broken = generated.into_bytes();
    broken[8] = if broken[8] == b'a' { b'b' } else { b'a' };
    let broken = String::from_utf8_lossy(&broken).into_owned();
    let sent = filter.send(root, Send::get("/rest/api/space").basic("admin", &broken))?;
    assert_eq!(sent.audit()?["reason"], "bad-checksum");

    let revoked = json!({ "revoked": [{ "id": "gone", "digest": hex::encode(server_key().digest("revoked-token-value")) }] });
    let root = filter
        .configure(&config(json!({}), revoked))
        .map_err(|e| e.join("\n"))?;
    let sent = filter.send(
        root,
        Send::get("/rest/api/space").basic("admin", "revoked-token-value"),
    )?;
    assert_eq!(sent.audit()?["reason"], "revoked");
    assert_eq!(sent.audit()?["tokenId"], "gone");
    Ok(())
}

#[test]
fn bad_configuration_refuses_the_start_and_says_why() -> Result<(), String> {
    let mut filter = Filter::new()?;
    for (settings, named) in [
        (json!({ "publicBase": "wiki.example.com" }), "publicBase: "),
        (
            json!({ "keyId": "0123456789abcdef" }),
            "keyId: the export was made with key 0123456789abcdef",
        ),
        (
            json!({ "trustedProxies": ["10.0.0.0/40"] }),
            "trustedProxies: ",
        ),
        (
            json!({ "tokens": "none" }),
            "is not the JSON that `tokengate token export --for proxy-wasm` writes",
        ),
    ] {
        let errors = filter
            .configure(&config(json!({}), settings.clone()))
            .err()
            .unwrap_or_default();
        assert!(
            errors.iter().any(
                |line| line.starts_with("tokengate: refusing the configuration: ")
                    && line.contains(named)
            ),
            "{settings}: {errors:?}"
        );
    }
    let mut keyless = Filter::with_vm_configuration("")?;
    let errors = keyless
        .configure(&config(json!({}), json!({})))
        .err()
        .unwrap_or_default();
    assert!(
        errors.iter().any(|line| line
            .contains("the HMAC key (VM configuration or TOKENGATE_FILTER_KEY): missing")),
        "{errors:?}"
    );
    let mut wrong = Filter::with_vm_configuration(&"ab".repeat(32))?;
    let errors = wrong
        .configure(&config(json!({}), json!({})))
        .err()
        .unwrap_or_default();
    assert!(
        errors.iter().any(|line| line.contains("keyId: ")),
        "{errors:?}"
    );
    Ok(())
}

/// What `tokengate token export --for proxy-wasm` writes, from a real store,
/// configures the filter with the key handed over separately, and the filter
/// then admits the token where its line allows and refuses it elsewhere.
#[tokio::test]
async fn the_gateways_export_configures_the_filter() -> Result<(), String> {
    use tokengate::export::{FilterSettings, filter_key, proxy_wasm_config};
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = tokengate::store::Store::open(dir.path(), &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let policy = tokengate::policy::PolicyRuntime::new().map_err(|e| e.to_string())?;
    let request = json!({
        "label": "export", "userName": "admin",
        "limitTo": ".*/rest/api/space.*",
    });
    let (created, _) =
        tokengate::admin::create(&store, &policy, &Default::default(), &request, "test")
            .await
            .map_err(|e| e.to_string())?;
    let token = created["token"]
        .as_str()
        .ok_or("no token value")?
        .to_owned();
    let id = created["id"].as_str().ok_or("no token id")?.to_owned();

    let settings = FilterSettings {
        auth_mode: AuthMode::Basic,
        scope: tokengate::config::ScopeSetting::Rest,
        public_base: "https://wiki.example.com".into(),
        trusted_proxies: Vec::new(),
        identity_header: http::HeaderName::from_static("x-forwarded-user"),
        admins: Vec::new(),
        passthrough: false,
        pass_cookies: false,
        body_limit: 1 << 20,
        rate_limit_per_minute: 0,
    };
    let exported = proxy_wasm_config(&store, &settings)
        .await
        .map_err(|e| e.to_string())?;
    let exported = serde_json::to_value(&exported).map_err(|e| e.to_string())?;
    assert!(
        !exported.to_string().contains(&token),
        "the export must carry digests only"
    );
    let key = filter_key(dir.path()).map_err(|e| e.to_string())?;
    assert!(!exported.to_string().contains(key.expose()));

    let mut filter = Filter::with_vm_configuration(key.expose())?;
    let root = filter.configure(&exported).map_err(|e| e.join("\n"))?;
    let allowed = filter.send(
        root,
        Send::get("/rest/api/space/KEY").basic("admin", &token),
    )?;
    assert_eq!(allowed.actions, [Action::Continue]);
    assert_eq!(allowed.audit()?["tokenId"], id.as_str());
    let refused = filter.send(
        root,
        Send::get("/rest/api/content/1").basic("admin", &token),
    )?;
    assert_eq!(refused.audit()?["reason"], "no-matching-rule");
    Ok(())
}
