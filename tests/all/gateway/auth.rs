//! Authentication: schemes per mode, user binding, expiry, revocation, and the one
//! identical 401 for every failure (with the precise reason only in the audit log).

use http::{Method, StatusCode};
use tokengate::config::AuthMode;
use tokengate::store::NewToken;

use super::{ADMIN, Harness, basic, bearer};

const TARGET: &str = "/rest/api/space";

#[tokio::test]
async fn basic_and_bearer_follow_the_auth_mode() {
    for mode in [AuthMode::Basic, AuthMode::Bearer, AuthMode::Both] {
        let h = Harness::start(|c| c.auth_mode = mode).await;
        let token = h.user_token("alice", "").await;
        let with_basic = h
            .call(Method::GET, TARGET, Some(basic("alice", &token)), &[], "")
            .await;
        let with_bearer = h
            .call(Method::GET, TARGET, Some(bearer(&token)), &[], "")
            .await;
        let expect = |enabled: bool| {
            if enabled {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        };
        assert_eq!(
            with_basic.status,
            expect(mode.basic()),
            "basic under {mode:?}"
        );
        assert_eq!(
            with_bearer.status,
            expect(mode.bearer()),
            "bearer under {mode:?}"
        );
        if mode.bearer() {
            assert_eq!(
                with_bearer.echoed("x-forwarded-user").as_deref(),
                Some("alice")
            );
        }
        let challenges: Vec<_> = with_basic
            .headers
            .get_all("www-authenticate")
            .iter()
            .chain(with_bearer.headers.get_all("www-authenticate").iter())
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect();
        assert!(
            challenges
                .iter()
                .all(|c| (c.starts_with("Basic") && mode.basic())
                    || (c.starts_with("Bearer") && mode.bearer()))
        );
        h.stop().await;
    }
}

#[tokio::test]
async fn bearer_needs_a_token_bound_to_a_user() {
    let h = Harness::start(|c| c.auth_mode = AuthMode::Both).await;
    let (_, unbound) = h
        .token(NewToken {
            label: "any user".into(),
            ..NewToken::default()
        })
        .await;
    let reply = h
        .call(Method::GET, TARGET, Some(bearer(&unbound)), &[], "")
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.last_audit().await.reason.as_deref(),
        Some("bearer-needs-user")
    );
    h.stop().await;
}

#[tokio::test]
async fn a_bound_token_works_only_for_its_user() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    assert_eq!(h.get(TARGET, "alice", &token).await.status, StatusCode::OK);
    let other = h.get(TARGET, "mallory", &token).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    let audit = h.last_audit().await;
    assert_eq!(audit.reason.as_deref(), Some("user-mismatch"));
    // A failed authentication never stores the claimed name (it may be a swapped token):
    // only its keyed fingerprint, which an administrator can match with the server key.
    assert_eq!(audit.user, None);
    let fingerprint = h.app.store().key().fingerprint("mallory");
    let detail = audit.detail.unwrap_or_default();
    assert!(detail.contains(&fingerprint), "{detail}");
    assert!(!detail.contains("mallory"), "{detail}");
    h.stop().await;
}

#[tokio::test]
async fn an_unbound_token_runs_as_the_presented_user() {
    let h = Harness::start(|_| {}).await;
    let (_, token) = h
        .token(NewToken {
            label: "shared".into(),
            ..NewToken::default()
        })
        .await;
    for user in ["alice", "bob"] {
        let reply = h.get(TARGET, user, &token).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.echoed("x-forwarded-user").as_deref(), Some(user));
        assert_eq!(
            reply.echoed("authorization"),
            None,
            "the token never reaches the upstream"
        );
    }
    // An empty user name is refused.
    assert_eq!(
        h.get(TARGET, "", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("missing-user"));
    h.stop().await;
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let h = Harness::start(|_| {}).await;
    let now = tokengate::now_ms();
    let (_, live) = h
        .token(NewToken {
            label: "live".into(),
            user: Some("alice".into()),
            valid_until: Some(now + 60_000),
            ..NewToken::default()
        })
        .await;
    let (_, expired) = h
        .token(NewToken {
            label: "expired".into(),
            user: Some("alice".into()),
            valid_until: Some(now - 1),
            ..NewToken::default()
        })
        .await;
    assert_eq!(h.get(TARGET, "alice", &live).await.status, StatusCode::OK);
    assert_eq!(
        h.get(TARGET, "alice", &expired).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("expired"));
    h.stop().await;
}

#[tokio::test]
async fn every_authentication_failure_gets_the_same_401() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    let now = tokengate::now_ms();
    let (_, expired) = h
        .token(NewToken {
            label: "expired".into(),
            user: Some("alice".into()),
            valid_until: Some(now - 1),
            ..NewToken::default()
        })
        .await;
    let mut checksum_broken = tokengate::token::generate().expect("random");
    // Another last character (one in 62 tokens already ends in '0').
    let last = checksum_broken.pop();
    checksum_broken.push(if last == Some('0') { '1' } else { '0' });
    let cases = [
        (
            Some(basic("alice", "unknown-token-value-123")),
            "unknown-token",
        ),
        (Some(basic("alice", &checksum_broken)), "bad-checksum"),
        (Some(basic("bob", &token)), "user-mismatch"),
        (Some(basic("alice", &expired)), "expired"),
        (
            Some("Basic %%%notbase64".to_owned()),
            "malformed-credentials",
        ),
        (Some(basic("alice", "")), "malformed-credentials"),
        (None, ""),
    ];
    let mut bodies = Vec::new();
    for (authorization, reason) in cases {
        let reply = h
            .call(Method::GET, TARGET, authorization.clone(), &[], "")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reason}");
        assert_eq!(
            reply.text(),
            r#"{"message":"authentication failed","status":"error"}"#
        );
        assert!(reply.headers.get("www-authenticate").is_some());
        bodies.push(reply.body);
        if !reason.is_empty() {
            assert_eq!(h.last_audit().await.reason.as_deref(), Some(reason));
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    h.stop().await;
}

#[tokio::test]
async fn revocation_applies_to_the_next_request() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let token = h.user_token("alice", "").await;
    assert_eq!(h.get(TARGET, "alice", &token).await.status, StatusCode::OK);
    let body = serde_json::json!({ "token": token }).to_string();
    let revoked = h
        .call(
            Method::DELETE,
            "/rest/extender/1.0/tokenTools/delete",
            Some(basic(ADMIN, &admin)),
            &[],
            &body,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    let after = h.get(TARGET, "alice", &token).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("revoked"));
    h.stop().await;
}

#[tokio::test]
async fn passthrough_forwards_requests_without_a_token_untouched() {
    let off = Harness::start(|_| {}).await;
    let reply = off.call(Method::GET, TARGET, None, &[], "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    off.stop().await;

    let on = Harness::start(|c| c.passthrough = true).await;
    let reply = on
        .call(
            Method::GET,
            "/anything?x=1",
            None,
            &[("x-forwarded-user", "admin")],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["path"], "/anything");
    assert_eq!(
        reply.echoed("x-forwarded-user"),
        None,
        "no one may claim an identity"
    );
    on.stop().await;
}
