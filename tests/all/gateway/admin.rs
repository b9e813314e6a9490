//! The admin API at the seed's paths, in the seed's shapes, for administrators only.

use http::{Method, StatusCode};
use serde_json::json;

use super::{ADMIN, Harness, basic};

const GET: &str = "/rest/extender/1.0/tokenTools/get";
const SET: &str = "/rest/extender/1.0/tokenTools/set";
const DELETE: &str = "/rest/extender/1.0/tokenTools/delete";

#[tokio::test]
async fn only_administrators_with_their_own_tokens() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let alice = h.user_token("alice", "").await;
    let restricted_admin = h.user_token(ADMIN, ".*/rest/api/.*").await;
    let (_, unbound) = h
        .token(tokengate::store::NewToken {
            label: "any".into(),
            ..Default::default()
        })
        .await;

    assert_eq!(h.get(GET, ADMIN, &admin).await.status, StatusCode::OK);
    assert_eq!(
        h.call(Method::GET, GET, None, &[], "").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get(GET, "alice", &alice).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.last_audit().await.reason.as_deref(), Some("not-admin"));
    // An unbound token presented as the admin user is not the admin's own token.
    assert_eq!(
        h.get(GET, ADMIN, &unbound).await.status,
        StatusCode::FORBIDDEN
    );
    // The admin's token restricted away from tokenTools goes through the same policy.
    assert_eq!(
        h.get(GET, ADMIN, &restricted_admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.last_audit().await.reason.as_deref(),
        Some("no-matching-rule")
    );
    h.stop().await;
}

#[tokio::test]
async fn set_get_delete_in_the_seeds_shapes() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let auth = Some(basic(ADMIN, &admin));
    let shapes = [
        json!({ "label": "Token name", "daysUntilExpiry": 90, "userName": "admin",
                "limitTo": "[post].*/rest/api/space/EXTENDER/property.*\\n.*/rest/api/space.*",
                "token": "ip9ul19f8jenb92tji8lo34qt7tb1meo" }),
        json!({ "label": "Token name two", "daysUntilExpiry": 0, "token": "okf8a73basc74nasc9n32xx" }),
        json!({ "label": "Token name three", "userName": "jankowalski" }),
    ];
    let mut created = Vec::new();
    for shape in &shapes {
        let reply = h
            .call(Method::POST, SET, auth.clone(), &[], &shape.to_string())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["status"], "ok");
        created.push((
            body["id"].as_str().expect("id").to_owned(),
            body["token"].as_str().expect("token").to_owned(),
        ));
    }
    assert_eq!(created[0].1, "ip9ul19f8jenb92tji8lo34qt7tb1meo");
    assert!(
        created[2].1.starts_with("tgk_") && tokengate::token::generated_well_formed(&created[2].1)
    );

    let listed = h
        .get(&format!("{GET}?startAt=0&maxResults=2"), ADMIN, &admin)
        .await
        .json();
    assert_eq!(listed["status"], "ok");
    assert_eq!(listed["total"], 4);
    assert_eq!(listed["tokens"].as_array().map(Vec::len), Some(2));
    let all = h.get(GET, ADMIN, &admin).await.json();
    let first = all["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["label"] == "Token name")
        .cloned()
        .expect("listed");
    assert_eq!(
        first["limitTo"],
        "[post].*/rest/api/space/EXTENDER/property.*<br>.*/rest/api/space.*"
    );
    assert_eq!(first["user"], "admin");
    assert_eq!(first["token"], "…1meo");
    assert_eq!(first["counter"], 0);
    let until = first["validUntil"].as_i64().expect("validUntil");
    let created_at = first["dateCreated"].as_i64().expect("dateCreated");
    // Expiry and creation are stamped a moment apart, in that order.
    let after_creation = until - created_at - 90 * 86_400_000;
    assert!(
        (-1000..=0).contains(&after_creation),
        "expiry from daysUntilExpiry: {after_creation} ms off"
    );

    // The created token works as its lines say.
    let (_, value) = &created[0];
    assert_eq!(
        h.call(
            Method::POST,
            "/rest/api/space/EXTENDER/property",
            Some(basic("admin", value)),
            &[],
            ""
        )
        .await
        .status,
        StatusCode::OK
    );

    // Delete by id and by value.
    let by_id = h
        .call(
            Method::DELETE,
            DELETE,
            auth.clone(),
            &[],
            &json!({ "id": created[1].0 }).to_string(),
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.text());
    let by_value = h
        .call(
            Method::DELETE,
            DELETE,
            auth.clone(),
            &[],
            &json!({ "token": created[0].1 }).to_string(),
        )
        .await;
    assert_eq!(by_value.status, StatusCode::OK);
    assert_eq!(
        h.call(
            Method::POST,
            "/rest/api/space/EXTENDER/property",
            Some(basic("admin", value)),
            &[],
            ""
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let again = h
        .call(
            Method::DELETE,
            DELETE,
            auth.clone(),
            &[],
            &json!({ "id": created[1].0 }).to_string(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(h.get(GET, ADMIN, &admin).await.json()["total"], 2);

    // Admin actions are audited, without token values.
    let audit = h.audit(&admin, "maxResults=100").await;
    let actions: Vec<String> = audit["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .collect();
    assert!(
        actions.iter().any(|a| a.starts_with("created token")),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.starts_with("revoked token")),
        "{actions:?}"
    );
    assert!(
        !audit
            .to_string()
            .contains("ip9ul19f8jenb92tji8lo34qt7tb1meo")
    );
    h.stop().await;
}

#[tokio::test]
async fn set_refuses_invalid_tokens_with_line_numbers() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let auth = Some(basic(ADMIN, &admin));
    let cases = [
        (json!({ "userName": "admin" }), "label is required"),
        (
            json!({ "label": "x", "limitTo": ".*/rest/api/space\n(?=lookahead).*" }),
            "limitTo line 2",
        ),
        (json!({ "label": "x", "ip": "not-an-address" }), "ip line 1"),
        (json!({ "label": "x", "token": "short" }), "token"),
        (
            json!({ "label": "x", "daysUntilExpiry": -1 }),
            "daysUntilExpiry",
        ),
        (
            json!({ "label": "x", "token": "ip9ul19f8jenb92tji8lo34qt7tb1meo" }),
            "",
        ),
        (
            json!({ "label": "x", "token": "ip9ul19f8jenb92tji8lo34qt7tb1meo" }),
            "already in use",
        ),
    ];
    for (request, message) in cases {
        let reply = h
            .call(Method::POST, SET, auth.clone(), &[], &request.to_string())
            .await;
        if message.is_empty() {
            assert_eq!(reply.status, StatusCode::OK);
            continue;
        }
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{request}");
        assert_eq!(reply.json()["status"], "error");
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap_or("")
                .contains(message),
            "{message}: {}",
            reply.text()
        );
    }
    let not_json = h.call(Method::POST, SET, auth.clone(), &[], "{nope").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    h.stop().await;
}
