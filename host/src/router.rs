//! Where a request goes: the gateway's own endpoints (health, metrics, the proxy-wasm
//! filters' control plane, the web page) or the token pipeline; every answer then leaves
//! through `finish`.

use std::net::IpAddr;
use std::time::Instant;

use http::{Method, Request, Response};

use crate::finish::{self, Ending};
use crate::gateway::{Gateway, HEALTH_PATH, METRICS_PATH};
use crate::response::{Body, full};

/// Answers one request from `peer`.
pub(crate) async fn answer(
    gateway: &Gateway,
    request: Request<Body>,
    peer: IpAddr,
) -> Response<Body> {
    let started = Instant::now();
    let ending = route(gateway, request, peer, started).await;
    finish::finish(gateway, ending, started).await
}

async fn route(
    gateway: &Gateway,
    request: Request<Body>,
    peer: IpAddr,
    started: Instant,
) -> Ending {
    let path = request.uri().path();
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    if request.method() == Method::GET && path == HEALTH_PATH {
        return Ending::Internal {
            response: crate::health::response(gateway).await,
            what: "health",
        };
    }
    if request.method() == Method::GET && path == METRICS_PATH {
        let mut response = Response::new(full(gateway.metrics.render(gateway.store.live_tokens())));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return Ending::Internal {
            response,
            what: "metrics",
        };
    }
    if path.starts_with(crate::filter_api::PREFIX) {
        return crate::filter_api::answer(gateway, request, peer).await;
    }
    if readable && let Some(response) = crate::web::asset(path) {
        return Ending::Internal {
            response,
            what: "web",
        };
    }
    crate::pipeline::run(gateway, request, peer, started).await
}
