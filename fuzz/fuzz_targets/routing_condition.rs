//! Arbitrary UTF-8 as a routing condition (`domain::rules`), then what loading and routing do
//! with it: the check against a workstream's variables, evaluation, explanation and routing over
//! two small contexts.
//!
//! What it holds the code to, all of it documented in `crates/domain/src/rules`: nothing panics;
//! every parse and check error's span lies inside the source on character boundaries (the
//! renderer slices by it) and check errors come in source order; every span of a parsed tree
//! points into the source; the canonical form (`Expr`'s `Display`) parses back to the same tree
//! and the same text; `explain` agrees with `matches`; `not (…)` is the exact opposite; routing
//! picks the rule's queue exactly when the condition matches, with the rule's own explanation as
//! the trace's reason.

#![no_main]

use domain::rules::{Condition, Expr, Rule, Span, Spanned, check, route};
use domain::{Context, ContextValue, ContextVarDef, ContextVarName, QueueName, RuleName, VarType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let condition = match Condition::parse(source) {
        Ok(condition) => condition,
        Err(error) => {
            assert_inside(source, error.span, "parse error");
            let _ = error.render(source);
            let _ = error.to_string();
            return;
        }
    };
    assert_eq!(condition.source(), source);
    assert_spans_inside(source, condition.expr());

    let fixture = fixture();
    let errors = check(&condition, &fixture.defs);
    for error in &errors {
        assert_inside(source, error.span, "check error");
        let _ = error.render(source);
        let _ = error.to_string();
    }
    assert!(
        errors.windows(2).all(|pair| pair[0].span.start <= pair[1].span.start),
        "check errors out of source order: {errors:?}"
    );

    let canonical = condition.expr().to_string();
    let again = Condition::parse(&canonical).unwrap_or_else(|e| {
        panic!(
            "the canonical form {canonical:?} does not parse:\n{}",
            e.render(&canonical)
        )
    });
    assert_eq!(without_spans(again.expr()), without_spans(condition.expr()));
    assert_eq!(again.expr().to_string(), canonical);

    // `not (…)` adds two levels of nesting, which may cross the limit; then there is nothing to
    // compare.
    let negated = Condition::parse(&format!("not ({canonical})")).ok();
    for ctx in &fixture.contexts {
        let matched = condition.matches(ctx);
        let (explained, reason) = condition.explain(ctx);
        assert_eq!(explained, matched);
        assert!(!reason.is_empty());
        assert_eq!(again.matches(ctx), matched);
        if let Some(negated) = &negated {
            assert_eq!(negated.matches(ctx), !matched, "not ({canonical})");
        }

        let rule = Rule {
            name: fixture.rule.clone(),
            condition: condition.clone(),
            queue: fixture.queue.clone(),
        };
        let decision = route(std::slice::from_ref(&rule), &fixture.fallback, ctx);
        let expected = if matched { &fixture.queue } else { &fixture.fallback };
        assert_eq!(&decision.queue, expected);
        assert_eq!(decision.rule.is_some(), matched);
        assert_eq!(decision.trace.len(), 1);
        assert_eq!(decision.trace[0].matched, matched);
        assert_eq!(decision.trace[0].reason.as_str(), reason);
    }
});

/// A workstream's variables and two contexts over them: one empty, one with every variable set
/// (a text that is empty, so `contains data` is false for a set variable too).
struct Fixture {
    defs: domain::context::ContextDefs,
    contexts: [Context; 2],
    rule: RuleName,
    queue: QueueName,
    fallback: QueueName,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let vars = [
            ("BotHandoffTopic", VarType::Text),
            ("Tier", VarType::Text),
            ("Region", VarType::Text),
            ("Amount", VarType::Number),
            ("Name with spaces", VarType::Text),
        ];
        let defs = domain::context::ContextDefs::new(vars.map(|(name, kind)| ContextVarDef {
            name: ContextVarName::new(name).unwrap(),
            kind,
        }));
        let mut set = Context::new();
        for (name, value) in [
            ("BotHandoffTopic", ContextValue::Text("CreditCard".into())),
            ("Tier", ContextValue::Text("gold".into())),
            ("Region", ContextValue::Text(String::new())),
            ("Amount", ContextValue::Number(1000.0)),
            ("Name with spaces", ContextValue::Text("é \"quoted\"\n".into())),
        ] {
            set.set(ContextVarName::new(name).unwrap(), value);
        }
        Fixture {
            defs,
            contexts: [Context::new(), set],
            rule: RuleName::new("FuzzRule").unwrap(),
            queue: QueueName::new("FuzzQueue").unwrap(),
            fallback: QueueName::new("FallbackQueue").unwrap(),
        }
    })
}

fn assert_inside(source: &str, span: Span, what: &str) {
    assert!(
        span.start <= span.end && span.end <= source.len(),
        "{what} span {span:?} outside {source:?}"
    );
    assert!(
        source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
        "{what} span {span:?} splits a character of {source:?}"
    );
}

fn assert_spans_inside(source: &str, expr: &Expr) {
    match expr {
        Expr::Compare { var, op, value } => {
            for span in [var.span, op.span, value.span] {
                assert_inside(source, span, "tree");
            }
        }
        Expr::HasData { var, op_span, .. } => {
            for span in [var.span, *op_span] {
                assert_inside(source, span, "tree");
            }
        }
        Expr::InList { var, op_span, list, .. } => {
            for span in [var.span, *op_span, list.span] {
                assert_inside(source, span, "tree");
            }
        }
        Expr::Not(inner) => assert_spans_inside(source, inner),
        Expr::And(parts) | Expr::Or(parts) => {
            for part in parts {
                assert_spans_inside(source, part);
            }
        }
    }
}

/// `expr` with every span reset, to compare trees regardless of where they were written.
fn without_spans(expr: &Expr) -> Expr {
    fn bare<T: Clone>(spanned: &Spanned<T>) -> Spanned<T> {
        Spanned::new(spanned.node.clone(), Span::default())
    }
    match expr {
        Expr::Compare { var, op, value } => Expr::Compare {
            var: bare(var),
            op: bare(op),
            value: bare(value),
        },
        Expr::HasData { var, negated, .. } => Expr::HasData {
            var: bare(var),
            negated: *negated,
            op_span: Span::default(),
        },
        Expr::InList { var, negated, list, .. } => Expr::InList {
            var: bare(var),
            negated: *negated,
            op_span: Span::default(),
            list: bare(list),
        },
        Expr::Not(inner) => Expr::Not(Box::new(without_spans(inner))),
        Expr::And(parts) => Expr::And(parts.iter().map(without_spans).collect()),
        Expr::Or(parts) => Expr::Or(parts.iter().map(without_spans).collect()),
    }
}
