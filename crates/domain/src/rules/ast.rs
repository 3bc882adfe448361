//! The parsed form of a condition: an expression tree whose leaves compare one context variable
//! with a literal, each piece carrying the byte span it was parsed from so that later checks can
//! point at the exact text an operator wrote.

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::eval::Program;
use super::parse::{ParseError, parse_condition};
use crate::context::ContextVarName;

/// A range of byte offsets into a condition's source text: `start..end`, end exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<Span> for std::ops::Range<usize> {
    fn from(s: Span) -> Self {
        s.start..s.end
    }
}

/// A piece of the tree together with where it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node`, written at `span`.
    pub fn new(node: T, span: Span) -> Self {
        Self { node, span }
    }
}

/// A comparison between a variable and a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `equals`, `=`: text or numbers.
    Equals,
    /// `does not equal`, `!=`: text or numbers.
    NotEquals,
    /// `contains`: text.
    Contains,
    /// `does not contain`: text.
    NotContains,
    /// `begins with`: text.
    BeginsWith,
    /// `does not begin with`: text.
    NotBeginsWith,
    /// `ends with`: text.
    EndsWith,
    /// `does not end with`: text.
    NotEndsWith,
    /// `>`: numbers.
    Greater,
    /// `>=`: numbers.
    GreaterOrEqual,
    /// `<`: numbers.
    Less,
    /// `<=`: numbers.
    LessOrEqual,
}

impl Op {
    /// The canonical spelling, as [`Expr`]'s `Display` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "does not equal",
            Op::Contains => "contains",
            Op::NotContains => "does not contain",
            Op::BeginsWith => "begins with",
            Op::NotBeginsWith => "does not begin with",
            Op::EndsWith => "ends with",
            Op::NotEndsWith => "does not end with",
            Op::Greater => ">",
            Op::GreaterOrEqual => ">=",
            Op::Less => "<",
            Op::LessOrEqual => "<=",
        }
    }

    /// Whether the operator is the negation of another (`does not …`). A negated comparison
    /// holds when its variable is not set.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Op::NotEquals | Op::NotContains | Op::NotBeginsWith | Op::NotEndsWith
        )
    }

    /// Whether the operator only makes sense on text (`contains`, `begins with`, …).
    pub fn is_text_only(self) -> bool {
        matches!(
            self,
            Op::Contains | Op::NotContains | Op::BeginsWith | Op::NotBeginsWith | Op::EndsWith | Op::NotEndsWith
        )
    }

    /// Whether the operator only makes sense on numbers (`>`, `>=`, `<`, `<=`).
    pub fn is_number_only(self) -> bool {
        matches!(self, Op::Greater | Op::GreaterOrEqual | Op::Less | Op::LessOrEqual)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value written in a condition: a quoted string or a finite number.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(s) => write_quoted(f, s, '"', None),
            Literal::Number(n) => write!(f, "{n}"),
        }
    }
}

/// The values of an `in [...]` list: all text or all numbers, never mixed.
#[derive(Debug, Clone, PartialEq)]
pub enum List {
    Text(Vec<String>),
    Number(Vec<f64>),
}

impl List {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            List::Text(v) => v.len(),
            List::Number(v) => v.len(),
        }
    }

    /// Whether the list has no values (the parser never produces one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        match self {
            List::Text(items) => {
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, s, '"', None)?;
                }
            }
            List::Number(items) => {
                for (i, n) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}")?;
                }
            }
        }
        f.write_char(']')
    }
}

/// A condition's expression tree.
///
/// The parser flattens `a and b and c` into one [`Expr::And`] of three, and never builds an
/// `And` or `Or` of fewer than two parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `Var op value`, e.g. `BotHandoffTopic equals "CreditCard"` or `Amount >= 1000`.
    Compare {
        var: Spanned<ContextVarName>,
        op: Spanned<Op>,
        value: Spanned<Literal>,
    },
    /// `Var contains data` or, negated, `Var does not contain data`; `op_span` covers the phrase.
    HasData {
        var: Spanned<ContextVarName>,
        negated: bool,
        op_span: Span,
    },
    /// `Var in [...]` or, negated, `Var not in [...]`; `op_span` covers `in` / `not in`.
    InList {
        var: Spanned<ContextVarName>,
        negated: bool,
        op_span: Span,
        list: Spanned<List>,
    },
    /// `not …`
    Not(Box<Expr>),
    /// `… and …`: holds when every part holds.
    And(Vec<Expr>),
    /// `… or …`: holds when any part holds.
    Or(Vec<Expr>),
}

impl Expr {
    /// Writes `self` as a part of a larger expression, parenthesised when `parens` says so.
    fn fmt_part(&self, f: &mut fmt::Formatter<'_>, parens: bool) -> fmt::Result {
        if parens {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

/// The canonical text of an expression: lowercase keywords, single spaces, and parentheses only
/// where the tree needs them. Parsing it gives the same tree back (spans aside).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { var, op, value } => {
                write_var(f, &var.node)?;
                write!(f, " {} {}", op.node, value.node)
            }
            Expr::HasData { var, negated, .. } => {
                write_var(f, &var.node)?;
                f.write_str(if *negated {
                    " does not contain data"
                } else {
                    " contains data"
                })
            }
            Expr::InList { var, negated, list, .. } => {
                write_var(f, &var.node)?;
                f.write_str(if *negated { " not in " } else { " in " })?;
                write!(f, "{}", list.node)
            }
            Expr::Not(inner) => {
                f.write_str("not ")?;
                inner.fmt_part(f, matches!(**inner, Expr::And(_) | Expr::Or(_)))
            }
            Expr::And(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    part.fmt_part(f, matches!(part, Expr::And(_) | Expr::Or(_)))?;
                }
                Ok(())
            }
            Expr::Or(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    part.fmt_part(f, matches!(part, Expr::Or(_)))?;
                }
                Ok(())
            }
        }
    }
}

/// A parsed condition: the text as written and its tree.
///
/// The only way to build one is to parse it, so the tree always matches the text and every
/// span points into [`Condition::source`]. It serializes as its text and deserializes by
/// parsing, so a configuration file holds conditions as plain strings.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Condition {
    source: String,
    expr: Expr,
    /// `expr` prepared for routing; derived from it, so left out of `Debug` and `PartialEq`.
    /// Shared with the routing decisions whose reasons it words.
    program: Arc<Program>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .field("expr", &self.expr)
            .finish()
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.expr == other.expr
    }
}

impl Condition {
    /// Parses `source`; the same as [`parse_condition`].
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        parse_condition(source)
    }

    pub(super) fn from_parts(source: String, expr: Expr) -> Self {
        let program = Arc::new(Program::compile(&expr));
        Self { source, expr, program }
    }

    pub(super) fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The text as written; every span in [`Condition::expr`] is a byte range of it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

impl FromStr for Condition {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_condition(s)
    }
}

impl TryFrom<String> for Condition {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        parse_condition(&s)
    }
}

impl From<Condition> for String {
    fn from(c: Condition) -> String {
        c.source
    }
}

/// The condition as written (not the canonical form: see [`Expr`]'s `Display` for that).
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Whether `name` can be written bare: `[A-Za-z_][A-Za-z0-9_.]*` and not one of the words that
/// start or join conditions.
pub(super) fn is_bare_name(name: &str) -> bool {
    // Bytes, not chars: every allowed character is ASCII, and routing calls this for every
    // variable a decision quotes.
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else { return false };
    (first.is_ascii_alphabetic() || *first == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !(bytes.len() <= 3 && ["and", "or", "not"].iter().any(|k| name.eq_ignore_ascii_case(k)))
}

/// A character that may continue a bare variable name or keyword.
pub(super) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Writes a variable name as the language reads it: bare when possible, else in back-ticks.
pub(super) fn write_var<W: fmt::Write>(w: &mut W, name: &ContextVarName) -> fmt::Result {
    let name = name.as_str();
    if is_bare_name(name) {
        w.write_str(name)
    } else {
        write_quoted(w, name, '`', None)
    }
}

/// Writes `s` between `quote`s (`"` or `` ` ``), escaping the quote, `\`, newlines and tabs.
/// With `max_chars`, text beyond that many characters is cut and marked with `…` (for traces of
/// long values).
pub(super) fn write_quoted<W: fmt::Write>(w: &mut W, s: &str, quote: char, max_chars: Option<usize>) -> fmt::Result {
    debug_assert!(quote == '"' || quote == '`');
    // A text of at most `max` bytes has at most `max` characters: no need to count them.
    let (s, cut) = match max_chars
        .filter(|&max| s.len() > max)
        .and_then(|max| s.char_indices().nth(max))
    {
        Some((at, _)) => (&s[..at], true),
        None => (s, false),
    };
    let needs_escape = |b: u8| matches!(b, b'\\' | b'\n' | b'\t') || b == quote as u8;
    w.write_char(quote)?;
    // Runs without escapes are copied in one go (routing quotes values with this). Every
    // escaped character is ASCII, so the byte positions are character boundaries.
    let mut rest = s;
    while let Some(i) = rest.bytes().position(needs_escape) {
        w.write_str(&rest[..i])?;
        w.write_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'"' => "\\\"",
            _ => "\\`",
        })?;
        rest = &rest[i + 1..];
    }
    w.write_str(rest)?;
    if cut {
        w.write_char('…')?;
    }
    w.write_char(quote)
}
