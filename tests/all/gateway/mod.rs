//! The gateway over real sockets: the app in-process on 127.0.0.1:0 in front of the
//! demo's echo upstream (or a purpose-built one), real SQLite files in temp dirs,
//! (or, with `TOKENGATE_TEST_STORE=postgres`, PostgreSQL databases) and a real HTTP
//! client (hyper) or `curl`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod admin;
mod attacks;
mod audit_sink;
mod auth;
pub(crate) mod binary;
mod component_faults;
mod faults;
mod filter_api;
mod findings;
mod forwarding;
mod hostile;
mod instances;
mod leaks;
mod lifecycle;
mod load;
mod persistence;
mod rules;
mod slow_clients;
mod tls;
mod webhooks;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokengate::config::Config;
use tokengate::policy::PolicyRuntime;
use tokengate::server::Running;
use tokengate::store::{Location, NewToken};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The administrator every harness is configured with.
pub const ADMIN: &str = "admin";

/// One compiled policy component shared by every test (compiling it is the slow part).
pub fn policy() -> PolicyRuntime {
    static POLICY: OnceLock<PolicyRuntime> = OnceLock::new();
    POLICY
        .get_or_init(|| PolicyRuntime::new().expect("the policy component loads"))
        .clone()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// A header the echo upstream received.
    pub fn echoed(&self, name: &str) -> Option<String> {
        self.json()["headers"][name].as_str().map(str::to_owned)
    }
}

/// A gateway in front of an upstream, with its data in a temp dir.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub upstream: SocketAddr,
    pub app: tokengate::App,
    /// The `--store` argument of its database (for CLI processes on the same data).
    pub store: String,
    running: Option<Running>,
    upstream_task: Option<JoinHandle<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Harness {
    /// A gateway in front of the echo upstream; `configure` adjusts the config.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> Self {
        let (upstream, task) = tokengate::demo::start_echo().await.expect("echo starts");
        let mut harness =
            Self::start_with_upstream(upstream, tempfile::tempdir().expect("temp dir"), configure)
                .await;
        harness.upstream_task = Some(task);
        harness
    }

    /// A gateway in front of `upstream`, with its data in `dir`.
    pub async fn start_with_upstream(
        upstream: SocketAddr,
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_with_policy(upstream, dir, policy(), configure).await
    }

    /// [`Self::start_with_upstream`] with its own policy runtime.
    pub async fn start_with_policy(
        upstream: SocketAddr,
        dir: tempfile::TempDir,
        policy: PolicyRuntime,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config =
            Config::new(&format!("http://{upstream}"), dir.path().join("data")).expect("config");
        config.admins = vec![ADMIN.into()];
        config.public_base = "https://wiki.example.com".into();
        let store = crate::postgres::store_under_test(dir.path()).await;
        config.store = Location::parse(&store).expect("test store");
        configure(&mut config);
        let app = tokengate::gateway::app_with_policy(config, policy)
            .await
            .expect("app starts");
        let running = Running::start(app.clone(), "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("gateway listens");
        Self {
            dir,
            addr: running.addr,
            upstream,
            app,
            store,
            running: Some(running),
            upstream_task: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Stops the gateway gracefully; returns the data dir for a restart.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("graceful stop");
        }
        if let Some(task) = self.upstream_task.take() {
            task.abort();
        }
        self.dir
    }

    pub fn url(&self, target: &str) -> String {
        format!("http://{}{target}", self.addr)
    }

    /// Creates a token directly in the store; returns (id, value).
    pub async fn token(&self, new: NewToken) -> (String, String) {
        let (token, value) = self.app.store().create(new).await.expect("token created");
        (token.id.clone(), value)
    }

    /// A token bound to `user` with `limit_to` lines.
    pub async fn user_token(&self, user: &str, limit_to: &str) -> String {
        self.token(NewToken {
            label: format!("{user} token"),
            user: Some(user.into()),
            limit_to: limit_to.into(),
            ..NewToken::default()
        })
        .await
        .1
    }

    /// An administrator's token.
    pub async fn admin_token(&self) -> String {
        self.user_token(ADMIN, "").await
    }

    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        let response = self
            .client
            .request(request)
            .await
            .expect("the gateway answers");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// A request with optional extra headers and body.
    pub async fn call(
        &self,
        method: Method,
        target: &str,
        authorization: Option<String>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(self.url(target));
        if let Some(authorization) = authorization {
            builder = builder.header("authorization", authorization);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(
            builder
                .body(Full::new(Bytes::from(body.to_owned())))
                .expect("request"),
        )
        .await
    }

    /// `GET target` with Basic `user:token`.
    pub async fn get(&self, target: &str, user: &str, token: &str) -> Reply {
        self.call(Method::GET, target, Some(basic(user, token)), &[], "")
            .await
    }

    /// Revokes the token `id` through the admin API.
    pub async fn revoke(&self, admin_token: &str, id: &str) -> Reply {
        self.call(
            Method::DELETE,
            "/rest/extender/1.0/tokenTools/delete",
            Some(basic(ADMIN, admin_token)),
            &[("content-type", "application/json")],
            &serde_json::json!({ "id": id }).to_string(),
        )
        .await
    }

    /// A new filter credential named `name`: its value.
    pub async fn filter_credential(&self, name: &str) -> String {
        let (_, value) = self
            .app
            .store()
            .create_credential(name, None)
            .await
            .expect("filter credential");
        value
    }

    /// The audit log through the admin API.
    pub async fn audit(&self, admin_token: &str, query: &str) -> Value {
        let reply = self
            .get(
                &format!("/rest/extender/1.0/tokenTools/audit?{query}"),
                ADMIN,
                admin_token,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    /// The most recent audit record, read from the store directly.
    pub async fn last_audit(&self) -> tokengate::audit::AuditRow {
        let filter = tokengate::audit::AuditFilter {
            max_results: 1,
            ..Default::default()
        };
        let (rows, _) = self
            .app
            .store()
            .query_audit(&filter)
            .await
            .expect("audit query");
        rows.into_iter().next().expect("an audit record")
    }
}

/// `Basic base64(user:token)`.
pub fn basic(user: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
    )
}

/// `Bearer token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Sends raw bytes and reads the answer until the server closes or 2 s pass.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// An upstream that answers every request with `respond` (for hop-by-hop and
/// timeout tests).
pub async fn custom_upstream<F, Fut>(respond: F) -> (SocketAddr, JoinHandle<()>)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let respond = respond.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let respond = respond.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, task)
}
