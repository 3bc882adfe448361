//! Running the hub: open the store, build the engine and the HTTP app, serve until shutdown,
//! then drain — HTTP first (no new work), then the engine and store (pending appends flushed).

use std::future::Future;
use std::sync::Arc;

use engine::{ChannelSettings, Hub};
use tokio::net::TcpListener;

use crate::config::Config;

/// The database used when neither the command line nor the configuration names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchboard.db";
/// The address used when neither the command line nor the configuration names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the store at {url}: {source}")]
    Store { url: String, source: store::StoreError },
    #[error("HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the hub on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    database_url: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = store::open(database_url).await.map_err(|source| ServerError::Store {
        url: redact(database_url),
        source,
    })?;
    let public_url = public_url(&config, &listener)?;
    let admin_token = admin_token(&config);
    let (hub, app) = build(config, store, public_url.clone(), admin_token);
    tracing::info!(
        public_url = %public_url,
        listen = %listener.local_addr()?,
        tenant = %hub.tenant().name(),
        store.backend = hub.store().backend().as_str(),
        "switchboard is serving"
    );
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    tracing::info!("HTTP server stopped; closing the engine and store");
    hub.shutdown().await;
    served?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// The hub and its HTTP application over `store`, with `public_url` as the base URL bots call
/// back (the Bot Framework `serviceUrl`) and `admin_token` guarding `/api/v1`.
pub fn build(
    config: Config,
    store: Arc<dyn store::Store>,
    public_url: String,
    admin_token: Arc<str>,
) -> (Arc<Hub>, axum::Router) {
    let channel = ChannelSettings {
        service_url: public_url,
        ..ChannelSettings::default()
    };
    let hub = Arc::new(Hub::with_channel(config.tenant, store, channel));
    let app = http::router(http::AppState {
        hub: hub.clone(),
        metrics: http::prometheus_handle(),
        admin_token,
    });
    (hub, app)
}

/// The configured public URL, or `http://` + the address actually listened on.
fn public_url(config: &Config, listener: &TcpListener) -> Result<String, ServerError> {
    Ok(match &config.server.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    })
}

/// The admin API token: `SWITCHBOARD_ADMIN_TOKEN`, else the configuration's
/// `server.admin_token`, else a random one, logged once so the operator can use it.
fn admin_token(config: &Config) -> Arc<str> {
    if let Ok(token) = std::env::var("SWITCHBOARD_ADMIN_TOKEN")
        && !token.is_empty()
    {
        return token.into();
    }
    if let Some(token) = &config.server.admin_token {
        return token.as_str().into();
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    tracing::warn!(admin_token = %token, "no admin token configured (server.admin_token or SWITCHBOARD_ADMIN_TOKEN); using this one for /api/v1 until restart");
    token.into()
}

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        () = term => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

/// A database URL with any password replaced, for logs and messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/hub"),
            "postgres://app:***@db:5432/hub"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite://data/switchboard.db"), "sqlite://data/switchboard.db");
    }
}
