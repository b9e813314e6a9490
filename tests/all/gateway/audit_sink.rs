//! Audit streaming through the real binary (`serve --audit-sink`) over real sockets, on
//! the store under test: a JSON-lines file (in order, the audit log's ids, no token value,
//! reopened on SIGHUP), syslog over UDP and TCP (RFC 5424), a collector that is down
//! while requests are served, and `kill -9` followed by a restart.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use tokengate::audit::AuditFilter;
use tokengate::store::{Location, NewToken, Store};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, UdpSocket};

use super::binary::{Process, tokengate_binary};
use super::{basic, load};

/// How long the sink may take to catch up (it retries a down collector every 5 s at most).
const CATCH_UP: Duration = Duration::from_secs(30);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A data directory with one token on the store under test, and an upstream.
struct Setup {
    dir: tempfile::TempDir,
    binary: PathBuf,
    store: String,
    token: String,
    upstream: SocketAddr,
    client: HttpClient,
}

impl Setup {
    async fn new() -> Option<Self> {
        let binary = tokengate_binary()?;
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::postgres::store_under_test(dir.path()).await;
        let (_, token) = Store::open(&dir.path().join("data"), &location(&store))
            .await
            .expect("store")
            .create(NewToken {
                label: "streamed".into(),
                user: Some("alice".into()),
                limit_to: ".*/rest/api/(space|load)".into(),
                ..NewToken::default()
            })
            .await
            .expect("token");
        let (upstream, _) = tokengate::demo::start_echo().await.expect("echo");
        Some(Self {
            dir,
            binary,
            store,
            token,
            upstream,
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `serve` with `sink`, once it answers.
    async fn serve(&self, sink: &str) -> (Process, SocketAddr) {
        let mut process = Process::spawn(
            Command::new(&self.binary)
                .args(["serve", "--listen", "127.0.0.1:0", "--store", &self.store])
                .args(["--upstream", &format!("http://{}", self.upstream)])
                .args(["--audit-sink", sink])
                .arg("--data-dir")
                .arg(self.data_dir())
                .env("RUST_LOG", "info"),
        );
        let addr = process.wait_serving().await;
        (process, addr)
    }

    /// `GET target` as alice (or with `auth`); its status.
    async fn get(&self, addr: SocketAddr, target: &str, auth: Option<&str>) -> StatusCode {
        let auth = auth.map_or_else(|| basic("alice", &self.token), str::to_owned);
        let request = Request::get(format!("http://{addr}{target}"))
            .header("authorization", auth)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = self.client.request(request).await.expect("an answer");
        let status = response.status();
        let _ = response.into_body().collect().await;
        status
    }

    /// Allowed and refused requests of several kinds, a token pasted into a URL among
    /// them; every one answered.
    async fn traffic(&self, addr: SocketAddr, tag: &str) {
        let token = &self.token;
        for (target, auth, expected) in [
            (format!("/rest/api/space?{tag}=1"), None, StatusCode::OK),
            (format!("/rest/api/space?{tag}=2"), None, StatusCode::OK),
            (
                format!("/rest/api/other?{tag}"),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                format!("/rest/api/space?{tag}&leak={token}"),
                None,
                StatusCode::OK,
            ),
            (
                format!("/rest/api/space?{tag}"),
                Some(basic("mallory", token)),
                StatusCode::UNAUTHORIZED,
            ),
            (
                format!("/rest/api/space?{tag}"),
                Some(basic(token, "alice")),
                StatusCode::UNAUTHORIZED,
            ),
        ] {
            let status = self.get(addr, &target, auth.as_deref()).await;
            assert_eq!(status, expected, "{target}");
        }
    }

    /// The gateway's `/metrics`.
    async fn metrics(&self, addr: SocketAddr) -> String {
        let request = Request::get(format!("http://{addr}/metrics"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = self.client.request(request).await.expect("an answer");
        let body = response.into_body().collect().await.expect("body");
        String::from_utf8_lossy(&body.to_bytes()).into_owned()
    }

    /// Every audit record id, oldest first.
    async fn audit_ids(&self) -> Vec<i64> {
        self.audit_ids_on(&self.data_dir()).await
    }

    /// [`Self::audit_ids`] with the key of `data_dir`.
    async fn audit_ids_on(&self, data_dir: &Path) -> Vec<i64> {
        let store = Store::open(data_dir, &location(&self.store))
            .await
            .expect("store");
        let (rows, _) = store
            .query_audit(&AuditFilter {
                after_id: Some(0),
                max_results: u64::MAX,
                ..AuditFilter::default()
            })
            .await
            .expect("audit");
        rows.iter().map(|row| row.id).collect()
    }

    /// Fails when `text`, which a sink received, holds this token's value.
    fn assert_no_token(&self, text: &str) {
        assert!(!text.contains(&self.token), "a token value: {text}");
        assert_eq!(
            tokengate_core::token_value::redact(text),
            text,
            "token-shaped text"
        );
    }
}

fn location(store: &str) -> Location {
    Location::parse(store).expect("store under test")
}

/// The records of a JSON-lines file.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

fn ids(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .map(|record| record["id"].as_i64().expect("an id"))
        .collect()
}

/// Polls until `done` holds, for at most [`CATCH_UP`].
async fn until(what: &str, process: &Process, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < CATCH_UP,
            "{what}: not within {CATCH_UP:?}; stderr:\n{}",
            process.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_jsonl_file_gets_every_record_in_order_and_is_reopened_on_sighup() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    let file = setup.dir.path().join("audit.jsonl");
    let (gateway, addr) = setup.serve(&format!("jsonl:{}", file.display())).await;
    setup.traffic(addr, "first").await;
    let audited = setup.audit_ids().await;
    assert!(audited.len() >= 6, "{audited:?}");
    until("every record in the file", &gateway, || {
        ids(&lines(&file)).last() == audited.last()
    })
    .await;
    // The audit log's records, each once, in id order, in the admin API's shape.
    let records = lines(&file);
    assert_eq!(ids(&records), audited, "{}", gateway.stderr());
    let refused = records
        .iter()
        .find(|record| record["decision"] == "deny" && record["reason"] == "no-matching-rule")
        .expect("the refusal");
    assert_eq!(refused["user"], "alice");
    assert!(
        refused["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/rest/api/other?first"))
    );

    // logrotate: the file is moved away, SIGHUP makes the gateway write a new one.
    let rotated = setup.dir.path().join("audit.jsonl.1");
    std::fs::rename(&file, &rotated).expect("rotate");
    let hup = Command::new("kill")
        .args(["-HUP", &gateway.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(hup.success());
    until("a new file", &gateway, || file.exists()).await;
    setup.traffic(addr, "second").await;
    let audited = setup.audit_ids().await;
    until("the new records in the new file", &gateway, || {
        ids(&lines(&file)).last() == audited.last()
    })
    .await;
    let mut both = ids(&lines(&rotated));
    both.extend(ids(&lines(&file)));
    assert_eq!(both, audited, "none lost or repeated across the rotation");
    assert!(
        lines(&file)
            .iter()
            .all(|r| r["url"].as_str().is_some_and(|u| u.contains("second")))
    );
    for path in [&file, &rotated] {
        setup.assert_no_token(&std::fs::read_to_string(path).expect("sink file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let metrics = setup.metrics(addr).await;
    assert!(
        metrics.contains("tokengate_audit_sink_active 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "tokengate_audit_sink_delivered_total {}",
            audited.len()
        )),
        "{metrics}"
    );
}

/// One RFC 5424 message: its PRI, the fields before the structured data, the structured
/// data and the record in MSG.
fn rfc5424(message: &str, pid: u32) -> (u16, Value) {
    let (pri, rest) = message
        .strip_prefix('<')
        .and_then(|m| m.split_once(">1 "))
        .unwrap_or_else(|| panic!("no <PRI>1: {message}"));
    let mut fields = rest.splitn(6, ' ');
    let time = fields.next().expect("TIMESTAMP");
    assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    let hostname = fields.next().expect("HOSTNAME");
    assert!(!hostname.is_empty() && hostname.is_ascii());
    assert_eq!(fields.next(), Some("tokengate"), "APP-NAME");
    assert_eq!(fields.next(), Some(pid.to_string().as_str()), "PROCID");
    assert_eq!(fields.next(), Some("audit"), "MSGID");
    let rest = fields.next().expect("SD and MSG");
    let (sd, msg) = rest.split_once("] ").expect("structured data, then MSG");
    let record: Value = serde_json::from_str(msg).unwrap_or_else(|err| panic!("{err}: {msg}"));
    assert!(
        sd.starts_with(&format!(
            "[audit@32473 id=\"{}\" decision=\"{}\"",
            record["id"],
            record["decision"].as_str().unwrap_or("?")
        )),
        "{sd}"
    );
    (pri.parse().expect("PRI"), record)
}

/// authpriv (10): info (6) for allow, notice (5) for deny.
fn expected_pri(record: &Value) -> u16 {
    if record["decision"] == "allow" {
        86
    } else {
        85
    }
}

#[tokio::test]
async fn syslog_over_udp_gets_one_rfc5424_datagram_per_record() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    let collector = UdpSocket::bind("127.0.0.1:0").await.expect("collector");
    let port = collector.local_addr().expect("addr").port();
    let (gateway, addr) = setup.serve(&format!("syslog:udp://127.0.0.1:{port}")).await;
    setup.traffic(addr, "udp").await;
    let audited = setup.audit_ids().await;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while received.len() < audited.len() {
        let n = tokio::time::timeout(CATCH_UP, collector.recv(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} of {} datagrams; stderr:\n{}",
                    received.len(),
                    audited.len(),
                    gateway.stderr()
                )
            })
            .expect("recv");
        let message = String::from_utf8(buf[..n].to_vec()).expect("UTF-8");
        setup.assert_no_token(&message);
        let (pri, record) = rfc5424(&message, gateway.child.id());
        assert_eq!(pri, expected_pri(&record), "{message}");
        received.push(record);
    }
    assert_eq!(ids(&received), audited);
}

#[tokio::test]
async fn a_tcp_collector_that_is_down_gets_every_record_when_it_comes_up() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    // A port nothing listens on yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("probe")
        .local_addr()
        .expect("addr")
        .port();
    let (gateway, addr) = setup.serve(&format!("syslog:tcp://127.0.0.1:{port}")).await;
    // Requests are served while the collector is down; their records wait.
    setup.traffic(addr, "down").await;
    let waiting = setup.audit_ids().await;
    let started = Instant::now();
    loop {
        let metrics = setup.metrics(addr).await;
        if metric(&metrics, "tokengate_audit_sink_failures_total") >= 1.0 {
            // The records wait, counted.
            assert!(
                metric(&metrics, "tokengate_audit_sink_lag_records") >= 1.0,
                "{metrics}"
            );
            assert_eq!(
                metric(&metrics, "tokengate_audit_sink_delivered_total"),
                0.0
            );
            break;
        }
        assert!(
            started.elapsed() < CATCH_UP,
            "no failure counted: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let collector = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("collector comes up");
    setup.traffic(addr, "up").await;
    let audited = setup.audit_ids().await;
    assert!(audited.len() > waiting.len());
    let (mut stream, _) = tokio::time::timeout(CATCH_UP, collector.accept())
        .await
        .expect("the gateway connects")
        .expect("accept");
    let mut received = Vec::new();
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while received.len() < audited.len() {
        let n = tokio::time::timeout(CATCH_UP, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} of {} records; stderr:\n{}",
                    received.len(),
                    audited.len(),
                    gateway.stderr()
                )
            })
            .expect("read");
        assert!(n > 0, "the gateway closed the connection");
        bytes.extend_from_slice(&buf[..n]);
        // Octet counting (RFC 6587): `LENGTH SP MESSAGE`, one after another.
        while let Some(space) = bytes.iter().position(|b| *b == b' ') {
            let length: usize = std::str::from_utf8(&bytes[..space])
                .expect("ASCII length")
                .parse()
                .expect("a length");
            if bytes.len() < space + 1 + length {
                break;
            }
            let message =
                String::from_utf8(bytes[space + 1..space + 1 + length].to_vec()).expect("UTF-8");
            bytes.drain(..space + 1 + length);
            setup.assert_no_token(&message);
            let (pri, record) = rfc5424(&message, gateway.child.id());
            assert_eq!(pri, expected_pri(&record), "{message}");
            received.push(record);
        }
    }
    assert_eq!(ids(&received), audited, "every record, once, in order");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test]
async fn kill_9_and_a_restart_leave_no_record_unsent() {
    let Some(setup) = Setup::new().await else {
        return;
    };
    let file = setup.dir.path().join("audit.jsonl");
    let sink = format!("jsonl:{}", file.display());
    let (mut gateway, addr) = setup.serve(&sink).await;
    let alice = basic("alice", &setup.token);
    let workers = load::until_refused(&setup.client, addr, &alice, "space&");
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.child.kill().expect("kill -9");
    let _ = gateway.child.wait();
    let answered = load::answered(workers).await;
    assert!(answered > 0, "no request was served before the kill");

    let (gateway, addr) = setup.serve(&sink).await;
    assert_eq!(
        setup.get(addr, "/rest/api/space?after", None).await,
        StatusCode::OK
    );
    let audited = setup.audit_ids().await;
    until("every record in the file", &gateway, || {
        ids(&lines(&file)).contains(audited.last().expect("records"))
    })
    .await;
    let sent = ids(&lines(&file));
    // At least once: every record of the audit log is in the file...
    let unique: BTreeSet<i64> = sent.iter().copied().collect();
    let audited_set: BTreeSet<i64> = audited.iter().copied().collect();
    assert_eq!(unique, audited_set, "no gap");
    // ...in order, except that a restart sends again the records sent since the last
    // saved cursor (duplicates, never a skip).
    let mut seen = BTreeSet::new();
    let mut firsts = Vec::new();
    for id in &sent {
        if seen.insert(*id) {
            firsts.push(*id);
        }
    }
    assert_eq!(firsts, audited, "first sendings in id order");
    eprintln!(
        "{answered} requests answered before the kill; {} records, {} lines ({} sent twice)",
        audited.len(),
        sent.len(),
        sent.len() - audited.len()
    );
}

#[tokio::test]
async fn a_bad_sink_stops_the_start_naming_the_setting() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    let output = Command::new(binary)
        .args(["serve", "--upstream", "http://127.0.0.1:9"])
        .args(["--audit-sink", "syslog:udp://nowhere"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "TOKENGATE_AUDIT_SINK (--audit-sink): `syslog:udp://nowhere` needs a HOST:PORT"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn one_of_two_gateways_on_postgres_streams_and_the_other_takes_over() {
    let Some(binary) = tokengate_binary() else {
        return;
    };
    let Some(database) = crate::postgres::fresh_database().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let first = dir.path().join("a");
    let (_, token) = Store::open(&first, &database.location())
        .await
        .expect("store")
        .create(NewToken {
            label: "streamed".into(),
            user: Some("alice".into()),
            ..NewToken::default()
        })
        .await
        .expect("token");
    let second = dir.path().join("b");
    std::fs::create_dir_all(&second).expect("second data dir");
    std::fs::copy(
        first.join(tokengate::store::KEY_FILE),
        second.join(tokengate::store::KEY_FILE),
    )
    .expect("key copied");
    let (upstream, _) = tokengate::demo::start_echo().await.expect("echo");
    let setup = Setup {
        dir,
        binary,
        store: database.url.clone(),
        token,
        upstream,
        client: Client::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
    };
    let mut gateways = Vec::new();
    for data_dir in [&first, &second] {
        let file = data_dir.join("audit.jsonl");
        let mut process = Process::spawn(
            Command::new(&setup.binary)
                .args(["serve", "--listen", "127.0.0.1:0", "--store", &setup.store])
                .args(["--upstream", &format!("http://{upstream}")])
                .args(["--audit-sink", &format!("jsonl:{}", file.display())])
                .arg("--data-dir")
                .arg(data_dir)
                .env("RUST_LOG", "info"),
        );
        let addr = process.wait_serving().await;
        gateways.push((process, addr, file));
    }
    let ids_in = |files: &[PathBuf]| -> BTreeSet<i64> {
        files.iter().flat_map(|file| ids(&lines(file))).collect()
    };
    for (_, addr, _) in &gateways {
        let status = setup.get(*addr, "/rest/api/space?both", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let audited = |ids: Vec<i64>| ids.into_iter().collect::<BTreeSet<i64>>();
    let first_ids = audited(setup.audit_ids_on(&first).await);
    let files: Vec<PathBuf> = gateways.iter().map(|(_, _, file)| file.clone()).collect();
    until("both gateways' records sent", &gateways[0].0, || {
        ids_in(&files) == first_ids
    })
    .await;
    // Exactly one gateway streams: one file has every record, the other none.
    let active: Vec<usize> = (0..2)
        .filter(|&i| !lines(&gateways[i].2).is_empty())
        .collect();
    assert_eq!(active.len(), 1, "one streaming gateway");
    let streaming = active[0];
    let other = 1 - streaming;
    let metrics = setup.metrics(gateways[other].1).await;
    assert_eq!(metric(&metrics, "tokengate_audit_sink_active"), 0.0);

    // The streaming gateway dies; the other takes over from the saved cursor.
    let (victim, _, _) = &mut gateways[streaming];
    victim.child.kill().expect("kill -9");
    let _ = victim.child.wait();
    let survivor = gateways[other].1;
    let status = setup.get(survivor, "/rest/api/space?after", None).await;
    assert_eq!(status, StatusCode::OK);
    let all = audited(setup.audit_ids_on(&first).await);
    until(
        "the other gateway sends the rest",
        &gateways[other].0,
        || ids_in(&files) == all,
    )
    .await;
    assert!(!lines(&gateways[other].2).is_empty());
    let metrics = setup.metrics(survivor).await;
    assert_eq!(metric(&metrics, "tokengate_audit_sink_active"), 1.0);
}
