//! A token's life beyond create and revoke, through the admin API over real sockets:
//! rotation with a grace period (on an injected clock), quotas counted down in the audit
//! commit, the lifetime limit, `expiresSoon` and the last client addresses.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, Harness, basic};

const GET: &str = "/rest/extender/1.0/tokenTools/get";
const SET: &str = "/rest/extender/1.0/tokenTools/set";
const ROTATE: &str = "/rest/extender/1.0/tokenTools/rotate";
const API: &str = "/rest/api/content";

async fn admin_post(h: &Harness, admin: &str, path: &str, body: Value) -> super::Reply {
    h.call(
        Method::POST,
        path,
        Some(basic(ADMIN, admin)),
        &[("content-type", "application/json")],
        &body.to_string(),
    )
    .await
}

/// Creates a token through `set` (which must answer 200): the answer, its id and value.
async fn create(h: &Harness, admin: &str, body: Value) -> (Value, String, String) {
    let reply = admin_post(h, admin, SET, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let created = reply.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let value = created["token"].as_str().unwrap().to_owned();
    (created, id, value)
}

/// The token `id` as `get` shows it.
async fn shown(h: &Harness, admin: &str, id: &str) -> Value {
    let reply = h.get(&format!("{GET}?maxResults=1000"), ADMIN, admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["tokens"]
        .as_array()
        .and_then(|tokens| tokens.iter().find(|t| t["id"] == id).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_rotated_value_works_until_its_grace_period_ends() {
    let clock = tokengate::Clock::default();
    let h = Harness::start(|config| config.clock = clock.clone()).await;
    let admin = h.admin_token().await;
    let (_, old_id, old) = create(
        &h,
        &admin,
        json!({ "label": "ci", "userName": "alice", "limitTo": ".*/rest/api/.*",
                "ip": "127.0.0.1", "daysUntilExpiry": 30 }),
    )
    .await;

    let rotated = admin_post(
        &h,
        &admin,
        ROTATE,
        json!({ "id": old_id, "graceMinutes": 10 }),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let rotated = rotated.json();
    assert_eq!(rotated["status"], "ok");
    assert_eq!(rotated["rotatedFrom"], old_id.as_str());
    let (new_id, new) = (
        rotated["id"].as_str().unwrap().to_owned(),
        rotated["token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(new, old);

    // The new token carries the old one's settings.
    let (was, is) = (
        shown(&h, &admin, &old_id).await,
        shown(&h, &admin, &new_id).await,
    );
    for field in ["label", "user", "limitTo", "ip", "validUntil"] {
        assert_eq!(was[field], is[field], "{field}");
    }
    assert_eq!(was["rotatedTo"], new_id.as_str());
    assert_eq!(is["rotatedFrom"], old_id.as_str());

    // Both values work during the grace period.
    assert_eq!(h.get(API, "alice", &old).await.status, StatusCode::OK);
    assert_eq!(h.get(API, "alice", &new).await.status, StatusCode::OK);
    clock.advance(9 * 60_000);
    assert_eq!(h.get(API, "alice", &old).await.status, StatusCode::OK);

    // After it, the old value is refused like any bad credential, audited as `rotated`.
    clock.advance(60_000);
    let refused = h.get(API, "alice", &old).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let record = h.last_audit().await;
    assert_eq!(record.reason.as_deref(), Some("rotated"));
    assert_eq!(record.token_id.as_deref(), Some(old_id.as_str()));
    assert_eq!(h.get(API, "alice", &new).await.status, StatusCode::OK);

    // A rotated token cannot be rotated again; a revoked one neither.
    let again = admin_post(&h, &admin, ROTATE, json!({ "token": old })).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());
    assert!(again.text().contains("rotated already"), "{}", again.text());
    assert_eq!(h.revoke(&admin, &new_id).await.status, StatusCode::OK);
    let revoked = admin_post(&h, &admin, ROTATE, json!({ "id": new_id })).await;
    assert_eq!(revoked.status, StatusCode::BAD_REQUEST);
    assert!(revoked.text().contains("was revoked"), "{}", revoked.text());
    let unknown = admin_post(&h, &admin, ROTATE, json!({ "id": "nope" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let long = admin_post(
        &h,
        &admin,
        ROTATE,
        json!({ "id": old_id, "graceMinutes": 1441 }),
    )
    .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    h.stop().await;
}

#[tokio::test]
async fn a_rotation_without_grace_ends_the_old_value_at_once_on_every_instance() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let old = h.user_token("alice", "").await;
    let rotated = admin_post(&h, &admin, ROTATE, json!({ "token": old })).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let new = rotated.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        h.get(API, "alice", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("rotated"));
    assert_eq!(h.get(API, "alice", &new).await.status, StatusCode::OK);

    // A gateway started afterwards on the same data loads the end too.
    let dir = h.stop().await;
    let (upstream, _task) = tokengate::demo::start_echo().await.unwrap();
    let h = Harness::start_with_upstream(upstream, dir, |_| {}).await;
    assert_eq!(
        h.get(API, "alice", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.get(API, "alice", &new).await.status, StatusCode::OK);
    h.stop().await;
}

#[tokio::test]
async fn a_quota_allows_exactly_its_uses_then_403() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (created, id, token) = create(
        &h,
        &admin,
        json!({ "label": "quota", "userName": "alice", "remainingUses": 3 }),
    )
    .await;
    assert_eq!(created["remainingUses"], 3);
    for _ in 0..3 {
        assert_eq!(h.get(API, "alice", &token).await.status, StatusCode::OK);
    }
    let refused = h.get(API, "alice", &token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let record = h.last_audit().await;
    assert_eq!(record.reason.as_deref(), Some("quota-exhausted"));
    assert_eq!(record.decision, "deny");
    let token_shown = shown(&h, &admin, &id).await;
    assert_eq!(token_shown["remainingUses"], 0);
    assert_eq!(token_shown["counter"], 3, "refusals are not uses");

    // Bad values are refused with the field's name.
    let bad = admin_post(
        &h,
        &admin,
        SET,
        json!({ "label": "x", "remainingUses": -1 }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("remainingUses"), "{}", bad.text());
    h.stop().await;
}

#[tokio::test]
async fn concurrent_requests_never_overshoot_a_quota() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (_, _, token) = create(
        &h,
        &admin,
        json!({ "label": "quota", "userName": "alice", "remainingUses": 25 }),
    )
    .await;
    let h = std::sync::Arc::new(h);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..80 {
        let (h, token) = (std::sync::Arc::clone(&h), token.clone());
        requests.spawn(async move { h.get(API, "alice", &token).await.status });
    }
    let statuses = requests.join_all().await;
    let allowed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let exhausted = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((allowed, exhausted), (25, 55));
    if let Ok(h) = std::sync::Arc::try_unwrap(h) {
        h.stop().await;
    }
}

#[tokio::test]
async fn the_lifetime_limit_refuses_longer_tokens_and_expiry_is_announced() {
    let h = Harness::start(|config| config.lifetime.max_token_days = 30).await;
    let admin = h.admin_token().await;
    for body in [
        json!({ "label": "forever" }),
        json!({ "label": "long", "daysUntilExpiry": 31 }),
    ] {
        let refused = admin_post(&h, &admin, SET, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.text().contains("at most 30 days"),
            "{}",
            refused.text()
        );
    }
    let soon = admin_post(
        &h,
        &admin,
        SET,
        json!({ "label": "soon", "daysUntilExpiry": 3 }),
    )
    .await
    .json();
    let later = admin_post(
        &h,
        &admin,
        SET,
        json!({ "label": "later", "daysUntilExpiry": 30 }),
    )
    .await
    .json();
    let soon = shown(&h, &admin, soon["id"].as_str().unwrap()).await;
    let later = shown(&h, &admin, later["id"].as_str().unwrap()).await;
    assert_eq!(soon["expiresSoon"], true);
    assert_eq!(later["expiresSoon"], false);
    h.stop().await;
}

#[tokio::test]
async fn get_shows_the_last_five_client_addresses() {
    let clock = tokengate::Clock::default();
    let h = Harness::start(|config| {
        config.clock = clock.clone();
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let admin = h.admin_token().await;
    let (_, id, token) = create(&h, &admin, json!({ "label": "ips", "userName": "alice" })).await;
    for n in 1..=7 {
        let forwarded = format!("192.0.2.{n}");
        let reply = h
            .call(
                Method::GET,
                API,
                Some(basic("alice", &token)),
                &[("x-forwarded-for", &forwarded)],
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        clock.advance(1_000);
    }
    let ips = shown(&h, &admin, &id).await["lastIps"].clone();
    let ips: Vec<&str> = ips
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["ip"].as_str())
        .collect();
    assert_eq!(
        ips,
        [
            "192.0.2.7",
            "192.0.2.6",
            "192.0.2.5",
            "192.0.2.4",
            "192.0.2.3"
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn a_token_is_refused_before_its_valid_from() {
    let clock = tokengate::Clock::default();
    let h = Harness::start(|config| config.clock = clock.clone()).await;
    let admin = h.admin_token().await;
    let start = tokengate::now_ms() + 3_600_000;
    let (created, _, token) = create(
        &h,
        &admin,
        json!({ "label": "later", "userName": "alice", "validFrom": start }),
    )
    .await;
    assert_eq!(created["validFrom"], start);
    assert_eq!(
        h.get(API, "alice", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.last_audit().await.reason.as_deref(),
        Some("not-yet-valid")
    );
    clock.advance(3_600_000);
    assert_eq!(h.get(API, "alice", &token).await.status, StatusCode::OK);

    // RFC 3339 works too; anything else is refused naming the field.
    let rfc = admin_post(
        &h,
        &admin,
        SET,
        json!({ "label": "dated", "validFrom": "2030-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(rfc.json()["validFrom"], 1_893_456_000_000_i64);
    let bad = admin_post(
        &h,
        &admin,
        SET,
        json!({ "label": "bad", "validFrom": "soon" }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("validFrom"), "{}", bad.text());
    h.stop().await;
}
