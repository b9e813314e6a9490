//! Hostile input over raw sockets: each answered with a clear error while the
//! gateway keeps serving.

use http::StatusCode;

use super::{Harness, basic, raw};

async fn request(h: &Harness, target: &str, authorization: &str, extra: &str) -> String {
    let text = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {authorization}\r\nConnection: close\r\n{extra}\r\n"
    );
    raw(h.addr, text.as_bytes()).await
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn hostile_targets_and_framing_are_refused_and_the_server_keeps_serving() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    let auth = basic("alice", &token);
    let cases = [
        ("/rest/api/%2e%2e/admin", "target-encoded-dot-segment"),
        ("/rest/api/a%2fb", "target-encoded-slash"),
        ("/rest//api/space", "target-empty-segment"),
        ("/rest/api/space;jsessionid=1", "target-path-parameter"),
        ("/rest/../../etc/passwd", "target-above-root"),
    ];
    for (target, reason) in cases {
        let response = request(&h, target, &auth, "").await;
        assert_eq!(status_of(&response), 400, "{target}: {response}");
        assert!(
            response.contains("the request target is not accepted"),
            "{response}"
        );
        assert_eq!(
            h.last_audit().await.reason.as_deref(),
            Some(reason),
            "{target}"
        );
    }

    // Both Content-Length and Transfer-Encoding: hyper lets chunked win, drops the
    // length and closes the connection after the answer, so a request hidden in
    // the body is never read as a second request.
    let smuggle = format!(
        "POST /rest/api/space HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n\
         Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
         GET /rest/api/smuggled HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n\r\n"
    );
    let answered = raw(h.addr, smuggle.as_bytes()).await;
    assert_eq!(answered.matches("HTTP/1.1 ").count(), 1, "{answered}");
    assert!(!h.last_audit().await.url.contains("smuggled"));

    let bad_base64 = request(&h, "/rest/api/space", "Basic !!!not-base64!!!", "").await;
    assert_eq!(status_of(&bad_base64), 401, "{bad_base64}");

    let huge = format!("X-Big: {}\r\n", "a".repeat(100 * 1024));
    let too_big = request(&h, "/rest/api/space", &auth, &huge).await;
    assert_eq!(status_of(&too_big), 431, "{too_big}");

    let absolute = request(&h, "http://evil.example/rest/api/space", &auth, "").await;
    assert_eq!(status_of(&absolute), 400, "{absolute}");

    // Still serving.
    assert_eq!(
        h.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::OK
    );
    h.stop().await;
}
