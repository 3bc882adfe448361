//! Evaluating conditions over a conversation's context, and routing: rules in order, first
//! match wins, with a trace of why each evaluated rule matched or not.
//!
//! Routing runs for every conversation over every rule, so it is kept cheap: each condition is
//! compiled once, when parsed, into a [`Node`] tree holding the fixed wording of its reasons;
//! evaluation reads the context in place and only copies those words and the variables' values
//! into one buffer, then allocates the reason string the trace keeps.

use std::fmt::Write as _;

use super::Rule;
use super::ast::{Condition, Expr, List, Literal, Op, write_quoted, write_var};
use crate::context::{Context, ContextValue, ContextVarName};
use crate::names::QueueName;
use crate::routing::{RoutingDecision, RuleTrace};

/// Room for the reasons of all but unusually long conditions, so building one rarely grows
/// the buffer.
const SCRATCH_CAPACITY: usize = 256;

/// Text values longer than this many characters are cut short in reasons.
const REASON_VALUE_CHARS: usize = 60;

/// Routes a conversation: evaluates `rules` in order over `ctx` and picks the queue of the first
/// whose condition holds, or `fallback` when none does. The trace holds one entry per rule
/// evaluated, up to and including the one that matched.
pub fn route(rules: &[Rule], fallback: &QueueName, ctx: &Context) -> RoutingDecision {
    let mut trace = Vec::with_capacity(rules.len());
    // Reasons are built in one reused buffer and copied out at their exact length: one
    // allocation per rule, never a regrowth.
    let mut scratch = String::with_capacity(SCRATCH_CAPACITY);
    for rule in rules {
        scratch.clear();
        let matched = explain(rule.condition.node(), ctx, &mut scratch);
        trace.push(RuleTrace {
            rule: rule.name.clone(),
            matched,
            reason: scratch.as_str().to_owned(),
        });
        if matched {
            return RoutingDecision {
                queue: rule.queue.clone(),
                rule: Some(rule.name.clone()),
                trace,
            };
        }
    }
    RoutingDecision {
        queue: fallback.clone(),
        rule: None,
        trace,
    }
}

impl Rule {
    /// Evaluates this rule's condition over `ctx`, saying why it matched or not.
    pub fn evaluate(&self, ctx: &Context) -> RuleTrace {
        let (matched, reason) = self.condition.explain(ctx);
        RuleTrace {
            rule: self.name.clone(),
            matched,
            reason,
        }
    }
}

impl Condition {
    /// Whether the condition holds for `ctx`.
    pub fn matches(&self, ctx: &Context) -> bool {
        holds(self.node(), ctx)
    }

    /// Whether the condition holds for `ctx`, and why, e.g.
    /// `BotHandoffTopic is "HomeLoan", which does not equal "CreditCard"`.
    ///
    /// The reason names the facts that decided the outcome: every part of an `and` that held
    /// (or the first that did not), the first part of an `or` that held (or every part, when
    /// none did). Parts joined this way are separated by `; `.
    pub fn explain(&self, ctx: &Context) -> (bool, String) {
        let mut scratch = String::with_capacity(SCRATCH_CAPACITY);
        let matched = explain(self.node(), ctx, &mut scratch);
        (matched, scratch.as_str().to_owned())
    }
}

/// A condition ready to evaluate: the shape of its [`Expr`], with each comparison's reasons
/// written out in advance except for the variable's value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Compare {
        var: ContextVarName,
        op: Op,
        value: Literal,
        text: Box<Reasons>,
    },
    InList {
        var: ContextVarName,
        negated: bool,
        list: List,
        text: Box<Reasons>,
    },
    HasData {
        var: ContextVarName,
        negated: bool,
        text: Box<DataReasons>,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// The words of a comparison's reason. A set variable reads `subject` + value + one of the
/// endings, e.g. `Tier is ` `"gold"` `, which equals "gold"`; an unset one reads `unset`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reasons {
    subject: Box<str>,
    unset: Box<str>,
    held: Box<str>,
    not_held: Box<str>,
    wrong_type: Box<str>,
}

/// The words of a `contains data` reason; a set, non-empty variable reads `subject` + value +
/// `, so it contains data`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DataReasons {
    subject: Box<str>,
    unset: Box<str>,
    empty: Box<str>,
}

impl Node {
    pub(super) fn compile(expr: &Expr) -> Node {
        match expr {
            Expr::Compare { var, op, value } => {
                let wanted = match (op.node, &value.node) {
                    (op, _) if op.is_text_only() => "text",
                    (op, _) if op.is_number_only() => "a number",
                    (_, Literal::Text(_)) => "text",
                    (_, Literal::Number(_)) => "a number",
                };
                let (held, not_held) = (phrase(op.node, true), phrase(op.node, false));
                Node::Compare {
                    var: var.node.clone(),
                    op: op.node,
                    value: value.node.clone(),
                    text: reasons(&var.node, wanted, held, not_held, &value.node.to_string()),
                }
            }
            Expr::InList { var, negated, list, .. } => {
                let wanted = if matches!(list.node, List::Text(_)) {
                    "text"
                } else {
                    "a number"
                };
                Node::InList {
                    var: var.node.clone(),
                    negated: *negated,
                    list: list.node.clone(),
                    text: reasons(&var.node, wanted, "is in", "is not in", &list.node.to_string()),
                }
            }
            Expr::HasData { var, negated, .. } => {
                let name = var_text(&var.node);
                Node::HasData {
                    var: var.node.clone(),
                    negated: *negated,
                    text: Box::new(DataReasons {
                        subject: format!("{name} is ").into(),
                        unset: format!("{name} is not set, so it does not contain data").into(),
                        empty: format!("{name} is empty, so it does not contain data").into(),
                    }),
                }
            }
            Expr::Not(inner) => Node::Not(Box::new(Node::compile(inner))),
            Expr::And(parts) => Node::And(parts.iter().map(Node::compile).collect()),
            Expr::Or(parts) => Node::Or(parts.iter().map(Node::compile).collect()),
        }
    }
}

fn var_text(var: &ContextVarName) -> String {
    let mut name = String::new();
    let _ = write_var(&mut name, var);
    name
}

fn reasons(var: &ContextVarName, wanted: &str, held: &str, not_held: &str, operand: &str) -> Box<Reasons> {
    let name = var_text(var);
    Box::new(Reasons {
        subject: format!("{name} is ").into(),
        unset: format!("{name} is not set, so it {not_held} {operand}").into(),
        held: format!(", which {held} {operand}").into(),
        not_held: format!(", which {not_held} {operand}").into(),
        wrong_type: format!(", not {wanted}, so it {not_held} {operand}").into(),
    })
}

/// How the (un-negated) relation of `op` reads when it holds or not.
fn phrase(op: Op, held: bool) -> &'static str {
    match (op, held) {
        (Op::Equals | Op::NotEquals, true) => "equals",
        (Op::Equals | Op::NotEquals, false) => "does not equal",
        (Op::Contains | Op::NotContains, true) => "contains",
        (Op::Contains | Op::NotContains, false) => "does not contain",
        (Op::BeginsWith | Op::NotBeginsWith, true) => "begins with",
        (Op::BeginsWith | Op::NotBeginsWith, false) => "does not begin with",
        (Op::EndsWith | Op::NotEndsWith, true) => "ends with",
        (Op::EndsWith | Op::NotEndsWith, false) => "does not end with",
        (Op::Greater, true) => "is greater than",
        (Op::Greater, false) => "is not greater than",
        (Op::GreaterOrEqual, true) => "is at least",
        (Op::GreaterOrEqual, false) => "is not at least",
        (Op::Less, true) => "is less than",
        (Op::Less, false) => "is not less than",
        (Op::LessOrEqual, true) => "is at most",
        (Op::LessOrEqual, false) => "is not at most",
    }
}

/// What a comparison found out about its variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fact {
    /// The variable is set, of the type the comparison needs, and the (un-negated) relation
    /// holds or not.
    Relation(bool),
    Unset,
    /// The variable is set but not of the type the comparison needs (only possible when the
    /// condition was not [checked](super::check()) against the workstream).
    WrongType,
}

impl Fact {
    /// Whether the comparison holds. A variable that is not set or of the wrong type fails every
    /// positive comparison and passes every negated one.
    fn matched(self, negated: bool) -> bool {
        match self {
            Fact::Relation(held) => held != negated,
            Fact::Unset | Fact::WrongType => negated,
        }
    }
}

fn compare(value: Option<&ContextValue>, op: Op, literal: &Literal) -> Fact {
    let Some(value) = value else { return Fact::Unset };
    let held = match (value, literal) {
        (ContextValue::Text(v), Literal::Text(l)) => match op {
            Op::Equals | Op::NotEquals => v == l,
            Op::Contains | Op::NotContains => v.contains(l.as_str()),
            Op::BeginsWith | Op::NotBeginsWith => v.starts_with(l.as_str()),
            Op::EndsWith | Op::NotEndsWith => v.ends_with(l.as_str()),
            Op::Greater | Op::GreaterOrEqual | Op::Less | Op::LessOrEqual => return Fact::WrongType,
        },
        (ContextValue::Number(v), Literal::Number(l)) => match op {
            Op::Equals | Op::NotEquals => v == l,
            Op::Greater => v > l,
            Op::GreaterOrEqual => v >= l,
            Op::Less => v < l,
            Op::LessOrEqual => v <= l,
            _ => return Fact::WrongType,
        },
        _ => return Fact::WrongType,
    };
    Fact::Relation(held)
}

fn in_list(value: Option<&ContextValue>, list: &List) -> Fact {
    match (value, list) {
        (None, _) => Fact::Unset,
        (Some(ContextValue::Text(v)), List::Text(items)) => Fact::Relation(items.iter().any(|i| i == v)),
        (Some(ContextValue::Number(v)), List::Number(items)) => Fact::Relation(items.contains(v)),
        _ => Fact::WrongType,
    }
}

fn has_data(value: Option<&ContextValue>) -> Fact {
    match value {
        None => Fact::Unset,
        Some(v) => Fact::Relation(v.has_data()),
    }
}

/// Evaluation without reasons.
fn holds(node: &Node, ctx: &Context) -> bool {
    match node {
        Node::Compare { var, op, value, .. } => compare(ctx.get(var.as_str()), *op, value).matched(op.is_negated()),
        Node::InList { var, negated, list, .. } => in_list(ctx.get(var.as_str()), list).matched(*negated),
        Node::HasData { var, negated, .. } => has_data(ctx.get(var.as_str())).matched(*negated),
        Node::Not(inner) => !holds(inner, ctx),
        Node::And(parts) => parts.iter().all(|p| holds(p, ctx)),
        Node::Or(parts) => parts.iter().any(|p| holds(p, ctx)),
    }
}

/// Evaluation that appends to `out` the facts deciding the outcome. Short-circuits like
/// [`holds`], and drops the facts of parts that turn out not to decide.
fn explain(node: &Node, ctx: &Context, out: &mut String) -> bool {
    match node {
        Node::Compare { var, op, value, text } => {
            let current = ctx.get(var.as_str());
            let fact = compare(current, *op, value);
            reason(out, text, current, fact);
            fact.matched(op.is_negated())
        }
        Node::InList {
            var,
            negated,
            list,
            text,
        } => {
            let current = ctx.get(var.as_str());
            let fact = in_list(current, list);
            reason(out, text, current, fact);
            fact.matched(*negated)
        }
        Node::HasData { var, negated, text } => {
            let current = ctx.get(var.as_str());
            match current {
                None => out.push_str(&text.unset),
                Some(ContextValue::Text(s)) if s.is_empty() => out.push_str(&text.empty),
                Some(v) => {
                    out.push_str(&text.subject);
                    value(out, v);
                    out.push_str(", so it contains data");
                }
            }
            has_data(current).matched(*negated)
        }
        Node::Not(inner) => !explain(inner, ctx, out),
        Node::And(parts) => joined(parts, ctx, out, false),
        Node::Or(parts) => joined(parts, ctx, out, true),
    }
}

/// `and` (`decisive` false) or `or` (`decisive` true): the first part whose outcome is
/// `decisive` settles it and alone explains it; otherwise every part's reason is kept.
fn joined(parts: &[Node], ctx: &Context, out: &mut String, decisive: bool) -> bool {
    let start = out.len();
    for part in parts {
        if out.len() > start {
            out.push_str("; ");
        }
        let part_start = out.len();
        if explain(part, ctx, out) == decisive {
            out.drain(start..part_start);
            return decisive;
        }
    }
    !decisive
}

fn reason(out: &mut String, text: &Reasons, current: Option<&ContextValue>, fact: Fact) {
    let Some(v) = current else {
        out.push_str(&text.unset);
        return;
    };
    out.push_str(&text.subject);
    value(out, v);
    out.push_str(match fact {
        Fact::Relation(true) => &text.held,
        Fact::Relation(false) => &text.not_held,
        Fact::Unset | Fact::WrongType => &text.wrong_type,
    });
}

fn value(out: &mut String, v: &ContextValue) {
    let _ = match v {
        ContextValue::Text(s) => write_quoted(out, s, '"', Some(REASON_VALUE_CHARS)),
        ContextValue::Number(n) => write!(out, "{n}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context from `(name, value)` pairs; values are `"text"` or numbers.
    fn ctx(pairs: &[(&str, ContextValue)]) -> Context {
        let mut c = Context::new();
        for (name, value) in pairs {
            c.set(ContextVarName::new(*name).unwrap(), value.clone());
        }
        c
    }

    fn text(s: &str) -> ContextValue {
        ContextValue::Text(s.to_owned())
    }

    fn num(n: f64) -> ContextValue {
        ContextValue::Number(n)
    }

    fn eval(src: &str, c: &Context) -> (bool, String) {
        let (matched, reason) = Condition::parse(src).unwrap().explain(c);
        assert_eq!(
            matched,
            Condition::parse(src).unwrap().matches(c),
            "explain and matches disagree on {src}"
        );
        (matched, reason)
    }

    fn holds_for(src: &str, c: &Context) -> bool {
        eval(src, c).0
    }

    #[test]
    fn equals_and_does_not_equal_compare_text_exactly() {
        let c = ctx(&[("Topic", text("CreditCard"))]);
        assert_eq!(
            eval(r#"Topic equals "CreditCard""#, &c),
            (true, r#"Topic is "CreditCard", which equals "CreditCard""#.into())
        );
        assert_eq!(
            eval(r#"Topic = "HomeLoan""#, &c),
            (
                false,
                r#"Topic is "CreditCard", which does not equal "HomeLoan""#.into()
            )
        );
        assert_eq!(
            eval(r#"Topic does not equal "HomeLoan""#, &c),
            (true, r#"Topic is "CreditCard", which does not equal "HomeLoan""#.into())
        );
        assert!(!holds_for(r#"Topic != "CreditCard""#, &c));
    }

    #[test]
    fn text_comparisons_are_case_sensitive() {
        let c = ctx(&[("Topic", text("CreditCard"))]);
        assert!(!holds_for(r#"Topic equals "creditcard""#, &c));
        assert!(!holds_for(r#"Topic contains "card""#, &c));
        assert!(!holds_for(r#"Topic begins with "credit""#, &c));
        assert!(!holds_for(r#"Topic ends with "CARD""#, &c));
        assert!(!holds_for(r#"Topic in ["creditcard"]"#, &c));
        assert!(holds_for(r#"Topic does not contain "card""#, &c));
    }

    #[test]
    fn contains_begins_with_and_ends_with_look_for_substrings() {
        let c = ctx(&[("Region", text("EU-West"))]);
        assert_eq!(
            eval(r#"Region contains "-""#, &c),
            (true, r#"Region is "EU-West", which contains "-""#.into())
        );
        assert!(holds_for(r#"Region begins with "EU""#, &c));
        assert!(holds_for(r#"Region ends with "West""#, &c));
        assert_eq!(
            eval(r#"Region does not begin with "US""#, &c),
            (true, r#"Region is "EU-West", which does not begin with "US""#.into())
        );
        assert!(!holds_for(r#"Region does not end with "West""#, &c));
        assert!(!holds_for(r#"Region does not contain "W""#, &c));
        assert!(
            holds_for(r#"Region contains """#, &c),
            "every text contains the empty string"
        );
    }

    #[test]
    fn number_operators_compare_numerically() {
        let c = ctx(&[("Amount", num(1000.0))]);
        assert_eq!(
            eval("Amount >= 1000", &c),
            (true, "Amount is 1000, which is at least 1000".into())
        );
        assert_eq!(
            eval("Amount > 1000", &c),
            (false, "Amount is 1000, which is not greater than 1000".into())
        );
        assert!(holds_for("Amount > 999.5", &c));
        assert!(holds_for("Amount < 1e4", &c));
        assert!(!holds_for("Amount < 1000", &c));
        assert_eq!(
            eval("Amount <= -1", &c),
            (false, "Amount is 1000, which is not at most -1".into())
        );
        assert!(holds_for("Amount = 1000.0", &c));
        assert!(holds_for("Amount != 1", &c));
        assert!(holds_for("Amount in [1, 1000]", &c));
    }

    #[test]
    fn in_and_not_in_look_for_an_exact_member() {
        let c = ctx(&[("Tier", text("gold"))]);
        assert_eq!(
            eval(r#"Tier in ["gold", "platinum"]"#, &c),
            (true, r#"Tier is "gold", which is in ["gold", "platinum"]"#.into())
        );
        assert_eq!(
            eval(r#"Tier not in ["gold"]"#, &c),
            (false, r#"Tier is "gold", which is in ["gold"]"#.into())
        );
        assert!(!holds_for(r#"Tier in ["gol", "golden"]"#, &c));
    }

    #[test]
    fn contains_data_means_set_and_not_empty() {
        let c = ctx(&[("Topic", text("CreditCard")), ("Empty", text("")), ("Zero", num(0.0))]);
        assert_eq!(
            eval("Topic contains data", &c),
            (true, r#"Topic is "CreditCard", so it contains data"#.into())
        );
        assert_eq!(
            eval("Empty contains data", &c),
            (false, "Empty is empty, so it does not contain data".into())
        );
        assert_eq!(
            eval("Empty does not contain data", &c),
            (true, "Empty is empty, so it does not contain data".into())
        );
        assert!(holds_for("Zero contains data", &c));
        assert_eq!(
            eval("Unset does not contain data", &c),
            (true, "Unset is not set, so it does not contain data".into())
        );
        assert!(!holds_for("Unset contains data", &c));
    }

    #[test]
    fn an_unset_variable_fails_positive_comparisons_and_passes_negated_ones() {
        let c = Context::new();
        for positive in [
            r#"X equals "a""#,
            r#"X contains "a""#,
            r#"X begins with "a""#,
            r#"X ends with "a""#,
            "X > 1",
            "X >= 1",
            "X < 1",
            "X <= 1",
            r#"X in ["a"]"#,
            "X = 1",
        ] {
            assert!(!holds_for(positive, &c), "{positive}");
        }
        for negated in [
            r#"X does not equal "a""#,
            r#"X does not contain "a""#,
            r#"X does not begin with "a""#,
            r#"X does not end with "a""#,
            r#"X not in ["a"]"#,
            "X != 1",
        ] {
            assert!(holds_for(negated, &c), "{negated}");
        }
        assert_eq!(eval("X < 1", &c).1, "X is not set, so it is not less than 1");
        assert_eq!(
            eval(r#"X does not equal "a""#, &c).1,
            r#"X is not set, so it does not equal "a""#
        );
        assert_eq!(
            eval(r#"X not in ["a"]"#, &c).1,
            r#"X is not set, so it is not in ["a"]"#
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_fails_positive_comparisons_and_passes_negated_ones() {
        let c = ctx(&[("Amount", num(5.0)), ("Tier", text("5"))]);
        assert_eq!(
            eval(r#"Amount equals "5""#, &c),
            (false, r#"Amount is 5, not text, so it does not equal "5""#.into())
        );
        assert_eq!(
            eval("Tier > 1", &c),
            (
                false,
                r#"Tier is "5", not a number, so it is not greater than 1"#.into()
            )
        );
        assert!(holds_for("Tier != 5", &c));
        assert!(!holds_for("Tier in [5]", &c));
    }

    #[test]
    fn and_explains_every_part_when_it_holds_and_the_first_failing_part_when_not() {
        let c = ctx(&[("Amount", num(1500.0)), ("Tier", text("gold"))]);
        assert_eq!(
            eval(r#"Amount >= 1000 and Tier = "gold""#, &c),
            (
                true,
                r#"Amount is 1500, which is at least 1000; Tier is "gold", which equals "gold""#.into()
            )
        );
        assert_eq!(
            eval(r#"Amount >= 1000 and Tier = "silver" and Region contains data"#, &c),
            (false, r#"Tier is "gold", which does not equal "silver""#.into())
        );
    }

    #[test]
    fn or_explains_the_first_holding_part_or_every_part_when_none_holds() {
        let c = ctx(&[("Amount", num(10.0)), ("Tier", text("gold"))]);
        assert_eq!(
            eval(r#"Amount >= 1000 or Tier = "gold" or Region contains data"#, &c),
            (true, r#"Tier is "gold", which equals "gold""#.into())
        );
        assert_eq!(
            eval(r#"Amount >= 1000 or Tier = "silver""#, &c),
            (
                false,
                r#"Amount is 10, which is not at least 1000; Tier is "gold", which does not equal "silver""#.into()
            )
        );
    }

    #[test]
    fn not_inverts_the_outcome_and_keeps_the_facts() {
        let c = ctx(&[("Region", text("US-East"))]);
        assert_eq!(
            eval(r#"not Region begins with "EU""#, &c),
            (true, r#"Region is "US-East", which does not begin with "EU""#.into())
        );
        assert!(!holds_for("not not Region begins with \"EU\"", &c));
    }

    #[test]
    fn the_example_from_the_issue_evaluates_with_precedence_and_parentheses() {
        let src = r#"Amount >= 1000 and (Tier in ["gold", "platinum"] or not Region begins with "EU")"#;
        assert!(holds_for(
            src,
            &ctx(&[
                ("Amount", num(2000.0)),
                ("Tier", text("silver")),
                ("Region", text("US"))
            ])
        ));
        assert!(!holds_for(
            src,
            &ctx(&[
                ("Amount", num(2000.0)),
                ("Tier", text("silver")),
                ("Region", text("EU-West"))
            ])
        ));
        assert!(holds_for(
            src,
            &ctx(&[
                ("Amount", num(2000.0)),
                ("Tier", text("gold")),
                ("Region", text("EU-West"))
            ])
        ));
        assert!(!holds_for(src, &ctx(&[("Amount", num(999.0)), ("Tier", text("gold"))])));
        // Without the parentheses, `and` binds first: (Amount >= 1000 and Tier in …) or not Region begins with "EU".
        let flat = r#"Amount >= 1000 and Tier in ["gold", "platinum"] or not Region begins with "EU""#;
        assert!(holds_for(flat, &ctx(&[("Amount", num(1.0)), ("Region", text("US"))])));
        assert!(!holds_for(src, &ctx(&[("Amount", num(1.0)), ("Region", text("US"))])));
    }

    #[test]
    fn reasons_quote_names_and_values_as_the_language_writes_them_and_cut_long_values() {
        let c = ctx(&[
            ("Name with spaces", text("say \"hi\"")),
            ("Long", text(&"a".repeat(100))),
        ]);
        assert_eq!(
            eval(r#"`Name with spaces` equals "x""#, &c).1,
            r#"`Name with spaces` is "say \"hi\"", which does not equal "x""#
        );
        assert_eq!(
            eval(r#"Long equals "a""#, &c).1,
            format!(r#"Long is "{}…", which does not equal "a""#, "a".repeat(60))
        );
    }
}
