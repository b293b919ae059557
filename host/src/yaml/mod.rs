//! Positioned YAML: a tree that remembers where each node came from, so
//! that every problem can be reported as `file:line:col`, and the one
//! [`reader::Reader`] that pipelines (`pipeline/model.rs`) and policies
//! (`policy/read.rs`) read it with.
//!
//! Built from `saphyr-parser`'s event stream with hard limits, checked as the
//! events arrive: a YAML bomb is refused before it costs anything. Anchors
//! and aliases are refused outright — pipelines do not need them, and alias
//! expansion is what YAML bombs are made of.

pub mod diagnostic;
pub mod reader;

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A position in a source file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A name as written in the file, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` is false for quoted scalars (never a bool or number).
    Scalar { text: String, plain: bool },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

impl Node {
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { text, plain } => scalar_kind(text, *plain),
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

fn scalar_kind(text: &str, plain: bool) -> &'static str {
    if !plain {
        return "a string";
    }
    match text {
        "true" | "false" | "True" | "False" | "TRUE" | "FALSE" => "a boolean",
        "" | "~" | "null" | "Null" | "NULL" => "null",
        t if t.parse::<i64>().is_ok() || t.parse::<f64>().is_ok() => "a number",
        _ => "a string",
    }
}

/// Limits on what a pipeline file may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 16 << 20, max_depth: 64, max_nodes: 2_000_000 }
    }
}

/// Why a file is not a YAML tree we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>),
}

/// Parse the first document of `text`. An empty document is `None`.
pub fn parse(text: &str, limits: Limits) -> Result<Option<Node>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError {
            pos: Pos { line: 1, col: 1 },
            message: format!("the file is {} bytes; pipelines are limited to {} bytes", text.len(), limits.max_bytes),
        });
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError {
            pos: Pos { line: e.marker().line(), col: e.marker().col() + 1 },
            message: match e.info() {
                "recursion limit exceeded" => "invalid YAML: nesting too deep (recursion limit exceeded)".into(),
                info => format!("invalid YAML: {info}"),
            },
        })?;
        let pos = Pos { line: span.start.line(), col: span.start.col() + 1 };
        let refuse = |message: String| Err(YamlError { pos, message });
        let complete = match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => continue,
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::Alias(_) => return refuse("aliases (`*name`) are not supported in pipelines".into()),
            Event::Scalar(text, style, anchor, _) => {
                if anchor != 0 {
                    return refuse("anchors (`&name`) are not supported in pipelines".into());
                }
                Node {
                    value: Value::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain },
                    pos,
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if anchor != 0 {
                    return refuse("anchors (`&name`) are not supported in pipelines".into());
                }
                if stack.len() >= limits.max_depth {
                    return refuse(format!("nesting deeper than {} levels", limits.max_depth));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(pos, Vec::new())
                } else {
                    Frame::Map(pos, Vec::new(), None)
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(p, items)) => Node { value: Value::Seq(items), pos: p },
                _ => return refuse("unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, entries, _)) => Node { value: Value::Map(entries), pos: p },
                _ => return refuse("unbalanced mapping".into()),
            },
        };
        nodes += 1;
        if nodes > limits.max_nodes {
            return refuse(format!("more than {} YAML nodes", limits.max_nodes));
        }
        match stack.last_mut() {
            None => {
                root = Some(complete);
                break;
            }
            Some(Frame::Seq(_, items)) => items.push(complete),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => *pending = Some(complete),
                Some(key) => entries.push((key, complete)),
            },
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let root = parse("a:\n  b: [1, \"x\"]\n", Limits::default()).unwrap().unwrap();
        let Value::Map(entries) = &root.value else { panic!() };
        let (_, b) = &entries[0];
        let Value::Map(inner) = &b.value else { panic!() };
        assert_eq!(inner[0].0.pos, Pos { line: 2, col: 3 });
        let Value::Seq(items) = &inner[0].1.value else { panic!() };
        assert_eq!(items[0].kind(), "a number");
        assert_eq!(items[1].kind(), "a string");
    }

    #[test]
    fn bombs_are_refused() {
        let billion_laughs = "a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a]\nc: [*b,*b]\n";
        let e = parse(billion_laughs, Limits::default()).unwrap_err();
        assert_eq!(e.message, "anchors (`&name`) are not supported in pipelines");
        let deep = "[".repeat(100) + &"]".repeat(100);
        let e = parse(&deep, Limits::default()).unwrap_err();
        assert_eq!(e.message, "nesting deeper than 64 levels");
        let e = parse("x: 1\n", Limits { max_bytes: 2, ..Limits::default() }).unwrap_err();
        assert!(e.message.starts_with("the file is 5 bytes"));
    }
}
