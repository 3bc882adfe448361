//! Transcript search and export, shared by the API (`/api/v1/transcripts`) and the
//! `switchboard export` command: one way to read a search from text, one JSON shape and one
//! CSV layout (docs/transcripts.md).
//!
//! Exports are streamed: conversations are read a page at a time in creation order (keyset
//! paging), each written out with its routing trace and transcript before the next page is
//! read, so memory stays bounded whatever the range.

use std::sync::Arc;

use domain::activity::StoredActivity;
use domain::conversation::Conversation;
use domain::{ConversationState, Outcome, QueueName, Seq, Timestamp, UserName, WorkstreamName};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{ConversationFilter, RoutingRecord, Store, StoreError};

use crate::api::{item_json, rfc3339, summary_json};

/// How many conversations an export reads at a time.
pub const EXPORT_PAGE: u32 = 200;

/// How many log entries one transcript read takes.
const LOG_PAGE: u32 = 1_000;

/// A search as text, from a query string or the command line: every field optional, all that
/// are set must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Created on or after this day (`YYYY-MM-DD`, UTC) or instant (RFC 3339).
    pub from: Option<String>,
    /// Created on or before this day (the whole day), or before this instant.
    pub to: Option<String>,
    /// The customer's id, name or email contains this.
    pub customer: Option<String>,
    /// Last routed to this queue.
    pub queue: Option<String>,
    /// Owned by this agent at some point.
    pub agent: Option<String>,
    /// First owned by this bot.
    pub bot: Option<String>,
    /// Closed with this outcome: `resolved_by_bot`, `resolved_by_agent`, `abandoned`.
    pub outcome: Option<String>,
    /// In this state.
    pub state: Option<String>,
    pub workstream: Option<String>,
    /// A message's text contains this.
    pub text: Option<String>,
}

/// A search that does not parse: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct SearchError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl std::fmt::Display) -> SearchError {
    SearchError {
        field,
        message: message.to_string(),
    }
}

/// A day (`YYYY-MM-DD`) or an RFC 3339 instant as Unix milliseconds; for a day, the start of
/// the day, or with `end_of_day` the start of the next one.
pub fn parse_instant(field: &'static str, s: &str, end_of_day: bool) -> Result<Timestamp, SearchError> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(s, &day) {
        let date = if end_of_day {
            date.next_day().ok_or_else(|| bad(field, "the day is out of range"))?
        } else {
            date
        };
        let t = date.midnight().assume_utc();
        return Ok(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64));
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| {
        bad(
            field,
            format!("`{s}` is neither a day (YYYY-MM-DD) nor an RFC 3339 instant"),
        )
    })?;
    Ok(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// Empty text is the same as no value.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Search {
    /// The store filter for this search.
    pub fn filter(&self) -> Result<ConversationFilter, SearchError> {
        let mut f = ConversationFilter::all();
        if let Some(s) = given(&self.from) {
            f.created_from = Some(parse_instant("from", s, false)?);
        }
        if let Some(s) = given(&self.to) {
            f.created_before = Some(parse_instant("to", s, true)?);
        }
        if let (Some(from), Some(before)) = (f.created_from, f.created_before)
            && before <= from
        {
            return Err(bad("to", "the range ends before it starts"));
        }
        f.customer = given(&self.customer).map(str::to_owned);
        f.text = given(&self.text).map(str::to_owned);
        if let Some(s) = given(&self.queue) {
            f.queue = Some(QueueName::new(s).map_err(|e| bad("queue", e))?);
        }
        if let Some(s) = given(&self.workstream) {
            f.workstream = Some(WorkstreamName::new(s).map_err(|e| bad("workstream", e))?);
        }
        if let Some(s) = given(&self.agent) {
            f.agent = Some(UserName::new(s).map_err(|e| bad("agent", e))?);
        }
        if let Some(s) = given(&self.bot) {
            f.bot = Some(UserName::new(s).map_err(|e| bad("bot", e))?);
        }
        if let Some(s) = given(&self.outcome) {
            f.outcome = Some(s.parse::<Outcome>().map_err(|e| bad("outcome", e))?);
        }
        if let Some(s) = given(&self.state) {
            f.states
                .push(s.parse::<ConversationState>().map_err(|e| bad("state", e))?);
        }
        Ok(f)
    }
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON document: `{"conversations": [conversation, …]}`, each conversation its summary
    /// with `routing` and `transcript`.
    Json,
    /// One row per transcript item (a conversation with none gets one row with empty item
    /// columns), with the conversation's columns repeated.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!("`{other}` is not an export format; expected json or csv")),
        }
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 19] = [
    "conversation_id",
    "created_at",
    "closed_at",
    "workstream",
    "queue",
    "state",
    "outcome",
    "customer_id",
    "customer_name",
    "first_bot",
    "agents",
    "sentiment",
    "seq",
    "timestamp",
    "role",
    "name",
    "agents_only",
    "text",
    "message_sentiment",
];

/// Everything stored of one conversation that an export writes.
#[derive(Debug, Clone)]
pub struct Full {
    pub conversation: Conversation,
    pub routing: Vec<RoutingRecord>,
    pub log: Vec<StoredActivity>,
}

/// Reads a conversation's routing trace and whole log.
pub async fn load(store: &Arc<dyn Store>, conversation: Conversation) -> Result<Full, StoreError> {
    let routing = store.routing_history(conversation.id).await?;
    let mut log = Vec::new();
    let mut after = Seq::ZERO;
    loop {
        let page = store.activities_after(conversation.id, after, LOG_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == LOG_PAGE as usize;
        log.extend(page);
        if !full {
            break;
        }
    }
    Ok(Full {
        conversation,
        routing,
        log,
    })
}

/// A routing record as the API shows it.
pub fn routing_json(r: &RoutingRecord) -> Value {
    json!({
        "at": rfc3339(r.at),
        "cause": r.decision.cause,
        "queue": r.decision.queue,
        "rule": r.decision.rule,
        "trace": r.decision.trace,
    })
}

/// A conversation's sentiment over time: one point per scored customer message.
pub fn sentiment_timeline(log: &[StoredActivity]) -> Vec<Value> {
    log.iter()
        .filter_map(|a| {
            let s = a.activity.sentiment?;
            Some(json!({
                "seq": a.seq,
                "timestamp": rfc3339(a.activity.timestamp),
                "message": s.message.compound(),
                "score": s.conversation.compound(),
                "level": sentiment::Level::of(s.conversation.compound()).as_str(),
            }))
        })
        .collect()
}

/// A conversation as exports and `GET /api/v1/transcripts/{id}` show it.
pub fn full_json(full: &Full) -> Value {
    let mut body = summary_json(&full.conversation);
    if let Some(map) = body.as_object_mut() {
        map.insert("routing".into(), full.routing.iter().map(routing_json).collect());
        map.insert("transcript".into(), full.log.iter().filter_map(item_json).collect());
        map.insert("sentiment_timeline".into(), sentiment_timeline(&full.log).into());
    }
    body
}

/// Writes exports to a byte buffer, conversation by conversation.
#[derive(Debug)]
pub struct Writer {
    format: Format,
    written: u64,
}

impl Writer {
    /// A writer that has written nothing; [`Writer::begin`] gives the opening bytes.
    pub fn new(format: Format) -> Self {
        Self { format, written: 0 }
    }

    /// The start of the document: the CSV header, or the JSON object's opening.
    pub fn begin(&mut self) -> Vec<u8> {
        match self.format {
            Format::Json => b"{\"conversations\":[\n".to_vec(),
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(Vec::new());
                let _ = csv.write_record(CSV_COLUMNS);
                csv.into_inner().unwrap_or_default()
            }
        }
    }

    /// One conversation's bytes.
    pub fn conversation(&mut self, full: &Full) -> Vec<u8> {
        self.written += 1;
        match self.format {
            Format::Json => {
                let mut out = if self.written > 1 { b",\n".to_vec() } else { Vec::new() };
                // A JSON value always serialises.
                out.extend(serde_json::to_vec(&full_json(full)).unwrap_or_default());
                out
            }
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(Vec::new());
                csv_rows(&mut csv, full);
                csv.into_inner().unwrap_or_default()
            }
        }
    }

    /// The end of the document.
    pub fn end(&mut self) -> Vec<u8> {
        match self.format {
            Format::Json => b"\n]}\n".to_vec(),
            Format::Csv => Vec::new(),
        }
    }
}

/// One conversation's CSV rows. Writing to memory cannot fail.
fn csv_rows(csv: &mut csv::Writer<Vec<u8>>, full: &Full) {
    {
        let c = &full.conversation;
        let m = &c.milestones;
        let agents = m.agents.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" ");
        let head = [
            c.id.to_string(),
            rfc3339(c.created_at),
            m.closed_at.map(rfc3339).unwrap_or_default(),
            c.workstream.to_string(),
            c.queue.as_ref().map(ToString::to_string).unwrap_or_default(),
            c.state.as_str().to_owned(),
            c.outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
            c.customer.id.clone(),
            c.customer.name.clone().unwrap_or_default(),
            m.bot.as_ref().map(ToString::to_string).unwrap_or_default(),
            agents,
            format!("{:.4}", c.sentiment.compound()),
        ];
        let mut any = false;
        for stored in &full.log {
            let Some(item) = item_json(stored) else { continue };
            any = true;
            let text = |k: &str| match &item[k] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let row = head.iter().cloned().chain([
                stored.seq.0.to_string(),
                text("timestamp"),
                text("role"),
                text("name"),
                text("agents_only"),
                text("text"),
                stored
                    .activity
                    .sentiment
                    .map(|s| format!("{:.4}", s.message.compound()))
                    .unwrap_or_default(),
            ]);
            let _ = csv.write_record(row.map(formula_safe));
        }
        if !any {
            let _ = csv.write_record(
                head.iter()
                    .cloned()
                    .chain(std::iter::repeat_n(String::new(), 7))
                    .map(formula_safe),
            );
        }
    }
}

/// A CSV cell that a spreadsheet will show as text rather than run as a formula: a cell
/// starting with `=`, `@`, a tab or a carriage return, or with `+` or `-` unless the whole cell
/// is a number (a sentiment of `-0.4215` stays a number, `-2+3+cmd|…` does not run), gets a
/// leading `'`, which spreadsheets take as "this is text" and do not display.
fn formula_safe(cell: String) -> String {
    let risky = match cell.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => cell.parse::<f64>().is_err(),
        _ => false,
    };
    if risky { format!("'{cell}") } else { cell }
}

/// Streams every conversation `filter` selects (in creation order, [`EXPORT_PAGE`] at a time)
/// through `sink`, as `format`: `sink` gets the bytes to write and how many conversations are
/// done so far, and returns `false` to stop (the reader went away). Returns how many
/// conversations were written.
pub async fn export<F, Fut>(
    store: &Arc<dyn Store>,
    mut filter: ConversationFilter,
    format: Format,
    keep: impl Fn(&Conversation) -> bool,
    mut sink: F,
) -> Result<u64, StoreError>
where
    F: FnMut(Vec<u8>, u64) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut writer = Writer::new(format);
    if !sink(writer.begin(), 0).await {
        return Ok(0);
    }
    filter.limit = Some(EXPORT_PAGE);
    filter.after = None;
    let mut done = 0;
    loop {
        let page = store.list_conversations(&filter).await?;
        let Some(last) = page.last() else { break };
        filter = filter.after(last);
        let full_page = page.len() == EXPORT_PAGE as usize;
        for c in page {
            if !keep(&c) {
                continue;
            }
            let full = load(store, c).await?;
            done += 1;
            if !sink(writer.conversation(&full), done).await {
                return Ok(done);
            }
        }
        if !full_page {
            break;
        }
    }
    sink(writer.end(), done).await;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_are_made_text_and_numbers_stay_numbers() {
        for risky in [
            "=HYPERLINK(\"http://evil\",\"x\")",
            "@SUM(A1)",
            "+cmd|' /C calc'!A0",
            "-cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
        ] {
            assert_eq!(formula_safe(risky.to_owned()), format!("'{risky}"));
        }
        for safe in [
            "-0.4215",
            "+12",
            "0.5",
            "hello = world",
            "",
            "alice",
            "2026-12-01T10:00:00Z",
        ] {
            assert_eq!(formula_safe(safe.to_owned()), safe);
        }
    }

    #[test]
    fn days_and_instants_parse_and_a_to_day_includes_the_whole_day() {
        assert_eq!(
            parse_instant("from", "1970-01-02", false).unwrap(),
            Timestamp(86_400_000)
        );
        assert_eq!(
            parse_instant("to", "1970-01-02", true).unwrap(),
            Timestamp(2 * 86_400_000)
        );
        assert_eq!(
            parse_instant("from", "1970-01-01T00:00:01.5Z", false).unwrap(),
            Timestamp(1_500)
        );
        let e = parse_instant("from", "yesterday", false).unwrap_err();
        assert_eq!(e.field, "from");
        assert!(e.message.contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn a_search_becomes_a_store_filter_and_bad_fields_are_named() {
        let s = Search {
            from: Some("2026-12-01".into()),
            to: Some("2026-12-01".into()),
            agent: Some("alice".into()),
            outcome: Some("abandoned".into()),
            customer: Some("  ".into()),
            ..Default::default()
        };
        let f = s.filter().unwrap();
        assert_eq!(
            f.created_before.unwrap().millis() - f.created_from.unwrap().millis(),
            86_400_000
        );
        assert_eq!(f.agent.unwrap().as_str(), "alice");
        assert_eq!(f.outcome, Some(Outcome::Abandoned));
        assert_eq!(f.customer, None, "blank is not a filter");
        let e = Search {
            outcome: Some("happy".into()),
            ..Default::default()
        }
        .filter()
        .unwrap_err();
        assert_eq!(e.field, "outcome");
        assert!(e.message.contains("resolved_by_bot"), "{e}");
        let e = Search {
            from: Some("2026-12-02".into()),
            to: Some("2026-12-01".into()),
            ..Default::default()
        }
        .filter()
        .unwrap_err();
        assert_eq!(e.field, "to");
    }
}
