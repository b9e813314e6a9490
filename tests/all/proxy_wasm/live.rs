//! The filter as a live part of the deployment: it pulls its configuration from a real
//! gateway (in-process, on a real socket) on its tick and pushes its audit batches back,
//! the harness relaying its call-outs to the gateway as a proxy's cluster would.
//!
//! Time is the filter's test clock, moved by the test: ticks, staleness and backoff are
//! exact, and nothing sleeps.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proxy_wasm_host::abi::v0_2_1::HttpCallResponse;
use tokengate::store::NewToken;
use tokengate_core::export::{AUDIT_PATH, BATCH_HEADER, CONFIG_PATH, INSTANCE_HEADER};

use super::*;
use crate::gateway::Harness;

/// The filter's tick in these tests, ms.
const TICK_MS: i64 = 2_000;
/// Its staleness bound, s.
const MAX_STALE_S: i64 = 30;
/// The credential's name: the first part of `via`.
const FLEET: &str = "edge";

/// A call-out's answer, as the relay hands it back (and a test may change it).
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What reaches the filter of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deliver {
    /// The answer (as the test left it).
    Answer,
    /// The gateway answered, but the answer is lost on the way back (a timeout).
    Lost,
}

/// One relayed call-out: its path, headers and body, and the gateway's answer (`None`:
/// the gateway could not be reached).
#[derive(Debug)]
struct Relayed {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    answer: Option<Answer>,
}

impl Relayed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A pulling filter, the gateway it pulls from, and the time.
struct Live {
    filter: Filter,
    root: ContextId,
    /// Where the gateway listens; `None` once it is gone.
    gateway: Option<SocketAddr>,
    now: i64,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Live {
    /// A filter configured with `gateway` settings (merged over the cluster, tick and
    /// staleness of these tests), holding the key and a fresh credential of `h`, with its
    /// first pull answered.
    async fn start(h: &Harness, gateway: Value) -> Self {
        let credential = h.filter_credential(FLEET).await;
        let key = tokengate::export::filter_key(&h.app.config().data_dir).expect("key");
        // The key in the VM configuration, the credential in the VM's environment (Envoy:
        // `host_env_keys` from a secret): both ways the README describes.
        let mut filter = Filter::with_services(
            key.expose(),
            &[("TOKENGATE_FILTER_CREDENTIAL", credential.as_str())],
        )
        .expect("the filter loads");
        let mut link =
            json!({ "cluster": GATEWAY_CLUSTER, "tickMs": TICK_MS, "maxStaleS": MAX_STALE_S });
        merge(&mut link, gateway);
        let now = tokengate::now_ms();
        filter.clock.0.store(now, Ordering::SeqCst);
        let root = filter
            .configure(&json!({ "format": "tokengate-proxy-wasm/1", "gateway": link }))
            .expect("the filter starts");
        let mut live = Self {
            filter,
            root,
            gateway: Some(h.addr),
            now,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let first = live.relay().await;
        assert_eq!(first.len(), 1, "the first pull goes at start: {first:?}");
        assert_eq!(first[0].path, CONFIG_PATH);
        assert_eq!(first[0].answer.as_ref().map(|a| a.status), Some(200));
        live
    }

    /// Moves the clock by `ms` and runs the filter's tick.
    fn tick_after(&mut self, ms: i64) {
        self.now += ms;
        self.filter.clock.0.store(self.now, Ordering::SeqCst);
        let root = self.root;
        let (ticked, _) = self
            .filter
            .guest
            .with(NoStream, |scope| scope.on_tick(root));
        ticked.expect("the tick runs");
    }

    /// One tick later, with the call-outs it made relayed.
    async fn tick(&mut self) -> Vec<Relayed> {
        self.tick_after(TICK_MS);
        self.relay().await
    }

    /// Relays every call-out waiting, answers delivered as they came.
    async fn relay(&mut self) -> Vec<Relayed> {
        self.relay_with(|_, _| Deliver::Answer).await
    }

    /// Relays every call-out waiting to the gateway and hands each answer back to the
    /// filter; `fate` may change an answer or lose it.
    async fn relay_with(
        &mut self,
        mut fate: impl FnMut(&str, &mut Answer) -> Deliver,
    ) -> Vec<Relayed> {
        let mut relayed = Vec::new();
        for (call, callout, request) in self.filter.outbox.take() {
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            let headers: Vec<(String, String)> = request
                .headers
                .iter()
                .map(|(name, value)| (text(name), text(value)))
                .collect();
            let pseudo = |name: &str| {
                headers
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
                    .unwrap_or_default()
            };
            let path = pseudo(":path");
            let mut answer = match self.gateway {
                Some(addr) => {
                    self.send(addr, &pseudo(":method"), &headers, &request.body)
                        .await
                }
                None => None,
            };
            let deliver = match answer.as_mut() {
                Some(answer) => fate(&path, answer),
                None => Deliver::Lost,
            };
            let response = match answer.as_ref() {
                Some(answer) if deliver == Deliver::Answer => {
                    let mut pairs = vec![(
                        Cow::Owned(b":status".to_vec()),
                        Cow::Owned(answer.status.to_string().into_bytes()),
                    )];
                    pairs.extend(answer.headers.iter().map(|(name, value)| {
                        (
                            Cow::Owned(name.as_bytes().to_vec()),
                            Cow::Owned(value.as_bytes().to_vec()),
                        )
                    }));
                    HttpCallResponse::received(pairs).with_body(answer.body.clone())
                }
                _ => HttpCallResponse::failed(),
            };
            let (delivered, _) = self.filter.guest.with(NoStream, |scope| {
                scope.on_http_call_response(call.context, callout, response)
            });
            delivered.expect("the answer is delivered");
            relayed.push(Relayed {
                path,
                headers,
                body: request.body.to_vec(),
                answer,
            });
        }
        relayed
    }

    /// Sends one call-out to the gateway at `addr`, as the proxy's cluster would.
    async fn send(
        &self,
        addr: SocketAddr,
        method: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<Answer> {
        let path = headers
            .iter()
            .find(|(name, _)| name == ":path")
            .map(|(_, value)| value.as_str())
            .unwrap_or("/");
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).ok()?)
            .uri(format!("http://{addr}{path}"));
        for (name, value) in headers {
            match name.as_str() {
                ":authority" => request = request.header("host", value),
                name if name.starts_with(':') => {}
                name => request = request.header(name, value),
            }
        }
        let request = request.body(Full::new(Bytes::copy_from_slice(body))).ok()?;
        let response = self.client.request(request).await.ok()?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.ok()?.to_bytes();
        Some(Answer {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = value.to_str().unwrap_or_default();
                    (name.as_str().to_owned(), value.to_owned())
                })
                .collect(),
            body: body.to_vec(),
        })
    }

    /// A request through the filter now.
    fn send_request(&mut self, mut send: Send) -> Sent {
        send.now = self.now;
        self.filter.send(self.root, send).expect("the filter runs")
    }

    fn get(&mut self, path: &str, user: &str, token: &str) -> Sent {
        self.send_request(Send::get(path).basic(user, token))
    }

    /// The log lines written since the last look.
    fn log(&self) -> Vec<String> {
        self.filter
            .log
            .take()
            .into_iter()
            .map(|(_, line)| line)
            .collect()
    }

    fn metric(&self, name: &str) -> Option<u64> {
        self.filter.metrics.value(name)
    }
}

fn status(sent: &Sent) -> Option<u32> {
    sent.exchange.local.as_ref().map(|local| local.status_code)
}

/// A token bound to `alice`; returns (id, value).
async fn alice(h: &Harness, limit_to: &str) -> (String, String) {
    h.token(NewToken {
        label: "alice".into(),
        user: Some("alice".into()),
        limit_to: limit_to.into(),
        ..NewToken::default()
    })
    .await
}

/// The gateway's `/metrics`.
async fn metrics(h: &Harness) -> String {
    h.call(Method::GET, "/metrics", None, &[], "").await.text()
}

#[tokio::test]
async fn a_token_revoked_on_the_gateway_is_refused_within_one_tick() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (id, token) = alice(&h, "[get].*/rest/api/.*").await;
    let mut live = Live::start(&h, json!({})).await;
    let sent = live.get("/rest/api/space", "alice", &token);
    assert_eq!(sent.actions, [Action::Continue]);
    assert_eq!(sent.audit().expect("audited")["tokenId"], id.as_str());

    // Nothing changed: the next pull is a 304, and the filter keeps serving.
    let relayed = live.tick().await;
    let pull = relayed
        .iter()
        .find(|r| r.path == CONFIG_PATH)
        .expect("a pull");
    assert!(pull.header("if-none-match").is_some(), "{pull:?}");
    assert_eq!(pull.answer.as_ref().map(|a| a.status), Some(304));

    let reply = h.revoke(&admin, &id).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // Until its next tick the filter still has the old configuration...
    assert_eq!(
        live.get("/rest/api/space", "alice", &token).actions,
        [Action::Continue]
    );
    // ...and one tick later it refuses the token as revoked.
    let relayed = live.tick().await;
    let pull = relayed
        .iter()
        .find(|r| r.path == CONFIG_PATH)
        .expect("a pull");
    assert_eq!(pull.answer.as_ref().map(|a| a.status), Some(200));
    let refused = live.get("/rest/api/space", "alice", &token);
    assert_eq!(status(&refused), Some(401));
    let audit = refused.audit().expect("audited");
    assert_eq!(audit["reason"], "revoked");
    assert_eq!(audit["tokenId"], id.as_str());
    let version = pull
        .answer
        .as_ref()
        .map(|a| a.json()["version"].as_i64().unwrap_or(0))
        .unwrap_or(0);
    assert_eq!(
        live.metric("tokengate_filter_config_version"),
        u64::try_from(version).ok()
    );
}

#[tokio::test]
async fn a_filter_cut_off_from_the_gateway_serves_until_max_stale_then_refuses_with_503() {
    let h = Harness::start(|_| {}).await;
    let (_, token) = alice(&h, "").await;
    let mut live = Live::start(&h, json!({})).await;
    let confirmed = live.now;
    let upstream = h.upstream;
    let dir = h.stop().await;

    // Every pull fails (connection refused); the configuration serves until it is
    // maxStaleS old.
    let mut warned = Vec::new();
    while live.now + TICK_MS <= confirmed + MAX_STALE_S * 1000 {
        let relayed = live.tick().await;
        assert!(relayed.iter().all(|r| r.answer.is_none()), "{relayed:?}");
        warned.extend(live.log());
        let sent = live.get("/rest/api/space", "alice", &token);
        assert_eq!(
            sent.actions,
            [Action::Continue],
            "at +{} ms",
            live.now - confirmed
        );
    }
    assert_eq!(
        warned
            .iter()
            .filter(|line| line.contains("pulling from cluster tokengate"))
            .count(),
        1,
        "a lasting problem is logged once: {warned:?}"
    );
    live.tick().await;
    assert!(live.now > confirmed + MAX_STALE_S * 1000);
    let log = live.log();
    assert!(
        log.iter()
            .any(|line| line.contains("refusing every token (503)")
                && line.contains("maxStaleS (30 s)")),
        "{log:?}"
    );
    assert_eq!(live.metric("tokengate_filter_failing_closed"), Some(1));
    let refused = live.get("/rest/api/space", "alice", &token);
    assert_eq!(status(&refused), Some(503));
    let audit = refused.audit().expect("audited");
    assert_eq!(audit["reason"], "config-stale");
    assert_eq!(audit["upstreamStatus"], 503);

    // The gateway is back (on another port, as after a restart): the next pull confirms
    // the configuration (304) and tokens are served again.
    let h = Harness::start_with_upstream(upstream, dir, |_| {}).await;
    live.gateway = Some(h.addr);
    let relayed = live.tick().await;
    assert_eq!(
        relayed
            .iter()
            .find(|r| r.path == CONFIG_PATH)
            .and_then(|r| r.answer.as_ref())
            .map(|a| a.status),
        Some(304)
    );
    assert_eq!(live.metric("tokengate_filter_failing_closed"), Some(0));
    let sent = live.get("/rest/api/space", "alice", &token);
    assert_eq!(sent.actions, [Action::Continue]);
}

#[tokio::test]
async fn a_batch_retried_three_times_is_stored_once_and_counted_once() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (id, token) = alice(&h, "[get].*/rest/api/space.*").await;
    let mut live = Live::start(&h, json!({})).await;
    for path in [
        "/rest/api/space",
        "/rest/api/space/A",
        "/rest/api/user",
        "/rest/api/space/B",
    ] {
        live.get(path, "alice", &token);
    }

    // The gateway stores the batch, but its answer is lost: the filter sends the same
    // batch again after a wait, three times, and the gateway recognises it each time.
    let mut sent = Vec::new();
    let mut answers = Vec::new();
    let mut waited = 0;
    while sent.len() < 4 && waited < 100 {
        waited += 1;
        let losing = sent.len() < 3;
        for relayed in live
            .relay_with(|path, _| {
                if path == AUDIT_PATH && losing {
                    Deliver::Lost
                } else {
                    Deliver::Answer
                }
            })
            .await
            .into_iter()
            .filter(|r| r.path == AUDIT_PATH)
        {
            answers.push(relayed.answer.as_ref().map(Answer::json));
            sent.push(relayed);
        }
        live.tick_after(TICK_MS);
    }
    assert_eq!(sent.len(), 4, "sent once and retried three times");
    let ids: Vec<_> = sent.iter().map(|r| r.header(BATCH_HEADER)).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.is_some()),
        "{ids:?}"
    );
    assert!(
        sent.iter().all(|r| r.body == sent[0].body),
        "resent unchanged"
    );
    assert_eq!(
        answers[0].as_ref().map(|a| a["stored"].clone()),
        Some(json!(4))
    );
    for answer in &answers[1..] {
        assert_eq!(
            answer.as_ref().map(|a| a["duplicate"].clone()),
            Some(json!(true))
        );
    }
    // Taken at last: nothing more is sent.
    let relayed = live.tick().await;
    assert!(relayed.iter().all(|r| r.path != AUDIT_PATH), "{relayed:?}");

    let audit = h.audit(&admin, &format!("tokenId={id}")).await;
    assert_eq!(audit["total"], 4, "{audit}");
    let instance = sent[0].header(INSTANCE_HEADER).unwrap_or_default();
    for record in audit["records"].as_array().into_iter().flatten() {
        assert_eq!(
            record["via"],
            format!("{FLEET}/{instance}").as_str(),
            "{record}"
        );
    }
    let row = h.app.store().get(&id).await.expect("get").expect("row");
    assert_eq!(row.counter, 3, "one use per allowed record, counted once");
    assert_eq!(row.last_ip.as_deref(), Some("192.0.2.10"));
    let metrics = metrics(&h).await;
    assert!(
        metrics.contains("tokengate_filter_batches_total{outcome=\"stored\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tokengate_filter_batches_total{outcome=\"duplicate\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("tokengate_filter_requests_total{decision=\"allow\",reason=\"forwarded\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "tokengate_filter_requests_total{decision=\"deny\",reason=\"no-matching-rule\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn records_of_the_filter_and_of_the_gateway_show_in_one_audit_query() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (id, token) = alice(&h, "").await;
    let mut live = Live::start(&h, json!({})).await;
    assert_eq!(
        live.get("/rest/api/space", "alice", &token).actions,
        [Action::Continue]
    );
    assert_eq!(
        h.get("/rest/api/content", "alice", &token).await.status,
        StatusCode::OK
    );
    let relayed = live.tick().await;
    assert!(relayed.iter().any(|r| r.path == AUDIT_PATH));

    let audit = h.audit(&admin, &format!("tokenId={id}")).await;
    assert_eq!(audit["total"], 2, "{audit}");
    let records = audit["records"].as_array().cloned().unwrap_or_default();
    let by_filter = records
        .iter()
        .find(|r| r["via"].is_string())
        .expect("the filter's");
    let by_gateway = records
        .iter()
        .find(|r| r["via"].is_null())
        .expect("the gateway's");
    assert!(
        by_filter["via"]
            .as_str()
            .unwrap_or_default()
            .starts_with("edge/")
    );
    assert!(
        by_filter["component"]
            .as_str()
            .unwrap_or_default()
            .starts_with("tokengate-proxy-wasm/")
    );
    assert_eq!(by_filter["url"], "https://wiki.example.com/rest/api/space");
    assert_eq!(
        by_gateway["url"],
        "https://wiki.example.com/rest/api/content"
    );
    let row = h.app.store().get(&id).await.expect("get").expect("row");
    assert_eq!(row.counter, 2);
}

#[tokio::test]
async fn a_bad_configuration_from_the_gateway_is_refused_and_the_old_one_kept() {
    let h = Harness::start(|_| {}).await;
    let (_, old) = alice(&h, "").await;
    let mut live = Live::start(&h, json!({})).await;
    let (_, new) = alice(&h, "").await;
    let spoil = |name: &str, config: &mut Value| match name {
        "another key's" => config["keyId"] = json!("0123456789abcdef"),
        "a line the policy refuses" => config["tokens"][0]["limitTo"] = json!(".*(?=x)"),
        _ => config["revoked"] = json!([{ "id": "x", "digest": "zz" }]),
    };
    for name in [
        "not JSON",
        "another key's",
        "a line the policy refuses",
        "a digest that is no digest",
    ] {
        let relayed = live.relay_with(|_, _| Deliver::Answer).await;
        assert!(relayed.is_empty());
        live.tick_after(TICK_MS);
        live.relay_with(|path, answer| {
            if path == CONFIG_PATH && answer.status == 200 {
                let mut config: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                if name == "not JSON" {
                    answer.body = b"{\"format\": \"tokengate-proxy-wasm/1\", \"tokens\": ".to_vec();
                } else {
                    spoil(name, &mut config);
                    answer.body = config.to_string().into_bytes();
                }
                // Each spoilt answer is a configuration of its own.
                for (header, value) in &mut answer.headers {
                    if header == "etag" {
                        *value = format!("\"spoilt-{}\"", name.len());
                    }
                }
            }
            Deliver::Answer
        })
        .await;
        let log = live.log();
        assert!(
            log.iter()
                .any(|line| line.contains("refusing the gateway's configuration")
                    && line.contains("keeping version")),
            "{name}: {log:?}"
        );
        // The old configuration serves on: the old token is allowed, the new one unknown.
        assert_eq!(
            live.get("/rest/api/space", "alice", &old).actions,
            [Action::Continue],
            "{name}"
        );
        let unknown = live.get("/rest/api/space", "alice", &new);
        assert_eq!(
            unknown.audit().expect("audited")["reason"],
            "unknown-token",
            "{name}"
        );
    }
    assert_eq!(live.metric("tokengate_filter_config_rejected"), Some(4));
    // The same refused configuration again is neither compiled nor logged again.
    live.tick_after(TICK_MS);
    live.relay_with(|path, answer| {
        if path == CONFIG_PATH {
            for (header, value) in &mut answer.headers {
                if header == "etag" {
                    *value = format!("\"spoilt-{}\"", "a digest that is no digest".len());
                }
            }
            answer.body = b"[]".to_vec();
        }
        Deliver::Answer
    })
    .await;
    assert!(live.log().iter().all(|line| !line.contains("refusing")));
    assert_eq!(live.metric("tokengate_filter_config_rejected"), Some(4));
    // A good one is taken.
    live.tick().await;
    assert_eq!(
        live.get("/rest/api/space", "alice", &new).actions,
        [Action::Continue]
    );
}

#[tokio::test]
async fn rate_limits_apply_in_the_filter_and_the_gateway_counts_what_filters_sent() {
    let h = Harness::start(|config| config.rate_limit_per_minute = 2).await;
    let (_, token) = alice(&h, "").await;
    let mut live = Live::start(&h, json!({ "maxStaleS": 300 })).await;
    assert_eq!(
        live.get("/rest/api/space", "alice", &token).actions,
        [Action::Continue]
    );
    assert_eq!(
        live.get("/rest/api/space", "alice", &token).actions,
        [Action::Continue]
    );
    let limited = live.get("/rest/api/space", "alice", &token);
    assert_eq!(status(&limited), Some(429));
    assert_eq!(limited.audit().expect("audited")["reason"], "rate-limited");
    let retry_after = limited.exchange.local.as_ref().and_then(|local| {
        local
            .headers
            .iter()
            .find(|(name, _)| name.as_ref() == &b"retry-after"[..])
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    });
    assert_eq!(retry_after.as_deref(), Some("30"));
    // Half a minute later one more is allowed.
    live.now += 30_000;
    assert_eq!(
        live.get("/rest/api/space", "alice", &token).actions,
        [Action::Continue]
    );
    live.tick().await;
    let metrics = metrics(&h).await;
    assert!(
        metrics.contains(
            "tokengate_filter_requests_total{decision=\"deny\",reason=\"rate-limited\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("tokengate_filter_requests_total{decision=\"allow\",reason=\"forwarded\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_full_buffer_drops_the_oldest_and_counts_them() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (id, token) = alice(&h, "").await;
    let mut live = Live::start(&h, json!({ "bufferRecords": 3 })).await;
    for n in 0..5 {
        live.get(&format!("/rest/api/space/S{n}"), "alice", &token);
    }
    assert_eq!(
        live.metric("tokengate_filter_audit_dropped_records"),
        Some(2)
    );
    live.tick().await;
    let audit = h.audit(&admin, &format!("tokenId={id}")).await;
    let urls: Vec<_> = audit["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r["url"]
                .as_str()
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(urls, ["S4", "S3", "S2"], "the newest three, newest first");
    let metrics = metrics(&h).await;
    assert!(
        metrics.contains("tokengate_filter_dropped_records_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_revoked_credential_is_refused_and_the_filter_says_so() {
    let h = Harness::start(|_| {}).await;
    let (_, token) = alice(&h, "").await;
    let mut live = Live::start(&h, json!({})).await;
    live.get("/rest/api/space", "alice", &token);
    h.app
        .store()
        .revoke_credential(FLEET)
        .await
        .expect("revoke")
        .expect("a live credential");
    let relayed = live.tick().await;
    for relayed in &relayed {
        assert_eq!(
            relayed.answer.as_ref().map(|a| a.status),
            Some(401),
            "{relayed:?}"
        );
    }
    assert!(
        relayed.iter().any(|r| r.path == AUDIT_PATH),
        "the batch went too"
    );
    let log = live.log();
    assert!(
        log.iter()
            .any(|line| line.contains("the gateway refused the filter credential (401)")),
        "{log:?}"
    );
}
