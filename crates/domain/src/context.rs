//! Context variables: typed, named values on a conversation that routing rules read.
//!
//! A workstream defines which variables exist and their type (`text` or `number`). Values come
//! from pre-chat data, the channel, bots on escalation and agents; every one of them is checked
//! against the workstream's definitions here, at the boundary, so routing never sees a value of
//! the wrong type. Limits are Omnichannel's: names up to 100 characters, matched case-sensitively;
//! values up to 4,000 characters.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Longest context-variable name, in characters.
pub const MAX_VAR_NAME_LEN: usize = 100;
/// Longest context-variable value, in characters.
pub const MAX_VALUE_LEN: usize = 4_000;

/// Why a context variable or value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContextError {
    #[error("context variable name: {0}")]
    Name(#[from] crate::names::NameError),
    #[error("the value of `{name}` is {len} characters long; at most {max} are allowed")]
    ValueTooLong { name: String, len: usize, max: usize },
    #[error("`{name}` is not a context variable of this workstream")]
    Undefined { name: String },
    #[error("`{name}` is a {expected} variable but got a {got} value")]
    WrongType {
        name: String,
        expected: VarType,
        got: VarType,
    },
    #[error("`{name}` must be a finite number")]
    NotFinite { name: String },
    #[error("`{name}` must be text or a number, not {got}")]
    Unsupported { name: String, got: &'static str },
}

string_enum! {
    /// The type of a context variable.
    VarType {
        Text => "text",
        Number => "number",
    }
}

/// The name of a context variable: case-sensitive, 1–100 characters.
///
/// Cloning is cheap (a reference count, no copy), as for the [names](crate::names) of
/// configured things.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ContextVarName(Arc<str>);

impl ContextVarName {
    /// Validates `s` as a context-variable name.
    pub fn new(s: impl Into<String>) -> Result<Self, ContextError> {
        let s = s.into();
        crate::names::validate_name(&s, MAX_VAR_NAME_LEN)?;
        Ok(Self(s.into()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContextVarName {
    type Error = ContextError;
    fn try_from(s: String) -> Result<Self, ContextError> {
        Self::new(s)
    }
}

impl From<ContextVarName> for String {
    fn from(n: ContextVarName) -> String {
        n.0.as_ref().to_owned()
    }
}

/// A plain string, written without copying the name first.
impl Serialize for ContextVarName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ContextVarName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContextVarName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A context variable as a workstream defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextVarDef {
    pub name: ContextVarName,
    #[serde(rename = "type")]
    pub kind: VarType,
}

/// A checked context value: text of at most 4,000 characters, or a finite number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    Number(f64),
    Text(String),
}

impl ContextValue {
    /// Checks a text value's length.
    pub fn text(name: &str, s: impl Into<String>) -> Result<Self, ContextError> {
        let s = s.into();
        let len = s.chars().count();
        if len > MAX_VALUE_LEN {
            return Err(ContextError::ValueTooLong {
                name: name.to_owned(),
                len,
                max: MAX_VALUE_LEN,
            });
        }
        Ok(ContextValue::Text(s))
    }

    /// Checks that a number is finite.
    pub fn number(name: &str, n: f64) -> Result<Self, ContextError> {
        if !n.is_finite() {
            return Err(ContextError::NotFinite { name: name.to_owned() });
        }
        Ok(ContextValue::Number(n))
    }

    /// The type of this value.
    pub fn kind(&self) -> VarType {
        match self {
            ContextValue::Number(_) => VarType::Number,
            ContextValue::Text(_) => VarType::Text,
        }
    }

    /// Whether the value "contains data": a non-empty text, or any number.
    pub fn has_data(&self) -> bool {
        match self {
            ContextValue::Text(s) => !s.is_empty(),
            ContextValue::Number(_) => true,
        }
    }
}

impl fmt::Display for ContextValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextValue::Number(n) => write!(f, "{n}"),
            ContextValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// The context variables a workstream defines, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContextDefs(BTreeMap<ContextVarName, VarType>);

impl ContextDefs {
    /// Builds the definitions; a later duplicate replaces an earlier one (configuration loading
    /// reports duplicates before it gets here).
    pub fn new(defs: impl IntoIterator<Item = ContextVarDef>) -> Self {
        Self(defs.into_iter().map(|d| (d.name, d.kind)).collect())
    }

    /// The type of `name`, if the workstream defines it.
    pub fn get(&self, name: &str) -> Option<VarType> {
        self.0.get(name).copied()
    }

    /// Every definition, ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = (&ContextVarName, VarType)> {
        self.0.iter().map(|(k, v)| (k, *v))
    }

    /// Number of definitions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no variable is defined.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Turns an untyped JSON-like value into a checked context value for `name`. Numbers given
    /// as text for a number variable (e.g. from a pre-chat form) are parsed; numbers given to a
    /// text variable are kept as their decimal text, as a bot SDK sending `{"IDNumber": 101}`
    /// to a text variable would expect.
    pub fn check(&self, name: &str, raw: RawValue<'_>) -> Result<(ContextVarName, ContextValue), ContextError> {
        let var = ContextVarName::new(name)?;
        let Some(kind) = self.get(name) else {
            return Err(ContextError::Undefined { name: name.to_owned() });
        };
        let value = match (kind, raw) {
            (VarType::Text, RawValue::Text(s)) => ContextValue::text(name, s)?,
            (VarType::Text, RawValue::Number(n)) => ContextValue::text(name, format_number(n))?,
            (VarType::Number, RawValue::Number(n)) => ContextValue::number(name, n)?,
            (VarType::Number, RawValue::Text(s)) => match s.trim().parse::<f64>() {
                Ok(n) => ContextValue::number(name, n)?,
                Err(_) => {
                    return Err(ContextError::WrongType {
                        name: name.to_owned(),
                        expected: VarType::Number,
                        got: VarType::Text,
                    });
                }
            },
            (_, RawValue::Other(got)) => {
                return Err(ContextError::Unsupported {
                    name: name.to_owned(),
                    got,
                });
            }
        };
        Ok((var, value))
    }
}

/// An unchecked value as it arrives from outside (JSON, a form, a bot's escalation context).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue<'a> {
    Text(&'a str),
    Number(f64),
    /// Anything else (booleans, lists, objects, null), named for the error message.
    Other(&'static str),
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A conversation's context: checked values by variable name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Context(BTreeMap<ContextVarName, ContextValue>);

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&ContextValue> {
        self.0.get(name)
    }

    /// Sets (or replaces) a value.
    pub fn set(&mut self, name: ContextVarName, value: ContextValue) {
        self.0.insert(name, value);
    }

    /// Merges `other` into `self`; `other`'s values win (escalation context overrides).
    pub fn merge(&mut self, other: Context) {
        self.0.extend(other.0);
    }

    /// Every value, ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = (&ContextVarName, &ContextValue)> {
        self.0.iter()
    }

    /// Number of values set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> ContextDefs {
        ContextDefs::new([
            ContextVarDef {
                name: ContextVarName::new("BotHandoffTopic").unwrap(),
                kind: VarType::Text,
            },
            ContextVarDef {
                name: ContextVarName::new("IDNumber").unwrap(),
                kind: VarType::Number,
            },
        ])
    }

    #[test]
    fn values_are_checked_against_the_workstream_definitions() {
        let d = defs();
        assert_eq!(
            d.check("BotHandoffTopic", RawValue::Text("CreditCard")).unwrap().1,
            ContextValue::Text("CreditCard".into())
        );
        assert_eq!(
            d.check("IDNumber", RawValue::Number(101.0)).unwrap().1,
            ContextValue::Number(101.0)
        );
        assert_eq!(
            d.check("IDNumber", RawValue::Text(" 42 ")).unwrap().1,
            ContextValue::Number(42.0)
        );
        assert_eq!(
            d.check("BotHandoffTopic", RawValue::Number(7.0)).unwrap().1,
            ContextValue::Text("7".into())
        );
        assert!(matches!(
            d.check("bothandofftopic", RawValue::Text("x")),
            Err(ContextError::Undefined { .. })
        ));
        assert!(matches!(
            d.check("IDNumber", RawValue::Text("abc")),
            Err(ContextError::WrongType { .. })
        ));
        assert!(matches!(
            d.check("IDNumber", RawValue::Number(f64::NAN)),
            Err(ContextError::NotFinite { .. })
        ));
        assert!(matches!(
            d.check("IDNumber", RawValue::Other("boolean")),
            Err(ContextError::Unsupported { .. })
        ));
    }

    #[test]
    fn values_longer_than_4000_characters_are_refused() {
        let d = defs();
        assert!(d.check("BotHandoffTopic", RawValue::Text(&"é".repeat(4_000))).is_ok());
        assert!(matches!(
            d.check("BotHandoffTopic", RawValue::Text(&"a".repeat(4_001))),
            Err(ContextError::ValueTooLong { len: 4_001, .. })
        ));
    }

    #[test]
    fn empty_text_does_not_contain_data() {
        assert!(!ContextValue::Text(String::new()).has_data());
        assert!(ContextValue::Text("x".into()).has_data());
        assert!(ContextValue::Number(0.0).has_data());
    }
}
