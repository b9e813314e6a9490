//! Token events delivered to a webhook receiver on a real socket: signed (checked here
//! with an HMAC written independently of the gateway's), retried after a 500, each event
//! id delivered until it is taken, and none lost to a `kill -9` between the commit
//! that wrote an event and its delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokengate::webhooks::Webhook;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::binary::{Process, tokengate_binary};
use super::{ADMIN, Harness, basic};

pub(super) const SECRET: &str = "webhook-secret-for-tests";
/// How long an event may take to arrive (a sweep runs every 5 s; retries back off
/// from 1 s).
const ARRIVAL: Duration = Duration::from_secs(30);

/// HMAC-SHA256 (RFC 2104) from SHA-256 alone, so the check does not share the
/// gateway's code.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

/// What a receiver saw: every delivery in order, and how many it refused with 500.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) deliveries: Vec<Value>,
    refused: usize,
    bad_signatures: usize,
}

/// A webhook receiver on `listener` that answers the first `fail` deliveries with 500.
pub(super) fn receiver(listener: TcpListener, fail: usize) -> (Arc<Mutex<Seen>>, JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        let state = Arc::clone(&state);
                        async move {
                            let signature = request
                                .headers()
                                .get("x-tokengate-signature")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let delivery_id = request
                                .headers()
                                .get("x-tokengate-delivery")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let body = request.into_body().collect().await.map(|b| b.to_bytes());
                            let body = body.unwrap_or_default();
                            let expected =
                                format!("sha256={}", hmac_sha256(SECRET.as_bytes(), &body));
                            let parsed: Value =
                                serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let mut seen = state.lock().unwrap();
                            if signature.as_deref() != Some(expected.as_str())
                                || delivery_id.as_deref() != parsed["id"].as_str()
                            {
                                seen.bad_signatures += 1;
                            }
                            let status = if seen.refused < fail {
                                seen.refused += 1;
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                seen.deliveries.push(parsed);
                                StatusCode::OK
                            };
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (seen, task)
}

/// The events taken (answered 200), by id, first body each; repeats dropped as a
/// receiver would.
fn taken(seen: &Mutex<Seen>) -> BTreeMap<String, Value> {
    let mut events = BTreeMap::new();
    for delivery in &seen.lock().unwrap().deliveries {
        if let Some(id) = delivery["id"].as_str() {
            events
                .entry(id.to_owned())
                .or_insert_with(|| delivery.clone());
        }
    }
    events
}

/// Waits until the receiver has taken events of every kind in `kinds`.
async fn until_kinds(seen: &Mutex<Seen>, kinds: &[&str]) -> BTreeMap<String, Value> {
    let started = Instant::now();
    loop {
        let events = taken(seen);
        let got: BTreeSet<&str> = events.values().filter_map(|e| e["type"].as_str()).collect();
        if kinds.iter().all(|kind| got.contains(kind)) {
            return events;
        }
        assert!(
            started.elapsed() < ARRIVAL,
            "events {kinds:?} not all delivered within {ARRIVAL:?}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn admin_post(h: &Harness, admin: &str, path: &str, body: Value) -> Value {
    let reply = h
        .call(
            Method::POST,
            path,
            Some(basic(ADMIN, admin)),
            &[("content-type", "application/json")],
            &body.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn every_kind_of_event_arrives_signed_and_a_500_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    // The first two deliveries are refused: they must come again, with the same ids.
    let (seen, _receiver) = receiver(listener, 2);
    let clock = tokengate::Clock::default();
    let h = Harness::start(|config| {
        config.clock = clock.clone();
        config.webhook = Some(Webhook {
            url: url.parse().unwrap(),
            secret: tokengate::config::Secret::new(SECRET.into()),
        });
    })
    .await;
    let admin = h.admin_token().await;
    let set = "/rest/extender/1.0/tokenTools/set";
    let created = admin_post(
        &h,
        &admin,
        set,
        json!({ "label": "ci", "userName": "alice", "daysUntilExpiry": 3 }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(
        h.get("/rest/api/content", "alice", &token).await.status,
        StatusCode::OK
    );
    // A rotated token is not announced as expiring: wait for it first.
    until_kinds(&seen, &["token.created", "token.new_ip", "token.expiring"]).await;
    let rotated = admin_post(
        &h,
        &admin,
        "/rest/extender/1.0/tokenTools/rotate",
        json!({ "id": id, "graceMinutes": 5 }),
    )
    .await;
    let successor = rotated["id"].as_str().unwrap().to_owned();
    let other = admin_post(
        &h,
        &admin,
        set,
        json!({ "label": "short", "daysUntilExpiry": 1 }),
    )
    .await;
    assert_eq!(h.revoke(&admin, &successor).await.status, StatusCode::OK);
    // Past the short token's expiry (the clock moves, the sweep notices).
    clock.advance(2 * 86_400_000);

    let events = until_kinds(
        &seen,
        &[
            "token.created",
            "token.new_ip",
            "token.rotated",
            "token.revoked",
            "token.expiring",
            "token.expired",
        ],
    )
    .await;
    let of = |kind: &str, token: &str| {
        events
            .values()
            .filter(|e| e["type"] == kind && e["token"]["id"] == token)
            .count()
    };
    assert_eq!(of("token.created", &id), 1);
    assert_eq!(of("token.new_ip", &id), 1);
    assert_eq!(of("token.rotated", &id), 1);
    assert_eq!(of("token.revoked", &successor), 1);
    assert_eq!(
        of("token.expiring", &id),
        1,
        "once, though swept many times"
    );
    assert_eq!(of("token.expired", other["id"].as_str().unwrap()), 1);
    let rotation = events
        .values()
        .find(|e| e["type"] == "token.rotated")
        .unwrap();
    assert_eq!(rotation["data"]["rotatedTo"], successor.as_str());
    assert!(rotation["time"].as_i64().is_some_and(|t| t > 0));
    assert_eq!(rotation["token"]["label"], "ci");
    let new_ip = events
        .values()
        .find(|e| e["type"] == "token.new_ip")
        .unwrap();
    assert_eq!(new_ip["data"]["ip"], "127.0.0.1");

    {
        let seen_now = seen.lock().unwrap();
        assert_eq!(seen_now.bad_signatures, 0, "every delivery is signed");
        assert_eq!(seen_now.refused, 2);
        // A refused delivery comes again with its id; once taken, an event is not sent again.
        let accepted: Vec<&str> = seen_now
            .deliveries
            .iter()
            .filter_map(|d| d["id"].as_str())
            .collect();
        let distinct: BTreeSet<&str> = accepted.iter().copied().collect();
        assert_eq!(accepted.len(), distinct.len(), "each event is taken once");
    }

    let metrics = h.call(Method::GET, "/metrics", None, &[], "").await.text();
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(value("tokengate_webhook_failures_total") >= 2, "{metrics}");
    assert!(
        value("tokengate_webhook_deliveries_total") >= 6,
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test]
async fn events_committed_before_a_kill_9_are_delivered_after_the_restart() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    // A port for the receiver that is not listening yet: deliveries fail meanwhile.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = crate::postgres::store_under_test(dir.path()).await;
    let data = dir.path().join("data");
    let (upstream, _echo) = tokengate::demo::start_echo().await.unwrap();
    let serve = || {
        let mut command = Command::new(&binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--store", &store, "--admins", ADMIN])
            .arg("--data-dir")
            .arg(&data)
            .env("TOKENGATE_WEBHOOK_URL", format!("http://{port}/hook"))
            .env("TOKENGATE_WEBHOOK_SECRET", SECRET);
        Process::spawn(&mut command)
    };
    let mut first = serve();
    let addr = first.wait_serving().await;
    let admin_value = {
        let location = tokengate::store::Location::parse(&store).unwrap();
        let opened = tokengate::store::Store::open(&data, &location)
            .await
            .unwrap();
        opened
            .create(tokengate::store::NewToken {
                label: "admin".into(),
                user: Some(ADMIN.into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .1
    };
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut ids = Vec::new();
    for n in 0..5 {
        let started = Instant::now();
        let created = loop {
            let request =
                http::Request::post(format!("http://{addr}/rest/extender/1.0/tokenTools/set"))
                    .header("authorization", basic(ADMIN, &admin_value))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(
                        json!({ "label": format!("t{n}") }).to_string(),
                    )))
                    .unwrap();
            let response = client.request(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            // The admin token made outside the gateway is picked up within a second.
            if status == StatusCode::OK {
                break serde_json::from_slice::<Value>(&body).unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    // Committed, not delivered (nobody listens): the process dies without a word.
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let (seen, _receiver) = receiver(TcpListener::bind(port).await.unwrap(), 0);
    let mut second = serve();
    second.wait_serving().await;
    let started = Instant::now();
    loop {
        let events = taken(&seen);
        let created: BTreeSet<&str> = events
            .values()
            .filter(|e| e["type"] == "token.created")
            .filter_map(|e| e["token"]["id"].as_str())
            .collect();
        if ids.iter().all(|id| created.contains(id.as_str())) {
            break;
        }
        assert!(
            started.elapsed() < ARRIVAL,
            "not every event arrived after the restart: {created:?} of {ids:?}\n{}",
            second.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.lock().unwrap().bad_signatures, 0);
}
