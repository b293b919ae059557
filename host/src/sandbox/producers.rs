//! Who made a component: its `producers` custom sections (the component's
//! own and every nested module's), read without compiling, and the toolchain
//! they name — Rust (`rustc`, `wit-bindgen`), Python (`componentize-py`) or
//! JavaScript (`ComponentizeJS`/StarlingMonkey). Operators see it in
//! `taylordash plugins inspect`; `plugins list` warns when a runtime-carrying
//! component will be slow to compile the first time.

use std::collections::BTreeSet;

use serde::Serialize;
use wasmparser::{KnownCustom, Parser, Payload};

/// One `producers` entry: `field` is `language`, `processed-by` or `sdk`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Producer {
    pub field: String,
    pub name: String,
    pub version: String,
}

/// Every producer named anywhere in the component, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Producers {
    pub entries: Vec<Producer>,
}

impl Producers {
    /// Read `bytes`; a malformed section is skipped (the world check and the
    /// compiler judge the code; this is information only).
    pub fn read(bytes: &[u8]) -> Producers {
        let mut seen = BTreeSet::new();
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(Payload::CustomSection(section)) = payload else {
                if payload.is_err() {
                    break;
                }
                continue;
            };
            let KnownCustom::Producers(reader) = section.as_known() else { continue };
            for field in reader.into_iter().flatten() {
                for value in field.values.into_iter().flatten() {
                    seen.insert(Producer {
                        field: field.name.to_string(),
                        name: value.name.to_string(),
                        version: value.version.to_string(),
                    });
                }
            }
        }
        Producers { entries: seen.into_iter().collect() }
    }

    fn find(&self, name: &str) -> Option<&Producer> {
        self.entries.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The source language and the tool that made the component, e.g.
    /// `python (componentize-py 0.25.1)`; `unknown` when nothing says.
    pub fn toolchain(&self) -> Toolchain {
        // A Python or JS component also carries the Rust and C of its
        // runtime: the componentizer decides the language, not `language`.
        if let Some(p) = self.find("componentize-py") {
            return Toolchain { language: "python", tool: format!("componentize-py {}", p.version) };
        }
        if let Some(p) = self.find("ComponentizeJS").or_else(|| self.find("componentize-js")) {
            return Toolchain { language: "javascript", tool: format!("componentize-js {}", p.version) };
        }
        // A stripped Rust component keeps only wit-component's entries: the
        // bindings generator still names the language.
        let rust = self.entries.iter().find(|p| p.field == "processed-by" && p.name == "rustc")
            .or_else(|| self.find("wit-bindgen-rust"));
        if let Some(p) = rust {
            return Toolchain { language: "rust", tool: format!("{} {}", p.name, p.version) };
        }
        let language = self.entries.iter().find(|p| p.field == "language");
        let tool = self.entries.iter().find(|p| p.field == "processed-by");
        Toolchain {
            language: language.map_or("unknown", |l| known_language(&l.name)),
            tool: tool.map(|t| format!("{} {}", t.name, t.version)).unwrap_or_default(),
        }
    }
}

/// The common source languages as static names; anything else is `other`.
fn known_language(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "rust" => "rust",
        "c" | "c11" | "c99" | "c17" => "c",
        "c++" | "c_plus_plus" | "cpp" => "c++",
        "go" | "tinygo" => "go",
        "python" => "python",
        "javascript" | "js" => "javascript",
        _ => "other",
    }
}

/// What [`Producers::toolchain`] concludes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toolchain {
    pub language: &'static str,
    /// The producing tool and its version (empty when unknown).
    pub tool: String,
}

impl std::fmt::Display for Toolchain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tool.is_empty() { f.write_str(self.language) } else { write!(f, "{} ({})", self.language, self.tool) }
    }
}

/// Above this size a component carries a language runtime (CPython,
/// SpiderMonkey) and its first compile takes seconds to tens of seconds.
pub const SLOW_COMPILE_BYTES: u64 = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{Module, ProducersField, ProducersSection};

    fn module_with(fields: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
        let mut section = ProducersSection::new();
        for (name, values) in fields {
            let mut field = ProducersField::new();
            for (n, v) in *values {
                field.value(n, v);
            }
            section.field(name, &field);
        }
        let mut module = Module::new();
        module.section(&section);
        module.finish()
    }

    #[test]
    fn names_the_toolchain_from_the_sections() {
        let rust = module_with(&[("language", &[("Rust", "")]), ("processed-by", &[("rustc", "1.95.0"), ("wit-component", "0.240")])]);
        assert_eq!(Producers::read(&rust).toolchain().to_string(), "rust (rustc 1.95.0)");
        let stripped = module_with(&[("processed-by", &[("wit-bindgen-rust", "0.45.0"), ("wit-component", "0.244.0")])]);
        assert_eq!(Producers::read(&stripped).toolchain().to_string(), "rust (wit-bindgen-rust 0.45.0)");
        let py = module_with(&[("language", &[("Rust", ""), ("Python", "3.11")]), ("processed-by", &[("rustc", "1.75.0"), ("componentize-py", "0.25.1")])]);
        assert_eq!(Producers::read(&py).toolchain().to_string(), "python (componentize-py 0.25.1)");
        let js = module_with(&[("processed-by", &[("ComponentizeJS", "0.23.0")])]);
        assert_eq!(Producers::read(&js).toolchain().to_string(), "javascript (componentize-js 0.23.0)");
        assert_eq!(Producers::read(&module_with(&[])).toolchain().to_string(), "unknown");
    }

    #[test]
    fn garbage_reads_as_nothing() {
        assert_eq!(Producers::read(b"\0asm\x0d\0\x01\0\xff\xff"), Producers::default());
        assert_eq!(Producers::read(b"not wasm"), Producers::default());
    }
}
