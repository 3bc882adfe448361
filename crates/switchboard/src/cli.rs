//! The command line: `serve`, `check-config`, `user`, `keys` and `export`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::server::{self, DEFAULT_DATABASE_URL, DEFAULT_LISTEN};
use crate::telemetry::{self, LogFormat};

/// Switchboard — an open-source engagement hub for customer service.
///
/// Bots answer customers first over the Bot Framework protocols; when they cannot finish, they
/// escalate the conversation, with its transcript and context, through ordered routing rules to
/// queues of human agents. One TOML file describes the tenant: bots, agents, queues, workstreams,
/// context variables and rules (see docs/configuration.md).
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log line format (logs go to stderr; filter with RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SWITCHBOARD_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub: HTTP on --listen, with /healthz, /readyz and /metrics.
    ///
    /// Without --config the built-in sample configuration is used (the reference document's
    /// ChatWorkStream with BotQueue, CreditCardQueue and HomeLoanQueue, a demo bot and demo
    /// agents). Without --database-url the hub keeps its data in SQLite at
    /// ./data/switchboard.db. Stops gracefully on SIGINT or SIGTERM.
    ///
    /// Example: switchboard serve --config config/sample.toml --listen 0.0.0.0:8080
    Serve {
        /// Configuration file (TOML). Default: the built-in sample.
        #[arg(long, short, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on [default: the file's server.listen, else 127.0.0.1:8080].
        #[arg(long, short, env = "SWITCHBOARD_LISTEN")]
        listen: Option<String>,
        /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB [default: the file's
        /// server.database_url, else sqlite://data/switchboard.db].
        #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
        database_url: Option<String>,
        /// UDP address for SIP calls, overriding the file's [voice] sip (as --listen overrides
        /// server.listen), so several hubs on one machine share one configuration file.
        #[arg(long, env = "SWITCHBOARD_SIP")]
        sip: Option<std::net::SocketAddr>,
    },
    /// Check a configuration file; print `ok`, or every error as FILE:LINE:COLUMN with how to
    /// fix it, and exit non-zero.
    ///
    /// Example: switchboard check-config config/sample.toml
    CheckConfig {
        /// The configuration file to check.
        file: PathBuf,
    },
    /// Manage people's sign-in: list them, set passwords, make password hashes.
    ///
    /// People (agents, supervisors, admins) are the [[agents]] of the configuration; add one
    /// there (with its queues), then set the password: `echo 's3cret' | switchboard user passwd dave`.
    User {
        /// Configuration file (TOML). Default: the built-in sample.
        #[arg(long, short, env = "SWITCHBOARD_CONFIG", global = true)]
        config: Option<PathBuf>,
        /// Database [default: the file's server.database_url, else sqlite://data/switchboard.db].
        #[arg(long, env = "SWITCHBOARD_DATABASE_URL", global = true)]
        database_url: Option<String>,
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage the keys the hub signs channel tokens with (for bots that have an app id).
    ///
    /// Rotation without downtime: `keys rotate` adds a key; a running hub publishes it within
    /// 30 s and signs with it once it is an hour old. When tokens signed by the old key have
    /// expired (one token lifetime later), `keys retire OLD_KID` unpublishes the old key.
    Keys {
        /// The key directory [default: data/channel-keys].
        #[arg(long, default_value = crate::keys::DEFAULT_DIR, env = "SWITCHBOARD_SIGNING_KEYS")]
        dir: PathBuf,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Report bot-session usage for a month against the tenant's pool (`[metering]`: licences ×
    /// 50 + add-ons × 100), per bot, straight from the database.
    ///
    /// Example: switchboard usage --config hub.toml --month 2026-11
    Usage {
        /// Configuration file (TOML). Default: the built-in sample.
        #[arg(long, short, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
        /// Database [default: the file's server.database_url, else sqlite://data/switchboard.db].
        #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
        database_url: Option<String>,
        /// The month, YYYY-MM [default: this month, UTC].
        #[arg(long)]
        month: Option<String>,
        /// Print the JSON `GET /api/v1/usage` answers instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Export stored conversations (summary, routing trace, transcript, sentiment) as JSON or
    /// CSV, streamed with bounded memory, with a progress bar on a terminal (a progress line
    /// every 10,000 conversations otherwise). Filters as in the transcript search
    /// (docs/transcripts.md); all that are given must hold.
    ///
    /// Example: switchboard export --format csv --from 2026-11-01 --to 2026-11-30 \
    ///          --queue CreditCardQueue --output november.csv
    Export {
        /// Database [default: sqlite://data/switchboard.db].
        #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
        database_url: Option<String>,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
        /// Where to write [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        search: SearchArgs,
    },
}

/// The transcript search filters, as options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SearchArgs {
    /// Created on or after this day (YYYY-MM-DD, UTC) or RFC 3339 instant.
    #[arg(long)]
    pub from: Option<String>,
    /// Created on or before this day (or before this instant).
    #[arg(long)]
    pub to: Option<String>,
    /// The customer's id, name or email contains this.
    #[arg(long)]
    pub customer: Option<String>,
    /// Last routed to this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Owned by this agent at some point.
    #[arg(long)]
    pub agent: Option<String>,
    /// First owned by this bot.
    #[arg(long)]
    pub bot: Option<String>,
    /// resolved_by_bot, resolved_by_agent or abandoned.
    #[arg(long)]
    pub outcome: Option<String>,
    /// open, waiting, active, wrap_up or closed.
    #[arg(long)]
    pub state: Option<String>,
    #[arg(long)]
    pub workstream: Option<String>,
    /// A message's text contains this.
    #[arg(long)]
    pub text: Option<String>,
}

impl From<SearchArgs> for http::transcripts::Search {
    fn from(a: SearchArgs) -> Self {
        Self {
            from: a.from,
            to: a.to,
            customer: a.customer,
            queue: a.queue,
            agent: a.agent,
            bot: a.bot,
            outcome: a.outcome,
            state: a.state,
            workstream: a.workstream,
            text: a.text,
        }
    }
}

/// What `switchboard user` does.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// List the people of the configuration: role, capacity, queues, and whether they can sign
    /// in (a password in the database or a password_hash in the file).
    List,
    /// Set a person's password, read from the first line of standard input, e.g.
    /// `echo 'new secret' | switchboard user passwd alice`. Stored as an argon2id hash in the
    /// database; it works at once, also on a running hub, and ends the person's sessions.
    Passwd {
        /// The person's name, as in the configuration's [[agents]].
        name: String,
    },
    /// Print the argon2id hash of the password on standard input, for a `password_hash` in the
    /// configuration file.
    Hash,
    /// Add a person to the configuration file (an [[agents]] entry, and a member of each
    /// --queue) and set their password from standard input. The file keeps its comments and
    /// layout; it is checked before it is written. A running hub sees the person after a
    /// restart.
    ///
    /// Example: echo 's3cret-pass' | switchboard user add dave --config hub.toml
    ///          --display-name "Dave Kim" --capacity 2 --queue CreditCardQueue
    Add {
        /// The sign-in name (letters, digits, `-`, `_`, `.`).
        name: String,
        /// Shown to customers and colleagues [default: the name].
        #[arg(long)]
        display_name: Option<String>,
        /// agent, supervisor or admin.
        #[arg(long, default_value = "agent")]
        role: String,
        /// Units of work they can hold at once.
        #[arg(long, default_value_t = 2)]
        capacity: u32,
        /// A queue to join; repeat for several.
        #[arg(long = "queue")]
        queues: Vec<String>,
    },
}

/// What `switchboard keys` does.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// List the keys: which one signs, which are only published.
    List,
    /// Add a new signing key (published at once, signing an hour later).
    Rotate,
    /// Stop publishing a key that no longer signs.
    Retire {
        /// The key id, as `keys list` shows it.
        kid: String,
    },
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Keys { dir, action } => keys(&dir, action),
        Command::Usage {
            config,
            database_url,
            month,
            json,
        } => report(usage(config.as_ref(), database_url, month.as_deref(), json)),
        Command::Export {
            database_url,
            format,
            output,
            search,
        } => match crate::export::run(database_url, &format, output.as_deref(), search.into()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::User {
            config,
            database_url,
            action,
        } => report(user(config.as_ref(), database_url, action)),
        Command::Serve {
            config,
            listen,
            database_url,
            sip,
        } => {
            telemetry::init(cli.log_format);
            serve(config, listen, database_url, sip)
        }
    }
}

fn read_config(file: Option<&PathBuf>) -> Result<Config, String> {
    match file {
        None => config::load(config::SAMPLE_NAME, config::SAMPLE).map_err(|e| e.to_string()),
        Some(path) => {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read the configuration: {e}"))?;
            config::load(&name, &text).map_err(|e| e.to_string())
        }
    }
}

fn keys(dir: &std::path::Path, action: KeysAction) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let result = match action {
        KeysAction::List => crate::keys::describe(dir, now)
            .map(|lines| lines.join("\n"))
            .map_err(|e| e.to_string()),
        KeysAction::Rotate => crate::keys::add_key(dir, now)
            .map(|kid| format!("added {kid}; running hubs publish it within 30 s and sign with it an hour from now"))
            .map_err(|e| e.to_string()),
        KeysAction::Retire { kid } => crate::keys::retire(dir, &kid, now).map(|()| format!("retired {kid}")),
    };
    report(result)
}

fn usage(
    config_file: Option<&PathBuf>,
    database_url: Option<String>,
    month: Option<&str>,
    json: bool,
) -> Result<String, String> {
    let config = read_config(config_file)?;
    let month = match month {
        Some(m) => engine::Month::parse(m).map_err(|e| format!("--month: {e}"))?,
        None => engine::Month::of(engine::now()),
    };
    let database_url = database_url
        .or_else(|| config.server.database_url.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let (from, before) = month.range();
    let by_bot = runtime.block_on(async {
        let store = store::open(&database_url).await.map_err(|e| e.to_string())?;
        let found = store
            .bot_sessions(config.tenant.name(), from, before)
            .await
            .map_err(|e| e.to_string());
        store.close().await;
        found
    })?;
    let used = by_bot.iter().map(|(_, n)| n).sum();
    let month_usage = engine::MonthUsage {
        month,
        used,
        by_bot,
        usage: config.metering.map(|p| domain::metering::Usage {
            used,
            entitled: p.entitlement.sessions(),
        }),
    };
    if json {
        return Ok(http::api::usage::usage_json(&month_usage, config.metering).to_string());
    }
    let mut out = format!("bot sessions in {month} (tenant {})\n", config.tenant.name());
    match month_usage.usage {
        Some(u) => out.push_str(&format!(
            "used {} of {} ({}), {} remaining{}\n",
            u.used,
            u.entitled,
            u.fraction()
                .map_or("no pool".to_owned(), |f| format!("{:.1} %", f * 100.0)),
            u.remaining(),
            match u.level() {
                domain::metering::Level::Ok => String::new(),
                domain::metering::Level::Warning => " — warning: 80 % of the pool is used".to_owned(),
                domain::metering::Level::Exhausted => " — the pool is spent".to_owned(),
                domain::metering::Level::Over => format!(" — over the pool by {}", u.overage()),
            }
        )),
        None => out.push_str(&format!(
            "used {used} (no [metering] in the configuration: no pool to count against)\n"
        )),
    }
    for (bot, n) in &month_usage.by_bot {
        out.push_str(&format!("  {bot}: {n}\n"));
    }
    Ok(out.trim_end().to_owned())
}

fn report(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first line of standard input, without its line ending; never empty.
fn password_from_stdin() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprintln!("password (the line is shown as typed; pipe it in to keep it off the screen):");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("the password is empty; give it on the first line of standard input".to_owned());
    }
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters".to_owned());
    }
    Ok(password)
}

fn user(config_file: Option<&PathBuf>, database_url: Option<String>, action: UserAction) -> Result<String, String> {
    if let UserAction::Hash = action {
        return engine::hash_password(&password_from_stdin()?).map_err(|e| e.to_string());
    }
    if let UserAction::Add {
        name,
        display_name,
        role,
        capacity,
        queues,
    } = &action
    {
        let file = config_file.ok_or(
            "`user add` edits a configuration file: give it with --config (the built-in sample cannot be changed)",
        )?;
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let edited = crate::people_file::add_person(&text, name, display_name.as_deref(), role, *capacity, queues)?;
        let checked = config::load(&file.display().to_string(), &edited).map_err(|e| e.to_string())?;
        let password = password_from_stdin()?;
        let hash = engine::hash_password(&password).map_err(|e| e.to_string())?;
        let database_url = database_url
            .clone()
            .or_else(|| checked.server.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime.block_on(async {
            let store = store::open(&database_url).await.map_err(|e| e.to_string())?;
            let user = domain::UserName::new(name.as_str()).map_err(|e| e.to_string())?;
            let result = store
                .set_password_hash(&user, &hash, engine::now())
                .await
                .map_err(|e| e.to_string());
            store.close().await;
            result
        })?;
        crate::people_file::write_atomically(file, &edited)?;
        return Ok(format!(
            "added {name} to {}{}; restart the hub to let them sign in",
            file.display(),
            if queues.is_empty() {
                String::new()
            } else {
                format!(" (queues: {})", queues.join(", "))
            }
        ));
    }
    let config = read_config(config_file)?;
    let database_url = database_url
        .or_else(|| config.server.database_url.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let store = store::open(&database_url).await.map_err(|e| e.to_string())?;
        let result = match action {
            UserAction::Hash | UserAction::Add { .. } => unreachable!("handled above"),
            UserAction::List => list_people(&config, store.as_ref()).await,
            UserAction::Passwd { name } => {
                let user =
                    config.tenant.user(&name).filter(|u| !u.is_bot()).ok_or_else(|| {
                        format!("there is no person named `{name}` in the configuration's [[agents]]")
                    })?;
                let password = password_from_stdin()?;
                let hash = engine::hash_password(&password).map_err(|e| e.to_string())?;
                store
                    .set_password_hash(&user.name, &hash, engine::now())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!("password set for {name}; their sessions were ended"))
            }
        };
        store.close().await;
        result
    })
}

async fn list_people(config: &Config, store: &dyn store::Store) -> Result<String, String> {
    let mut lines = vec![format!(
        "{:<16} {:<24} {:<11} {:>8}  {:<10} queues",
        "name", "display name", "role", "capacity", "sign-in"
    )];
    for user in config.tenant.users() {
        let domain::user::UserKind::Human { role, capacity } = user.kind else {
            continue;
        };
        let in_db = store
            .password_hash(&user.name)
            .await
            .map_err(|e| e.to_string())?
            .is_some();
        let in_file = config.people.get(&user.name).is_some_and(|p| p.password_hash.is_some());
        let sign_in = match (in_db, in_file) {
            (true, _) => "database",
            (false, true) => "file",
            (false, false) => "no password",
        };
        let queues: Vec<&str> = config
            .tenant
            .queues()
            .filter(|q| q.members.contains(&user.name))
            .map(|q| q.name.as_str())
            .collect();
        lines.push(format!(
            "{:<16} {:<24} {:<11} {:>8}  {:<10} {}",
            user.name.as_str(),
            user.display_name.as_str(),
            role.as_str(),
            capacity.0,
            sign_in,
            queues.join(", ")
        ));
    }
    Ok(lines.join("\n"))
}

fn check_config(file: &PathBuf) -> ExitCode {
    match read_config(Some(file)) {
        Ok(_) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    config_file: Option<PathBuf>,
    listen: Option<String>,
    database_url: Option<String>,
    sip: Option<std::net::SocketAddr>,
) -> ExitCode {
    let mut config = match read_config(config_file.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(sip) = sip {
        match config.voice.as_mut() {
            Some(voice) => voice.sip = sip,
            None => {
                eprintln!("error: --sip needs a [voice] section in the configuration (docs/voice.md)");
                return ExitCode::FAILURE;
            }
        }
    }
    let listen = listen
        .or_else(|| config.server.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let database_url = database_url
        .or_else(|| config.server.database_url.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        server::run(listener, config, &database_url, server::shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "switchboard stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
