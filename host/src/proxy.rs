//! Forwarding to the one configured upstream: the checked path and query exactly,
//! hop-by-hop headers removed both ways, the client's credential replaced by the
//! identity header, `X-Forwarded-*` set, bodies streamed, redirects relayed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ipnet::IpNet;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::{Config, Secret, Upstream};
use crate::response::{Body, GatewayError};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// Idle upstream connections kept per host.
const POOL_IDLE_PER_HOST: usize = 64;
/// How long an idle upstream connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the upstream client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The CA file could not be read or holds no certificate.
    #[error("TOKENGATE_UPSTREAM_CA (--upstream-ca) {path}: {message}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("upstream TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Why a forwarded exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// No connection (refused, DNS, TLS handshake): 502.
    Connect,
    /// No response headers within the timeout: 504.
    Timeout,
    /// The connection broke or the response was malformed: 502.
    Other,
}

impl UpstreamFailure {
    /// The metrics and audit name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "upstream-connect",
            Self::Timeout => "upstream-timeout",
            Self::Other => "upstream-error",
        }
    }

    /// The response error.
    pub fn error(self) -> GatewayError {
        match self {
            Self::Timeout => GatewayError::GatewayTimeout,
            Self::Connect | Self::Other => GatewayError::BadGateway,
        }
    }
}

/// Who the forwarded request runs as.
#[derive(Debug, Clone, Copy)]
pub enum Identity<'a> {
    /// A token-authenticated user: the client's `Authorization` is replaced.
    User(&'a str),
    /// Passthrough of a request without a token: credentials kept as sent, but the
    /// identity header is still removed so no client can claim a user.
    Anonymous,
}

/// The upstream client and everything forwarding needs.
pub struct Proxy {
    client: Client<HttpsConnector<HttpConnector>, Body>,
    upstream: Upstream,
    timeout: Duration,
    identity_header: HeaderName,
    upstream_authorization: Option<Secret>,
    trusted_proxies: Arc<[IpNet]>,
    listener_scheme: &'static str,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// The pooled client for `config`'s upstream.
    pub fn new(config: &Config) -> Result<Self, ProxyError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match &config.upstream_ca {
            Some(path) => {
                let ca_error = |message: String| ProxyError::Ca {
                    path: path.display().to_string(),
                    message,
                };
                let mut roots = rustls::RootCertStore::empty();
                let certs =
                    CertificateDer::pem_file_iter(path).map_err(|err| ca_error(err.to_string()))?;
                for cert in certs {
                    let cert = cert.map_err(|err| ca_error(err.to_string()))?;
                    roots.add(cert).map_err(|err| ca_error(err.to_string()))?;
                }
                if roots.is_empty() {
                    return Err(ca_error("no certificate found".into()));
                }
                builder.with_tls_config(
                    rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()?
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                )
            }
            None => builder.with_provider_and_webpki_roots(provider)?,
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.upstream_timeout));
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Ok(Self {
            client,
            upstream: config.upstream.clone(),
            timeout: config.upstream_timeout,
            identity_header: config.identity_header.clone(),
            upstream_authorization: config.upstream_authorization.clone(),
            trusted_proxies: config.trusted_proxies.clone().into(),
            listener_scheme: if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
        })
    }

    /// Whether `ip` is a configured trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client address: the peer, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut client = peer;
        let entries: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in entries.iter().rev() {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                // An entry we cannot read ends the chain we can believe.
                Err(_) => break,
            }
        }
        client
    }

    /// Forwards a request to `path_and_query` on the upstream; the response comes
    /// back with hop-by-hop headers removed and its body streamed.
    pub async fn forward(
        &self,
        mut parts: http::request::Parts,
        body: Body,
        path_and_query: &str,
        peer: IpAddr,
        identity: Identity<'_>,
    ) -> Result<Response<Body>, UpstreamFailure> {
        let uri = Uri::builder()
            .scheme(self.upstream.scheme.clone())
            .authority(self.upstream.authority.clone())
            .path_and_query(format!("{}{}", self.upstream.prefix, path_and_query))
            .build()
            .map_err(|_| UpstreamFailure::Other)?;
        let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let trusted = self.is_trusted(peer);
        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        headers.remove(header::HOST);
        headers.remove(&self.identity_header);
        if let Identity::User(user) = identity {
            headers.remove(header::AUTHORIZATION);
            let value =
                HeaderValue::from_bytes(user.as_bytes()).map_err(|_| UpstreamFailure::Other)?;
            headers.insert(self.identity_header.clone(), value);
            if let Some(secret) = &self.upstream_authorization
                && let Ok(value) = HeaderValue::from_str(secret.expose())
            {
                let mut value = value;
                value.set_sensitive(true);
                headers.insert(header::AUTHORIZATION, value);
            }
        }
        set_forwarded(headers, trusted, peer, self.listener_scheme, original_host);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let request = Request::from_parts(parts, body);
        let response = match tokio::time::timeout(self.timeout, self.client.request(request)).await
        {
            Err(_) => return Err(UpstreamFailure::Timeout),
            Ok(Err(err)) if err.is_connect() => return Err(UpstreamFailure::Connect),
            Ok(Err(_)) => return Err(UpstreamFailure::Other),
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            body.map_err(BoxedError::from).boxed_unsync(),
        ))
    }
}

type BoxedError = crate::response::BoxError;

fn set_forwarded(
    headers: &mut HeaderMap,
    trusted: bool,
    peer: IpAddr,
    listener_scheme: &'static str,
    original_host: Option<HeaderValue>,
) {
    let peer_text = peer.to_string();
    let forwarded_for = if trusted {
        let previous: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        if previous.is_empty() {
            peer_text
        } else {
            format!("{}, {peer_text}", previous.join(", "))
        }
    } else {
        peer_text
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if !(trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(listener_scheme));
    }
    if !(trusted && headers.contains_key(&X_FORWARDED_HOST)) {
        headers.remove(&X_FORWARDED_HOST);
        if let Some(host) = original_host {
            headers.insert(X_FORWARDED_HOST, host);
        }
    }
    if !trusted {
        headers.remove(FORWARDED);
    }
}

/// Whether a header only concerns one connection and must not be forwarded.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    *name == header::CONNECTION
        || *name == KEEP_ALIVE
        || *name == header::PROXY_AUTHENTICATE
        || *name == header::PROXY_AUTHORIZATION
        || *name == PROXY_CONNECTION
        || *name == header::TE
        || *name == header::TRAILER
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
}

/// Removes hop-by-hop headers, including every header `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    let hop: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name) || name.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for name in hop {
        headers.remove(name);
    }
}
