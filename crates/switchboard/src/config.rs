//! The configuration file: one TOML document describing the tenant, its bots, agents, queues and
//! workstreams with their context variables and routing rules.
//!
//! Loading happens in two passes. The first deserializes into `Raw*` structs that keep the byte
//! span of every value an error might point at (unknown keys, wrong types and missing keys are
//! reported by the TOML parser with its own span). The second turns them into domain types —
//! names, endpoints and rule conditions are parsed there — and hands the result to
//! [`Tenant::new`], whose referential checks come back as typed errors that are mapped to the
//! span of the offending value. Every problem is collected, so one run of `check-config` shows
//! them all, each as `file:line:column: what is wrong` followed by how to fix it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::ops::Range;
use std::time::Duration;

use domain::context::{ContextDefs, ContextVarDef, ContextVarName, VarType};
use domain::names::{QueueName, RuleName, TenantName, UserName, WorkstreamName};
use domain::presence::Presence;
use domain::queue::{AssignmentMethod, Queue};
use domain::rules::{Rule, parse_condition};
use domain::tenant::{QueueRef, Tenant, TenantError};
use domain::user::{BotProfile, Capacity, DisplayName, Endpoint, Role, User, UserKind};
use domain::workstream::{CapacityRelease, Channel, DistributionMode, SurveySettings, Timers, Workstream};
use engine::BotTokenPolicy;
use http::directline::DirectLineChannel;
use serde::Deserialize;
use toml::Spanned;

/// The sample configuration, built into the binary: `serve` uses it when given no file.
pub const SAMPLE: &str = include_str!("../../../config/sample.toml");
/// How the embedded sample is named in messages.
pub const SAMPLE_NAME: &str = "config/sample.toml (built in)";

/// A loaded, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub tenant: Tenant,
    pub server: ServerSettings,
    pub channel: ChannelConfig,
    /// How each signed bot's tokens are checked, by app id.
    pub bot_tokens: HashMap<String, BotTokenPolicy>,
    /// The built-in bots `serve` runs (`builtin = "demo"`, `"survey"`, `"knowledge"`), each at
    /// its configured messaging endpoint: a URL of its own, or a path on the hub's own listener.
    pub builtin_bots: Vec<(BuiltinBot, BuiltinAt)>,
    /// The tenant's default locale (`[tenant] locale`, default `en-US`): the `locale` of
    /// activities to bots whose sender gave none.
    pub locale: String,
    /// The Direct Line chat channels (`[[directline]]`), with their secrets.
    pub directline: Vec<DirectLineChannel>,
    /// What the configuration says about each person beyond the tenant's user: password hash,
    /// supervised queues.
    pub people: engine::People,
    /// Limits on what customers and other callers may send (`[limits]`).
    pub limits: Limits,
    /// Trusted proxies and who may reach what (`[security]`).
    pub security: SecuritySettings,
    /// Bot-session metering (`[metering]`); `None` when the file has no such section.
    pub metering: Option<domain::metering::Policy>,
    /// The voice channel (`[voice]`); `None` when the file has no such section.
    pub voice: Option<VoiceConfig>,
}

/// The voice channel's configuration (`[voice]`, docs/voice.md).
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Where SIP is served (UDP), e.g. `127.0.0.1:5060`.
    pub sip: std::net::SocketAddr,
    pub settings: voice::calls::VoiceSettings,
    /// The Python interpreter that has `pocketsphinx` (`SWITCHBOARD_SPEECH_PYTHON` wins).
    pub python: String,
    /// The `espeak-ng` program and voice.
    pub espeak: String,
    pub espeak_voice: String,
}

/// A bot `serve` runs itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinBot {
    /// The sample's assistant: answers, escalates with a topic, ends (`demo_bot`).
    Demo,
    /// A post-conversation survey: a 1–5 rating and a comment (`survey_bot`).
    Survey,
    /// A smart-assist bot suggesting knowledge-base articles to agents (`knowledge_bot`).
    Knowledge,
}

/// The URL a bot endpoint written as a path stands for until the hub's listener is known.
fn hub_path_placeholder(endpoint: &str) -> std::borrow::Cow<'_, str> {
    if endpoint.starts_with('/') {
        format!("http://127.0.0.1:0{endpoint}").into()
    } else {
        endpoint.into()
    }
}

impl Config {
    /// Points every built-in bot served on the hub's own listener at `listening` (the address
    /// the hub accepts connections on; an unspecified IP becomes loopback).
    pub fn serve_builtin_bots_at(&mut self, listening: std::net::SocketAddr) {
        let ip = match listening.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
            ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base = std::net::SocketAddr::new(ip, listening.port());
        for (_, at) in &self.builtin_bots {
            if let BuiltinAt::Hub { bot, path } = at
                && let Ok(endpoint) = Endpoint::parse(&format!("http://{base}{path}"))
            {
                self.tenant.set_bot_endpoint(bot, endpoint);
            }
        }
    }
}

/// Where `serve` runs a built-in bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinAt {
    /// On a listener of its own, at this endpoint.
    Own(Endpoint),
    /// On the hub's own listener, under this path (`endpoint = "/bots/demo/api/messages"`):
    /// every node of a cluster serves it, with no port of its own. The bot's endpoint in the
    /// tenant is then `http://127.0.0.1:0` + path until [`Config::serve_builtin_bots_at`] names
    /// the listener.
    Hub { bot: UserName, path: String },
}

impl BuiltinBot {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "demo" => Some(Self::Demo),
            "survey" => Some(Self::Survey),
            "knowledge" => Some(Self::Knowledge),
            _ => None,
        }
    }

    /// What the bot is called in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demo => "demo",
            Self::Survey => "survey",
            Self::Knowledge => "knowledge",
        }
    }
}

/// Limits on what customers and other callers may send (`[limits]`, docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Activities per second one conversation's customer may send after a burst; `None` (set
    /// as 0): no limit. Default: 10.
    pub customer_activities_per_second: Option<NonZeroU32>,
    /// How many activities a customer may send at once. Default: 30.
    pub customer_activity_burst: NonZeroU32,
    /// Per client address, a minute: `/chat/token` requests and conversation starts with a
    /// token (what an anonymous browser can ask for); `None` (0): no limit. Default: 120.
    pub token_requests_per_minute: Option<NonZeroU32>,
    /// How many of those at once. Default: 60.
    pub token_request_burst: NonZeroU32,
    /// Per client address, a minute: `tokens/generate` and conversation starts with a channel's
    /// secret (a site's backend, one address for all its customers); `None` (0): no limit.
    /// Default: 6000.
    pub secret_requests_per_minute: Option<NonZeroU32>,
    /// How many of those at once. Default: 600.
    pub secret_request_burst: NonZeroU32,
    /// Wrong passwords one account may have before each further attempt waits (doubling, up to
    /// `sign_in_max_delay`). Default: 5.
    pub sign_in_account_failures: NonZeroU32,
    /// Wrong passwords one client address may have, over all accounts, before its attempts
    /// wait. Default: 20.
    pub sign_in_address_failures: NonZeroU32,
    /// The longest wait a run of wrong passwords earns. Default: 15 minutes.
    pub sign_in_max_delay: Duration,
    /// Password checks (argon2, 19 MiB each) running at once; others queue. Default: 2.
    pub password_checks_at_once: NonZeroU32,
}

impl Default for Limits {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).expect("not zero");
        Self {
            customer_activities_per_second: Some(n(10)),
            customer_activity_burst: n(30),
            token_requests_per_minute: Some(n(120)),
            token_request_burst: n(60),
            secret_requests_per_minute: Some(n(6000)),
            secret_request_burst: n(600),
            sign_in_account_failures: n(5),
            sign_in_address_failures: n(20),
            sign_in_max_delay: Duration::from_secs(15 * 60),
            password_checks_at_once: n(2),
        }
    }
}

/// Who may reach what (`[security]`, docs/security.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySettings {
    /// Proxies (a load balancer, a TLS terminator) whose `X-Forwarded-For` names the client.
    /// Default: none, so the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where bots configured without an app id (anonymous mode) may call the Connector API
    /// from. Default: loopback.
    pub anonymous_bot_networks: Vec<ipnet::IpNet>,
    /// Origins that may show `/chat` in a frame (`frame-ancestors`), besides the hub itself.
    /// Default: none.
    pub embed_origins: Vec<String>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            anonymous_bot_networks: vec![
                "127.0.0.0/8".parse().expect("a valid network"),
                "::1/128".parse().expect("a valid network"),
            ],
            embed_origins: Vec::new(),
        }
    }
}

/// How the hub signs the tokens it sends to bots with an app id (`[channel]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelConfig {
    /// The `iss` of the hub's tokens; bots set it as `ToBotFromChannelTokenIssuer`. Default:
    /// the public URL + `/botframework`.
    pub issuer: Option<String>,
    /// The directory of signing keys (PEM files, the newest by name signs). Default:
    /// `data/channel-keys`.
    pub signing_keys: Option<String>,
    /// How long a token is valid. Default: one hour.
    pub token_lifetime: Option<Duration>,
    /// How often a waiting customer is told their place in the queue. Default: 30 s.
    pub queue_position_every: Option<Duration>,
    /// How long one POST to a bot may take before the bot counts as unavailable for that
    /// conversation. Default: 15 s.
    pub bot_timeout: Option<Duration>,
}

/// Server settings a configuration file may give; command-line flags override them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Database URL, e.g. `sqlite://data/switchboard.db` or `postgres://…`.
    pub database_url: Option<String>,
    /// The base URL bots and clients use to reach the hub (the Bot Framework `serviceUrl`).
    pub public_url: Option<String>,
    /// The bearer token for the operator API (`/api/v1`).
    pub admin_token: Option<String>,
    /// On SIGTERM, how long the node keeps serving while `/readyz` answers 503, so that the
    /// load balancer sends new requests elsewhere, before it closes its sockets and stops.
    /// `None`: 5 s on PostgreSQL (a node of a cluster), none on SQLite.
    pub drain: Option<Duration>,
}

/// One problem in a configuration file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte range in the file.
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors {
    /// The file's name as given by the user.
    pub file: String,
    source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigErrors {
    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.source_text, offset)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let (line, col) = self.line_col(d.span.start);
            writeln!(f, "{}:{line}:{col}: error: {}", self.file, d.message)?;
            if let Some(text) = self.source_text.lines().nth(line - 1) {
                let width = self.source_text[d.span.clone()]
                    .lines()
                    .next()
                    .map_or(1, |l| l.chars().count().max(1));
                writeln!(f, "  {line:>4} | {text}")?;
                writeln!(
                    f,
                    "       | {}{}",
                    " ".repeat(col - 1),
                    "^".repeat(width.min(text.chars().count().saturating_sub(col - 1).max(1)))
                )?;
            }
            if let Some(help) = &d.help {
                writeln!(f, "  help: {help}")?;
            }
        }
        write!(
            f,
            "{} error{} in {}",
            self.diagnostics.len(),
            if self.diagnostics.len() == 1 { "" } else { "s" },
            self.file
        )
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Reads and checks the configuration in `text`; `file` names it in messages.
pub fn load(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    let fail = |diagnostics| ConfigErrors {
        file: file.to_owned(),
        source_text: text.to_owned(),
        diagnostics,
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end().to_owned();
            let help = toml_help(&message);
            return Err(fail(vec![Diagnostic { span, message, help }]));
        }
    };
    let mut b = Builder {
        text,
        diags: Vec::new(),
        dropped_users: BTreeSet::new(),
        dropped_queues: BTreeSet::new(),
    };
    let config = b.build(raw);
    match config {
        Some(c) if b.diags.is_empty() => Ok(c),
        _ => {
            let mut diags = b.diags;
            diags.sort_by_key(|d| d.span.start);
            Err(fail(diags))
        }
    }
}

fn toml_help(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; docs/configuration.md lists every key".into())
    } else if message.starts_with("missing field") {
        Some("add the key; docs/configuration.md says what it means".into())
    } else {
        None
    }
}

// ---- raw shapes, as written in the file ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tenant: Option<RawTenant>,
    server: Option<RawServer>,
    channel: Option<RawChannel>,
    #[serde(default)]
    directline: Vec<RawDirectLine>,
    #[serde(default)]
    bots: Vec<RawBot>,
    #[serde(default)]
    agents: Vec<RawAgent>,
    #[serde(default)]
    queues: Vec<RawQueue>,
    #[serde(default)]
    workstreams: Vec<RawWorkstream>,
    limits: Option<RawLimits>,
    security: Option<RawSecurity>,
    metering: Option<RawMetering>,
    voice: Option<RawVoice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVoice {
    sip: Spanned<String>,
    media_address: Option<Spanned<String>>,
    rtp_ports: Option<Spanned<String>>,
    workstream: Option<Spanned<String>>,
    #[serde(default)]
    numbers: BTreeMap<String, Spanned<String>>,
    organization_number: Option<String>,
    bot_call_limit: Option<Spanned<RawDuration>>,
    dtmf_pause: Option<Spanned<RawDuration>>,
    python: Option<String>,
    espeak: Option<String>,
    espeak_voice: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetering {
    #[serde(default)]
    licences: u64,
    #[serde(default)]
    add_ons: u64,
    when_spent: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    customer_activities_per_second: Option<u32>,
    customer_activity_burst: Option<Spanned<u32>>,
    token_requests_per_minute: Option<u32>,
    token_request_burst: Option<Spanned<u32>>,
    secret_requests_per_minute: Option<u32>,
    secret_request_burst: Option<Spanned<u32>>,
    sign_in_account_failures: Option<Spanned<u32>>,
    sign_in_address_failures: Option<Spanned<u32>>,
    sign_in_max_delay: Option<Spanned<RawDuration>>,
    password_checks_at_once: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    anonymous_bot_networks: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    embed_origins: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: Spanned<String>,
    locale: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    database_url: Option<String>,
    public_url: Option<Spanned<String>>,
    admin_token: Option<String>,
    drain: Option<Spanned<RawDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectLine {
    name: Spanned<String>,
    secret: Spanned<String>,
    workstream: Spanned<String>,
    token_lifetime: Option<Spanned<RawDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    issuer: Option<String>,
    signing_keys: Option<String>,
    token_lifetime: Option<Spanned<RawDuration>>,
    queue_position_every: Option<Spanned<RawDuration>>,
    bot_timeout: Option<Spanned<RawDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    name: Spanned<String>,
    display_name: Option<Spanned<String>>,
    app_id: Option<Spanned<String>>,
    endpoint: Spanned<String>,
    channel_id: Option<Spanned<String>>,
    require_bridged: Option<bool>,
    token_issuers: Option<Vec<String>>,
    token_audience: Option<String>,
    token_jwks_url: Option<Spanned<String>>,
    builtin: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: Spanned<String>,
    display_name: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    capacity: Option<u32>,
    password_hash: Option<Spanned<String>>,
    #[serde(default)]
    supervises: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    name: Spanned<String>,
    #[serde(default)]
    members: Vec<Spanned<String>>,
    method: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkstream {
    name: Spanned<String>,
    channel: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    fallback_queue: Option<Spanned<String>>,
    capacity: Option<Spanned<u32>>,
    capacity_release: Option<Spanned<String>>,
    allowed_presences: Option<Spanned<Vec<Spanned<String>>>>,
    auto_accept: Option<bool>,
    #[serde(default)]
    variables: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    rules: Vec<RawRule>,
    timers: Option<RawTimers>,
    survey: Option<RawSurvey>,
    #[serde(default)]
    smart_assist_bots: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSurvey {
    bot: Spanned<String>,
    on_customer_end: Option<bool>,
    timeout: Option<Spanned<RawDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    condition: Spanned<String>,
    queue: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimers {
    customer_inactivity: Option<Spanned<RawDuration>>,
    wrap_up: Option<Spanned<RawDuration>>,
    offer_timeout: Option<Spanned<RawDuration>>,
    agent_reconnect_grace: Option<Spanned<RawDuration>>,
}

/// A duration: whole seconds, or text like `"90s"`, `"10m"`, `"1h"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(u64),
    Text(String),
}

// ---- second pass ----

/// Where each named thing was written, to point errors at it.
#[derive(Default)]
struct Spans {
    users: BTreeMap<String, Vec<Range<usize>>>,
    queues: BTreeMap<String, Vec<Range<usize>>>,
    members: BTreeMap<(String, String), Vec<Range<usize>>>,
    workstreams: BTreeMap<String, Vec<Range<usize>>>,
    ws_mode: BTreeMap<String, Range<usize>>,
    ws_channel: BTreeMap<String, Range<usize>>,
    ws_capacity: BTreeMap<String, Range<usize>>,
    ws_presences: BTreeMap<String, Range<usize>>,
    /// Where a workstream names its companion bots (the survey bot, else the workstream name).
    ws_companions: BTreeMap<String, Range<usize>>,
    fallback: BTreeMap<String, Range<usize>>,
    rules: BTreeMap<(String, String), Vec<Range<usize>>>,
    rule_queue: BTreeMap<(String, String), Range<usize>>,
    rule_condition: BTreeMap<(String, String), Range<usize>>,
}

struct Builder<'a> {
    text: &'a str,
    diags: Vec<Diagnostic>,
    /// Users and queues left out of the model because they were already reported as invalid;
    /// references to them are not reported a second time as "not defined".
    dropped_users: BTreeSet<String>,
    dropped_queues: BTreeSet<String>,
}

impl Builder<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<Option<String>>) {
        self.diags.push(Diagnostic {
            span,
            message: message.into(),
            help: help.into(),
        });
    }

    fn name<T>(
        &mut self,
        raw: &Spanned<String>,
        what: &str,
        parse: impl Fn(String) -> Result<T, domain::names::NameError>,
    ) -> Option<T> {
        match parse(raw.get_ref().clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(raw.span(), format!("invalid {what} `{}`: {e}", raw.get_ref()), None);
                None
            }
        }
    }

    fn enum_value<T: std::str::FromStr<Err = domain::UnknownVariant>>(
        &mut self,
        raw: &Option<Spanned<String>>,
        default: T,
    ) -> T {
        let Some(raw) = raw else { return default };
        match raw.get_ref().parse() {
            Ok(v) => v,
            Err(e) => {
                let help = format!("use one of: {}", e.expected.join(", "));
                self.error(raw.span(), e.to_string(), help);
                default
            }
        }
    }

    fn build(&mut self, raw: RawConfig) -> Option<Config> {
        let mut spans = Spans::default();
        let tenant_name = match &raw.tenant {
            Some(t) => self.name(&t.name, "tenant name", TenantName::new),
            None => TenantName::new("Default").ok(),
        };
        if let Some(url) = raw.server.as_ref().and_then(|s| s.public_url.as_ref())
            && Endpoint::parse(url.get_ref()).is_err()
        {
            self.error(
                url.span(),
                format!("public_url `{}` is not an absolute http(s) URL", url.get_ref()),
                Some("write the base URL bots and clients reach the hub at, e.g. \"https://hub.example.com\"".into()),
            );
        }
        let directline = self.directline_channels(&raw);
        let server = match raw.server {
            Some(s) => ServerSettings {
                drain: s.drain.as_ref().map(|d| self.duration(d)),
                listen: s.listen,
                database_url: s.database_url,
                public_url: s.public_url.map(Spanned::into_inner),
                admin_token: s.admin_token,
            },
            None => ServerSettings::default(),
        };

        let locale = match raw.tenant.as_ref().and_then(|t| t.locale.as_ref()) {
            None => "en-US".to_owned(),
            Some(l) if is_locale(l.get_ref()) => l.get_ref().clone(),
            Some(l) => {
                self.error(
                    l.span(),
                    format!("invalid locale `{}`", l.get_ref()),
                    Some("write a BCP 47 language tag such as \"en-US\" or \"fr-CA\"".into()),
                );
                "en-US".to_owned()
            }
        };
        let channel = match &raw.channel {
            None => ChannelConfig::default(),
            Some(c) => ChannelConfig {
                issuer: c.issuer.clone(),
                signing_keys: c.signing_keys.clone(),
                token_lifetime: self.positive_duration(&c.token_lifetime, "token lifetime", "\"1h\" or \"30m\""),
                queue_position_every: self.positive_duration(
                    &c.queue_position_every,
                    "queue_position_every",
                    "\"30s\"",
                ),
                bot_timeout: self.positive_duration(&c.bot_timeout, "bot_timeout", "\"15s\""),
            },
        };
        let limits = self.limits(raw.limits.as_ref());
        let security = self.security(raw.security.as_ref());
        let metering = self.metering(raw.metering.as_ref());
        let voice = raw.voice.as_ref().and_then(|v| self.voice(v, &raw.workstreams));
        let mut bot_tokens = HashMap::new();
        let mut builtin_bots = Vec::new();
        let mut users = Vec::new();
        let mut people = engine::People::new();
        for bot in &raw.bots {
            spans
                .users
                .entry(bot.name.get_ref().clone())
                .or_default()
                .push(bot.name.span());
            let app_id = bot.app_id.as_ref().map_or(String::new(), |a| a.get_ref().clone());
            let channel_id = match &bot.channel_id {
                None => BotProfile::DEFAULT_CHANNEL_ID.to_owned(),
                Some(c) if is_channel_id(c.get_ref()) => c.get_ref().clone(),
                Some(c) => {
                    self.error(
                        c.span(),
                        format!("invalid channel id `{}`", c.get_ref()),
                        Some("use 1-64 characters of letters, digits, `-`, `_` or `.`, e.g. \"directline\"".into()),
                    );
                    BotProfile::DEFAULT_CHANNEL_ID.to_owned()
                }
            };
            let name = self.name(&bot.name, "bot name", UserName::new);
            let display = self.display_name(&bot.display_name, &bot.name);
            let on_hub = bot.endpoint.get_ref().starts_with('/');
            if on_hub && bot.builtin.is_none() {
                self.error(
                    bot.endpoint.span(),
                    "only a built-in bot can be served on the hub's own listener".to_owned(),
                    Some("write your bot's messaging endpoint as an absolute URL, e.g. \"http://127.0.0.1:3978/api/messages\"".into()),
                );
            }
            let endpoint = match Endpoint::parse(&hub_path_placeholder(bot.endpoint.get_ref())) {
                Ok(e) => Some(e),
                Err(e) => {
                    self.error(bot.endpoint.span(), format!("invalid bot endpoint: {e}"), Some("write the bot's messaging endpoint as an absolute URL, e.g. \"http://127.0.0.1:3978/api/messages\"".into()));
                    None
                }
            };
            if let Some(policy) = self.bot_token_policy(bot, &app_id) {
                bot_tokens.insert(app_id.clone(), policy);
            }
            if let Some(b) = &bot.builtin {
                match (BuiltinBot::parse(b.get_ref()), &endpoint) {
                    (Some(kind), Some(endpoint)) => {
                        let at = match (&name, on_hub) {
                            (Some(bot_name), true) => Some(BuiltinAt::Hub {
                                bot: bot_name.clone(),
                                path: endpoint.url().path().to_owned(),
                            }),
                            (None, true) => None,
                            (_, false) => Some(BuiltinAt::Own(endpoint.clone())),
                        };
                        builtin_bots.extend(at.map(|at| (kind, at)));
                    }
                    (Some(_), None) => {}
                    (None, _) => self.error(
                        b.span(),
                        format!("unknown built-in bot `{}`", b.get_ref()),
                        Some("the built-in bots are \"demo\", \"survey\" and \"knowledge\"; remove `builtin` for a bot you run yourself".into()),
                    ),
                }
            }
            if let (Some(name), Some(display_name), Some(endpoint)) = (name, display, endpoint) {
                users.push(User {
                    name,
                    display_name,
                    kind: UserKind::Bot(BotProfile {
                        app_id,
                        endpoint,
                        channel_id,
                        require_bridged: bot.require_bridged.unwrap_or(false),
                    }),
                });
            } else {
                self.dropped_users.insert(bot.name.get_ref().clone());
            }
        }
        for agent in &raw.agents {
            spans
                .users
                .entry(agent.name.get_ref().clone())
                .or_default()
                .push(agent.name.span());
            let name = self.name(&agent.name, "agent name", UserName::new);
            let display = self.display_name(&agent.display_name, &agent.name);
            let role = self.enum_value(&agent.role, Role::Agent);
            let capacity = Capacity(agent.capacity.unwrap_or(DEFAULT_AGENT_CAPACITY));
            let password_hash = agent.password_hash.as_ref().and_then(|h| match engine::check_password_hash(h.get_ref()) {
                Ok(()) => Some(h.get_ref().clone()),
                Err(why) => {
                    self.error(
                        h.span(),
                        format!("invalid password_hash: {why}"),
                        Some("make one with `switchboard user hash`, or set the password with `switchboard user passwd`".into()),
                    );
                    None
                }
            });
            let declared_queues: Vec<&str> = raw.queues.iter().map(|q| q.name.get_ref().as_str()).collect();
            let mut supervises = Vec::new();
            for q in &agent.supervises {
                if !declared_queues.contains(&q.get_ref().as_str()) {
                    self.error(
                        q.span(),
                        format!("`{}` in supervises is not a queue of this file", q.get_ref()),
                        Some(format!("declared queues: {}", declared_queues.join(", "))),
                    );
                } else if let Ok(name) = QueueName::new(q.get_ref()) {
                    supervises.push(name);
                }
            }
            if let Some(name) = &name {
                people.insert(
                    name.clone(),
                    engine::PersonSettings {
                        password_hash,
                        supervises,
                    },
                );
            }
            if let (Some(name), Some(display_name)) = (name, display) {
                users.push(User {
                    name,
                    display_name,
                    kind: UserKind::Human { role, capacity },
                });
            } else {
                self.dropped_users.insert(agent.name.get_ref().clone());
            }
        }

        let mut queues = Vec::new();
        for q in &raw.queues {
            spans
                .queues
                .entry(q.name.get_ref().clone())
                .or_default()
                .push(q.name.span());
            let name = self.name(&q.name, "queue name", QueueName::new);
            let method = self.enum_value(&q.method, AssignmentMethod::HighestCapacity);
            let mut members = Vec::new();
            for m in &q.members {
                spans
                    .members
                    .entry((q.name.get_ref().clone(), m.get_ref().clone()))
                    .or_default()
                    .push(m.span());
                members.extend(self.name(m, "member name", UserName::new));
            }
            if let Some(name) = name {
                queues.push(Queue { name, members, method });
            } else {
                self.dropped_queues.insert(q.name.get_ref().clone());
            }
        }

        let mut workstreams = Vec::new();
        for ws in &raw.workstreams {
            if let Some(w) = self.workstream(ws, &mut spans) {
                workstreams.push(w);
            }
        }

        // The referential checks run even when some items were refused above (they are left out
        // of the model), so one run reports every problem; references to refused items are
        // skipped, as those were already reported.
        let tenant_name = tenant_name?;
        match Tenant::new(tenant_name, users, queues, workstreams) {
            Ok(tenant) => Some(Config {
                tenant,
                server,
                channel,
                bot_tokens,
                builtin_bots,
                locale,
                directline,
                people,
                limits,
                security,
                metering,
                voice,
            }),
            Err(errors) => {
                for e in errors {
                    let already_reported = match &e {
                        TenantError::UnknownMember { member, .. } => self.dropped_users.contains(member.as_str()),
                        TenantError::UnknownQueue { queue, .. } => self.dropped_queues.contains(queue.as_str()),
                        _ => false,
                    };
                    if already_reported {
                        continue;
                    }
                    let span = self.span_of(&e, &spans);
                    let help = e.help();
                    self.error(span, e.to_string(), help);
                }
                None
            }
        }
    }

    /// `[metering]`: the pool (licences × 50 + add-ons × 100 a month) and what happens when it is
    /// spent (`serve`, the default, or `route_to_people`).
    fn metering(&mut self, raw: Option<&RawMetering>) -> Option<domain::metering::Policy> {
        let raw = raw?;
        let when_spent = match &raw.when_spent {
            None => domain::metering::WhenSpent::Serve,
            Some(s) => match s.get_ref().parse() {
                Ok(w) => w,
                Err(e) => {
                    self.error(s.span(), "invalid when_spent", Some(format!("{e}")));
                    domain::metering::WhenSpent::Serve
                }
            },
        };
        Some(domain::metering::Policy {
            entitlement: domain::metering::Entitlement {
                licences: raw.licences,
                add_ons: raw.add_ons,
            },
            when_spent,
        })
    }

    /// `[voice]`: the SIP address, the media address and ports, which workstream takes which
    /// number, and the speech engines.
    fn voice(&mut self, raw: &RawVoice, workstreams: &[RawWorkstream]) -> Option<VoiceConfig> {
        let sip = match raw.sip.get_ref().parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(
                    raw.sip.span(),
                    format!("invalid SIP address `{}`", raw.sip.get_ref()),
                    Some("write an IP address and UDP port, e.g. \"127.0.0.1:5060\" or \"0.0.0.0:5060\"".into()),
                );
                None
            }
        };
        let media_address = match &raw.media_address {
            None => sip.map(|a| a.ip()).filter(|ip| !ip.is_unspecified()),
            Some(m) => match m.get_ref().parse::<std::net::IpAddr>() {
                Ok(ip) if !ip.is_unspecified() => Some(ip),
                _ => {
                    self.error(
                        m.span(),
                        format!("invalid media address `{}`", m.get_ref()),
                        Some("write the IP address callers send audio to, e.g. \"192.0.2.10\"".into()),
                    );
                    None
                }
            },
        };
        if media_address.is_none() && raw.media_address.is_none() && sip.is_some() {
            self.error(
                raw.sip.span(),
                "a SIP address of 0.0.0.0 needs a media address",
                Some("add media_address = \"<the hub's IP address callers reach>\"".into()),
            );
        }
        let rtp_ports = raw.rtp_ports.as_ref().and_then(|r| {
            let parsed = r
                .get_ref()
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
                .filter(|(a, b)| a <= b && *a > 0);
            if parsed.is_none() {
                self.error(
                    r.span(),
                    format!("invalid RTP port range `{}`", r.get_ref()),
                    Some("write two ports, low-high, e.g. \"40000-40999\"".into()),
                );
            }
            parsed
        });
        let is_voice = |name: &str| {
            workstreams
                .iter()
                .find(|w| w.name.get_ref() == name)
                .map(|w| w.channel.as_ref().is_some_and(|c| c.get_ref() == "voice"))
        };
        let check_ws = |this: &mut Self, w: &Spanned<String>| match is_voice(w.get_ref()) {
            Some(true) => true,
            Some(false) => {
                this.error(
                    w.span(),
                    format!("workstream `{}` is not a voice workstream", w.get_ref()),
                    Some("name a workstream with channel = \"voice\"".into()),
                );
                false
            }
            None => {
                this.error(
                    w.span(),
                    format!("there is no workstream named `{}`", w.get_ref()),
                    None,
                );
                false
            }
        };
        let workstream = match &raw.workstream {
            Some(w) => check_ws(self, w).then(|| w.get_ref().clone()),
            None => {
                let first = workstreams
                    .iter()
                    .find(|w| w.channel.as_ref().is_some_and(|c| c.get_ref() == "voice"))
                    .map(|w| w.name.get_ref().clone());
                if first.is_none() {
                    self.error(
                        raw.sip.span(),
                        "the voice channel needs a voice workstream",
                        Some("add a [[workstreams]] with channel = \"voice\" and mode = \"push\"".into()),
                    );
                }
                first
            }
        };
        let mut numbers = HashMap::new();
        for (number, w) in &raw.numbers {
            if check_ws(self, w) {
                numbers.insert(number.clone(), w.get_ref().clone());
            }
        }
        let bot_call_limit = self
            .positive_duration(&raw.bot_call_limit, "bot_call_limit", "\"1h\"")
            .unwrap_or(voice::calls::VoiceSettings::DEFAULT_BOT_CALL_LIMIT);
        let dtmf_pause = self
            .positive_duration(&raw.dtmf_pause, "dtmf_pause", "\"2s\"")
            .unwrap_or(voice::calls::VoiceSettings::DEFAULT_DTMF_PAUSE);
        let python = std::env::var("SWITCHBOARD_SPEECH_PYTHON")
            .ok()
            .filter(|p| !p.is_empty())
            .or(raw.python.clone())
            .unwrap_or_else(|| "python3".to_owned());
        Some(VoiceConfig {
            sip: sip?,
            settings: voice::calls::VoiceSettings {
                media_address: media_address?,
                rtp_ports,
                workstream: workstream?,
                numbers,
                bot_call_limit,
                dtmf_pause,
                organization_number: raw.organization_number.clone(),
            },
            python,
            espeak: raw.espeak.clone().unwrap_or_else(|| "espeak-ng".to_owned()),
            espeak_voice: raw.espeak_voice.clone().unwrap_or_else(|| "en-us".to_owned()),
        })
    }

    /// `[limits]`, defaults for what it leaves out.
    fn limits(&mut self, raw: Option<&RawLimits>) -> Limits {
        let mut limits = Limits::default();
        let Some(raw) = raw else { return limits };
        if let Some(per_second) = raw.customer_activities_per_second {
            limits.customer_activities_per_second = NonZeroU32::new(per_second);
        }
        if let Some(per_minute) = raw.token_requests_per_minute {
            limits.token_requests_per_minute = NonZeroU32::new(per_minute);
        }
        if let Some(per_minute) = raw.secret_requests_per_minute {
            limits.secret_requests_per_minute = NonZeroU32::new(per_minute);
        }
        let counts = [
            (
                &raw.customer_activity_burst,
                &mut limits.customer_activity_burst,
                "customer_activity_burst",
                "30",
            ),
            (
                &raw.token_request_burst,
                &mut limits.token_request_burst,
                "token_request_burst",
                "60",
            ),
            (
                &raw.secret_request_burst,
                &mut limits.secret_request_burst,
                "secret_request_burst",
                "600",
            ),
            (
                &raw.sign_in_account_failures,
                &mut limits.sign_in_account_failures,
                "sign_in_account_failures",
                "5",
            ),
            (
                &raw.sign_in_address_failures,
                &mut limits.sign_in_address_failures,
                "sign_in_address_failures",
                "20",
            ),
            (
                &raw.password_checks_at_once,
                &mut limits.password_checks_at_once,
                "password_checks_at_once",
                "2",
            ),
        ];
        for (raw, field, name, example) in counts {
            let Some(raw) = raw else { continue };
            match NonZeroU32::new(*raw.get_ref()) {
                Some(v) => *field = v,
                None => self.error(
                    raw.span(),
                    format!("invalid {name}"),
                    Some(format!("it must be at least 1, e.g. {example}")),
                ),
            }
        }
        if let Some(delay) = self.positive_duration(&raw.sign_in_max_delay, "sign_in_max_delay", "\"15m\"") {
            limits.sign_in_max_delay = delay;
        }
        limits
    }

    /// `[security]`, defaults for what it leaves out.
    fn security(&mut self, raw: Option<&RawSecurity>) -> SecuritySettings {
        let mut security = SecuritySettings::default();
        let Some(raw) = raw else { return security };
        security.trusted_proxies = self.networks(&raw.trusted_proxies, "trusted_proxies");
        if let Some(networks) = &raw.anonymous_bot_networks {
            security.anonymous_bot_networks = self.networks(networks, "anonymous_bot_networks");
        }
        for origin in &raw.embed_origins {
            match Endpoint::parse(origin.get_ref()) {
                Ok(url) if url.url().path() == "/" && !origin.get_ref().ends_with('/') => {
                    security.embed_origins.push(origin.get_ref().clone());
                }
                _ => self.error(
                    origin.span(),
                    format!("embed origin `{}` is not an origin", origin.get_ref()),
                    Some("write a scheme and host (and port), without a path: \"https://www.contoso.com\"".into()),
                ),
            }
        }
        security
    }

    /// A list of networks (`10.0.0.0/8`) or single addresses (`10.0.0.1`, read as /32 or /128).
    fn networks(&mut self, raw: &[Spanned<String>], what: &str) -> Vec<ipnet::IpNet> {
        let mut networks = Vec::new();
        for item in raw {
            let text = item.get_ref().trim();
            let parsed = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(net) => networks.push(net),
                Err(_) => self.error(
                    item.span(),
                    format!("`{text}` in {what} is not an address or a network"),
                    Some(
                        "write an address (\"10.0.0.5\") or a network in CIDR form (\"10.0.0.0/8\", \"::1/128\")"
                            .into(),
                    ),
                ),
            }
        }
        networks
    }

    /// A duration that must be more than zero, or an error at its place naming `what`.
    fn positive_duration(&mut self, raw: &Option<Spanned<RawDuration>>, what: &str, example: &str) -> Option<Duration> {
        let v = raw.as_ref()?;
        match parse_duration(v.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) | Err(_) => {
                self.error(
                    v.span(),
                    format!("invalid {what}"),
                    Some(format!("write a positive duration such as {example}")),
                );
                None
            }
        }
    }

    fn display_name(&mut self, raw: &Option<Spanned<String>>, name: &Spanned<String>) -> Option<DisplayName> {
        let source = raw.as_ref().unwrap_or(name);
        match DisplayName::new(source.get_ref().clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(source.span(), format!("invalid display name: {e}"), None);
                None
            }
        }
    }

    fn workstream(&mut self, ws: &RawWorkstream, spans: &mut Spans) -> Option<Workstream> {
        let key = ws.name.get_ref().clone();
        spans.workstreams.entry(key.clone()).or_default().push(ws.name.span());
        let name = self.name(&ws.name, "workstream name", WorkstreamName::new);
        let channel = self.enum_value(&ws.channel, Channel::Chat);
        let mode = self.enum_value(&ws.mode, DistributionMode::Push);
        if let Some(m) = &ws.mode {
            spans.ws_mode.insert(key.clone(), m.span());
        }
        spans
            .ws_channel
            .insert(key.clone(), ws.channel.as_ref().map_or(ws.name.span(), Spanned::span));
        spans
            .ws_capacity
            .insert(key.clone(), ws.capacity.as_ref().map_or(ws.name.span(), Spanned::span));
        spans.ws_presences.insert(
            key.clone(),
            ws.allowed_presences.as_ref().map_or(ws.name.span(), Spanned::span),
        );
        let capacity_release = self.enum_value(&ws.capacity_release, CapacityRelease::AtClose);

        let mut variables = Vec::new();
        if channel == Channel::Voice {
            // A call's numbers, as Omnichannel's voice-only context variables (the hub sets
            // them; rules may route on them).
            for var in [
                botframework::omnichannel::CUSTOMER_PHONE_NUMBER,
                botframework::omnichannel::ORGANIZATION_PHONE_NUMBER,
            ] {
                if !ws.variables.keys().any(|k| k.get_ref() == var) {
                    variables.push(ContextVarDef {
                        name: ContextVarName::new(var).expect("a valid name"),
                        kind: VarType::Text,
                    });
                }
            }
        }
        for (var, kind) in &ws.variables {
            let kind = self.enum_value(&Some(kind.clone()), VarType::Text);
            match ContextVarName::new(var.get_ref().clone()) {
                Ok(name) => variables.push(ContextVarDef { name, kind }),
                Err(e) => self.error(
                    var.span(),
                    format!("invalid context variable name `{}`: {e}", var.get_ref()),
                    None,
                ),
            }
        }

        let fallback = match &ws.fallback_queue {
            Some(f) => {
                spans.fallback.insert(key.clone(), f.span());
                self.name(f, "queue name", QueueName::new)
            }
            None => {
                self.error(
                    ws.name.span(),
                    format!("workstream `{key}` has no fallback queue"),
                    Some("add `fallback_queue = \"<queue>\"`: conversations that match no rule go there".into()),
                );
                None
            }
        };

        let mut rules = Vec::new();
        for r in &ws.rules {
            let rk = (key.clone(), r.name.get_ref().clone());
            spans.rules.entry(rk.clone()).or_default().push(r.name.span());
            spans.rule_queue.insert(rk.clone(), r.queue.span());
            spans.rule_condition.insert(rk, r.condition.span());
            let rule_name = self.name(&r.name, "rule name", RuleName::new);
            let queue = self.name(&r.queue, "queue name", QueueName::new);
            let condition = match parse_condition(r.condition.get_ref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    let span = self.map_into_string(&r.condition, e.span.start..e.span.end);
                    self.error(
                        span,
                        format!("rule `{}`: {}", r.name.get_ref(), e.message),
                        e.help.clone(),
                    );
                    None
                }
            };
            if let (Some(name), Some(queue), Some(condition)) = (rule_name, queue, condition) {
                rules.push(Rule { name, condition, queue });
            }
        }

        let mut allowed_presences = Vec::new();
        match &ws.allowed_presences {
            Some(list) => {
                for p in list.get_ref() {
                    allowed_presences.push(self.enum_value(&Some(p.clone()), Presence::Available));
                }
            }
            None => allowed_presences.extend(Presence::DEFAULT_ALLOWED),
        }

        let timers = self.timers(ws.timers.as_ref());
        spans
            .ws_companions
            .insert(key.clone(), ws.survey.as_ref().map_or(ws.name.span(), |s| s.bot.span()));
        let survey = ws.survey.as_ref().and_then(|raw| {
            let bot = self.name(&raw.bot, "survey bot name", UserName::new)?;
            let timeout = match &raw.timeout {
                Some(v) => self.duration(v),
                None => SurveySettings::DEFAULT_TIMEOUT,
            };
            Some(SurveySettings {
                bot,
                on_customer_end: raw.on_customer_end.unwrap_or(false),
                timeout,
            })
        });
        let smart_assist = ws
            .smart_assist_bots
            .iter()
            .filter_map(|b| self.name(b, "smart-assist bot name", UserName::new))
            .collect();
        let capacity = Capacity(ws.capacity.as_ref().map_or(1, |c| *c.get_ref()));
        Some(Workstream {
            name: name?,
            channel,
            mode,
            variables: ContextDefs::new(variables),
            rules,
            fallback_queue: fallback?,
            capacity,
            capacity_release,
            allowed_presences,
            auto_accept: ws.auto_accept.unwrap_or(false),
            timers,
            survey,
            smart_assist,
        })
    }

    /// The Direct Line channels: unique names and secrets, secrets of at least 16 characters,
    /// each feeding a chat workstream of this file.
    fn directline_channels(&mut self, raw: &RawConfig) -> Vec<DirectLineChannel> {
        let mut channels: Vec<DirectLineChannel> = Vec::new();
        for d in &raw.directline {
            let name = d.name.get_ref();
            if channels.iter().any(|c| &c.name == name) {
                self.error(
                    d.name.span(),
                    format!("Direct Line channel `{name}` is defined twice"),
                    Some("give each [[directline]] its own name".into()),
                );
                continue;
            }
            let secret = d.secret.get_ref();
            if secret.chars().count() < 16 || secret.chars().any(char::is_whitespace) {
                self.error(
                    d.secret.span(),
                    "a Direct Line secret must be at least 16 characters without spaces",
                    Some("use a long random string, e.g. the output of `openssl rand -hex 24`".into()),
                );
                continue;
            }
            if channels.iter().any(|c| &c.secret == secret) {
                self.error(
                    d.secret.span(),
                    "two Direct Line channels share this secret",
                    Some("give each channel its own secret".into()),
                );
                continue;
            }
            let ws = raw
                .workstreams
                .iter()
                .find(|w| w.name.get_ref() == d.workstream.get_ref());
            match ws {
                None => {
                    self.error(
                        d.workstream.span(),
                        format!(
                            "Direct Line channel `{name}` names workstream `{}`, which is not defined",
                            d.workstream.get_ref()
                        ),
                        Some("name a workstream defined under [[workstreams]] (names are case-sensitive)".into()),
                    );
                    continue;
                }
                Some(w) if w.channel.as_ref().is_some_and(|c| c.get_ref() != "chat") => {
                    self.error(
                        d.workstream.span(),
                        format!("workstream `{}` is not a chat workstream", d.workstream.get_ref()),
                        Some("Direct Line feeds chat workstreams only".into()),
                    );
                    continue;
                }
                Some(_) => {}
            }
            let lifetime = match &d.token_lifetime {
                None => Duration::from_secs(u64::from(botframework::directline::DEFAULT_TOKEN_LIFETIME_SECS)),
                Some(v) => match parse_duration(v.get_ref()) {
                    Ok(d) if d >= Duration::from_secs(60) => d,
                    _ => {
                        self.error(
                            v.span(),
                            "invalid token lifetime",
                            Some("write a duration of at least a minute, e.g. \"30m\"".into()),
                        );
                        continue;
                    }
                },
            };
            channels.push(DirectLineChannel {
                name: name.clone(),
                secret: secret.clone(),
                workstream: d.workstream.get_ref().clone(),
                token_lifetime_secs: lifetime.as_secs(),
            });
        }
        channels
    }

    /// How a signed bot's tokens are checked: all three `token_*` keys for a bot with an app id,
    /// none for an anonymous one.
    fn bot_token_policy(&mut self, bot: &RawBot, app_id: &str) -> Option<BotTokenPolicy> {
        let given = bot.token_issuers.is_some() || bot.token_audience.is_some() || bot.token_jwks_url.is_some();
        if app_id.is_empty() {
            if given {
                self.error(
                    bot.name.span(),
                    format!("bot `{}` has token_* settings but no app_id", bot.name.get_ref()),
                    Some("token_issuers, token_audience and token_jwks_url check a signed bot's tokens; set its app_id, or remove them for an anonymous bot".into()),
                );
            }
            return None;
        }
        let span = bot.app_id.as_ref().map_or(bot.name.span(), |a| a.span());
        match (&bot.token_issuers, &bot.token_audience, &bot.token_jwks_url) {
            (Some(issuers), Some(audience), Some(jwks)) if !issuers.is_empty() && !audience.is_empty() => {
                if Endpoint::parse(jwks.get_ref()).is_err() {
                    self.error(
                        jwks.span(),
                        format!("token_jwks_url `{}` is not an absolute http(s) URL", jwks.get_ref()),
                        Some("for Entra ID: \"https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys\"".into()),
                    );
                    return None;
                }
                Some(BotTokenPolicy {
                    issuers: issuers.clone(),
                    audience: audience.clone(),
                    jwks_url: jwks.get_ref().clone(),
                })
            }
            _ => {
                self.error(
                    span,
                    format!(
                        "bot `{}` has an app id, so the hub must be told how to check the tokens it sends",
                        bot.name.get_ref()
                    ),
                    Some("set token_issuers (a non-empty list), token_audience and token_jwks_url; see docs/bots.md, \"Signed bots\"".into()),
                );
                None
            }
        }
    }

    fn timers(&mut self, raw: Option<&RawTimers>) -> Timers {
        let mut t = Timers::default();
        let Some(raw) = raw else { return t };
        for (slot, value) in [
            (&mut t.customer_inactivity, &raw.customer_inactivity),
            (&mut t.wrap_up, &raw.wrap_up),
            (&mut t.offer_timeout, &raw.offer_timeout),
            (&mut t.agent_reconnect_grace, &raw.agent_reconnect_grace),
        ] {
            if let Some(v) = value {
                *slot = self.duration(v);
            }
        }
        t
    }

    /// A duration setting; a bad one is reported and read as zero.
    fn duration(&mut self, v: &Spanned<RawDuration>) -> Duration {
        parse_duration(v.get_ref()).unwrap_or_else(|msg| {
            self.diags.push(Diagnostic {
                span: v.span(),
                message: msg,
                help: Some("write whole seconds (90) or a number with a unit: \"90s\", \"10m\", \"1h\"".into()),
            });
            Duration::ZERO
        })
    }

    /// Maps a byte range inside a string value's *decoded* text to a range in the file.
    fn map_into_string(&self, value: &Spanned<String>, inner: Range<usize>) -> Range<usize> {
        let span = value.span();
        let raw = &self.text[span.clone()];
        let map = |offset: usize| span.start + decoded_to_raw_offset(raw, offset).unwrap_or(0);
        map(inner.start)..map(inner.end).max(map(inner.start) + 1)
    }

    fn span_of(&self, e: &TenantError, s: &Spans) -> Range<usize> {
        let nth = |m: &BTreeMap<String, Vec<Range<usize>>>, k: &str, n: usize| {
            m.get(k).and_then(|v| v.get(n).or(v.first()).cloned())
        };
        let ws_place = |ws: &WorkstreamName, place: &QueueRef| match place {
            QueueRef::Fallback => s.fallback.get(ws.as_str()).cloned(),
            QueueRef::Rule(r) => s.rule_queue.get(&(ws.to_string(), r.to_string())).cloned(),
        };
        let span = match e {
            TenantError::DuplicateUser(u) => nth(&s.users, u.as_str(), 1),
            TenantError::DuplicateAppId { bot, .. } => nth(&s.users, bot.as_str(), 0),
            TenantError::DuplicateQueue(q) => nth(&s.queues, q.as_str(), 1),
            TenantError::DuplicateMember { queue, member } => s
                .members
                .get(&(queue.to_string(), member.to_string()))
                .and_then(|v| v.get(1).cloned()),
            TenantError::UnknownMember { queue, member } => s
                .members
                .get(&(queue.to_string(), member.to_string()))
                .and_then(|v| v.first().cloned()),
            TenantError::DuplicateWorkstream(w) => nth(&s.workstreams, w.as_str(), 1),
            TenantError::DuplicateRule { workstream, rule } => s
                .rules
                .get(&(workstream.to_string(), rule.to_string()))
                .and_then(|v| v.get(1).cloned()),
            TenantError::UnknownQueue { workstream, place, .. }
            | TenantError::BotInPickWorkstream { workstream, place, .. } => {
                let at = ws_place(workstream, place);
                if matches!(e, TenantError::BotInPickWorkstream { .. }) {
                    s.ws_mode.get(workstream.as_str()).cloned().or(at)
                } else {
                    at
                }
            }
            TenantError::Condition {
                workstream,
                rule,
                error,
            } => {
                let key = (workstream.to_string(), rule.to_string());
                s.rule_condition.get(&key).map(|span| {
                    let raw = &self.text[span.clone()];
                    let map = |o: usize| span.start + decoded_to_raw_offset(raw, o).unwrap_or(0);
                    map(error.span.start)..map(error.span.end).max(map(error.span.start) + 1)
                })
            }
            TenantError::VoiceMustBePush(w) => s.ws_mode.get(w.as_str()).or(s.ws_channel.get(w.as_str())).cloned(),
            TenantError::ZeroCapacity(w) => s.ws_capacity.get(w.as_str()).cloned(),
            TenantError::NoAllowedPresence(w) => s.ws_presences.get(w.as_str()).cloned(),
            TenantError::NotABot { workstream, .. } => s.ws_companions.get(workstream.as_str()).cloned(),
        };
        span.unwrap_or(0..0)
    }
}

/// Channel ids appear in URLs and are compared ordinally by the SDKs: keep them plain.
/// A plausible BCP 47 tag: letters, digits and hyphens, starting with a 2–3 letter language.
fn is_locale(s: &str) -> bool {
    let mut parts = s.split('-');
    let language = parts.next().unwrap_or_default();
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_channel_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Agents' capacity when the file does not say.
pub const DEFAULT_AGENT_CAPACITY: u32 = 10;

/// Parses `90`, `"90s"`, `"10m"`, `"1h"`, `"500ms"`.
fn parse_duration(raw: &RawDuration) -> Result<Duration, String> {
    let text = match raw {
        RawDuration::Seconds(s) => return Ok(Duration::from_secs(*s)),
        RawDuration::Text(t) => t.trim(),
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration"))?;
    let factor_ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        other => return Err(format!("`{other}` is not a duration unit in `{text}`")),
    };
    Ok(Duration::from_millis(n.saturating_mul(factor_ms)))
}

/// For a TOML string token `raw` (with its quotes), the offset within `raw` of the byte at
/// `decoded` in the string's value. Escapes in basic strings are accounted for, so an error
/// inside a condition points at the right column whichever quoting the file uses.
fn decoded_to_raw_offset(raw: &str, decoded: usize) -> Option<usize> {
    let (open, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return None;
    };
    let mut i = open;
    // A newline right after a multi-line opening delimiter is not part of the value.
    if open == 3 {
        if raw[i..].starts_with("\r\n") {
            i += 2;
        } else if raw[i..].starts_with('\n') {
            i += 1;
        }
    }
    let bytes = raw.as_bytes();
    let mut d = 0;
    while d < decoded && i < raw.len() {
        if basic && bytes[i] == b'\\' {
            let (raw_len, value_len) = match bytes.get(i + 1) {
                Some(b'u') => (6, char_len_of_escape(&raw[i + 2..(i + 6).min(raw.len())])),
                Some(b'U') => (10, char_len_of_escape(&raw[i + 2..(i + 10).min(raw.len())])),
                _ => (2, 1),
            };
            i += raw_len;
            d += value_len;
        } else {
            let ch = raw[i..].chars().next()?;
            i += ch.len_utf8();
            d += ch.len_utf8();
        }
    }
    Some(i.min(raw.len()))
}

fn char_len_of_escape(hex: &str) -> usize {
    u32::from_str_radix(hex, 16)
        .ok()
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> ConfigErrors {
        load("test.toml", text).expect_err("the configuration should be refused")
    }

    #[test]
    fn the_built_in_sample_configuration_is_valid() {
        let config = load(SAMPLE_NAME, SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        let ws = config.tenant.workstream("ChatWorkStream").unwrap();
        let names: Vec<_> = ws.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["BotRule", "CreditCardRule", "HomeLoanRule"]);
        assert!(config.tenant.queue("BotQueue").is_some());
    }

    #[test]
    fn metering_is_off_without_its_section_and_a_bad_when_spent_is_named() {
        use domain::metering::{Entitlement, WhenSpent};
        let with = |text: &str| format!("{SAMPLE}\n[metering]\n{text}\n");
        assert_eq!(load(SAMPLE_NAME, SAMPLE).unwrap().metering, None);
        let policy = load("test.toml", &with("licences = 3\nadd_ons = 2"))
            .unwrap()
            .metering
            .unwrap();
        assert_eq!(
            policy.entitlement,
            Entitlement {
                licences: 3,
                add_ons: 2
            }
        );
        assert_eq!(
            (policy.entitlement.sessions(), policy.when_spent),
            (350, WhenSpent::Serve)
        );
        let policy = load("test.toml", &with("licences = 1\nwhen_spent = \"route_to_people\""))
            .unwrap()
            .metering
            .unwrap();
        assert_eq!(policy.when_spent, WhenSpent::RouteToPeople);
        let e = errors(&with("when_spent = \"stop\"")).to_string();
        assert!(e.contains("invalid when_spent") && e.contains("route_to_people"), "{e}");
        let e = errors(&with("licenses = 1")).to_string();
        assert!(e.contains("licenses"), "{e}");
    }

    #[test]
    fn limits_have_defaults_zero_turns_the_rate_off_and_a_zero_burst_is_refused() {
        let with = |text: &str| format!("{SAMPLE}\n[limits]\n{text}\n");
        assert_eq!(load(SAMPLE_NAME, SAMPLE).unwrap().limits, Limits::default());
        let config = load("test.toml", &with("customer_activities_per_second = 0")).unwrap();
        assert_eq!(config.limits.customer_activities_per_second, None);
        let config = load(
            "test.toml",
            &with("customer_activities_per_second = 2\ncustomer_activity_burst = 5"),
        )
        .unwrap();
        assert_eq!(
            (
                config.limits.customer_activities_per_second.map(|n| n.get()),
                config.limits.customer_activity_burst.get()
            ),
            (Some(2), 5)
        );
        let e = errors(&with("customer_activity_burst = 0")).to_string();
        assert!(e.contains("invalid customer_activity_burst"), "{e}");
        let e = errors(&with("per_minute = 3")).to_string();
        assert!(e.contains("per_minute"), "{e}");
    }

    #[test]
    fn security_takes_addresses_networks_and_origins_and_names_what_is_wrong() {
        let with = |text: &str| format!("{SAMPLE}\n[security]\n{text}\n");
        let defaults = load(SAMPLE_NAME, SAMPLE).unwrap().security;
        assert_eq!(defaults, SecuritySettings::default());
        assert!(defaults.trusted_proxies.is_empty());
        let config = load(
            "test.toml",
            &with(
                "trusted_proxies = [\"10.0.0.1\", \"10.1.0.0/16\"]\nanonymous_bot_networks = [\"::1/128\"]\n\
                 embed_origins = [\"https://www.contoso.com\", \"http://localhost:3000\"]",
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let nets = |v: &[ipnet::IpNet]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(nets(&config.security.trusted_proxies), ["10.0.0.1/32", "10.1.0.0/16"]);
        assert_eq!(nets(&config.security.anonymous_bot_networks), ["::1/128"]);
        assert_eq!(
            config.security.embed_origins,
            ["https://www.contoso.com", "http://localhost:3000"]
        );
        let e = errors(&with("trusted_proxies = [\"10.0.0.0/33\", \"proxy.local\"]")).to_string();
        assert!(
            e.contains("`10.0.0.0/33` in trusted_proxies is not an address or a network"),
            "{e}"
        );
        assert!(e.contains("`proxy.local` in trusted_proxies"), "{e}");
        let e = errors(&with("embed_origins = [\"https://www.contoso.com/chat\"]")).to_string();
        assert!(e.contains("is not an origin"), "{e}");
        let e = errors(&format!("{SAMPLE}\n[limits]\nsign_in_account_failures = 0\n")).to_string();
        assert!(e.contains("invalid sign_in_account_failures"), "{e}");
    }

    #[test]
    fn the_bot_timeout_is_a_positive_duration() {
        let with =
            |value: &str| SAMPLE.replacen("[tenant]", &format!("[channel]\nbot_timeout = {value}\n\n[tenant]"), 1);
        let config = load("test.toml", &with("\"2s\"")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.channel.bot_timeout, Some(Duration::from_secs(2)));
        assert_eq!(load(SAMPLE_NAME, SAMPLE).unwrap().channel.bot_timeout, None);
        for bad in ["\"0s\"", "\"soon\""] {
            let e = errors(&with(bad)).to_string();
            assert!(e.contains("invalid bot_timeout") && e.contains("\"15s\""), "{bad}: {e}");
        }
    }

    #[test]
    fn offsets_inside_strings_account_for_quotes_and_escapes() {
        assert_eq!(decoded_to_raw_offset("'abc'", 1), Some(2));
        assert_eq!(decoded_to_raw_offset(r#""a\"b""#, 2), Some(4));
        assert_eq!(decoded_to_raw_offset("\"\"\"\nab\"\"\"", 1), Some(5));
        assert_eq!(decoded_to_raw_offset(r#""\u00e9x""#, 2), Some(7));
    }

    #[test]
    fn durations_take_seconds_or_a_unit() {
        assert_eq!(
            parse_duration(&RawDuration::Seconds(90)).unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_duration(&RawDuration::Text("10m".into())).unwrap(),
            Duration::from_secs(600)
        );
        assert_eq!(
            parse_duration(&RawDuration::Text("250ms".into())).unwrap(),
            Duration::from_millis(250)
        );
        assert!(parse_duration(&RawDuration::Text("soon".into())).is_err());
        assert!(parse_duration(&RawDuration::Text("5 days".into())).is_err());
    }

    const BASE: &str = r#"
[tenant]
name = "Contoso"

[[bots]]
name = "DemoBot"
endpoint = "http://127.0.0.1:3978/api/messages"

[[agents]]
name = "alice"

[[queues]]
name = "BotQueue"
members = ["DemoBot"]

[[queues]]
name = "AgentQueue"
members = ["alice"]

[[workstreams]]
name = "Chat"
fallback_queue = "AgentQueue"
variables = { Topic = "text", Amount = "number" }

[[workstreams.rules]]
name = "BotRule"
condition = 'Topic does not contain data'
queue = "BotQueue"
"#;

    #[test]
    fn a_minimal_configuration_gets_documented_defaults() {
        let config = load("test.toml", BASE).unwrap_or_else(|e| panic!("{e}"));
        let ws = config.tenant.workstream("Chat").unwrap();
        assert_eq!(
            (ws.channel, ws.mode, ws.capacity, ws.capacity_release),
            (
                Channel::Chat,
                DistributionMode::Push,
                Capacity(1),
                CapacityRelease::AtClose
            )
        );
        assert_eq!(ws.allowed_presences, Presence::DEFAULT_ALLOWED);
        assert_eq!(ws.timers, Timers::default());
        let bot = config.tenant.user("DemoBot").unwrap();
        let UserKind::Bot(profile) = &bot.kind else {
            panic!("DemoBot is a bot")
        };
        assert_eq!(
            (
                profile.channel_id.as_str(),
                profile.require_bridged,
                profile.is_anonymous()
            ),
            ("directline", false, true)
        );
        let alice = config.tenant.user("alice").unwrap();
        assert_eq!(alice.display_name.as_str(), "alice");
        assert_eq!(
            alice.kind,
            UserKind::Human {
                role: Role::Agent,
                capacity: Capacity(DEFAULT_AGENT_CAPACITY)
            }
        );
    }

    #[test]
    fn a_rule_pointing_to_a_missing_queue_names_the_file_line_and_queue() {
        let text = BASE.replace("queue = \"BotQueue\"", "queue = \"NoSuchQueue\"");
        let e = errors(&text);
        let shown = e.to_string();
        let line = text.lines().position(|l| l.contains("NoSuchQueue")).unwrap() + 1;
        assert!(shown.starts_with(&format!("test.toml:{line}:9: error:")), "{shown}");
        assert!(shown.contains("NoSuchQueue"), "{shown}");
        assert!(shown.contains("help: define the queue"), "{shown}");
    }

    #[test]
    fn every_problem_is_reported_at_its_own_place() {
        let text = BASE
            .replace("members = [\"alice\"]", "members = [\"alice\", \"bob\"]")
            .replace("name = \"AgentQueue\"", "name = \"BotQueue\"")
            .replace(
                "fallback_queue = \"AgentQueue\"",
                "fallback_queue = \"AgentQueue\"\nmode = \"pick\"",
            );
        let e = errors(&text);
        let messages: Vec<_> = e.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("member `bob`")), "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("queue `BotQueue` is defined more than once")),
            "{messages:?}"
        );
        assert!(messages.iter().any(|m| m.contains("pick workstream")), "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("`AgentQueue`, which is not defined")),
            "{messages:?}"
        );
        let bob = text.find("\"bob\"").unwrap();
        assert!(e.diagnostics.iter().any(|d| d.span.start == bob));
    }

    #[test]
    fn condition_errors_point_inside_the_condition() {
        let text = BASE.replace("'Topic does not contain data'", "'Topic equal \"x\"'");
        let e = errors(&text);
        let d = &e.diagnostics[0];
        assert_eq!(d.span.start, text.find("equal \"x\"").unwrap(), "{e}");

        let text = BASE.replace("'Topic does not contain data'", "'Amount > 3 and Topc equals \"x\"'");
        let e = errors(&text);
        assert_eq!(e.diagnostics[0].span.start, text.find("Topc").unwrap(), "{e}");
        assert!(e.diagnostics[0].message.contains("Topc"), "{e}");

        let text = BASE.replace("'Topic does not contain data'", "'Topic > 3'");
        let e = errors(&text);
        assert!(e.diagnostics[0].message.contains("Topic"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_by_position() {
        let text = BASE.replace("fallback_queue", "fallback_queu");
        let e = errors(&text);
        assert!(
            e.diagnostics[0].message.contains("unknown field `fallback_queu`"),
            "{e}"
        );
        let (line, _) = e.line_col(e.diagnostics[0].span.start);
        assert_eq!(
            line,
            text.lines().position(|l| l.contains("fallback_queu")).unwrap() + 1
        );

        let text = BASE.replace(
            "[[agents]]\nname = \"alice\"",
            "[[agents]]\nname = \"alice\"\nrole = \"boss\"",
        );
        let e = errors(&text);
        assert!(e.to_string().contains("use one of: agent, supervisor, admin"), "{e}");

        let text = BASE.replace("http://127.0.0.1:3978/api/messages", "localhost:3978");
        assert!(errors(&text).to_string().contains("invalid bot endpoint"));

        let text = BASE.replace(
            "name = \"DemoBot\"\n",
            "name = \"DemoBot\"\nchannel_id = \"direct line\"\n",
        );
        let e = errors(&text);
        assert!(e.to_string().contains("invalid channel id `direct line`"), "{e}");
        assert_eq!(e.diagnostics[0].span.start, text.find("\"direct line\"").unwrap());

        let text = BASE.replace(
            "name = \"DemoBot\"\n",
            "name = \"DemoBot\"\nchannel_id = \"lcw\"\nrequire_bridged = true\n",
        );
        let config = load("test.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let UserKind::Bot(profile) = &config.tenant.user("DemoBot").unwrap().kind else {
            panic!("DemoBot is a bot")
        };
        assert_eq!((profile.channel_id.as_str(), profile.require_bridged), ("lcw", true));
    }

    #[test]
    fn a_syntax_error_does_not_hide_other_errors_nor_add_follow_on_noise() {
        let text = BASE
            .replace("'Topic does not contain data'", "'Topic equal \"x\"'")
            .replace("fallback_queue = \"AgentQueue\"", "fallback_queue = \"NoQueue\"")
            .replace("http://127.0.0.1:3978/api/messages", "not a url");
        let e = errors(&text);
        let messages: Vec<_> = e.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{e}");
        assert!(messages.iter().any(|m| m.contains("expected an operator")), "{e}");
        assert!(
            messages.iter().any(|m| m.contains("`NoQueue`, which is not defined")),
            "{e}"
        );
        assert!(messages.iter().any(|m| m.contains("invalid bot endpoint")), "{e}");
        assert!(
            !messages.iter().any(|m| m.contains("member `DemoBot`")),
            "the refused bot is not reported again: {e}"
        );
    }

    #[test]
    fn signed_bots_need_their_token_settings_and_anonymous_bots_refuse_them() {
        let bot = "name = \"DemoBot\"\nendpoint = \"http://127.0.0.1:3978/api/messages\"\n";
        let cases = [
            (
                "app_id = \"A\"\n",
                "has an app id, so the hub must be told how to check the tokens",
            ),
            (
                "app_id = \"A\"\ntoken_issuers = []\ntoken_audience = \"api://hub\"\ntoken_jwks_url = \"https://idp/keys\"\n",
                "set token_issuers (a non-empty list)",
            ),
            (
                "app_id = \"A\"\ntoken_issuers = [\"i\"]\ntoken_audience = \"api://hub\"\ntoken_jwks_url = \"keys\"\n",
                "is not an absolute http(s) URL",
            ),
            ("token_audience = \"api://hub\"\n", "has token_* settings but no app_id"),
            ("builtin = \"echo\"\n", "unknown built-in bot `echo`"),
        ];
        for (extra, expected) in cases {
            let text = BASE.replacen(bot, &format!("{bot}{extra}"), 1);
            let e = errors(&text);
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
        let signed = BASE.replacen(
            bot,
            &format!("{bot}app_id = \"A\"\ntoken_issuers = [\"https://login.microsoftonline.com/t/v2.0\"]\ntoken_audience = \"api://hub\"\ntoken_jwks_url = \"https://login.microsoftonline.com/t/discovery/v2.0/keys\"\n"),
            1,
        );
        let config = load("test.toml", &signed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.bot_tokens["A"].audience, "api://hub");
        let sample = load(SAMPLE_NAME, SAMPLE).unwrap();
        assert_eq!(
            sample.builtin_bots.iter().map(|(b, _)| *b).collect::<Vec<_>>(),
            [BuiltinBot::Demo, BuiltinBot::Survey, BuiltinBot::Knowledge],
            "the sample runs the built-in demo, survey and knowledge bots"
        );
        assert_eq!(sample.locale, "en-US");
        let e = errors(&BASE.replacen(
            "name = \"Contoso\"",
            "name = \"Contoso\"\nlocale = \"english please\"",
            1,
        ));
        assert!(e.to_string().contains("invalid locale"), "{e}");
        let e = errors(&format!("[server]\npublic_url = \"hub.example.com\"\n{BASE}"));
        assert!(e.to_string().contains("is not an absolute http(s) URL"), "{e}");
    }

    #[test]
    fn direct_line_channels_need_a_long_unique_secret_and_a_chat_workstream() {
        let channel = |name: &str, secret: &str, ws: &str| {
            format!("[[directline]]\nname = \"{name}\"\nsecret = \"{secret}\"\nworkstream = \"{ws}\"\n")
        };
        let good = "0123456789abcdef-one";
        let cases = [
            (channel("web", "short", "Chat"), "at least 16 characters"),
            (
                channel("web", good, "Nope"),
                "names workstream `Nope`, which is not defined",
            ),
            (
                format!(
                    "{}{}",
                    channel("web", good, "Chat"),
                    channel("web", "0123456789abcdef-two", "Chat")
                ),
                "defined twice",
            ),
            (
                format!("{}{}", channel("web", good, "Chat"), channel("app", good, "Chat")),
                "share this secret",
            ),
        ];
        for (extra, expected) in cases {
            let e = errors(&format!("{extra}{BASE}"));
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
        let config =
            load("test.toml", &format!("{}{BASE}", channel("web", good, "Chat"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.directline[0].token_lifetime_secs, 1800);
        assert_eq!(load(SAMPLE_NAME, SAMPLE).unwrap().directline[0].name, "website");
    }

    #[test]
    fn the_voice_section_is_read_and_its_mistakes_reported() {
        let voice_ws = "\n[[workstreams]]\nname = \"Calls\"\nchannel = \"voice\"\nfallback_queue = \"AgentQueue\"\n";
        let good = format!(
            "{BASE}{voice_ws}\n[voice]\nsip = \"127.0.0.1:5070\"\nrtp_ports = \"40000-40009\"\norganization_number = \"+1800\"\nbot_call_limit = \"30m\"\n\n[voice.numbers]\n\"+1800\" = \"Calls\"\n"
        );
        let config = load("test.toml", &good).unwrap_or_else(|e| panic!("{e}"));
        let v = config.voice.expect("a voice section");
        assert_eq!(v.sip.to_string(), "127.0.0.1:5070");
        assert_eq!(v.settings.media_address.to_string(), "127.0.0.1");
        assert_eq!(v.settings.rtp_ports, Some((40000, 40009)));
        assert_eq!(v.settings.workstream, "Calls");
        assert_eq!(v.settings.numbers["+1800"], "Calls");
        assert_eq!(v.settings.bot_call_limit, Duration::from_secs(1800));
        assert_eq!(v.settings.dtmf_pause, voice::calls::VoiceSettings::DEFAULT_DTMF_PAUSE);
        // The hub sets the call's numbers, so a voice workstream has them as context variables.
        let ws = config.tenant.workstream("Calls").unwrap();
        assert_eq!(ws.variables.get("CustomerPhoneNumber"), Some(VarType::Text));

        let cases = [
            (
                format!("{BASE}{voice_ws}\n[voice]\nsip = \"localhost\"\n"),
                "invalid SIP address `localhost`",
            ),
            (
                format!("{BASE}{voice_ws}\n[voice]\nsip = \"0.0.0.0:5060\"\n"),
                "needs a media address",
            ),
            (
                format!("{BASE}{voice_ws}\n[voice]\nsip = \"127.0.0.1:5060\"\nrtp_ports = \"9-3\"\n"),
                "invalid RTP port range `9-3`",
            ),
            (
                format!("{BASE}{voice_ws}\n[voice]\nsip = \"127.0.0.1:5060\"\nworkstream = \"Chat\"\n"),
                "workstream `Chat` is not a voice workstream",
            ),
            (
                format!("{BASE}{voice_ws}\n[voice]\nsip = \"127.0.0.1:5060\"\n[voice.numbers]\n\"+1\" = \"Nope\"\n"),
                "there is no workstream named `Nope`",
            ),
            (
                format!("{BASE}\n[voice]\nsip = \"127.0.0.1:5060\"\n"),
                "the voice channel needs a voice workstream",
            ),
            (
                format!("{BASE}{voice_ws}\n[voice]\nsip = \"127.0.0.1:5060\"\nbot_call_limit = \"soon\"\n"),
                "bot_call_limit",
            ),
        ];
        for (text, expected) in cases {
            let e = errors(&text);
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
    }

    #[test]
    fn product_rules_on_workstreams_are_enforced() {
        let cases = [
            (
                "name = \"Chat\"\n",
                "name = \"Chat\"\nchannel = \"voice\"\nmode = \"pick\"\n",
                "voice workstreams must be push",
            ),
            (
                "name = \"Chat\"\n",
                "name = \"Chat\"\ncapacity = 0\n",
                "0 capacity units",
            ),
            (
                "name = \"Chat\"\n",
                "name = \"Chat\"\nallowed_presences = []\n",
                "allows no presence",
            ),
            (
                "name = \"Chat\"\n",
                "name = \"Chat\"\nallowed_presences = [\"sleeping\"]\n",
                "`sleeping` is not a valid Presence",
            ),
            (
                "name = \"Chat\"\n",
                "name = \"Chat\"\ntimers = { wrap_up = \"2 weeks\" }\n",
                "is not a duration unit",
            ),
        ];
        for (from, to, expected) in cases {
            let text = BASE.replacen(from, to, 1);
            let e = errors(&text);
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
    }

    #[test]
    fn duplicates_are_reported_at_the_second_occurrence() {
        let cases = [
            (
                "[[agents]]\nname = \"alice\"\n",
                "[[agents]]\nname = \"alice\"\n[[agents]]\nname = \"alice\"\n",
                "user `alice` is defined more than once",
            ),
            (
                "members = [\"alice\"]",
                "members = [\"alice\", \"alice\"]",
                "lists member `alice` more than once",
            ),
            (
                "queue = \"BotQueue\"\n",
                "queue = \"BotQueue\"\n[[workstreams.rules]]\nname = \"BotRule\"\ncondition = 'Amount > 1'\nqueue = \"AgentQueue\"\n",
                "more than one rule named `BotRule`",
            ),
            (
                "endpoint = \"http://127.0.0.1:3978/api/messages\"\n",
                "endpoint = \"http://127.0.0.1:3978/api/messages\"\napp_id = \"A\"\n[[bots]]\nname = \"Bot2\"\napp_id = \"A\"\nendpoint = \"http://127.0.0.1:3979/api/messages\"\n",
                "have the same app id `A`",
            ),
        ];
        for (from, to, expected) in cases {
            let text = BASE.replacen(from, to, 1);
            let e = errors(&text);
            assert!(e.to_string().contains(expected), "{expected}: {e}");
            let (line, _) = e.line_col(e.diagnostics[0].span.start);
            assert!(line > 1, "{e}");
        }
        let text = BASE.replacen(
            "[[agents]]\nname = \"alice\"\n",
            "[[agents]]\nname = \"alice\"\n[[agents]]\nname = \"alice\"\n",
            1,
        );
        let e = errors(&text);
        let second = text.match_indices("name = \"alice\"").nth(1).unwrap().0 + "name = ".len();
        assert_eq!(e.diagnostics[0].span.start, second, "{e}");
    }

    #[test]
    fn a_workstream_without_a_fallback_queue_is_refused() {
        let text = BASE.replace("fallback_queue = \"AgentQueue\"\n", "");
        let e = errors(&text);
        assert!(e.to_string().contains("has no fallback queue"), "{e}");
    }
}
