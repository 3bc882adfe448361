//! Who is on the other end of a request, and how much they may ask for.
//!
//! The client's address is the TCP peer's, unless the peer is one of the configured trusted
//! proxies (`[security] trusted_proxies`): then it is the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy. Anyone can write that header, so it is
//! believed only from a proxy the operator named; from anyone else it is ignored.
//!
//! [`ClientRate`] is a token bucket per client address (`governor`'s GCRA), used for what an
//! anonymous client could flood: minting Direct Line tokens and starting conversations. Over the
//! limit the caller gets 429 with `Retry-After`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::{ApiError, AppState};

/// A list of networks (`127.0.0.0/8`, `10.1.2.3/32`, `::1/128`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(pub Vec<IpNet>);

impl Networks {
    /// Loopback, IPv4 and IPv6: the default for what only the hub's own machine may do.
    pub fn loopback() -> Self {
        Self(vec![
            "127.0.0.0/8".parse().expect("a valid network"),
            "::1/128".parse().expect("a valid network"),
        ])
    }

    /// Whether `ip` is in one of the networks (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

/// `::ffff:1.2.3.4` as `1.2.3.4`, so IPv4 networks match dual-stack listeners.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address of the client that made a request (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client behind `peer`, given the request's headers and the trusted proxies.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &Networks) -> Self {
        let peer = canonical(peer);
        if !trusted_proxies.contains(peer) {
            return Self(peer);
        }
        // Proxies append the address they received from, so the list reads client, proxy 1, …;
        // walking from the right, the first address no trusted proxy holds is the client.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted_proxies.contains(**ip))
            .or_else(|| forwarded.first())
            .copied()
            .unwrap_or(peer);
        Self(client)
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| {
                ApiError::Internal(
                    "the HTTP server was started without connection info (serve with into_make_service_with_connect_info)"
                        .to_owned(),
                )
            })?;
        Ok(Self::resolve(peer, &parts.headers, &state.security.trusted_proxies))
    }
}

/// Over a [`ClientRate`]'s limit: what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub message: String,
    /// Whole seconds to wait, at least 1 (`Retry-After`).
    pub retry_after_secs: u64,
}

/// After this many checks the buckets of addresses that are full again are dropped, which keeps
/// the map to the addresses that asked recently.
const SWEEP_EVERY: u64 = 10_000;

/// A limit per client address: `burst` requests at once, then `per_minute`.
#[derive(Debug)]
pub struct ClientRate {
    /// What is limited, for the message ("token requests").
    what: &'static str,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    checks: AtomicU64,
}

impl ClientRate {
    pub fn new(what: &'static str, per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            what,
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            per_minute,
            burst,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from `client`'s bucket, or says when to try again.
    pub fn check(&self, client: ClientAddr) -> Result<(), Throttled> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&client.0).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("switchboard_client_rate_limited_total", "what" => self.what).increment(1);
            tracing::debug!(client.addr = %client.0, limit = self.what, wait_ms = wait.as_millis() as u64, "client rate-limited");
            Throttled {
                message: format!(
                    "too many {} from this address (more than {} at once or {} a minute); wait {} s and try again",
                    self.what,
                    self.burst,
                    self.per_minute,
                    retry_after(wait)
                ),
                retry_after_secs: retry_after(wait),
            }
        })
    }
}

impl From<Throttled> for crate::directline::DlError {
    fn from(t: Throttled) -> Self {
        crate::directline::DlError::TooManyRequests {
            message: t.message,
            retry_after_secs: t.retry_after_secs,
        }
    }
}

/// A wait as whole seconds for `Retry-After`, rounded up, at least 1.
pub fn retry_after(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// The limits and network rules of the public surfaces (`[security]` and `[limits]`).
#[derive(Debug, Default)]
pub struct Security {
    /// Proxies whose `X-Forwarded-For` is believed (see the module doc).
    pub trusted_proxies: Networks,
    /// Where anonymous bots (configured without an app id) may call the Connector API from.
    pub anonymous_bot_networks: Networks,
    /// Origins allowed to embed `/chat` in a frame (`frame-ancestors`), besides the hub itself.
    pub embed_origins: Vec<String>,
    /// Token requests and conversation starts by anonymous browsers: `/chat/token`, and starts
    /// with a token. `None`: no limit.
    pub public_starts: Option<ClientRate>,
    /// Token requests and conversation starts with a channel's secret (a site's backend).
    /// `None`: no limit.
    pub secret_starts: Option<ClientRate>,
}

impl Security {
    /// Counts one token request or conversation start by an anonymous browser.
    pub fn public_start(&self, client: ClientAddr) -> Result<(), Throttled> {
        self.public_starts.as_ref().map_or(Ok(()), |rate| rate.check(client))
    }

    /// Counts one token request or conversation start made with a channel's secret.
    pub fn secret_start(&self, client: ClientAddr) -> Result<(), Throttled> {
        self.secret_starts.as_ref().map_or(Ok(()), |rate| rate.check(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Networks {
        Networks(vec!["10.0.0.0/8".parse().unwrap()])
    }

    #[test]
    fn forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        assert_eq!(
            ClientAddr::resolve(ip("203.0.113.9"), &headers, &proxies()),
            ClientAddr(ip("203.0.113.9"))
        );
        assert_eq!(
            ClientAddr::resolve(ip("203.0.113.9"), &headers, &Networks::default()),
            ClientAddr(ip("203.0.113.9"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let mut headers = HeaderMap::new();
        // The client forged the first entry; the proxies appended the real one and themselves.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 198.51.100.7, 10.0.0.2"),
        );
        assert_eq!(
            ClientAddr::resolve(ip("10.0.0.1"), &headers, &proxies()),
            ClientAddr(ip("198.51.100.7"))
        );
        // Two header lines read as one list.
        let mut split = HeaderMap::new();
        split.append("x-forwarded-for", HeaderValue::from_static("198.51.100.8"));
        split.append("x-forwarded-for", HeaderValue::from_static("10.0.0.3"));
        assert_eq!(
            ClientAddr::resolve(ip("10.0.0.1"), &split, &proxies()),
            ClientAddr(ip("198.51.100.8"))
        );
        // A trusted proxy without the header is the client itself.
        assert_eq!(
            ClientAddr::resolve(ip("10.0.0.1"), &HeaderMap::new(), &proxies()),
            ClientAddr(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_networks() {
        assert!(Networks::loopback().contains(ip("::ffff:127.0.0.1")));
        assert!(Networks::loopback().contains(ip("::1")));
        assert!(!Networks::loopback().contains(ip("192.0.2.1")));
    }

    #[test]
    fn each_address_has_its_own_bucket_and_the_refusal_says_when_to_retry() {
        let rate = ClientRate::new(
            "token requests",
            NonZeroU32::new(1).unwrap(),
            NonZeroU32::new(2).unwrap(),
        );
        let (a, b) = (ClientAddr(ip("192.0.2.1")), ClientAddr(ip("192.0.2.2")));
        rate.check(a).unwrap();
        rate.check(a).unwrap();
        let refused = rate.check(a).unwrap_err();
        assert!(
            refused.retry_after_secs >= 1 && refused.retry_after_secs <= 60,
            "{refused:?}"
        );
        assert!(
            refused.message.contains("too many token requests"),
            "{}",
            refused.message
        );
        rate.check(b).unwrap();
    }
}
