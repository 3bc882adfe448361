//! What a run measured and proved, as a text table for people and one JSON object for scripts.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Where in a customer's conversation something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `POST /v3/directline/tokens/generate`.
    Token,
    /// `POST /v3/directline/conversations`.
    Conversation,
    /// The WebSocket at `streamUrl`.
    Stream,
    /// `POST .../activities`: sending a message.
    Post,
    /// `GET .../activities?watermark=`: polling.
    Poll,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Conversation => "conversation",
            Self::Stream => "stream",
            Self::Post => "post",
            Self::Poll => "poll",
        }
    }
}

/// A kind of failure, counted by kind in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The hub answered with a status that is not a success.
    Status { step: Step, status: u16 },
    /// No answer: the connection failed, or the request timed out.
    Transport { step: Step },
    /// An answer that is not what Direct Line sends (not JSON, no token, no `streamUrl`).
    Malformed { step: Step },
    /// The WebSocket closed while the customer was still waiting for replies.
    StreamClosed,
    /// A message's reply did not arrive within `--reply-timeout-ms`.
    ReplyTimeout,
}

impl fmt::Display for ErrorKind {
    /// A stable slug, used as the key in the report's `errors`: `post_http_502`, `reply_timeout`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status { step, status } => write!(f, "{}_http_{status}", step.as_str()),
            Self::Transport { step } => write!(f, "{}_transport", step.as_str()),
            Self::Malformed { step } => write!(f, "{}_malformed", step.as_str()),
            Self::StreamClosed => f.write_str("stream_closed"),
            Self::ReplyTimeout => f.write_str("reply_timeout"),
        }
    }
}

/// Latency percentiles of the measured round trips, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// The result of one run. Counts cover the measured messages; warm-up messages only count
/// towards `duplicates`, `unexpected` and the errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The hub's base URL.
    pub hub: String,
    /// `ws` or `polling`.
    pub transport: &'static str,
    /// The polling interval in milliseconds (polling only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    pub customers: usize,
    /// Customers that got a token, a conversation and (WebSocket) a stream.
    pub customers_ready: usize,
    pub messages_per_customer: usize,
    pub warmup_per_customer: usize,
    /// Seconds from the start until every customer was ready (or gave up).
    pub setup_s: f64,
    /// Seconds of the measured phase: from when all customers started sending until the last
    /// round trip (or until the run's time ran out).
    pub duration_s: f64,
    /// `customers × messages`: the round trips the run set out to make.
    pub planned: u64,
    /// Measured messages posted (whatever the hub answered).
    pub sent: u64,
    /// Measured messages the hub accepted.
    pub accepted: u64,
    /// Round trips timed: a message's reply came while the customer waited for it.
    pub round_trips: u64,
    /// Round trips per second over `duration_s`.
    pub throughput_per_s: f64,
    /// `None` when no round trip completed.
    pub latency_ms: Option<Latency>,
    /// Measured messages answered at least once (late replies included).
    pub replied: u64,
    pub duplicates: u64,
    /// Accepted messages never answered.
    pub missing: u64,
    pub out_of_order: u64,
    /// Replies to nothing the customer sent.
    pub unexpected: u64,
    /// Messages still awaited when the run stopped at `max_seconds`.
    pub cut_off: u64,
    /// Errors by kind (see [`ErrorKind`]'s slugs).
    pub errors: BTreeMap<String, u64>,
    pub max_seconds: f64,
    /// Whether the run stopped at `max_seconds` rather than finishing.
    pub stopped_by_deadline: bool,
    /// No duplicate, missing, out-of-order or unexpected reply.
    pub verified: bool,
    /// Verified, and every planned round trip completed without an error.
    pub ok: bool,
}

impl Report {
    /// The report as a two-column text table.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![
            ("hub", self.hub.clone()),
            (
                "transport",
                match self.poll_interval_ms {
                    Some(ms) => format!("{} (every {ms} ms)", self.transport),
                    None => self.transport.to_owned(),
                },
            ),
            (
                "customers",
                format!("{} ({} ready)", self.customers, self.customers_ready),
            ),
            (
                "messages",
                format!(
                    "{} each, {} in all (+{} warm-up each, not counted)",
                    self.messages_per_customer, self.planned, self.warmup_per_customer
                ),
            ),
            ("setup", format!("{:.3} s", self.setup_s)),
            ("duration", format!("{:.3} s", self.duration_s)),
            ("round trips", format!("{} of {}", self.round_trips, self.planned)),
            ("throughput", format!("{:.1} round trips/s", self.throughput_per_s)),
        ];
        match &self.latency_ms {
            Some(l) => {
                rows.push(("latency p50", format!("{:.2} ms", l.p50)));
                rows.push(("latency p90", format!("{:.2} ms", l.p90)));
                rows.push(("latency p99", format!("{:.2} ms", l.p99)));
                rows.push(("latency max", format!("{:.2} ms", l.max)));
            }
            None => rows.push(("latency", "no round trip completed".to_owned())),
        }
        rows.extend([
            ("sent / accepted", format!("{} / {}", self.sent, self.accepted)),
            ("replied", self.replied.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("missing", self.missing.to_string()),
            ("out of order", self.out_of_order.to_string()),
            ("unexpected", self.unexpected.to_string()),
            (
                "errors",
                if self.errors.is_empty() {
                    "none".to_owned()
                } else {
                    self.errors
                        .iter()
                        .map(|(kind, n)| format!("{kind}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            (
                "stopped",
                if self.stopped_by_deadline {
                    format!(
                        "at --max-seconds ({} s), {} reply awaited then",
                        self.max_seconds, self.cut_off
                    )
                } else {
                    "finished".to_owned()
                },
            ),
            (
                "verdict",
                if self.ok {
                    "OK: every reply arrived exactly once and in order".to_owned()
                } else if self.verified {
                    "INCOMPLETE: no reply was duplicated, lost or reordered, but not every round trip completed"
                        .to_owned()
                } else {
                    "FAILED: replies were duplicated, lost, reordered or misaddressed".to_owned()
                },
            ),
        ]);
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, value) in rows {
            out.push_str(&format!("{name:<width$}  {value}\n"));
        }
        out
    }

    /// The report as one JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize the report: {e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_stable_slugs() {
        let kinds = [
            (
                ErrorKind::Status {
                    step: Step::Post,
                    status: 502,
                },
                "post_http_502",
            ),
            (ErrorKind::Transport { step: Step::Token }, "token_transport"),
            (
                ErrorKind::Malformed {
                    step: Step::Conversation,
                },
                "conversation_malformed",
            ),
            (ErrorKind::StreamClosed, "stream_closed"),
            (ErrorKind::ReplyTimeout, "reply_timeout"),
        ];
        for (kind, slug) in kinds {
            assert_eq!(kind.to_string(), slug);
        }
    }
}
