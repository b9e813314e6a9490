//! Attacks, each against the defence that stops it: request smuggling and framing in
//! both directions, oversized input and connection floods, path confusion against
//! the canonical target, guessing tokens, and the admin surface, with a scan of
//! everything the gateway writes for token values.
//!
//! hostile.rs and slow_clients.rs hold the simpler cases (one hostile target of each
//! kind, one oversized header, slowloris); these go further.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use tokengate::config::limits::MAX_HEADERS;
use tokengate::store::{Location, NewToken, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::binary::{Process, tokengate_binary};
use super::{ADMIN, Harness, basic, custom_upstream, raw};

const PUBLIC_BASE: &str = "https://wiki.example.com";

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// A response read off a raw socket: status, header lines (names lower-cased) and
/// the body as framed by those headers (chunked decoded).
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn parse(bytes: &[u8]) -> Self {
        let head_end = find(bytes, b"\r\n\r\n").expect("a whole response head") + 4;
        let head = String::from_utf8_lossy(&bytes[..head_end]);
        let mut lines = head.split("\r\n");
        let status = status_of(lines.next().unwrap_or(""));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let rest = &bytes[head_end..];
        let chunked = headers
            .iter()
            .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
        let body = if chunked {
            dechunk(rest)
        } else {
            match headers.iter().find(|(name, _)| name == "content-length") {
                Some((_, length)) => {
                    let length: usize = length.parse().expect("a numeric length");
                    rest[..length.min(rest.len())].to_vec()
                }
                None => rest.to_vec(),
            }
        };
        Self {
            status,
            headers,
            body,
        }
    }

    fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(bytes, b"\r\n") else {
            panic!("a chunk size line in {:?}", String::from_utf8_lossy(bytes));
        };
        let size = String::from_utf8_lossy(&bytes[..line_end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hex chunk size");
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}

/// Requests as a raw upstream received them, byte for byte.
type Received = Arc<Mutex<Vec<Vec<u8>>>>;

/// An upstream that speaks HTTP/1.1 by hand: it records every request it reads (head
/// and body, as framed by the head) and answers with `answer(path)` verbatim, keeping
/// the connection open unless the answer says `Connection: close`.
async fn raw_upstream(answer: fn(&str) -> &'static [u8]) -> (SocketAddr, Received, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received = Received::default();
    let record = Arc::clone(&received);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                while let Some(request) = read_request(&mut stream, &mut buffer).await {
                    let path = String::from_utf8_lossy(&request)
                        .split(' ')
                        .nth(1)
                        .unwrap_or("")
                        .to_owned();
                    record.lock().unwrap().push(request);
                    let response = answer(&path);
                    if stream.write_all(response).await.is_err() {
                        break;
                    }
                    let closes = String::from_utf8_lossy(response)
                        .to_ascii_lowercase()
                        .contains("connection: close");
                    if closes {
                        let _ = stream.shutdown().await;
                        break;
                    }
                }
            });
        }
    });
    (addr, received, task)
}

/// One request off `stream` (bytes already read are in `buffer`); what arrived when
/// the peer stops or goes quiet for 2 s mid-request; `None` when nothing did.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = request_end(buffer) {
            return Some(buffer.drain(..end).collect());
        }
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
            _ if buffer.is_empty() => return None,
            _ => return Some(std::mem::take(buffer)),
        }
    }
}

/// Where the first request in `buffer` ends, if it is all there.
fn request_end(buffer: &[u8]) -> Option<usize> {
    let head_end = find(buffer, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        let body = &buffer[head_end..];
        if body.starts_with(b"0\r\n\r\n") {
            return Some(head_end + 5);
        }
        return find(body, b"\r\n0\r\n\r\n").map(|at| head_end + at + 7);
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buffer.len() >= head_end + length).then_some(head_end + length)
}

fn header_lines(request: &[u8]) -> Vec<String> {
    let end = find(request, b"\r\n\r\n").unwrap_or(request.len());
    String::from_utf8_lossy(&request[..end])
        .split("\r\n")
        .skip(1)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn received_count(received: &Received) -> usize {
    received.lock().unwrap().len()
}

/// The last audit record's reason once the completion after forwarding is committed
/// (with the audit writer's next batch).
async fn completed_reason(h: &Harness) -> Option<String> {
    let started = Instant::now();
    loop {
        let reason = h.last_audit().await.reason;
        if reason.is_some() || started.elapsed() > Duration::from_secs(3) {
            return reason;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

// ---------------------------------------------------------------------------------
// Smuggling and framing
// ---------------------------------------------------------------------------------

fn ok_answer(_: &str) -> &'static [u8] {
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
}

/// Every ambiguous request framing is either refused before anything goes upstream
/// or reaches the upstream in exactly one reading. This pins hyper's parser: none of
/// it is tokengate's code, and a hyper upgrade that relaxed it must fail here.
#[tokio::test]
async fn ambiguous_request_framing_is_refused_or_forwarded_in_one_reading() {
    let (upstream, received, task) = raw_upstream(ok_answer).await;
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |_| {}).await;
    let token = h.user_token("alice", "").await;
    let auth = basic("alice", &token);
    let head = |method: &str, version: &str, extra: &str| {
        format!("{method} /rest/api/space {version}\r\nHost: x\r\nAuthorization: {auth}\r\n{extra}")
    };
    let post = |extra: &str| head("POST", "HTTP/1.1", extra);
    let refused = [
        ("TE not chunked", post("Transfer-Encoding: gzip\r\n\r\nabc")),
        (
            "TE chunked then identity",
            post("Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        ),
        (
            "TE xchunked",
            post("Transfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        ),
        (
            "space before the colon of TE",
            post("Transfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        ),
        (
            "TE in HTTP/1.0",
            head(
                "POST",
                "HTTP/1.0",
                "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ),
        ),
        (
            "two differing Content-Lengths",
            post("Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        ),
        (
            "a Content-Length list",
            post("Content-Length: 3, 4\r\n\r\nabcd"),
        ),
        (
            "a signed Content-Length",
            post("Content-Length: +3\r\n\r\nabc"),
        ),
        (
            "space before the colon of Content-Length",
            post("Content-Length : 3\r\n\r\nabc"),
        ),
        (
            "obsolete line folding (space)",
            head("GET", "HTTP/1.1", "X-Folded: a\r\n b\r\n\r\n"),
        ),
        (
            "obsolete line folding (tab)",
            head("GET", "HTTP/1.1", "X-Folded: a\r\n\tb\r\n\r\n"),
        ),
        (
            "bare CR",
            format!("GET /rest/api/space HTTP/1.1\rHost: x\r\nAuthorization: {auth}\r\n\r\n"),
        ),
        (
            "CR inside a value",
            head("GET", "HTTP/1.1", "X-A: a\rb\r\n\r\n"),
        ),
        (
            "NUL inside a value",
            head("GET", "HTTP/1.1", "X-A: a\0b\r\n\r\n"),
        ),
        (
            "white space before the first header",
            format!(
                "GET /rest/api/space HTTP/1.1\r\n X-A: b\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"
            ),
        ),
    ];
    for (case, request) in refused {
        let before = received_count(&received);
        let answer = raw(h.addr, request.as_bytes()).await;
        assert_eq!(status_of(&answer), 400, "{case}: {answer}");
        assert!(answer.contains("connection: close"), "{case}: {answer}");
        settle().await;
        assert_eq!(received_count(&received), before, "{case} went upstream");
    }

    // Both lengths, in either order: chunked wins, the length is dropped, and the
    // connection is closed after the answer, so a request hidden after the chunked
    // body is never read.
    let smuggled =
        format!("GET /rest/api/smuggled HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n");
    for (case, framing) in [
        (
            "CL then TE",
            "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n",
        ),
        (
            "TE then CL",
            "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n",
        ),
    ] {
        let before = received_count(&received);
        let request = post(&format!("{framing}\r\n3\r\nabc\r\n0\r\n\r\n{smuggled}"));
        let answer = raw(h.addr, request.as_bytes()).await;
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{case}: {answer}");
        assert_eq!(status_of(&answer), 200, "{case}: {answer}");
        settle().await;
        let got = received.lock().unwrap()[before..].to_vec();
        assert_eq!(got.len(), 1, "{case}: {got:?}");
        let lines = header_lines(&got[0]);
        assert!(
            lines.contains(&"transfer-encoding: chunked".to_owned()),
            "{case}: {lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("content-length")),
            "{case}: {lines:?}"
        );
        assert!(got[0].ends_with(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "{case}");
    }

    // Equal duplicate lengths are one length (RFC 9112 section 6.3), sent once.
    let before = received_count(&received);
    let answer = raw(
        h.addr,
        post("Content-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    settle().await;
    let got = received.lock().unwrap()[before..].to_vec();
    assert_eq!(got.len(), 1);
    let lines = header_lines(&got[0]);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("content-length"))
            .count(),
        1
    );
    assert!(got[0].ends_with(b"\r\n\r\nabc"));

    // Bare LF line ends are read as CRLF (RFC 9112 section 2.2 allows it) and the
    // upstream gets a request written afresh with CRLF only.
    let before = received_count(&received);
    let request = format!(
        "GET /rest/api/space HTTP/1.1\nHost: x\nAuthorization: {auth}\nConnection: close\n\n"
    );
    let answer = raw(h.addr, request.as_bytes()).await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    settle().await;
    let got = received.lock().unwrap()[before..].to_vec();
    assert_eq!(got.len(), 1);
    let bare_lf = got[0]
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || got[0][i - 1] != b'\r'));
    assert!(!bare_lf, "{:?}", String::from_utf8_lossy(&got[0]));

    // A chunked body that breaks its own framing half way is the client's fault:
    // 400, and the upstream never gets a whole request.
    for (case, body) in [
        ("bare LF in chunk lines", "3\nabc\n0\n\n"),
        (
            "chunk size overflow",
            "FFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n",
        ),
    ] {
        let before = received_count(&received);
        let request = post(&format!(
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}"
        ));
        let answer = raw(h.addr, request.as_bytes()).await;
        assert_eq!(status_of(&answer), 400, "{case}: {answer}");
        assert!(
            answer.contains("the request body could not be read"),
            "{answer}"
        );
        settle().await;
        let got = received.lock().unwrap()[before..].to_vec();
        assert!(
            got.iter().all(|r| request_end(r).is_none()),
            "{case}: a whole request went upstream: {got:?}"
        );
        assert_eq!(
            completed_reason(&h).await.as_deref(),
            Some("body-unreadable")
        );
    }
    h.stop().await;
    task.abort();
}

fn hostile_answer(path: &str) -> &'static [u8] {
    match path {
        "/rest/api/both" => {
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        }
        "/rest/api/two-lengths" => {
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!"
        }
        "/rest/api/folded" => {
            b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello"
        }
        // One response and a second one nobody asked for, on a kept-alive connection:
        // if the gateway took the extra one as the answer to its next request, another
        // client would get it.
        "/rest/api/poison" => {
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned"
        }
        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh",
    }
}

/// What the upstream sends is framed afresh for the client: a response with both
/// lengths reaches the client with one (tokengate removes the Content-Length, RFC
/// 9112 section 6.3); responses hyper cannot frame are 502; an unsolicited extra
/// response is never relayed.
#[tokio::test]
async fn upstream_responses_are_framed_afresh_for_the_client() {
    let (upstream, _received, task) = raw_upstream(hostile_answer).await;
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |_| {}).await;
    let token = h.user_token("alice", "").await;
    let auth = basic("alice", &token);
    let get = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        )
    };

    let answer = raw(h.addr, get("/rest/api/both").as_bytes()).await;
    let response = RawResponse::parse(answer.as_bytes());
    assert_eq!(response.status, 200, "{answer}");
    assert_eq!(
        response.count("content-length") + response.count("transfer-encoding"),
        1,
        "one framing header: {answer}"
    );
    assert_eq!(response.count("content-length"), 0, "{answer}");
    assert_eq!(response.body, b"hello", "{answer}");
    // And through a real client on a kept-alive connection, twice.
    for _ in 0..2 {
        let reply = h.get("/rest/api/both", "alice", &token).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(&reply.body[..], b"hello");
    }

    for path in ["/rest/api/two-lengths", "/rest/api/folded"] {
        let answer = raw(h.addr, get(path).as_bytes()).await;
        assert_eq!(status_of(&answer), 502, "{path}: {answer}");
    }

    let poisoned = h.get("/rest/api/poison", "alice", &token).await;
    assert_eq!(&poisoned.body[..], b"hello");
    for _ in 0..3 {
        let next = h.get("/rest/api/next", "alice", &token).await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.text());
        assert_eq!(&next.body[..], b"fresh");
    }
    h.stop().await;
    task.abort();
}

// ---------------------------------------------------------------------------------
// Oversized input and floods
// ---------------------------------------------------------------------------------

/// A request head with `count` header lines in all, without credentials: the
/// gateway answers it itself (401), so no upstream's own limits come into it.
fn head_with_lines(count: usize, value_len: usize) -> String {
    let mut head = "GET /rest/api/space HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_owned();
    let value = "v".repeat(value_len);
    for n in 2..count {
        head.push_str(&format!("X-Filler-{n}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[tokio::test]
async fn header_lines_are_bounded_in_number_and_in_total_size() {
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", "").await;
    let at_limit = raw(h.addr, head_with_lines(MAX_HEADERS, 8).as_bytes()).await;
    assert_eq!(status_of(&at_limit), 401, "{at_limit}");
    let beyond = raw(h.addr, head_with_lines(MAX_HEADERS + 1, 8).as_bytes()).await;
    assert_eq!(status_of(&beyond), 431, "{beyond}");
    // Few enough lines, each small, but 80 KiB together: beyond the 64 KiB head.
    let large = raw(h.addr, head_with_lines(90, 900).as_bytes()).await;
    assert_eq!(status_of(&large), 431, "{large}");
    assert_eq!(
        h.get("/rest/api/space", "alice", &token).await.status,
        StatusCode::OK
    );
    h.stop().await;
}

/// Beyond `max_connections` the gateway accepts nothing until a connection ends:
/// the next client's request waits (in the listen backlog) and is served as soon as
/// a slot frees, here when one of the idle connections hanging on is dropped.
#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    const LIMIT: usize = 8;
    let h = Harness::start(|c| c.max_connections = LIMIT).await;
    let token = h.user_token("alice", "").await;
    let mut idle = Vec::new();
    for _ in 0..LIMIT {
        idle.push(TcpStream::connect(h.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let request = format!(
        "GET /rest/api/space HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("alice", &token)
    );
    let mut waiting = TcpStream::connect(h.addr)
        .await
        .expect("the kernel accepts it");
    waiting.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(800), waiting.read_to_end(&mut answer)).await;
    assert!(
        early.is_err() && answer.is_empty(),
        "served beyond the limit: {:?}",
        String::from_utf8_lossy(&answer)
    );

    let freed_at = Instant::now();
    drop(idle.pop());
    tokio::time::timeout(Duration::from_secs(3), waiting.read_to_end(&mut answer))
        .await
        .expect("served once a slot is free")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(freed_at.elapsed() < Duration::from_secs(2));
    drop(idle);
    h.stop().await;
}

/// HTTP/2 has no header timeout between requests: a connection whose client has
/// made its requests and keeps it open is closed after the header timeout without a
/// request in flight, so idle HTTP/2 clients cannot hold every slot.
#[tokio::test]
async fn idle_http2_connections_give_their_slot_back() {
    const IDLE: Duration = Duration::from_millis(800);
    let h = Harness::start(|c| {
        c.max_connections = 2;
        c.header_timeout = IDLE;
    })
    .await;
    let token = h.user_token("alice", "").await;
    let mut idle_clients = Vec::new();
    for _ in 0..2 {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .http2_only(true)
                .build_http::<Full<Bytes>>();
        let request = http::Request::get(h.url("/rest/api/space"))
            .header("authorization", basic("alice", &token))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = client.request(request).await.expect("an HTTP/2 answer");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), http::Version::HTTP_2);
        use http_body_util::BodyExt as _;
        let _ = response.into_body().collect().await;
        // The client keeps its connection open in its pool.
        idle_clients.push(client);
    }
    let waiting_since = Instant::now();
    let request = format!(
        "GET /rest/api/space HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("alice", &token)
    );
    let mut stream = TcpStream::connect(h.addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok(),
        "not served while HTTP/2 clients idle: {answer}"
    );
    assert_eq!(status_of(&answer), 200, "{answer}");
    let waited = waiting_since.elapsed();
    assert!(
        waited >= IDLE / 2 && waited < IDLE + Duration::from_secs(2),
        "served after {waited:?}"
    );
    drop(idle_clients);
    h.stop().await;
}

/// Forwarded bodies are streamed, but not without end: a declared length beyond the
/// limit is refused before the upstream is contacted, and a chunked body that grows
/// beyond it is cut off and answered 413.
#[tokio::test]
async fn forwarded_bodies_beyond_the_limit_get_413() {
    const LIMIT: u64 = 4096;
    let bodies: Arc<Mutex<Vec<usize>>> = Arc::default();
    let seen = Arc::clone(&bodies);
    let (upstream, task) = custom_upstream(move |request: http::Request<hyper::body::Incoming>| {
        let seen = Arc::clone(&seen);
        async move {
            use http_body_util::BodyExt as _;
            if let Ok(body) = request.into_body().collect().await {
                seen.lock().unwrap().push(body.to_bytes().len());
            }
            Response::new(Full::new(Bytes::from_static(b"stored")))
        }
    })
    .await;
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |c| {
        c.forward_body_limit = LIMIT;
    })
    .await;
    let token = h.user_token("alice", "").await;
    let auth = basic("alice", &token);
    let at_limit = "a".repeat(4096);
    let reply = h
        .call(
            Method::POST,
            "/rest/api/content",
            Some(auth.clone()),
            &[],
            &at_limit,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(bodies.lock().unwrap().as_slice(), &[4096]);

    let beyond = "a".repeat(4097);
    let reply = h
        .call(
            Method::POST,
            "/rest/api/content",
            Some(auth.clone()),
            &[],
            &beyond,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    let record = h.last_audit().await;
    assert_eq!(
        (record.decision.as_str(), record.reason.as_deref()),
        ("deny", Some("body-too-large"))
    );

    // No length declared: 8 KiB in 1 KiB chunks.
    let chunk = format!("400\r\n{}\r\n", "b".repeat(1024));
    let request = format!(
        "POST /rest/api/content HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}0\r\n\r\n",
        chunk.repeat(8)
    );
    let answer = raw(h.addr, request.as_bytes()).await;
    assert_eq!(status_of(&answer), 413, "{answer}");
    // Allowed, audited, then cut off: the failure completes the record.
    assert_eq!(h.last_audit().await.decision, "allow");
    assert_eq!(
        completed_reason(&h).await.as_deref(),
        Some("body-too-large")
    );
    settle().await;
    assert_eq!(
        bodies.lock().unwrap().as_slice(),
        &[4096],
        "only the first body arrived whole"
    );
    h.stop().await;
    task.abort();
}

// ---------------------------------------------------------------------------------
// Path confusion
// ---------------------------------------------------------------------------------

/// Targets that try to reach something other than what they look like: every one
/// is either refused, or forwarded as exactly the canonical path the policy checked
/// (the policy's own canonicalisation and the audit record say which), and a token
/// limited to `/rest/api/space…` never gets anything else to the upstream.
#[tokio::test]
async fn the_upstream_only_ever_receives_the_checked_canonical_path() {
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&paths);
    let (upstream, task) = custom_upstream(move |request: http::Request<hyper::body::Incoming>| {
        let seen = Arc::clone(&seen);
        async move {
            let target = request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_default();
            seen.lock().unwrap().push(target);
            Response::new(Full::new(Bytes::from_static(b"ok")))
        }
    })
    .await;
    let h = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |_| {}).await;
    let token = h
        .user_token("alice", r"https://wiki\.example\.com/rest/api/space.*")
        .await;
    let auth = basic("alice", &token);
    let corpus = [
        // Dot segments, plain, escaped, double-escaped, mixed case, overlong UTF-8.
        "/rest/api/space/../admin",
        "/rest/api/space/../../../admin",
        "/rest/api/./space/x",
        "/rest/api/space/./x/../y",
        "/rest/api/space/x/..",
        "/rest/api/space/..",
        "/rest/api/space/%2e%2e/%2e%2e/admin",
        "/rest/api/space/%2E%2E/%2E%2E/admin",
        "/rest/api/space/%2e%2E/admin",
        "/rest/api/space/.%2e/admin",
        "/rest/api/space/%2e",
        "/rest/api/space/%252e%252e/%252e%252e/admin",
        "/rest/api/space/%25252e%25252e/admin",
        "/rest/api/space/%c0%ae%c0%ae/%c0%ae%c0%ae/admin",
        "/rest/api/space/%C0%AE%C0%AE/admin",
        "/rest/api/space/%e0%80%ae%e0%80%ae/admin",
        "/rest/api/space/%u002e%u002e/admin",
        // Slashes and backslashes, escaped or not.
        "/rest/api/space%2f..%2f..%2fadmin",
        "/rest/api/space/..%2Fadmin",
        "/rest/api/space/%2e%2e%2f%2e%2e%2fadmin",
        "/rest/api/space/..%5cadmin",
        "/rest/api/space/..%5C..%5Cadmin",
        "/rest/api/space\\..\\..\\admin",
        "/rest/api/space/..\\admin",
        "/rest/api/space//admin",
        "//rest/api/space",
        "/rest/api/space/..//admin",
        // Path parameters.
        "/rest/api/space;jsessionid=x/../../admin",
        "/rest/api/space/x;jsessionid=1",
        "/rest/api/space/..;/..;/admin",
        "/rest/api/space%3bjsessionid=1",
        // NUL and other control bytes.
        "/rest/api/space/%00/../../admin",
        "/rest/api/space%00/admin",
        "/rest/api/space/%0d%0aX-Injected:%201",
        // Unicode dots and slashes, raw and escaped.
        "/rest/api/space/\u{2024}\u{2024}/admin",
        "/rest/api/space/\u{ff0e}\u{ff0e}/admin",
        "/rest/api/space/%e2%80%a4%e2%80%a4/admin",
        "/rest/api/space/%ef%bc%8e%ef%bc%8e/admin",
        "/rest/api/space/%ef%bc%8f/admin",
        // Escaped unreserved characters (decoded), case, queries, fragments, forms.
        "/rest/api/space/%7e%41%2d",
        "/rest/api/%73pace/x",
        "/REST/api/space",
        "/rest/api/space?x=/../admin",
        "/rest/api/space%3f/../../admin",
        "/rest/api/space?q=%2e%2e%2F%zz",
        "/rest/api/space#/../admin",
        "/rest/api/space/%",
        "http://wiki.example.com/rest/api/space",
        "http://evil.example/rest/api/space",
        "*",
    ];
    let mut forwarded = 0;
    for target in corpus {
        let before = paths.lock().unwrap().len();
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: wiki.example.com\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        let answer = raw(h.addr, request.as_bytes()).await;
        let status = status_of(&answer);
        // hyper's URI parser drops a `#fragment` from the request line (none belongs
        // in a request target), so the gateway sees, checks and forwards only what
        // comes before it.
        let as_parsed = target.split('#').next().unwrap_or(target);
        let canonical = tokengate_policy::canonicalize(as_parsed, PUBLIC_BASE).ok();
        let allowed = canonical
            .as_ref()
            .is_some_and(|c| c.path.starts_with("/rest/api/space"));
        let got = paths.lock().unwrap()[before..].to_vec();
        if status != 200 {
            assert!(
                got.is_empty(),
                "{target}: refused ({status}) but forwarded as {got:?}"
            );
            assert!(
                !allowed,
                "{target}: the policy admits {canonical:?}, yet {answer}"
            );
            continue;
        }
        forwarded += 1;
        let canonical = canonical
            .unwrap_or_else(|| panic!("{target}: forwarded as {got:?}, yet not canonical"));
        let expected = match &canonical.query {
            Some(query) => format!("{}?{query}", canonical.path),
            None => canonical.path.clone(),
        };
        assert_eq!(got, vec![expected.clone()], "{target}");
        assert!(
            expected.starts_with("/rest/api/space"),
            "{target} reached {expected}"
        );
        let record = h.last_audit().await;
        assert_eq!(record.decision, "allow", "{target}");
        assert_eq!(record.url, format!("{PUBLIC_BASE}{expected}"), "{target}");
    }
    // Some of the corpus is legitimate, and is forwarded.
    assert!(forwarded >= 8, "only {forwarded} forwarded");
    h.stop().await;
    task.abort();
}

// ---------------------------------------------------------------------------------
// Guessing tokens
// ---------------------------------------------------------------------------------

/// Failed authentications are limited per client address (the one the gateway
/// believes: the peer, or the X-Forwarded-For entry a trusted proxy vouches for).
/// Beyond the limit every request with credentials from that address gets 429 with
/// Retry-After, even one with the right token, so guessing on tells nothing; other
/// addresses are not affected and successes cost nothing.
#[tokio::test]
async fn failed_authentications_are_limited_per_client_address() {
    const LIMIT: u32 = 5;
    let h = Harness::start(|c| {
        c.auth_failure_limit_per_minute = LIMIT;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    })
    .await;
    let token = h.user_token("alice", "").await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    let call = |credentials: String, ip: &'static str| {
        let headers = from(ip);
        let h = &h;
        async move {
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(credentials),
                &headers,
                "",
            )
            .await
        }
    };
    let attacker = "203.0.113.7";
    let victim = "198.51.100.1";

    // Successes are free.
    for _ in 0..2 * LIMIT {
        assert_eq!(
            call(basic("alice", &token), attacker).await.status,
            StatusCode::OK
        );
    }
    let mut checksum_broken = tokengate::token::generate().expect("random");
    checksum_broken.pop();
    checksum_broken.push('0');
    let guesses = [
        basic("alice", "guess-number-one-000"),
        basic("alice", &checksum_broken),
        basic("bob", &token),
        "Basic %%%".to_owned(),
        basic("alice", "guess-number-five-00"),
    ];
    for guess in guesses {
        assert_eq!(call(guess, attacker).await.status, StatusCode::UNAUTHORIZED);
    }
    let audited = h.last_audit().await.id;
    for credentials in [
        basic("alice", "guess-number-six-000"),
        basic("alice", &token),
    ] {
        let reply = call(credentials, attacker).await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.text()
        );
        let retry: u64 = reply.headers["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=60 / u64::from(LIMIT)).contains(&retry), "{retry}");
        assert_eq!(
            reply.json()["message"],
            "too many failed authentications from this address"
        );
    }
    // Refused before any lookup: nothing audited for them.
    assert_eq!(h.last_audit().await.id, audited);

    // Another address is served, and its own failures are still 401s.
    assert_eq!(
        call(basic("alice", &token), victim).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(basic("alice", "victim-typo-000000"), victim)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let metrics = h.call(Method::GET, "/metrics", None, &[], "").await.text();
    assert!(
        metrics
            .contains(r#"tokengate_requests_total{decision="deny",reason="auth-rate-limited"} 2"#),
        "{metrics}"
    );
    h.stop().await;

    // Without a trusted proxy, X-Forwarded-For is the client's say-so: changing it
    // does not make a new address.
    let h = Harness::start(|c| c.auth_failure_limit_per_minute = LIMIT).await;
    let spoofed = [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.5",
        "192.0.2.6",
    ];
    for (n, ip) in spoofed.into_iter().enumerate() {
        let reply = h
            .call(
                Method::GET,
                "/rest/api/space",
                Some(basic("alice", "spoofed-guess-00000")),
                &[("x-forwarded-for", ip)],
                "",
            )
            .await;
        let expected = if n < LIMIT as usize {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(reply.status, expected, "guess {n} claiming {ip}");
    }
    h.stop().await;
}

// ---------------------------------------------------------------------------------
// The admin surface
// ---------------------------------------------------------------------------------

const TOOLS: &str = "/rest/extender/1.0/tokenTools/";

/// Every admin endpoint, with a body that would change something if accepted.
fn admin_calls(victim_id: &str) -> [(&'static str, Method, String); 4] {
    [
        ("get", Method::GET, String::new()),
        ("audit", Method::GET, String::new()),
        (
            "set",
            Method::POST,
            serde_json::json!({ "label": "planted", "userName": ADMIN }).to_string(),
        ),
        (
            "delete",
            Method::DELETE,
            serde_json::json!({ "id": victim_id }).to_string(),
        ),
    ]
}

#[tokio::test]
async fn every_admin_endpoint_refuses_non_admins_and_admin_tokens_not_restricted_to_it() {
    let h = Harness::start(|_| {}).await;
    let admin = h.admin_token().await;
    let (victim_id, victim) = h
        .token(NewToken {
            label: "victim".into(),
            user: Some("carol".into()),
            ..NewToken::default()
        })
        .await;
    let alice = h.user_token("alice", "").await;
    let (_, unbound) = h
        .token(NewToken {
            label: "unbound".into(),
            ..NewToken::default()
        })
        .await;
    let elsewhere = h.user_token(ADMIN, ".*/rest/api/.*").await;
    let reads_only = h
        .user_token(ADMIN, "[get].*/rest/extender/1.0/tokenTools/.*")
        .await;
    let get_only = h.user_token(ADMIN, ".*/tokenTools/get").await;
    let (_, other_network) = h
        .token(NewToken {
            label: "admin from elsewhere".into(),
            user: Some(ADMIN.into()),
            ip: "10.0.0.0/8".into(),
            ..NewToken::default()
        })
        .await;

    let callers: [(&str, Option<String>, [StatusCode; 4], &str); 7] = {
        use StatusCode as S;
        [
            ("nobody", None, [S::UNAUTHORIZED; 4], ""),
            (
                "a user",
                Some(basic("alice", &alice)),
                [S::FORBIDDEN; 4],
                "not-admin",
            ),
            (
                "a user's token presented as the admin",
                Some(basic(ADMIN, &alice)),
                [S::UNAUTHORIZED; 4],
                "user-mismatch",
            ),
            (
                "an unbound token presented as the admin",
                Some(basic(ADMIN, &unbound)),
                [S::FORBIDDEN; 4],
                "not-admin",
            ),
            (
                "the admin's token restricted to /rest/api",
                Some(basic(ADMIN, &elsewhere)),
                [S::FORBIDDEN; 4],
                "no-matching-rule",
            ),
            (
                "the admin's token restricted to another network",
                Some(basic(ADMIN, &other_network)),
                [S::FORBIDDEN; 4],
                "ip-not-allowed",
            ),
            (
                "the admin's token restricted to GET",
                Some(basic(ADMIN, &reads_only)),
                [S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN],
                "no-matching-rule",
            ),
        ]
    };
    for (who, credentials, expected, reason) in callers {
        for ((endpoint, method, body), status) in admin_calls(&victim_id).into_iter().zip(expected)
        {
            let reply = h
                .call(
                    method,
                    &format!("{TOOLS}{endpoint}"),
                    credentials.clone(),
                    &[],
                    &body,
                )
                .await;
            assert_eq!(reply.status, status, "{who}: {endpoint}: {}", reply.text());
            if status == StatusCode::OK {
                continue;
            }
            // No hint of which rule: the one uniform body per status.
            let message = if status == StatusCode::UNAUTHORIZED {
                "authentication failed"
            } else {
                "this token is not allowed to access this resource"
            };
            assert_eq!(reply.json()["message"], message, "{who}: {endpoint}");
            if !reason.is_empty() {
                let record = h.last_audit().await;
                assert_eq!(record.reason.as_deref(), Some(reason), "{who}: {endpoint}");
                assert_eq!(record.decision, "deny");
            }
        }
    }
    // The endpoints a token's lines name, and only those.
    for ((endpoint, method, body), status) in admin_calls(&victim_id).into_iter().zip([
        StatusCode::OK,
        StatusCode::FORBIDDEN,
        StatusCode::FORBIDDEN,
        StatusCode::FORBIDDEN,
    ]) {
        let reply = h
            .call(
                method,
                &format!("{TOOLS}{endpoint}"),
                Some(basic(ADMIN, &get_only)),
                &[],
                &body,
            )
            .await;
        assert_eq!(
            reply.status,
            status,
            "get-only: {endpoint}: {}",
            reply.text()
        );
    }

    // Nothing was planted or revoked by any of them.
    assert_eq!(
        h.get("/rest/api/space", "carol", &victim).await.status,
        StatusCode::OK
    );
    let listed = h.get(&format!("{TOOLS}get"), ADMIN, &admin).await.json();
    assert_eq!(listed["total"], 8, "{listed}");
    h.stop().await;
}

/// Token values appear nowhere but in the one `set` answer that hands a new token
/// out: not in the log (at trace level), not in the audit log or the database files,
/// not in /metrics, not in any other response body, not in what the upstream gets.
#[tokio::test]
async fn token_values_appear_in_no_log_audit_record_metric_or_error_body() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    let (upstream, echo) = tokengate::demo::start_echo().await.expect("echo");
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().join("data");
    let (admin, alice, doomed) = {
        let store = Store::open(&data_dir, &Location::Sqlite)
            .await
            .expect("store");
        let create = |label: &str, user: &str, value: Option<&str>| NewToken {
            label: label.into(),
            user: Some(user.into()),
            limit_to: if user == "alice" {
                ".*/rest/api/space.*".into()
            } else {
                String::new()
            },
            value: value.map(str::to_owned),
            ..NewToken::default()
        };
        let admin = store
            .create(create("admin", ADMIN, None))
            .await
            .expect("admin")
            .1;
        let alice = store
            .create(create("alice", "alice", Some("alice-chosen-secret-4711")))
            .await
            .expect("alice")
            .1;
        let doomed = store
            .create(create("doomed", "dora", None))
            .await
            .expect("doomed")
            .1;
        (admin, alice, doomed)
    };
    let mut serve = Process::spawn(
        Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--admins", ADMIN])
            .args(["--upstream", &format!("http://{upstream}")])
            .arg("--data-dir")
            .arg(&data_dir)
            // Everything tokengate and the HTTP stack say; the code generator's
            // chatter about compiling the policy is left out.
            .env(
                "RUST_LOG",
                "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,wasmtime_cranelift=info,wasmtime=info",
            ),
    );
    let addr = serve.wait_serving().await;
    let h = Remote::new(addr);

    let mut typo = alice.clone();
    typo.pop();
    typo.push('5');
    let mut secrets = vec![admin.clone(), alice.clone(), doomed.clone(), typo.clone()];
    let mut bodies = Vec::new();
    let mut keep = |reply: (StatusCode, String)| {
        bodies.push(reply.1.clone());
        reply.0
    };
    use StatusCode as S;
    let tools = |name: &str| format!("{TOOLS}{name}");
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic("alice", &alice)),
                ""
            )
            .await
        ),
        S::OK
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/other",
                Some(basic("alice", &alice)),
                ""
            )
            .await
        ),
        S::FORBIDDEN
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic("bob", &alice)),
                ""
            )
            .await
        ),
        S::UNAUTHORIZED
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic("alice", &typo)),
                ""
            )
            .await
        ),
        S::UNAUTHORIZED
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(format!("Bearer {admin}")),
                ""
            )
            .await
        ),
        S::UNAUTHORIZED
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(format!("Basic {alice}")),
                ""
            )
            .await
        ),
        S::UNAUTHORIZED
    );
    // Swapped parts: the token where the user name goes (issue 17, finding 3).
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic(&admin, "alice")),
                ""
            )
            .await
        ),
        S::UNAUTHORIZED
    );
    // A token pasted into the URL: the record holds no value. (The echo upstream's answer
    // repeats the URL it was sent, so that body is not one of the places scanned.)
    let pasted = h
        .call(
            Method::GET,
            &format!("/rest/api/space?token={admin}"),
            Some(basic("alice", &alice)),
            "",
        )
        .await;
    assert_eq!(pasted.0, S::OK);
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space/%2e%2e",
                Some(basic("alice", &alice)),
                ""
            )
            .await
        ),
        S::BAD_REQUEST
    );
    assert_eq!(
        keep(
            h.call(Method::GET, &tools("get"), Some(basic("alice", &alice)), "")
                .await
        ),
        S::FORBIDDEN
    );
    assert_eq!(
        keep(
            h.call(Method::GET, &tools("get"), Some(basic(ADMIN, &admin)), "")
                .await
        ),
        S::OK
    );

    // A set that creates a token: its answer is the one place the value may be.
    let chosen = "chosen-new-secret-0815".to_owned();
    secrets.push(chosen.clone());
    let (status, created) = h
        .call(
            Method::POST,
            &tools("set"),
            Some(basic(ADMIN, &admin)),
            &serde_json::json!({ "label": "made", "userName": "erin", "token": chosen })
                .to_string(),
        )
        .await;
    assert_eq!(status, S::OK, "{created}");
    assert!(created.contains(&chosen));
    let (status, generated) = h
        .call(
            Method::POST,
            &tools("set"),
            Some(basic(ADMIN, &admin)),
            &serde_json::json!({ "label": "made too", "userName": "erin" }).to_string(),
        )
        .await;
    assert_eq!(status, S::OK, "{generated}");
    let generated: serde_json::Value = serde_json::from_str(&generated).expect("json");
    let generated = generated["token"].as_str().expect("token").to_owned();
    secrets.push(generated.clone());
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic("erin", &chosen)),
                ""
            )
            .await
        ),
        S::OK
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic("erin", &generated)),
                ""
            )
            .await
        ),
        S::OK
    );

    // Malformed sets, each carrying a value that must not come back.
    let refused_values = [
        "refused-secret-lookahead-1",
        "refused-secret-duplicate-2",
        "refused-secret-not-json-33",
        "tgk_refusedSecretReservedPrefix00",
    ];
    secrets.extend(refused_values.iter().map(|v| (*v).to_owned()));
    let malformed = [
        serde_json::json!({ "label": "x", "token": refused_values[0], "limitTo": "(?=look).*" })
            .to_string(),
        serde_json::json!({ "label": "x", "token": alice }).to_string(),
        format!(r#"{{"label": "x", "token": "{}", "#, refused_values[2]),
        serde_json::json!({ "label": "x", "token": refused_values[3] }).to_string(),
        serde_json::json!({ "token": refused_values[1], "daysUntilExpiry": -4 }).to_string(),
    ];
    for body in malformed {
        let status = keep(
            h.call(
                Method::POST,
                &tools("set"),
                Some(basic(ADMIN, &admin)),
                &body,
            )
            .await,
        );
        assert_eq!(status, S::BAD_REQUEST, "{body}");
    }
    // Revoke by value, then use the revoked token; a delete of an unknown value.
    let by_value = serde_json::json!({ "token": doomed }).to_string();
    assert_eq!(
        keep(
            h.call(
                Method::DELETE,
                &tools("delete"),
                Some(basic(ADMIN, &admin)),
                &by_value
            )
            .await
        ),
        S::OK
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                "/rest/api/space",
                Some(basic("dora", &doomed)),
                ""
            )
            .await
        ),
        S::UNAUTHORIZED
    );
    let unknown = serde_json::json!({ "token": typo }).to_string();
    assert_eq!(
        keep(
            h.call(
                Method::DELETE,
                &tools("delete"),
                Some(basic(ADMIN, &admin)),
                &unknown
            )
            .await
        ),
        S::NOT_FOUND
    );
    assert_eq!(
        keep(
            h.call(
                Method::GET,
                &tools("audit?maxResults=1000"),
                Some(basic(ADMIN, &admin)),
                ""
            )
            .await
        ),
        S::OK
    );
    assert_eq!(keep(h.call(Method::GET, "/metrics", None, "").await), S::OK);
    assert_eq!(keep(h.call(Method::GET, "/healthz", None, "").await), S::OK);

    // Stop the gateway (its log is complete), then read everything it wrote.
    let kill = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let started = Instant::now();
    while serve.child.try_wait().expect("wait").is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = serve.stderr();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is verbose: {log}"
    );
    let mut places: Vec<(String, String)> = vec![("the log".into(), log)];
    for (n, body) in bodies.into_iter().enumerate() {
        places.push((format!("response body {n}"), body));
    }
    let store = Store::open(&data_dir, &Location::Sqlite)
        .await
        .expect("store");
    let filter = tokengate::audit::AuditFilter {
        max_results: 10_000,
        ..Default::default()
    };
    let (records, total) = store.query_audit(&filter).await.expect("audit");
    assert!(total >= 20, "{total} audit records");
    // Every field of every record, for any generated token (prefix, shape and checksum),
    // known to this test or not.
    for record in &records {
        let fields = serde_json::to_value(record).expect("record as JSON");
        for (name, value) in fields.as_object().into_iter().flatten() {
            let text = value.as_str().unwrap_or_default();
            assert_eq!(
                tokengate_core::token_value::redact(text),
                text,
                "audit record {} field {name} holds a token value",
                record.id
            );
        }
    }
    places.push((
        "the audit records".into(),
        serde_json::to_string(&records).expect("records as JSON"),
    ));
    drop(store);
    for entry in std::fs::read_dir(&data_dir).expect("data dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        places.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    // Basic credentials as they travel, too.
    let encoded: Vec<String> = secrets
        .iter()
        .flat_map(|secret| {
            ["alice", "bob", ADMIN, "dora", "erin"].map(|user| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
            })
        })
        .collect();
    for (place, text) in &places {
        for secret in secrets.iter().chain(&encoded) {
            assert!(
                !text.contains(secret.as_str()),
                "{place} holds a token value ({secret})"
            );
        }
    }
    echo.abort();
}

/// A plain HTTP/1 client for a gateway in another process.
struct Remote {
    addr: SocketAddr,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
}

impl Remote {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    async fn call(
        &self,
        method: Method,
        target: &str,
        authorization: Option<String>,
        body: &str,
    ) -> (StatusCode, String) {
        use http_body_util::BodyExt as _;
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{target}", self.addr));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("request");
        let response = self.client.request(request).await.expect("an answer");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}
