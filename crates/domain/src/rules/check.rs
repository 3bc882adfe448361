//! Checking a parsed condition against the context variables a workstream defines, so that a
//! rule naming an unknown variable or comparing a number with text is refused when the
//! configuration is loaded rather than silently never matching at run time.

use std::fmt;

use super::ast::{Condition, Expr, List, Literal, Span, Spanned};
use super::diag::{closest, render};
use crate::context::{ContextDefs, ContextVarName, VarType};

/// How many defined variables an "unknown variable" help lists before saying "and N more".
const LISTED_NAMES: usize = 10;

/// A condition that parses but does not fit the workstream's variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CheckError {
    /// The offending text, as byte offsets into the condition's source.
    pub span: Span,
    pub message: String,
    /// A suggestion, e.g. "did you mean `BotHandoffTopic`?".
    pub help: Option<String>,
}

impl CheckError {
    fn new(span: Span, message: String, help: impl Into<Option<String>>) -> Self {
        Self {
            span,
            message,
            help: help.into(),
        }
    }

    /// The error under the line of `source` it points at, with carets under the span (as
    /// [`super::ParseError::render`]).
    pub fn render(&self, source: &str) -> String {
        render(source, self.span, &self.message, self.help.as_deref())
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.span.start)?;
        if let Some(help) = &self.help {
            write!(f, "; {help}")?;
        }
        Ok(())
    }
}

/// Checks every variable of `condition` against `defs`: each must be defined, and be compared
/// as its type allows (text with quoted strings and the text operators, numbers with numbers
/// and `>`, `>=`, `<`, `<=`). Returns every problem found, in source order; empty when the
/// condition is sound.
pub fn check(condition: &Condition, defs: &ContextDefs) -> Vec<CheckError> {
    let mut errors = Vec::new();
    walk(condition.expr(), condition.source(), defs, &mut errors);
    errors
}

fn walk(expr: &Expr, source: &str, defs: &ContextDefs, errors: &mut Vec<CheckError>) {
    match expr {
        Expr::Not(inner) => walk(inner, source, defs, errors),
        Expr::And(parts) | Expr::Or(parts) => {
            for part in parts {
                walk(part, source, defs, errors);
            }
        }
        Expr::HasData { var, .. } => {
            defined(var, defs, errors);
        }
        Expr::Compare { var, op, value } => {
            let Some(kind) = defined(var, defs, errors) else { return };
            let name = var.node.as_str();
            let op_text = text(source, op.span);
            match (kind, &value.node) {
                (VarType::Text, _) if op.node.is_number_only() => errors.push(CheckError::new(
                    op.span,
                    format!("`{op_text}` compares numbers, but `{name}` is a text variable"),
                    "compare text with equals, does not equal, contains, begins with or ends with".to_owned(),
                )),
                (VarType::Text, Literal::Number(_)) => errors.push(CheckError::new(
                    value.span,
                    format!("`{name}` is a text variable; compare it with a quoted string"),
                    format!("write \"{}\"", text(source, value.span)),
                )),
                (VarType::Number, _) if op.node.is_text_only() => errors.push(CheckError::new(
                    op.span,
                    format!("`{op_text}` compares text, but `{name}` is a number variable"),
                    "compare numbers with equals, does not equal, >, >=, < or <=".to_owned(),
                )),
                (VarType::Number, Literal::Text(s)) => errors.push(CheckError::new(
                    value.span,
                    format!("`{name}` is a number variable; compare it with a number"),
                    match s.trim().parse::<f64>() {
                        Ok(n) if n.is_finite() => format!("remove the quotes: {}", s.trim()),
                        _ => "write a number, like 1000".to_owned(),
                    },
                )),
                _ => {}
            }
        }
        Expr::InList { var, list, .. } => {
            let Some(kind) = defined(var, defs, errors) else { return };
            let name = var.node.as_str();
            match (kind, &list.node) {
                (VarType::Text, List::Number(_)) => errors.push(CheckError::new(
                    list.span,
                    format!("`{name}` is a text variable, but this list holds numbers"),
                    "put each value in double quotes".to_owned(),
                )),
                (VarType::Number, List::Text(_)) => errors.push(CheckError::new(
                    list.span,
                    format!("`{name}` is a number variable, but this list holds text"),
                    "list numbers, without quotes".to_owned(),
                )),
                _ => {}
            }
        }
    }
}

fn text(source: &str, span: Span) -> &str {
    source.get(span.start..span.end).unwrap_or_default()
}

/// The type of `var`, or `None` after recording that the workstream does not define it.
fn defined(var: &Spanned<ContextVarName>, defs: &ContextDefs, errors: &mut Vec<CheckError>) -> Option<VarType> {
    let name = var.node.as_str();
    if let Some(kind) = defs.get(name) {
        return Some(kind);
    }
    let names = || defs.iter().map(|(n, _)| n.as_str());
    let help = if defs.is_empty() {
        "this workstream defines no context variables".to_owned()
    } else if let Some(same) = names().find(|n| n.eq_ignore_ascii_case(name)) {
        format!("did you mean `{same}`? variable names are case-sensitive")
    } else if let Some(near) = closest(name, names()) {
        format!("did you mean `{near}`?")
    } else {
        let listed: Vec<String> = names().take(LISTED_NAMES).map(|n| format!("`{n}`")).collect();
        let more = defs.len().saturating_sub(LISTED_NAMES);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!("the workstream defines {}{more}", listed.join(", "))
    };
    errors.push(CheckError::new(
        var.span,
        format!("`{name}` is not a context variable of this workstream"),
        help,
    ));
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextVarDef;

    fn defs() -> ContextDefs {
        ContextDefs::new(
            [
                ("BotHandoffTopic", VarType::Text),
                ("Tier", VarType::Text),
                ("Amount", VarType::Number),
            ]
            .map(|(name, kind)| ContextVarDef {
                name: ContextVarName::new(name).unwrap(),
                kind,
            }),
        )
    }

    fn errors(src: &str) -> Vec<CheckError> {
        check(&Condition::parse(src).unwrap(), &defs())
    }

    fn only_error(src: &str) -> CheckError {
        let mut errors = errors(src);
        assert_eq!(errors.len(), 1, "{src}: {errors:?}");
        errors.remove(0)
    }

    #[test]
    fn a_sound_condition_has_no_errors() {
        assert_eq!(
            errors(r#"Amount >= 1000 and (Tier in ["gold", "platinum"] or not BotHandoffTopic begins with "EU")"#),
            vec![]
        );
        assert_eq!(
            errors("Amount = 3 and Amount in [1, 2] and Tier does not contain data"),
            vec![]
        );
    }

    #[test]
    fn an_undefined_variable_is_reported_at_its_name_with_the_closest_defined_name() {
        let e = only_error(r#"Amount > 5 and BotHandofTopic equals "x""#);
        assert_eq!(e.span, Span::new(15, 29));
        assert_eq!(
            e.message,
            "`BotHandofTopic` is not a context variable of this workstream"
        );
        assert_eq!(e.help.as_deref(), Some("did you mean `BotHandoffTopic`?"));
    }

    #[test]
    fn a_variable_differing_only_in_case_is_undefined_and_the_help_says_why() {
        let e = only_error("bothandofftopic contains data");
        assert_eq!(
            e.help.as_deref(),
            Some("did you mean `BotHandoffTopic`? variable names are case-sensitive")
        );
    }

    #[test]
    fn an_unrelated_undefined_variable_lists_the_defined_names() {
        let e = only_error("Region contains data");
        assert_eq!(
            e.help.as_deref(),
            Some("the workstream defines `Amount`, `BotHandoffTopic`, `Tier`")
        );
        let none = check(
            &Condition::parse("Region contains data").unwrap(),
            &ContextDefs::default(),
        );
        assert_eq!(
            none[0].help.as_deref(),
            Some("this workstream defines no context variables")
        );
    }

    #[test]
    fn a_number_operator_on_a_text_variable_is_reported_at_the_operator() {
        let e = only_error("Tier >= 3");
        assert_eq!(e.span, Span::new(5, 7));
        assert_eq!(e.message, "`>=` compares numbers, but `Tier` is a text variable");
    }

    #[test]
    fn a_text_variable_compared_with_a_number_is_reported_at_the_number() {
        let e = only_error("Tier does not equal 5");
        assert_eq!(e.span, Span::new(20, 21));
        assert_eq!(e.message, "`Tier` is a text variable; compare it with a quoted string");
        assert_eq!(e.help.as_deref(), Some(r#"write "5""#));
    }

    #[test]
    fn a_text_operator_on_a_number_variable_is_reported_at_the_operator() {
        let e = only_error(r#"Amount begins with "1""#);
        assert_eq!(e.span, Span::new(7, 18));
        assert_eq!(
            e.message,
            "`begins with` compares text, but `Amount` is a number variable"
        );
    }

    #[test]
    fn a_number_variable_compared_with_text_is_reported_at_the_text() {
        let e = only_error(r#"Amount = "1000""#);
        assert_eq!(e.span, Span::new(9, 15));
        assert_eq!(e.message, "`Amount` is a number variable; compare it with a number");
        assert_eq!(e.help.as_deref(), Some("remove the quotes: 1000"));
    }

    #[test]
    fn a_list_of_the_wrong_type_is_reported_at_the_list() {
        let e = only_error("Tier in [1, 2]");
        assert_eq!(e.span, Span::new(8, 14));
        assert_eq!(
            only_error(r#"Amount not in ["1"]"#).message,
            "`Amount` is a number variable, but this list holds text"
        );
    }

    #[test]
    fn every_error_is_reported_in_source_order() {
        let errs = errors(r#"Nope = 1 or Tier > 1 or Amount contains "x" or not Tier in [1]"#);
        let starts: Vec<usize> = errs.iter().map(|e| e.span.start).collect();
        assert_eq!(starts, vec![0, 17, 31, 59]);
    }
}
