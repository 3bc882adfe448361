//! `switchboard-bench`: the load tool's command line. See `switchboard-bench --help`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use reqwest::Url;
use switchboard_bench::{RunConfig, Transport, echo_bot, relay};
use tokio::net::TcpListener;

/// Load tool for Switchboard: Direct Line customers against a running hub, a fast echo bot, and
/// a bare loopback relay as the baseline.
#[derive(Debug, Parser)]
#[command(
    name = "switchboard-bench",
    version,
    after_help = "A first measurement, three terminals (hub configured with the echo bot's endpoint):\n  \
        switchboard-bench echo-bot --listen 127.0.0.1:3979\n  \
        switchboard serve --config hub.toml\n  \
        switchboard-bench run --hub http://127.0.0.1:8080 --secret \"$SECRET\" --customers 50 --messages 20\n\n\
        Logs go to stderr; filter them with RUST_LOG (default: info for the servers, warn for run)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    EchoBot(EchoBotArgs),
    Run(RunArgs),
    Relay(RelayArgs),
    Escalation(EscalationArgs),
    Idle(IdleArgs),
}

/// Idle conversations: open N Direct Line conversations with their WebSockets, keep them silent,
/// and report how much the hub's resident memory grew per conversation (Linux /proc).
///
/// Every open socket takes a file descriptor in this tool and one in the hub, so N is bounded
/// by both processes' `ulimit -n`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    switchboard-bench idle --hub http://127.0.0.1:8080 --secret \"$SECRET\" --hub-pid \"$(pgrep -f 'switchboard serve')\" --conversations 10000")]
struct IdleArgs {
    /// The hub's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    hub: Url,
    /// The `[[directline]]` channel's secret.
    #[arg(long, env = "SWITCHBOARD_BENCH_SECRET", hide_env_values = true)]
    secret: String,
    /// The hub's process id (its memory is read from /proc/PID/status).
    #[arg(long)]
    hub_pid: u32,
    /// Conversations to open and hold.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    conversations: u32,
    /// Conversations being opened at the same time.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Seconds to wait with every socket open before reading the memory.
    #[arg(long, default_value_t = 5)]
    settle_seconds: u64,
    /// Stop after this many seconds whatever happens.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Escalation load: customers ask for a person, this tool's bot escalates each, and simulated
/// agents take the offers on their events sockets (accept, end, close).
///
/// The bot listens on --bot-listen; the hub's `[[bots]] endpoint` must be
/// http://BOT-LISTEN/api/messages. Measures escalation accepted (the hub answered the bot's
/// escalation 2xx) → agent notified (the offer frame arrived), all in this process on one
/// clock. Exit status 0 when every conversation was offered exactly once and handled.
#[derive(Debug, Args)]
#[command(
    after_help = "Example (the sample configuration, its bot pointed at 127.0.0.1:3979):\n  \
    switchboard-bench escalation --hub http://127.0.0.1:8080 --secret \"$SECRET\" \\\n    \
    --agents alice,bob,carol --password switchboard-demo --conversations 500 --concurrency 20"
)]
struct EscalationArgs {
    /// The hub's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    hub: Url,
    /// The `[[directline]]` channel's secret.
    #[arg(long, env = "SWITCHBOARD_BENCH_SECRET", hide_env_values = true)]
    secret: String,
    /// Where the escalating bot listens.
    #[arg(long, default_value = "127.0.0.1:3979")]
    bot_listen: SocketAddr,
    /// The agents' sign-in names, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    agents: Vec<String>,
    /// The agents' password.
    #[arg(long, env = "SWITCHBOARD_BENCH_PASSWORD", hide_env_values = true)]
    password: String,
    /// Conversations in all.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    conversations: u32,
    /// Customers starting their conversation at the same time.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// `BotHandoffTopic` values the bot escalates with, in turn, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "CreditCard,HomeLoan")]
    topics: Vec<String>,
    /// Stop after this many seconds whatever happens.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Milliseconds an agent keeps a conversation between accepting and ending it, so that
    /// capacity fills up and conversations wait (0: ends at once).
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Serve a fast Bot Framework bot that replies `Echo: <text>` to every message.
///
/// It takes the channel's POST /api/messages, answers 200 at once, then replies through the
/// Connector API under the activity's serviceUrl (ReplyToActivity, anonymous: no Authorization
/// header). Other activity types are ignored. Point a hub's `[[bots]] endpoint` (without
/// `builtin`) at http://LISTEN/api/messages. Runs until SIGINT or SIGTERM.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  switchboard-bench echo-bot --listen 127.0.0.1:3979")]
struct EchoBotArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3979")]
    listen: SocketAddr,
}

/// Drive C concurrent Direct Line customers against a hub, each sending M messages.
///
/// Each customer gets a token with the channel's secret (user `bench-<n>`), starts a
/// conversation, listens on its WebSocket (or polls), sends its warm-up messages, then — once
/// every customer is ready — sends `msg-<n>-<i>` one after another, waiting each time for the
/// bot's `Echo: msg-<n>-<i>` and timing post → reply. Only replies starting with `Echo: ` count.
/// The report says whether every reply arrived exactly once and in order. The exit status is 0
/// when it did and every round trip completed without an error, 1 otherwise.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    switchboard-bench run --hub http://127.0.0.1:8080 --secret \"$SECRET\" --customers 50 --messages 20\n  \
    switchboard-bench run --hub http://127.0.0.1:8090 --secret any --customers 5 --messages 10 --transport polling --json")]
struct RunArgs {
    /// The hub's base URL (Direct Line is under /v3/directline).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    hub: Url,
    /// The Direct Line base URL, when it is not HUB/v3/directline (offline-directline:
    /// http://HOST:PORT/directline).
    #[arg(long)]
    directline_url: Option<Url>,
    /// The `[[directline]]` channel's secret.
    #[arg(long, env = "SWITCHBOARD_BENCH_SECRET", hide_env_values = true)]
    secret: String,
    /// Start conversations with the secret itself, without tokens/generate (for a Direct Line
    /// that has no token endpoint, such as offline-directline).
    #[arg(long)]
    skip_token: bool,
    /// Concurrent customers (C).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    customers: u32,
    /// Measured messages per customer (M).
    #[arg(long, default_value_t = 10)]
    messages: u32,
    /// Warm-up messages per customer, sent before the measured phase and not counted.
    #[arg(long, default_value_t = 2)]
    warmup: u32,
    /// How customers receive activities.
    #[arg(long, value_enum, default_value = "ws")]
    transport: Transport,
    /// Polling interval in milliseconds (polling only).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    poll_interval_ms: u64,
    /// Stop after this many seconds whatever happens, and report what completed.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// How long to wait for one reply before counting a `reply_timeout` and sending the next.
    #[arg(long, default_value_t = 10_000)]
    reply_timeout_ms: u64,
    /// How long one HTTP request may take.
    #[arg(long, default_value_t = 15_000)]
    request_timeout_ms: u64,
    /// How long each customer keeps listening after its last reply, to catch late duplicates.
    #[arg(long, default_value_t = 300)]
    drain_ms: u64,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Serve the bare loopback relay: the hub's hops with no storage, routing or validation.
///
/// A minimal Direct Line (tokens/generate with any secret, conversations, posting activities,
/// the WebSocket stream, polling with a watermark in memory) that forwards each customer message
/// to the bot with itself as serviceUrl and pushes the bot's Connector replies to the customer.
/// `run` works against it unchanged. Runs until SIGINT or SIGTERM.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    switchboard-bench echo-bot --listen 127.0.0.1:3979 &\n  \
    switchboard-bench relay --listen 127.0.0.1:8090 --bot http://127.0.0.1:3979/api/messages &\n  \
    switchboard-bench run --hub http://127.0.0.1:8090 --secret any --customers 50 --messages 20")]
struct RelayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The bot's messaging endpoint.
    #[arg(long, default_value = "http://127.0.0.1:3979/api/messages")]
    bot: Url,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Run(_) | Command::Escalation(_) | Command::Idle(_) => "warn",
        Command::EchoBot(_) | Command::Relay(_) => "info",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::EchoBot(args) => serve(args.listen, |listener| echo_bot::serve(listener, shutdown_signal())).await,
            Command::Relay(args) => {
                serve(args.listen, |listener| {
                    relay::serve(listener, args.bot, shutdown_signal())
                })
                .await
            }
            Command::Run(args) => run(args).await,
            Command::Escalation(args) => escalation(args).await,
            Command::Idle(args) => idle(args).await,
        }
    })
}

async fn serve<F, Fut>(listen: SocketAddr, serve: F) -> ExitCode
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve(listener).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> ExitCode {
    let mut config = RunConfig::new(
        args.hub,
        args.secret,
        args.customers as usize,
        args.messages as usize,
        args.transport,
    );
    config.directline = args.directline_url;
    config.skip_token = args.skip_token;
    config.warmup = args.warmup as usize;
    config.poll_interval = Duration::from_millis(args.poll_interval_ms);
    config.max_duration = Duration::from_secs(args.max_seconds);
    config.reply_timeout = Duration::from_millis(args.reply_timeout_ms);
    config.request_timeout = Duration::from_millis(args.request_timeout_ms);
    config.drain = Duration::from_millis(args.drain_ms);
    let report = match switchboard_bench::run(config).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_report(args.json, report.to_json(), report.to_table(), report.ok)
}

async fn escalation(args: EscalationArgs) -> ExitCode {
    let config = switchboard_bench::escalation::EscalationConfig {
        hub: args.hub,
        secret: args.secret,
        bot_listen: args.bot_listen,
        agents: args.agents,
        password: args.password,
        conversations: args.conversations as usize,
        concurrency: args.concurrency as usize,
        topics: args.topics,
        max_duration: Duration::from_secs(args.max_seconds),
        hold: Duration::from_millis(args.hold_ms),
    };
    let report = match switchboard_bench::escalation::run(config).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_report(args.json, report.to_json(), report.to_table(), report.ok)
}

async fn idle(args: IdleArgs) -> ExitCode {
    let config = switchboard_bench::idle::IdleConfig {
        hub: args.hub,
        secret: args.secret,
        conversations: args.conversations as usize,
        concurrency: args.concurrency as usize,
        hub_pid: args.hub_pid,
        settle: Duration::from_secs(args.settle_seconds),
        max_duration: Duration::from_secs(args.max_seconds),
    };
    match switchboard_bench::idle::run(config).await {
        Ok(report) => print_report(args.json, report.to_json(), report.to_table(), report.failed == 0),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a report as JSON or as its table; the exit status says whether it was `ok`.
fn print_report(json: bool, as_json: String, as_table: String, ok: bool) -> ExitCode {
    if json {
        println!("{as_json}");
    } else {
        print!("{as_table}");
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
