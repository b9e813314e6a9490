//! The proxy-wasm filter in proxy-wasm-host, as a proxy runs it: one request (context
//! create, request headers, done, log, delete) for tokens of 1, 10 and 100 lines, the
//! last line matching or none, so the cost of a decision in the filter is known.

use std::sync::Arc;

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, criterion_main};
use proxy_wasm_host::abi::v0_2_1::types::{LogLevel, MapType, Status};
use proxy_wasm_host::abi::v0_2_1::{
    Access, Guest, Host, Invocation, LocalResponse, LogContext, LogSink, PluginConfig, Started,
    StreamKind, StreamState, VmServices,
};
use proxy_wasm_host::{Engine, HeaderMap, Limits, Module, VecHeaderMap};
use tokengate::token::ServerKey;

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

fn config(lines: usize) -> String {
    let key = ServerKey::new(KEY);
    let limit_to: Vec<String> = (0..lines)
        .map(|i| format!("[get].*/rest/api/space/KEY{i}/property.*"))
        .collect();
    serde_json::json!({
        "format": "tokengate-proxy-wasm/1",
        "publicBase": "https://wiki.example.com",
        "keyId": hex::encode(&key.digest("\u{0}tokengate key id")[..8]),
        "tokens": [{
            "id": "bench", "digest": hex::encode(key.digest(TOKEN)), "user": "admin",
            "limitTo": limit_to.join("\n"), "ip": "192.0.2.0/24",
        }],
    })
    .to_string()
}

fn decide(c: &mut Criterion) {
    let engine = Engine::new().unwrap_or_else(|err| panic!("engine: {err}"));
    let module = Module::new(&engine, tokengate_policy_artifact::PROXY_WASM_FILTER)
        .unwrap_or_else(|err| panic!("the filter does not compile: {err}"));
    let host = Host::new(&engine).unwrap_or_else(|err| panic!("host: {err}"));
    let services =
        VmServices::new(Arc::new(Discard)).with_vm_configuration(hex::encode(KEY).into_bytes());
    let mut guest = Guest::new(&host, &module, services, &Limits::default())
        .unwrap_or_else(|err| panic!("the filter does not instantiate: {err}"));
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{TOKEN}"))
    );
    let mut group = c.benchmark_group("proxy-wasm-request");
    for lines in [1usize, 10, 100] {
        let plugin = PluginConfig::new()
            .with_root_id(format!("bench-{lines}"))
            .with_configuration(config(lines).into_bytes());
        let Ok(Started::Serving(root)) = guest.start(plugin) else {
            panic!("the filter refused the benchmark configuration");
        };
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
            group.bench_with_input(BenchmarkId::new(name, lines), &path, |b, path| {
                b.iter(|| {
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

fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    decide(&mut criterion);
}

criterion_main!(benches);
