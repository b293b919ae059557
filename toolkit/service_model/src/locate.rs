//! Where a JSON pointer sits in a YAML or JSON text: findings name
//! `file` + `line:col (pointer)`, not just a pointer.
//!
//! Built from `saphyr-parser` events (JSON is YAML, so one index serves
//! both). A map entry's position is its key's; a list item's is the item's.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser};

/// Nodes indexed at most; past this, lookups fall back to ancestors.
const MAX_NODES: usize = 500_000;

#[derive(Debug, Default, Clone)]
pub struct Locations {
    at: BTreeMap<String, (usize, usize)>,
}

enum Frame {
    Map { ptr: String, key: Option<String> },
    Seq { ptr: String, next: usize },
}

/// Escape one pointer token (RFC 6901).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Index every node of `text` (a parse error stops the index where it is).
pub fn index(text: &str) -> Locations {
    let mut loc = Locations::default();
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        if loc.at.len() > MAX_NODES {
            break;
        }
        let pos = (span.start.line(), span.start.col() + 1);
        match event {
            Event::Scalar(text, ..) => match stack.last_mut() {
                None => {
                    loc.at.entry(String::new()).or_insert(pos);
                }
                Some(Frame::Map { ptr, key }) => {
                    if key.is_none() {
                        loc.at.insert(format!("{ptr}/{}", escape(&text)), pos);
                        *key = Some(text.into_owned());
                    } else {
                        *key = None;
                    }
                }
                Some(Frame::Seq { ptr, next }) => {
                    loc.at.insert(format!("{ptr}/{next}"), pos);
                    *next += 1;
                }
            },
            Event::Alias(_) => match stack.last_mut() {
                Some(Frame::Map { key, .. }) => {
                    *key = if key.is_none() { Some(String::new()) } else { None };
                }
                Some(Frame::Seq { next, .. }) => *next += 1,
                None => {}
            },
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let ptr = match stack.last_mut() {
                    None => {
                        loc.at.entry(String::new()).or_insert(pos);
                        String::new()
                    }
                    Some(Frame::Map { ptr, key }) => match key.take() {
                        Some(k) => format!("{ptr}/{}", escape(&k)),
                        None => {
                            // A complex key: index nothing below it.
                            *key = Some(String::new());
                            "\u{0}".to_string()
                        }
                    },
                    Some(Frame::Seq { ptr, next }) => {
                        let p = format!("{ptr}/{next}");
                        loc.at.insert(p.clone(), pos);
                        *next += 1;
                        p
                    }
                };
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq { ptr, next: 0 }
                } else {
                    Frame::Map { ptr, key: None }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    loc.at.retain(|k, _| !k.contains('\u{0}'));
    loc
}

impl Locations {
    /// `(line, column)` of `pointer`, or of its nearest indexed ancestor.
    pub fn at(&self, pointer: &str) -> Option<(usize, usize)> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.at.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// `12:5 (/paths/~1x/post)`, or the pointer alone when nothing is known.
    pub fn describe(&self, pointer: &str) -> String {
        let shown = if pointer.is_empty() { "/" } else { pointer };
        match self.at(pointer) {
            Some((line, col)) => format!("{line}:{col} ({shown})"),
            None => shown.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_positions() {
        let yaml = "openapi: 3.1.0\npaths:\n  /a/b:\n    post:\n      tags: [x, y]\n      security:\n      - bearer: []\n";
        let l = index(yaml);
        assert_eq!(l.at("/openapi"), Some((1, 1)));
        assert_eq!(l.at("/paths/~1a~1b/post"), Some((4, 5)));
        assert_eq!(l.at("/paths/~1a~1b/post/tags/1"), Some((5, 17)));
        assert_eq!(l.at("/paths/~1a~1b/post/security/0/bearer"), Some((7, 9)));
        assert_eq!(l.describe("/paths/~1a~1b/post/responses"), "4:5 (/paths/~1a~1b/post/responses)");
        let json = "{\n  \"a\": {\"b\": [1, {\"c\": 2}]}\n}";
        let l = index(json);
        assert_eq!(l.at("/a/b/1/c"), Some((2, 19)));
        assert_eq!(l.describe(""), "1:1 (/)");
    }
}
