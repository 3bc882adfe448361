//! Running the hub: open the store, build the engine and the HTTP app, serve until shutdown,
//! then drain — HTTP first (no new work), then the engine and store (pending appends flushed).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use domain::user::{Endpoint, UserKind};
use engine::{ChannelSettings, ChannelSigner, Hub};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::config::{BuiltinAt, BuiltinBot, Config};
use crate::keys::{self, KeyError};

/// The database used when neither the command line nor the configuration names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchboard.db";
/// The address used when neither the command line nor the configuration names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The name of the file an admin token the hub made up is written to, readable only by the
/// hub's user (see [`admin_token_file`]).
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the store at {url}: {source}")]
    Store { url: String, source: store::StoreError },
    #[error("channel signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("cannot start the built-in bot at {endpoint}: {source}")]
    DemoBot { endpoint: String, source: std::io::Error },
    #[error(
        "cannot write the generated admin token to {path}: {source}; set server.admin_token or SWITCHBOARD_ADMIN_TOKEN"
    )]
    AdminToken { path: String, source: std::io::Error },
    #[error("cannot listen for SIP calls on {address} (udp): {source}")]
    Sip { address: String, source: std::io::Error },
    #[error("HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "another hub{holder} is already serving the SQLite database {}; a SQLite database serves one hub \
         at a time: stop that one first (docs/reliability.md, \"One hub per database\")",
        path.display()
    )]
    AnotherNode { path: PathBuf, holder: String },
    #[error("cannot lock the SQLite database {} for this hub: {source}", path.display())]
    NodeLock { path: PathBuf, source: std::io::Error },
}

/// For a SQLite database, an exclusive lock on `<file>.node-lock` next to it, so that a second
/// hub on the same file is refused at start rather than corrupting shared state it keeps in
/// memory. The lock file holds the holder's process id for the message. `None` for PostgreSQL,
/// which serves several hubs.
fn single_node_lock(database_url: &str) -> Result<Option<std::fs::File>, ServerError> {
    use std::io::{Read, Seek, Write};
    let Some(file) = store::sqlite_file(database_url) else {
        return Ok(None);
    };
    let mut name = file.clone().into_os_string();
    name.push(".node-lock");
    let path = PathBuf::from(name);
    let failed = |source| ServerError::NodeLock {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut lock = options.open(&path).map_err(failed)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            let holder = match pid.trim() {
                "" => String::new(),
                pid => format!(" (process {pid})"),
            };
            return Err(ServerError::AnotherNode { path: file, holder });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
    }
    lock.set_len(0).map_err(failed)?;
    lock.rewind().map_err(failed)?;
    write!(lock, "{}", std::process::id()).map_err(failed)?;
    Ok(Some(lock))
}

/// Serves the hub on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    database_url: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // Held until the hub stops (or dies: the kernel releases it with the process).
    let _node_lock = single_node_lock(database_url)?;
    let store = store::open(database_url).await.map_err(|source| ServerError::Store {
        url: redact(database_url),
        source,
    })?;
    let public_url = public_url(&config, &listener)?;
    let admin_token = admin_token(&config, &admin_token_file(database_url))?;
    warn_of_anonymous_bots(&config);
    let mut config = config;
    config.serve_builtin_bots_at(listener.local_addr()?);
    let drain_for = config.server.drain.unwrap_or(match store.backend() {
        store::Backend::Postgres => DEFAULT_DRAIN,
        store::Backend::Sqlite => Duration::ZERO,
    });
    let builtin = config.builtin_bots.clone();
    let built = build(config, store, public_url.clone(), admin_token)?;
    let hub = built.hub.clone();
    let stop_voice = tokio_util::sync::CancellationToken::new();
    let voice = match built.voice.clone() {
        Some((voice, sip)) => Some(start_voice(voice, sip, stop_voice.clone()).await?),
        None => None,
    };

    // The demo bot stops last: the hub's own shutdown may still deliver to it.
    let (stop_demo, demo_stopped) = tokio::sync::watch::channel(false);
    let mut demo_bots = Vec::new();
    let mut router = built.router;
    for (kind, at) in builtin {
        match at {
            BuiltinAt::Own(endpoint) => {
                demo_bots.push(start_builtin_bot(kind, &endpoint, demo_stopped.clone()).await?);
            }
            BuiltinAt::Hub { path, .. } => {
                let bot = builtin_router(kind, &path, hub.store().cluster())
                    .await
                    .map_err(|source| ServerError::DemoBot {
                        endpoint: path.clone(),
                        source,
                    })?;
                tracing::info!(path = %path, bot = kind.as_str(), "built-in bot served on the hub's listener");
                router = router.merge(bot);
            }
        }
    }
    let reload = built
        .keys_dir
        .clone()
        .zip(hub.channel().signer.clone())
        .map(|(dir, signer)| {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(keys::RELOAD_INTERVAL).await;
                    reload_keys(&dir, &signer);
                }
            })
        });
    tracing::info!(
        public_url = %public_url,
        listen = %listener.local_addr()?,
        tenant = %hub.tenant().name(),
        store.backend = hub.store().backend().as_str(),
        "switchboard is serving"
    );
    // Small request/response exchanges (a message, its echo) must not wait for Nagle's timer.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(drain(hub.clone(), shutdown, drain_for))
    .await;
    tracing::info!("HTTP server stopped; closing the engine and store");
    stop_voice.cancel();
    if let Some(voice) = voice {
        let _ = voice.await;
    }
    if let Some(reload) = reload {
        reload.abort();
        let _ = reload.await;
    }
    hub.shutdown().await;
    let _ = stop_demo.send(true);
    for demo in demo_bots {
        let _ = demo.await;
    }
    served?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// How long a node of a cluster drains on SIGTERM unless `[server] drain` says otherwise: the
/// balancer's health check (every second, two failures in deploy/haproxy.cfg) takes it out well
/// within this.
const DEFAULT_DRAIN: Duration = Duration::from_secs(5);

/// Completes when the HTTP server should stop: after `shutdown`, the hub drains (`/readyz`
/// 503, the sweep handed over) for `drain_for` while still serving, then closes its sockets
/// with a code clients reconnect on.
async fn drain(hub: Arc<Hub>, shutdown: impl Future<Output = ()>, drain_for: Duration) {
    shutdown.await;
    hub.drain().await;
    if !drain_for.is_zero() {
        tracing::info!(drain_for = ?drain_for, "draining: /readyz answers 503 while requests are still served");
        tokio::time::sleep(drain_for).await;
    }
    tracing::info!("closing sockets; clients reconnect to other nodes");
    hub.close_sockets();
}

/// One warning per bot configured without an app id: anyone on the networks it is accepted
/// from who knows a conversation id can post, edit and escalate as that bot.
fn warn_of_anonymous_bots(config: &Config) {
    let networks = http::client::Networks(config.security.anonymous_bot_networks.clone());
    let anonymous = config
        .tenant
        .users()
        .filter(|u| matches!(&u.kind, UserKind::Bot(profile) if profile.is_anonymous()));
    for bot in anonymous {
        if networks.is_empty() {
            tracing::warn!(
                bot = %bot.name,
                "bot `{}` has no app id, and [security] anonymous_bot_networks is empty: every Connector call it makes will be refused; give it an app id (docs/bots.md)",
                bot.name
            );
        } else {
            tracing::warn!(
                bot = %bot.name,
                networks = %networks,
                "bot `{}` has no app id: its Connector calls are accepted without credentials from {networks} ([security] anonymous_bot_networks); outside development, give it an app id (docs/bots.md)",
                bot.name
            );
        }
    }
}

/// A built-in bot as `POST path`, for the hub's own router. In a cluster each node serves its
/// own copy, and their memory is kept in the database.
async fn builtin_router(
    kind: BuiltinBot,
    path: &str,
    cluster: Option<Arc<store::Cluster>>,
) -> std::io::Result<axum::Router> {
    match kind {
        BuiltinBot::Demo => crate::demo_bot::router(path, cluster),
        BuiltinBot::Survey => crate::survey_bot::router(path, cluster),
        BuiltinBot::Knowledge => crate::knowledge_bot::router(path, cluster).await,
    }
}

/// Binds a built-in bot to the address of its configured endpoint and serves it until `stop`.
async fn start_builtin_bot(
    kind: BuiltinBot,
    endpoint: &Endpoint,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    let failed = |source| ServerError::DemoBot {
        endpoint: endpoint.to_string(),
        source,
    };
    let url = endpoint.url();
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let listener = TcpListener::bind((host.as_str(), port)).await.map_err(failed)?;
    tracing::info!(endpoint = %endpoint, bot = kind.as_str(), "built-in bot listening");
    Ok(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let served = match kind {
            BuiltinBot::Demo => crate::demo_bot::serve(listener, stopped).await,
            BuiltinBot::Survey => crate::survey_bot::serve(listener, stopped).await,
            BuiltinBot::Knowledge => crate::knowledge_bot::serve(listener, stopped).await,
        };
        if let Err(e) = served {
            tracing::error!(error = %e, bot = kind.as_str(), "built-in bot stopped");
        }
    }))
}

/// Rereads the key directory and, if the keys or the signing key changed, swaps them in.
fn reload_keys(dir: &Path, signer: &ChannelSigner) {
    match keys::load(dir, OffsetDateTime::now_utc()) {
        Ok(ring) => {
            let before = signer.key_ring();
            if before.published_kids() != ring.published_kids() {
                tracing::info!(signing = ring.current().kid(), published = ?ring.published_kids(), "channel signing keys changed");
                signer.replace(ring);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot reload the channel signing keys; keeping the current ones"),
    }
}

/// The hub, its HTTP application, and where its signing keys live (when it signs).
#[derive(Debug)]
pub struct Built {
    pub hub: Arc<Hub>,
    pub router: axum::Router,
    pub keys_dir: Option<PathBuf>,
    /// The voice channel and its SIP address, when the configuration has `[voice]`; calls from
    /// browsers are taken by the router, SIP starts with [`run`].
    pub voice: Option<(Arc<voice::calls::Voice>, std::net::SocketAddr)>,
}

/// The hub and its HTTP application over `store`, with `public_url` as the base URL bots call
/// back (the Bot Framework `serviceUrl`) and `admin_token` guarding `/api/v1`. When a bot has an
/// app id, the channel signing keys are loaded (made, on a first start) from the configured
/// directory.
pub fn build(
    config: Config,
    store: Arc<dyn store::Store>,
    public_url: String,
    admin_token: Arc<str>,
) -> Result<Built, ServerError> {
    let signed = config
        .tenant
        .users()
        .any(|u| matches!(&u.kind, UserKind::Bot(profile) if !profile.is_anonymous()));
    let (signer, keys_dir) = if signed {
        let dir = PathBuf::from(config.channel.signing_keys.as_deref().unwrap_or(keys::DEFAULT_DIR));
        let ring = keys::load_or_create(&dir, OffsetDateTime::now_utc())?;
        let issuer = config
            .channel
            .issuer
            .clone()
            .unwrap_or_else(|| format!("{}/botframework", public_url.trim_end_matches('/')));
        let lifetime = config.channel.token_lifetime.unwrap_or(Duration::from_secs(3600));
        (Some(Arc::new(ChannelSigner::new(issuer, ring, lifetime))), Some(dir))
    } else {
        (None, None)
    };
    let channel = ChannelSettings {
        service_url: public_url,
        signer,
        bot_tokens: config.bot_tokens,
        default_locale: config.locale,
        queue_position_every: config
            .channel
            .queue_position_every
            .unwrap_or(ChannelSettings::default().queue_position_every),
        timeout: config.channel.bot_timeout.unwrap_or(ChannelSettings::default().timeout),
        voice_name: config
            .voice
            .as_ref()
            .map_or_else(|| ChannelSettings::default().voice_name, |v| v.espeak_voice.clone()),
        ..ChannelSettings::default()
    };
    let hub = Arc::new(
        Hub::with_channel(config.tenant, store, channel)
            .with_people(config.people)
            .with_sign_in_limits(engine::SignInLimits {
                account_failures: config.limits.sign_in_account_failures,
                address_failures: config.limits.sign_in_address_failures,
                max_delay: config.limits.sign_in_max_delay,
                checks_at_once: config.limits.password_checks_at_once,
            })
            .with_metering(config.metering),
    );
    hub.start_timers();
    let voice = config.voice.map(|v| (voice_channel(&v, hub.clone()), v.sip));
    let router = http::router(http::AppState {
        hub: hub.clone(),
        metrics: http::prometheus_handle(),
        admin_token,
        directline: http::directline::DirectLine {
            channels: Arc::new(config.directline),
            rate: config.limits.customer_activities_per_second.map(|per_second| {
                Arc::new(http::directline::CustomerRate::new(
                    per_second,
                    config.limits.customer_activity_burst,
                ))
            }),
        },
        voice: voice.as_ref().map(|(v, _)| v.clone()),
        security: Arc::new(security(&config.limits, config.security)),
    });
    Ok(Built {
        hub,
        router,
        keys_dir,
        voice,
    })
}

/// The public surfaces' network rules and per-address limits, from `[security]` and `[limits]`.
fn security(limits: &crate::config::Limits, settings: crate::config::SecuritySettings) -> http::client::Security {
    use http::client::{ClientRate, Networks};
    http::client::Security {
        trusted_proxies: Networks(settings.trusted_proxies),
        anonymous_bot_networks: Networks(settings.anonymous_bot_networks),
        embed_origins: settings.embed_origins,
        public_starts: limits.token_requests_per_minute.map(|per_minute| {
            ClientRate::new(
                "token requests and conversation starts",
                per_minute,
                limits.token_request_burst,
            )
        }),
        secret_starts: limits.secret_requests_per_minute.map(|per_minute| {
            ClientRate::new(
                "token requests and conversation starts with the secret",
                per_minute,
                limits.secret_request_burst,
            )
        }),
    }
}

/// The voice channel over `hub`, with pocketsphinx and espeak-ng as configured. The engines
/// are checked in the background; a missing one is logged (calls are then refused with the
/// reason).
fn voice_channel(config: &crate::config::VoiceConfig, hub: Arc<Hub>) -> Arc<voice::calls::Voice> {
    let stt = Arc::new(speech::Pocketsphinx::new(speech::PocketsphinxSettings {
        python: config.python.clone(),
        ..Default::default()
    }));
    let tts = Arc::new(speech::EspeakNg {
        program: config.espeak.clone(),
        voice: config.espeak_voice.clone(),
        ..Default::default()
    });
    Arc::new(voice::calls::Voice {
        hub,
        settings: config.settings.clone(),
        stt,
        tts,
        live: Default::default(),
    })
}

/// Starts taking SIP calls on `sip`, and checks the speech engines in the background (a
/// missing one is logged; calls are refused with 503 and the reason until it is installed).
async fn start_voice(
    voice: Arc<voice::calls::Voice>,
    sip: std::net::SocketAddr,
    stop: tokio_util::sync::CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    let socket = tokio::net::UdpSocket::bind(sip)
        .await
        .map_err(|source| ServerError::Sip {
            address: sip.to_string(),
            source,
        })?;
    let checking = voice.clone();
    tokio::spawn(async move {
        match checking.check_speech().await {
            Ok(()) => tracing::info!("speech engines ready (pocketsphinx, espeak-ng)"),
            Err(e) => {
                tracing::warn!(error = %e, "the voice channel's speech engines are not available; calls will be refused until they are installed (docs/voice.md)")
            }
        }
    });
    Ok(tokio::spawn(voice::calls::serve(voice, socket, stop)))
}

/// The configured public URL, or `http://` + the address actually listened on.
fn public_url(config: &Config, listener: &TcpListener) -> Result<String, ServerError> {
    Ok(match &config.server.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    })
}

/// The admin API token: `SWITCHBOARD_ADMIN_TOKEN`, else the configuration's
/// `server.admin_token`, else a random one, valid until restart. A made-up token is written to
/// `file` (readable only by the hub's user) and only the file's path is logged: logs travel
/// further than the data directory.
fn admin_token(config: &Config, file: &Path) -> Result<Arc<str>, ServerError> {
    if let Ok(token) = std::env::var("SWITCHBOARD_ADMIN_TOKEN")
        && !token.is_empty()
    {
        return Ok(token.into());
    }
    if let Some(token) = &config.server.admin_token {
        return Ok(token.as_str().into());
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    write_secret(file, &token).map_err(|source| ServerError::AdminToken {
        path: file.display().to_string(),
        source,
    })?;
    tracing::warn!(
        admin_token.file = %file.display(),
        "no admin token configured (server.admin_token or SWITCHBOARD_ADMIN_TOKEN); made one for /api/v1 until restart and wrote it to the file, readable only by this user"
    );
    Ok(token.into())
}

/// Where a made-up admin token is written: beside the SQLite database (`data/admin-token` with
/// the default `sqlite://data/switchboard.db`), or in `data/` under the working directory when
/// the database is PostgreSQL or in memory.
pub fn admin_token_file(database_url: &str) -> PathBuf {
    let dir = store::sqlite_file(database_url)
        .and_then(|file| file.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("data"));
    dir.join(ADMIN_TOKEN_FILE)
}

/// Writes `secret` to `path` so that only this user can read it: into a new file created with
/// mode 0600 beside it (never a file that existed, whose mode could be anything), then renamed
/// over `path`.
fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(format!(".{}.new", uuid::Uuid::new_v4().simple()));
    let fresh = PathBuf::from(fresh);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&fresh).and_then(|mut file| {
        file.write_all(secret.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&fresh, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&fresh);
            Err(e)
        }
    }
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
    use super::*;

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

    #[test]
    fn a_made_up_admin_token_is_kept_beside_the_sqlite_database_or_in_data() {
        assert_eq!(admin_token_file(DEFAULT_DATABASE_URL), Path::new("data/admin-token"));
        assert_eq!(
            admin_token_file("sqlite:///var/lib/switchboard/hub.db"),
            Path::new("/var/lib/switchboard/admin-token")
        );
        assert_eq!(admin_token_file("sqlite:hub.db"), Path::new("admin-token"));
        assert_eq!(admin_token_file("sqlite::memory:"), Path::new("data/admin-token"));
        assert_eq!(
            admin_token_file("postgres://hub:secret@db/hub"),
            Path::new("data/admin-token")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_is_readable_only_by_its_owner_even_when_it_was_not_before() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("switchboard-secret-{}", std::process::id()));
        let path = dir.join("data/admin-token");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret(&path, "s3cret").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s3cret");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no leftovers"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
