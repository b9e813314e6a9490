//! Several `tokengate` processes sharing one PostgreSQL database, as behind a load
//! balancer: tokens, revocations, counters, rate limits and the audit log are one.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokengate::audit::AuditFilter;
use tokengate::store::{KEY_FILE, NewToken, Store};

use super::binary::{Process, tokengate_binary};
use super::{ADMIN, basic, load};
use crate::postgres::fresh_database;

/// Propagation bound the issue sets for creation and revocation.
const PROPAGATION: Duration = Duration::from_secs(1);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Two gateways on one database, in front of one upstream.
struct Pair {
    _dir: tempfile::TempDir,
    url: String,
    key_dir: std::path::PathBuf,
    admin: String,
    instances: Vec<(Process, SocketAddr)>,
    client: HttpClient,
}

impl Pair {
    /// Starts two instances with `extra` flags; `None` outside CI without PostgreSQL.
    async fn start(upstream: SocketAddr, extra: &[&str]) -> Option<Self> {
        let binary = tokengate_binary()?;
        let database = fresh_database().await?;
        let dir = tempfile::tempdir().expect("dir");
        // The first data directory gets the key (and claims the database for it);
        // the second instance runs with a copy, as an operator deploys it.
        let first = dir.path().join("a");
        let admin = {
            let store = Store::open(&first, &database.location())
                .await
                .expect("store");
            let (_, admin) = store
                .create(NewToken {
                    label: "admin".into(),
                    user: Some(ADMIN.into()),
                    ..NewToken::default()
                })
                .await
                .expect("admin token");
            admin
        };
        let second = dir.path().join("b");
        std::fs::create_dir_all(&second).expect("second data dir");
        std::fs::copy(first.join(KEY_FILE), second.join(KEY_FILE)).expect("key copied");
        let mut processes = Vec::new();
        for data_dir in [&first, &second] {
            let process = Process::spawn(
                Command::new(&binary)
                    .args(["serve", "--listen", "127.0.0.1:0"])
                    .args(["--upstream", &format!("http://{upstream}")])
                    .args(["--store", &database.url, "--admins", ADMIN])
                    .arg("--data-dir")
                    .arg(data_dir)
                    .args(extra),
            );
            processes.push(process);
        }
        let mut instances = Vec::new();
        for mut process in processes {
            let addr = process.wait_serving().await;
            instances.push((process, addr));
        }
        Some(Self {
            key_dir: first,
            _dir: dir,
            url: database.url,
            admin,
            instances,
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
        })
    }

    fn addr(&self, instance: usize) -> SocketAddr {
        self.instances[instance].1
    }

    async fn send(
        &self,
        instance: usize,
        method: Method,
        target: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        send(
            &self.client,
            self.addr(instance),
            method,
            target,
            auth,
            body,
        )
        .await
    }

    /// The shared database, opened as a third instance would (for audit queries).
    async fn store(&self) -> Store {
        let location = tokengate::store::Location::parse(&self.url).expect("url");
        Store::open(&self.key_dir, &location).await.expect("store")
    }
}

async fn send(
    client: &HttpClient,
    addr: SocketAddr,
    method: Method,
    target: &str,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{target}"))
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = client.request(request).await.expect("an answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Polls `check` until it holds; returns how long that took (panics after `limit`).
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_token_created_on_one_instance_works_on_the_other_and_its_revocation_too() {
    let (upstream, _task) = tokengate::demo::start_echo().await.expect("echo");
    let Some(pair) = Pair::start(upstream, &[]).await else {
        return;
    };
    let admin = basic(ADMIN, &pair.admin);
    let (status, created) = pair
        .send(
            0,
            Method::POST,
            "/rest/extender/1.0/tokenTools/set",
            &admin,
            Some(json!({ "label": "shared", "userName": "alice" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let token = created["token"].as_str().expect("token value").to_owned();
    let id = created["id"].as_str().expect("token id").to_owned();
    let alice = basic("alice", &token);

    let took = within(PROPAGATION, "creation reaches instance 2", || async {
        pair.send(1, Method::GET, "/rest/api/space", &alice, None)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    eprintln!("creation propagated in {took:?}");

    let (status, _) = pair
        .send(
            0,
            Method::DELETE,
            "/rest/extender/1.0/tokenTools/delete",
            &admin,
            Some(json!({ "id": id })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let took = within(PROPAGATION, "revocation reaches instance 2", || async {
        pair.send(1, Method::GET, "/rest/api/space", &alice, None)
            .await
            .0
            == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("revocation propagated in {took:?}");
    // The refusal on instance 2 is audited as a revoked token.
    let store = pair.store().await;
    let (records, _) = store
        .query_audit(&AuditFilter {
            token_id: Some(id),
            decision: Some("deny".into()),
            max_results: 1,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(records[0].reason.as_deref(), Some("revoked"));
}

#[tokio::test]
async fn concurrent_traffic_across_both_instances_keeps_counters_exact() {
    let (upstream, _task) = tokengate::demo::start_echo().await.expect("echo");
    let Some(pair) = Pair::start(upstream, &[]).await else {
        return;
    };
    let admin = basic(ADMIN, &pair.admin);
    let (_, created) = pair
        .send(
            0,
            Method::POST,
            "/rest/extender/1.0/tokenTools/set",
            &admin,
            Some(json!({ "label": "busy", "userName": "alice" })),
        )
        .await;
    let token = created["token"].as_str().expect("token").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let alice = basic("alice", &token);
    within(PROPAGATION, "creation reaches instance 2", || async {
        pair.send(1, Method::GET, "/rest/api/warmup", &alice, None)
            .await
            .0
            == StatusCode::OK
    })
    .await;

    let pair = Arc::new(pair);
    let mut workers = Vec::new();
    for worker in 0..8 {
        let pair = Arc::clone(&pair);
        let alice = alice.clone();
        workers.push(tokio::spawn(async move {
            for n in 0..25 {
                let target = format!("/rest/api/space?w={worker}&n={n}");
                let (status, _) = pair
                    .send(worker % 2, Method::GET, &target, &alice, None)
                    .await;
                assert_eq!(status, StatusCode::OK);
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    // 200 requests plus the warm-up uses, whichever instance served them.
    let (status, listed) = pair
        .send(
            1,
            Method::GET,
            "/rest/extender/1.0/tokenTools/get",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let row = listed["tokens"]
        .as_array()
        .and_then(|tokens| tokens.iter().find(|t| t["id"] == id.as_str()))
        .expect("the token is listed");
    let store = pair.store().await;
    let (_, allowed) = store
        .query_audit(&AuditFilter {
            token_id: Some(id.clone()),
            decision: Some("allow".into()),
            max_results: 1,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert!(allowed >= 201, "{allowed}");
    assert_eq!(row["counter"].as_u64(), Some(allowed));
}

#[tokio::test]
async fn per_token_rate_limits_are_shared_by_the_instances() {
    let (upstream, _task) = tokengate::demo::start_echo().await.expect("echo");
    let Some(pair) = Pair::start(upstream, &["--rate-limit", "10"]).await else {
        return;
    };
    let store = pair.store().await;
    let (_, token) = store
        .create(NewToken {
            label: "limited".into(),
            user: Some("alice".into()),
            ..NewToken::default()
        })
        .await
        .expect("token");
    let alice = basic("alice", &token);
    within(PROPAGATION, "creation reaches both", || async {
        pair.send(0, Method::GET, "/rest/api/a", &alice, None)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        statuses.push(
            pair.send(n % 2, Method::GET, "/rest/api/b", &alice, None)
                .await
                .0,
        );
    }
    let allowed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // One bucket of 10 for both instances: 1 taken by the warm-up, 9 more pass.
    assert_eq!((allowed, limited), (9, 3), "{statuses:?}");
}

#[tokio::test]
async fn a_quota_is_exact_across_instances_and_a_rotation_reaches_both() {
    let (upstream, _task) = tokengate::demo::start_echo().await.expect("echo");
    let Some(pair) = Pair::start(upstream, &[]).await else {
        return;
    };
    let admin = basic(ADMIN, &pair.admin);
    let (status, created) = pair
        .send(
            0,
            Method::POST,
            "/rest/extender/1.0/tokenTools/set",
            &admin,
            Some(json!({ "label": "quota", "userName": "alice", "remainingUses": 40 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let alice = basic("alice", created["token"].as_str().expect("token"));
    within(PROPAGATION, "creation reaches both", || async {
        pair.send(1, Method::GET, "/rest/api/warm", &alice, None)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    // 100 requests at once, spread over both instances: 39 uses are left.
    let pair = Arc::new(pair);
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..100 {
        let (pair, alice) = (Arc::clone(&pair), alice.clone());
        requests.spawn(async move {
            pair.send(n % 2, Method::GET, "/rest/api/q", &alice, None)
                .await
                .0
        });
    }
    let statuses = requests.join_all().await;
    let allowed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((allowed, refused), (39, 61), "{statuses:?}");
    let store = pair.store().await;
    // The token's own refusals (the warm-up may have met an instance that did not know
    // the token yet: that refusal names no token).
    let exhausted = store
        .count_audit(&AuditFilter {
            token_id: created["id"].as_str().map(str::to_owned),
            decision: Some("deny".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("count");
    assert_eq!(exhausted, 61, "every refusal is audited");

    // A rotation without grace made on one instance ends the old value on the other.
    let old = created["token"].as_str().expect("token");
    let (status, rotated) = pair
        .send(
            0,
            Method::POST,
            "/rest/extender/1.0/tokenTools/rotate",
            &admin,
            Some(json!({ "token": old })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    within(
        PROPAGATION,
        "the rotation reaches the other instance",
        || async {
            pair.send(1, Method::GET, "/rest/api/r", &alice, None)
                .await
                .0
                == StatusCode::UNAUTHORIZED
        },
    )
    .await;
}

#[tokio::test]
async fn each_event_is_delivered_by_one_instance() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (seen, _receiver) = super::webhooks::receiver(listener, 0);
    let (upstream, _task) = tokengate::demo::start_echo().await.expect("echo");
    let extra = [
        "--webhook-url",
        &url,
        "--webhook-secret",
        super::webhooks::SECRET,
    ];
    let Some(pair) = Pair::start(upstream, &extra).await else {
        return;
    };
    let store = pair.store().await;
    let mut ids = vec![];
    for n in 0..20 {
        let (token, _) = store
            .create(NewToken {
                label: format!("t{n}"),
                ..NewToken::default()
            })
            .await
            .expect("token");
        ids.push(token.id.clone());
    }
    within(
        Duration::from_secs(15),
        "every creation is delivered",
        || async {
            let delivered = seen.lock().expect("seen").deliveries.len();
            // The admin token's creation too.
            delivered > ids.len()
        },
    )
    .await;
    // Both instances poll every second; give a duplicate the time to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = seen.lock().expect("seen");
    let delivered: Vec<&str> = seen
        .deliveries
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    let distinct: std::collections::BTreeSet<&str> = delivered.iter().copied().collect();
    assert_eq!(
        delivered.len(),
        distinct.len(),
        "one delivery per event: {delivered:?}"
    );
    assert_eq!(distinct.len(), ids.len() + 1);
}

#[tokio::test]
async fn killing_an_instance_under_load_loses_no_audit_record() {
    // The upstream records every request it receives.
    let (upstream, _task, received) = load::recording_upstream().await;
    let Some(mut pair) = Pair::start(upstream, &[]).await else {
        return;
    };
    let store = pair.store().await;
    let (token, value) = store
        .create(NewToken {
            label: "load".into(),
            user: Some("alice".into()),
            ..NewToken::default()
        })
        .await
        .expect("token");
    let alice = basic("alice", &value);
    let victim = pair.addr(0);
    within(PROPAGATION, "the token reaches instance 1", || async {
        send(
            &pair.client,
            victim,
            Method::GET,
            "/rest/api/ready",
            &alice,
            None,
        )
        .await
        .0 == StatusCode::OK
    })
    .await;

    let workers = load::until_refused(&pair.client, victim, &alice, "");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (victim_process, _) = &mut pair.instances[0];
    victim_process.child.kill().expect("kill -9");
    let _ = victim_process.child.wait();
    let answered = load::answered(workers).await;
    assert!(answered > 0, "no request was served before the kill");

    let missing = load::unaudited(&store, &token.id, &received).await;
    let received = received.lock().expect("received").clone();
    assert!(
        missing.is_empty(),
        "forwarded without an audit record: {missing:?}"
    );
    assert!(
        i64::try_from(received.len()).unwrap_or(i64::MAX) >= answered,
        "{} < {answered}",
        received.len()
    );
    // The other instance still serves the same token.
    let (status, _) = pair
        .send(1, Method::GET, "/rest/api/after", &alice, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    eprintln!(
        "killed after {answered} answered requests; {} reached the upstream, all audited",
        received.len()
    );
}

#[tokio::test]
async fn migrate_copies_tokens_counters_and_audit_from_sqlite_into_postgres() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    let Some(database) = fresh_database().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().join("data");
    let sqlite = Store::open(&data_dir, &tokengate::store::Location::Sqlite)
        .await
        .expect("sqlite store");
    let new = |label: &str| NewToken {
        label: label.into(),
        user: Some("alice".into()),
        limit_to: "[get].*/rest/api/.*".into(),
        ..NewToken::default()
    };
    let (kept, kept_value) = sqlite.create(new("kept")).await.expect("token");
    let (gone, _) = sqlite.create(new("gone")).await.expect("token");
    sqlite.revoke_id(&gone.id).await.expect("revoked");
    let log = tokengate::audit::AuditLog::start(sqlite.backend(), Default::default());
    for n in 0..3 {
        log.append(tokengate::audit::AuditRecord {
            time: 1_000 + n,
            token_id: Some(kept.id.clone()),
            client_ip: "10.0.0.9".into(),
            method: "GET".into(),
            url: format!("https://wiki.example.com/rest/api/space?n={n}"),
            decision: tokengate::audit::ALLOW,
            component: "c0ffee".into(),
            count_use: true,
            ..Default::default()
        })
        .await
        .expect("audited");
    }
    log.shutdown().await;
    let everything = AuditFilter {
        max_results: 100,
        ..AuditFilter::default()
    };
    let (before, _) = sqlite.query_audit(&everything).await.expect("audit");
    drop(sqlite);

    let migrate = || {
        Command::new(&binary)
            .args(["migrate", "--from"])
            .arg(format!("sqlite:{}", data_dir.display()))
            .args(["--to", &database.url])
            .output()
            .expect("migrate runs")
    };
    let output = migrate();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("copied 2 tokens and 3 audit records"),
        "{said}"
    );

    let shared = Store::open(&data_dir, &database.location())
        .await
        .expect("postgres store with the same key");
    let found = shared
        .find(&shared.digest(&kept_value))
        .expect("live token");
    assert_eq!(found.id, kept.id);
    let (tokens, total) = shared.list(0, 10, true).await.expect("list");
    assert_eq!(total, 2);
    let kept_row = tokens.iter().find(|t| t.token.id == kept.id).expect("kept");
    assert_eq!(kept_row.counter, 3);
    assert_eq!(kept_row.last_used, Some(1_002));
    let gone_row = tokens.iter().find(|t| t.token.id == gone.id).expect("gone");
    assert!(gone_row.revoked.is_some());
    let (after, _) = shared.query_audit(&everything).await.expect("audit");
    assert_eq!(after, before, "records copied with their ids");
    // New records continue after the copied ids.
    let next = shared
        .backend()
        .commit_audit(vec![tokengate::audit::Write::Append(Box::new(
            tokengate::audit::AuditRecord {
                client_ip: "::1".into(),
                method: "GET".into(),
                url: "/".into(),
                decision: tokengate::audit::DENY,
                component: "c0ffee".into(),
                ..Default::default()
            },
        ))])
        .await
        .expect("append");
    assert!(next[0].id() > before[0].id, "{next:?}");

    let again = migrate();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
