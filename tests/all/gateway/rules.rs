//! Token restrictions as the gateway applies them: IP rules (trusted proxies and
//! spoofed X-Forwarded-For), scope, query and JSON conditions, and rate limits.

use http::{Method, StatusCode};
use tokengate::config::ScopeSetting;
use tokengate::store::NewToken;

use super::{Harness, basic};

async fn ip_token(h: &Harness, ip: &str) -> String {
    h.token(NewToken {
        label: "office only".into(),
        user: Some("alice".into()),
        ip: ip.into(),
        ..NewToken::default()
    })
    .await
    .1
}

#[tokio::test]
async fn ip_rules_believe_only_trusted_proxies() {
    // Behind a trusted proxy (the test client is 127.0.0.1), the client address is
    // the X-Forwarded-For entry it added.
    let trusted =
        Harness::start(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")]).await;
    let token = ip_token(&trusted, "10.1.0.0/16").await;
    let from_office = trusted
        .call(
            Method::GET,
            "/rest/api/space",
            Some(basic("alice", &token)),
            &[("x-forwarded-for", "10.1.2.3")],
            "",
        )
        .await;
    assert_eq!(from_office.status, StatusCode::OK);
    assert_eq!(
        from_office.echoed("x-forwarded-for").as_deref(),
        Some("10.1.2.3, 127.0.0.1")
    );
    let from_elsewhere = trusted
        .call(
            Method::GET,
            "/rest/api/space",
            Some(basic("alice", &token)),
            &[("x-forwarded-for", "192.0.2.7")],
            "",
        )
        .await;
    assert_eq!(from_elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(
        trusted.last_audit().await.reason.as_deref(),
        Some("ip-not-allowed")
    );
    assert_eq!(trusted.last_audit().await.client_ip, "192.0.2.7");
    trusted.stop().await;

    // From an untrusted peer the header is a lie: the peer address decides, and the
    // upstream sees the peer only.
    let untrusted = Harness::start(|_| {}).await;
    let token = ip_token(&untrusted, "10.1.0.0/16").await;
    let spoofed = untrusted
        .call(
            Method::GET,
            "/rest/api/space",
            Some(basic("alice", &token)),
            &[("x-forwarded-for", "10.1.2.3")],
            "",
        )
        .await;
    assert_eq!(spoofed.status, StatusCode::FORBIDDEN);
    assert_eq!(untrusted.last_audit().await.client_ip, "127.0.0.1");
    let local = ip_token(&untrusted, "127.0.0.1").await;
    let reply = untrusted
        .call(
            Method::GET,
            "/rest/api/space",
            Some(basic("alice", &local)),
            &[("x-forwarded-for", "10.1.2.3")],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.echoed("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    untrusted.stop().await;
}

#[tokio::test]
async fn scope_rest_and_extender() {
    let rest = Harness::start(|c| c.scope = ScopeSetting::Rest).await;
    let token = rest.user_token("alice", "").await;
    assert_eq!(
        rest.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        rest.get("/wiki/spaces", "alice", &token).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        rest.last_audit().await.reason.as_deref(),
        Some("out-of-scope")
    );
    rest.stop().await;

    let extender = Harness::start(|c| c.scope = ScopeSetting::Extender).await;
    let token = extender.user_token("alice", "").await;
    assert_eq!(
        extender
            .get("/rest/api/space", "alice", &token)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        extender
            .get(
                "/rest/extender/1.0/user/getUserDetails/alice",
                "alice",
                &token
            )
            .await
            .status,
        StatusCode::OK
    );
    extender.stop().await;
}

#[tokio::test]
async fn lines_methods_and_query_conditions() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token(
        "alice",
        "[post].*/rest/api/space/EXTENDER/property.*\\n.*/rest/api/content[QueryParam::expand==body.*]",
    ).await;
    let auth = Some(basic("alice", &token));
    let post = h
        .call(
            Method::POST,
            "/rest/api/space/EXTENDER/property",
            auth.clone(),
            &[],
            "{}",
        )
        .await;
    assert_eq!(post.status, StatusCode::OK);
    assert_eq!(h.last_audit().await.line, Some(1));
    assert_eq!(
        h.call(
            Method::GET,
            "/rest/api/space/EXTENDER/property",
            auth.clone(),
            &[],
            ""
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.last_audit().await.reason.as_deref(),
        Some("no-matching-rule")
    );
    let query_ok = h
        .call(
            Method::GET,
            "/rest/api/content?expand=body.view",
            auth.clone(),
            &[],
            "",
        )
        .await;
    assert_eq!(query_ok.status, StatusCode::OK);
    assert_eq!(
        query_ok.json()["query"],
        "expand=body.view",
        "the checked query is forwarded"
    );
    assert_eq!(h.last_audit().await.line, Some(2));
    assert_eq!(
        h.call(
            Method::GET,
            "/rest/api/content?expand=history",
            auth,
            &[],
            ""
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    h.stop().await;
}

#[tokio::test]
async fn json_conditions_read_the_body_and_still_forward_it_intact() {
    let h = Harness::start(|c| c.body_limit = 1024).await;
    let token = h
        .user_token("alice", "[post].*/rest/api/content[JsonData::type==page]")
        .await;
    let auth = Some(basic("alice", &token));
    let page = r#"{"type":"page","title":"Hello","body":{"storage":{"value":"<p>x</p>"}}}"#;
    let reply = h
        .call(
            Method::POST,
            "/rest/api/content",
            auth.clone(),
            &[("content-type", "application/json")],
            page,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["body"], page);
    let blog = r#"{"type":"blogpost"}"#;
    assert_eq!(
        h.call(Method::POST, "/rest/api/content", auth.clone(), &[], blog)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Not UTF-8: no JSON, so the condition cannot hold.
    let reply = h
        .send(
            http::Request::post(h.url("/rest/api/content"))
                .header("authorization", basic("alice", &token))
                .body(http_body_util::Full::new(bytes::Bytes::from_static(&[
                    0xff, 0xfe, b'{',
                ])))
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let big = format!(r#"{{"type":"page","pad":"{}"}}"#, "x".repeat(2048));
    let reply = h
        .call(Method::POST, "/rest/api/content", auth, &[], &big)
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        h.last_audit().await.reason.as_deref(),
        Some("body-too-large")
    );
    h.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let h = Harness::start(|c| c.rate_limit_per_minute = 2).await;
    let token = h.user_token("alice", "").await;
    let other = h.user_token("bob", "").await;
    assert_eq!(
        h.get("/rest/api/x", "alice", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/rest/api/x", "alice", &token).await.status,
        StatusCode::OK
    );
    let limited = h.get("/rest/api/x", "alice", &token).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("rate-limited"));
    assert_eq!(
        h.get("/rest/api/x", "bob", &other).await.status,
        StatusCode::OK,
        "per token"
    );
    h.stop().await;
}
