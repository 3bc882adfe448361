//! The store conformance suite: what every [`Store`] backend must do.
//!
//! Each test is written once, as `async fn name(db: TestDb)`, and the `conformance!` macro at the
//! bottom instantiates it twice: `sqlite::name` on a fresh file in a fresh temporary directory,
//! and `postgres::name` in a fresh database created on the server named by
//! `SWITCHBOARD_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`). When that
//! variable is not set the PostgreSQL variants print that they were skipped and pass. Every test
//! gets its own database, so they run in parallel without seeing each other.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use domain::activity::{NewActivity, SenderRole, StoredActivity, Visibility};
use domain::attachment::{Attachment, AttachmentId, AttachmentSummary, ContentType, View, ViewContent};
use domain::conversation::{Conversation, Customer};
use domain::sentiment::{MessageSentiment, Sentiment};
use domain::{
    Context, ContextValue, ContextVarName, ConversationId, ConversationState, Outcome, Owner, QueueName,
    RoutingDecision, RuleName, RuleTrace, Seq, TenantName, Timestamp, UserName, WorkstreamName,
};
use sqlx::{AnyConnection, Connection, Executor};
use switchboard_store::{Appended, Backend, ConversationFilter, RoutingRecord, Session, Store, StoreError};
use tokio::task::JoinSet;

const POSTGRES_URL_VAR: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// A store on a database of its own, and the URL to open that database again.
struct TestDb {
    store: Arc<dyn Store>,
    url: String,
}

/// Runs `test` on a new SQLite file (in a directory that does not exist yet, to prove `open`
/// creates it), then closes the store and removes the directory, also when the test panics.
async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = std::env::temp_dir().join(format!("switchboard-store-test-{}", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}/data/switchboard.db", dir.display());
    let store = switchboard_store::open(&url).await.expect("open a SQLite store");
    assert_eq!(store.backend(), Backend::Sqlite);
    let outcome = tokio::spawn(test(TestDb {
        store: store.clone(),
        url,
    }))
    .await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` in a new database on the PostgreSQL server of `SWITCHBOARD_TEST_POSTGRES_URL`,
/// then closes the store and drops the database (best effort); skips when the variable is unset.
async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        eprintln!("skipped: {POSTGRES_URL_VAR} is not set");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("sb_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = AnyConnection::connect(&admin_url)
        .await
        .expect("connect to SWITCHBOARD_TEST_POSTGRES_URL");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a test database");
    let url = with_database(&admin_url, &name);
    let store = switchboard_store::open(&url).await.expect("open a PostgreSQL store");
    assert_eq!(store.backend(), Backend::Postgres);
    let outcome = tokio::spawn(test(TestDb {
        store: store.clone(),
        url,
    }))
    .await;
    store.close().await;
    if let Err(e) = admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
    {
        eprintln!("could not drop test database {name}: {e}");
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Builders

fn tenant(s: &str) -> TenantName {
    TenantName::new(s).unwrap()
}
fn workstream(s: &str) -> WorkstreamName {
    WorkstreamName::new(s).unwrap()
}
fn queue(s: &str) -> QueueName {
    QueueName::new(s).unwrap()
}
fn user(s: &str) -> UserName {
    UserName::new(s).unwrap()
}
fn rule(s: &str) -> RuleName {
    RuleName::new(s).unwrap()
}

/// A new `open` conversation of `tenant` in workstream `ChatWorkStream`, created at `created`.
fn conversation(tenant_name: &str, created: i64) -> Conversation {
    Conversation::open(
        ConversationId(uuid::Uuid::now_v7()),
        tenant(tenant_name),
        workstream("ChatWorkStream"),
        Customer {
            id: format!("dl_{created}"),
            name: None,
            email: None,
        },
        Context::new(),
        Timestamp(created),
    )
}

/// A customer message with id `id`.
fn message(id: &str) -> NewActivity {
    NewActivity {
        id: id.to_owned(),
        kind: "message".into(),
        sender_role: SenderRole::Customer,
        sender_id: "dl_user".into(),
        visibility: Visibility::Everyone,
        timestamp: Timestamp(1_700_000_000_000),
        body: format!(r#"{{"type":"message","id":"{id}","text":"hello"}}"#),
        sentiment: None,
    }
}

async fn stored(store: &Arc<dyn Store>, c: &Conversation) {
    store.insert_conversation(c).await.expect("insert conversation");
}

fn seqs(activities: &[StoredActivity]) -> Vec<u64> {
    activities.iter().map(|a| a.seq.0).collect()
}

// ---------------------------------------------------------------------------------------------
// Conversations

async fn a_conversation_round_trips_every_field(db: TestDb) {
    let mut context = Context::new();
    context.set(
        ContextVarName::new("BotHandoffTopic").unwrap(),
        ContextValue::Text("Crédit \"card\" ✓".into()),
    );
    context.set(ContextVarName::new("IDNumber").unwrap(), ContextValue::Number(101.0));
    context.set(ContextVarName::new("Score").unwrap(), ContextValue::Number(-0.125));
    context.set(ContextVarName::new("Empty").unwrap(), ContextValue::Text(String::new()));
    let active = Conversation {
        customer: Customer {
            id: "dl_42".into(),
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.com".into()),
        },
        context,
        state: ConversationState::Active,
        queue: Some(queue("CreditCardQueue")),
        owner: Some(Owner::Agent(user("alice"))),
        escalated_by: vec![user("faq-bot"), user("billing-bot")],
        agent_engaged: true,
        bot_engaged: true,
        updated_at: Timestamp(1_700_000_000_999),
        ..conversation("Contoso", 1_700_000_000_000)
    };
    let with_bot = Conversation {
        state: ConversationState::Active,
        queue: Some(queue("BotQueue")),
        owner: Some(Owner::Bot(user("faq-bot"))),
        bot_engaged: true,
        ..conversation("Contoso", 1_700_000_000_001)
    };
    let closed = Conversation {
        state: ConversationState::Closed,
        outcome: Some(Outcome::ResolvedByAgent),
        agent_engaged: true,
        ..conversation("Fabrikam", 1_700_000_000_002)
    };
    for c in [&active, &with_bot, &closed] {
        stored(&db.store, c).await;
        assert_eq!(db.store.get_conversation(c.id).await.unwrap().as_ref(), Some(c));
    }
    assert_eq!(
        db.store
            .get_conversation(ConversationId(uuid::Uuid::now_v7()))
            .await
            .unwrap(),
        None
    );
}

async fn inserting_a_conversation_twice_is_a_conflict_and_keeps_the_first(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let again = Conversation {
        state: ConversationState::Waiting,
        queue: Some(queue("Elsewhere")),
        ..c.clone()
    };
    let err = db.store.insert_conversation(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains(&c.id.to_string()), "{err}");
    assert_eq!(db.store.get_conversation(c.id).await.unwrap(), Some(c));
}

async fn an_update_with_a_stale_expected_state_is_a_conflict_and_changes_nothing(db: TestDb) {
    let mut c = conversation("Contoso", 1_000);
    stored(&db.store, &c).await;

    c.assign(queue("BotQueue"), Owner::Bot(user("faq-bot")), Timestamp(2_000))
        .unwrap();
    db.store
        .update_conversation(&c, ConversationState::Open)
        .await
        .expect("update from the expected state");
    assert_eq!(db.store.get_conversation(c.id).await.unwrap().as_ref(), Some(&c));

    // A second writer that still believes the conversation is open loses.
    let mut stale = c.clone();
    stale.state = ConversationState::Waiting;
    stale.owner = None;
    let err = db
        .store
        .update_conversation(&stale, ConversationState::Open)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(
        err.to_string().contains("active"),
        "the conflict names the stored state: {err}"
    );
    assert_eq!(
        db.store.get_conversation(c.id).await.unwrap().as_ref(),
        Some(&c),
        "nothing changed"
    );

    // created_at is never rewritten.
    let mut moved = c.clone();
    moved.created_at = Timestamp(5);
    moved.end_by_bot(Timestamp(3_000)).unwrap();
    db.store
        .update_conversation(&moved, ConversationState::Active)
        .await
        .unwrap();
    let got = db.store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.outcome, got.created_at),
        (
            ConversationState::Closed,
            Some(Outcome::ResolvedByBot),
            Timestamp(1_000)
        )
    );

    let unknown = conversation("Contoso", 1);
    let err = db
        .store
        .update_conversation(&unknown, ConversationState::Open)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "conversation",
                ..
            }
        ),
        "{err:?}"
    );
}

async fn listing_filters_by_tenant_state_workstream_queue_and_owner_in_creation_order(db: TestDb) {
    let open_late = conversation("Contoso", 50);
    let waiting_cc = Conversation {
        state: ConversationState::Waiting,
        queue: Some(queue("CreditCardQueue")),
        ..conversation("Contoso", 10)
    };
    let active_alice = Conversation {
        state: ConversationState::Active,
        queue: Some(queue("CreditCardQueue")),
        owner: Some(Owner::Agent(user("alice"))),
        ..conversation("Contoso", 20)
    };
    let other_tenant = Conversation {
        state: ConversationState::Waiting,
        queue: Some(queue("CreditCardQueue")),
        ..conversation("Fabrikam", 5)
    };
    let voice = Conversation {
        workstream: workstream("VoiceWorkStream"),
        ..conversation("Contoso", 30)
    };
    // Two conversations created in the same millisecond are ordered by id.
    let mut same_ms = [conversation("Contoso", 40), conversation("Contoso", 40)];
    same_ms.sort_by_key(|c| c.id);
    for c in [
        &open_late,
        &same_ms[1],
        &waiting_cc,
        &voice,
        &active_alice,
        &other_tenant,
        &same_ms[0],
    ] {
        stored(&db.store, c).await;
    }
    let ids = |cs: Vec<Conversation>| cs.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let list = |f: ConversationFilter| {
        let store = db.store.clone();
        async move { ids(store.list_conversations(&f).await.unwrap()) }
    };

    assert_eq!(
        list(ConversationFilter::all()).await,
        vec![
            other_tenant.id,
            waiting_cc.id,
            active_alice.id,
            voice.id,
            same_ms[0].id,
            same_ms[1].id,
            open_late.id
        ]
    );
    assert_eq!(
        list(ConversationFilter::all().tenant(tenant("Contoso"))).await,
        vec![
            waiting_cc.id,
            active_alice.id,
            voice.id,
            same_ms[0].id,
            same_ms[1].id,
            open_late.id
        ]
    );
    assert_eq!(
        list(
            ConversationFilter::all()
                .tenant(tenant("Contoso"))
                .state(ConversationState::Waiting)
                .state(ConversationState::Active)
        )
        .await,
        vec![waiting_cc.id, active_alice.id]
    );
    assert_eq!(
        list(ConversationFilter::all().queue(queue("CreditCardQueue"))).await,
        vec![other_tenant.id, waiting_cc.id, active_alice.id]
    );
    assert_eq!(
        list(ConversationFilter::all().workstream(workstream("VoiceWorkStream"))).await,
        vec![voice.id]
    );
    assert_eq!(
        list(ConversationFilter::all().owner(Owner::Agent(user("alice")))).await,
        vec![active_alice.id]
    );
    assert_eq!(
        list(ConversationFilter::all().owner(Owner::Bot(user("alice")))).await,
        vec![],
        "a bot named alice is not agent alice"
    );
    assert_eq!(
        list(ConversationFilter::all().tenant(tenant("Contoso")).limit(2)).await,
        vec![waiting_cc.id, active_alice.id]
    );
    assert_eq!(list(ConversationFilter::all().tenant(tenant("Nobody"))).await, vec![]);
}

async fn routing_history_round_trips_in_the_order_recorded(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let to_bot = RoutingDecision {
        cause: Default::default(),
        queue: queue("BotQueue"),
        rule: Some(rule("BotRule")),
        trace: vec![RuleTrace {
            rule: rule("BotRule"),
            matched: true,
            reason: "BotHandoffTopic does not contain data".into(),
        }],
    };
    let to_cards = RoutingDecision {
        cause: Default::default(),
        queue: queue("CreditCardQueue"),
        rule: Some(rule("CreditCardRule")),
        trace: vec![
            RuleTrace {
                rule: rule("BotRule"),
                matched: false,
                reason: "BotHandoffTopic contains data".into(),
            },
            RuleTrace {
                rule: rule("CreditCardRule"),
                matched: true,
                reason: r#"BotHandoffTopic is "CreditCard", which equals "CreditCard""#.into(),
            },
        ],
    };
    let fallback = RoutingDecision {
        cause: Default::default(),
        queue: queue("FallbackQueue"),
        rule: None,
        trace: vec![],
    };
    // Recorded out of timestamp order on purpose: history is the order of recording.
    db.store.record_routing(c.id, Timestamp(30), &to_bot).await.unwrap();
    db.store.record_routing(c.id, Timestamp(20), &to_cards).await.unwrap();
    db.store.record_routing(c.id, Timestamp(40), &fallback).await.unwrap();
    assert_eq!(
        db.store.routing_history(c.id).await.unwrap(),
        vec![
            RoutingRecord {
                at: Timestamp(30),
                decision: to_bot.clone()
            },
            RoutingRecord {
                at: Timestamp(20),
                decision: to_cards
            },
            RoutingRecord {
                at: Timestamp(40),
                decision: fallback
            },
        ]
    );

    let unknown = ConversationId(uuid::Uuid::now_v7());
    let err = db
        .store
        .record_routing(unknown, Timestamp(1), &to_bot)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "conversation",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(db.store.routing_history(unknown).await.unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Activities

async fn appends_are_numbered_one_two_three_per_conversation_independently(db: TestDb) {
    let (a, b) = (conversation("Contoso", 1), conversation("Contoso", 2));
    stored(&db.store, &a).await;
    stored(&db.store, &b).await;
    let mut got = Vec::new();
    for (c, id) in [(&a, "a1"), (&b, "b1"), (&a, "a2"), (&a, "a3"), (&b, "b2")] {
        got.push(db.store.append_activity(c.id, message(id)).await.unwrap());
    }
    let fresh = |n| Appended {
        seq: Seq(n),
        duplicate: false,
    };
    assert_eq!(got, vec![fresh(1), fresh(1), fresh(2), fresh(3), fresh(2)]);
    assert_eq!(
        seqs(&db.store.activities_after(a.id, Seq::ZERO, 100).await.unwrap()),
        vec![1, 2, 3]
    );
    assert_eq!(
        seqs(&db.store.activities_after(b.id, Seq::ZERO, 100).await.unwrap()),
        vec![1, 2]
    );
}

async fn a_repeated_activity_id_is_stored_once_and_returns_its_original_seq(db: TestDb) {
    let (a, b) = (conversation("Contoso", 1), conversation("Contoso", 2));
    stored(&db.store, &a).await;
    stored(&db.store, &b).await;
    assert_eq!(
        db.store.append_activity(a.id, message("m1")).await.unwrap(),
        Appended {
            seq: Seq(1),
            duplicate: false
        }
    );
    assert_eq!(
        db.store.append_activity(a.id, message("m2")).await.unwrap(),
        Appended {
            seq: Seq(2),
            duplicate: false
        }
    );
    let mut retry = message("m1");
    retry.body = r#"{"text":"a retry may differ; the first copy wins"}"#.into();
    assert_eq!(
        db.store.append_activity(a.id, retry).await.unwrap(),
        Appended {
            seq: Seq(1),
            duplicate: true
        }
    );
    // The same id in another conversation is another activity.
    assert_eq!(
        db.store.append_activity(b.id, message("m1")).await.unwrap(),
        Appended {
            seq: Seq(1),
            duplicate: false
        }
    );

    // Concurrent retries of one new id (likely in the same batch) also store it once.
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let store = db.store.clone();
        tasks.spawn(async move { store.append_activity(a.id, message("m3")).await.unwrap() });
    }
    let results = tasks.join_all().await;
    assert!(results.iter().all(|r| r.seq == Seq(3)), "{results:?}");
    assert_eq!(
        results.iter().filter(|r| !r.duplicate).count(),
        1,
        "exactly one append stored it: {results:?}"
    );

    let log = db.store.activities_after(a.id, Seq::ZERO, 100).await.unwrap();
    assert_eq!(seqs(&log), vec![1, 2, 3]);
    assert_eq!(log[0].activity, message("m1"), "the first copy is kept");
    assert_eq!(db.store.stats().duplicates, 10);
}

async fn an_append_to_an_unknown_conversation_is_not_found_while_its_batch_companions_succeed(db: TestDb) {
    let known = conversation("Contoso", 1);
    stored(&db.store, &known).await;
    let unknown = ConversationId(uuid::Uuid::now_v7());
    let mut tasks = JoinSet::new();
    for i in 0..40 {
        let store = db.store.clone();
        let target = if i % 2 == 0 { unknown } else { known.id };
        tasks.spawn(async move { (target, store.append_activity(target, message(&format!("m{i}"))).await) });
    }
    let mut known_seqs = Vec::new();
    for (target, result) in tasks.join_all().await {
        match result {
            Ok(appended) if target == known.id => known_seqs.push(appended.seq.0),
            Err(StoreError::NotFound {
                what: "conversation",
                id,
            }) if target == unknown => assert_eq!(id, unknown.to_string()),
            other => panic!("unexpected result for {target}: {other:?}"),
        }
    }
    known_seqs.sort_unstable();
    assert_eq!(known_seqs, (1..=20).collect::<Vec<_>>());
    assert_eq!(
        db.store.append_activity(known.id, message("after")).await.unwrap().seq,
        Seq(21)
    );
    let stats = db.store.stats();
    assert!(
        stats.largest_batch > 1,
        "40 concurrent appends never shared a transaction: {stats:?}"
    );
    assert_eq!(db.store.activities_after(unknown, Seq::ZERO, 10).await.unwrap(), vec![]);
}

async fn fifty_tasks_appending_to_ten_conversations_get_gap_free_seqs_in_few_transactions(db: TestDb) {
    const CONVERSATIONS: usize = 10;
    const TASKS: usize = 50;
    const APPENDS: usize = 40;
    let conversations: Vec<Conversation> = (0..CONVERSATIONS).map(|i| conversation("Contoso", i as i64)).collect();
    for c in &conversations {
        stored(&db.store, c).await;
    }
    let before = db.store.stats();
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let store = db.store.clone();
        let target = conversations[t % CONVERSATIONS].id;
        tasks.spawn(async move {
            let mut acked = Vec::with_capacity(APPENDS);
            for n in 0..APPENDS {
                let id = format!("t{t}-n{n}");
                let appended = store.append_activity(target, message(&id)).await.unwrap();
                assert!(!appended.duplicate);
                acked.push((id, appended.seq.0));
            }
            (target, acked)
        });
    }
    let mut by_conversation: BTreeMap<ConversationId, BTreeMap<u64, String>> = BTreeMap::new();
    for (target, acked) in tasks.join_all().await {
        assert!(
            acked.windows(2).all(|w| w[0].1 < w[1].1),
            "one task's appends are ordered: {acked:?}"
        );
        let log = by_conversation.entry(target).or_default();
        for (id, seq) in acked {
            assert!(log.insert(seq, id).is_none(), "seq {seq} handed out twice in {target}");
        }
    }
    let per_conversation = (TASKS / CONVERSATIONS * APPENDS) as u64;
    for c in &conversations {
        let acked = &by_conversation[&c.id];
        assert_eq!(
            acked.keys().copied().collect::<Vec<_>>(),
            (1..=per_conversation).collect::<Vec<_>>(),
            "gap-free 1..n"
        );
        let log = db.store.activities_after(c.id, Seq::ZERO, 10_000).await.unwrap();
        let stored: BTreeMap<u64, String> = log.into_iter().map(|a| (a.seq.0, a.activity.id)).collect();
        assert_eq!(&stored, acked, "the log holds exactly what was acknowledged");
    }

    let after = db.store.stats();
    let appends = after.appends - before.appends;
    let transactions = after.transactions - before.transactions;
    assert_eq!(appends, (TASKS * APPENDS) as u64);
    eprintln!(
        "{} group commit: {appends} appends in {transactions} transactions ({:.1} appends per transaction, largest batch {})",
        db.store.backend(),
        appends as f64 / transactions as f64,
        after.largest_batch
    );
    assert!(
        transactions * 5 <= appends,
        "group commit did not batch: {appends} appends took {transactions} transactions"
    );
}

async fn activities_after_pages_through_the_log_in_seq_order(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let mut appended = Vec::new();
    for i in 0..25u64 {
        let roles = SenderRole::ALL;
        let activity = NewActivity {
            id: format!("act-{i}"),
            kind: if i % 5 == 0 { "typing".into() } else { "message".into() },
            sender_role: roles[i as usize % roles.len()],
            sender_id: format!("sender-{}", i % 3),
            visibility: if i % 4 == 0 {
                Visibility::AgentsOnly
            } else {
                Visibility::Everyone
            },
            timestamp: Timestamp(1_700_000_000_000 + i as i64),
            body: format!(r#"{{"text":"line {i} – ünïcödé"}}"#),
            sentiment: None,
        };
        let a = db.store.append_activity(c.id, activity.clone()).await.unwrap();
        appended.push(StoredActivity { seq: a.seq, activity });
    }
    let page1 = db.store.activities_after(c.id, Seq::ZERO, 10).await.unwrap();
    let page2 = db
        .store
        .activities_after(c.id, page1.last().unwrap().seq, 10)
        .await
        .unwrap();
    let page3 = db
        .store
        .activities_after(c.id, page2.last().unwrap().seq, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&page1), (1..=10).collect::<Vec<_>>());
    assert_eq!(seqs(&page2), (11..=20).collect::<Vec<_>>());
    assert_eq!(seqs(&page3), (21..=25).collect::<Vec<_>>());
    assert_eq!([page1, page2, page3].concat(), appended, "every field round-trips");
    assert_eq!(db.store.activities_after(c.id, Seq(25), 10).await.unwrap(), vec![]);
    assert_eq!(
        db.store.activities_after(c.id, Seq(u64::MAX), 10).await.unwrap(),
        vec![]
    );
    assert_eq!(db.store.activities_after(c.id, Seq(3), 0).await.unwrap(), vec![]);
}

async fn activities_without_an_id_or_with_a_nul_character_are_refused(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let err = db.store.append_activity(c.id, message("")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { what: "activity", .. }), "{err:?}");
    let err = db.store.append_activity(c.id, message("nul\0id")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { what: "activity", .. }), "{err:?}");
    assert_eq!(
        db.store.append_activity(c.id, message("fine")).await.unwrap().seq,
        Seq(1),
        "refusals took no seq"
    );
}

async fn a_failing_append_does_not_fail_the_others_in_its_batch(db: TestDb) {
    // A trigger makes the database itself refuse one activity, as an unforeseen constraint would.
    let mut conn = AnyConnection::connect(&db.url).await.unwrap();
    match db.store.backend() {
        Backend::Sqlite => {
            conn.execute(
                "CREATE TRIGGER poison BEFORE INSERT ON activities WHEN NEW.activity_id = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned activity'); END",
            )
            .await
            .unwrap();
        }
        Backend::Postgres => {
            conn.execute(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.activity_id = 'poison' THEN RAISE EXCEPTION 'poisoned activity'; END IF; RETURN NEW; END $$",
            )
            .await
            .unwrap();
            conn.execute("CREATE TRIGGER poison BEFORE INSERT ON activities FOR EACH ROW EXECUTE FUNCTION poison()")
                .await
                .unwrap();
        }
    }
    conn.close().await.unwrap();

    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let mut tasks = JoinSet::new();
    for i in 0..30 {
        let store = db.store.clone();
        let id = if i == 20 { "poison".to_owned() } else { format!("m{i}") };
        tasks.spawn(async move { (id.clone(), store.append_activity(c.id, message(&id)).await) });
    }
    let mut good = Vec::new();
    for (id, result) in tasks.join_all().await {
        match (id.as_str(), result) {
            ("poison", Err(StoreError::Database(e))) => assert!(e.to_string().contains("poisoned activity"), "{e}"),
            ("poison", other) => panic!("the poisoned append should fail with a database error: {other:?}"),
            (_, Ok(appended)) => good.push(appended.seq.0),
            (id, Err(e)) => panic!("{id} failed along with the poisoned append: {e}"),
        }
    }
    good.sort_unstable();
    assert_eq!(good, (1..=29).collect::<Vec<_>>(), "the failure took no seq");
}

async fn an_activity_is_found_by_its_id_in_its_own_conversation_only(db: TestDb) {
    let (c1, c2) = (conversation("Contoso", 1), conversation("Contoso", 2));
    stored(&db.store, &c1).await;
    stored(&db.store, &c2).await;
    for id in ["a", "b", "a~update-1"] {
        db.store.append_activity(c1.id, message(id)).await.unwrap();
    }
    let found = db.store.activity(c1.id, "b").await.unwrap().expect("b is stored");
    assert_eq!(found.seq, Seq(2));
    assert_eq!(found.activity, message("b"));
    assert_eq!(
        db.store.activity(c1.id, "a~update-1").await.unwrap().unwrap().seq,
        Seq(3)
    );
    assert_eq!(
        db.store.activity(c2.id, "b").await.unwrap(),
        None,
        "ids are per conversation"
    );
    assert_eq!(
        db.store.activity(c1.id, "B").await.unwrap(),
        None,
        "ids are compared exactly"
    );
    assert_eq!(
        db.store
            .activity(ConversationId(uuid::Uuid::now_v7()), "a")
            .await
            .unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// An attachment of `conversation` holding every byte value (NULs, invalid UTF-8) and, when
/// `thumbnail`, a small PNG-looking thumbnail.
fn attachment(conversation: ConversationId, thumbnail: bool) -> Attachment {
    Attachment {
        id: AttachmentId(uuid::Uuid::new_v4()),
        conversation,
        name: Some("relevé «mars».pdf".into()),
        content_type: ContentType::parse("application/pdf").unwrap(),
        original: (0..=255u8).cycle().take(70_000).collect(),
        thumbnail: thumbnail.then(|| b"\x89PNG\r\n\x1a\n\0\xff".to_vec()),
        created_at: Timestamp(1_700_000_000_123),
    }
}

async fn an_attachment_reads_back_byte_for_byte_with_the_size_of_each_view(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let with_thumbnail = attachment(c.id, true);
    let without = Attachment {
        name: None,
        original: vec![],
        ..attachment(c.id, false)
    };
    for a in [&with_thumbnail, &without] {
        db.store.insert_attachment(a.clone()).await.unwrap();
    }
    assert_eq!(
        db.store.attachment_summary(with_thumbnail.id).await.unwrap(),
        Some(AttachmentSummary {
            id: with_thumbnail.id,
            conversation: c.id,
            name: with_thumbnail.name.clone(),
            content_type: with_thumbnail.content_type.clone(),
            original_size: 70_000,
            thumbnail_size: Some(10),
            created_at: with_thumbnail.created_at,
        })
    );
    let view = |id, view| {
        let store = db.store.clone();
        async move { store.attachment_view(id, view).await.unwrap() }
    };
    assert_eq!(
        view(with_thumbnail.id, View::Original).await,
        Some(ViewContent {
            content_type: with_thumbnail.content_type.clone(),
            bytes: with_thumbnail.original.clone()
        })
    );
    assert_eq!(
        view(with_thumbnail.id, View::Thumbnail).await.unwrap().bytes,
        with_thumbnail.thumbnail.clone().unwrap()
    );

    let summary = db.store.attachment_summary(without.id).await.unwrap().unwrap();
    assert_eq!(
        (summary.name, summary.original_size, summary.thumbnail_size),
        (None, 0, None)
    );
    assert_eq!(view(without.id, View::Original).await.unwrap().bytes, Vec::<u8>::new());
    assert_eq!(
        view(without.id, View::Thumbnail).await,
        None,
        "no thumbnail was uploaded"
    );

    let unknown = AttachmentId(uuid::Uuid::new_v4());
    assert_eq!(db.store.attachment_summary(unknown).await.unwrap(), None);
    assert_eq!(view(unknown, View::Original).await, None);
}

async fn an_attachment_needs_a_stored_conversation_and_a_new_id(db: TestDb) {
    let err = db
        .store
        .insert_attachment(attachment(ConversationId(uuid::Uuid::now_v7()), false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "conversation",
                ..
            }
        ),
        "{err:?}"
    );

    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let first = attachment(c.id, false);
    db.store.insert_attachment(first.clone()).await.unwrap();
    let again = Attachment {
        original: b"something else".to_vec(),
        ..first.clone()
    };
    let err = db.store.insert_attachment(again).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { what: "attachment", .. }),
        "{err:?}"
    );
    assert_eq!(
        db.store
            .attachment_view(first.id, View::Original)
            .await
            .unwrap()
            .unwrap()
            .bytes,
        first.original,
        "the first upload is kept"
    );

    let nul = Attachment {
        name: Some("a\0b".into()),
        ..attachment(c.id, false)
    };
    let err = db.store.insert_attachment(nul.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { what: "attachment", .. }), "{err:?}");
    assert_eq!(db.store.attachment_summary(nul.id).await.unwrap(), None);
}

async fn attachments_uploaded_at_once_are_group_committed_with_appends(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    let before = db.store.stats();
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let store = db.store.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                store.insert_attachment(attachment(c.id, i % 4 == 0)).await.map(|_| ())
            } else {
                store.append_activity(c.id, message(&format!("m{i}"))).await.map(|_| ())
            }
        });
    }
    for result in tasks.join_all().await {
        result.unwrap();
    }
    let after = db.store.stats();
    assert_eq!(
        after.writes - before.writes,
        20,
        "attachments are writes like any other"
    );
    assert_eq!(db.store.activities_after(c.id, Seq::ZERO, 100).await.unwrap().len(), 10);
}

// ---------------------------------------------------------------------------------------------
// Credentials and sessions

/// An argon2 PHC string (the store does not check the format; any non-empty text without NUL).
const ALICE_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
const ALICE_NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$3FqQ0ZRLx8nSbbAIS5/KOWVxuWMaaJZ";

/// A session of `user` whose token hash is `token_hash`, valid from 1,000 to 2,000.
fn session(token_hash: &str, user_name: &str) -> Session {
    Session {
        token_hash: token_hash.to_owned(),
        user: user(user_name),
        created_at: Timestamp(1_000),
        expires_at: Timestamp(2_000),
    }
}

/// A hex SHA-256 that differs for each `n`.
fn token_hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

async fn a_password_hash_is_set_read_back_and_replaced(db: TestDb) {
    assert_eq!(db.store.password_hash(&user("alice")).await.unwrap(), None);
    let before = db.store.stats();
    db.store
        .set_password_hash(&user("alice"), ALICE_HASH, Timestamp(1))
        .await
        .unwrap();
    assert_eq!(
        db.store.password_hash(&user("alice")).await.unwrap().as_deref(),
        Some(ALICE_HASH)
    );
    assert_eq!(
        db.store.password_hash(&user("Alice")).await.unwrap(),
        None,
        "user names are case-sensitive"
    );

    db.store
        .set_password_hash(&user("alice"), ALICE_NEW_HASH, Timestamp(2))
        .await
        .unwrap();
    assert_eq!(
        db.store.password_hash(&user("alice")).await.unwrap().as_deref(),
        Some(ALICE_NEW_HASH)
    );
    assert_eq!(
        db.store.stats().writes - before.writes,
        2,
        "passwords are written through the group-commit writer"
    );
}

async fn a_new_password_deletes_that_users_sessions_but_not_anyone_elses(db: TestDb) {
    db.store
        .set_password_hash(&user("alice"), ALICE_HASH, Timestamp(1))
        .await
        .unwrap();
    let alice_laptop = session(&token_hash(1), "alice");
    let alice_phone = session(&token_hash(2), "alice");
    let bob = session(&token_hash(3), "bob");
    for s in [&alice_laptop, &alice_phone, &bob] {
        db.store.insert_session(s).await.unwrap();
    }

    db.store
        .set_password_hash(&user("alice"), ALICE_NEW_HASH, Timestamp(1_500))
        .await
        .unwrap();
    let now = Timestamp(1_500);
    assert_eq!(db.store.session(&alice_laptop.token_hash, now).await.unwrap(), None);
    assert_eq!(db.store.session(&alice_phone.token_hash, now).await.unwrap(), None);
    assert_eq!(db.store.session(&bob.token_hash, now).await.unwrap(), Some(bob.clone()));

    // Setting a password for someone who never had one also signs them out.
    db.store
        .set_password_hash(&user("bob"), ALICE_HASH, Timestamp(1_600))
        .await
        .unwrap();
    assert_eq!(db.store.session(&bob.token_hash, now).await.unwrap(), None);
}

async fn a_session_round_trips_until_it_expires(db: TestDb) {
    let s = session(&token_hash(1), "alice");
    db.store.insert_session(&s).await.unwrap();
    assert_eq!(
        db.store.session(&s.token_hash, Timestamp(1_000)).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        db.store.session(&s.token_hash, Timestamp(1_999)).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        db.store.session(&s.token_hash, Timestamp(2_000)).await.unwrap(),
        None,
        "a session is expired from its expires_at on"
    );
    assert_eq!(db.store.session(&s.token_hash, Timestamp(9_000)).await.unwrap(), None);
    assert_eq!(db.store.session(&token_hash(2), Timestamp(1_000)).await.unwrap(), None);
}

async fn a_session_whose_token_hash_is_stored_is_a_conflict_and_keeps_the_first(db: TestDb) {
    let first = session(&token_hash(1), "alice");
    db.store.insert_session(&first).await.unwrap();
    let again = Session {
        expires_at: Timestamp(5_000),
        ..session(&token_hash(1), "mallory")
    };
    let err = db.store.insert_session(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "session", .. }), "{err:?}");
    assert!(
        !err.to_string().contains(&first.token_hash),
        "the token hash is not repeated: {err}"
    );
    assert_eq!(
        db.store.session(&first.token_hash, Timestamp(1_500)).await.unwrap(),
        Some(first)
    );
}

async fn a_deleted_session_is_gone_and_deleting_an_absent_one_is_fine(db: TestDb) {
    let (a, b) = (session(&token_hash(1), "alice"), session(&token_hash(2), "alice"));
    db.store.insert_session(&a).await.unwrap();
    db.store.insert_session(&b).await.unwrap();
    db.store.delete_session(&a.token_hash).await.unwrap();
    assert_eq!(db.store.session(&a.token_hash, Timestamp(1_500)).await.unwrap(), None);
    assert_eq!(
        db.store.session(&b.token_hash, Timestamp(1_500)).await.unwrap(),
        Some(b)
    );
    db.store.delete_session(&a.token_hash).await.unwrap();
    db.store.delete_session(&token_hash(9)).await.unwrap();
}

async fn empty_hashes_and_hashes_with_a_nul_character_are_refused(db: TestDb) {
    let invalid = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::Invalid { what: got, .. }) if got == what => {}
        other => panic!("expected Invalid {what}, got {other:?}"),
    };
    for bad in ["", "$argon2id$\0"] {
        invalid(
            db.store.set_password_hash(&user("alice"), bad, Timestamp(1)).await,
            "password hash",
        );
        invalid(db.store.insert_session(&session(bad, "alice")).await, "session");
        invalid(db.store.session(bad, Timestamp(1)).await.map(drop), "session");
        invalid(db.store.delete_session(bad).await, "session");
    }
    assert_eq!(
        db.store.password_hash(&user("alice")).await.unwrap(),
        None,
        "nothing was stored"
    );
}

async fn credentials_and_sessions_survive_close_and_reopen(db: TestDb) {
    db.store
        .set_password_hash(&user("alice"), ALICE_HASH, Timestamp(1))
        .await
        .unwrap();
    let s = session(&token_hash(1), "alice");
    db.store.insert_session(&s).await.unwrap();
    db.store.close().await;

    let reopened = switchboard_store::open(&db.url).await.unwrap();
    assert_eq!(
        reopened.password_hash(&user("alice")).await.unwrap().as_deref(),
        Some(ALICE_HASH)
    );
    assert_eq!(
        reopened.session(&s.token_hash, Timestamp(1_500)).await.unwrap(),
        Some(s)
    );
    reopened.close().await;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

async fn what_was_acknowledged_survives_close_and_reopen(db: TestDb) {
    let mut c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    c.enqueue(queue("CreditCardQueue"), Timestamp(2)).unwrap();
    db.store.update_conversation(&c, ConversationState::Open).await.unwrap();
    let decision = RoutingDecision {
        cause: Default::default(),
        queue: queue("CreditCardQueue"),
        rule: None,
        trace: vec![],
    };
    db.store.record_routing(c.id, Timestamp(2), &decision).await.unwrap();
    for i in 0..5 {
        db.store.append_activity(c.id, message(&format!("m{i}"))).await.unwrap();
    }
    let file = attachment(c.id, true);
    db.store.insert_attachment(file.clone()).await.unwrap();
    db.store.close().await;

    let reopened = switchboard_store::open(&db.url).await.unwrap();
    assert_eq!(reopened.get_conversation(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(
        reopened.routing_history(c.id).await.unwrap(),
        vec![RoutingRecord {
            at: Timestamp(2),
            decision
        }]
    );
    assert_eq!(
        seqs(&reopened.activities_after(c.id, Seq::ZERO, 100).await.unwrap()),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        reopened
            .attachment_view(file.id, View::Original)
            .await
            .unwrap()
            .unwrap()
            .bytes,
        file.original
    );
    assert_eq!(
        reopened.append_activity(c.id, message("m2")).await.unwrap(),
        Appended {
            seq: Seq(3),
            duplicate: true
        }
    );
    assert_eq!(
        reopened.append_activity(c.id, message("m5")).await.unwrap(),
        Appended {
            seq: Seq(6),
            duplicate: false
        }
    );
    reopened.close().await;
}

/// A scored customer message with id `id`: its own score and the conversation's after it.
fn scored(id: &str, message: i16, conversation: i16) -> NewActivity {
    NewActivity {
        sentiment: Some(MessageSentiment {
            message: Sentiment(message),
            conversation: Sentiment(conversation),
        }),
        ..self::message(id)
    }
}

async fn sentiment_and_milestones_round_trip_and_the_latest_scored_message_sets_the_conversations(db: TestDb) {
    let mut c = conversation("Contoso", 1_000);
    c.assign(queue("BotQueue"), Owner::Bot(user("faq-bot")), Timestamp(1_001))
        .unwrap();
    stored(&db.store, &c).await;
    assert_eq!(
        db.store.get_conversation(c.id).await.unwrap().unwrap().sentiment,
        Sentiment::NEUTRAL
    );

    // One batch-sized burst: the last scored message of it wins, unscored ones change nothing.
    let appends = [scored("m1", -4215, -4215), message("m2"), scored("m3", 6000, 893)];
    for a in &appends {
        db.store.append_activity(c.id, a.clone()).await.unwrap();
    }
    let read = db.store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(read.sentiment, Sentiment(893));
    let log = db.store.activities_after(c.id, Seq::ZERO, 10).await.unwrap();
    let kept: Vec<_> = log.iter().map(|a| a.activity.sentiment).collect();
    assert_eq!(kept, appends.iter().map(|a| a.sentiment).collect::<Vec<_>>());

    // The engine's update carries milestones but never overwrites the stored sentiment.
    c.escalate(&user("faq-bot"), Context::new(), Timestamp(2_000)).unwrap();
    c.enqueue(queue("CreditCardQueue"), Timestamp(2_001)).unwrap();
    c.assign(queue("CreditCardQueue"), Owner::Agent(user("alice")), Timestamp(5_001))
        .unwrap();
    c.transfer_to_queue(queue("LoanQueue"), Timestamp(6_000)).unwrap();
    db.store
        .update_conversation(&c, ConversationState::Active)
        .await
        .unwrap();
    let read = db.store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(read.sentiment, Sentiment(893), "an update keeps the stored sentiment");
    assert_eq!(read.milestones, c.milestones);
    assert_eq!(
        read.milestones.wait_ms, 3_001,
        "waiting from the escalation to the agent"
    );
    assert_eq!(read.milestones.transfers, 1);
    assert_eq!(read.milestones.waiting_since, Some(Timestamp(6_000)));

    db.store
        .append_activity(c.id, scored("m4", -9000, -2000))
        .await
        .unwrap();
    db.store.close().await;
    let reopened = switchboard_store::open(&db.url).await.unwrap();
    let read = reopened.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(read.sentiment, Sentiment(-2000), "the stored value, not a cached one");
    assert_eq!(read.milestones, c.milestones);
    let last = reopened.activities_after(c.id, Seq(3), 10).await.unwrap();
    assert_eq!(last[0].activity.sentiment.map(|s| s.message), Some(Sentiment(-9000)));
    reopened.close().await;
}

async fn search_filters_by_date_outcome_customer_bot_agent_and_text_and_pages_by_key(db: TestDb) {
    // Ten conversations a second apart: even ones the bot resolved, odd ones went to alice (and
    // the ones divisible by three on to "bob_%"), with customers named after their number.
    let mut all = Vec::new();
    for i in 0..10i64 {
        let mut c = conversation("Contoso", 1_000 * (i + 1));
        c.customer = Customer {
            id: format!("dl_{i}"),
            name: Some(format!("Customer Number{i}")),
            email: None,
        };
        c.assign(
            queue("BotQueue"),
            Owner::Bot(user(if i < 5 { "faq-bot" } else { "billing-bot" })),
            Timestamp(1_000 * (i + 1)),
        )
        .unwrap();
        stored(&db.store, &c).await;
        let text = if i == 7 {
            "My card was charged 100% twice"
        } else {
            "hello"
        };
        db.store
            .append_activity(
                c.id,
                NewActivity {
                    body: json_message(text),
                    ..message(&format!("m{i}"))
                },
            )
            .await
            .unwrap();
        if i % 2 == 0 {
            c.end_by_bot(Timestamp(1_000 * (i + 1) + 500)).unwrap();
        } else {
            let bot = c.owner.as_ref().unwrap().name().clone();
            c.escalate(&bot, Context::new(), Timestamp(1_000 * (i + 1) + 100))
                .unwrap();
            c.assign(
                queue("CreditCardQueue"),
                Owner::Agent(user("alice")),
                Timestamp(1_000 * (i + 1) + 200),
            )
            .unwrap();
            if i % 3 == 0 {
                c.transfer_to_agent(user("bob_%"), Timestamp(1_000 * (i + 1) + 300))
                    .unwrap();
            }
        }
        db.store
            .update_conversation(&c, ConversationState::Active)
            .await
            .unwrap();
        all.push(c);
    }
    let ids = |list: Vec<Conversation>| list.iter().map(|c| c.id).collect::<Vec<_>>();
    let pick = |which: &[usize]| which.iter().map(|&i| all[i].id).collect::<Vec<_>>();
    let list = async |f: ConversationFilter| {
        let n = db.store.count_conversations(&f).await.unwrap();
        let found = db.store.list_conversations(&f).await.unwrap();
        assert_eq!(n as usize, found.len(), "count agrees with the listing for {f:?}");
        ids(found)
    };

    let f = ConversationFilter::all().created(Some(Timestamp(3_000)), Some(Timestamp(6_000)));
    assert_eq!(list(f).await, pick(&[2, 3, 4]), "from is inclusive, before exclusive");
    let f = ConversationFilter {
        outcome: Some(Outcome::ResolvedByBot),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[0, 2, 4, 6, 8]));
    let f = ConversationFilter {
        customer: Some("number7".into()),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[7]), "customer names match without case");
    let f = ConversationFilter {
        customer: Some("dl_".into()),
        ..Default::default()
    };
    assert_eq!(list(f).await.len(), 10, "`_` is a literal underscore");
    let f = ConversationFilter {
        bot: Some(user("billing-bot")),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[5, 6, 7, 8, 9]));
    let f = ConversationFilter {
        agent: Some(user("alice")),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[1, 3, 5, 7, 9]));
    let f = ConversationFilter {
        agent: Some(user("bob_%")),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[3, 9]), "wildcards in a name are literal");
    let f = ConversationFilter {
        agent: Some(user("bob")),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[]), "a name matches whole");
    let f = ConversationFilter {
        text: Some("CHARGED 100%".into()),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[7]));
    let f = ConversationFilter {
        text: Some("100%%".into()),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[]), "`%` is a literal percent sign");
    let f = ConversationFilter {
        agent: Some(user("alice")),
        bot: Some(user("faq-bot")),
        ..Default::default()
    };
    assert_eq!(list(f).await, pick(&[1, 3]), "filters combine");

    // Keyset pages of three walk everything once, in order.
    let mut seen = Vec::new();
    let mut page = ConversationFilter::all().limit(3);
    loop {
        let got = db.store.list_conversations(&page).await.unwrap();
        let Some(last) = got.last() else { break };
        page = page.after(last);
        seen.extend(got.iter().map(|c| c.id));
    }
    assert_eq!(seen, pick(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(
        db.store
            .count_conversations(&ConversationFilter::all().limit(3))
            .await
            .unwrap(),
        10
    );
}

/// A message body with `text`.
fn json_message(text: &str) -> String {
    serde_json::json!({"type": "message", "text": text}).to_string()
}

async fn a_survey_and_its_answers_are_stored_with_the_conversation(db: TestDb) {
    use domain::conversation::{SurveyAnswer, SurveyEnd};
    let mut c = conversation("Contoso", 1_000);
    c.enqueue(queue("CreditCardQueue"), Timestamp(1_000)).unwrap();
    c.assign(queue("CreditCardQueue"), Owner::Agent(user("alice")), Timestamp(1_100))
        .unwrap();
    stored(&db.store, &c).await;
    c.end_by_agent(Timestamp(1_200)).unwrap();
    c.start_survey(user("survey-bot"), Timestamp(1_200)).unwrap();
    db.store
        .update_conversation(&c, ConversationState::Active)
        .await
        .unwrap();
    assert_eq!(
        db.store.get_conversation(c.id).await.unwrap().unwrap().survey,
        c.survey,
        "a running survey"
    );
    c.answer_survey(
        [
            ("csat".to_owned(), SurveyAnswer::Number(4)),
            ("comment".to_owned(), SurveyAnswer::Text("ok ✓".into())),
        ],
        Timestamp(1_300),
    )
    .unwrap();
    c.end_survey(SurveyEnd::Completed, Timestamp(1_400)).unwrap();
    db.store
        .update_conversation(&c, ConversationState::WrapUp)
        .await
        .unwrap();
    let back = db.store.get_conversation(c.id).await.unwrap().unwrap();
    assert_eq!(back, c);
    assert_eq!(back.survey.unwrap().csat, Some(4));
    // The survey bot, invoked at the end, is the conversation's one bot session.
    assert_eq!(
        db.store
            .bot_sessions(&tenant("Contoso"), Timestamp(0), Timestamp(10_000))
            .await
            .unwrap(),
        vec![(user("survey-bot"), 1)]
    );
}

async fn bot_sessions_count_each_conversation_once_in_the_month_its_first_bot_was_invoked(db: TestDb) {
    let month = (Timestamp(1_000_000), Timestamp(2_000_000));
    // Two bots in one conversation: one session, the first bot's.
    let mut two_bots = conversation("Contoso", 1_000_000);
    two_bots
        .assign(queue("BotQueue"), Owner::Bot(user("faq-bot")), Timestamp(1_000_100))
        .unwrap();
    two_bots
        .escalate(&user("faq-bot"), Context::new(), Timestamp(1_000_200))
        .unwrap();
    two_bots
        .assign(
            queue("BillingBotQueue"),
            Owner::Bot(user("billing-bot")),
            Timestamp(1_000_300),
        )
        .unwrap();
    // Escalated to a person: still one session.
    let mut escalated = conversation("Contoso", 1_100_000);
    escalated
        .assign(queue("BotQueue"), Owner::Bot(user("faq-bot")), Timestamp(1_100_000))
        .unwrap();
    escalated
        .escalate(&user("faq-bot"), Context::new(), Timestamp(1_100_500))
        .unwrap();
    escalated
        .assign(
            queue("CreditCardQueue"),
            Owner::Agent(user("alice")),
            Timestamp(1_100_900),
        )
        .unwrap();
    // No bot at all: none.
    let mut people_only = conversation("Contoso", 1_200_000);
    people_only
        .assign(
            queue("CreditCardQueue"),
            Owner::Agent(user("alice")),
            Timestamp(1_200_000),
        )
        .unwrap();
    // Created this month, bot first invoked the next: counts next month.
    let mut late = conversation("Contoso", 1_999_000);
    let other_tenant = {
        let mut c = conversation("Fabrikam", 1_500_000);
        c.assign(queue("BotQueue"), Owner::Bot(user("faq-bot")), Timestamp(1_500_000))
            .unwrap();
        c
    };
    for c in [&two_bots, &escalated, &people_only, &late, &other_tenant] {
        stored(&db.store, c).await;
    }
    late.enqueue(queue("CreditCardQueue"), Timestamp(1_999_500)).unwrap();
    late.assign(queue("BotQueue"), Owner::Bot(user("billing-bot")), Timestamp(2_000_000))
        .unwrap();
    db.store
        .update_conversation(&late, ConversationState::Open)
        .await
        .unwrap();

    let contoso = tenant("Contoso");
    let count = async |store: &Arc<dyn Store>, (from, before): (Timestamp, Timestamp)| {
        store.bot_sessions(&contoso, from, before).await.unwrap()
    };
    assert_eq!(count(&db.store, month).await, vec![(user("faq-bot"), 2)]);
    assert_eq!(
        count(&db.store, (Timestamp(2_000_000), Timestamp(3_000_000))).await,
        vec![(user("billing-bot"), 1)],
        "a new month starts from nothing"
    );
    // Counted from what is stored: the same after a restart, however often asked.
    db.store.close().await;
    let reopened = switchboard_store::open(&db.url).await.unwrap();
    assert_eq!(count(&reopened, month).await, vec![(user("faq-bot"), 2)]);
    assert_eq!(count(&reopened, month).await, vec![(user("faq-bot"), 2)]);
    reopened.close().await;
}

async fn opening_the_same_database_twice_runs_the_migrations_harmlessly(db: TestDb) {
    let second = switchboard_store::open(&db.url).await.expect("open again");
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    assert_eq!(second.get_conversation(c.id).await.unwrap(), Some(c));
    second.close().await;
}

/// A rolling upgrade: a newer release migrated the database further; this one still opens it.
async fn a_database_a_newer_release_migrated_still_opens(db: TestDb) {
    let mut conn = AnyConnection::connect(&db.url).await.unwrap();
    let checksum = if db.url.starts_with("postgres") {
        "'\\x00'::bytea"
    } else {
        "x'00'"
    };
    conn.execute(
        format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101, 'from a newer release', true, {checksum}, 0)"
        )
        .as_str(),
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    let again = switchboard_store::open(&db.url)
        .await
        .expect("an older release opens it");
    let c = conversation("Contoso", 1);
    stored(&again, &c).await;
    again.close().await;
}

async fn after_close_writes_and_reads_fail_as_closed(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    db.store.close().await;
    db.store.close().await;
    assert!(matches!(
        db.store.append_activity(c.id, message("late")).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        db.store.insert_conversation(&conversation("Contoso", 2)).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(db.store.get_conversation(c.id).await, Err(StoreError::Closed)));
    assert!(matches!(db.store.ping().await, Err(StoreError::Closed)));
}

async fn the_store_answers_ping(db: TestDb) {
    db.store.ping().await.unwrap();
}

/// How many acknowledged appends the crash test waits for before it kills the writer process.
const ACKS_BEFORE_KILL: usize = 300;
const CRASH_URL_VAR: &str = "SWITCHBOARD_STORE_CRASH_URL";
const CRASH_CONVERSATION_VAR: &str = "SWITCHBOARD_STORE_CRASH_CONVERSATION";

async fn acknowledged_appends_survive_a_kill_9_of_the_process(db: TestDb) {
    let c = conversation("Contoso", 1);
    stored(&db.store, &c).await;
    db.store.append_activity(c.id, message("before")).await.unwrap();

    // A second process appends as fast as it can and prints each acknowledgement; kill it
    // mid-flight (SIGKILL: no destructor, no flush, no graceful close).
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_process_for_the_kill_9_test",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_URL_VAR, &db.url)
        .env(CRASH_CONVERSATION_VAR, c.id.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked: Vec<(String, u64)> = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ack ") {
                let (id, seq) = rest.split_once(' ').unwrap();
                acked.push((id.to_owned(), seq.parse().unwrap()));
                if acked.len() >= ACKS_BEFORE_KILL {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        acked
    })
    .await
    .unwrap();
    assert_eq!(acked.len(), ACKS_BEFORE_KILL, "the helper process stopped early");

    // Restart: everything acknowledged is there, under the seq it was acknowledged with, and the
    // log is gap-free from 1.
    let reopened = switchboard_store::open(&db.url).await.unwrap();
    let log = reopened.activities_after(c.id, Seq::ZERO, 100_000).await.unwrap();
    assert_eq!(
        seqs(&log),
        (1..=log.len() as u64).collect::<Vec<_>>(),
        "gap-free after the crash"
    );
    let stored: HashSet<(String, u64)> = log.iter().map(|a| (a.activity.id.clone(), a.seq.0)).collect();
    for ack in &acked {
        assert!(stored.contains(ack), "acknowledged {ack:?} was lost");
    }
    let next = reopened.append_activity(c.id, message("after-restart")).await.unwrap();
    assert_eq!(
        next,
        Appended {
            seq: Seq(log.len() as u64 + 1),
            duplicate: false
        }
    );
    eprintln!(
        "{} kill -9: {} acknowledged, {} stored before the kill",
        reopened.backend(),
        acked.len(),
        log.len()
    );
    reopened.close().await;
}

/// Not a test of its own: the process `acknowledged_appends_survive_a_kill_9_of_the_process`
/// starts and kills. Without its environment variables it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_process_for_the_kill_9_test() {
    let (Ok(url), Ok(conversation)) = (std::env::var(CRASH_URL_VAR), std::env::var(CRASH_CONVERSATION_VAR)) else {
        return;
    };
    let conversation = ConversationId::parse(&conversation).unwrap();
    let store = switchboard_store::open(&url).await.unwrap();
    let mut tasks = JoinSet::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for n in 0.. {
                let id = format!("crash-{t}-{n}");
                let appended = store.append_activity(conversation, message(&id)).await.unwrap();
                println!("ack {id} {}", appended.seq.0);
            }
        });
    }
    tasks.join_all().await;
}

// ---------------------------------------------------------------------------------------------
// Backend-independent

#[tokio::test]
async fn unsupported_database_urls_are_refused_with_a_clear_error() {
    for url in [
        "mysql://root:secret@localhost/switchboard",
        "nonsense",
        "",
        "http://localhost/db",
    ] {
        match switchboard_store::open(url).await {
            Err(StoreError::InvalidUrl(message)) => {
                assert!(
                    message.contains("sqlite:") && message.contains("postgres://"),
                    "{url}: {message}"
                );
                assert!(
                    !message.contains("secret"),
                    "the URL's password is not repeated: {message}"
                );
            }
            Err(other) => panic!("{url}: expected InvalidUrl, got {other:?}"),
            Ok(_) => panic!("{url}: opened"),
        }
    }
}

#[tokio::test]
async fn an_in_memory_sqlite_store_works_for_tests() {
    let store = switchboard_store::open("sqlite::memory:").await.unwrap();
    let c = conversation("Contoso", 1);
    stored(&store, &c).await;
    assert_eq!(store.append_activity(c.id, message("m1")).await.unwrap().seq, Seq(1));
    assert_eq!(store.get_conversation(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(
        seqs(&store.activities_after(c.id, Seq::ZERO, 10).await.unwrap()),
        vec![1]
    );
    store.close().await;
}

#[test]
fn a_test_database_url_keeps_everything_but_the_database_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
}

// ---------------------------------------------------------------------------------------------

/// Instantiates each conformance test for every backend.
macro_rules! conformance {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::run_sqlite(crate::$test).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::run_postgres(crate::$test).await;
                }
            )+
        }
    };
}

conformance!(
    a_conversation_round_trips_every_field,
    inserting_a_conversation_twice_is_a_conflict_and_keeps_the_first,
    an_update_with_a_stale_expected_state_is_a_conflict_and_changes_nothing,
    listing_filters_by_tenant_state_workstream_queue_and_owner_in_creation_order,
    routing_history_round_trips_in_the_order_recorded,
    appends_are_numbered_one_two_three_per_conversation_independently,
    a_repeated_activity_id_is_stored_once_and_returns_its_original_seq,
    an_append_to_an_unknown_conversation_is_not_found_while_its_batch_companions_succeed,
    fifty_tasks_appending_to_ten_conversations_get_gap_free_seqs_in_few_transactions,
    activities_after_pages_through_the_log_in_seq_order,
    activities_without_an_id_or_with_a_nul_character_are_refused,
    a_failing_append_does_not_fail_the_others_in_its_batch,
    an_activity_is_found_by_its_id_in_its_own_conversation_only,
    an_attachment_reads_back_byte_for_byte_with_the_size_of_each_view,
    an_attachment_needs_a_stored_conversation_and_a_new_id,
    attachments_uploaded_at_once_are_group_committed_with_appends,
    a_password_hash_is_set_read_back_and_replaced,
    a_new_password_deletes_that_users_sessions_but_not_anyone_elses,
    a_session_round_trips_until_it_expires,
    a_session_whose_token_hash_is_stored_is_a_conflict_and_keeps_the_first,
    a_deleted_session_is_gone_and_deleting_an_absent_one_is_fine,
    empty_hashes_and_hashes_with_a_nul_character_are_refused,
    credentials_and_sessions_survive_close_and_reopen,
    what_was_acknowledged_survives_close_and_reopen,
    opening_the_same_database_twice_runs_the_migrations_harmlessly,
    a_database_a_newer_release_migrated_still_opens,
    sentiment_and_milestones_round_trip_and_the_latest_scored_message_sets_the_conversations,
    search_filters_by_date_outcome_customer_bot_agent_and_text_and_pages_by_key,
    bot_sessions_count_each_conversation_once_in_the_month_its_first_bot_was_invoked,
    a_survey_and_its_answers_are_stored_with_the_conversation,
    after_close_writes_and_reads_fail_as_closed,
    the_store_answers_ping,
    acknowledged_appends_survive_a_kill_9_of_the_process,
);
