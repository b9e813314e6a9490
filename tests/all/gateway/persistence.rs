//! What survives: tokens, counters and the audit log across a restart; exact
//! counters under concurrency; and no token value anywhere in the data directory.

use std::sync::Arc;

use http::StatusCode;

use super::{ADMIN, Harness};

async fn token_row(h: &Harness, admin: &str, label: &str) -> serde_json::Value {
    let reply = h
        .get(
            "/rest/extender/1.0/tokenTools/get?maxResults=1000",
            ADMIN,
            admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["tokens"]
        .as_array()
        .and_then(|tokens| tokens.iter().find(|t| t["label"] == label).cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_restart_keeps_tokens_counters_and_audit() {
    // One upstream for both runs (a harness's own echo stops with it).
    let (upstream, echo) = tokengate::demo::start_echo().await.expect("echo");
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |_| {}).await;
    let admin = h.admin_token().await;
    let token = h.user_token("alice", "").await;
    for _ in 0..3 {
        assert_eq!(
            h.get("/rest/api/space", "alice", &token).await.status,
            StatusCode::OK
        );
    }
    let before = h.audit(&admin, "user=alice").await["total"].clone();
    assert_eq!(before, 3);
    let dir = h.stop().await;

    let h = Harness::start_with_upstream(upstream, dir, |_| {}).await;
    assert_eq!(
        h.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::OK
    );
    let row = token_row(&h, &admin, "alice token").await;
    assert_eq!(row["counter"], 4);
    assert_eq!(row["lastIp"], "127.0.0.1");
    assert_eq!(h.audit(&admin, "user=alice").await["total"], 4);
    h.stop().await;
    echo.abort();
}

#[tokio::test]
async fn concurrent_requests_keep_exact_counters() {
    let h = Arc::new(Harness::start(|_| {}).await);
    let admin = h.admin_token().await;
    let token = h.user_token("alice", "").await;
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let h = Arc::clone(&h);
            let token = token.clone();
            tokio::spawn(async move {
                let per_task = 200 / 16 + usize::from(task < 200 % 16);
                for _ in 0..per_task {
                    assert_eq!(
                        h.get("/rest/api/space", "alice", &token).await.status,
                        StatusCode::OK
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let row = token_row(&h, &admin, "alice token").await;
    assert_eq!(row["counter"], 200);
    assert_eq!(
        h.audit(&admin, "user=alice&decision=allow").await["total"],
        200
    );
    let h = Arc::into_inner(h).expect("sole owner");
    h.stop().await;
}

#[tokio::test]
async fn the_audit_log_never_holds_a_token_value() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let token = h.user_token("alice", ".*/rest/api/space").await;
    h.get("/rest/api/space", "alice", &token).await;
    h.get("/rest/api/other", "alice", &token).await;
    h.get("/rest/api/space", "bob", &token).await;
    h.get(
        &format!("/rest/api/space?x={token}"),
        "alice",
        "wrong-token-value-1234",
    )
    .await;
    let audit = h.audit(&admin, "maxResults=1000").await;
    let listed = h
        .get("/rest/extender/1.0/tokenTools/get", ADMIN, &admin)
        .await
        .text();
    let dir = h.stop().await;
    let audit_text = audit.to_string();
    assert!(audit["total"].as_u64().unwrap_or(0) >= 4);
    // The value may appear only where the client itself put it (the query above);
    // never as the credential: check every record except that URL.
    for record in audit["records"].as_array().expect("records") {
        let mut record = record.clone();
        record["url"] = serde_json::Value::Null;
        assert!(!record.to_string().contains(&token), "{record}");
    }
    assert!(!audit_text.contains(&admin));
    assert!(
        !listed.contains(&token) && !listed.contains(&admin),
        "get shows hints only"
    );
    // Nor anywhere in the data directory's files (database, WAL, key).
    for entry in std::fs::read_dir(dir.path().join("data")).expect("data dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let haystack = String::from_utf8_lossy(&bytes);
        assert!(
            !haystack.contains(&admin),
            "{} holds the admin token",
            path.display()
        );
        let without_url = haystack.replace(&format!("x={token}"), "");
        assert!(
            !without_url.contains(&token),
            "{} holds the token",
            path.display()
        );
    }
}

#[tokio::test]
async fn audit_retention_deletes_old_records_when_the_gateway_starts() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    assert_eq!(
        h.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::OK
    );
    // A record from two days ago, as if written then.
    let old = tokengate::audit::AuditRecord {
        time: tokengate::now_ms() - 2 * 86_400_000,
        client_ip: "::1".into(),
        method: "GET".into(),
        url: "https://wiki.example.com/rest/api/old".into(),
        decision: tokengate::audit::ALLOW,
        component: "c0ffee".into(),
        ..Default::default()
    };
    h.app
        .store()
        .backend()
        .commit_audit(vec![tokengate::audit::Write::Append(Box::new(old))])
        .await
        .expect("old record");
    let upstream = h.upstream;
    let dir = h.stop().await;
    let h = Harness::start_with_upstream(upstream, dir, |c| {
        c.audit_retention = Some(std::time::Duration::from_secs(86_400));
    })
    .await;
    let started = std::time::Instant::now();
    loop {
        let (rows, _) = h
            .app
            .store()
            .query_audit(&tokengate::audit::AuditFilter {
                max_results: 100,
                ..Default::default()
            })
            .await
            .expect("audit");
        if rows.iter().all(|r| !r.url.ends_with("/old")) {
            assert!(rows.iter().any(|r| r.url.ends_with("/rest/api/space")));
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "not pruned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    h.stop().await;
}
