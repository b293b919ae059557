//! The walls around loading a plugin, against the real `taylordash` binary:
//! a compile bomb is refused within its memory or time budget by the child
//! compiler while the host stays small; an over-size file is refused before
//! it is read whole; an unsupported import or a missing export is refused
//! before anything is compiled; a text file gets one line; and whatever a
//! plugin's `describe` says reaches the terminal escaped.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::test_plugin;

/// Trivial functions in the bomb's extra core module: enough that compiling
/// them needs far more than the test budgets (about 2 GiB and 20 s of one
/// core in-process), while the file stays under 1 MiB.
const BOMB_FUNCTIONS: u32 = 200_000;

/// Timing and memory figures need the machine: the bomb tests run one at a time.
static MACHINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for d in ["home", "xdg-cache", "tmp", "plugins"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        common::plugins_built();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("xdg-cache"))
            .env("TMPDIR", self.path("tmp"))
            .env("TAYLORDASH_PLUGINS_DIR", self.path("plugins"));
        cmd
    }

    fn taylordash(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running taylordash")
    }

    /// Write `bytes` as `plugins/<file>`; returns its path as an argument.
    fn plugin(&self, file: &str, bytes: &[u8]) -> String {
        let path = self.path("plugins").join(file);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    fn compiled_artifacts(&self) -> usize {
        std::fs::read_dir(self.path("xdg-cache/taylordash/components")).map_or(0, |d| d.count())
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb128(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// The `echo` component with one more core module (component section 1)
/// holding `functions` functions `() -> ()` whose body is just `end`. The
/// module is never instantiated, but wasmtime compiles every module of a
/// component, so this costs the compiler per function.
fn bomb(functions: u32) -> Vec<u8> {
    let n = u64::from(functions);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut module);
    let mut funcs = Vec::new();
    leb128(n, &mut funcs);
    funcs.resize(funcs.len() + functions as usize, 0);
    section(3, &funcs, &mut module);
    let mut code = Vec::new();
    leb128(n, &mut code);
    for _ in 0..functions {
        code.extend_from_slice(&[2, 0, 0x0b]);
    }
    section(10, &code, &mut module);
    let mut component = std::fs::read(test_plugin("echo")).unwrap();
    section(1, &module, &mut component);
    component
}

/// Highest resident set (VmHWM, bytes) of `pid` and of its children, sampled
/// until `pid` exits; with its output.
fn watch(mut child: std::process::Child) -> (Output, u64, u64) {
    let pid = child.id();
    let (mut parent_peak, mut child_peak) = (0u64, 0u64);
    let hwm = |pid: &str| -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    let children = |pid: u32| -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    while child.try_wait().unwrap().is_none() {
        parent_peak = parent_peak.max(hwm(&pid.to_string()).unwrap_or(0));
        for c in children(pid) {
            child_peak = child_peak.max(hwm(&c).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), parent_peak, child_peak)
}

fn spawn(cmd: &mut Command) -> std::process::Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("running taylordash")
}

#[test]
fn a_compile_bomb_is_refused_at_its_memory_budget_and_the_host_stays_small() {
    let _turn = MACHINE.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::new();
    let bomb = env.plugin("bomb.wasm", &bomb(BOMB_FUNCTIONS));
    let started = Instant::now();
    let (out, host_peak, compiler_peak) = watch(spawn(&mut env.command(&[
        "--compile-memory", "256MiB", "--compile-timeout", "60s", "plugins", "inspect", &bomb,
    ])));
    let took = started.elapsed();
    eprintln!("bomb refused in {took:?}; host peak {} MiB, compiler peak {} MiB", host_peak >> 20, compiler_peak >> 20);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(stderr(&out), "error: plugin `bomb` refused: compiling it needed more than 256 MiB of memory (compile budget)\n");
    assert_eq!(stdout(&out), "");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(host_peak < 256 << 20, "the host itself reached {} MiB", host_peak >> 20);
    assert!(compiler_peak <= 256 << 20, "the compiler reached {} MiB", compiler_peak >> 20);
    assert_eq!(env.compiled_artifacts(), 0, "nothing is cached for a refused plugin");
}

#[test]
fn a_compile_bomb_is_refused_at_its_time_budget() {
    let _turn = MACHINE.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::new();
    let bomb = env.plugin("bomb.wasm", &bomb(BOMB_FUNCTIONS));
    let started = Instant::now();
    let out = env.taylordash(&["--compile-timeout", "2s", "plugins", "inspect", &bomb]);
    let took = started.elapsed();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(stderr(&out), "error: plugin `bomb` refused: compiling it took more than 2s (compile budget)\n");
    // The engine and the sandbox start before the compile; the margin is for them and a loaded machine.
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(6), "took {took:?}");
}

#[test]
fn plugins_list_reports_a_bomb_and_lists_the_rest() {
    let _turn = MACHINE.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::new();
    env.plugin("bomb.wasm", &bomb(BOMB_FUNCTIONS));
    env.plugin("echo.wasm", &std::fs::read(test_plugin("echo")).unwrap());
    let dir = env.path("plugins").display().to_string();
    let out = env.taylordash(&["--compile-memory", "256MiB", "plugins", "list", "--dir", &dir, "--json"]);
    assert_eq!(code(&out), 1, "one plugin failed: {}", stderr(&out));
    assert_eq!(stderr(&out), "error: plugin `bomb` refused: compiling it needed more than 256 MiB of memory (compile budget)\n");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["echo"]);
}

#[test]
fn an_over_size_file_is_refused_before_it_is_read_whole() {
    let env = Env::new();
    let path = env.path("plugins/huge.wasm");
    let file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &file, &std::fs::read(test_plugin("echo")).unwrap()).unwrap();
    file.set_len(33 << 20).unwrap();
    let started = Instant::now();
    let out = env.taylordash(&["plugins", "inspect", &path.display().to_string()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(stderr(&out), "error: plugin `huge` refused: its file is larger than 32 MiB (compile budget)\n");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(env.compiled_artifacts(), 0);
}

/// `echo` with every `wasi:cli/environment@0.2.*` renamed `@0.3.*` (same
/// length, so the binary stays well-formed): an interface the sandbox does
/// not link.
#[test]
fn an_unsupported_import_is_refused_before_compilation() {
    let env = Env::new();
    let mut bytes = std::fs::read(test_plugin("echo")).unwrap();
    let (from, to) = (b"wasi:cli/environment@0.2.", b"wasi:cli/environment@0.3.");
    let mut renamed = 0;
    for i in 0..bytes.len().saturating_sub(from.len()) {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            renamed += 1;
        }
    }
    if renamed == 0 {
        eprintln!("SKIP: echo.wasm does not import wasi:cli/environment");
        return;
    }
    let plugin = env.plugin("elsewhere.wasm", &bytes);
    let out = env.taylordash(&["plugins", "inspect", &plugin]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: plugin `elsewhere` imports `wasi:cli/environment@0.3.6`, which the sandbox does not provide\n"
    );
    assert_eq!(env.compiled_artifacts(), 0, "refused before compilation");
}

/// `echo` with its `describe` export renamed: not the tool world.
#[test]
fn a_component_without_describe_is_not_a_tool() {
    let env = Env::new();
    let mut bytes = std::fs::read(test_plugin("echo")).unwrap();
    let (from, to) = (b"describe", b"descripe");
    for i in 0..bytes.len().saturating_sub(from.len()) {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
        }
    }
    let plugin = env.plugin("mute.wasm", &bytes);
    let out = env.taylordash(&["plugins", "inspect", &plugin]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("error: plugin {plugin} is not a valid component: does not export the taylordash:agent `tool` world (no `describe` export)\n")
    );
    assert_eq!(env.compiled_artifacts(), 0, "refused before compilation");
}

#[test]
fn a_text_file_is_one_line_and_exit_2() {
    let env = Env::new();
    let notes = env.path("notes.txt");
    std::fs::write(&notes, "These are my notes.\nThey are not a plugin.\n").unwrap();
    let out = env.taylordash(&["invoke", &notes.display().to_string(), "--input", "{}"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("error: plugin {} is not a valid component: not a WebAssembly file (it does not start with `\\0asm`)\n", notes.display())
    );
    let core = env.plugin("core.wasm", b"\0asm\x01\0\0\0");
    let out = env.taylordash(&["plugins", "inspect", &core]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("error: plugin {core} is not a valid component: a core WebAssembly module, not a component (build it for wasm32-wasip2)\n")
    );
}

fn escapist(env: &Env) -> String {
    env.plugin("escapist.wasm", &std::fs::read(test_plugin("escapist")).unwrap())
}

#[test]
fn plugins_list_prints_describe_fields_escaped() {
    let env = Env::new();
    let plugin = escapist(&env);
    let dir = env.path("plugins").display().to_string();
    let text = env.taylordash(&["plugins", "list", "--dir", &dir]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let sha = sha256_of(Path::new(&plugin));
    let size = std::fs::metadata(&plugin).unwrap().len();
    assert_eq!(
        stdout(&text),
        format!(
            "{:<20} {:<10} {:<10} {:>10}  SHA256\n{:<20} {:<10} {:<10} {:>10}  {}\n",
            "NAME", "VERSION", "LANGUAGE", "SIZE", "escapist", "6.6.6\\u{1b}[31m-red", "rust", size, sha
        )
    );
    let json = env.taylordash(&["plugins", "list", "--dir", &dir, "--json"]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows[0]["tool"], "escapist\\u{1b}[2J");
    assert_eq!(rows[0]["version"], "6.6.6\\u{1b}[31m-red");
    assert!(!json.stdout.iter().any(|&b| b == 0x1b || b == 0x07), "{}", stdout(&json));
}

#[test]
fn plugins_inspect_prints_describe_fields_escaped() {
    let env = Env::new();
    let plugin = escapist(&env);
    let text = env.taylordash(&["plugins", "inspect", &plugin]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let first = stdout(&text).lines().next().unwrap_or_default().to_string();
    assert_eq!(
        first,
        "escapist\\u{1b}[2J 6.6.6\\u{1b}[31m-red — Looks harmless.\\u{a}INFO forged line\\u{1b}]0;pwned\\u{7} \\u{202e}txt.exe"
    );
    let out = stdout(&text);
    assert!(out.contains("\"title\": \"in\\\\u{1b}[5m\\\\u{9b}\""), "{out}");
    assert!(out.contains("\"\\\\u{7f}key\": true"), "{out}");
    assert!(!out.contains(['\x1b', '\x07', '\u{9b}', '\u{7f}', '\u{202e}']), "{out:?}");

    let json = env.taylordash(&["plugins", "inspect", &plugin, "--json"]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["name"], "escapist\\u{1b}[2J");
    assert_eq!(doc["version"], "6.6.6\\u{1b}[31m-red");
    assert_eq!(doc["description"], "Looks harmless.\\u{a}INFO forged line\\u{1b}]0;pwned\\u{7} \\u{202e}txt.exe");
    assert_eq!(doc["input_schema"], serde_json::json!({ "type": "object", "title": "in\\u{1b}[5m\\u{9b}" }));
    assert_eq!(doc["output_schema"], serde_json::json!({ "\\u{7f}key": true }));
    assert!(!stdout(&json).contains(['\x1b', '\x07', '\u{9b}', '\u{7f}', '\u{202e}']), "{}", stdout(&json));
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}
