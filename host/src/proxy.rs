//! Forwarding to the one configured upstream: the checked path and query exactly,
//! hop-by-hop headers removed both ways, the client's credential replaced by the
//! identity header, twins of the headers the gateway sets dropped, cookies of token
//! requests stripped (unless configured), `X-Forwarded-*` set, bodies streamed (the
//! request's up to a bound), redirects relayed.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ipnet::IpNet;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use tokengate_core::audit::Reason;
use tokengate_core::headers::{COOKIE, SET_COOKIE, is_twin};

use crate::config::{Config, Secret, Upstream};
use crate::response::{Body, BoxError, Refusal};

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
    /// The client's body went beyond the forwarding limit: 413.
    BodyTooLarge,
    /// The client's body could not be read (broken chunked framing, reset): 400.
    BodyUnreadable,
}

impl UpstreamFailure {
    /// The metrics and audit reason.
    pub fn reason(self) -> Reason {
        match self {
            Self::Connect => Reason::UpstreamConnect,
            Self::Timeout => Reason::UpstreamTimeout,
            Self::Other => Reason::UpstreamError,
            Self::BodyTooLarge => Reason::BodyTooLarge,
            Self::BodyUnreadable => Reason::BodyUnreadable,
        }
    }

    /// Whether the upstream is to blame (what the upstream error metric counts).
    pub fn is_upstream(self) -> bool {
        matches!(self, Self::Connect | Self::Timeout | Self::Other)
    }

    /// The answer to the client.
    pub fn refusal(self) -> Refusal {
        match self {
            Self::Timeout => Refusal::GatewayTimeout,
            Self::Connect | Self::Other => Refusal::BadGateway,
            Self::BodyTooLarge => Refusal::PayloadTooLarge,
            Self::BodyUnreadable => {
                Refusal::BadRequest("the request body could not be read".into())
            }
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
    body_limit: u64,
    pass_cookies: bool,
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
            body_limit: config.forward_body_limit,
            pass_cookies: config.pass_cookies,
        })
    }

    /// Whether `ip` is a configured trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client address (see `tokengate_core::client`).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let forwarded: Vec<&[u8]> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        tokengate_core::client::client_ip(peer, &forwarded, &self.trusted_proxies)
    }

    /// Whether the request declares a body longer than the forwarding limit (refused
    /// before anything is sent; a body that only turns out longer while streaming is
    /// cut off there).
    pub fn declares_too_large_body(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .is_some_and(|length| length > self.body_limit)
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
        if self.declares_too_large_body(&parts.headers) {
            return Err(UpstreamFailure::BodyTooLarge);
        }
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
        let identity_header = self.identity_header.as_str();
        let twins: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_twin(name.as_str(), identity_header))
            .cloned()
            .collect();
        for twin in twins {
            headers.remove(twin);
        }
        let strip_cookies = matches!(identity, Identity::User(_)) && !self.pass_cookies;
        if let Identity::User(user) = identity {
            if strip_cookies {
                headers.remove(COOKIE);
            }
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
        let body = ForwardedBody {
            inner: body,
            left: self.body_limit,
        };
        let request = Request::from_parts(parts, body.boxed_unsync());
        let response = match tokio::time::timeout(self.timeout, self.client.request(request)).await
        {
            Err(_) => return Err(UpstreamFailure::Timeout),
            Ok(Err(err)) => {
                return Err(match client_body_error(&err) {
                    Some(ClientBodyError::TooLarge) => UpstreamFailure::BodyTooLarge,
                    Some(ClientBodyError::Unreadable(_)) => UpstreamFailure::BodyUnreadable,
                    None if err.is_connect() => UpstreamFailure::Connect,
                    None => UpstreamFailure::Other,
                });
            }
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        // hyper reads a response by its Transfer-Encoding but leaves a Content-Length
        // sent with it in the headers; relayed, that length would frame a body it does
        // not describe. An intermediary removes it (RFC 9112, section 6.3).
        if parts.headers.contains_key(header::TRANSFER_ENCODING) {
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        strip_hop_by_hop(&mut parts.headers);
        if strip_cookies {
            parts.headers.remove(SET_COOKIE);
        }
        Ok(Response::from_parts(
            parts,
            body.map_err(BoxedError::from).boxed_unsync(),
        ))
    }
}

type BoxedError = crate::response::BoxError;

/// Why the client's body stopped on its way upstream.
#[derive(Debug, thiserror::Error)]
enum ClientBodyError {
    /// It went beyond the forwarding limit.
    #[error("the request body is longer than the forwarding limit")]
    TooLarge,
    /// The client's stream failed.
    #[error("reading the request body: {0}")]
    Unreadable(BoxError),
}

/// The client's body as sent upstream: at most the forwarding limit, its errors
/// marked as the client's so that they are not taken for the upstream's.
struct ForwardedBody {
    inner: Body,
    left: u64,
}

impl hyper::body::Body for ForwardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(err)) => {
                return Poll::Ready(Some(Err(Box::new(ClientBodyError::Unreadable(err)))));
            }
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let length = u64::try_from(data.len()).unwrap_or(u64::MAX);
            if length > self.left {
                return Poll::Ready(Some(Err(Box::new(ClientBodyError::TooLarge))));
            }
            self.left -= length;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client body error somewhere in an upstream exchange's error chain.
fn client_body_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ClientBodyError> {
    let mut cause = Some(err);
    while let Some(error) = cause {
        if let Some(found) = error.downcast_ref::<ClientBodyError>() {
            return Some(found);
        }
        cause = error.source();
    }
    None
}

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
