//! The listener: HTTP/1 and HTTP/2 (optionally over TLS), bounded header reads, a
//! bounded number of connections, the audit sink beside it, and graceful shutdown that
//! lets in-flight requests finish, flushes the audit log and sends it to the sink.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::config::limits::{MAX_HEADER_BYTES, MAX_HEADERS, SHUTDOWN_GRACE};
use crate::gateway::App;
use crate::response::{Body, BoxError};

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key could not be used.
    #[error("TOKENGATE_TLS_CERT/TOKENGATE_TLS_KEY (--tls-cert/--tls-key): {0}")]
    Tls(String),
    /// The serving task panicked or was cancelled.
    #[error("the server task failed: {0}")]
    Task(String),
}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServeError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| ServeError::Tls(format!("{}: {err}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|err| ServeError::Tls(format!("{}: {err}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|err| ServeError::Tls(err.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn connection_builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
    builder
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, gives
/// in-flight requests [`SHUTDOWN_GRACE`] to finish and flushes the audit log.
///
/// At most `max_connections` client connections are served at once. Beyond that no
/// connection is accepted until one ends: new clients wait in the kernel's listen
/// backlog (their connect succeeds, their request waits) instead of being refused,
/// and idle or slow connections make room within the header timeout (see [`watched`]).
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let tls = app.config().tls.as_ref().map(tls_acceptor).transpose()?;
    let header_timeout = app.config().header_timeout;
    let builder = connection_builder(header_timeout);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(app.config().max_connections));
    let refresher = {
        let app = app.clone();
        tokio::spawn(async move { app.watch_tokens().await })
    };
    let sink = crate::audit_sink::Streaming::start(&app);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connected = tokio::time::Instant::now();
        let deadline = connected + header_timeout;
        let activity = Arc::new(Activity::new(connected));
        let app = app.clone();
        let service = {
            let activity = Arc::clone(&activity);
            service_fn(move |request| {
                let busy = Busy::start(&activity);
                let app = app.clone();
                async move {
                    let response = app.handle(request, peer).await;
                    Ok::<_, Infallible>(response.map(|body| busy.until_sent(body)))
                }
            })
        };
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let served = match tls {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = watcher.watch(connection.into_owned());
                    watched(connection, &activity, header_timeout).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(err)) => {
                                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = watcher.watch(connection.into_owned());
                    watched(connection, &activity, header_timeout).await
                }
            };
            match served {
                Some(Ok(())) => {}
                Some(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "connection ended with an error");
                }
                None => tracing::debug!(%peer, "idle for the header timeout; closed"),
            }
        });
    }
    drop(listener);
    refresher.abort();
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time");
    }
    app.shutdown().await;
    if let Some(sink) = sink {
        sink.stop().await;
    }
    tracing::info!("audit log flushed; stopped");
    Ok(())
}

/// The requests of one connection whose responses are not yet sent (bodies included),
/// and when it last became idle. Plain atomics: the watcher looks at them when its timer
/// fires, so a request costs no wake-up of the connection's task.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds from `connected` to when the last request in flight ended.
    idle_since_ms: AtomicU64,
    connected: tokio::time::Instant,
}

impl Activity {
    fn new(connected: tokio::time::Instant) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            connected,
        }
    }

    /// When the connection became idle, if it is.
    fn idle_since(&self) -> Option<tokio::time::Instant> {
        (self.in_flight.load(Ordering::SeqCst) == 0).then(|| {
            self.connected + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst))
        })
    }
}

/// One request in flight on its connection, until its response body is sent or
/// dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(activity))
    }

    /// `body`, holding the request in flight until it is sent or dropped.
    fn until_sent(self, body: Body) -> Body {
        body.map_frame(move |frame| {
            let _in_flight = &self;
            frame
        })
        .boxed_unsync()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        let since = activity.connected.elapsed().as_millis();
        activity
            .idle_since_ms
            .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::SeqCst);
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `connection`, but drops it (closing the socket) once it has had no request
/// in flight for `idle_timeout`, counting from `connected`. hyper's HTTP/1 header
/// timeout only starts once the protocol is known, which takes the first bytes (24
/// of them for a client inside the HTTP/2 preface), and HTTP/2 has no idle timeout
/// at all: without this a client that sends nothing, or an HTTP/2 client done with
/// its requests, holds its connection (and its slot) for ever.
async fn watched(
    connection: impl Future<Output = Result<(), BoxError>>,
    activity: &Activity,
    idle_timeout: Duration,
) -> Option<Result<(), BoxError>> {
    tokio::pin!(connection);
    let mut check_at = activity.connected + idle_timeout;
    loop {
        tokio::select! {
            served = &mut connection => return Some(served),
            () = tokio::time::sleep_until(check_at) => {
                match activity.idle_since() {
                    Some(since) if since + idle_timeout <= tokio::time::Instant::now() => {
                        return None;
                    }
                    Some(since) => check_at = since + idle_timeout,
                    // Busy: look again a timeout from now at the latest.
                    None => check_at = tokio::time::Instant::now() + idle_timeout,
                }
            }
        }
    }
}

/// A gateway serving in the background (tests and the demo).
#[derive(Debug)]
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Binds `addr` (port 0 for any) and serves `app` on it.
    pub async fn start(app: App, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(app, listener, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Shuts down gracefully and waits for it.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(err) => Err(ServeError::Task(err.to_string())),
        }
    }
}
