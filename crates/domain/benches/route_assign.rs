//! Route + assign: one routing decision over a workstream with 100 rules, then one assignment
//! over a queue of 1,000 agents — the work the hub does when a conversation arrives or a bot
//! escalates. Target: under 10 µs per decision. Results go into docs/benchmarks.md.
//!
//! Run: `cargo bench -p switchboard-domain --bench route_assign`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_domain::assign::{Candidate, MemberKind, Request, assign};
use switchboard_domain::context::{Context, ContextValue, ContextVarName};
use switchboard_domain::queue::AssignmentMethod;
use switchboard_domain::rules::{Rule, parse_condition, route};
use switchboard_domain::user::Capacity;
use switchboard_domain::{Presence, QueueName, RuleName, Timestamp, UserName};

const RULES: usize = 100;
const AGENTS: usize = 1_000;

/// 100 rules of realistic shape: the match is the last rule, so every rule is evaluated.
fn rules() -> Vec<Rule> {
    (0..RULES)
        .map(|i| {
            let condition = if i + 1 == RULES {
                r#"BotHandoffTopic equals "Target" and Amount >= 100"#.to_owned()
            } else {
                format!(
                    r#"(BotHandoffTopic equals "Topic{i}" or Region begins with "R{i}-") and Amount < {}"#,
                    50 + i
                )
            };
            Rule {
                name: RuleName::new(format!("Rule{i}")).unwrap(),
                condition: parse_condition(&condition).unwrap(),
                queue: QueueName::new(format!("Queue{i}")).unwrap(),
            }
        })
        .collect()
}

fn context() -> Context {
    let mut c = Context::new();
    c.set(
        ContextVarName::new("BotHandoffTopic").unwrap(),
        ContextValue::Text("Target".into()),
    );
    c.set(
        ContextVarName::new("Region").unwrap(),
        ContextValue::Text("EU-West".into()),
    );
    c.set(ContextVarName::new("Amount").unwrap(), ContextValue::Number(250.0));
    c
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    let fallback = QueueName::new("DefaultQueue").unwrap();
    let context = context();
    let names: Vec<UserName> = (0..AGENTS)
        .map(|i| UserName::new(format!("agent{i:04}")).unwrap())
        .collect();
    // A busy floor: mixed presence, most agents partly loaded, a few full.
    let candidates: Vec<Candidate<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Candidate {
            name,
            kind: MemberKind::Human {
                capacity: Capacity(5),
                used: Capacity((i % 6) as u32),
            },
            presence: if i % 7 == 0 {
                Presence::Away
            } else {
                Presence::Available
            },
            last_assigned_at: Some(Timestamp(1_000_000 + ((i * 7919) % AGENTS) as i64)),
            last_released_at: Some(Timestamp(900_000 + ((i * 104_729) % AGENTS) as i64)),
            position: i,
        })
        .collect();
    let allowed = [Presence::Available, Presence::Busy];
    let request = Request::new(Capacity(1), &allowed);

    let decision = route(&rules, &fallback, &context);
    assert_eq!(
        decision.rule.as_ref().map(RuleName::as_str),
        Some("Rule99"),
        "the bench must evaluate every rule"
    );

    let mut group = c.benchmark_group("decision");
    group.bench_function("route_100_rules", |b| {
        b.iter(|| route(black_box(&rules), &fallback, black_box(&context)))
    });
    for method in AssignmentMethod::ALL {
        group.bench_function(format!("assign_1000_agents_{}", method.as_str()), |b| {
            b.iter(|| {
                assign(*method, black_box(&candidates), black_box(&request))
                    .member()
                    .map(|m| m.position)
            })
        });
    }
    group.bench_function("route_100_rules_then_assign_1000_agents", |b| {
        b.iter(|| {
            let decision = route(black_box(&rules), &fallback, black_box(&context));
            let chosen = assign(AssignmentMethod::HighestCapacity, black_box(&candidates), &request)
                .member()
                .map(|m| m.position);
            (decision.queue, chosen)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
