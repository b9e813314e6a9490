//! Upstream failures leak nothing: in front of an upstream that is down, resets
//! connections, never answers or breaks off its response, every client is answered
//! promptly (502, 504 at the timeout, or a cut-off body), and afterwards the gateway
//! holds no more tasks than before and no socket to the upstream or to a client.
//!
//! Tests run in parallel in this process, so what is this test's own is counted
//! exactly: tasks on its runtime (`tokengate_tasks_alive`; each `#[tokio::test]` has
//! its runtime) and the process's connections on its two ports (`/proc/self/fd`
//! joined with `/proc/net/tcp`). A socket the kernel has closed (after a reset, a
//! refused connect, or shut down both ways) is in no table, so whose it is cannot be
//! told: those are counted process-wide, with a slack for other tests. The
//! process-wide `tokengate_open_fds` would count every other descriptor too.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use super::{Harness, basic, raw};

const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(300);
/// Requests answered per case, and how many clients send them at once.
const REQUESTS: usize = 200;
const CLIENTS: usize = 16;
/// Of those clients, how many keep their connection (the others connect per request).
const KEEP_ALIVE_CLIENTS: usize = 4;
/// Clients that hang up after sending their request, before a slow upstream's
/// timeout, while the others run.
const HANGING_UP_CLIENTS: usize = 16;
const HANG_UP_AFTER: Duration = Duration::from_millis(100);
/// An answer that needs no waiting comes within this (generous: CI machines are slow).
const PROMPT: Duration = Duration::from_secs(2);
/// How long tasks and sockets may take to be released after the last answer.
const SETTLE: Duration = Duration::from_secs(5);
/// Longer than any answer may take: a client still waiting then waits for ever.
const GIVE_UP: Duration = Duration::from_secs(10);
/// Tasks a run may leave behind for good (housekeeping started lazily).
const TASK_SLACK: usize = 2;
/// Closed sockets other tests may hold for a moment when the run is checked.
const CLOSED_SOCKET_SLACK: usize = 4;

#[tokio::test]
async fn a_down_upstream_gets_502_promptly_and_leaks_nothing() {
    let within = Duration::ZERO..PROMPT;
    run(
        Upstream::down(),
        Expected::Status(StatusCode::BAD_GATEWAY, within),
    )
    .await;
}

#[tokio::test]
async fn a_resetting_upstream_gets_502_promptly_and_leaks_nothing() {
    let within = Duration::ZERO..PROMPT;
    let upstream = Upstream::start(Misbehaviour::Reset).await;
    run(upstream, Expected::Status(StatusCode::BAD_GATEWAY, within)).await;
}

#[tokio::test]
async fn a_silent_upstream_gets_504_at_the_timeout_and_leaks_nothing() {
    let within = UPSTREAM_TIMEOUT..UPSTREAM_TIMEOUT + Duration::from_secs(1);
    let upstream = Upstream::start(Misbehaviour::Silent).await;
    run(
        upstream,
        Expected::Status(StatusCode::GATEWAY_TIMEOUT, within),
    )
    .await;
}

#[tokio::test]
async fn a_half_sent_response_is_cut_off_promptly_and_leaks_nothing() {
    let upstream = Upstream::start(Misbehaviour::HalfResponse).await;
    run(upstream, Expected::CutOff).await;
}

/// What an upstream that accepts connections does with them.
#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    /// Resets the connection at once (`SO_LINGER` 0, then close).
    Reset,
    /// Reads the request and never answers.
    Silent,
    /// Sends the head and 5 of the 100 body bytes it announces, then closes.
    HalfResponse,
}

/// A purpose-built upstream on a real socket, counting the connections it holds.
struct Upstream {
    addr: SocketAddr,
    open: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
    /// A down upstream's port: bound but not listening (connections are refused),
    /// and held so that no other test gets it.
    _reserved: Option<TcpSocket>,
}

impl Upstream {
    fn down() -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        Self {
            addr: socket.local_addr().expect("addr"),
            open: Arc::default(),
            task: None,
            _reserved: Some(socket),
        }
    }

    async fn start(misbehaviour: Misbehaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&open);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors (a leak): wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let held = Held::new(&counted);
                tokio::spawn(async move {
                    misbehave(misbehaviour, stream).await;
                    drop(held);
                });
            }
        });
        Self {
            addr,
            open,
            task: Some(task),
            _reserved: None,
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One connection the upstream holds, counted until dropped.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(open))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Treats one connection as `misbehaviour` says; returns when it is closed.
async fn misbehave(misbehaviour: Misbehaviour, mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    match misbehaviour {
        Misbehaviour::Reset => {
            let _ = stream.set_zero_linger();
        }
        // Until the gateway closes it.
        Misbehaviour::Silent => while let Ok(1..) = stream.read(&mut buf).await {},
        Misbehaviour::HalfResponse => {
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(n @ 1..) => head.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
                .await;
        }
    }
}

/// What every client must get.
enum Expected {
    /// This status, its body whole, within the time range.
    Status(StatusCode, Range<Duration>),
    /// The upstream's 200 and then a body cut off where the upstream's was, promptly.
    CutOff,
}

impl Expected {
    fn check(&self, answer: &Answer) {
        match self {
            Self::Status(status, within) => assert!(
                answer.status == *status && answer.whole && within.contains(&answer.took),
                "want {status} within {within:?}, got {answer:?}"
            ),
            Self::CutOff => assert!(
                answer.status == StatusCode::OK && !answer.whole && answer.took < PROMPT,
                "want 200 with a cut-off body within {PROMPT:?}, got {answer:?}"
            ),
        }
    }
}

/// How one request was answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// Whether the body arrived whole.
    whole: bool,
    /// From sending the request to the end of the body.
    took: Duration,
    /// Whether it went on a connection that had carried a request before.
    reused: bool,
}

/// Runs the load against a gateway in front of `upstream`, checks every answer,
/// then waits until the gateway is back to where it was before.
async fn run(upstream: Upstream, expected: Expected) {
    let h = Harness::start_with_upstream(upstream.addr, tempfile::tempdir().expect("dir"), |c| {
        c.upstream_timeout = UPSTREAM_TIMEOUT;
    })
    .await;
    let token = h.user_token("alice", "").await;
    let authorization = basic("alice", &token);
    // Whatever the first requests start lazily belongs in the baseline.
    for answer in load(h.addr, &authorization, CLIENTS).await {
        expected.check(&answer);
    }
    let before = settled(&h, &upstream, None).await;

    let hanging_up: Vec<_> = (0..HANGING_UP_CLIENTS)
        .map(|_| tokio::spawn(hang_up(h.addr, authorization.clone())))
        .collect();
    let answers = load(h.addr, &authorization, REQUESTS).await;
    for client in hanging_up {
        client.await.expect("hanging-up client");
    }
    assert_eq!(answers.len(), REQUESTS);
    for answer in &answers {
        expected.check(answer);
    }
    if let Expected::Status(..) = expected {
        // The answer is no reason to close the client's connection.
        assert!(answers.iter().any(|answer| answer.reused));
    }
    settled(&h, &upstream, Some(&before)).await;
    h.stop().await;
}

/// `GET /rest/api/space` as `authorization`.
fn request(authorization: &str) -> Request<Empty<Bytes>> {
    Request::get("/rest/api/space")
        .header("host", "gateway.test")
        .header("authorization", authorization)
        .body(Empty::new())
        .expect("request")
}

/// `requests` requests from `CLIENTS` clients at once, `KEEP_ALIVE_CLIENTS` of
/// them keeping their connection; returns once every client has closed its own.
async fn load(addr: SocketAddr, authorization: &str, requests: usize) -> Vec<Answer> {
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let next = Arc::clone(&next);
            let authorization = authorization.to_owned();
            let keep_alive = client < KEEP_ALIVE_CLIENTS;
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut kept: Option<Connection> = None;
                while next.fetch_add(1, Ordering::SeqCst) < requests {
                    let mut connection = match kept.take() {
                        Some(mut connection) => {
                            if !connection.ready().await {
                                connection.close().await;
                                connection = Connection::open(addr).await;
                            }
                            connection
                        }
                        None => Connection::open(addr).await,
                    };
                    let answer = connection.send(request(&authorization)).await;
                    // A cut-off body ends its connection.
                    let reusable = keep_alive && answer.whole;
                    answers.push(answer);
                    if reusable {
                        kept = Some(connection);
                    } else {
                        connection.close().await;
                    }
                }
                if let Some(connection) = kept {
                    connection.close().await;
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.expect("client"));
    }
    answers
}

/// Sends a request on a fresh connection and hangs up after `HANG_UP_AFTER`,
/// before a slow upstream's timeout.
async fn hang_up(addr: SocketAddr, authorization: String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET /rest/api/space HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: {authorization}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(HANG_UP_AFTER).await;
}

/// A client connection to the gateway; its HTTP/1 task ends when it is closed.
struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    task: JoinHandle<()>,
    used: bool,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Self {
            sender,
            task,
            used: false,
        }
    }

    /// Whether the gateway has kept it open for another request.
    async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }

    async fn send(&mut self, request: Request<Empty<Bytes>>) -> Answer {
        let reused = std::mem::replace(&mut self.used, true);
        let started = Instant::now();
        let exchange = async {
            let response = self
                .sender
                .send_request(request)
                .await
                .expect("the gateway answers");
            let status = response.status();
            (status, response.into_body().collect().await.is_ok())
        };
        let (status, whole) = tokio::time::timeout(GIVE_UP, exchange)
            .await
            .unwrap_or_else(|_| panic!("no whole answer or cut-off within {GIVE_UP:?}"));
        Answer {
            status,
            whole,
            took: started.elapsed(),
            reused,
        }
    }

    /// Closes it and waits until its socket is released.
    async fn close(self) {
        drop(self.sender);
        let _ = self.task.await;
    }
}

/// What the gateway holds, and what the upstream and the clients hold of it.
#[derive(Debug)]
struct Snapshot {
    /// `tokengate_tasks_alive`: the tasks of this test's runtime (gateway, upstream
    /// and clients).
    tasks: usize,
    /// The gateway's sockets of client connections.
    client_connections: usize,
    /// The test's client sockets (none once the clients closed them).
    clients: usize,
    /// The gateway's sockets to the upstream.
    to_upstream: usize,
    /// The connections the upstream holds open, by its own count.
    upstream_open: usize,
    /// Sockets the kernel has closed but whose descriptors are still open, in the
    /// whole process (other tests' too, for a moment).
    closed_sockets: usize,
}

impl Snapshot {
    /// Whether no connection is left between clients, gateway and upstream.
    fn quiet(&self) -> bool {
        self.client_connections == 0
            && self.clients == 0
            && self.to_upstream == 0
            && self.upstream_open == 0
    }

    /// Whether it is back to `before`, but for what the run may start for good and
    /// other tests' sockets closing meanwhile.
    fn back_to(&self, before: &Self) -> bool {
        self.quiet()
            && self.tasks <= before.tasks + TASK_SLACK
            && self.closed_sockets <= before.closed_sockets + CLOSED_SOCKET_SLACK
    }
}

/// Polls until no connection is left between clients, gateway and upstream and,
/// given `before`, everything is back to it; fails after `SETTLE`.
async fn settled(h: &Harness, upstream: &Upstream, before: Option<&Snapshot>) -> Snapshot {
    let started = Instant::now();
    loop {
        // Lets the previous `/metrics` connection finish closing first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sockets = Sockets::read();
        let (client_connections, clients) = sockets.on(h.addr.port());
        let snapshot = Snapshot {
            client_connections,
            clients,
            to_upstream: sockets.on(upstream.addr.port()).1,
            upstream_open: upstream.open.load(Ordering::SeqCst),
            closed_sockets: sockets.closed,
            tasks: tasks_alive(h.addr).await,
        };
        let settled = match before {
            Some(before) => snapshot.back_to(before),
            None => snapshot.quiet(),
        };
        if settled {
            return snapshot;
        }
        assert!(
            started.elapsed() < SETTLE,
            "still held {SETTLE:?} later: {snapshot:?}; before the run: {before:?}"
        );
    }
}

/// `tokengate_tasks_alive` from the gateway's `/metrics` (read on a connection of
/// its own, which is closed when this returns).
async fn tasks_alive(addr: SocketAddr) -> usize {
    let metrics = raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("tokengate_tasks_alive ")?.parse().ok())
        .unwrap_or_else(|| panic!("no tokengate_tasks_alive in {metrics}"))
}

/// This process's sockets as the kernel lists them (Linux): its descriptors
/// (`/proc/self/fd`) matched by inode to the rows of `/proc/net/*`.
struct Sockets {
    /// (local port, remote port) of each TCP connection (listeners left out).
    tcp: Vec<(u16, u16)>,
    /// Sockets in no table: closed by the kernel (reset, refused, or shut down both
    /// ways) while their descriptor is still open.
    closed: usize,
}

impl Sockets {
    fn read() -> Self {
        let held: HashSet<String> = std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd (Linux)")
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter_map(|target| {
                let inode = target
                    .to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?;
                Some(inode.to_owned())
            })
            .collect();
        let mut listed: HashSet<String> = HashSet::new();
        let mut tcp = Vec::new();
        // Each table's inode column (proc_net_tcp(5), proc_net_unix(5)).
        for (table, inode_column) in [
            ("tcp", 9),
            ("tcp6", 9),
            ("udp", 9),
            ("udp6", 9),
            ("unix", 6),
        ] {
            let rows = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
            for row in rows.lines().skip(1) {
                let fields: Vec<&str> = row.split_whitespace().collect();
                let Some(inode) = fields.get(inode_column).filter(|i| held.contains(**i)) else {
                    continue;
                };
                listed.insert((*inode).to_owned());
                // A TCP row starts with its number, local and remote address and
                // state; 0A is listening.
                if table.starts_with("tcp")
                    && let [_, local, remote, state, ..] = fields[..]
                    && state != "0A"
                    && let (Some(local), Some(remote)) = (port(local), port(remote))
                {
                    tcp.push((local, remote));
                }
            }
        }
        let closed = held.iter().filter(|inode| !listed.contains(*inode)).count();
        Self { tcp, closed }
    }

    /// TCP connections with `port` as the local port (accepted here) and as the
    /// remote one (opened here).
    fn on(&self, port: u16) -> (usize, usize) {
        let accepted = self.tcp.iter().filter(|(local, _)| *local == port).count();
        let opened = self
            .tcp
            .iter()
            .filter(|(_, remote)| *remote == port)
            .count();
        (accepted, opened)
    }
}

/// The port of a `/proc/net/tcp` address (`0100007F:1F90`).
fn port(address: &str) -> Option<u16> {
    u16::from_str_radix(address.rsplit(':').next()?, 16).ok()
}
