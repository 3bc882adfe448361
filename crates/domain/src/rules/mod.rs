//! Routing rules: a small condition language over context variables, parsed once into an AST,
//! and the routing decision (first matching rule wins, else the fallback queue) with a trace of
//! why each rule did or did not match.
//!
//! # The condition language
//!
//! ```text
//! BotHandoffTopic does not contain data
//! BotHandoffTopic equals "CreditCard"
//! Amount >= 1000 and (Tier in ["gold", "platinum"] or not Region begins with "EU")
//! ```
//!
//! A condition compares a context variable with a value. Variable names are written bare
//! (`BotHandoffTopic`, `customer.tier`: a letter or `_`, then letters, digits, `_` or `.`) or in
//! back-ticks for any other name (`` `Name with spaces` ``). Text values are in double quotes,
//! with the escapes `\"`, `\\`, `\n` and `\t`; numbers are written like `3`, `-2.5` or `1e3`.
//!
//! | Operator | Compares | Holds when the variable… |
//! |---|---|---|
//! | `equals` (or `=`), `does not equal` (or `!=`) | text, number | is (is not) exactly the value |
//! | `contains`, `does not contain` | text | has (has not) the value as a substring |
//! | `begins with`, `does not begin with` | text | starts (does not start) with the value |
//! | `ends with`, `does not end with` | text | ends (does not end) with the value |
//! | `>`, `>=`, `<`, `<=` | number | compares so with the value |
//! | `in [v1, v2, …]`, `not in [v1, v2, …]` | text, number | equals (equals none of) the listed values |
//! | `contains data`, `does not contain data` | any | is set and, for text, not empty (the opposite) |
//!
//! Comparisons combine with `not`, `and` and `or`, binding in that order (`not` tightest), and
//! group with parentheses. Keywords are case-insensitive (`AND`, `Equals`); variable names and
//! text values are case-sensitive. A list holds one or more values, all text or all numbers.
//!
//! # Semantics
//!
//! Text comparisons are exact and case-sensitive (`"CreditCard"` does not equal `"creditcard"`);
//! numbers compare numerically (`1000 = 1e3`). A variable that is not set does not contain data;
//! it fails every other positive comparison (`equals`, `contains`, `begins with`, `ends with`,
//! `>`, `>=`, `<`, `<=`, `in`) and passes every negated one (`does not equal`,
//! `does not contain`, `does not begin with`, `does not end with`, `not in`), so that
//! `X does not equal "a"` is always the exact opposite of `X equals "a"`.
//!
//! # Routing
//!
//! [`route`] evaluates a workstream's rules in order; the first whose condition holds picks the
//! queue, and when none holds the conversation goes to the fallback queue. The decision carries
//! a trace, one entry per rule evaluated (up to and including the match), saying whether it
//! matched and why, e.g. `BotHandoffTopic is "HomeLoan", which does not equal "CreditCard"`.
//! Routing records the reasons as it goes and writes each out only when it is read or
//! serialized (see [`Reason`]), so a decision over many rules stays cheap.
//!
//! # Errors
//!
//! [`parse_condition`] reports the first syntax error with its exact byte span and, where it can
//! guess, a suggestion ([`ParseError`]); [`check()`] then reports every variable the workstream
//! does not define and every comparison its type does not allow ([`CheckError`]).

mod ast;
mod check;
mod diag;
mod eval;
mod parse;
#[cfg(test)]
mod props;

use serde::{Deserialize, Serialize};

pub use self::ast::{Condition, Expr, List, Literal, Op, Span, Spanned};
pub use self::check::{CheckError, check};
pub(crate) use self::eval::Explanation;
pub use self::eval::route;
pub use self::parse::{MAX_DEPTH, ParseError, parse_condition};
use crate::names::{QueueName, RuleName};
pub use crate::routing::{Reason, RoutingDecision, RuleTrace};

/// A routing rule: when `condition` holds, the conversation goes to `queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Unique within its workstream; names the rule in traces.
    pub name: RuleName,
    /// Written as text in configuration; parsed when the rule is loaded.
    pub condition: Condition,
    pub queue: QueueName,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Context, ContextValue, ContextVarName};

    fn rule(name: &str, condition: &str, queue: &str) -> Rule {
        Rule {
            name: RuleName::new(name).unwrap(),
            condition: Condition::parse(condition).unwrap(),
            queue: QueueName::new(queue).unwrap(),
        }
    }

    /// The legacy bot sample: a conversation first goes to the bot; once the bot escalates with a
    /// topic, the topic picks the queue.
    fn sample_rules() -> Vec<Rule> {
        vec![
            rule("BotRule", "BotHandoffTopic does not contain data", "BotQueue"),
            rule(
                "CreditCardRule",
                r#"BotHandoffTopic equals "CreditCard""#,
                "CreditCardQueue",
            ),
            rule("HomeLoanRule", r#"BotHandoffTopic equals "HomeLoan""#, "HomeLoanQueue"),
        ]
    }

    fn route_topic(topic: Option<&str>) -> RoutingDecision {
        let mut ctx = Context::new();
        if let Some(topic) = topic {
            ctx.set(
                ContextVarName::new("BotHandoffTopic").unwrap(),
                ContextValue::Text(topic.into()),
            );
        }
        route(&sample_rules(), &QueueName::new("DefaultQueue").unwrap(), &ctx)
    }

    fn trace(steps: &[(&str, bool, &str)]) -> Vec<RuleTrace> {
        steps
            .iter()
            .map(|(rule, matched, reason)| RuleTrace {
                rule: RuleName::new(*rule).unwrap(),
                matched: *matched,
                reason: (*reason).into(),
            })
            .collect()
    }

    #[test]
    fn a_conversation_without_a_topic_goes_to_the_bot_queue() {
        let d = route_topic(None);
        assert_eq!(d.queue.as_str(), "BotQueue");
        assert_eq!(d.rule.as_ref().map(RuleName::as_str), Some("BotRule"));
        assert_eq!(
            d.trace,
            trace(&[(
                "BotRule",
                true,
                "BotHandoffTopic is not set, so it does not contain data"
            )])
        );
    }

    #[test]
    fn escalation_with_topic_credit_card_lands_in_credit_card_queue() {
        let d = route_topic(Some("CreditCard"));
        assert_eq!(d.queue.as_str(), "CreditCardQueue");
        assert_eq!(d.rule.as_ref().map(RuleName::as_str), Some("CreditCardRule"));
        assert_eq!(
            d.trace,
            trace(&[
                (
                    "BotRule",
                    false,
                    r#"BotHandoffTopic is "CreditCard", so it contains data"#
                ),
                (
                    "CreditCardRule",
                    true,
                    r#"BotHandoffTopic is "CreditCard", which equals "CreditCard""#
                ),
            ])
        );
    }

    #[test]
    fn escalation_with_topic_home_loan_lands_in_home_loan_queue() {
        let d = route_topic(Some("HomeLoan"));
        assert_eq!(d.queue.as_str(), "HomeLoanQueue");
        assert_eq!(d.rule.as_ref().map(RuleName::as_str), Some("HomeLoanRule"));
        assert_eq!(d.trace.len(), 3);
        assert_eq!(
            d.trace[1].reason,
            r#"BotHandoffTopic is "HomeLoan", which does not equal "CreditCard""#
        );
    }

    #[test]
    fn escalation_with_an_unknown_topic_falls_back_with_every_rule_traced() {
        let d = route_topic(Some("Mortgage"));
        assert_eq!(d.queue.as_str(), "DefaultQueue");
        assert_eq!(d.rule, None);
        assert_eq!(
            d.trace,
            trace(&[
                (
                    "BotRule",
                    false,
                    r#"BotHandoffTopic is "Mortgage", so it contains data"#
                ),
                (
                    "CreditCardRule",
                    false,
                    r#"BotHandoffTopic is "Mortgage", which does not equal "CreditCard""#
                ),
                (
                    "HomeLoanRule",
                    false,
                    r#"BotHandoffTopic is "Mortgage", which does not equal "HomeLoan""#
                ),
            ])
        );
    }

    #[test]
    fn a_topic_in_the_wrong_case_matches_no_rule_and_falls_back() {
        let d = route_topic(Some("creditcard"));
        assert_eq!(d.queue.as_str(), "DefaultQueue");
        assert_eq!(d.rule, None);
        assert_eq!(d.trace.len(), 3);
    }

    #[test]
    fn no_rules_means_the_fallback_queue_and_an_empty_trace() {
        let d = route(&[], &QueueName::new("DefaultQueue").unwrap(), &Context::new());
        assert_eq!((d.queue.as_str(), d.rule, d.trace.len()), ("DefaultQueue", None, 0));
    }

    #[test]
    fn a_rule_reads_its_condition_from_configuration_as_text() {
        let json = r#"{"name":"CreditCardRule","condition":"BotHandoffTopic equals \"CreditCard\"","queue":"CreditCardQueue"}"#;
        let rule: Rule = serde_json::from_str(json).unwrap();
        assert_eq!(rule, sample_rules()[1]);
        assert_eq!(serde_json::to_string(&rule).unwrap(), json);
    }

    #[test]
    fn a_rule_with_a_bad_condition_is_refused_with_the_position_in_the_message() {
        let json = r#"{"name":"R","condition":"BotHandoffTopic equal \"x\"","queue":"Q"}"#;
        let err = serde_json::from_str::<Rule>(json).unwrap_err().to_string();
        assert!(err.contains("expected an operator"), "{err}");
        assert!(err.contains("at byte 16"), "{err}");
        assert!(err.contains("did you mean `equals`?"), "{err}");
    }
}
