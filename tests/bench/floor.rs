//! The floor the gateway benchmark compares against: a bare hyper reverse proxy on the
//! same stack as tokengate (hyper-util's auto server, the legacy pooled client, a
//! multi-threaded tokio runtime), without authentication, policy or audit.
//!
//! `hyper-floor LISTEN UPSTREAM`, e.g. `hyper-floor 127.0.0.1:9000 127.0.0.1:9001`.

#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

type Body = UnsyncBoxBody<Bytes, hyper::Error>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: hyper-floor LISTEN UPSTREAM";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let upstream: SocketAddr = args.next().ok_or(usage)?.parse()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(listen, upstream))
}

async fn serve(listen: SocketAddr, upstream: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("listening addr={}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut request: Request<Incoming>| {
                let client = client.clone();
                async move {
                    let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
                    let uri = format!("http://{upstream}{path}").parse::<Uri>();
                    let Ok(uri) = uri else {
                        return Ok::<_, Infallible>(status(StatusCode::BAD_REQUEST));
                    };
                    *request.uri_mut() = uri;
                    Ok(match client.request(request).await {
                        Ok(response) => response.map(BodyExt::boxed_unsync),
                        Err(_) => status(StatusCode::BAD_GATEWAY),
                    })
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = code;
    response
}
