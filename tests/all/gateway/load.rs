//! Load that runs until the gateway dies, and the check that follows a `kill -9`:
//! every request the upstream received has an allow record.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokengate::audit::AuditFilter;
use tokengate::store::Store;
use tokio::task::JoinHandle;

use super::custom_upstream;

/// Queries the upstream received, one per forwarded request.
pub type Received = Arc<Mutex<BTreeSet<String>>>;

/// An upstream that answers `{}` and records each request's query.
pub async fn recording_upstream() -> (SocketAddr, JoinHandle<()>, Received) {
    let received = Received::default();
    let seen = Arc::clone(&received);
    let (addr, task) = custom_upstream(move |request: Request<_>| {
        let seen = Arc::clone(&seen);
        async move {
            if let Some(query) = request.uri().query() {
                seen.lock().expect("received").insert(query.to_owned());
            }
            Response::new(Full::new(Bytes::from_static(b"{}")))
        }
    })
    .await;
    (addr, task, received)
}

/// Eight clients sending `/rest/api/load?{tag}w=…&n=…` to `addr` until a request
/// fails; each returns how many were answered 200.
pub fn until_refused(
    client: &Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    auth: &str,
    tag: &str,
) -> Vec<JoinHandle<i64>> {
    (0..8)
        .map(|worker| {
            let (client, auth) = (client.clone(), auth.to_owned());
            let prefix = format!("http://{addr}/rest/api/load?{tag}w={worker}");
            tokio::spawn(async move {
                let mut answered = 0;
                for n in 0.. {
                    let request = Request::get(format!("{prefix}&n={n}"))
                        .header("authorization", &auth)
                        .body(Full::new(Bytes::new()))
                        .expect("request");
                    match client.request(request).await {
                        Ok(response) if response.status() == StatusCode::OK => {
                            let _ = response.into_body().collect().await;
                            answered += 1;
                        }
                        _ => break,
                    }
                }
                answered
            })
        })
        .collect()
}

/// The total the clients of [`until_refused`] had answered.
pub async fn answered(workers: Vec<JoinHandle<i64>>) -> i64 {
    let mut answered = 0;
    for worker in workers {
        answered += worker.await.expect("worker");
    }
    answered
}

/// Queries the upstream received that have no allow record of `token_id`.
pub async fn unaudited(store: &Store, token_id: &str, received: &Received) -> Vec<String> {
    let (records, _) = store
        .query_audit(&AuditFilter {
            token_id: Some(token_id.to_owned()),
            decision: Some("allow".into()),
            max_results: u64::MAX,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    let audited: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r.url.split_once('?').map(|(_, q)| q.to_owned()))
        .collect();
    let received = received.lock().expect("received");
    received.difference(&audited).cloned().collect()
}
