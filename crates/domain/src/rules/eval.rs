//! Evaluating conditions over a conversation's context, and routing: rules in order, first
//! match wins, with a trace of why each evaluated rule matched or not.
//!
//! Routing runs for every conversation over every rule of a workstream, so it is kept cheap.
//! Each condition is compiled once, when parsed, into a [`Program`]: a tree of [`Node`]s, with the
//! fixed wording of every reason it can give written out in one string. Routing looks each
//! variable up in the context and renders its value once per call, and records each reason as
//! [`Step`]s — "this rendered value, then these words of the program" — rather than copying
//! text: a reason is written out only when it is read, and straight into the output when it is
//! serialized (see [`Reason`]).

use std::fmt::{self, Write as _};
use std::sync::Arc;

use super::Rule;
use super::ast::{Condition, Expr, List, Literal, Op, write_quoted, write_var};
use crate::context::{Context, ContextValue, ContextVarName};
use crate::names::QueueName;
use crate::routing::{Reason, RoutingDecision, RuleTrace};

/// Text values longer than this many characters are cut short in reasons.
const REASON_VALUE_CHARS: usize = 60;

/// Routes a conversation: evaluates `rules` in order over `ctx` and picks the queue of the first
/// whose condition holds, or `fallback` when none does. The trace holds one entry per rule
/// evaluated, up to and including the one that matched.
pub fn route(rules: &[Rule], fallback: &QueueName, ctx: &Context) -> RoutingDecision {
    let mut explainer = Explainer::new(ctx);
    let mut programs = Vec::with_capacity(rules.len());
    let mut ends = Vec::with_capacity(rules.len());
    let mut chosen = None;
    for (i, rule) in rules.iter().enumerate() {
        let program = rule.condition.program();
        let matched = explainer.explain(&program.root);
        programs.push(Arc::clone(program));
        ends.push(explainer.steps.len());
        if matched {
            chosen = Some(i);
            break;
        }
    }
    let explanation = Arc::new(Explanation {
        programs,
        ends,
        steps: explainer.steps,
        values: explainer.values,
    });
    let trace = rules
        .iter()
        .take(explanation.ends.len())
        .enumerate()
        .map(|(i, rule)| RuleTrace {
            rule: rule.name.clone(),
            matched: chosen == Some(i),
            reason: Reason::explained(Arc::clone(&explanation), i),
        })
        .collect();
    match chosen {
        Some(i) => RoutingDecision {
            cause: Default::default(),
            queue: rules[i].queue.clone(),
            rule: Some(rules[i].name.clone()),
            trace,
        },
        None => RoutingDecision {
            cause: Default::default(),
            queue: fallback.clone(),
            rule: None,
            trace,
        },
    }
}

impl Rule {
    /// Evaluates this rule's condition over `ctx`, saying why it matched or not.
    pub fn evaluate(&self, ctx: &Context) -> RuleTrace {
        let (matched, reason) = self.condition.explain(ctx);
        RuleTrace {
            rule: self.name.clone(),
            matched,
            reason: reason.into(),
        }
    }
}

impl Condition {
    /// Whether the condition holds for `ctx`.
    pub fn matches(&self, ctx: &Context) -> bool {
        holds(&self.program().root, ctx)
    }

    /// Whether the condition holds for `ctx`, and why, e.g.
    /// `BotHandoffTopic is "HomeLoan", which does not equal "CreditCard"`.
    ///
    /// The reason names the facts that decided the outcome: every part of an `and` that held
    /// (or the first that did not), the first part of an `or` that held (or every part, when
    /// none did). Parts joined this way are separated by `; `.
    pub fn explain(&self, ctx: &Context) -> (bool, String) {
        let program = self.program();
        let mut explainer = Explainer::new(ctx);
        let matched = explainer.explain(&program.root);
        let mut reason = String::new();
        // Writing to a `String` cannot fail.
        let _ = write_steps(&mut reason, program, &explainer.steps, &explainer.values);
        (matched, reason)
    }
}

/// Why each rule of one routing decision matched or not: what the entries of its trace share,
/// and write their reasons from.
#[derive(Debug)]
pub(crate) struct Explanation {
    /// The program of each rule evaluated, in order.
    programs: Vec<Arc<Program>>,
    /// Where the steps of each rule evaluated end in `steps`.
    ends: Vec<usize>,
    steps: Vec<Step>,
    /// The `Name is value` of every variable a step quotes.
    values: String,
}

impl Explanation {
    /// Writes the reason of the `rule`th rule evaluated.
    pub(crate) fn write(&self, rule: usize, out: &mut impl fmt::Write) -> fmt::Result {
        let start = rule.checked_sub(1).map_or(0, |previous| self.ends[previous]);
        let steps = &self.steps[start..self.ends[rule]];
        write_steps(out, &self.programs[rule], steps, &self.values)
    }
}

/// One fact of a reason: `value` (a part of the values rendered by an [`Explainer`], e.g.
/// `Tier is "gold"`, or nothing), then `words` of the program, e.g. `, which equals "gold"`.
#[derive(Debug, Clone, Copy)]
struct Step {
    value: Words,
    words: Words,
}

impl Step {
    /// A step of `words` alone.
    fn plain(words: Words) -> Step {
        Step {
            value: Words::NONE,
            words,
        }
    }
}

/// Writes `steps` as the reason they make: one after another, separated by `; `.
fn write_steps(out: &mut impl fmt::Write, program: &Program, steps: &[Step], values: &str) -> fmt::Result {
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            out.write_str("; ")?;
        }
        out.write_str(step.value.of(values))?;
        out.write_str(step.words.of(&program.words))?;
    }
    Ok(())
}

/// A condition ready to evaluate: the shape of its [`Expr`], and the wording of its reasons.
#[derive(Debug)]
pub(crate) struct Program {
    root: Node,
    /// The text every [`Words`] of `root` is a part of.
    words: Box<str>,
}

#[derive(Debug)]
enum Node {
    Compare {
        var: Var,
        op: Op,
        value: Literal,
        said: Said,
    },
    InList {
        var: Var,
        negated: bool,
        list: List,
        said: Said,
    },
    HasData {
        var: Var,
        negated: bool,
        said: DataSaid,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// A variable a comparison reads.
#[derive(Debug)]
struct Var {
    name: ContextVarName,
    key: Key,
}

/// A name's length and first 16 bytes: equal keys are equal names when names are no longer
/// than that, which variable names nearly always are, and are told apart without a call to
/// compare memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    head: [u64; 2],
}

impl Key {
    /// The longest names that keys tell apart alone.
    const EXACT_LEN: usize = 16;

    fn of(name: &str) -> Key {
        let mut head = [0; Self::EXACT_LEN];
        let len = name.len().min(Self::EXACT_LEN);
        head[..len].copy_from_slice(&name.as_bytes()[..len]);
        let (first, second) = head.split_at(8);
        Key {
            len: name.len(),
            head: [first, second].map(|half| u64::from_le_bytes(half.try_into().unwrap_or_default())),
        }
    }
}

/// A part of a text: of [`Program::words`], or of an [`Explainer`]'s values.
#[derive(Debug, Clone, Copy)]
struct Words {
    start: u32,
    end: u32,
}

impl Words {
    const NONE: Words = Words { start: 0, end: 0 };

    fn of(self, text: &str) -> &str {
        &text[self.start as usize..self.end as usize]
    }

    fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// The words of a comparison's reason, one after another in [`Program::words`], by where each
/// starts: unset, held, not held, wrong type, and the end. An unset variable reads `unset`; a
/// set one reads `Name is `, its value and one of the others, e.g. `Tier is "gold"` +
/// `, which equals "gold"`.
#[derive(Debug, Clone, Copy)]
struct Said([u32; 5]);

/// The words of a `contains data` reason, one after another, by where each starts: unset,
/// empty, contains, and the end. A set, non-empty variable reads `Name is `, its value and
/// `contains` (`, so it contains data`).
#[derive(Debug, Clone, Copy)]
struct DataSaid([u32; 4]);

impl Said {
    fn unset(self) -> Words {
        words(self.0[0], self.0[1])
    }

    fn ending(self, fact: Fact) -> Words {
        match fact {
            Fact::Relation(true) => words(self.0[1], self.0[2]),
            Fact::Relation(false) => words(self.0[2], self.0[3]),
            Fact::Unset | Fact::WrongType => words(self.0[3], self.0[4]),
        }
    }
}

impl DataSaid {
    fn unset(self) -> Words {
        words(self.0[0], self.0[1])
    }

    fn empty(self) -> Words {
        words(self.0[1], self.0[2])
    }

    fn contains(self) -> Words {
        words(self.0[2], self.0[3])
    }
}

fn words(start: u32, end: u32) -> Words {
    Words { start, end }
}

/// An offset into a program's words or a decision's values, which are far shorter than 4 GiB.
fn offset(i: usize) -> u32 {
    u32::try_from(i).expect("reasons are far shorter than 4 GiB")
}

impl Program {
    pub(super) fn compile(expr: &Expr) -> Program {
        let mut words = String::new();
        let root = Node::compile(expr, &mut words);
        Program {
            root,
            words: words.into(),
        }
    }
}

impl Node {
    /// Compiles `expr`, appending the wording of its reasons to `words`.
    fn compile(expr: &Expr, words: &mut String) -> Node {
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
                    var: Var::new(&var.node),
                    op: op.node,
                    value: value.node.clone(),
                    said: said(words, &var.node, wanted, held, not_held, &value.node),
                }
            }
            Expr::InList { var, negated, list, .. } => {
                let wanted = if matches!(list.node, List::Text(_)) {
                    "text"
                } else {
                    "a number"
                };
                Node::InList {
                    var: Var::new(&var.node),
                    negated: *negated,
                    list: list.node.clone(),
                    said: said(words, &var.node, wanted, "is in", "is not in", &list.node),
                }
            }
            Expr::HasData { var, negated, .. } => {
                let name = Name(&var.node);
                let at = write_all(
                    words,
                    [
                        format_args!("{name} is not set, so it does not contain data"),
                        format_args!("{name} is empty, so it does not contain data"),
                        format_args!(", so it contains data"),
                    ],
                );
                Node::HasData {
                    var: Var::new(&var.node),
                    negated: *negated,
                    said: DataSaid(at),
                }
            }
            Expr::Not(inner) => Node::Not(Box::new(Node::compile(inner, words))),
            Expr::And(parts) => Node::And(parts.iter().map(|part| Node::compile(part, words)).collect()),
            Expr::Or(parts) => Node::Or(parts.iter().map(|part| Node::compile(part, words)).collect()),
        }
    }
}

impl Var {
    fn new(name: &ContextVarName) -> Var {
        Var {
            name: name.clone(),
            key: Key::of(name.as_str()),
        }
    }
}

/// A variable name as the language writes it: bare when possible, else in back-ticks.
struct Name<'a>(&'a ContextVarName);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_var(f, self.0)
    }
}

/// Appends each of `parts` to `words`, saying where each starts and where the last ends.
fn write_all<const N: usize, const M: usize>(words: &mut String, parts: [fmt::Arguments<'_>; N]) -> [u32; M] {
    debug_assert_eq!(M, N + 1);
    let mut at = [offset(words.len()); M];
    for (i, part) in parts.into_iter().enumerate() {
        // Writing to a `String` cannot fail.
        let _ = words.write_fmt(part);
        at[i + 1] = offset(words.len());
    }
    at
}

fn said(
    words: &mut String,
    var: &ContextVarName,
    wanted: &str,
    held: &str,
    not_held: &str,
    operand: &dyn fmt::Display,
) -> Said {
    let name = Name(var);
    Said(write_all(
        words,
        [
            format_args!("{name} is not set, so it {not_held} {operand}"),
            format_args!(", which {held} {operand}"),
            format_args!(", which {not_held} {operand}"),
            format_args!(", not {wanted}, so it {not_held} {operand}"),
        ],
    ))
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

// Inlined: routing calls it for every comparison of every rule.
#[inline(always)]
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
    let value = |var: &Var| ctx.get(var.name.as_str());
    match node {
        Node::Compare { var, op, value: l, .. } => compare(value(var), *op, l).matched(op.is_negated()),
        Node::InList { var, negated, list, .. } => in_list(value(var), list).matched(*negated),
        Node::HasData { var, negated, .. } => has_data(value(var)).matched(*negated),
        Node::Not(inner) => !holds(inner, ctx),
        Node::And(parts) => parts.iter().all(|p| holds(p, ctx)),
        Node::Or(parts) => parts.iter().any(|p| holds(p, ctx)),
    }
}

/// Evaluation with reasons: records, for each condition evaluated, the facts that decided the
/// outcome as [`Step`]s.
struct Explainer<'a> {
    ctx: &'a Context,
    /// The steps recorded so far.
    steps: Vec<Step>,
    /// The variables read so far, in the order first read. A workstream's rules read a handful
    /// of variables over and over, so each is looked up in `ctx` and rendered once per call.
    seen: Vec<Seen<'a>>,
    /// The text of every [`Seen::said`].
    values: String,
}

/// A variable read by an [`Explainer`].
struct Seen<'a> {
    var: &'a Var,
    value: Option<&'a ContextValue>,
    /// Where `values` holds the start of a reason about the variable's value, e.g.
    /// `Tier is "gold"`; empty until a reason needs it.
    said: Words,
}

impl<'a> Explainer<'a> {
    fn new(ctx: &'a Context) -> Self {
        Self {
            ctx,
            steps: Vec::new(),
            seen: Vec::new(),
            values: String::new(),
        }
    }

    /// Evaluates `node`, recording the facts that decided the outcome. Short-circuits like
    /// [`holds`], and drops the facts of parts that turn out not to decide.
    ///
    /// What it calls is inlined into it (routing runs it for every rule, and the calls would
    /// cost more than the comparisons); it calls only itself, for the parts of `not`, `and` and
    /// `or`.
    fn explain(&mut self, node: &'a Node) -> bool {
        match node {
            Node::Compare { var, op, value, said } => {
                let seen = self.read(var);
                let fact = compare(self.seen[seen].value, *op, value);
                self.reason(*said, seen, fact);
                fact.matched(op.is_negated())
            }
            Node::InList {
                var,
                negated,
                list,
                said,
            } => {
                let seen = self.read(var);
                let fact = in_list(self.seen[seen].value, list);
                self.reason(*said, seen, fact);
                fact.matched(*negated)
            }
            Node::HasData { var, negated, said } => {
                let seen = self.read(var);
                let value = self.seen[seen].value;
                let step = match value {
                    None => Step::plain(said.unset()),
                    Some(ContextValue::Text(s)) if s.is_empty() => Step::plain(said.empty()),
                    Some(_) => self.quoting(seen, said.contains()),
                };
                self.steps.push(step);
                has_data(value).matched(*negated)
            }
            Node::Not(inner) => !self.explain(inner),
            Node::And(parts) => self.joined(parts, false),
            Node::Or(parts) => self.joined(parts, true),
        }
    }

    /// `and` (`decisive` false) or `or` (`decisive` true): the first part whose outcome is
    /// `decisive` settles it and alone explains it; otherwise every part's facts are kept.
    #[inline(always)]
    fn joined(&mut self, parts: &'a [Node], decisive: bool) -> bool {
        let start = self.steps.len();
        for part in parts {
            let part_start = self.steps.len();
            if self.explain(part) == decisive {
                if part_start > start {
                    self.steps.drain(start..part_start);
                }
                return decisive;
            }
        }
        !decisive
    }

    /// The index in `seen` of `var`, looking it up in the context the first time.
    #[inline(always)]
    fn read(&mut self, var: &'a Var) -> usize {
        let same =
            |seen: &Seen<'_>| seen.var.key == var.key && (var.key.len <= Key::EXACT_LEN || seen.var.name == var.name);
        if let Some(i) = self.seen.iter().position(same) {
            return i;
        }
        self.seen.push(Seen {
            var,
            value: self.ctx.get(var.name.as_str()),
            said: Words::NONE,
        });
        self.seen.len() - 1
    }

    #[inline(always)]
    fn reason(&mut self, said: Said, seen: usize, fact: Fact) {
        let step = if self.seen[seen].value.is_none() {
            Step::plain(said.unset())
        } else {
            self.quoting(seen, said.ending(fact))
        };
        self.steps.push(step);
    }

    /// A step of `Name is `, the value of the set variable `seen` as the language writes it,
    /// and `rest`. The name and value are rendered the first time only.
    #[inline(always)]
    fn quoting(&mut self, seen: usize, rest: Words) -> Step {
        let seen = &mut self.seen[seen];
        if seen.said.is_empty() {
            seen.said = render(&mut self.values, &seen.var.name, seen.value);
        }
        Step {
            value: seen.said,
            words: rest,
        }
    }
}

/// Appends to `values` the start of a reason about `var`, e.g. `Tier is "gold"`, saying where it
/// is.
#[cold]
fn render(values: &mut String, var: &ContextVarName, value: Option<&ContextValue>) -> Words {
    let start = values.len();
    // Writing to a `String` cannot fail.
    let _ = write!(values, "{} is ", Name(var));
    let _ = match value {
        Some(ContextValue::Text(s)) => write_quoted(values, s, '"', Some(REASON_VALUE_CHARS)),
        Some(ContextValue::Number(n)) => write!(values, "{n}"),
        None => Ok(()),
    };
    words(offset(start), offset(values.len()))
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
