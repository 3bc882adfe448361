//! Measures group-commit append throughput against a database URL.
//!
//! ```text
//! cargo run --release -p switchboard-store --example append_throughput -- [URL] [WRITERS] [SECONDS] [CONVERSATIONS]
//! ```
//!
//! `WRITERS` tasks (default 1,000) each append to one of `CONVERSATIONS` (default 100) in a loop, waiting
//! for every append to be acknowledged (durable) before sending the next, for `SECONDS` (default
//! 5). Without a URL (or with `-`) it uses a SQLite file in a fresh temporary directory. Prints appends per
//! second and appends per transaction. Not a substitute for the end-to-end load tool: it measures
//! the store alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::activity::{NewActivity, SenderRole, Visibility};
use domain::conversation::{Conversation, Customer};
use domain::{Context, ConversationId, TenantName, Timestamp, WorkstreamName};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let temp = std::env::temp_dir().join(format!("switchboard-throughput-{}", uuid::Uuid::now_v7().simple()));
    let url = args
        .next()
        .filter(|s| !s.is_empty() && s != "-")
        .unwrap_or_else(|| format!("sqlite://{}/switchboard.db", temp.display()));
    let writers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let conversation_count: i64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);

    let store = switchboard_store::open(&url).await?;
    let mut conversations = Vec::new();
    for i in 0..conversation_count {
        let c = Conversation::open(
            ConversationId(uuid::Uuid::now_v7()),
            TenantName::new("Bench")?,
            WorkstreamName::new("ChatWorkStream")?,
            Customer {
                id: format!("c{i}"),
                name: None,
                email: None,
            },
            Context::new(),
            Timestamp(i),
        );
        store.insert_conversation(&c).await?;
        conversations.push(c.id);
    }

    let before = store.stats();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store: Arc<dyn switchboard_store::Store> = store.clone();
        let conversation = conversations[w % conversations.len()];
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let activity = NewActivity {
                    id: format!("w{w}-{n}"),
                    kind: "message".into(),
                    sender_role: SenderRole::Customer,
                    sender_id: format!("c{w}"),
                    visibility: Visibility::Everyone,
                    timestamp: Timestamp(0),
                    body: format!(r#"{{"type":"message","text":"message {n} from writer {w}"}}"#),
                    sentiment: None,
                };
                store.append_activity(conversation, activity).await.expect("append");
                n += 1;
            }
        });
    }
    tasks.join_all().await;
    let elapsed = started.elapsed();
    let after = store.stats();
    store.close().await;
    let _ = std::fs::remove_dir_all(&temp);

    let appends = after.appends - before.appends;
    let transactions = after.transactions - before.transactions;
    println!(
        "{}: {writers} writers, {conversation_count} conversations, {appends} appends in {:.1} s = {:.0} appends/s, {:.1} appends per transaction (largest {})",
        store.backend(),
        elapsed.as_secs_f64(),
        appends as f64 / elapsed.as_secs_f64(),
        appends as f64 / transactions.max(1) as f64,
        after.largest_batch,
    );
    Ok(())
}
