//! `tokengate serve`: validates the settings, loads the policy component and serves
//! until Ctrl-C or SIGTERM.

use anyhow::{Context as _, Result};

use crate::config::file::Origins;
use crate::config::{ServeArgs, env};

/// Runs the gateway.
pub(super) async fn run(args: ServeArgs, origins: &Origins) -> Result<()> {
    let config = args.into_config().map_err(|err| origins.locate(err))?;
    let listen = config.listen;
    tracing::info!(
        listen = %listen,
        upstream = %format!("{}://{}{}", config.upstream.scheme, config.upstream.authority, config.upstream.prefix),
        public_base = %config.public_base,
        auth_mode = ?config.auth_mode,
        scope = ?config.scope,
        "starting"
    );
    let app = crate::gateway::app(config)
        .await
        .context("starting the gateway")?;
    tracing::info!(component = app.policy().digest(), "policy component loaded");
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("{} (--listen): cannot listen on {listen}", env::LISTEN))?;
    // The bound address, which differs from `listen` when its port is 0.
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "listening");
    crate::server::serve(app, listener, shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
