//! Arbitrary bodies for the admin API's `tokenTools/set` and `tokenTools/delete`, sent by
//! an administrator through the real gateway (`App::handle`: authentication, policy
//! component in wasmtime, audit log, SQLite store), as a client would send them.
//!
//! Whatever the body, the answer is a JSON 200 or 4xx, never a 5xx or a panic, and never
//! holds the administrator's token unless the body did. A created token is answered with
//! the value asked for and is deleted again by its id, which keeps the store small and
//! checks `delete`; no other delete succeeds, as the only other token is the
//! administrator's. libFuzzer learns the administrator's token and id from the comparisons
//! it traces, so bodies that name them are sent to `set` only.
//!
//! Host APIs used, all in `setup` and `send`: `Config::new` and `Config::admins`,
//! `tokengate::app`, `App::store`, `Store::create` with `NewToken`, `App::handle`,
//! `gateway::ADMIN_PREFIX` and `config::limits::ADMIN_BODY_LIMIT`.

#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tokengate::config::Config;
use tokengate::config::limits::ADMIN_BODY_LIMIT;
use tokengate::gateway::ADMIN_PREFIX;
use tokengate::store::NewToken;

const ADMIN: &str = "admin";
/// A chosen value, so that a crash input naming the administrator's token replays.
const ADMIN_TOKEN: &str = "fuzz-admin-0123456789abcdef";

/// One gateway for the whole run: loading the policy component takes seconds.
struct Harness {
    runtime: tokio::runtime::Runtime,
    app: tokengate::App,
    /// The administrator's token id (its value is `ADMIN_TOKEN`).
    admin_id: String,
    authorization: String,
    /// Kept for the run; `.ci/fuzz` points TMPDIR at a directory it removes afterwards.
    _data: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| match setup() {
        Ok(harness) => harness,
        Err(err) => panic!("the gateway does not start: {err}"),
    })
}

fn setup() -> Result<Harness, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let data = tempfile::tempdir()?;
    // Nothing is forwarded: admin requests are answered by the gateway itself.
    let mut config = Config::new("http://127.0.0.1:9", data.path().join("data"))?;
    config.admins = vec![ADMIN.into()];
    let (app, admin_id) = runtime.block_on(async {
        let app = tokengate::app(config).await?;
        let (admin, _) = app
            .store()
            .create(NewToken {
                label: "fuzz admin".into(),
                user: Some(ADMIN.into()),
                value: Some(ADMIN_TOKEN.into()),
                ..NewToken::default()
            })
            .await?;
        let admin_id = admin.id.clone();
        Ok::<_, Box<dyn std::error::Error>>((app, admin_id))
    })?;
    let authorization = format!(
        "Basic {}",
        STANDARD.encode(format!("{ADMIN}:{ADMIN_TOKEN}"))
    );
    Ok(Harness {
        runtime,
        app,
        admin_id,
        authorization,
        _data: data,
    })
}

/// Whether `body` holds the administrator's token value or id, as bytes or in a JSON
/// string (escapes decoded).
fn names_admin(harness: &Harness, body: &[u8]) -> bool {
    let decoded = serde_json::from_slice::<Value>(body).map(|value| value.to_string());
    let texts = [
        String::from_utf8_lossy(body).into_owned(),
        decoded.unwrap_or_default(),
    ];
    texts
        .iter()
        .any(|text| text.contains(ADMIN_TOKEN) || text.contains(&harness.admin_id))
}

/// An admin request's status and JSON body, after the checks every answer must pass.
/// `echo_allowed`: the body names the administrator's token, so the answer may too.
fn send(
    harness: &Harness,
    method: Method,
    name: &str,
    body: &[u8],
    echo_allowed: bool,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(format!("{ADMIN_PREFIX}{name}"))
        .header(header::AUTHORIZATION, &harness.authorization)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)));
    let Ok(request) = request else {
        panic!("the request for {name} does not build");
    };
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let (status, bytes) = harness.runtime.block_on(async {
        let response = harness.app.handle(request, peer).await;
        let status = response.status();
        match response.into_body().collect().await {
            Ok(collected) => (status, collected.to_bytes()),
            Err(err) => panic!("{name}: the answer's body fails: {err}"),
        }
    });
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !status.is_server_error(),
        "{name} answered {status}: {text} (body {:?})",
        String::from_utf8_lossy(body)
    );
    assert!(
        echo_allowed || !text.contains(ADMIN_TOKEN),
        "{name} answered with the administrator's token"
    );
    let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
        panic!("{name} answered {status} with a body that is not JSON: {text}");
    };
    let expected = if status == StatusCode::OK {
        "ok"
    } else {
        "error"
    };
    assert_eq!(json["status"], expected, "{name} answered {status}: {text}");
    (status, json)
}

fuzz_target!(|body: &[u8]| {
    let harness = harness();
    let too_large = body.len() > ADMIN_BODY_LIMIT;
    let names_admin = names_admin(harness, body);

    let (status, answer) = send(harness, Method::POST, "set", body, names_admin);
    match status {
        StatusCode::OK => {
            let Some(id) = answer["id"].as_str() else {
                panic!("set answered 200 without an id: {answer}");
            };
            // A value the administrator chose is the value created.
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if let Some(chosen) = request["token"].as_str().filter(|v| !v.is_empty()) {
                assert_eq!(answer["token"], chosen, "for {request}");
            }
            assert!(answer["token"].is_string(), "{answer}");
            let by_id = json!({ "id": id }).to_string();
            let (deleted, _) = send(harness, Method::DELETE, "delete", by_id.as_bytes(), false);
            assert_eq!(deleted, StatusCode::OK, "the new token {id} is not deleted");
            let (again, _) = send(harness, Method::DELETE, "delete", by_id.as_bytes(), false);
            assert_eq!(again, StatusCode::NOT_FOUND, "token {id} deleted twice");
        }
        StatusCode::PAYLOAD_TOO_LARGE => assert!(too_large),
        status => assert_eq!(status, StatusCode::BAD_REQUEST),
    }

    // Deleting with a body that names the administrator would end the run's authority.
    if names_admin {
        return;
    }
    // The only live token is the administrator's, so no delete succeeds.
    let (status, _) = send(harness, Method::DELETE, "delete", body, false);
    let expected: &[StatusCode] = if too_large {
        &[StatusCode::PAYLOAD_TOO_LARGE]
    } else {
        &[StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND]
    };
    assert!(expected.contains(&status), "delete answered {status}");
});
