//! `tokengate demo`: the gateway in front of a built-in echo upstream, with an admin
//! token and a restricted token, and ready-to-paste `curl` commands.
//!
//! The echo upstream is also what the integration tests forward to: it answers every
//! request with the method, path, query, headers and body it received, as JSON.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Config, ScopeSetting};
use crate::gateway::app;
use crate::response::{Body, json as json_response};
use crate::store::NewToken;

/// The demo's restricted token: the seed's `getUserDetails` example only.
pub const DEMO_LIMIT_TO: &str = ".*/rest/extender/1.0/user/getUserDetails/.*";
/// The demo's administrator.
pub const DEMO_ADMIN: &str = "admin";

/// Echoes a request as JSON (headers in order received, repeated ones joined by `, `).
async fn echo(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(previous)) => {
                previous.push_str(", ");
                previous.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }),
    ))
}

/// Serves the echo upstream on `listener` until the task is aborted.
pub fn spawn_echo(listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service_fn(echo))
                    .await;
            });
        }
    })
}

/// Starts the echo upstream on a free local port; returns its address.
pub async fn start_echo() -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok((addr, spawn_echo(listener)))
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(listen: SocketAddr, data_dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let (echo_addr, _echo) = start_echo().await.context("starting the echo upstream")?;
    // Bound first, so that with port 0 the public base and the commands name the port.
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let listen = listener.local_addr()?;
    let mut config = Config::new(&format!("http://{echo_addr}"), data_dir.to_owned())?;
    config.listen = listen;
    config.public_base = format!("http://{listen}");
    config.admins = vec![DEMO_ADMIN.to_owned()];
    config.scope = ScopeSetting::Rest;
    let gateway = app(config).await.context("starting the gateway")?;
    let (_, admin_token) = gateway
        .store()
        .create(NewToken {
            label: "demo administrator".into(),
            user: Some(DEMO_ADMIN.into()),
            created_by: Some("demo".into()),
            ..NewToken::default()
        })
        .await?;
    let (_, demo_token) = gateway
        .store()
        .create(NewToken {
            label: "demo: getUserDetails only".into(),
            limit_to: DEMO_LIMIT_TO.into(),
            created_by: Some("demo".into()),
            ..NewToken::default()
        })
        .await?;
    let serving = tokio::spawn(crate::server::serve(
        gateway,
        listener,
        crate::cli::shutdown_signal(),
    ));
    let base = format!("http://{listen}");
    let data = data_dir.display();
    println!(
        "tokengate demo: gateway on {base}, echo upstream on http://{echo_addr}, data in {data}\n\
         \n\
         Tokens (shown once; only their digests are stored):\n\
         \x20 admin token (user {DEMO_ADMIN}, administrator): {admin_token}\n\
         \x20 demo token  (any user, limitTo {DEMO_LIMIT_TO}): {demo_token}\n\
         \n\
         Allowed: the seed's getUserDetails example (the echo shows what the upstream got,\n\
         including X-Forwarded-User):\n\
         \x20 curl -s -u admin:{demo_token} {base}/rest/extender/1.0/user/getUserDetails/admin\n\
         \n\
         Refused (403): the demo token is restricted to getUserDetails:\n\
         \x20 curl -s -u admin:{demo_token} {base}/rest/api/space\n\
         \n\
         Why it was refused, from the audit log (admin API, then the CLI):\n\
         \x20 curl -s -u admin:{admin_token} '{base}/rest/extender/1.0/tokenTools/audit?decision=deny&maxResults=5'\n\
         \x20 cargo run --release -- audit --data-dir {data} --decision deny\n\
         \n\
         All tokens (admin API):\n\
         \x20 curl -s -u admin:{admin_token} {base}/rest/extender/1.0/tokenTools/get\n\
         \n\
         Press Ctrl-C to stop."
    );
    serving.await.context("the demo gateway")??;
    Ok(())
}
