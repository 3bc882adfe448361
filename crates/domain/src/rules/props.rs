//! Properties of the condition language and of routing, checked on generated conditions,
//! contexts and rule lists.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::context::{Context, ContextValue, ContextVarName};

/// Variable names, including ones that must be back-ticked.
const NAMES: &[&str] = &[
    "Topic",
    "Amount",
    "Tier",
    "customer.tier_2",
    "Name with spaces",
    "and",
    "a`b\\c",
];

fn var() -> impl Strategy<Value = Spanned<ContextVarName>> {
    prop::sample::select(NAMES).prop_map(|n| Spanned::new(ContextVarName::new(n).unwrap(), Span::default()))
}

/// Short texts from a small alphabet, so that generated values and literals often meet.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["", "a", "ab", "A", "gold"]).prop_map(str::to_owned),
        "[ab \"\\\\\n\t`é]{0,4}",
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-3i32..4).prop_map(f64::from),
        (-30i32..40).prop_map(|n| f64::from(n) / 4.0),
        any::<f64>().prop_filter("finite", |n| n.is_finite()),
    ]
}

fn op(ops: &'static [Op]) -> impl Strategy<Value = Spanned<Op>> {
    prop::sample::select(ops).prop_map(|op| Spanned::new(op, Span::default()))
}

const TEXT_OPS: &[Op] = &[
    Op::Equals,
    Op::NotEquals,
    Op::Contains,
    Op::NotContains,
    Op::BeginsWith,
    Op::NotBeginsWith,
    Op::EndsWith,
    Op::NotEndsWith,
];
const NUMBER_OPS: &[Op] = &[
    Op::Equals,
    Op::NotEquals,
    Op::Greater,
    Op::GreaterOrEqual,
    Op::Less,
    Op::LessOrEqual,
];

fn spanned<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn atom() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (var(), op(TEXT_OPS), text()).prop_map(|(var, op, s)| Expr::Compare {
            var,
            op,
            value: spanned(Literal::Text(s))
        }),
        (var(), op(NUMBER_OPS), number()).prop_map(|(var, op, n)| Expr::Compare {
            var,
            op,
            value: spanned(Literal::Number(n))
        }),
        (var(), any::<bool>()).prop_map(|(var, negated)| Expr::HasData {
            var,
            negated,
            op_span: Span::default()
        }),
        (
            var(),
            any::<bool>(),
            prop_oneof![
                vec(text(), 1..4).prop_map(List::Text),
                vec(number(), 1..4).prop_map(List::Number)
            ]
        )
            .prop_map(|(var, negated, list)| Expr::InList {
                var,
                negated,
                op_span: Span::default(),
                list: spanned(list),
            }),
    ]
}

/// Trees as the parser builds them: `and` / `or` of at least two parts.
fn expr() -> impl Strategy<Value = Expr> {
    atom().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            vec(inner.clone(), 2..4).prop_map(Expr::And),
            vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

fn context() -> impl Strategy<Value = Context> {
    let value = prop_oneof![
        Just(None),
        text().prop_map(|s| Some(ContextValue::Text(s))),
        (-3i32..4).prop_map(|n| Some(ContextValue::Number(f64::from(n)))),
    ];
    vec(value, NAMES.len()).prop_map(|values| {
        let mut ctx = Context::new();
        for (name, value) in NAMES.iter().zip(values) {
            if let Some(value) = value {
                ctx.set(ContextVarName::new(*name).unwrap(), value);
            }
        }
        ctx
    })
}

/// `expr` with every span reset, to compare trees regardless of where they were written.
fn without_spans(expr: &Expr) -> Expr {
    let var = |v: &Spanned<ContextVarName>| spanned(v.node.clone());
    match expr {
        Expr::Compare { var: v, op, value } => Expr::Compare {
            var: var(v),
            op: spanned(op.node),
            value: spanned(value.node.clone()),
        },
        Expr::HasData { var: v, negated, .. } => Expr::HasData {
            var: var(v),
            negated: *negated,
            op_span: Span::default(),
        },
        Expr::InList {
            var: v, negated, list, ..
        } => Expr::InList {
            var: var(v),
            negated: *negated,
            op_span: Span::default(),
            list: spanned(list.node.clone()),
        },
        Expr::Not(inner) => Expr::Not(Box::new(without_spans(inner))),
        Expr::And(parts) => Expr::And(parts.iter().map(without_spans).collect()),
        Expr::Or(parts) => Expr::Or(parts.iter().map(without_spans).collect()),
    }
}

/// Text that looks like conditions more often than arbitrary strings do.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "(", ")", "[", "]", ",", "and", "or", "not", "X", "`Y Z`", "equals", "does", "not", "contain", "contains",
        "data", "begins", "with", "in", "=", "!=", ">=", "<", "\"a\"", "\"", "`", "\\", "1", "-", "-2.5", "1e",
        "1e999", "é", "&", "'", " ", "\n",
    ]);
    (vec(token, 0..14), any::<bool>()).prop_map(|(tokens, spaced)| tokens.join(if spaced { " " } else { "" }))
}

fn assert_error_is_well_placed(src: &str, e: &ParseError) {
    assert!(e.span.start <= e.span.end && e.span.end <= src.len(), "{src:?}: {e:?}");
    assert!(
        src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end),
        "{src:?}: {e:?}"
    );
    let _ = e.render(src);
}

/// How a value reads in a reason.
fn quote_value(value: &ContextValue) -> String {
    let mut out = String::new();
    let _ = match value {
        ContextValue::Text(s) => super::ast::write_quoted(&mut out, s, '"', Some(60)),
        ContextValue::Number(n) => std::fmt::Write::write_fmt(&mut out, format_args!("{n}")),
    };
    out
}

/// A plain reading of the documented semantics, written independently of the compiled routing
/// to check it against: whether `expr` holds for `ctx`, and the facts its reason names.
fn reference(expr: &Expr, ctx: &Context) -> (bool, Vec<String>) {
    let name = |var: &Spanned<ContextVarName>| {
        let mut out = String::new();
        let _ = super::ast::write_var(&mut out, &var.node);
        out
    };
    match expr {
        Expr::Compare { var, op, value } => {
            let (op, literal) = (op.node, &value.node);
            let (held, not_held) = match op {
                Op::Equals | Op::NotEquals => ("equals", "does not equal"),
                Op::Contains | Op::NotContains => ("contains", "does not contain"),
                Op::BeginsWith | Op::NotBeginsWith => ("begins with", "does not begin with"),
                Op::EndsWith | Op::NotEndsWith => ("ends with", "does not end with"),
                Op::Greater => ("is greater than", "is not greater than"),
                Op::GreaterOrEqual => ("is at least", "is not at least"),
                Op::Less => ("is less than", "is not less than"),
                Op::LessOrEqual => ("is at most", "is not at most"),
            };
            let wanted = match (op.is_text_only(), op.is_number_only(), literal) {
                (true, _, _) | (_, false, Literal::Text(_)) => "text",
                _ => "a number",
            };
            let (name, negated) = (name(var), op.is_negated());
            let Some(current) = ctx.get(var.node.as_str()) else {
                return (negated, vec![format!("{name} is not set, so it {not_held} {literal}")]);
            };
            let relation = match (current, literal) {
                (ContextValue::Text(v), Literal::Text(l)) => match op {
                    Op::Equals | Op::NotEquals => Some(v == l),
                    Op::Contains | Op::NotContains => Some(v.contains(l.as_str())),
                    Op::BeginsWith | Op::NotBeginsWith => Some(v.starts_with(l.as_str())),
                    Op::EndsWith | Op::NotEndsWith => Some(v.ends_with(l.as_str())),
                    _ => None,
                },
                (ContextValue::Number(v), Literal::Number(l)) => match op {
                    Op::Equals | Op::NotEquals => Some(v == l),
                    Op::Greater => Some(v > l),
                    Op::GreaterOrEqual => Some(v >= l),
                    Op::Less => Some(v < l),
                    Op::LessOrEqual => Some(v <= l),
                    _ => None,
                },
                _ => None,
            };
            let value = quote_value(current);
            match relation {
                Some(true) => (!negated, vec![format!("{name} is {value}, which {held} {literal}")]),
                Some(false) => (negated, vec![format!("{name} is {value}, which {not_held} {literal}")]),
                None => (
                    negated,
                    vec![format!("{name} is {value}, not {wanted}, so it {not_held} {literal}")],
                ),
            }
        }
        Expr::InList { var, negated, list, .. } => {
            let (list, name) = (&list.node, name(var));
            let wanted = if matches!(list, List::Text(_)) {
                "text"
            } else {
                "a number"
            };
            let Some(current) = ctx.get(var.node.as_str()) else {
                return (*negated, vec![format!("{name} is not set, so it is not in {list}")]);
            };
            let value = quote_value(current);
            match (current, list) {
                (ContextValue::Text(v), List::Text(items)) if items.contains(v) => {
                    (!negated, vec![format!("{name} is {value}, which is in {list}")])
                }
                (ContextValue::Number(v), List::Number(items)) if items.contains(v) => {
                    (!negated, vec![format!("{name} is {value}, which is in {list}")])
                }
                (ContextValue::Text(_), List::Text(_)) | (ContextValue::Number(_), List::Number(_)) => {
                    (*negated, vec![format!("{name} is {value}, which is not in {list}")])
                }
                _ => (
                    *negated,
                    vec![format!("{name} is {value}, not {wanted}, so it is not in {list}")],
                ),
            }
        }
        Expr::HasData { var, negated, .. } => {
            let name = name(var);
            match ctx.get(var.node.as_str()) {
                None => (
                    *negated,
                    vec![format!("{name} is not set, so it does not contain data")],
                ),
                Some(ContextValue::Text(s)) if s.is_empty() => {
                    (*negated, vec![format!("{name} is empty, so it does not contain data")])
                }
                Some(value) => (
                    !negated,
                    vec![format!("{name} is {}, so it contains data", quote_value(value))],
                ),
            }
        }
        Expr::Not(inner) => {
            let (matched, facts) = reference(inner, ctx);
            (!matched, facts)
        }
        Expr::And(parts) | Expr::Or(parts) => {
            // The first part that settles it explains it alone; otherwise every part does.
            let decisive = matches!(expr, Expr::Or(_));
            let mut facts = Vec::new();
            for part in parts {
                let (matched, part_facts) = reference(part, ctx);
                if matched == decisive {
                    return (decisive, part_facts);
                }
                facts.extend(part_facts);
            }
            (!decisive, facts)
        }
    }
}

proptest! {
    #[test]
    fn the_parser_never_panics_and_places_errors_inside_the_input(src in any::<String>()) {
        if let Err(e) = parse_condition(&src) {
            assert_error_is_well_placed(&src, &e);
        }
    }

    #[test]
    fn the_parser_never_panics_on_near_conditions(src in token_soup()) {
        match parse_condition(&src) {
            Err(e) => assert_error_is_well_placed(&src, &e),
            Ok(c) => {
                let canonical = c.expr().to_string();
                let again = parse_condition(&canonical).unwrap();
                prop_assert_eq!(without_spans(again.expr()), without_spans(c.expr()));
            }
        }
    }

    #[test]
    fn parsing_the_display_form_gives_the_same_tree_back(e in expr()) {
        let text = e.to_string();
        let parsed = match parse_condition(&text) {
            Ok(c) => c,
            Err(err) => panic!("{text:?} does not parse:\n{}", err.render(&text)),
        };
        prop_assert_eq!(without_spans(parsed.expr()), e);
        prop_assert_eq!(parsed.expr().to_string(), text);
    }

    #[test]
    fn explaining_a_condition_agrees_with_evaluating_it(e in expr(), ctx in context()) {
        let condition = parse_condition(&e.to_string()).unwrap();
        let (matched, reason) = condition.explain(&ctx);
        prop_assert_eq!(matched, condition.matches(&ctx));
        prop_assert!(!reason.is_empty());
    }

    #[test]
    fn a_reason_names_the_facts_the_documented_semantics_say_decided(e in expr(), ctx in context()) {
        let condition = parse_condition(&e.to_string()).unwrap();
        let (matched, facts) = reference(condition.expr(), &ctx);
        prop_assert_eq!(condition.explain(&ctx), (matched, facts.join("; ")));
    }

    #[test]
    fn not_is_the_exact_opposite(e in expr(), ctx in context()) {
        let condition = parse_condition(&e.to_string()).unwrap();
        let negated = parse_condition(&format!("not ({e})")).unwrap();
        prop_assert_eq!(negated.matches(&ctx), !condition.matches(&ctx));
    }

    #[test]
    fn every_negated_operator_is_the_exact_opposite_of_its_positive(
        e in atom(),
        ctx in context(),
    ) {
        let positive = match e {
            Expr::Compare { var, op, value } => {
                let op = match op.node {
                    Op::NotEquals => Op::Equals,
                    Op::NotContains => Op::Contains,
                    Op::NotBeginsWith => Op::BeginsWith,
                    Op::NotEndsWith => Op::EndsWith,
                    other => other,
                };
                Expr::Compare { var, op: spanned(op), value }
            }
            Expr::HasData { var, op_span, .. } => Expr::HasData { var, negated: false, op_span },
            Expr::InList { var, op_span, list, .. } => Expr::InList { var, negated: false, op_span, list },
            other => other,
        };
        let negative = match positive.clone() {
            Expr::Compare { var, op, value } => {
                let op = match op.node {
                    Op::Equals => Op::NotEquals,
                    Op::Contains => Op::NotContains,
                    Op::BeginsWith => Op::NotBeginsWith,
                    Op::EndsWith => Op::NotEndsWith,
                    _ => return Ok(()), // number comparisons have no negated spelling
                };
                Expr::Compare { var, op: spanned(op), value }
            }
            Expr::HasData { var, op_span, .. } => Expr::HasData { var, negated: true, op_span },
            Expr::InList { var, op_span, list, .. } => Expr::InList { var, negated: true, op_span, list },
            other => other,
        };
        let holds = |e: &Expr| parse_condition(&e.to_string()).unwrap().matches(&ctx);
        prop_assert_eq!(holds(&negative), !holds(&positive), "{} / {}", positive, negative);
    }

    #[test]
    fn the_first_rule_whose_condition_holds_wins_and_the_trace_stops_there(
        conditions in vec(expr(), 0..8),
        ctx in context(),
    ) {
        let rules: Vec<Rule> = conditions
            .iter()
            .enumerate()
            .map(|(i, e)| Rule {
                name: RuleName::new(format!("Rule{i}")).unwrap(),
                condition: parse_condition(&e.to_string()).unwrap(),
                queue: QueueName::new(format!("Queue{i}")).unwrap(),
            })
            .collect();
        let fallback = QueueName::new("Fallback").unwrap();
        let decision = route(&rules, &fallback, &ctx);

        match rules.iter().position(|r| r.condition.matches(&ctx)) {
            Some(i) => {
                prop_assert_eq!(&decision.queue, &rules[i].queue);
                prop_assert_eq!(decision.rule.as_ref(), Some(&rules[i].name));
                prop_assert_eq!(decision.trace.len(), i + 1);
            }
            None => {
                prop_assert_eq!(&decision.queue, &fallback);
                prop_assert_eq!(decision.rule, None);
                prop_assert_eq!(decision.trace.len(), rules.len());
            }
        }
        for (step, rule) in decision.trace.iter().zip(&rules) {
            prop_assert_eq!(&step.rule, &rule.name);
            prop_assert_eq!(step.matched, rule.condition.matches(&ctx));
            // Routing records reasons as it goes and writes them out when read: they read as
            // the rule's own explanation does, whichever way they are read.
            let (_, reason) = rule.condition.explain(&ctx);
            prop_assert_eq!(step.reason.to_string(), reason.as_str());
            prop_assert_eq!(step.reason.as_str(), reason.as_str());
            prop_assert_eq!(serde_json::to_value(&step.reason).unwrap(), serde_json::json!(reason));
        }
    }
}
