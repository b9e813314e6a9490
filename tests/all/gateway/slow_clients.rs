//! Slow and silent clients (slowloris): a connection that has not sent a whole
//! request head within the header timeout is closed, and other clients are served
//! meanwhile.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Harness, basic};

const HEADER_TIMEOUT: Duration = Duration::from_millis(800);
/// Longer than any close we expect: a connection still open then was never cut.
const GIVE_UP: Duration = Duration::from_secs(5);

/// Connects, sends `first`, then `dribble` one byte every 100 ms; returns how long
/// the server kept the connection open and what it answered.
async fn held_open(addr: SocketAddr, first: &[u8], dribble: &'static [u8]) -> (Duration, String) {
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(first).await.expect("write");
    let writing = tokio::spawn(async move {
        for byte in dribble {
            tokio::time::sleep(Duration::from_millis(100)).await;
            // The server may have closed already: stop writing then.
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
        // Keep our side open until the server closes it.
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    // EOF or a reset both mean the server closed it.
    let _ = tokio::time::timeout(GIVE_UP, reader.read_to_end(&mut answer)).await;
    writing.abort();
    (
        started.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

#[tokio::test]
async fn slow_and_silent_clients_are_closed_at_the_header_timeout_while_others_are_served() {
    let h = Harness::start(|c| c.header_timeout = HEADER_TIMEOUT).await;
    let token = h.user_token("alice", "").await;
    let head = format!(
        "GET /rest/api/space HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n",
        basic("alice", &token)
    );
    let addr = h.addr;
    // A header that never ends, a byte at a time (each byte well within any
    // per-read timeout); a client that sends nothing; one that stops inside the
    // HTTP/2 preface, before the server knows which protocol it speaks.
    let dribbling = tokio::spawn(async move {
        held_open(
            addr,
            head.as_bytes(),
            b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        )
        .await
    });
    let silent = tokio::spawn(held_open(addr, b"", b""));
    let preface = tokio::spawn(held_open(addr, b"PRI * HTTP/2.0\r\n", b""));

    // While they hang, everyone else is answered promptly.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let reply = h.get("/rest/api/space", "alice", &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    for (name, client) in [
        ("dribbling", dribbling),
        ("silent", silent),
        ("HTTP/2 preface", preface),
    ] {
        let (open_for, answer) = client.await.expect("client task");
        assert!(
            open_for >= HEADER_TIMEOUT - Duration::from_millis(100)
                && open_for < HEADER_TIMEOUT + Duration::from_secs(2),
            "{name} client: closed after {open_for:?}, header timeout {HEADER_TIMEOUT:?}"
        );
        // Closed without an answer, or with 408; never served.
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{name} client got {answer:?}"
        );
    }
    // Only the three normal requests reached the audit log.
    let filter = tokengate::audit::AuditFilter {
        max_results: 100,
        ..Default::default()
    };
    let (_, total) = h
        .app
        .store()
        .query_audit(&filter)
        .await
        .expect("audit query");
    assert_eq!(total, 3);
    h.stop().await;
}
