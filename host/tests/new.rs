//! `taylordash new` as a new tool author meets it: in an empty folder outside
//! the repository, scaffold a tool, then follow the generated README to the
//! letter — every command of its first `sh` block, in order, with only the
//! `taylordash` binary added to PATH — and the last one, `taylordash invoke`,
//! prints the tool's JSON. One test per language.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn taylordash() -> Command {
    Command::new(env!("CARGO_BIN_EXE_taylordash"))
}

fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The commands of the README's first ```sh block (comments dropped).
fn readme_commands(readme: &str) -> Vec<String> {
    let block = readme.split("```sh\n").nth(1).and_then(|rest| rest.split("```").next()).expect("README has a ```sh block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// PATH with the `taylordash` under test first.
fn path_with_taylordash() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_taylordash")).parent().unwrap().to_path_buf();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())))
        .unwrap()
}

/// Scaffold `name` in `lang` under a fresh temp dir, run its README, return
/// the last command's stdout.
fn scaffold_and_follow_readme(name: &str, lang: &str, prepare: impl FnOnce(&Path)) -> String {
    let root = xtask::workspace_root();
    let outside = tempfile::tempdir().unwrap();
    let dir = outside.path().join(name);
    let out = taylordash().args(["new", name, "--lang", lang, "--dir"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("created {} ({lang})", dir.display())), "{}", text(&out));
    prepare(&dir);
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let commands = readme_commands(&readme);
    assert!(commands.last().is_some_and(|c| c.starts_with("taylordash invoke ")), "{lang}: the README ends by invoking the tool: {commands:?}");
    let mut last = String::new();
    for command in &commands {
        eprintln!("[{lang}] $ {command}");
        let out = Command::new("bash")
            .args(["-c", command])
            .current_dir(&dir)
            .env("PATH", path_with_taylordash())
            .env("TAYLORDASH_CACHE_DIR", root.join("target/test-cache/components"))
            // A debug-built host compiles an 18 MB Python component in ~30 s,
            // slower with the whole suite running: the 60 s default is for release.
            .env("TAYLORDASH_COMPILE_TIMEOUT", "300s")
            // The host build's flags and cargo's nesting must not reach the author's build.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MANIFEST_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "[{lang}] `{command}` failed ({}):\n{}", out.status, text(&out));
        last = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    last
}

fn tool_available(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn a_rust_tool_from_nothing_to_invoke() {
    // The author's target/ is a link to one kept under ours, so the SDK's
    // dependencies compile once per checkout, not once per test run.
    let shared: PathBuf = xtask::workspace_root().join("target/new-rust");
    std::fs::create_dir_all(&shared).unwrap();
    let out = scaffold_and_follow_readme("hello_rs", "rust", |dir| {
        std::os::unix::fs::symlink(&shared, dir.join("target")).unwrap();
    });
    assert_eq!(out, "{\"greeting\":\"Hello, Ada!\"}\n");
}

#[test]
fn a_python_tool_from_nothing_to_invoke() {
    if !tool_available("python3") {
        eprintln!("SKIP: python3 is not installed");
        return;
    }
    let out = scaffold_and_follow_readme("hello_py", "python", |_| {});
    assert_eq!(out, "{\"greeting\":\"Hello, Ada!\"}\n");
}

#[test]
fn a_javascript_tool_from_nothing_to_invoke() {
    if !tool_available("npm") {
        eprintln!("SKIP: npm is not installed");
        return;
    }
    let out = scaffold_and_follow_readme("hello_js", "js", |_| {});
    assert_eq!(out, "{\"greeting\":\"Hello, Ada!\"}\n");
}

#[test]
fn a_name_that_is_not_an_identifier_is_a_usage_error() {
    let outside = tempfile::tempdir().unwrap();
    let out = taylordash().args(["new", "My-Tool", "--dir"]).arg(outside.path().join("x")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: `My-Tool` is not a tool name: use lowercase letters, digits and `_`, starting with a letter (e.g. `my_tool`)\n"
    );
    assert!(!outside.path().join("x").exists(), "nothing written");
}
