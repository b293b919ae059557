//! Reading a positioned YAML tree into typed values, recording every
//! problem at the node at fault and going on: callers report all of them
//! at once.
//!
//! One reader serves pipelines and policies. Their messages are worded
//! differently — both are pinned by tests and matched by scripts — so the
//! reader takes a [`Wording`]: pipeline messages name the field
//! (`` `rbac` must be a list of names``), policy messages lead with the
//! dotted path to the value (`plugins.x.quotas.fuel: must be …`).

use std::fmt::Display;

use super::diagnostic::{Diagnostics, closest, did_you_mean};
use super::{Named, Node, Pos, Value};

/// How messages name the value they are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// `` `field` must be … ``; unknown keys are "unknown key `k` in <what>".
    Field,
    /// `path: must be …` (the message alone at the top of the document);
    /// unknown keys are "unknown field `k`; fields are …", null mappings
    /// and lists read as empty.
    Path,
}

/// `path: message`, or the message alone at the top of the document.
pub fn at_path(path: &str, message: impl Display) -> String {
    if path.is_empty() { message.to_string() } else { format!("{path}: {message}") }
}

/// Reads nodes into values; every problem goes to `diags`.
pub struct Reader<'a> {
    pub file: &'a str,
    pub diags: &'a mut Diagnostics,
    pub wording: Wording,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str, diags: &'a mut Diagnostics, wording: Wording) -> Self {
        Reader { file, diags, wording }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(self.file, pos, message);
    }

    /// `message` about the value at `field`, in this reader's wording.
    pub fn at(&self, field: &str, message: impl Display) -> String {
        match self.wording {
            Wording::Field => format!("`{field}`: {message}"),
            Wording::Path => at_path(field, message),
        }
    }

    pub fn wrong_type(&mut self, node: &Node, field: &str, expected: &str) {
        let message = match self.wording {
            Wording::Field => format!("`{field}` must be {expected}, found {}", node.kind()),
            Wording::Path => self.at(field, format!("must be {expected}, found {}", node.kind())),
        };
        self.error(node.pos, message);
    }

    /// The entries of a mapping whose keys must be among `allowed`; `what`
    /// names the mapping (a field or a path).
    pub fn fields<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&'n str]) -> Vec<(&'n str, &'n Node)> {
        self.read_fields(node, what, allowed, false)
    }

    /// [`Self::fields`], and an unknown key that is a near miss of an
    /// allowed one not written in the mapping (`agnet:` for `agent:`) is
    /// reported and then read as the key it misspells: what follows is
    /// checked as meant, and no follow-on problem ("no agent") is reported
    /// for the misspelling. The document is refused all the same.
    pub fn fields_recovering<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&'n str]) -> Vec<(&'n str, &'n Node)> {
        self.read_fields(node, what, allowed, true)
    }

    fn read_fields<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&'n str], recover: bool) -> Vec<(&'n str, &'n Node)> {
        let entries = self.mapping(node, what);
        let written: Vec<&str> = entries.iter().map(|(_, name, _)| *name).collect();
        let mut out: Vec<(&str, &Node)> = Vec::new();
        for (key, name, value) in entries {
            if !allowed.contains(&name) {
                let meant = closest(name, allowed.iter().copied());
                let hint = did_you_mean(name, allowed.iter().copied());
                let message = match self.wording {
                    Wording::Field => format!("unknown key `{name}` in {what}{hint}"),
                    Wording::Path => self.at(what, format!("unknown field `{name}`{hint}; fields are {}", allowed.join(", "))),
                };
                self.error(key.pos, message);
                match meant {
                    Some(meant) if recover && !written.contains(&meant) && !out.iter().any(|(k, _)| *k == meant) => {
                        out.push((meant, value))
                    }
                    _ => {}
                }
                continue;
            }
            out.push((name, value));
        }
        out
    }

    /// The entries of a mapping with free keys (names of principals,
    /// plugins, agents), without duplicates: each with its key node.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(&'n Node, &'n str, &'n Node)> {
        let Value::Map(entries) = &node.value else {
            if !(self.wording == Wording::Path && node.kind() == "null") {
                self.wrong_type(node, what, "a mapping");
            }
            return Vec::new();
        };
        let mut out: Vec<(&Node, &str, &Node)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                let message = match self.wording {
                    Wording::Field => format!("keys of `{what}` must be strings"),
                    Wording::Path => self.at(what, "keys must be names, not lists or mappings"),
                };
                self.error(k.pos, message);
                continue;
            };
            if let Some((first, _, _)) = out.iter().find(|(_, seen, _)| *seen == name) {
                let message = match self.wording {
                    Wording::Field => format!("duplicate key `{name}` in {what}"),
                    Wording::Path => self.at(what, format!("duplicate key `{name}` (first at {})", first.pos)),
                };
                self.error(k.pos, message);
                continue;
            }
            out.push((k, name, v));
        }
        out
    }

    pub fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if node.kind() == "a string" => Some(text.clone()),
            _ => {
                self.wrong_type(node, field, "a string");
                None
            }
        }
    }

    pub fn named(&mut self, node: &Node, field: &str) -> Option<Named> {
        self.string(node, field).map(|name| Named { name, pos: node.pos })
    }

    /// A list of strings, each with its position. In [`Wording::Path`] each
    /// item is named `path[i]` and a null value is an empty list.
    pub fn names(&mut self, node: &Node, field: &str) -> Vec<Named> {
        match (&node.value, self.wording) {
            (Value::Seq(items), Wording::Field) => items.iter().filter_map(|n| self.named(n, field)).collect(),
            (Value::Seq(items), Wording::Path) => {
                items.iter().enumerate().filter_map(|(i, n)| self.named(n, &format!("{field}[{i}]"))).collect()
            }
            (_, Wording::Path) if node.kind() == "null" => Vec::new(),
            (_, Wording::Field) => {
                self.wrong_type(node, field, "a list of names");
                Vec::new()
            }
            (_, Wording::Path) => {
                self.wrong_type(node, field, "a list of strings");
                Vec::new()
            }
        }
    }

    pub fn strings(&mut self, node: &Node, field: &str) -> Vec<String> {
        self.names(node, field).into_iter().map(|n| n.name).collect()
    }

    pub fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        match node.as_str() {
            Some(t) if node.kind() == "a boolean" => Some(t.eq_ignore_ascii_case("true")),
            _ => {
                self.wrong_type(node, field, "true or false");
                None
            }
        }
    }

    /// A small count (retries, failures) written as a plain number.
    pub fn count(&mut self, node: &Node, field: &str) -> Option<u32> {
        match node.as_str().filter(|_| node.kind() == "a number").and_then(|t| t.parse::<u32>().ok()) {
            Some(n) => Some(n),
            None => {
                self.wrong_type(node, field, "a whole number");
                None
            }
        }
    }

    /// A whole number; `2_000_000_000` is allowed, as quotas are written.
    pub fn whole(&mut self, node: &Node, field: &str) -> Option<u64> {
        let n = match &node.value {
            Value::Scalar { text, plain: true } => text.replace('_', "").parse::<u64>().ok(),
            _ => None,
        };
        if n.is_none() {
            self.wrong_type(node, field, "a whole number");
        }
        n
    }
}
