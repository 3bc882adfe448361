//! The result of routing a conversation: the queue chosen, the rule that chose it, and a trace
//! of every rule evaluated (matched or not, and why). The trace is stored with the conversation
//! so an operator can see afterwards why it went where it went.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::names::{QueueName, RuleName};
use crate::rules::Explanation;

/// One rule's part in a routing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTrace {
    pub rule: RuleName,
    pub matched: bool,
    /// Why it matched or not, in words an operator reads (e.g.
    /// `BotHandoffTopic is "CreditCard", which equals "CreditCard"`).
    pub reason: Reason,
}

string_enum! {
    /// What made the hub route a conversation (again).
    #[derive(Default)]
    RoutingCause {
        /// The conversation was just opened.
        #[default]
        Opened => "opened",
        /// Its bot escalated it (Omnichannel `Escalate`).
        BotEscalated => "bot_escalated",
        /// Its bot stayed unreachable after retries, so the hub escalated on its behalf.
        BotUnavailable => "bot_unavailable",
        /// An agent transferred it to another queue (no rules run: the agent chose the queue).
        Transferred => "transferred",
    }
}

/// Where routing sent a conversation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// Why routing ran; records stored before this field existed read as `opened`.
    #[serde(default)]
    pub cause: RoutingCause,
    pub queue: QueueName,
    /// The rule that matched; `None` when no rule did and the fallback queue was used.
    pub rule: Option<RuleName>,
    /// Every rule evaluated, in order, up to and including the first that matched.
    pub trace: Vec<RuleTrace>,
}

/// The text of a [`RuleTrace`]'s reason: read through [`Reason::as_str`] (or as the `&str` it
/// dereferences to) or written with `Display`, and serialized as a plain string. Two reasons are
/// equal when their texts are.
///
/// Routing does not write its reasons out: it records, for every rule it evaluates, which
/// words of the rule's compiled condition and which rendered values make the reason, in one
/// record shared by every entry of the trace (which keeps those compiled conditions alive). An
/// entry writes its reason out when it is first read as a `&str` (then keeps it), or straight
/// into the output when it is displayed or serialized. Routing thus copies no text per rule,
/// and a trace that is only stored is written once, into its JSON.
#[derive(Clone)]
pub struct Reason(Repr);

#[derive(Clone)]
enum Repr {
    /// A reason given as text (deserialized, or built by hand).
    Text(Arc<str>),
    /// The reason of the `rule`th rule evaluated by one routing decision.
    Explained {
        explanation: Arc<Explanation>,
        rule: usize,
        /// The reason written out, once something has read it as a `&str`.
        text: OnceLock<Box<str>>,
    },
}

impl Reason {
    /// The reason of the `rule`th rule that `explanation` covers.
    pub(crate) fn explained(explanation: Arc<Explanation>, rule: usize) -> Self {
        Self(Repr::Explained {
            explanation,
            rule,
            text: OnceLock::new(),
        })
    }

    /// The reason as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Text(text) => text,
            Repr::Explained {
                explanation,
                rule,
                text,
            } => text.get_or_init(|| {
                let mut reason = String::new();
                // Writing to a `String` cannot fail.
                let _ = explanation.write(*rule, &mut reason);
                reason.into()
            }),
        }
    }

    /// The text, if it is already written out.
    fn written(&self) -> Option<&str> {
        match &self.0 {
            Repr::Text(text) => Some(text),
            Repr::Explained { text, .. } => text.get().map(|text| &**text),
        }
    }
}

impl Deref for Reason {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Reason {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Reason {
    fn from(s: String) -> Self {
        Self(Repr::Text(s.into()))
    }
}

impl From<&str> for Reason {
    fn from(s: &str) -> Self {
        Self(Repr::Text(s.into()))
    }
}

impl From<Reason> for String {
    fn from(r: Reason) -> String {
        r.as_str().to_owned()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0, self.written()) {
            (_, Some(text)) => f.write_str(text),
            (Repr::Explained { explanation, rule, .. }, None) => explanation.write(*rule, f),
            (Repr::Text(text), None) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Reason {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Reason {}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Reason {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Reason> for str {
    fn eq(&self, other: &Reason) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Reason> for &str {
    fn eq(&self, other: &Reason) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Reason> for String {
    fn eq(&self, other: &Reason) -> bool {
        self == other.as_str()
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.written() {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Reason::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Context, ContextValue, ContextVarName};
    use crate::rules::{Rule, parse_condition, route};

    fn decision() -> RoutingDecision {
        let rule = |name: &str, condition: &str| Rule {
            name: RuleName::new(name).unwrap(),
            condition: parse_condition(condition).unwrap(),
            queue: QueueName::new(format!("{name}Queue")).unwrap(),
        };
        let rules = [
            rule("Bot", "Topic does not contain data"),
            rule("Loans", r#"Topic = "Loan" or Amount > 1000"#),
            rule("Cards", r#"Topic = "Card\" \\ é" and Amount <= 1e3"#),
        ];
        let mut ctx = Context::new();
        ctx.set(
            ContextVarName::new("Topic").unwrap(),
            ContextValue::Text(r#"Card" \ é"#.into()),
        );
        ctx.set(ContextVarName::new("Amount").unwrap(), ContextValue::Number(12.5));
        route(&rules, &QueueName::new("Default").unwrap(), &ctx)
    }

    #[test]
    fn a_trace_serializes_with_its_reasons_as_plain_strings() {
        let decision = decision();
        let json = serde_json::to_value(&decision.trace).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {
                    "rule": "Bot",
                    "matched": false,
                    "reason": r#"Topic is "Card\" \\ é", so it contains data"#
                },
                {
                    "rule": "Loans",
                    "matched": false,
                    "reason": r#"Topic is "Card\" \\ é", which does not equal "Loan"; Amount is 12.5, which is not greater than 1000"#
                },
                {
                    "rule": "Cards",
                    "matched": true,
                    "reason": r#"Topic is "Card\" \\ é", which equals "Card\" \\ é"; Amount is 12.5, which is at most 1000"#
                },
            ])
        );
    }

    #[test]
    fn a_reason_reads_the_same_however_it_is_read() {
        let decision = decision();
        let before = serde_json::to_string(&decision).unwrap();
        for step in &decision.trace {
            let displayed = step.reason.to_string();
            assert_eq!(step.reason.as_str(), displayed);
            assert_eq!(format!("{:?}", step.reason), format!("{displayed:?}"));
            assert!(!step.reason.is_empty());
        }
        // Once written out, it serializes from the written text, to the same JSON.
        assert_eq!(serde_json::to_string(&decision).unwrap(), before);
        let back: RoutingDecision = serde_json::from_str(&before).unwrap();
        assert_eq!(back, decision);
        assert_eq!(serde_json::to_string(&back).unwrap(), before);
    }

    #[test]
    fn decisions_can_be_shared_between_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RoutingDecision>();
    }

    #[test]
    fn reasons_compare_by_text_whatever_holds_them() {
        let decision = decision();
        let written = Reason::from(decision.trace[0].reason.to_string());
        assert_eq!(decision.trace[0].reason, written);
        assert_ne!(decision.trace[1].reason, written);
        assert_eq!(Reason::from("same"), "same");
        assert!(Reason::from(String::new()).is_empty());
    }
}
