//! The proxy-wasm filter in proxy-wasm-host, as a proxy runs it: one request (context
//! create, request headers, done, log, delete) for tokens of 1, 10 and 100 lines, the
//! last line matching or none, so the cost of a decision in the filter is known; the
//! same with a configuration pulled from the gateway (rate limit on, every record queued
//! for the gateway), so the cost of being live is known; and the cost of taking a new
//! configuration of 100 and 1,000 tokens, all compiled or one changed.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, criterion_main};
use proxy_wasm_host::abi::v0_2_1::types::{LogLevel, MapType, Status};
use proxy_wasm_host::abi::v0_2_1::{
    Access, CalloutId, Callouts, ContextId, Guest, Host, HttpCall, HttpCallRefusal,
    HttpCallResponse, Invocation, LocalResponse, LogContext, LogSink, NoStream, PluginConfig,
    Started, StreamKind, StreamState, VmServices,
};
use proxy_wasm_host::{Engine, HeaderMap, Limits, Module, VecHeaderMap};
use tokengate::token::ServerKey;
use tokengate_core::export::CONFIG_PATH;

const KEY: [u8; 32] = [7; 32];
const TOKEN: &str = "bench-token-value-0001";

struct Discard;

impl LogSink for Discard {
    fn log(&self, _: LogContext<'_>, _: LogLevel, _: &[u8]) {}
}

struct Request {
    headers: VecHeaderMap,
    status: Option<u32>,
}

impl StreamState for Request {
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

    fn send_local_response(
        &mut self,
        _: Invocation,
        response: LocalResponse<'_>,
    ) -> Result<(), Status> {
        self.status = Some(response.status_code);
        Ok(())
    }

    fn property(&mut self, _: Invocation, path: &[&[u8]], out: &mut Vec<u8>) -> Result<(), Status> {
        if path == [&b"source"[..], &b"address"[..]] {
            out.extend_from_slice(b"192.0.2.10:51234");
            return Ok(());
        }
        Err(Status::NotFound)
    }
}

/// The call-outs of a live filter (and whether each is a pull), answered by the benchmark.
#[derive(Default)]
struct Calls(Mutex<Vec<(Invocation, CalloutId, bool)>>);

impl Callouts for Calls {
    fn http_call(
        &self,
        call: Invocation,
        callout: CalloutId,
        request: HttpCall<'_>,
    ) -> Result<(), HttpCallRefusal> {
        let pull = request.headers.iter().any(|(name, value)| {
            name.as_ref() == b":path" && value.as_ref() == CONFIG_PATH.as_bytes()
        });
        self.0
            .lock()
            .map_err(|_| HttpCallRefusal::Failed)?
            .push((call, callout, pull));
        Ok(())
    }
}

impl Calls {
    fn take(&self) -> Vec<(Invocation, CalloutId, bool)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The `limitTo` of a token of `lines` lines; the last admits `KEY{lines-1}`.
fn limit_to(lines: usize, salt: &str) -> String {
    (0..lines)
        .map(|i| format!("[get].*/rest/api/space/KEY{i}{salt}/property.*"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A configuration with the benchmarked token (`lines` lines) and `others` more tokens
/// of 10 lines, the first of them with `salt` in its lines.
fn export(lines: usize, others: usize, salt: &str, rate_limit: u32) -> String {
    let key = ServerKey::new(KEY);
    let mut tokens = vec![serde_json::json!({
        "id": "bench", "digest": hex::encode(key.digest(TOKEN)), "user": "admin",
        "limitTo": limit_to(lines, ""), "ip": "192.0.2.0/24",
    })];
    tokens.extend((0..others).map(|n| {
        serde_json::json!({
            "id": format!("other-{n}"), "digest": hex::encode(key.digest(&format!("other-token-{n:06}"))),
            "user": format!("user{n}"), "limitTo": limit_to(10, if n == 0 { salt } else { "" }),
            "ip": "",
        })
    }));
    serde_json::json!({
        "format": "tokengate-proxy-wasm/1",
        "version": 1,
        "publicBase": "https://wiki.example.com",
        "keyId": hex::encode(&key.digest("\u{0}tokengate key id")[..8]),
        "rateLimitPerMinute": rate_limit,
        "tokens": tokens,
    })
    .to_string()
}

fn config(lines: usize) -> String {
    export(lines, 0, "", 0)
}

/// A filter instance; `calls` receives its call-outs.
fn guest(calls: &Arc<Calls>) -> Guest {
    let engine = Engine::new().unwrap_or_else(|err| panic!("engine: {err}"));
    let module = Module::new(&engine, tokengate_policy_artifact::PROXY_WASM_FILTER)
        .unwrap_or_else(|err| panic!("the filter does not compile: {err}"));
    let host = Host::new(&engine).unwrap_or_else(|err| panic!("host: {err}"));
    let secrets = serde_json::json!({ "key": hex::encode(KEY), "credential": "tgf_bench" });
    let services = VmServices::new(Arc::new(Discard))
        .with_callouts(calls.clone())
        .with_vm_configuration(secrets.to_string().into_bytes());
    Guest::new(&host, &module, services, &Limits::default())
        .unwrap_or_else(|err| panic!("the filter does not instantiate: {err}"))
}

/// Answers every call-out waiting: pulls with `body` as version `etag` (`None`: 304),
/// audit batches with 200.
fn answer_pulls(guest: &mut Guest, calls: &Calls, etag: &str, body: Option<&[u8]>) {
    for (call, callout, pull) in calls.take() {
        let status: &[u8] = match (pull, body) {
            (true, None) => b"304",
            _ => b"200",
        };
        let headers = vec![
            (Cow::Borrowed(&b":status"[..]), Cow::Owned(status.to_vec())),
            (
                Cow::Borrowed(&b"etag"[..]),
                Cow::Owned(etag.as_bytes().to_vec()),
            ),
        ];
        let body = body.filter(|_| pull).unwrap_or_default();
        let response = HttpCallResponse::received(headers).with_body(body.to_vec());
        let (delivered, _) = guest.with(NoStream, |scope| {
            scope.on_http_call_response(call.context, callout, response)
        });
        delivered.unwrap_or_else(|err| panic!("the filter took no answer: {err}"));
    }
}

/// Starts a live root (pulling from the cluster `tokengate`) and gives it `body`.
fn start_live(guest: &mut Guest, calls: &Calls, name: &str, body: &str) -> ContextId {
    let plugin = serde_json::json!({
        "format": "tokengate-proxy-wasm/1",
        "gateway": { "cluster": "tokengate", "maxStaleS": 1_000_000_000 },
    });
    let plugin = PluginConfig::new()
        .with_root_id(name)
        .with_configuration(plugin.to_string().into_bytes());
    let Ok(Started::Serving(root)) = guest.start(plugin) else {
        panic!("the filter refused the live benchmark configuration");
    };
    answer_pulls(guest, calls, "\"v1\"", Some(body.as_bytes()));
    root
}

fn decide(c: &mut Criterion) {
    let calls = Arc::new(Calls::default());
    let mut guest = guest(&calls);
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{TOKEN}"))
    );
    let mut group = c.benchmark_group("proxy-wasm-request");
    for (lines, live) in [(1usize, false), (10, false), (100, false), (10, true)] {
        let root = if live {
            // A limit never reached, so every request pays for the bucket.
            start_live(
                &mut guest,
                &calls,
                "live",
                &export(lines, 0, "", 1_000_000_000),
            )
        } else {
            let plugin = PluginConfig::new()
                .with_root_id(format!("bench-{lines}"))
                .with_configuration(config(lines).into_bytes());
            let Ok(Started::Serving(root)) = guest.start(plugin) else {
                panic!("the filter refused the benchmark configuration");
            };
            root
        };
        let kind = if live { "live-" } else { "" };
        for (name, path, allowed) in [
            (
                "last-line-matches",
                format!("/rest/api/space/KEY{}/property?expand=x", lines - 1),
                true,
            ),
            (
                "no-line-matches",
                "/rest/api/space/OTHER/property?expand=x".to_owned(),
                false,
            ),
        ] {
            let name = format!("{kind}{name}");
            group.bench_with_input(BenchmarkId::new(name, lines), &path, |b, path| {
                let mut requests = 0u32;
                b.iter(|| {
                    // A live filter's tick every 100 requests: a 304 and a batch taken.
                    requests += 1;
                    if live && requests.is_multiple_of(100) {
                        let (ticked, _) = guest.with(NoStream, |scope| scope.on_tick(root));
                        assert!(ticked.is_ok());
                        answer_pulls(&mut guest, &calls, "\"v1\"", None);
                    }
                    let request = Request {
                        headers: [
                            (":method", "GET"),
                            (":path", path.as_str()),
                            (":authority", "wiki.example.com"),
                            ("authorization", authorization.as_str()),
                        ]
                        .iter()
                        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                        .collect(),
                        status: None,
                    };
                    let (answer, request) = guest.with(request, |scope| {
                        let stream = scope.on_context_create(Some(root))?;
                        scope.expect_stream_kind(stream, StreamKind::Http)?;
                        let action = scope.on_request_headers(stream, 4, true)?;
                        scope.on_done(stream)?;
                        scope.on_log(stream)?;
                        scope.on_delete(stream)?;
                        Ok::<_, proxy_wasm_host::abi::v0_2_1::GuestError>(action)
                    });
                    assert!(answer.is_ok());
                    assert_eq!(request.status.is_none(), allowed);
                });
            });
        }
    }
    group.finish();
}

/// Taking a new configuration from the gateway: the answer to a pull, compiled and
/// swapped in. `all`: every token compiled (the first pull); `one-changed`: a new version
/// that changes one token (the others are taken over).
fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy-wasm-config");
    group.sample_size(10);
    for tokens in [100usize, 1000] {
        let calls = Arc::new(Calls::default());
        let mut guest = guest(&calls);
        let versions = [
            export(10, tokens - 1, "", 0).into_bytes(),
            export(10, tokens - 1, "x", 0).into_bytes(),
        ];
        let mut next = 0usize;
        group.bench_function(BenchmarkId::new("all", tokens), |b| {
            b.iter_custom(|iterations| {
                let mut spent = std::time::Duration::ZERO;
                for _ in 0..iterations {
                    let plugin = serde_json::json!({
                        "format": "tokengate-proxy-wasm/1",
                        "gateway": { "cluster": "tokengate" },
                    });
                    let plugin = PluginConfig::new()
                        .with_root_id("apply")
                        .with_configuration(plugin.to_string().into_bytes());
                    let Ok(Started::Serving(root)) = guest.start(plugin) else {
                        panic!("the filter refused the live configuration");
                    };
                    // Timed: the answer to the first pull, compiled and swapped in.
                    let started = std::time::Instant::now();
                    answer_pulls(&mut guest, &calls, "\"all\"", Some(&versions[0]));
                    spent += started.elapsed();
                    let (deleted, _) = guest.with(NoStream, |scope| {
                        scope.on_done(root)?;
                        scope.on_delete(root)
                    });
                    assert!(deleted.is_ok());
                }
                spent
            });
        });
        let root = start_live(
            &mut guest,
            &calls,
            "changes",
            &String::from_utf8_lossy(&versions[0]),
        );
        group.bench_function(BenchmarkId::new("one-changed", tokens), |b| {
            b.iter(|| {
                let (ticked, _) = guest.with(NoStream, |scope| scope.on_tick(root));
                assert!(ticked.is_ok());
                next += 1;
                answer_pulls(
                    &mut guest,
                    &calls,
                    &format!("\"v{next}\""),
                    Some(&versions[next % 2]),
                );
            });
        });
    }
    group.finish();
}

fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    decide(&mut criterion);
    apply(&mut criterion);
}

criterion_main!(benches);
