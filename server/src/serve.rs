//! Running the server: plain HTTP or TLS, graceful shutdown, background upkeep.

use crate::http;
use crate::room::RoomHub;
use crate::room::cluster::{Cluster, ClusterError};
use crate::sfu::Sfu;
use lectern_core::config::Config;
use lectern_core::store::StoreError;
use lectern_core::{AppState, accounts, now_ms};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often expired sessions are deleted.
const SESSION_SWEEP_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot load the TLS certificate {cert} or key {key}: {source}")]
    Tls { cert: PathBuf, key: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("cannot open the SFU's UDP sockets (media.bind_ip, media.udp_port): {0}")]
    Media(std::io::Error),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Open the database and serve until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let state = AppState::open(config).await?;
    let listener = TcpListener::bind(state.config.server.bind)
        .await
        .map_err(|source| ServeError::Bind { addr: state.config.server.bind, source })?;
    serve_on(listener, state, shutdown_signal()).await
}

/// Serve on a bound listener until `shutdown` completes, then give in-flight requests the
/// configured grace period.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let config = state.config.clone();
    let addr = listener.local_addr()?;
    let sweeper = tokio::spawn(sweep_sessions(state.clone()));
    let sfu = if config.media.enabled {
        Some(Arc::new(Sfu::start(&config.media).map_err(ServeError::Media)?))
    } else {
        tracing::info!("audio and video are off (media.enabled = false)");
        None
    };
    if config.cluster.redis_url.is_none() {
        // One node: a deck still marked rendering was being rendered by this server before it
        // stopped, and nothing will finish it. (With several nodes another may be rendering it.)
        let reason = "The server restarted while these slides were being prepared. Please upload the PDF again.";
        match state.store.fail_unfinished_decks(reason).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(decks = n, "slide decks left unfinished by the last run were marked failed"),
            Err(err) => tracing::warn!(%err, "cannot check for unfinished slide decks"),
        }
    }
    let rooms = if config.cluster.redis_url.is_some() {
        let cluster = Cluster::connect(&config.cluster).await?;
        tracing::info!(node = cluster.node(), "live rooms are shared with other nodes through Redis");
        RoomHub::clustered(state.clone(), cluster, sfu)
    } else {
        RoomHub::local_with_media(state.clone(), sfu)
    };
    let app = http::router_with_rooms(state.clone(), rooms).into_make_service_with_connect_info::<SocketAddr>();
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);

    let result = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => {
            // Both rustls backends are linked (sqlx brings ring); pick one explicitly.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|source| ServeError::Tls { cert: cert.clone(), key: key.clone(), source })?;
            tracing::info!("Lectern is listening on https://{addr}");
            let handle = axum_server::Handle::new();
            tokio::spawn({
                let handle = handle.clone();
                async move {
                    shutdown.await;
                    handle.graceful_shutdown(Some(grace));
                }
            });
            axum_server::from_tcp_rustls(listener.into_std()?, tls)
                .handle(handle)
                .serve(app)
                .await
                .map_err(ServeError::from)
        }
        _ => {
            tracing::info!("Lectern is listening on http://{addr}");
            let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
            let graceful = axum::serve(listener, app).with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stopping_tx.send(());
            });
            // Bound the wait for in-flight requests once shutdown has begun.
            tokio::select! {
                result = graceful => result.map_err(ServeError::from),
                () = async { let _ = stopping_rx.await; tokio::time::sleep(grace).await } => {
                    tracing::warn!("requests still running after {grace:?}; stopping anyway");
                    Ok(())
                }
            }
        }
    };
    sweeper.abort();
    state.store.close().await;
    tracing::info!("Lectern stopped");
    result
}

async fn sweep_sessions(state: AppState) {
    let mut tick = tokio::time::interval(SESSION_SWEEP_EVERY);
    loop {
        tick.tick().await;
        match accounts::sweep_sessions(&state, now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "deleted expired sessions"),
            Err(err) => tracing::warn!(error = %err, "could not delete expired sessions"),
        }
    }
}

/// Completes on SIGTERM (service managers) or Ctrl-C (a terminal).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
