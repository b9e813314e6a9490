//! The real `tokengate` binary as a child process: `audit --follow` prints records
//! as a running gateway writes them, and `serve` stops on SIGTERM only after the
//! in-flight request is answered and audited.
//!
//! The binary is built by `cargo build -p tokengate` (CI does it before the tests);
//! without it these tests are skipped locally and fail under `CI=true`.

use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use serde_json::Value;
use tokengate::store::{Location, NewToken, Store};
use tokio::sync::{Semaphore, mpsc};

use super::{Harness, basic, custom_upstream};

/// How long the debug binary may take to start (it compiles the policy component).
const STARTUP: Duration = Duration::from_secs(30);
/// How long anything else the tests wait for may take.
const PATIENCE: Duration = Duration::from_secs(5);

/// `tokengate` next to the test binary (`target/<profile>/deps/all-…` →
/// `target/<profile>/tokengate`), unless `CARGO_BIN_EXE_tokengate` names it.
fn find_binary() -> Result<PathBuf, String> {
    let path = match std::env::var_os("CARGO_BIN_EXE_tokengate") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().map_err(|err| err.to_string())?;
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .ok_or("the test binary is not in target/<profile>/deps")?;
            profile_dir.join(format!("tokengate{}", std::env::consts::EXE_SUFFIX))
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

/// The binary; `None` (the test returns early) when it is missing outside CI.
pub(crate) fn tokengate_binary() -> Option<PathBuf> {
    match find_binary() {
        Ok(path) => Some(path),
        Err(why) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("the tokengate binary is needed (`cargo build -p tokengate` first): {why}")
        }
        Err(why) => {
            eprintln!("skipped: `cargo build -p tokengate` first ({why})");
            None
        }
    }
}

/// A child process that is killed if the test ends early, with its output read by
/// threads: stdout line by line into a channel, stderr kept for failure messages.
pub(crate) struct Process {
    pub(super) child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Process {
    pub(crate) fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tokengate binary starts");
        let (lines, stdout) = mpsc::unbounded_channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                kept.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            stdout,
            stderr,
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// The next line on stdout, within `PATIENCE`.
    async fn line(&mut self) -> String {
        match tokio::time::timeout(PATIENCE, self.stdout.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("stdout closed; stderr:\n{}", self.stderr()),
            Err(_) => panic!("no output within {PATIENCE:?}; stderr:\n{}", self.stderr()),
        }
    }

    /// Waits until `serve --listen 127.0.0.1:0` says which port it bound and then
    /// answers `/healthz` there; its address. (A port picked by the test could be
    /// taken by another test before the gateway binds it.)
    pub(crate) async fn wait_serving(&mut self) -> SocketAddr {
        let started = Instant::now();
        let addr = loop {
            if let Some(addr) = listening_addr(&self.stderr()) {
                break addr;
            }
            self.still_starting(started, "serve did not listen").await;
        };
        self.wait_healthy(addr).await;
        addr
    }

    /// Fails the test when serve exited or `STARTUP` has passed since `started`
    /// (saying `what`); otherwise waits a moment before the next look.
    async fn still_starting(&mut self, started: Instant, what: &str) {
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "serve exited; stderr:\n{}",
            self.stderr()
        );
        assert!(
            started.elapsed() < STARTUP,
            "{what} within {STARTUP:?}; stderr:\n{}",
            self.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Waits until the gateway at `addr` answers `/healthz` with 200 (the debug
    /// binary compiles the policy component first).
    pub(super) async fn wait_healthy(&mut self, addr: SocketAddr) {
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let started = Instant::now();
        loop {
            let health = Request::get(format!("http://{addr}/healthz"))
                .body(Full::new(Bytes::new()))
                .expect("request");
            match client.request(health).await {
                Ok(response) if response.status() == StatusCode::OK => return,
                _ => {}
            }
            self.still_starting(started, "not ready").await;
        }
    }

    /// Waits for the process to exit, within `PATIENCE`.
    async fn exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "still running; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn audit_follow_prints_records_as_the_gateway_writes_them() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    let h = Harness::start(|_| {}).await;
    let token = h.user_token("alice", ".*/rest/api/space").await;
    let before = h.get("/rest/api/space?n=before", "alice", &token).await;
    assert_eq!(before.status, StatusCode::OK);

    let mut follow = Process::spawn(
        Command::new(binary)
            .args([
                "audit",
                "--follow",
                "--json",
                "--store",
                &h.store,
                "--data-dir",
            ])
            .arg(&h.app.config().data_dir),
    );
    // What was there already comes first...
    let record = |line: String| -> Value {
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"))
    };
    let first = record(follow.line().await);
    assert_eq!(
        first["url"],
        "https://wiki.example.com/rest/api/space?n=before"
    );

    // ...then each new record, as it is committed, oldest first.
    let after = h.get("/rest/api/space?n=after", "alice", &token).await;
    assert_eq!(after.status, StatusCode::OK);
    let refused = h.get("/rest/api/other", "alice", &token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let second = record(follow.line().await);
    assert_eq!(
        second["url"],
        "https://wiki.example.com/rest/api/space?n=after"
    );
    assert_eq!(second["decision"], "allow");
    assert_eq!(second["user"], "alice");
    let third = record(follow.line().await);
    assert_eq!(third["url"], "https://wiki.example.com/rest/api/other");
    assert_eq!(third["decision"], "deny");
    assert_eq!(third["reason"], "no-matching-rule");
    assert!(first["id"].as_i64() < second["id"].as_i64());
    // Still following (it stops only when told to).
    assert!(follow.child.try_wait().expect("wait").is_none());
    drop(follow);
    h.stop().await;
}

/// A local port nothing listens on (bound, then released).
/// The address a `serve` log reports in its `listening addr=…` line.
fn listening_addr(log: &str) -> Option<SocketAddr> {
    log.lines()
        .find_map(|line| line.split("listening addr=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
}

#[tokio::test]
async fn sigterm_finishes_the_in_flight_request_audits_it_and_exits_0() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    // An upstream that holds each request until the test releases it.
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<String>();
    let release = Arc::new(Semaphore::new(0));
    let held = Arc::clone(&release);
    let (upstream, upstream_task) = custom_upstream(move |request: Request<_>| {
        let arrived = arrived.clone();
        let held = Arc::clone(&held);
        async move {
            let _ = arrived.send(request.uri().path().to_owned());
            let _permit = held.acquire().await;
            Response::new(Full::new(Bytes::from_static(b"slow answer")))
        }
    })
    .await;

    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().join("data");
    let token = {
        let store = Store::open(&data_dir, &Location::Sqlite)
            .await
            .expect("store");
        store
            .create(NewToken {
                label: "slow".into(),
                user: Some("alice".into()),
                ..NewToken::default()
            })
            .await
            .expect("token")
            .1
    };
    let mut serve = Process::spawn(
        Command::new(binary)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--upstream")
            .arg(format!("http://{upstream}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", "info"),
    );
    let addr = serve.wait_serving().await;
    let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();

    let in_flight = tokio::spawn({
        let client = client.clone();
        let request = Request::get(format!("http://{addr}/rest/api/slow"))
            .header("authorization", basic("alice", &token))
            .body(Full::new(Bytes::new()))
            .expect("request");
        async move {
            let response = client.request(request).await.expect("an answer");
            let status = response.status();
            let body = response.into_body().collect().await.expect("body");
            (status, body.to_bytes())
        }
    });
    let path = tokio::time::timeout(PATIENCE, arrivals.recv())
        .await
        .expect("the request reaches the upstream");
    assert_eq!(path.as_deref(), Some("/rest/api/slow"));

    let kill = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    // It stops accepting while the request is still held upstream...
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            started.elapsed() < PATIENCE,
            "still accepting after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!in_flight.is_finished());
    assert!(serve.child.try_wait().expect("wait").is_none());

    // ...and answers it once the upstream does, then exits cleanly.
    release.add_permits(1);
    let (status, body) = tokio::time::timeout(PATIENCE, in_flight)
        .await
        .expect("answered in time")
        .expect("client task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"slow answer");
    let exit = serve.exit().await;
    assert_eq!(exit.code(), Some(0), "stderr:\n{}", serve.stderr());
    assert!(serve.stderr().contains("audit log flushed"));

    // The record, completed with the upstream status, is in the SQLite file.
    let db = rusqlite::Connection::open_with_flags(
        data_dir.join(tokengate::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the database opens read-only");
    let (decision, user, status): (String, String, Option<u16>) = db
        .query_row(
            "SELECT a.decision, a.user, o.status FROM audit a
             LEFT JOIN audit_outcomes o ON o.audit_id = a.id WHERE a.url LIKE '%/rest/api/slow'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("the in-flight request's audit record");
    assert_eq!(
        (decision.as_str(), user.as_str(), status),
        ("allow", "alice", Some(200))
    );
    upstream_task.abort();
}
