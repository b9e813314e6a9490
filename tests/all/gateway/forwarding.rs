//! Forwarding: hop-by-hop headers, identity and upstream credential, upstream
//! failures, the seed's curl example, health and metrics.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use tokengate::config::Secret;

use super::{Harness, basic, custom_upstream};

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_both_ways() {
    let (upstream, task) =
        custom_upstream(|request: http::Request<hyper::body::Incoming>| async move {
            let seen: Vec<String> = request
                .headers()
                .keys()
                .map(|k| k.as_str().to_owned())
                .collect();
            Response::builder()
                .header("connection", "x-upstream-private")
                .header("x-upstream-private", "secret")
                .header("keep-alive", "timeout=5")
                .header("proxy-authenticate", "Basic")
                .header("x-upstream-public", "ok")
                .body(Full::new(Bytes::from(seen.join(","))))
                .expect("response")
        })
        .await;
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |_| {}).await;
    let token = h.user_token("alice", "").await;
    let reply = h
        .call(
            Method::GET,
            "/rest/api/space",
            Some(basic("alice", &token)),
            &[
                ("connection", "x-client-private"),
                ("x-client-private", "1"),
                ("keep-alive", "timeout=5"),
                ("te", "trailers"),
                ("proxy-authorization", "Basic Zm9vOmJhcg=="),
                ("upgrade", "websocket"),
                ("x-client-public", "1"),
            ],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let seen = reply.text();
    for name in [
        "x-client-private",
        "keep-alive",
        "te",
        "proxy-authorization",
        "upgrade",
        "authorization",
    ] {
        assert!(
            !seen.split(',').any(|h| h == name),
            "{name} reached the upstream: {seen}"
        );
    }
    assert!(seen.split(',').any(|h| h == "x-client-public"), "{seen}");
    for name in ["x-upstream-private", "keep-alive", "proxy-authenticate"] {
        assert!(
            reply.headers.get(name).is_none(),
            "{name} reached the client"
        );
    }
    assert_eq!(reply.headers["x-upstream-public"], "ok");
    h.stop().await;
    task.abort();
}

#[tokio::test]
async fn the_upstream_sees_the_identity_and_its_own_credential_only() {
    let h = Harness::start(|c| {
        c.upstream_authorization = Some(Secret::new("Basic c2VydmljZTpwYXNz".into()));
        c.identity_header = http::HeaderName::from_static("x-remote-user");
    })
    .await;
    let token = h.user_token("alice", "").await;
    let reply = h
        .call(
            Method::GET,
            "/rest/api/space?limit=5",
            Some(basic("alice", &token)),
            &[("x-remote-user", "admin"), ("host", "wiki.example.com")],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.echoed("x-remote-user").as_deref(),
        Some("alice"),
        "a client cannot claim a user"
    );
    assert_eq!(
        reply.echoed("authorization").as_deref(),
        Some("Basic c2VydmljZTpwYXNz")
    );
    assert_eq!(reply.echoed("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(
        reply.echoed("x-forwarded-host").as_deref(),
        Some("wiki.example.com")
    );
    assert_eq!(
        reply.echoed("host"),
        Some(h.upstream.to_string()),
        "the request's Host never picks the upstream"
    );
    assert_eq!(reply.json()["path"], "/rest/api/space");
    assert_eq!(reply.json()["query"], "limit=5");
    assert!(
        !format!("{:?}", h.app.config()).contains("c2VydmljZTpwYXNz"),
        "Debug redacts the credential"
    );
    h.stop().await;
}

#[tokio::test]
async fn upstream_down_is_502_and_slow_is_504() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let down =
        Harness::start_with_upstream(closed, tempfile::tempdir().expect("dir"), |_| {}).await;
    let token = down.user_token("alice", "").await;
    assert_eq!(
        down.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::BAD_GATEWAY
    );
    // Allowed and audited before forwarding; the failure completes the record.
    let record = down.last_audit().await;
    assert_eq!(record.decision, "allow");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        down.last_audit().await.reason.as_deref(),
        Some("upstream-connect")
    );
    down.stop().await;

    let (slow, task) = custom_upstream(|_request| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Response::new(Full::new(Bytes::from_static(b"late")))
    })
    .await;
    let h = Harness::start_with_upstream(slow, tempfile::tempdir().expect("dir"), |c| {
        c.upstream_timeout = Duration::from_millis(300);
    })
    .await;
    let token = h.user_token("alice", "").await;
    assert_eq!(
        h.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::GATEWAY_TIMEOUT
    );
    h.stop().await;
    task.abort();
}

#[tokio::test]
async fn redirects_are_relayed_not_followed() {
    let (upstream, task) = custom_upstream(|_request| async {
        Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "http://elsewhere.example/")
            .body(Full::new(Bytes::new()))
            .expect("response")
    })
    .await;
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |_| {}).await;
    let token = h.user_token("alice", "").await;
    let reply = h.get("/rest/api/space", "alice", &token).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers["location"], "http://elsewhere.example/");
    h.stop().await;
    task.abort();
}

#[tokio::test]
async fn the_seeds_curl_example_works() {
    let h = Harness::start(|_| {}).await;
    let token = h
        .user_token("admin", ".*/rest/extender/1.0/user/getUserDetails/.*")
        .await;
    let url = h.url("/rest/extender/1.0/user/getUserDetails/admin");
    let h2 = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-s", "-u", &format!("admin:{token}"), &url])
            .output()
    })
    .await
    .expect("join")
    .expect("curl runs");
    let echoed: serde_json::Value = serde_json::from_slice(&h2.stdout).expect("json");
    assert_eq!(
        echoed["path"],
        "/rest/extender/1.0/user/getUserDetails/admin"
    );
    assert_eq!(echoed["headers"]["x-forwarded-user"], "admin");
    h.stop().await;
}

#[tokio::test]
async fn health_and_metrics() {
    let h = Harness::start(|_| {}).await;
    let health = h.call(Method::GET, "/healthz", None, &[], "").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["ready"], true);
    assert_eq!(health.json()["storeWritable"], true);
    assert_eq!(
        health.json()["component"],
        tokengate_policy_artifact_digest()
    );
    let token = h.user_token("alice", "").await;
    h.get("/rest/api/space", "alice", &token).await;
    h.get("/rest/api/space", "bob", &token).await;
    let metrics = h.call(Method::GET, "/metrics", None, &[], "").await.text();
    assert!(
        metrics.contains("tokengate_requests_total{decision=\"allow\",reason=\"forwarded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tokengate_requests_total{decision=\"deny\",reason=\"user-mismatch\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tokengate_audit_commit_duration_seconds_count"));
    assert!(metrics.contains("\ntokengate_tasks_alive "), "{metrics}");
    assert!(metrics.contains("\ntokengate_open_fds "), "{metrics}");
    h.stop().await;
}

fn tokengate_policy_artifact_digest() -> String {
    super::policy().digest().to_owned()
}
