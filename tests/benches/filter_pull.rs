//! The gateway's side of a filter's pull, over a real socket, with 1,000 tokens of 10
//! lines: a pull when nothing changed (304), and the first pull after a change (the
//! configuration built again from the store and sent whole), so the time from a change
//! on the gateway to a filter is known (plus the filter's `proxy-wasm-config` and its tick).

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_main};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokengate::config::Config;
use tokengate::server::Running;
use tokengate::store::NewToken;
use tokengate_core::export::CONFIG_PATH;

const TOKENS: usize = 1000;

fn limit_to(n: usize) -> String {
    (0..10)
        .map(|i| format!("[get].*/rest/api/space/KEY{i}-{n}/property.*"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn pulls(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("runtime: {err}"));
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
    let (running, app, credential) = runtime.block_on(async {
        let mut config = Config::new("http://127.0.0.1:9", dir.path().join("data"))
            .unwrap_or_else(|err| panic!("config: {err}"));
        config.public_base = "https://wiki.example.com".into();
        let app = tokengate::gateway::app(config)
            .await
            .unwrap_or_else(|err| panic!("the gateway starts: {err}"));
        for n in 0..TOKENS {
            app.store()
                .create(NewToken {
                    label: format!("t{n}"),
                    user: Some(format!("user{n}")),
                    limit_to: limit_to(n),
                    ..NewToken::default()
                })
                .await
                .unwrap_or_else(|err| panic!("token: {err}"));
        }
        let (_, credential) = app
            .store()
            .create_credential("bench", None)
            .await
            .unwrap_or_else(|err| panic!("credential: {err}"));
        let addr = "127.0.0.1:0".parse().unwrap_or_else(|err| panic!("{err}"));
        let running = Running::start(app.clone(), addr)
            .await
            .unwrap_or_else(|err| panic!("listen: {err}"));
        (running, app, credential)
    });
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = format!("http://{}{CONFIG_PATH}", running.addr);
    let pull = |etag: Option<&str>| {
        let mut request =
            Request::get(&url).header("authorization", format!("Bearer {credential}"));
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|err| panic!("{err}"));
        let client = client.clone();
        async move {
            let response = client
                .request(request)
                .await
                .unwrap_or_else(|err| panic!("pull: {err}"));
            let status = response.status();
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response
                .into_body()
                .collect()
                .await
                .unwrap_or_else(|err| panic!("body: {err}"))
                .to_bytes();
            (status, etag, body.len())
        }
    };
    let (status, mut etag, size) = runtime.block_on(pull(None));
    assert_eq!(status, StatusCode::OK);
    eprintln!("the configuration of {TOKENS} tokens is {size} bytes");

    let mut group = c.benchmark_group("filter-pull");
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("not-modified", TOKENS), |b| {
        b.iter(|| {
            let (status, _, _) = runtime.block_on(pull(Some(&etag)));
            assert_eq!(status, StatusCode::NOT_MODIFIED);
        });
    });
    let mut extra = 0usize;
    group.bench_function(BenchmarkId::new("changed", TOKENS), |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                // Untimed: a change (a token created, the store's commit done).
                extra += 1;
                runtime.block_on(async {
                    app.store()
                        .create(NewToken {
                            label: format!("extra{extra}"),
                            user: Some("extra".into()),
                            ..NewToken::default()
                        })
                        .await
                        .unwrap_or_else(|err| panic!("token: {err}"))
                });
                let started = Instant::now();
                let (status, new_etag, _) = runtime.block_on(pull(Some(&etag)));
                spent += started.elapsed();
                assert_eq!(status, StatusCode::OK);
                etag = new_etag;
            }
            spent
        });
    });
    group.finish();
    runtime.block_on(async {
        let _ = running.stop().await;
    });
}

fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    pulls(&mut criterion);
}

criterion_main!(benches);
