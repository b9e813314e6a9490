//! The findings of the outside attack (issue 17), each over real sockets against the
//! fix: starvation by one hostile token, header twins, the Host header, admin path
//! spellings, cookies, a body that trickles in, the bounded audit queue and the refresh
//! that could bring a revoked token back.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use tokengate::audit::{Answer, AuditFilter, AuditRow, Write};
use tokengate::index::Token;
use tokengate::policy::{Limits, PolicyRuntime};
use tokengate::store::{
    AuditSync, Backend, FilterCredential, FilterCredentials, Loaded, NewToken, Pending, RateAnswer,
    Revoke, SinkLease, Store, TokenRow,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

use super::{ADMIN, Harness, basic, custom_upstream, raw};

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// A valid token whose decision on a long URL runs past the decision deadline every time:
/// 256 lines get too small a share of the lazy-DFA budget for one, so each line's regex
/// runs on the slower engines over the whole URL.
fn slow_lines() -> String {
    (1..=256)
        .map(|n| format!(".*/rest/api/q/.*a[^/]{{8}}x{n}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn slow_target() -> String {
    format!("/rest/api/q/{}", "a".repeat(8000))
}

/// The attack of the issue: 256 lines of a query condition, then requests with 180
/// values of 40 characters each.
fn attack_lines() -> String {
    (1..=256)
        .map(|n| format!(".*/rest/api/q(/{n})?[QueryParam::a==[\\x00-\\x7f]*a[\\x00-\\x7f]{{9}}]"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn attack_target() -> String {
    let values: Vec<String> = (0..180).map(|_| format!("a={}", "b".repeat(40))).collect();
    format!("/rest/api/q?{}", values.join("&"))
}

/// Sends `count` requests of an unrelated, light token one after another while
/// `attackers` connections hammer with a hostile one; the slowest light request.
async fn slowest_light_request(
    h: &Harness,
    hostile: &str,
    target: &str,
    attackers: usize,
) -> Duration {
    let (light_id, light) = h
        .token(NewToken {
            label: "light".into(),
            user: Some("alice".into()),
            limit_to: "[get].*/rest/api/space.*".into(),
            ..NewToken::default()
        })
        .await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut hammering = Vec::new();
    for _ in 0..attackers {
        let (url, auth, stop) = (h.url(target), basic("mallory", hostile), Arc::clone(&stop));
        hammering.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Full<Bytes>>();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let request = http::Request::get(&url)
                    .header("authorization", &auth)
                    .body(Full::new(Bytes::new()))
                    .expect("request");
                let _ = client.request(request).await;
            }
        }));
    }
    // Let the attack take hold first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..40 {
        let started = Instant::now();
        let reply = h.get("/rest/api/space/A", "alice", &light).await;
        slowest = slowest.max(started.elapsed());
        if reply.status != StatusCode::OK {
            let filter = tokengate::audit::AuditFilter {
                token_id: Some(light_id.clone()),
                max_results: 1,
                ..Default::default()
            };
            let (records, _) = h.app.store().query_audit(&filter).await.expect("audit");
            panic!("{}: {} ({records:?})", reply.status, reply.text());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in hammering {
        let _ = task.await;
    }
    slowest
}

#[tokio::test]
async fn the_attack_of_the_issue_leaves_other_tokens_within_their_latency() {
    let h = Harness::start(|_| {}).await;
    let (_, hostile) = h
        .token(NewToken {
            label: "hostile".into(),
            limit_to: attack_lines(),
            ..NewToken::default()
        })
        .await;
    let slowest = slowest_light_request(&h, &hostile, &attack_target(), 16).await;
    // Before: 0.45 to 1.1 s with 2 to 4 attackers, 7 s with 16.
    assert!(
        slowest < Duration::from_secs(1),
        "an unrelated request took {slowest:?} during the attack"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_token_that_keeps_hitting_the_deadline_is_held_back() {
    let h = Harness::start(|_| {}).await;
    let (hostile_id, hostile) = h
        .token(NewToken {
            label: "slow".into(),
            limit_to: slow_lines(),
            ..NewToken::default()
        })
        .await;
    // Each decision runs past the deadline: the third in a row holds the token back, and
    // then it is refused without running at all.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let reply = h.get(&slow_target(), "mallory", &hostile).await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [503; 5]);
    let record = h.last_audit().await;
    assert_eq!(record.token_id.as_deref(), Some(hostile_id.as_str()));
    assert_eq!(record.reason.as_deref(), Some("policy-error"));
    let detail = record.detail.unwrap_or_default();
    assert!(detail.contains("held back"), "{detail}");
    let started = Instant::now();
    let reply = h.get(&slow_target(), "mallory", &hostile).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(500));
    // Meanwhile other tokens are served.
    let slowest = slowest_light_request(&h, &hostile, &slow_target(), 8).await;
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_slow_token_does_not_hold_up_other_tokens_before_it_is_held_back() {
    let h = Harness::start(|_| {}).await;
    let (_, hostile) = h
        .token(NewToken {
            label: "slow".into(),
            limit_to: slow_lines(),
            ..NewToken::default()
        })
        .await;
    // Sixteen connections at once: the token's decisions run one at a time on one of the
    // policy threads until it is held back; other tokens keep the rest.
    let slowest = slowest_light_request(&h, &hostile, &slow_target(), 16).await;
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    h.stop().await;
}

#[tokio::test]
async fn twins_of_the_headers_the_gateway_sets_never_reach_the_upstream() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    let reply = h
        .call(
            Method::GET,
            "/rest/api/space",
            Some(basic("alice", &token)),
            &[
                ("X_Forwarded_User", "root"),
                ("x_forwarded-user", "root"),
                ("X_Forwarded_For", "10.9.9.9"),
                ("x_forwarded_host", "evil.example"),
                ("X_Custom_Header", "kept"),
            ],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.echoed("x-forwarded-user").as_deref(), Some("alice"));
    for twin in [
        "x_forwarded_user",
        "x_forwarded-user",
        "x_forwarded_for",
        "x_forwarded_host",
    ] {
        assert_eq!(reply.echoed(twin), None, "{twin} reached the upstream");
    }
    assert_eq!(reply.echoed("x_custom_header").as_deref(), Some("kept"));
    h.stop().await;
}

#[tokio::test]
async fn a_request_needs_exactly_one_host() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    let auth = basic("alice", &token);
    for (what, head) in [
        (
            "no Host on HTTP/1.1",
            format!(
                "GET /rest/api/space HTTP/1.1\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
            ),
        ),
        (
            "two Hosts",
            format!(
                "GET /rest/api/space HTTP/1.1\r\nHost: a\r\nHost: b\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
            ),
        ),
    ] {
        let answer = raw(h.addr, head.as_bytes()).await;
        assert_eq!(status_of(&answer), 400, "{what}: {answer}");
    }
    let answer = raw(
        h.addr,
        format!("GET /rest/api/space HTTP/1.0\r\nAuthorization: {auth}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "HTTP/1.0 without Host: {answer}");
    h.stop().await;
}

#[tokio::test]
async fn every_spelling_of_the_admin_path_is_the_gateways() {
    let h = Harness::start(|_| {}).await;
    let user = h.user_token("alice", "").await;
    let admin = h.admin_token().await;
    for path in [
        "/rest/extender/1.0/tokenTools",
        "/rest/extender/latest/tokenTools/get",
        "/rest/extender/1.0/TOKENTOOLS/get",
        "/rest/extender/2.0/tokentools/set",
    ] {
        let reply = h.get(path, "alice", &user).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            reply.text()
        );
        assert_eq!(h.last_audit().await.reason.as_deref(), Some("not-admin"));
    }
    let listed = h
        .get("/rest/extender/latest/tokenTools/get", ADMIN, &admin)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert!(listed.json()["tokens"].is_array(), "{}", listed.text());
    for path in [
        "/rest/extender/1.0/tokenTools",
        "/rest/extender/1.0/TOKENTOOLS/get",
    ] {
        let reply = h.get(path, ADMIN, &admin).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text()
        );
        // The gateway's own answer, not the echo upstream's.
        assert_eq!(reply.json()["status"], "error", "{}", reply.text());
    }
    h.stop().await;
}

async fn cookie_upstream() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    custom_upstream(|request: http::Request<hyper::body::Incoming>| async move {
        let cookie = request
            .headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        Response::builder()
            .header("set-cookie", "JSESSIONID=upstream-session")
            .body(Full::new(Bytes::from(cookie)))
            .expect("response")
    })
    .await
}

#[tokio::test]
async fn cookies_of_token_requests_are_stripped_unless_configured() {
    for pass in [false, true] {
        let (upstream, task) = cookie_upstream().await;
        let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |c| {
            c.pass_cookies = pass;
        })
        .await;
        let token = h.user_token("alice", "").await;
        let reply = h
            .call(
                Method::GET,
                "/rest/api/space",
                Some(basic("alice", &token)),
                &[("cookie", "JSESSIONID=client-session")],
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let set_cookie = reply.headers.get("set-cookie").is_some();
        if pass {
            assert_eq!(reply.text(), "JSESSIONID=client-session");
            assert!(set_cookie);
        } else {
            assert_eq!(reply.text(), "none", "the cookie reached the upstream");
            assert!(!set_cookie, "the upstream's cookie reached the client");
        }
        h.stop().await;
        task.abort();
    }
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_at_the_body_deadline() {
    let h = Harness::start(|c| c.body_timeout = Duration::from_secs(1)).await;
    let token = h
        .user_token("alice", "[post].*/rest/api/content[JsonData::type==page]")
        .await;
    let mut stream = TcpStream::connect(h.addr).await.expect("connect");
    let head = format!(
        "POST /rest/api/content HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        basic("alice", &token)
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let started = Instant::now();
    let mut answer = Vec::new();
    loop {
        // One byte every 300 ms: never finishes within the deadline.
        if stream.write_all(b" ").await.is_err() {
            break;
        }
        let mut buffer = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buffer[..n]);
                break;
            }
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no answer");
    }
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("body-timeout"));
    h.stop().await;
}

#[tokio::test]
async fn a_full_audit_queue_refuses_instead_of_growing() {
    if std::env::var("TOKENGATE_TEST_STORE").as_deref() == Ok("postgres") {
        // The writer is blocked through the SQLite file below.
        return;
    }
    let h = Harness::start(|c| c.audit_queue = 1).await;
    let token = h.user_token("alice", "").await;
    // Another writer holds the database: the audit writer's commit waits for it.
    let db = rusqlite::Connection::open(h.dir.path().join("data").join(tokengate::store::DB_FILE))
        .expect("open");
    db.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let mut calls = Vec::new();
    for _ in 0..6 {
        let (url, auth) = (h.url("/rest/api/space"), basic("alice", &token));
        calls.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Full<Bytes>>();
            let request = http::Request::get(url)
                .header("authorization", auth)
                .body(Full::new(Bytes::new()))
                .expect("request");
            client.request(request).await.map(|r| r.status())
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.execute_batch("COMMIT").expect("unlock");
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.expect("task").expect("answer"));
    }
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    let metrics = h.call(Method::GET, "/metrics", None, &[], "").await.text();
    assert!(metrics.contains("reason=\"audit-backlog\""), "{metrics}");
    h.stop().await;
}

/// A real SQLite backend whose `get` can be held between reading a row and returning it.
struct Pausing {
    inner: Arc<dyn Backend>,
    hold: std::sync::atomic::AtomicBool,
    read: Notify,
    release: Notify,
}

impl Backend for Pausing {
    fn claim_key<'a>(&'a self, key_id: &'a str) -> Pending<'a, Option<String>> {
        self.inner.claim_key(key_id)
    }
    fn load_tokens(&self) -> Pending<'_, Loaded> {
        self.inner.load_tokens()
    }
    fn changes_since(&self, version: i64) -> Pending<'_, (Vec<String>, i64)> {
        self.inner.changes_since(version)
    }
    fn insert_token<'a>(&'a self, token: &'a Token) -> Pending<'a, ()> {
        self.inner.insert_token(token)
    }
    fn revoke<'a>(&'a self, which: Revoke<'a>, now: i64) -> Pending<'a, Option<Token>> {
        self.inner.revoke(which, now)
    }
    fn rotate<'a>(
        &'a self,
        which: Revoke<'a>,
        new: Token,
        retire_at: i64,
    ) -> Pending<'a, Option<(Token, Token)>> {
        self.inner.rotate(which, new, retire_at)
    }
    fn list(&self, start_at: u64, max: u64, revoked: bool) -> Pending<'_, (Vec<TokenRow>, u64)> {
        self.inner.list(start_at, max, revoked)
    }
    fn get<'a>(&'a self, id: &'a str) -> Pending<'a, Option<TokenRow>> {
        Box::pin(async move {
            let row = self.inner.get(id).await?;
            if self.hold.swap(false, std::sync::atomic::Ordering::SeqCst) {
                self.read.notify_one();
                self.release.notified().await;
            }
            Ok(row)
        })
    }
    fn check_writable(&self) -> Pending<'_, ()> {
        self.inner.check_writable()
    }
    fn set_audit_sync(&self, sync: AuditSync) -> Pending<'_, ()> {
        self.inner.set_audit_sync(sync)
    }
    fn commit_audit(&self, batch: Vec<Write>) -> Pending<'_, Vec<Answer>> {
        self.inner.commit_audit(batch)
    }
    fn sweep_events(
        &self,
        now: i64,
        warning_ms: i64,
        forget_before: i64,
        undelivered_too: bool,
    ) -> Pending<'_, ()> {
        self.inner
            .sweep_events(now, warning_ms, forget_before, undelivered_too)
    }
    fn claim_events(&self, now: i64, limit: u32) -> Pending<'_, Vec<tokengate::events::Event>> {
        self.inner.claim_events(now, limit)
    }
    fn settle_event(&self, id: i64, settle: tokengate::events::Settle) -> Pending<'_, ()> {
        self.inner.settle_event(id, settle)
    }
    fn query_audit<'a>(&'a self, filter: &'a AuditFilter) -> Pending<'a, (Vec<AuditRow>, u64)> {
        self.inner.query_audit(filter)
    }
    fn prune_audit(&self, before: i64, limit: u64) -> Pending<'_, u64> {
        self.inner.prune_audit(before, limit)
    }
    fn count_audit<'a>(&'a self, filter: &'a AuditFilter) -> Pending<'a, u64> {
        self.inner.count_audit(filter)
    }
    fn last_audit_id(&self) -> Pending<'_, i64> {
        self.inner.last_audit_id()
    }
    fn take_rate<'a>(&'a self, token_id: &'a str, per_minute: u32) -> Pending<'a, RateAnswer> {
        self.inner.take_rate(token_id, per_minute)
    }
    fn watch(&self) -> Option<mpsc::UnboundedReceiver<()>> {
        self.inner.watch()
    }
    fn sink_lease<'a>(&'a self, sink: &'a str) -> Pending<'a, Option<Box<dyn SinkLease>>> {
        self.inner.sink_lease(sink)
    }
}

impl FilterCredentials for Pausing {
    fn insert_credential<'a>(&'a self, credential: &'a FilterCredential) -> Pending<'a, ()> {
        self.inner.insert_credential(credential)
    }
    fn credentials(&self) -> Pending<'_, Vec<FilterCredential>> {
        self.inner.credentials()
    }
    fn revoke_credential<'a>(
        &'a self,
        name: &'a str,
        now: i64,
    ) -> Pending<'a, Option<FilterCredential>> {
        self.inner.revoke_credential(name, now)
    }
    fn live_credential<'a>(
        &'a self,
        digest: &'a tokengate::token::Digest,
    ) -> Pending<'a, Option<FilterCredential>> {
        self.inner.live_credential(digest)
    }
}

async fn pausing_store(dir: &Path) -> (Store, Arc<Pausing>) {
    let key_path = dir.join(tokengate::store::KEY_FILE);
    let key = tokengate::store::load_or_create_key(&key_path).expect("key");
    let inner = tokengate::store::sqlite::Sqlite::open(&dir.join(tokengate::store::DB_FILE))
        .expect("sqlite");
    let pausing = Arc::new(Pausing {
        inner: Arc::new(inner),
        hold: false.into(),
        read: Notify::new(),
        release: Notify::new(),
    });
    let store = Store::with_backend(key, &key_path, Arc::clone(&pausing) as Arc<dyn Backend>)
        .await
        .expect("store");
    (store, pausing)
}

#[tokio::test]
async fn a_refresh_that_read_a_token_before_its_revocation_does_not_bring_it_back() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, pausing) = pausing_store(dir.path()).await;
    let (token, value) = store
        .create(NewToken {
            label: "raced".into(),
            ..NewToken::default()
        })
        .await
        .expect("created");
    let digest = store.digest(&value);
    // The refresh reads the token's row (live) and is held before it updates the index.
    pausing
        .hold
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let store = Arc::new(store);
    let refreshing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.refresh().await })
    };
    tokio::time::timeout(Duration::from_secs(5), pausing.read.notified())
        .await
        .expect("the refresh read the row");
    // Meanwhile the token is revoked.
    assert!(store.revoke_id(&token.id).await.expect("revoke").is_some());
    assert!(store.find(&digest).is_none());
    pausing.release.notify_one();
    refreshing.await.expect("task").expect("refresh");
    assert!(
        store.find(&digest).is_none(),
        "the refresh made a revoked token live again"
    );
    assert_eq!(store.revoked_id(&digest), Some(token.id.clone()));
}

#[tokio::test]
async fn revoking_a_token_leaves_the_policy_thread_that_compiled_it_working() {
    // One thread, so the revoked token's rules and the next request meet in one instance.
    let policy = PolicyRuntime::with_limits(Limits {
        threads: 1,
        ..Limits::default()
    })
    .expect("policy");
    let (upstream, echo) = tokengate::demo::start_echo().await.expect("echo");
    let h = Harness::start_with_policy(upstream, tempfile::tempdir().expect("dir"), policy, |_| {})
        .await;
    let admin = h.admin_token().await;
    let (doomed_id, doomed) = h
        .token(NewToken {
            label: "doomed".into(),
            user: Some("dora".into()),
            limit_to: "[get].*/rest/api/.*".into(),
            ..NewToken::default()
        })
        .await;
    assert_eq!(
        h.get("/rest/api/space", "dora", &doomed).await.status,
        StatusCode::OK
    );
    let revoked = h
        .call(
            Method::DELETE,
            "/rest/extender/1.0/tokenTools/delete",
            Some(basic(ADMIN, &admin)),
            &[("content-type", "application/json")],
            &format!(r#"{{"id":"{doomed_id}"}}"#),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    // The thread drops the rules before its next job, past the last call's deadline:
    // the drop is a guest call of its own.
    tokio::time::sleep(Duration::from_millis(250)).await;
    for _ in 0..3 {
        let listed = h
            .get("/rest/extender/1.0/tokenTools/get", ADMIN, &admin)
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    }
    assert_eq!(
        h.get("/rest/api/space", "dora", &doomed).await.status,
        StatusCode::UNAUTHORIZED
    );
    h.stop().await;
    echo.abort();
}

#[tokio::test]
async fn user_names_with_control_characters_or_surrounding_spaces_are_refused() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (_, any_user) = h
        .token(NewToken {
            label: "any user".into(),
            ..NewToken::default()
        })
        .await;
    for name in ["bob\r", "bob\0", "bob\x7f", " admin", "admin "] {
        let reply = h.get("/rest/api/space", name, &any_user).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name:?}");
        let record = h.last_audit().await;
        assert_eq!(record.reason.as_deref(), Some("bad-user-name"), "{name:?}");
        assert_eq!(record.user, None, "{name:?}");
    }
    // The same rule at creation: a 400 that names it.
    for (name, rule) in [
        ("alice\r\nX-Admin: yes", "control characters"),
        (" alice", "whitespace"),
    ] {
        let reply = h
            .call(
                Method::POST,
                "/rest/extender/1.0/tokenTools/set",
                Some(basic(ADMIN, &admin)),
                &[("content-type", "application/json")],
                &serde_json::json!({ "label": "x", "userName": name }).to_string(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name:?}");
        assert!(reply.text().contains(rule), "{name:?}: {}", reply.text());
    }
    h.stop().await;
}
