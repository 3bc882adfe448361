//! Fills a database with generated conversations for export and analytics benchmarks
//! (docs/benchmarks.md): each one created six seconds after the last (100,000 span a week from
//! 1 November 2026), taken by a bot, with six scored customer and bot messages; 55 % resolved by
//! the bot, 35 % escalated to an agent who closes it, 10 % abandoned, with times that vary.
//!
//! Usage: cargo run --release -p switchboard --example generate_transcripts -- DATABASE_URL COUNT

use std::sync::Arc;

use domain::activity::{NewActivity, SenderRole, Visibility};
use domain::conversation::{Conversation, ConversationId, Customer, Owner};
use domain::sentiment::{MessageSentiment, Sentiment};
use domain::{Context, QueueName, TenantName, Timestamp, UserName, WorkstreamName};
use store::Store;

const CUSTOMER_LINES: [&str; 3] = [
    "I was charged twice for my card, this is terrible",
    "ok, thanks for checking",
    "great, that solved it, thank you very much",
];

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count)) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok())) else {
        eprintln!("usage: generate_transcripts DATABASE_URL COUNT");
        std::process::exit(2);
    };
    let store: Arc<dyn Store> = store::open(&url).await.expect("open the database");
    let started = std::time::Instant::now();
    // 1 November 2026, 00:00 UTC.
    let base = 1_793_491_200_000i64;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let store = store.clone();
        tasks.spawn(async move { one(&store, n, base + n as i64 * 6_000).await });
        if tasks.len() >= 64 {
            tasks.join_next().await;
        }
        if (n + 1).is_multiple_of(10_000) {
            eprintln!("{} conversations", n + 1);
        }
    }
    while tasks.join_next().await.is_some() {}
    store.close().await;
    eprintln!(
        "generated {count} conversations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn one(store: &Arc<dyn Store>, n: u64, t: i64) {
    let name = |s: &str| UserName::new(s).unwrap();
    let mut c = Conversation::open(
        ConversationId(uuid::Uuid::now_v7()),
        TenantName::new("Contoso").unwrap(),
        WorkstreamName::new(if n.is_multiple_of(4) {
            "VoiceWorkStream"
        } else {
            "ChatWorkStream"
        })
        .unwrap(),
        Customer {
            id: format!("dl_{n}"),
            name: Some(format!("Customer {n}")),
            email: Some(format!("customer{n}@example.com")),
        },
        Context::new(),
        Timestamp(t),
    );
    let bot = name(if n.is_multiple_of(2) { "faq-bot" } else { "billing-bot" });
    c.assign(
        QueueName::new("BotQueue").unwrap(),
        Owner::Bot(bot.clone()),
        Timestamp(t),
    )
    .unwrap();
    store.insert_conversation(&c).await.expect("insert");
    let mut pulse = sentiment::Pulse::default();
    for i in 0..6u64 {
        let customer = i % 2 == 0;
        let text = if customer {
            CUSTOMER_LINES[(i / 2) as usize]
        } else {
            "Let me look into that for you."
        };
        let scored = customer.then(|| {
            let message = Sentiment::from_compound(pulse.add(text));
            MessageSentiment {
                message,
                conversation: Sentiment::from_compound(pulse.compound()),
            }
        });
        let activity = NewActivity {
            id: format!("g{n}-{i}"),
            kind: "message".into(),
            sender_role: if customer { SenderRole::Customer } else { SenderRole::Bot },
            sender_id: if customer { format!("dl_{n}") } else { bot.to_string() },
            visibility: Visibility::Everyone,
            timestamp: Timestamp(t + i as i64 * 5_000),
            body: serde_json::json!({"type": "message", "text": text, "from": {"id": if customer { format!("dl_{n}") } else { bot.to_string() }}}).to_string(),
            sentiment: scored,
        };
        store.append_activity(c.id, activity).await.expect("append");
    }
    let vary = (n % 7) as i64;
    let end = Timestamp(t + 40_000 + vary * 10_000);
    match n % 20 {
        0..11 => c.end_by_bot(end).unwrap(),
        11..18 => {
            let escalated = t + 30_000 + vary * 5_000;
            let taken = escalated + 5_000 + (n % 5) as i64 * 5_000;
            c.escalate(&bot, Context::new(), Timestamp(escalated)).unwrap();
            c.enqueue(QueueName::new("CreditCardQueue").unwrap(), Timestamp(escalated))
                .unwrap();
            c.assign(
                QueueName::new("CreditCardQueue").unwrap(),
                Owner::Agent(name(if n.is_multiple_of(3) { "bob" } else { "alice" })),
                Timestamp(taken),
            )
            .unwrap();
            if n.is_multiple_of(9) {
                c.transfer_to_agent(name("carol"), Timestamp(taken + 60_000)).unwrap();
            }
            c.end_by_agent(Timestamp(taken + 150_000 + vary * 20_000)).unwrap();
            c.finish_wrap_up(Timestamp(taken + 180_000 + vary * 20_000)).unwrap();
        }
        _ => c.customer_left(end).unwrap(),
    }
    store
        .update_conversation(&c, domain::ConversationState::Active)
        .await
        .expect("update");
}
