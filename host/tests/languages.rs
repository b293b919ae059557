//! The same sandbox for every language. The adversary's attacks, written as
//! a naive author would in Rust (`tests/plugins/adversary`), Python
//! (`tests/guests/python/adversary_py.py`, componentize-py) and JavaScript
//! (`tests/guests/js/adversary_js.ts`, componentize-js), end alike: the same
//! exit code, the same typed error, the same quota message, nothing read or
//! written outside the sandbox's two directories. A runtime that catches a
//! refused allocation (CPython's MemoryError) still reports the quota.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use taylordash::sandbox::{Call, Plugin, QuotaKind, Quotas, Sandbox, SandboxError, ToolFailure};

/// What an attack must come to, in every language.
#[derive(Debug, Clone, Copy)]
enum Ends {
    /// The tool fails (exit 1) with an error whose text holds this.
    Fails(&'static str),
    /// The named quota stops it (exit 4), with the exact message.
    Quota(QuotaKind),
    /// A capability is refused (exit 3) and audited as a denial of it.
    Denied(&'static str),
    /// The call succeeds with this output.
    Returns(&'static str),
}

struct Guest {
    name: &'static str,
    plugin: Plugin,
}

struct Rig {
    sandbox: Sandbox,
    guests: Vec<Guest>,
    workspace: tempfile::TempDir,
}

/// The Rust adversary and whichever of its Python and JS twins are built.
fn rig() -> Rig {
    let sandbox = common::shared_cache_sandbox();
    let mut paths: Vec<(&'static str, PathBuf)> = vec![("adversary", common::test_plugin("adversary"))];
    for name in ["adversary_py", "adversary_js"] {
        if let Some(path) = common::guest(name) {
            paths.push((name, path));
        }
    }
    let guests = paths.into_iter().map(|(name, path)| Guest { name, plugin: common::load(&sandbox, &path) }).collect();
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("input.txt"), "original").unwrap();
    Rig { sandbox, guests, workspace }
}

fn quotas_for(kind: QuotaKind) -> Quotas {
    match kind {
        // Only the deadline can stop it: fuel is unlimited.
        QuotaKind::Timeout => Quotas { timeout: Duration::from_secs(1), fuel: u64::MAX, ..Quotas::default() },
        // Only fuel can stop it: the deadline is far away.
        QuotaKind::Fuel => Quotas { fuel: 300_000_000, timeout: Duration::from_secs(60), ..Quotas::default() },
        // Room to build 200 MB; the output quota is what refuses it.
        QuotaKind::Output => Quotas { memory: 1 << 30, fuel: u64::MAX, output: 1 << 20, ..Quotas::default() },
        _ => Quotas::default(),
    }
}

impl Rig {
    fn attack(&self, guest: &Guest, attack: &str, quotas: Quotas) -> (Result<Value, SandboxError>, tempfile::TempDir) {
        let dest = tempfile::tempdir().unwrap();
        let input = json!({ "attack": attack }).to_string();
        let call = Call { input: &input, quotas, workspace: Some(self.workspace.path()), ..Call::default() };
        let result = self
            .sandbox
            .run_task(&guest.plugin, &call, dest.path(), false)
            .map(|t| serde_json::from_str(&t.call.output).unwrap_or(Value::Null));
        (result, dest)
    }

    /// Run `attack` on every guest and check it ends as `ends` in each.
    fn expect(&self, attack: &str, quotas: Quotas, ends: Ends) -> Vec<tempfile::TempDir> {
        let mut dests = Vec::new();
        for guest in &self.guests {
            let (result, dest) = self.attack(guest, attack, quotas);
            let who = format!("{} / {attack}", guest.name);
            match (ends, result) {
                (Ends::Fails(text), Err(e)) => {
                    assert_eq!(e.exit_code(), 1, "{who}: {e}");
                    assert!(matches!(&e, SandboxError::Tool { failure: ToolFailure::Failed(_), .. }), "{who}: {e:?}");
                    assert!(e.to_string().contains(text), "{who}: `{e}` does not mention `{text}`");
                }
                (Ends::Quota(kind), Err(e)) => {
                    assert_eq!(e.exit_code(), 4, "{who}: {e}");
                    let limit = match kind {
                        QuotaKind::Timeout => quotas.timeout.as_millis() as u64,
                        QuotaKind::Fuel => quotas.fuel,
                        QuotaKind::Memory => quotas.memory,
                        QuotaKind::Output => quotas.output,
                        QuotaKind::HostCalls => quotas.host_calls,
                        other => panic!("no limit for {other}"),
                    };
                    assert_eq!(e.to_string(), format!("plugin `{}`: quota exceeded: {kind} (limit {limit})", guest.name), "{who}");
                }
                (Ends::Denied(capability), Err(e)) => {
                    assert_eq!(e.exit_code(), 3, "{who}: {e}");
                    match &e {
                        SandboxError::Denied { denial, .. } => assert_eq!(denial.capability, capability, "{who}: {e}"),
                        other => panic!("{who}: expected a denial of {capability}, got {other:?}"),
                    }
                }
                (Ends::Returns(want), Ok(out)) => {
                    assert_eq!(out, serde_json::from_str::<Value>(want).unwrap(), "{who}");
                }
                (ends, got) => panic!("{who}: expected {ends:?}, got {got:?}"),
            }
            dests.push(dest);
        }
        self.assert_untouched();
        dests
    }

    /// The workspace holds exactly what it held: nothing written through the sandbox.
    fn assert_untouched(&self) {
        assert_eq!(std::fs::read_to_string(self.workspace.path().join("input.txt")).unwrap(), "original");
        assert_eq!(std::fs::read_dir(self.workspace.path()).unwrap().count(), 1, "the workspace gained files");
    }
}

#[test]
fn every_language_runs_under_the_same_walls() {
    let r = rig();
    let names: Vec<&str> = r.guests.iter().map(|g| g.name).collect();
    eprintln!("languages under test: {}", names.join(", "));

    // Host files are out of reach: not mounted, and `..` never leaves a mount.
    for dest in r.expect("read_passwd", Quotas::default(), Ends::Fails("/etc/passwd")) {
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }
    r.expect("escape_dotdot", Quotas::default(), Ends::Fails("etc/passwd"));
    r.expect("escape_out_dotdot", Quotas::default(), Ends::Fails("etc/passwd"));
    // The workspace is read-only; /out is merged after success only.
    r.expect("write_workspace", Quotas::default(), Ends::Fails("pwned.txt"));
    for dest in r.expect("write_out", Quotas::default(), Ends::Returns(r#"{"wrote":["sub/result.txt"]}"#)) {
        assert_eq!(std::fs::read_to_string(dest.path().join("sub/result.txt")).unwrap(), "result");
    }
    // No environment reaches the guest.
    r.expect("read_env", Quotas::default(), Ends::Returns(r#"{"vars":[]}"#));
    // Programs run only when granted.
    r.expect("exec_ungranted", Quotas::default(), Ends::Denied("exec"));
}

#[test]
fn every_language_is_stopped_by_the_same_quotas() {
    let r = rig();
    r.expect("alloc_2gib", Quotas::default(), Ends::Quota(QuotaKind::Memory));
    r.expect("loop_forever", quotas_for(QuotaKind::Timeout), Ends::Quota(QuotaKind::Timeout));
    r.expect("loop_forever", quotas_for(QuotaKind::Fuel), Ends::Quota(QuotaKind::Fuel));
    r.expect("huge_output", quotas_for(QuotaKind::Output), Ends::Quota(QuotaKind::Output));
    r.expect("log_flood", Quotas::default(), Ends::Quota(QuotaKind::HostCalls));
    // And the host is unharmed: each guest answers a plain call right after.
    for guest in &r.guests {
        let (out, _) = r.attack(guest, "ok", Quotas::default());
        assert_eq!(out.unwrap_or_else(|e| panic!("{}: {e}", guest.name)), json!({ "ok": true }), "{}", guest.name);
    }
}

/// `target/<dir>/<name>.wasm` built by an SDK's build script, or a loud SKIP.
fn example(dir: &str, name: &str) -> Option<PathBuf> {
    let path = xtask::workspace_root().join("target").join(dir).join(format!("{name}.wasm"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("TAYLORDASH_REQUIRE_GUESTS").is_ok_and(|v| v == "1") {
        panic!("{} is not built; TAYLORDASH_REQUIRE_GUESTS=1", path.display());
    }
    eprintln!("SKIP: {} is not built (sdk/python/build.sh, sdk/js/build.sh)", path.display());
    None
}

#[test]
fn a_pipeline_mixing_three_languages_runs_to_the_end() {
    common::plugins_built();
    let (Some(py), Some(js)) = (example("py-plugins", "adr_manager_py"), example("js-plugins", "adr_manager_js")) else {
        return;
    };
    let root = xtask::workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    // One plugins directory with the Rust tools and the two ports.
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for entry in std::fs::read_dir(root.join("target/plugins")).unwrap() {
        let path = entry.unwrap().path();
        std::os::unix::fs::symlink(&path, plugins.join(path.file_name().unwrap())).unwrap();
    }
    std::os::unix::fs::symlink(&py, plugins.join("adr_manager_py.wasm")).unwrap();
    std::os::unix::fs::symlink(&js, plugins.join("adr_manager_js.wasm")).unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    for name in ["backlog.yaml", "failures.json", "snapshot.json"] {
        std::fs::copy(root.join("pipelines/examples").join(name), ws.join(name)).unwrap();
    }
    let taylordash = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_taylordash"))
            .args(args)
            .env("HOME", tmp.path())
            .env("TAYLORDASH_CACHE_DIR", root.join("target/test-cache/components"))
            // A debug-built host compiles an 18 MB Python component in ~30 s,
            // slower with the whole suite running: the 60 s default is for release.
            .env("TAYLORDASH_COMPILE_TIMEOUT", "300s")
            .env("TAYLORDASH_RUNS_DIR", tmp.path().join("runs"))
            .env("TAYLORDASH_AUDIT_LOG", tmp.path().join("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", &plugins)
            .output()
            .unwrap()
    };
    let pipeline = root.join("pipelines/mixed_languages.yaml").display().to_string();
    let out = taylordash(&["run", &pipeline, "--workspace", &ws.display().to_string(), "--quiet"]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    let run_id = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string();

    // The three indexes are one file: every agent wrote the same bytes.
    let index = std::fs::read_to_string(ws.join("docs/adr/index.md")).unwrap();
    assert!(index.starts_with("# Architecture decision records\n"), "{index}");
    let journal = taylordash::store::Journal::open(&tmp.path().join("runs").join(&run_id).join("journal.sqlite")).unwrap();
    let outputs: Vec<(String, String)> = journal
        .tasks()
        .unwrap()
        .into_iter()
        .filter(|t| t.stage == "indexing")
        .map(|t| (t.tool, t.output.unwrap_or_default()))
        .collect();
    assert_eq!(outputs.len(), 3, "{outputs:?}");
    for (tool, output) in &outputs {
        assert_eq!(output, &outputs[0].1, "{tool}'s output differs from {}'s", outputs[0].0);
        let output: Value = serde_json::from_str(output).unwrap();
        assert_eq!(output["index"], "docs/adr/index.md", "{tool}");
    }
}

/// The golden cases of `tests/guests/adr_manager/cases/` (made by the Rust
/// tool with `make_cases.sh`): each case's workspace, and what `adr_manager`
/// printed and wrote for it.
fn golden_cases() -> Vec<(String, PathBuf)> {
    let dir = xtask::workspace_root().join("tests/guests/adr_manager/cases");
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "golden cases missing in {}", dir.display());
    cases
}

#[test]
fn adr_manager_in_three_languages_gives_the_same_bytes() {
    let sandbox = common::shared_cache_sandbox();
    let mut tools = vec![("adr_manager", common::tool("adr_manager"))];
    tools.extend(example("py-plugins", "adr_manager_py").map(|p| ("adr_manager_py", p)));
    tools.extend(example("js-plugins", "adr_manager_js").map(|p| ("adr_manager_js", p)));
    for (name, path) in tools {
        let plugin = common::load(&sandbox, &path);
        for (case, dir) in golden_cases() {
            let dest = tempfile::tempdir().unwrap();
            let workspace = dir.join("workspace");
            let call = Call { input: "{}", workspace: Some(&workspace), ..Call::default() };
            let task = sandbox.run_task(&plugin, &call, dest.path(), false).unwrap_or_else(|e| panic!("{name} / {case}: {e}"));
            let expected = std::fs::read_to_string(dir.join("expected.json")).unwrap();
            assert_eq!(task.call.output, expected.trim_end_matches('\n'), "{name} / {case}: output");
            let index = std::fs::read(dest.path().join("docs/adr/index.md")).unwrap();
            assert!(index == std::fs::read(dir.join("expected_index.md")).unwrap(), "{name} / {case}: docs/adr/index.md differs");
        }
    }
}

#[test]
fn plugins_inspect_and_list_name_each_components_language() {
    let root = xtask::workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let mut expected = vec![("adversary", "rust", common::test_plugin("adversary"))];
    expected.extend(common::guest("adversary_py").map(|p| ("adversary_py", "python", p)));
    expected.extend(common::guest("adversary_js").map(|p| ("adversary_js", "javascript", p)));
    let taylordash = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_taylordash"))
            .args(args)
            .env("HOME", dir.path())
            .env("TAYLORDASH_CACHE_DIR", root.join("target/test-cache/components"))
            .env("TAYLORDASH_COMPILE_TIMEOUT", "300s")
            .env("TAYLORDASH_AUDIT_LOG", dir.path().join("audit.jsonl"))
            .output()
            .unwrap()
    };
    let listed = dir.path().join("plugins");
    std::fs::create_dir_all(&listed).unwrap();
    for (name, language, path) in &expected {
        std::os::unix::fs::symlink(path, listed.join(format!("{name}.wasm"))).unwrap();
        let out = taylordash(&["plugins", "inspect", &path.display().to_string(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["toolchain"]["language"], *language, "{name}: {:#}", doc["producers"]);
        assert_eq!(doc["file"]["size"], std::fs::metadata(path).unwrap().len(), "{name}");
    }
    let out = taylordash(&["plugins", "list", "--dir", &listed.display().to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let warnings = String::from_utf8_lossy(&out.stderr);
    for (name, _, _) in &expected {
        let warned = warnings.contains(&format!("warning: {name} is "));
        assert_eq!(warned, *name != "adversary", "{name}: only runtime-carrying components are slow to compile: {warnings}");
    }
}
