//! The cheap look at a plugin before anything is compiled: is it a
//! component at all, does it import only what the sandbox links, and does it
//! export the `tool` world's `describe` and `invoke`.
//!
//! Only the component's top-level import and export sections are read (with
//! `wasmparser`, nested modules and components are skipped unparsed), so the
//! check costs microseconds however large the code is. It mirrors the
//! linker: [`LINKED`] lists every interface `Sandbox::new` adds, and a
//! version matches the way wasmtime's linker matches it (same `0.x` minor or
//! same major, no pre-release). The linker's own check after compiling stays:
//! this one refuses early, that one remains the authority.

use wasmparser::{ComponentTypeRef, Parser, Payload, TypeBounds};

/// Interfaces the sandbox's linker provides, with the version it provides.
/// WASI 0.2 from `wasmtime_wasi::p2::add_to_linker_sync` and
/// `wasmtime_wasi_http::p2::add_only_http_to_linker_sync` (wasmtime 48
/// implements 0.2.12), and our own WIT package.
pub const LINKED: &[(&str, &str)] = &[
    ("wasi:io/error", WASI),
    ("wasi:io/poll", WASI),
    ("wasi:io/streams", WASI),
    ("wasi:clocks/wall-clock", WASI),
    ("wasi:clocks/monotonic-clock", WASI),
    ("wasi:filesystem/types", WASI),
    ("wasi:filesystem/preopens", WASI),
    ("wasi:random/random", WASI),
    ("wasi:random/insecure", WASI),
    ("wasi:random/insecure-seed", WASI),
    ("wasi:cli/exit", WASI),
    ("wasi:cli/environment", WASI),
    ("wasi:cli/stdin", WASI),
    ("wasi:cli/stdout", WASI),
    ("wasi:cli/stderr", WASI),
    ("wasi:cli/terminal-input", WASI),
    ("wasi:cli/terminal-output", WASI),
    ("wasi:cli/terminal-stdin", WASI),
    ("wasi:cli/terminal-stdout", WASI),
    ("wasi:cli/terminal-stderr", WASI),
    ("wasi:sockets/network", WASI),
    ("wasi:sockets/instance-network", WASI),
    ("wasi:sockets/ip-name-lookup", WASI),
    ("wasi:sockets/tcp", WASI),
    ("wasi:sockets/tcp-create-socket", WASI),
    ("wasi:sockets/udp", WASI),
    ("wasi:sockets/udp-create-socket", WASI),
    ("wasi:http/types", WASI),
    ("wasi:http/outgoing-handler", WASI),
    ("taylordash:agent/types", AGENT),
    ("taylordash:agent/host", AGENT),
    ("taylordash:agent/exec", AGENT),
];

const WASI: &str = "0.2.12";
const AGENT: &str = "0.1.0";

/// The exports of the `tool` world.
pub const TOOL_EXPORTS: [&str; 2] = ["describe", "invoke"];

/// Why a plugin failed the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    #[error("not a WebAssembly file (it does not start with `\\0asm`)")]
    NotWasm,
    #[error("a core WebAssembly module, not a component (build it for wasm32-wasip2)")]
    CoreModule,
    #[error("{0}")]
    Malformed(String),
    #[error("imports {0}")]
    UnsupportedImport(String),
    #[error("does not export the taylordash:agent `tool` world (no `{0}` export)")]
    MissingExport(&'static str),
}

/// Check `bytes` before compiling them; see the module docs.
pub fn check(bytes: &[u8]) -> Result<(), WorldError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(WorldError::NotWasm);
    }
    if Parser::is_core_wasm(bytes) {
        return Err(WorldError::CoreModule);
    }
    let malformed = |e: wasmparser::BinaryReaderError| WorldError::Malformed(e.to_string());
    let mut exports = Vec::new();
    let mut parser = Parser::new(0);
    let mut rest = bytes;
    loop {
        let (consumed, payload) = match parser.parse(rest, true).map_err(malformed)? {
            wasmparser::Chunk::Parsed { consumed, payload } => (consumed, payload),
            // With `eof = true` the parser never asks for more data.
            wasmparser::Chunk::NeedMoreData(_) => return Err(WorldError::Malformed("truncated".into())),
        };
        rest = &rest[consumed..];
        match payload {
            // Nested code is not ours to judge here: skip it unread (the
            // parser has already stepped over it; only our slice has not).
            Payload::ModuleSection { unchecked_range, .. } | Payload::ComponentSection { unchecked_range, .. } => {
                rest = rest.get(unchecked_range.len()..).ok_or_else(|| WorldError::Malformed("truncated".into()))?;
            }
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(malformed)?;
                    // `use`d WIT types are imported as aliases (`eq` bounds) of
                    // types from an interface imported before: nothing to link.
                    if let ComponentTypeRef::Type(TypeBounds::Eq(_)) = import.ty {
                        continue;
                    }
                    let name = import.name.name;
                    if !is_linked(name) {
                        return Err(WorldError::UnsupportedImport(format!("`{name}`")));
                    }
                }
            }
            Payload::ComponentExportSection(reader) => {
                for export in reader {
                    exports.push(export.map_err(malformed)?.name.name);
                }
            }
            Payload::End(_) => break,
            _ => {}
        }
    }
    match TOOL_EXPORTS.into_iter().find(|want| !exports.contains(want)) {
        Some(missing) => Err(WorldError::MissingExport(missing)),
        None => Ok(()),
    }
}

/// Whether the linker resolves an import of `name` (as wasmtime 48's
/// `NameMap::get` does: the exact name, else the same semver track).
pub fn is_linked(name: &str) -> bool {
    let (iface, version) = name.split_once('@').unwrap_or((name, ""));
    LINKED
        .iter()
        .any(|(linked, provided)| *linked == iface && (version == *provided || same_track(version, provided)))
}

/// `0.2.3` and `0.2.12` are on one track; so are `1.4.0` and `1.9.1`; a
/// pre-release or a `0.0.x` version matches only itself.
fn same_track(a: &str, b: &str) -> bool {
    fn track(v: &str) -> Option<(u64, u64)> {
        let core = v.split('+').next()?;
        let mut parts = core.split('.');
        let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || patch.contains('-') {
            return None;
        }
        let (major, minor): (u64, u64) = (major.parse().ok()?, minor.parse().ok()?);
        patch.parse::<u64>().ok()?;
        match (major, minor) {
            (0, 0) => None,
            (0, m) => Some((0, m)),
            (m, _) => Some((m, 0)),
        }
    }
    matches!((track(a), track(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_like_the_linker() {
        assert!(is_linked("wasi:cli/environment@0.2.0"));
        assert!(is_linked("wasi:cli/environment@0.2.12"));
        assert!(is_linked("wasi:http/types@0.2.3+build"));
        assert!(is_linked("taylordash:agent/host@0.1.0"));
        assert!(!is_linked("wasi:cli/environment@0.3.0"));
        assert!(!is_linked("wasi:cli/environment@0.2.0-rc"));
        assert!(!is_linked("wasi:cli/environment"));
        assert!(!is_linked("wasi:cli/run@0.2.0"));
        assert!(!is_linked("taylordash:agent/host@0.2.0"));
        assert!(!is_linked("wasi:nn/graph@0.2.0"));
    }

    /// `(component (import "<name>" (instance (export "f" (func)))))`: an
    /// import only an instance of that name with a function `f` satisfies.
    fn importing(name: &str) -> Vec<u8> {
        let mut instance = wasm_encoder::InstanceType::new();
        instance.ty().function().params(std::iter::empty::<(&str, wasm_encoder::ComponentValType)>()).result(None);
        instance.export("f", wasm_encoder::ComponentTypeRef::Func(0));
        let mut types = wasm_encoder::ComponentTypeSection::new();
        types.instance(&instance);
        let mut imports = wasm_encoder::ComponentImportSection::new();
        imports.import(name, wasm_encoder::ComponentTypeRef::Instance(0));
        let mut component = wasm_encoder::Component::new();
        component.section(&types).section(&imports);
        component.finish()
    }

    /// Names the linker lacks fail there with the message (wasmtime 48's
    /// wording) that `unsupported_import` reads, and fail `check` first.
    /// The other direction — nothing in `LINKED` that the linker lacks and
    /// nothing the linker has that real plugins import missing from it — is
    /// what every test loading the real plugins (which import all of WASI
    /// 0.2 and our three interfaces) checks.
    #[test]
    fn the_linkers_refusal_names_the_import() {
        let sandbox = crate::sandbox::Sandbox::new(crate::sandbox::SandboxOptions {
            cache_dir: None,
            ..Default::default()
        })
        .unwrap();
        for missing in ["wasi:nope/thing@0.2.0", "wasi:cli/environment@0.3.0", "taylordash:agent/host@0.2.0"] {
            assert!(!is_linked(missing));
            let bytes = importing(missing);
            assert_eq!(check(&bytes), Err(WorldError::UnsupportedImport(format!("`{missing}`"))));
            let component = wasmtime::component::Component::new(&sandbox.engine, &bytes).unwrap();
            let message = format!("{:#}", sandbox.linker.instantiate_pre(&component).err().expect(missing));
            assert!(message.starts_with(&format!("component imports instance `{missing}`, but a matching")), "{message}");
            assert_eq!(crate::sandbox::unsupported_import(&message), Some(format!("`{missing}`")));
        }
    }

    #[test]
    fn text_and_core_modules_are_told_apart() {
        assert_eq!(check(b"hello, I am text\n"), Err(WorldError::NotWasm));
        assert_eq!(check(b"\0asm\x01\0\0\0"), Err(WorldError::CoreModule));
        assert!(matches!(check(b"\0asm\x0d\0\x01\0\x07"), Err(WorldError::Malformed(_))));
        assert_eq!(check(b"\0asm\x0d\0\x01\0"), Err(WorldError::MissingExport("describe")));
    }
}
