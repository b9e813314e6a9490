//! The listener: HTTP/1 and HTTP/2 (optionally over TLS), bounded header reads, and
//! graceful shutdown that lets in-flight requests finish and flushes the audit log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::config::limits::{MAX_HEADER_BYTES, SHUTDOWN_GRACE};
use crate::gateway::App;
use crate::response::BoxError;

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
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
    builder
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, gives
/// in-flight requests [`SHUTDOWN_GRACE`] to finish and flushes the audit log.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let tls = app.config().tls.as_ref().map(tls_acceptor).transpose()?;
    let header_timeout = app.config().header_timeout;
    let builder = connection_builder(header_timeout);
    let graceful = GracefulShutdown::new();
    let refresher = {
        let app = app.clone();
        tokio::spawn(async move { app.watch_tokens().await })
    };
    tokio::pin!(shutdown);
    loop {
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
        let deadline = tokio::time::Instant::now() + header_timeout;
        let first_request = Arc::new(Notify::new());
        let app = app.clone();
        let service = {
            let first_request = Arc::clone(&first_request);
            service_fn(move |request| {
                first_request.notify_one();
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
            })
        };
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = watcher.watch(connection.into_owned());
                    with_first_request_by(deadline, &first_request, connection).await
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
                    with_first_request_by(deadline, &first_request, connection).await
                }
            };
            match served {
                Some(Ok(())) => {}
                Some(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "connection ended with an error");
                }
                None => tracing::debug!(%peer, "no request before the header timeout; closed"),
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
    tracing::info!("audit log flushed; stopped");
    Ok(())
}

/// Runs `connection`, but drops it (closing the socket) if no request has started
/// by `deadline`. hyper's HTTP/1 header timeout only starts once the protocol is
/// known, which takes the first bytes (24 of them for a client inside the HTTP/2
/// preface): without this a client that sends nothing holds its connection for ever.
async fn with_first_request_by(
    deadline: tokio::time::Instant,
    first_request: &Notify,
    connection: impl Future<Output = Result<(), BoxError>>,
) -> Option<Result<(), BoxError>> {
    tokio::pin!(connection);
    tokio::select! {
        served = &mut connection => return Some(served),
        started = tokio::time::timeout_at(deadline, first_request.notified()) => {
            if started.is_err() {
                return None;
            }
        }
    }
    Some(connection.await)
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
