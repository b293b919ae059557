//! The never-arrows of `docs/architecture.md`, held against the code: which
//! module of `host/src` may not name which, and which crates may not link
//! the host. Read from the sources' `crate::…` paths and the manifests, so a
//! forbidden `use` fails here with the file and line that wrote it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a source text names through `crate::`, with the
/// line of each mention: `crate::a::b`, and `crate::{a, b::c}` groups, which
/// may span lines. Line comments are skipped (doc links name modules freely).
fn crate_mentions(text: &str) -> Vec<(usize, String)> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let ident = |s: &str| -> String { s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        let rest = &code[start + "crate::".len()..];
        from = start + "crate::".len();
        if let Some(group) = rest.strip_prefix('{') {
            // The group's top-level items (`a`, `b::c`, `d::{e, f}`), up to its closing brace.
            let mut depth = 0;
            let mut items = vec![String::new()];
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(String::new()),
                    c if depth == 0 => items.last_mut().expect("never empty").push(c),
                    _ => {}
                }
            }
            found.extend(items.iter().map(|i| ident(i)).filter(|n| !n.is_empty()).map(|n| (line_of(start), n)));
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                found.push((line_of(start), name));
            }
        }
    }
    found
}

/// Every `file:line: names crate::<module>` where a module of `from` names one of `forbidden`.
fn violations(from: &str, forbidden: &[&str]) -> Vec<String> {
    let dir = root().join("host/src").join(from);
    let mut files = Vec::new();
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    } else {
        files.push(root().join("host/src").join(format!("{from}.rs")));
    }
    assert!(files.iter().any(|f| f.exists()), "no module `{from}` under host/src: update this test and docs/architecture.md together");
    let mut bad = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (line, module) in crate_mentions(&text) {
            if forbidden.contains(&module.as_str()) {
                let shown = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
                bad.push(format!("{shown}:{line}: names crate::{module}"));
            }
        }
    }
    bad
}

#[test]
fn mentions_are_read_from_paths_and_groups() {
    let text = "use crate::sandbox::quotas;\nuse crate::{\n    policy::audit,\n    store, bus::{a, b}};\n// crate::cli in a comment\n";
    let names: BTreeSet<String> = crate_mentions(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["bus", "policy", "sandbox", "store"].into_iter().map(String::from).collect());
}

#[test]
fn pipeline_never_imports_the_sandbox() {
    assert_eq!(violations("pipeline", &["sandbox", "policy", "orchestrator", "bus", "cli", "dispatch"]), Vec::<String>::new());
}

/// The leaves name nothing of the crate but each other's leaves.
#[test]
fn leaves_stay_leaves() {
    let upper = ["pipeline", "policy", "sandbox", "audit", "dispatch", "orchestrator", "bus", "store", "preflight", "mcp", "observe", "serve", "cli"];
    for leaf in ["units", "catalog", "paths", "yaml", "scaffold", "blobs", "review"] {
        assert_eq!(violations(leaf, &upper), Vec::<String>::new(), "{leaf}");
    }
}

#[test]
fn sandbox_knows_nothing_of_runs_or_transport() {
    assert_eq!(
        violations("sandbox", &["orchestrator", "bus", "cli", "pipeline", "dispatch", "store", "policy", "audit"]),
        Vec::<String>::new()
    );
}

#[test]
fn bus_never_imports_the_orchestrator() {
    assert_eq!(violations("bus", &["orchestrator", "policy", "cli"]), Vec::<String>::new());
}

#[test]
fn policy_decides_and_runs_nothing() {
    assert_eq!(violations("policy", &["orchestrator", "bus", "cli", "dispatch"]), Vec::<String>::new());
}

#[test]
fn nothing_below_the_cli_imports_it() {
    for module in ["pipeline", "policy", "sandbox", "orchestrator", "bus", "store", "dispatch", "audit", "mcp", "observe", "serve"] {
        assert_eq!(violations(module, &["cli"]), Vec::<String>::new(), "{module}");
    }
}

/// The MCP gateway is a door like the CLI: only the CLI opens it, and it
/// reaches tools through the same policy, sandbox and orchestrator, never
/// through the bus.
#[test]
fn only_the_cli_imports_the_mcp_gateway() {
    for module in ["pipeline", "policy", "sandbox", "orchestrator", "bus", "store", "dispatch", "audit", "preflight"] {
        assert_eq!(violations(module, &["mcp"]), Vec::<String>::new(), "{module}");
    }
    assert_eq!(violations("mcp", &["bus", "store"]), Vec::<String>::new());
}

/// Measuring reads what runs journaled and never drives one; the server
/// that shows it is a door only the CLI opens.
#[test]
fn observe_measures_and_serve_is_a_door() {
    assert_eq!(
        violations("observe", &["orchestrator", "dispatch", "bus", "policy", "pipeline", "mcp", "serve", "cli"]),
        Vec::<String>::new()
    );
    assert_eq!(violations("serve", &["orchestrator", "dispatch", "policy", "sandbox", "mcp", "cli"]), Vec::<String>::new());
    for module in ["pipeline", "policy", "sandbox", "orchestrator", "bus", "store", "dispatch", "audit", "mcp", "observe"] {
        assert_eq!(violations(module, &["serve"]), Vec::<String>::new(), "{module}");
    }
}

/// Plugins, the SDK, the toolkit and the protocol crate never link the host.
#[test]
fn guests_never_link_the_host() {
    let mut manifests = vec![root().join("sdk/Cargo.toml"), root().join("protocol/Cargo.toml")];
    for group in ["plugins", "toolkit", "tests/plugins"] {
        for entry in std::fs::read_dir(root().join(group)).expect("the folder exists").flatten() {
            manifests.push(entry.path().join("Cargo.toml"));
        }
    }
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let links_host = text.lines().any(|l| l.trim_start().starts_with("taylordash ") || l.trim_start().starts_with("taylordash="));
        assert!(!links_host, "{} depends on the host crate `taylordash`", manifest.display());
    }
}

/// The protocol crate stays serde-only: no engine, no runtime.
#[test]
fn protocol_is_serde_only() {
    let text = std::fs::read_to_string(root().join("protocol/Cargo.toml")).expect("protocol/Cargo.toml");
    for heavy in ["wasmtime", "tokio", "rumqttc", "rusqlite"] {
        assert!(!text.contains(heavy), "protocol/Cargo.toml names {heavy}");
    }
}
