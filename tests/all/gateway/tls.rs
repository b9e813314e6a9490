//! TLS on both sides, with certificates made in the test (rcgen, ring): the listener
//! terminates TLS with the configured certificate and key, and an https upstream is
//! trusted through the configured CA file only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokengate::config::TlsFiles;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{Harness, Reply, basic, raw};

const HEADER_TIMEOUT: Duration = Duration::from_millis(800);

/// The names every test certificate is valid for.
fn local_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

/// Writes `pem` to `dir/name`; returns the path.
fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("write PEM");
    path
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration that trusts only the certificates in `ca_pem`.
fn trusting(ca_pem: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).expect("CA file") {
        roots.add(cert.expect("CA certificate")).expect("CA added");
    }
    rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// An HTTPS client that trusts only the certificates in `ca_pem`.
fn client_trusting(
    ca_pem: &Path,
    http2: bool,
) -> Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(trusting(ca_pem))
        .https_only();
    let connector = if http2 {
        builder.enable_http2().build()
    } else {
        builder.enable_http1().build()
    };
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The last audit record once forwarding has completed it (latency filled in).
async fn completed_audit(h: &Harness) -> tokengate::audit::AuditRow {
    for _ in 0..100 {
        let record = h.last_audit().await;
        if record.latency_ms.is_some() {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the audit record was not completed: {:?}",
        h.last_audit().await
    );
}

async fn read(response: http::Response<hyper::body::Incoming>) -> (Version, Reply) {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        parts.version,
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        },
    )
}

#[tokio::test]
async fn the_listener_serves_https_with_the_configured_certificate_and_refuses_plain_http() {
    let certs = tempfile::tempdir().expect("dir");
    let self_signed = rcgen::generate_simple_self_signed(local_names()).expect("certificate");
    let cert = write(certs.path(), "cert.pem", &self_signed.cert.pem());
    let key = write(
        certs.path(),
        "key.pem",
        &self_signed.signing_key.serialize_pem(),
    );
    let h = Harness::start(|c| {
        c.tls = Some(TlsFiles {
            cert: cert.clone(),
            key,
        });
        c.header_timeout = HEADER_TIMEOUT;
    })
    .await;
    let token = h.user_token("alice", ".*/rest/api/space").await;

    // HTTP/1.1 and, through ALPN, HTTP/2 (the name checked is the IP address SAN).
    for http2 in [false, true] {
        let client = client_trusting(&cert, http2);
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!(
                "https://127.0.0.1:{}/rest/api/space",
                h.addr.port()
            ))
            .header("authorization", basic("alice", &token))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = client.request(request).await.expect("an HTTPS answer");
        let (version, reply) = read(response).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let expected = if http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        assert_eq!(version, expected);
        assert_eq!(reply.echoed("x-forwarded-user").as_deref(), Some("alice"));
        assert_eq!(reply.echoed("x-forwarded-proto").as_deref(), Some("https"));
        assert_eq!(reply.echoed("authorization"), None);
    }
    let audited = h.last_audit().await.id;

    // Plain HTTP to the TLS port: no HTTP answer, nothing forwarded or audited.
    let plain = format!(
        "GET /rest/api/space HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("alice", &token)
    );
    let answer = raw(h.addr, plain.as_bytes()).await;
    assert!(!answer.contains("HTTP/"), "{answer:?}");
    assert_eq!(h.last_audit().await.id, audited);

    // A client that does not trust the certificate is refused in the handshake.
    let other = rcgen::generate_simple_self_signed(local_names()).expect("certificate");
    let other = write(certs.path(), "other.pem", &other.cert.pem());
    let request = Request::builder()
        .uri(format!(
            "https://127.0.0.1:{}/rest/api/space",
            h.addr.port()
        ))
        .header("authorization", basic("alice", &token))
        .body(Full::new(Bytes::new()))
        .expect("request");
    assert!(
        client_trusting(&other, false)
            .request(request)
            .await
            .is_err()
    );
    assert_eq!(h.last_audit().await.id, audited);

    // A client that completes the handshake and then sends nothing is closed at the
    // header timeout.
    let connector = tokio_rustls::TlsConnector::from(Arc::new(trusting(&cert)));
    let tcp = TcpStream::connect(h.addr).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut silent = connector.connect(name, tcp).await.expect("handshake");
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut answer)).await;
    let open_for = started.elapsed();
    assert!(
        open_for < HEADER_TIMEOUT + Duration::from_secs(2),
        "a silent TLS client was kept {open_for:?}"
    );
    assert!(answer.is_empty(), "{answer:?}");
    h.stop().await;
}

/// An https upstream whose certificate a test CA signed; it answers with what the
/// gateway sent it. Returns the address and the CA certificate's PEM.
async fn https_upstream(dir: &Path) -> (SocketAddr, PathBuf, JoinHandle<()>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tokengate test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(local_names())
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf certificate");
    let ca_file = write(dir, "upstream-ca.pem", &ca.pem());

    let key = PrivateKeyDer::from_pem_slice(leaf_key.serialize_pem().as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server TLS");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A gateway that does not trust the CA aborts the handshake here.
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(|request: Request<_>| async move {
                    let user = request
                        .headers()
                        .get("x-forwarded-user")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    let body = format!("tls upstream: {} as {user}", request.uri().path());
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        body,
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, ca_file, task)
}

#[tokio::test]
async fn an_https_upstream_is_reached_with_the_configured_ca_and_not_without_it() {
    let certs = tempfile::tempdir().expect("dir");
    let (upstream, ca_file, task) = https_upstream(certs.path()).await;
    let https = |c: &mut tokengate::config::Config| {
        c.upstream.scheme = http::uri::Scheme::HTTPS;
    };

    let trusting = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |c| {
        https(c);
        c.upstream_ca = Some(ca_file.clone());
    })
    .await;
    let token = trusting.user_token("alice", "").await;
    let reply = trusting.get("/rest/api/space", "alice", &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), "tls upstream: /rest/api/space as alice");
    assert_eq!(completed_audit(&trusting).await.upstream_status, Some(200));
    trusting.stop().await;

    // The built-in roots do not include the test CA: the handshake fails, 502.
    let system = Harness::start_with_upstream(upstream, tempfile::tempdir().expect("dir"), |c| {
        https(c);
    })
    .await;
    let token = system.user_token("alice", "").await;
    let reply = system.get("/rest/api/space", "alice", &token).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text());
    let record = completed_audit(&system).await;
    assert_eq!(record.reason.as_deref(), Some("upstream-connect"));
    assert_eq!(record.upstream_status, None);
    system.stop().await;
    task.abort();
}
