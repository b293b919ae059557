//! Ordered documents: a JSON/YAML tree whose maps keep insertion order, so a
//! generated `openapi.yaml` reads `openapi`, `info`, `paths`, `components` in
//! that order (`serde_json::Map` sorts its keys). Serialises through serde to
//! JSON (`serde_json`) and YAML (`serde_yaml_ng`) alike.
//!
//! Build with the [`doc!`](crate::doc!) macro, a small `json!`: keys are
//! string literals or parenthesised expressions, values are literals,
//! identifiers, nested `{}`/`[]`, or parenthesised expressions.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Doc>),
    Map(Vec<(String, Doc)>),
}

impl Doc {
    pub fn map() -> Doc {
        Doc::Map(Vec::new())
    }

    /// Append `key: value` to a map (no-op on other kinds).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Doc>) {
        if let Doc::Map(entries) = self {
            entries.push((key.into(), value.into()));
        }
    }

    /// `insert` by value, for chaining.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Doc>) -> Doc {
        self.insert(key, value);
        self
    }

    /// Append to a sequence (no-op on other kinds).
    pub fn push(&mut self, value: impl Into<Doc>) {
        if let Doc::Seq(items) = self {
            items.push(value.into());
        }
    }

    pub fn get(&self, key: &str) -> Option<&Doc> {
        match self {
            Doc::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// From a `serde_json::Value` (its maps come sorted).
    pub fn from_json(v: &Value) -> Doc {
        match v {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Doc::Int(i),
                None => Doc::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Doc::Str(s.clone()),
            Value::Array(a) => Doc::Seq(a.iter().map(Doc::from_json).collect()),
            Value::Object(o) => Doc::Map(o.iter().map(|(k, v)| (k.clone(), Doc::from_json(v))).collect()),
        }
    }

    /// To a `serde_json::Value` (order is lost).
    pub fn to_json(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Int(i) => Value::from(*i),
            Doc::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
            Doc::Str(s) => Value::String(s.clone()),
            Doc::Seq(items) => Value::Array(items.iter().map(Doc::to_json).collect()),
            Doc::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "null".to_string());
        s.push('\n');
        s
    }

    /// YAML (block style) with a trailing newline. Strings are plain only
    /// when no YAML 1.1 or 1.2 reader could take them for anything else
    /// (`3.1.0`, `2025-09-13T10:15:00Z`, `yes`, `#/x` are quoted).
    pub fn to_yaml_text(&self) -> String {
        let mut out = String::new();
        match self {
            Doc::Map(entries) if !entries.is_empty() => yaml_map(entries, 0, &mut out),
            Doc::Seq(items) if !items.is_empty() => yaml_seq(items, 0, &mut out),
            scalar => {
                out.push_str(&yaml_inline(scalar));
                out.push('\n');
            }
        }
        out
    }

    /// From a JSON value, object keys listed in `order` first (in that
    /// order), the rest after them sorted: examples read like their schema.
    pub fn from_json_ordered(v: &Value, order: &[String]) -> Doc {
        match v {
            Value::Array(a) => Doc::Seq(a.iter().map(|x| Doc::from_json_ordered(x, order)).collect()),
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort_by_key(|k| (order.iter().position(|x| x == *k).unwrap_or(usize::MAX), (*k).clone()));
                Doc::Map(keys.into_iter().map(|k| (k.clone(), Doc::from_json_ordered(&o[k], order))).collect())
            }
            other => Doc::from_json(other),
        }
    }
}

fn yaml_inline(d: &Doc) -> String {
    match d {
        Doc::Null => "null".into(),
        Doc::Bool(b) => b.to_string(),
        Doc::Int(i) => i.to_string(),
        Doc::Float(f) if f.is_finite() => {
            let s = f.to_string();
            if s.contains('.') || s.contains('e') { s } else { format!("{s}.0") }
        }
        Doc::Float(f) if f.is_nan() => ".nan".into(),
        Doc::Float(f) => (if *f > 0.0 { ".inf" } else { "-.inf" }).into(),
        Doc::Str(s) => yaml_string(s),
        Doc::Seq(_) => "[]".into(),
        Doc::Map(_) => "{}".into(),
    }
}

/// Words YAML 1.1 readers (PyYAML) turn into booleans or null.
const YAML_WORDS: [&str; 11] = ["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "none"];

/// A string scalar: plain when unambiguous, else single- or double-quoted.
pub fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/' || c == '$')
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || " _./$-{}()`,;=+*<>!?@%&^|~[]:".contains(c))
        && !s.contains(['[', ']', '{', '}']) || is_path_template(s);
    if plain && !YAML_WORDS.contains(&s.to_ascii_lowercase().as_str()) {
        return s.to_string();
    }
    if !s.contains(['\'', '\n', '\r', '\t', '\\']) && s.chars().all(|c| !c.is_control()) {
        return format!("'{s}'");
    }
    serde_json::to_string(s).unwrap_or_else(|_| "''".to_string())
}

/// `/api/v1/projects/{project_id}`: braces inside a path are plain-safe.
fn is_path_template(s: &str) -> bool {
    s.starts_with('/') && s.chars().all(|c| c.is_ascii_alphanumeric() || "/_-.{}".contains(c))
}

fn yaml_key(k: &str) -> String {
    yaml_string(k)
}

fn yaml_map(entries: &[(String, Doc)], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in entries {
        out.push_str(&pad);
        out.push_str(&yaml_key(k));
        out.push(':');
        yaml_value(v, indent, out);
    }
}

fn yaml_seq(items: &[Doc], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        out.push_str(&pad);
        out.push('-');
        match item {
            Doc::Map(entries) if !entries.is_empty() => {
                // `- key: value` then the other keys under the first.
                let mut first = String::new();
                yaml_map(&entries[..1], indent + 2, &mut first);
                out.push(' ');
                out.push_str(first.trim_start());
                yaml_map(&entries[1..], indent + 2, out);
            }
            Doc::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_seq(inner, indent + 2, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn yaml_value(v: &Doc, indent: usize, out: &mut String) {
    match v {
        Doc::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            yaml_map(entries, indent + 2, out);
        }
        Doc::Seq(items) if !items.is_empty() => {
            out.push('\n');
            yaml_seq(items, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_inline(scalar));
            out.push('\n');
        }
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Null => s.serialize_unit(),
            Doc::Bool(b) => s.serialize_bool(*b),
            Doc::Int(i) => s.serialize_i64(*i),
            Doc::Float(f) => s.serialize_f64(*f),
            Doc::Str(v) => s.serialize_str(v),
            Doc::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Doc::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl From<&str> for Doc {
    fn from(s: &str) -> Doc {
        Doc::Str(s.to_string())
    }
}
impl From<String> for Doc {
    fn from(s: String) -> Doc {
        Doc::Str(s)
    }
}
impl From<&String> for Doc {
    fn from(s: &String) -> Doc {
        Doc::Str(s.clone())
    }
}
impl From<bool> for Doc {
    fn from(b: bool) -> Doc {
        Doc::Bool(b)
    }
}
impl From<i64> for Doc {
    fn from(i: i64) -> Doc {
        Doc::Int(i)
    }
}
impl From<i32> for Doc {
    fn from(i: i32) -> Doc {
        Doc::Int(i64::from(i))
    }
}
impl From<u32> for Doc {
    fn from(i: u32) -> Doc {
        Doc::Int(i64::from(i))
    }
}
impl From<u16> for Doc {
    fn from(i: u16) -> Doc {
        Doc::Int(i64::from(i))
    }
}
impl From<usize> for Doc {
    fn from(i: usize) -> Doc {
        Doc::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Doc {
    fn from(f: f64) -> Doc {
        Doc::Float(f)
    }
}
impl From<Vec<Doc>> for Doc {
    fn from(v: Vec<Doc>) -> Doc {
        Doc::Seq(v)
    }
}
impl From<Vec<String>> for Doc {
    fn from(v: Vec<String>) -> Doc {
        Doc::Seq(v.into_iter().map(Doc::Str).collect())
    }
}
impl From<&Value> for Doc {
    fn from(v: &Value) -> Doc {
        Doc::from_json(v)
    }
}
impl From<Value> for Doc {
    fn from(v: Value) -> Doc {
        Doc::from_json(&v)
    }
}
impl<T: Into<Doc>> From<Option<T>> for Doc {
    fn from(v: Option<T>) -> Doc {
        v.map(Into::into).unwrap_or(Doc::Null)
    }
}

/// Build a [`Doc`]: `doc!({ "a": 1, "b": [true, (x)], (key): { "c": null } })`.
#[macro_export]
macro_rules! doc {
    (null) => { $crate::doc::Doc::Null };
    ({ $($k:tt : $v:tt),* $(,)? }) => {
        $crate::doc::Doc::Map(vec![$(({
            #[allow(unused_parens)]
            let k = $k;
            $crate::doc::key(k)
        }, $crate::doc!($v))),*])
    };
    ([ $($v:tt),* $(,)? ]) => { $crate::doc::Doc::Seq(vec![$($crate::doc!($v)),*]) };
    ($e:expr) => { $crate::doc::Doc::from($e) };
}

/// A map key from a literal or an expression.
pub fn key(k: impl AsRef<str>) -> String {
    k.as_ref().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_in_yaml_and_json() {
        let name = "x";
        let d = crate::doc!({
            "openapi": "3.1.0",
            "info": { "title": "T", "version": "1" },
            (format!("/{name}")): [1, true, null, (2.5)],
            "200": "quoted key"
        });
        assert_eq!(
            d.to_yaml_text(),
            "openapi: '3.1.0'\ninfo:\n  title: T\n  version: '1'\n/x:\n- 1\n- true\n- null\n- 2.5\n'200': quoted key\n"
        );
        let back: Value = serde_yaml_ng::from_str(&d.to_yaml_text()).unwrap();
        assert_eq!(back, d.to_json());
        assert!(d.to_json_text().starts_with("{\n  \"openapi\": \"3.1.0\",\n  \"info\""));
    }

    #[test]
    fn yaml_quotes_whatever_a_reader_could_misread() {
        for (s, want) in [
            ("plain text", "plain text"),
            ("/api/v1/projects/{project_id}", "/api/v1/projects/{project_id}"),
            ("$ref", "$ref"),
            ("2025-09-13T10:15:00Z", "'2025-09-13T10:15:00Z'"),
            ("yes", "'yes'"),
            ("No", "'No'"),
            ("#/components/schemas/X", "'#/components/schemas/X'"),
            ("a: b", "'a: b'"),
            ("{x}", "'{x}'"),
            ("rate(x{operation=\"a\"}[5m])", "'rate(x{operation=\"a\"}[5m])'"),
            ("it's\nmulti", "\"it's\\nmulti\""),
            ("", "''"),
        ] {
            assert_eq!(yaml_string(s), want, "{s}");
        }
        let d = crate::doc!({
            "a": [{ "b": 1, "c": [ "x", { "d": null } ] }, [1, 2], {}],
            "e": {},
            "f": [],
            "g": { "h": "2025-09-13T10:15:00Z" }
        });
        let text = d.to_yaml_text();
        assert_eq!(
            text,
            "a:\n- b: 1\n  c:\n  - x\n  - d: null\n-\n  - 1\n  - 2\n- {}\ne: {}\nf: []\ng:\n  h: '2025-09-13T10:15:00Z'\n"
        );
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, d.to_json());
    }
}
