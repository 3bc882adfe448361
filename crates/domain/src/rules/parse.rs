//! The condition parser: a hand-written lexer and recursive-descent parser that stops at the
//! first error and says exactly where it is and what was expected.
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! condition := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | "(" or ")" | var predicate
//! predicate := ("equals" | "=" | "==" | "does" "not" "equal" | "!=") value
//!            | ("contains" | "does" "not" "contain") ("data" | string)
//!            | ("begins" "with" | "does" "not" "begin" "with") string
//!            | ("ends" "with" | "does" "not" "end" "with") string
//!            | (">" | ">=" | "<" | "<=") number
//!            | ("in" | "not" "in") "[" value ("," value)* ","? "]"
//! var       := [A-Za-z_][A-Za-z0-9_.]*  |  "`" any text "`"
//! value     := string | number
//! string    := '"' text with \" \\ \n \t escapes '"'
//! number    := -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?
//! ```

use std::fmt;

use super::ast::{Condition, Expr, List, Literal, Op, Span, Spanned, is_word_char};
use super::diag::{closest, render};
use crate::context::ContextVarName;

/// How deeply parentheses and `not`s may nest. Far beyond any real rule; it exists so that a
/// hostile or broken configuration cannot overflow the stack.
pub const MAX_DEPTH: usize = 64;

/// Why a condition could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The offending text, as byte offsets into the source (empty at the end of input).
    pub span: Span,
    pub message: String,
    /// A suggestion, e.g. "did you mean `equals`?".
    pub help: Option<String>,
}

impl ParseError {
    fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The error under the line of `source` it points at, with carets under the span:
    ///
    /// ```text
    /// BotHandoffTopic equal "CreditCard"
    ///                 ^^^^^ expected an operator (equals, does not equal, contains, ...)
    /// help: did you mean `equals`?
    /// ```
    pub fn render(&self, source: &str) -> String {
        render(source, self.span, &self.message, self.help.as_deref())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.span.start)?;
        if let Some(help) = &self.help {
            write!(f, "; {help}")?;
        }
        Ok(())
    }
}

/// Parses a condition, e.g. `BotHandoffTopic equals "CreditCard"`.
pub fn parse_condition(source: &str) -> Result<Condition, ParseError> {
    if source.trim().is_empty() {
        return Err(ParseError::new(Span::new(0, source.len()), "the condition is empty")
            .help(r#"write a condition such as `BotHandoffTopic equals "CreditCard"`"#));
    }
    let mut parser = Parser::new(source)?;
    let expr = parser.or()?;
    match parser.token.kind {
        Tok::Eof => Ok(Condition::from_parts(source.to_owned(), expr)),
        Tok::RParen => {
            Err(ParseError::new(parser.token.span, "unmatched `)`").help("remove it, or add the `(` it closes"))
        }
        _ => Err(ParseError::new(
            parser.token.span,
            format!("expected `and` or `or`, found {}", parser.token.describe()),
        )
        .help("join conditions with `and` or `or`")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    /// A bare word: a keyword or a variable name.
    Word(&'a str),
    /// A back-ticked variable name, unescaped.
    Name(String),
    /// A string literal, unescaped.
    Str(String),
    Num(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Eof,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    kind: Tok<'a>,
    span: Span,
}

impl Token<'_> {
    /// The token as an error message names it ("found …").
    fn describe(&self) -> String {
        match &self.kind {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Str(_) => "a quoted string".to_owned(),
            Tok::Num(_) => "a number".to_owned(),
            Tok::Eof => "the end of the condition".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Eq => "`=`".to_owned(),
            Tok::Ne => "`!=`".to_owned(),
            Tok::Gt => "`>`".to_owned(),
            Tok::Ge => "`>=`".to_owned(),
            Tok::Lt => "`<`".to_owned(),
            Tok::Le => "`<=`".to_owned(),
        }
    }

    fn is_word(&self, keyword: &str) -> bool {
        matches!(self.kind, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next_token(&mut self) -> Result<Token<'a>, ParseError> {
        let rest = &self.src[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
        let start = self.pos;
        let rest = &self.src[start..];
        let Some(c) = rest.chars().next() else {
            return Ok(Token {
                kind: Tok::Eof,
                span: Span::new(start, start),
            });
        };
        let (kind, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '=' if rest.starts_with("==") => (Tok::Eq, 2),
            '=' => (Tok::Eq, 1),
            '!' if rest.starts_with("!=") => (Tok::Ne, 2),
            '>' if rest.starts_with(">=") => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '<' if rest.starts_with("<=") => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '"' => {
                let (text, span) = self.quoted(start, '"')?;
                return Ok(Token {
                    kind: Tok::Str(text),
                    span,
                });
            }
            '`' => {
                let (text, span) = self.quoted(start, '`')?;
                return Ok(Token {
                    kind: Tok::Name(text),
                    span,
                });
            }
            '-' | '0'..='9' => return self.number(start),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
                (Tok::Word(&rest[..len]), len)
            }
            c => return Err(unexpected_character(start, c)),
        };
        self.pos = start + len;
        Ok(Token {
            kind,
            span: Span::new(start, start + len),
        })
    }

    /// Reads a string (`"`) or back-ticked name (`` ` ``) starting at `start`, unescaping it.
    fn quoted(&mut self, start: usize, quote: char) -> Result<(String, Span), ParseError> {
        let body = start + 1;
        let mut text = String::new();
        let mut chars = self.src[body..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos = body + i + 1;
                    return Ok((text, Span::new(start, self.pos)));
                }
                '\\' => match chars.next() {
                    Some((_, c)) if c == quote || c == '\\' => text.push(c),
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((j, c)) => {
                        let span = Span::new(body + i, body + j + c.len_utf8());
                        return Err(ParseError::new(span, format!("unknown escape `\\{c}`"))
                            .help(format!(r"the escapes are `\{quote}`, `\\`, `\n` and `\t`")));
                    }
                    None => break,
                },
                c => text.push(c),
            }
        }
        let span = Span::new(start, self.src.len());
        Err(if quote == '"' {
            ParseError::new(span, "this string is never closed").help("add the closing `\"`")
        } else {
            ParseError::new(span, "this back-ticked name is never closed").help("add the closing back-tick")
        })
    }

    fn number(&mut self, start: usize) -> Result<Token<'a>, ParseError> {
        let bytes = self.src.as_bytes();
        let digits = |mut i: usize| {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        let int_start = start + usize::from(bytes[start] == b'-');
        let mut end = digits(int_start);
        if end == int_start {
            return Err(ParseError::new(Span::new(start, start + 1), "unexpected `-`")
                .help("a negative number is written like -2.5"));
        }
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end = digits(end + 1);
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
            if bytes.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
                end = digits(end + 1 + sign);
            }
        }
        let glued = self.src[end..]
            .find(|c| !is_word_char(c))
            .unwrap_or(self.src.len() - end);
        if glued > 0 {
            let span = Span::new(start, end + glued);
            let text = &self.src[start..span.end];
            return Err(ParseError::new(span, format!("`{text}` is not a number")).help(
                "numbers are written like 3, -2.5 or 1e3; text goes in double quotes, variable names start with a letter",
            ));
        }
        let text = &self.src[start..end];
        let span = Span::new(start, end);
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.pos = end;
                Ok(Token {
                    kind: Tok::Num(n),
                    span,
                })
            }
            _ => Err(ParseError::new(span, format!("`{text}` is too large a number"))),
        }
    }
}

fn unexpected_character(at: usize, c: char) -> ParseError {
    let error = ParseError::new(Span::new(at, at + c.len_utf8()), format!("unexpected `{c}`"));
    match c {
        '&' => error.help("write `and` to require both conditions"),
        '|' => error.help("write `or` to require either condition"),
        '!' => error.help("write `not` to negate a condition, or `!=` for does not equal"),
        '\'' => error.help("quote text with double quotes: \"like this\""),
        c if c.is_alphabetic() => {
            error.help("a variable name with characters other than A-Z, 0-9, `_` and `.` goes in back-ticks: `Name`")
        }
        _ => error,
    }
}

/// The operators, for error messages.
const OPERATORS: &str = "equals, does not equal, contains, does not contain, begins with, \
    does not begin with, ends with, does not end with, contains data, does not contain data, \
    >, >=, <, <=, in, not in";

/// Words other languages use for our operators, with our spelling.
const ALIASES: &[(&str, &str)] = &[
    ("is", "equals"),
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("neq", "does not equal"),
    ("has", "contains"),
    ("like", "contains"),
    ("starts", "begins with"),
    ("startswith", "begins with"),
    ("beginswith", "begins with"),
    ("endswith", "ends with"),
    ("gt", ">"),
    ("ge", ">="),
    ("gte", ">="),
    ("lt", "<"),
    ("le", "<="),
    ("lte", "<="),
];

/// The first word of each operator, with how to write the whole operator.
const OPERATOR_WORDS: &[(&str, &str)] = &[
    ("equals", "equals"),
    ("contains", "contains"),
    ("begins", "begins with"),
    ("ends", "ends with"),
    ("does", "does not equal"),
    ("in", "in"),
];

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    /// The next token, not yet consumed.
    token: Token<'a>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, ParseError> {
        let mut lexer = Lexer { src, pos: 0 };
        let token = lexer.next_token()?;
        Ok(Self {
            src,
            lexer,
            token,
            depth: 0,
        })
    }

    /// Consumes the current token and reads the next.
    fn bump(&mut self) -> Result<Token<'a>, ParseError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.token, next))
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.token.span, message)
    }

    fn enter(&mut self, at: Span) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                at,
                format!("this condition nests more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let first = self.and()?;
        if !self.token.is_word("or") {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.token.is_word("or") {
            self.bump()?;
            parts.push(self.and()?);
        }
        Ok(Expr::Or(parts))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let first = self.unary()?;
        if !self.token.is_word("and") {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.token.is_word("and") {
            self.bump()?;
            parts.push(self.unary()?);
        }
        Ok(Expr::And(parts))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.token.is_word("not") {
            let not = self.bump()?;
            self.enter(not.span)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        let name = match &self.token.kind {
            Tok::LParen => return self.group(),
            Tok::Word(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => {
                return Err(self.error(format!("expected a condition, found `{w}`")).help(format!(
                    r#"`{w}` joins two conditions, like `Topic equals "A" {w} Amount > 5`"#
                )));
            }
            Tok::Word(w) => (*w).to_owned(),
            Tok::Name(n) => n.clone(),
            _ => {
                return Err(self
                    .error(format!("expected a condition, found {}", self.token.describe()))
                    .help(r#"a condition starts with a variable name, `not` or `(`, like `BotHandoffTopic equals "CreditCard"`"#));
            }
        };
        let bare = matches!(self.token.kind, Tok::Word(_));
        let span = self.token.span;
        let name =
            ContextVarName::new(name).map_err(|e| ParseError::new(span, format!("not a valid variable name: {e}")))?;
        self.bump()?;
        self.predicate(Spanned::new(name, span), bare)
    }

    /// `( … )`, the current token being `(`.
    fn group(&mut self) -> Result<Expr, ParseError> {
        let open = self.bump()?.span;
        self.enter(open)?;
        let inner = self.or()?;
        self.depth -= 1;
        match self.token.kind {
            Tok::RParen => {
                self.bump()?;
                Ok(inner)
            }
            Tok::Eof => Err(ParseError::new(open, "this `(` is never closed").help("add `)` where the group ends")),
            _ => Err(self
                .error(format!("expected `and`, `or` or `)`, found {}", self.token.describe()))
                .help("join conditions with `and` or `or`, and close the group with `)`")),
        }
    }

    /// What follows a variable: an operator and its operand.
    fn predicate(&mut self, var: Spanned<ContextVarName>, bare: bool) -> Result<Expr, ParseError> {
        let first = self.token.span;
        let symbol = match self.token.kind {
            Tok::Eq => Some(Op::Equals),
            Tok::Ne => Some(Op::NotEquals),
            Tok::Gt => Some(Op::Greater),
            Tok::Ge => Some(Op::GreaterOrEqual),
            Tok::Lt => Some(Op::Less),
            Tok::Le => Some(Op::LessOrEqual),
            _ => None,
        };
        if let Some(op) = symbol {
            self.bump()?;
            return self.compare(var, op, first);
        }
        let Tok::Word(word) = self.token.kind else {
            return Err(self.operator_error(&var, bare));
        };
        let (op, last) = match word.to_ascii_lowercase().as_str() {
            "equals" => (Op::Equals, self.bump()?.span),
            "contains" => {
                self.bump()?;
                return self.contains(var, false, first);
            }
            "begins" => {
                self.bump()?;
                (Op::BeginsWith, self.expect_word("with", "begins")?)
            }
            "ends" => {
                self.bump()?;
                (Op::EndsWith, self.expect_word("with", "ends")?)
            }
            "in" => {
                self.bump()?;
                return self.list(var, false, first);
            }
            "not" => {
                self.bump()?;
                if !self.token.is_word("in") {
                    let written = &self.src[var.span.start..var.span.end];
                    return Err(self
                        .error(format!("expected `in` after `not`, found {}", self.token.describe()))
                        .help(format!(
                            "to negate a comparison, put `not` before the variable: `not {written} …`"
                        )));
                }
                let last = self.bump()?.span;
                return self.list(var, true, first.to(last));
            }
            "does" => {
                self.bump()?;
                self.expect_word("not", "does")?;
                let Tok::Word(word) = self.token.kind else {
                    return Err(self.does_not_error());
                };
                match word.to_ascii_lowercase().as_str() {
                    "equal" => (Op::NotEquals, self.bump()?.span),
                    "contain" => {
                        let last = self.bump()?.span;
                        return self.contains(var, true, first.to(last));
                    }
                    "begin" => {
                        self.bump()?;
                        (Op::NotBeginsWith, self.expect_word("with", "begin")?)
                    }
                    "end" => {
                        self.bump()?;
                        (Op::NotEndsWith, self.expect_word("with", "end")?)
                    }
                    _ => return Err(self.does_not_error()),
                }
            }
            _ => return Err(self.operator_error(&var, bare)),
        };
        self.compare(var, op, first.to(last))
    }

    /// `var op value`, the operator (written at `op_span`) consumed.
    fn compare(&mut self, var: Spanned<ContextVarName>, op: Op, op_span: Span) -> Result<Expr, ParseError> {
        let value = self.value(op, op_span)?;
        Ok(Expr::Compare {
            var,
            op: Spanned::new(op, op_span),
            value,
        })
    }

    fn expect_word(&mut self, keyword: &str, after: &str) -> Result<Span, ParseError> {
        if self.token.is_word(keyword) {
            return Ok(self.bump()?.span);
        }
        Err(self
            .error(format!(
                "expected `{keyword}` after `{after}`, found {}",
                self.token.describe()
            ))
            .help(format!("write `{after} {keyword}`")))
    }

    fn does_not_error(&self) -> ParseError {
        let error = self.error(format!(
            "expected `equal`, `contain`, `begin with` or `end with` after `does not`, found {}",
            self.token.describe()
        ));
        match self.token.kind {
            Tok::Word(w) => match closest(w, ["equal", "contain", "begin", "end"]) {
                Some(word) => {
                    let rest = if matches!(word, "begin" | "end") { " with" } else { "" };
                    error.help(format!("did you mean `does not {word}{rest}`?"))
                }
                None => error,
            },
            _ => error,
        }
    }

    fn operator_error(&self, var: &Spanned<ContextVarName>, bare: bool) -> ParseError {
        let name = var.node.as_str();
        let operand_follows = matches!(self.token.kind, Tok::Str(_) | Tok::Num(_) | Tok::LBracket);
        if bare && operand_follows && OPERATOR_WORDS.iter().any(|(w, _)| name.eq_ignore_ascii_case(w)) {
            return ParseError::new(var.span, format!("expected a variable name before `{name}`"))
                .help(r#"write the variable first, like `BotHandoffTopic equals "CreditCard"`"#);
        }
        match self.token.kind {
            Tok::Word(w) => {
                let suggestion = ALIASES
                    .iter()
                    .find(|(alias, _)| w.eq_ignore_ascii_case(alias))
                    .map(|(_, ours)| *ours)
                    .or_else(|| {
                        let word = closest(w, OPERATOR_WORDS.iter().map(|(word, _)| *word))?;
                        OPERATOR_WORDS.iter().find(|(w, _)| *w == word).map(|(_, ours)| *ours)
                    });
                let error = self.error("expected an operator (equals, does not equal, contains, ...)");
                match suggestion {
                    Some(ours) => error.help(format!("did you mean `{ours}`?")),
                    None => error.help(format!("the operators are {OPERATORS}")),
                }
            }
            _ => self
                .error(format!(
                    "expected an operator after `{name}`, found {}",
                    self.token.describe()
                ))
                .help(format!("the operators are {OPERATORS}")),
        }
    }

    /// After `contains` / `does not contain` (consumed, written at `op_span`): `data`, or a
    /// string.
    fn contains(&mut self, var: Spanned<ContextVarName>, negated: bool, op_span: Span) -> Result<Expr, ParseError> {
        if self.token.is_word("data") {
            let op_span = op_span.to(self.bump()?.span);
            return Ok(Expr::HasData { var, negated, op_span });
        }
        self.compare(var, if negated { Op::NotContains } else { Op::Contains }, op_span)
    }

    /// The operand of `op`: a string or a number, as the operator allows.
    fn value(&mut self, op: Op, op_span: Span) -> Result<Spanned<Literal>, ParseError> {
        let written = &self.src[op_span.start..op_span.end];
        let literal = match &self.token.kind {
            Tok::Str(s) if op.is_number_only() => {
                let error = self.error(format!("`{written}` compares numbers, but this is text"));
                return Err(match s.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => error.help(format!("remove the quotes: {}", s.trim())),
                    _ => error.help("write a number, like 1000"),
                });
            }
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Num(_) if op.is_text_only() => {
                let number = &self.src[self.token.span.start..self.token.span.end];
                return Err(self
                    .error(format!("`{written}` compares text, but this is a number"))
                    .help(format!("put it in double quotes: \"{number}\"")));
            }
            Tok::Num(n) => Literal::Number(*n),
            Tok::Word(w) if !op.is_number_only() => {
                return Err(self
                    .error(format!(
                        "expected a quoted string or a number after `{written}`, found `{w}`"
                    ))
                    .help(format!("put text in double quotes: \"{w}\"")));
            }
            _ => {
                let wanted = if op.is_number_only() {
                    "a number"
                } else if op.is_text_only() {
                    "a quoted string"
                } else {
                    "a quoted string or a number"
                };
                return Err(self
                    .error(format!(
                        "expected {wanted} after `{written}`, found {}",
                        self.token.describe()
                    ))
                    .help(r#"a value is a quoted string like "CreditCard" or a number like 1000"#));
            }
        };
        let span = self.bump()?.span;
        Ok(Spanned::new(literal, span))
    }

    /// After `in` / `not in` (consumed, written at `op_span`): `[value, …]`, all strings or all
    /// numbers.
    fn list(&mut self, var: Spanned<ContextVarName>, negated: bool, op_span: Span) -> Result<Expr, ParseError> {
        if !matches!(self.token.kind, Tok::LBracket) {
            return Err(self
                .error(format!("expected a list after `in`, found {}", self.token.describe()))
                .help(r#"write a list like ["gold", "platinum"]"#));
        }
        let open = self.bump()?.span;
        if matches!(self.token.kind, Tok::RBracket) {
            return Err(ParseError::new(
                open.to(self.token.span),
                "a list needs at least one value",
            ));
        }
        let mut list: Option<List> = None;
        loop {
            match (&self.token.kind, &mut list) {
                (Tok::Str(s), None) => list = Some(List::Text(vec![s.clone()])),
                (Tok::Str(s), Some(List::Text(items))) => items.push(s.clone()),
                (Tok::Num(n), None) => list = Some(List::Number(vec![*n])),
                (Tok::Num(n), Some(List::Number(items))) => items.push(*n),
                (Tok::Str(_), Some(List::Number(_))) => {
                    return Err(self.error("this list holds numbers, so every value must be a number"));
                }
                (Tok::Num(_), Some(List::Text(_))) => {
                    return Err(self
                        .error("this list holds text, so every value must be a quoted string")
                        .help(format!(
                            "put it in double quotes: \"{}\"",
                            &self.src[self.token.span.start..self.token.span.end]
                        )));
                }
                (Tok::Word(w), _) => {
                    return Err(self
                        .error(format!("expected a quoted string or a number, found `{w}`"))
                        .help(format!("put text in double quotes: \"{w}\"")));
                }
                (Tok::Eof, _) => return Err(unclosed_list(open)),
                _ => {
                    return Err(self.error(format!(
                        "expected a quoted string or a number, found {}",
                        self.token.describe()
                    )));
                }
            }
            self.bump()?;
            match self.token.kind {
                Tok::Comma => {
                    self.bump()?;
                    if matches!(self.token.kind, Tok::RBracket) {
                        break;
                    }
                }
                Tok::RBracket => break,
                Tok::Eof => return Err(unclosed_list(open)),
                _ => {
                    return Err(self
                        .error(format!("expected `,` or `]`, found {}", self.token.describe()))
                        .help("separate the values with commas and close the list with `]`"));
                }
            }
        }
        let close = self.bump()?.span;
        let list = list.ok_or_else(|| ParseError::new(open.to(close), "a list needs at least one value"))?;
        Ok(Expr::InList {
            var,
            negated,
            op_span,
            list: Spanned::new(list, open.to(close)),
        })
    }
}

fn unclosed_list(open: Span) -> ParseError {
    ParseError::new(open, "this `[` is never closed").help("add `]` after the last value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, at: usize) -> Spanned<ContextVarName> {
        Spanned::new(ContextVarName::new(name).unwrap(), Span::new(at, at + name.len()))
    }

    fn expr(src: &str) -> Expr {
        match parse_condition(src) {
            Ok(c) => c.expr().clone(),
            Err(e) => panic!("{src:?} should parse:\n{}", e.render(src)),
        }
    }

    fn error(src: &str) -> ParseError {
        match parse_condition(src) {
            Ok(c) => panic!("{src:?} should not parse, got {:?}", c.expr()),
            Err(e) => e,
        }
    }

    /// The text an error points at.
    fn pointed_at(src: &str) -> &str {
        let e = error(src);
        &src[e.span.start..e.span.end]
    }

    #[test]
    fn a_comparison_parses_with_the_spans_of_its_parts() {
        assert_eq!(
            expr(r#"BotHandoffTopic equals "CreditCard""#),
            Expr::Compare {
                var: var("BotHandoffTopic", 0),
                op: Spanned::new(Op::Equals, Span::new(16, 22)),
                value: Spanned::new(Literal::Text("CreditCard".into()), Span::new(23, 35)),
            }
        );
    }

    #[test]
    fn every_operator_parses_in_words_and_symbols() {
        let cases = [
            (r#"X equals "a""#, Op::Equals),
            (r#"X = "a""#, Op::Equals),
            (r#"X == "a""#, Op::Equals),
            (r#"X does not equal "a""#, Op::NotEquals),
            (r#"X != "a""#, Op::NotEquals),
            (r#"X contains "a""#, Op::Contains),
            (r#"X does not contain "a""#, Op::NotContains),
            (r#"X begins with "a""#, Op::BeginsWith),
            (r#"X does not begin with "a""#, Op::NotBeginsWith),
            (r#"X ends with "a""#, Op::EndsWith),
            (r#"X does not end with "a""#, Op::NotEndsWith),
            ("X > 1", Op::Greater),
            ("X >= 1", Op::GreaterOrEqual),
            ("X < 1", Op::Less),
            ("X <= 1", Op::LessOrEqual),
        ];
        for (src, want) in cases {
            let Expr::Compare { op, value, .. } = expr(src) else {
                panic!("{src} is not a comparison")
            };
            assert_eq!(op.node, want, "{src}");
            assert_eq!(
                &src[op.span.start..op.span.end],
                src[2..value.span.start].trim(),
                "{src}"
            );
            assert_eq!(
                &src[value.span.start..value.span.end],
                src.rsplit(' ').next().unwrap(),
                "{src}"
            );
        }
    }

    #[test]
    fn contains_data_and_does_not_contain_data_parse_as_has_data() {
        assert_eq!(
            expr("BotHandoffTopic does not contain data"),
            Expr::HasData {
                var: var("BotHandoffTopic", 0),
                negated: true,
                op_span: Span::new(16, 37)
            }
        );
        assert_eq!(
            expr("X contains data"),
            Expr::HasData {
                var: var("X", 0),
                negated: false,
                op_span: Span::new(2, 15)
            }
        );
        // A quoted "data" is a value, not the keyword.
        assert!(matches!(
            expr(r#"X contains "data""#),
            Expr::Compare {
                op: Spanned { node: Op::Contains, .. },
                ..
            }
        ));
    }

    #[test]
    fn in_and_not_in_take_a_non_empty_list_of_strings_or_numbers() {
        assert_eq!(
            expr(r#"Tier in ["gold", "platinum"]"#),
            Expr::InList {
                var: var("Tier", 0),
                negated: false,
                op_span: Span::new(5, 7),
                list: Spanned::new(List::Text(vec!["gold".into(), "platinum".into()]), Span::new(8, 28)),
            }
        );
        assert_eq!(
            expr("Level not in [1, 2.5, -3,]"),
            Expr::InList {
                var: var("Level", 0),
                negated: true,
                op_span: Span::new(6, 12),
                list: Spanned::new(List::Number(vec![1.0, 2.5, -3.0]), Span::new(13, 26)),
            }
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            expr(r#"NOT X Does Not Equal "a" AND Y CONTAINS DATA Or Z In [1]"#).to_string(),
            r#"not X does not equal "a" and Y contains data or Z in [1]"#
        );
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let e = expr("not A contains data and B contains data or C contains data");
        let Expr::Or(parts) = e else { panic!("or is the root") };
        let Expr::And(and) = &parts[0] else {
            panic!("and is under or")
        };
        assert!(matches!(and[0], Expr::Not(_)));
        assert!(matches!(and[1], Expr::HasData { .. }));
        assert!(matches!(parts[1], Expr::HasData { .. }));
    }

    #[test]
    fn parentheses_override_precedence() {
        let e = expr("A contains data and (B contains data or C contains data)");
        let Expr::And(parts) = e else { panic!("and is the root") };
        assert!(matches!(parts[1], Expr::Or(_)));
        let e = expr("not (A contains data or B contains data)");
        let Expr::Not(inner) = e else { panic!("not is the root") };
        assert!(matches!(*inner, Expr::Or(_)));
    }

    #[test]
    fn chains_of_and_are_flattened() {
        let Expr::And(parts) = expr("A = 1 and B = 2 and C = 3") else {
            panic!()
        };
        assert_eq!(parts.len(), 3);
    }

    #[test]
    fn the_example_from_the_issue_parses() {
        let src = r#"Amount >= 1000 and (Tier in ["gold", "platinum"] or not Region begins with "EU")"#;
        assert_eq!(expr(src).to_string(), src);
    }

    #[test]
    fn string_escapes_and_number_forms_are_read() {
        let Expr::Compare { value, .. } = expr(r#"X equals "say \"hi\"\\\n\t""#) else {
            panic!()
        };
        assert_eq!(value.node, Literal::Text("say \"hi\"\\\n\t".into()));
        for (src, n) in [
            ("X = 3", 3.0),
            ("X = -2.5", -2.5),
            ("X = 1e3", 1000.0),
            ("X = 2E-2", 0.02),
            ("X=7", 7.0),
        ] {
            let Expr::Compare { value, .. } = expr(src) else {
                panic!()
            };
            assert_eq!(value.node, Literal::Number(n), "{src}");
        }
    }

    #[test]
    fn variable_names_are_bare_words_or_back_ticked_and_case_sensitive() {
        let Expr::Compare { var, .. } = expr(r#"`Name with spaces` = "x""#) else {
            panic!()
        };
        assert_eq!(var.node.as_str(), "Name with spaces");
        assert_eq!(var.span, Span::new(0, 18));
        let Expr::Compare { var, .. } = expr(r#"`a \` b` = "x""#) else {
            panic!()
        };
        assert_eq!(var.node.as_str(), "a ` b");
        let Expr::Compare { var, .. } = expr(r#"customer.Tier_2 = "x""#) else {
            panic!()
        };
        assert_eq!(var.node.as_str(), "customer.Tier_2");
        let Expr::Compare { var, .. } = expr(r#"TOPIC = "x""#) else {
            panic!()
        };
        assert_eq!(var.node.as_str(), "TOPIC");
        // Keywords other than and / or / not can name variables.
        let Expr::HasData { var, .. } = expr("data contains data") else {
            panic!()
        };
        assert_eq!(var.node.as_str(), "data");
    }

    #[test]
    fn a_misspelt_operator_is_reported_at_the_word_with_a_suggestion() {
        let src = r#"BotHandoffTopic equal "x""#;
        let e = error(src);
        assert_eq!(e.span, Span::new(16, 21));
        assert_eq!(
            e.message,
            "expected an operator (equals, does not equal, contains, ...)"
        );
        assert_eq!(e.help.as_deref(), Some("did you mean `equals`?"));
        assert_eq!(
            e.render(src),
            "BotHandoffTopic equal \"x\"\n                ^^^^^ expected an operator (equals, does not equal, contains, ...)\nhelp: did you mean `equals`?"
        );
        assert_eq!(error(r#"X is "a""#).help.as_deref(), Some("did you mean `equals`?"));
        assert_eq!(
            error(r#"X startsWith "a""#).help.as_deref(),
            Some("did you mean `begins with`?")
        );
        assert_eq!(
            error(r#"X does not equals "a""#).help.as_deref(),
            Some("did you mean `does not equal`?")
        );
        assert_eq!(error(r#"X does not contains "a""#).span, Span::new(11, 19));
    }

    #[test]
    fn an_unterminated_string_is_reported_from_its_opening_quote_to_the_end() {
        let src = r#"A equals "CreditCard and B contains data"#;
        let e = error(src);
        assert_eq!(e.span, Span::new(9, src.len()));
        assert_eq!(e.message, "this string is never closed");
        assert_eq!(error("`Unclosed name = 1").span, Span::new(0, 18));
    }

    #[test]
    fn an_unknown_escape_is_reported_at_the_escape() {
        let e = error(r#"A equals "a\qb""#);
        assert_eq!(e.span, Span::new(11, 13));
        assert_eq!(e.message, r"unknown escape `\q`");
    }

    #[test]
    fn a_missing_closing_parenthesis_points_at_the_opening_one() {
        let src = r#"A = 1 and (B = 2 or (C = 3)"#;
        let e = error(src);
        assert_eq!(e.span, Span::new(10, 11));
        assert_eq!(e.message, "this `(` is never closed");
        assert_eq!(pointed_at(r#"(A = 1 B = 2)"#), "B");
    }

    #[test]
    fn an_unmatched_closing_parenthesis_is_reported() {
        let e = error("A = 1)");
        assert_eq!(e.span, Span::new(5, 6));
        assert_eq!(e.message, "unmatched `)`");
    }

    #[test]
    fn an_empty_condition_is_an_error_covering_the_whole_input() {
        assert_eq!(error("").span, Span::new(0, 0));
        let e = error("   ");
        assert_eq!(e.span, Span::new(0, 3));
        assert_eq!(e.message, "the condition is empty");
    }

    #[test]
    fn trailing_input_is_reported_at_its_first_token() {
        let e = error(r#"A equals "x" B equals "y""#);
        assert_eq!(e.span, Span::new(13, 14));
        assert_eq!(e.message, "expected `and` or `or`, found `B`");
        assert_eq!(e.help.as_deref(), Some("join conditions with `and` or `or`"));
    }

    #[test]
    fn a_missing_value_or_operator_is_reported_at_the_end() {
        let e = error("A equals");
        assert_eq!(e.span, Span::new(8, 8));
        assert_eq!(
            e.message,
            "expected a quoted string or a number after `equals`, found the end of the condition"
        );
        let e = error("A");
        assert_eq!(e.span, Span::new(1, 1));
        assert_eq!(
            e.message,
            "expected an operator after `A`, found the end of the condition"
        );
        assert_eq!(error("A = 1 and").span, Span::new(9, 9));
        assert_eq!(error("not").span, Span::new(3, 3));
    }

    #[test]
    fn an_unquoted_text_value_gets_a_help_to_quote_it() {
        let e = error("BotHandoffTopic equals CreditCard");
        assert_eq!(e.span, Span::new(23, 33));
        assert_eq!(e.help.as_deref(), Some(r#"put text in double quotes: "CreditCard""#));
    }

    #[test]
    fn operand_types_are_checked_by_the_operator() {
        let e = error(r#"Amount >= "1000""#);
        assert_eq!(e.span, Span::new(10, 16));
        assert_eq!(e.message, "`>=` compares numbers, but this is text");
        assert_eq!(e.help.as_deref(), Some("remove the quotes: 1000"));
        let e = error("Topic begins with 5");
        assert_eq!(e.span, Span::new(18, 19));
        assert_eq!(e.message, "`begins with` compares text, but this is a number");
        assert_eq!(
            error("Topic does not contain 5").message,
            "`does not contain` compares text, but this is a number"
        );
    }

    #[test]
    fn lists_must_be_non_empty_homogeneous_and_closed() {
        assert_eq!(pointed_at("X in []"), "[]");
        assert_eq!(error(r#"X in ["a", 1]"#).span, Span::new(11, 12));
        assert_eq!(error(r#"X in [1, "a"]"#).span, Span::new(9, 12));
        assert_eq!(pointed_at(r#"X in ["a", "b""#), "[");
        assert_eq!(pointed_at(r#"X in "a""#), r#""a""#);
        assert_eq!(pointed_at(r#"X in ["a" "b"]"#), r#""b""#);
    }

    #[test]
    fn bad_characters_and_numbers_are_reported_where_they_are() {
        let e = error(r#"A = 1 && B = 2"#);
        assert_eq!(e.span, Span::new(6, 7));
        assert_eq!(e.help.as_deref(), Some("write `and` to require both conditions"));
        assert_eq!(pointed_at("A = 3abc"), "3abc");
        assert_eq!(pointed_at("A = 1e999"), "1e999");
        assert_eq!(pointed_at("A = - 1"), "-");
        assert_eq!(pointed_at("Thème = 1"), "è");
        assert_eq!(pointed_at("A = 'x'"), "'");
    }

    #[test]
    fn misplaced_keywords_are_reported() {
        assert_eq!(error(r#"and A = 1"#).message, "expected a condition, found `and`");
        assert_eq!(pointed_at(r#"equals "x""#), "equals");
        assert_eq!(
            error(r#"equals "x""#).message,
            "expected a variable name before `equals`"
        );
        assert_eq!(pointed_at(r#"X begins "a""#), r#""a""#);
        assert_eq!(pointed_at(r#"X not equals "a""#), "equals");
        assert_eq!(pointed_at("()"), ")");
    }

    #[test]
    fn a_back_ticked_name_must_be_a_valid_variable_name() {
        assert_eq!(pointed_at("`` = 1"), "``");
        assert_eq!(pointed_at("` padded ` = 1"), "` padded `");
        let long = format!("{} = 1", "a".repeat(101));
        assert_eq!(error(&long).span, Span::new(0, 101));
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_without_overflowing_the_stack() {
        let ok = format!("{}A = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse_condition(&ok).is_ok());
        let deep = format!("{}A = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(error(&deep).span, Span::new(MAX_DEPTH, MAX_DEPTH + 1));
        let nots = format!("{}A = 1", "not ".repeat(10_000));
        assert!(error(&nots).message.contains("levels deep"));
    }

    #[test]
    fn the_display_form_of_an_error_names_its_position_and_help() {
        assert_eq!(
            error(r#"X equal "a""#).to_string(),
            "expected an operator (equals, does not equal, contains, ...) (at byte 2); did you mean `equals`?"
        );
    }
}
