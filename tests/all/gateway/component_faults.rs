//! The policy component failing, or nearly, inside a running gateway: a call that
//! needs more than its instance's memory is refused with 503 (fail closed) and
//! audited, and the next request is served; tokens whose compiled rules together
//! outgrow one instance, and JSON bodies of many small objects, are served.
//!
//! Each test has its own policy runtime, so its instance pool sees only its requests.

use http::{Method, StatusCode};
use tokengate::policy::PolicyRuntime;

use super::{Harness, basic};

/// A gateway in front of the echo upstream whose policy instances may take `memory` bytes.
async fn gateway(memory: usize) -> (Harness, tokio::task::JoinHandle<()>) {
    let (upstream, echo) = tokengate::demo::start_echo().await.expect("echo starts");
    let policy = PolicyRuntime::with_memory_limit(memory).expect("the policy component loads");
    let dir = tempfile::tempdir().expect("temp dir");
    let harness = Harness::start_with_policy(upstream, dir, policy, |_| {}).await;
    (harness, echo)
}

/// 100 lines of the benchmark's kind, different for every token `n`; about 1 MiB compiled.
fn hundred_lines(n: usize) -> String {
    (0..100)
        .map(|line| format!("[get].*/rest/api/space/T{n}L{line}/property.*"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn tokens_whose_rules_outgrow_one_instance_are_all_served() {
    // Requests one after another check out the same idle instance, which caches
    // every token's compiled rules: 40 tokens of about 1 MiB fill 16 MiB twice.
    let (harness, _echo) = gateway(16 << 20).await;
    for n in 0..40 {
        let token = harness.user_token("alice", &hundred_lines(n)).await;
        let reply = harness
            .get(
                &format!("/rest/api/space/T{n}L99/property/x"),
                "alice",
                &token,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "token {n}: {}", reply.text());
    }
}

#[tokio::test]
async fn a_call_out_of_memory_is_refused_with_503_and_the_next_request_is_served() {
    let (harness, _echo) = gateway(8 << 20).await;
    // 40 regexes of about 1900 NFA units each: a valid token (each within its share
    // of 2000), but compiled they need more than an 8 MiB instance has. (Java's `.`
    // leaves out five line terminators, so it takes about 34 units.)
    let heavy: String = (0..40)
        .map(|line| format!("/rest/api/h{line}/.{{1,28}}.{{1,28}}"))
        .collect::<Vec<_>>()
        .join("\n");
    let checked = super::policy()
        .session()
        .and_then(|mut session| session.check(&heavy, ""))
        .expect("the default instance checks it");
    assert!(checked.is_ok(), "the heavy token is valid: {checked:?}");
    let heavy_token = harness.user_token("alice", &heavy).await;
    let light_token = harness.user_token("bob", ".*/rest/api/space.*").await;
    for round in 0..3 {
        let refused = harness
            .get("/rest/api/h39/abc", "alice", &heavy_token)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "round {round}: {}",
            refused.text()
        );
        let record = harness.last_audit().await;
        assert_eq!(record.decision, "deny");
        assert_eq!(record.reason.as_deref(), Some("policy-error"));
        assert_eq!(
            record.detail.as_deref(),
            Some("the policy component ran out of memory (8 MiB per instance)")
        );
        let served = harness.get("/rest/api/space/X", "bob", &light_token).await;
        assert_eq!(
            served.status,
            StatusCode::OK,
            "round {round}: {}",
            served.text()
        );
    }
}

#[tokio::test]
async fn a_json_body_of_many_small_objects_is_decided_within_the_instance() {
    // Parsed into a document, 1 MiB of `{"a":0}` objects takes far more than 16 MiB;
    // the policy walks the body for the condition's path instead.
    let (harness, _echo) = gateway(16 << 20).await;
    let token = harness
        .user_token("alice", "[post].*/rest/api/content[JsonData::1000.a==7]")
        .await;
    let mut items = vec![r#"{"a":0}"#; 131_000];
    items[1000] = r#"{"a":7}"#;
    let body = format!("[{}]", items.join(","));
    assert!(body.len() <= 1 << 20);
    let post = |body: String| {
        let authorization = Some(basic("alice", &token));
        let harness = &harness;
        async move {
            harness
                .call(
                    Method::POST,
                    "/rest/api/content",
                    authorization,
                    &[("content-type", "application/json")],
                    &body,
                )
                .await
        }
    };
    let other = body.replacen(r#"{"a":7}"#, r#"{"a":8}"#, 1);
    let reply = post(body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = post(other).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
}
