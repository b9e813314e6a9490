//! The gateway's endpoints for proxy-wasm filters over a real socket: the credential they
//! need, the configuration's versions and `ETag`s (a change made anywhere is served at
//! once), and what the audit intake refuses.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokengate::store::{NewToken, Store};
use tokengate_core::export::{AUDIT_PATH, BATCH_HEADER, CONFIG_PATH, INSTANCE_HEADER};

use super::{ADMIN, Harness, Reply, basic, bearer};

async fn pull(h: &Harness, credential: &str, etag: Option<&str>) -> Reply {
    let mut headers = Vec::new();
    if let Some(etag) = etag {
        headers.push(("if-none-match", etag));
    }
    h.call(
        Method::GET,
        CONFIG_PATH,
        Some(bearer(credential)),
        &headers,
        "",
    )
    .await
}

fn etag(reply: &Reply) -> String {
    reply
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_filter_endpoints_answer_only_a_live_filter_credential() {
    let h = Harness::start(|_| {}).await;
    let token = h.admin_token().await;
    let (credential, value) = h
        .app
        .store()
        .create_credential("fleet", None)
        .await
        .expect("credential");
    assert!(value.starts_with("tgf_"));
    for authorization in [
        None,
        Some(bearer(&token)),
        Some(basic(ADMIN, &token)),
        Some(bearer("tgf_guess")),
    ] {
        let reply = h
            .call(Method::GET, CONFIG_PATH, authorization.clone(), &[], "")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert!(reply.headers.contains_key("www-authenticate"));
    }
    assert_eq!(
        h.call(Method::POST, CONFIG_PATH, Some(bearer(&value)), &[], "")
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        h.call(
            Method::GET,
            "/tokengate/filter/other",
            Some(bearer(&value)),
            &[],
            ""
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let reply = pull(&h, &value, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let config = reply.json();
    assert_eq!(config["format"], "tokengate-proxy-wasm/1");
    assert_eq!(config["keyId"], h.app.store().key_id().as_str());
    assert!(!reply.text().contains(&token), "digests only");
    assert_eq!(
        reply
            .headers
            .get("tokengate-config-version")
            .and_then(|v| v.to_str().ok()),
        Some(config["version"].to_string().as_str())
    );
    h.app
        .store()
        .revoke_credential(&credential.id)
        .await
        .expect("revoke")
        .expect("was live");
    assert_eq!(
        pull(&h, &value, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Names are never reused: `via` in the audit log stays unambiguous.
    assert!(
        h.app
            .store()
            .create_credential("fleet", None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_change_made_anywhere_is_a_new_version_at_once() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let credential = h.filter_credential("fleet").await;
    let first = pull(&h, &credential, None).await;
    let first_etag = etag(&first);
    let first_version = first.json()["version"].as_i64().unwrap_or(0);
    let same = pull(&h, &credential, Some(&first_etag)).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&same), first_etag);
    assert!(same.body.is_empty());

    // Another process on the same data (the CLI, another instance): served at once, not
    // at this instance's next refresh.
    let other = Store::open(&h.app.config().data_dir, &h.app.config().store)
        .await
        .expect("another store");
    let (created, _) = other
        .create(NewToken {
            label: "elsewhere".into(),
            user: Some("bob".into()),
            ..NewToken::default()
        })
        .await
        .expect("created elsewhere");
    let changed = pull(&h, &credential, Some(&first_etag)).await;
    assert_eq!(changed.status, StatusCode::OK);
    let config = changed.json();
    assert!(config["version"].as_i64().unwrap_or(0) > first_version);
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(ids(&config["tokens"]).contains(&created.id));

    let reply = h.revoke(&admin, &created.id).await;
    assert_eq!(reply.status, StatusCode::OK);
    let revoked = pull(&h, &credential, Some(&etag(&changed))).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(ids(&revoked.json()["revoked"]).contains(&created.id));
    assert!(!ids(&revoked.json()["tokens"]).contains(&created.id));
}

#[tokio::test]
async fn the_audit_intake_refuses_what_is_not_a_batch() {
    let h = Harness::start(|_| {}).await;
    let credential = h.filter_credential("fleet").await;
    let line = json!({
        "event": "audit", "time": 1, "tokenId": null, "user": null, "clientIp": "192.0.2.1",
        "method": "GET", "url": "/rest/api/space", "decision": "deny",
        "reason": "unknown-token", "component": "tokengate-proxy-wasm/0.1.0",
    })
    .to_string();
    let post = |headers: Vec<(&'static str, &'static str)>, body: String| {
        let h = &h;
        let credential = credential.clone();
        async move {
            h.call(
                Method::POST,
                AUDIT_PATH,
                Some(bearer(&credential)),
                &headers,
                &body,
            )
            .await
        }
    };
    let batch = vec![(INSTANCE_HEADER, "i-1"), (BATCH_HEADER, "1")];
    for (headers, body, named) in [
        (vec![(BATCH_HEADER, "1")], line.clone(), INSTANCE_HEADER),
        (
            vec![(INSTANCE_HEADER, "a/b"), (BATCH_HEADER, "1")],
            line.clone(),
            INSTANCE_HEADER,
        ),
        (
            vec![(INSTANCE_HEADER, "i-1"), (BATCH_HEADER, "one")],
            line.clone(),
            BATCH_HEADER,
        ),
        (batch.clone(), format!("{line}\n{{\"time\": 1}}"), "line 2"),
        (
            batch.clone(),
            line.replace("unknown-token", "mystery"),
            "unknown reason",
        ),
        (batch.clone(), String::new(), "no record"),
    ] {
        let reply = post(headers, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{named}: {}",
            reply.text()
        );
        assert!(reply.text().contains(named), "{named}: {}", reply.text());
    }
    let stored = post(batch.clone(), line.clone()).await;
    assert_eq!(stored.json(), json!({ "stored": 1, "duplicate": false }));
    let again = post(batch, line).await;
    assert_eq!(again.json(), json!({ "stored": 0, "duplicate": true }));
    let record = h.last_audit().await;
    assert_eq!(record.via.as_deref(), Some("fleet/i-1"));
    assert_eq!(record.reason.as_deref(), Some("unknown-token"));
}
