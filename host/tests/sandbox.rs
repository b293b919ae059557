//! The sandbox against real components: every attack of the `adversary`
//! plugin is contained with the right typed error, and the same sandbox
//! serves a normal call right after.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{load, sandbox, test_plugin};
use taylordash::sandbox::{Call, Plugin, QuotaKind, Quotas, Sandbox, SandboxError};

/// Timing assertions need the machine to themselves: every test holds this
/// lock shared, the timing test holds it alone.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

enum Turn {
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

struct Rig {
    _turn: Turn,
    sandbox: Sandbox,
    adversary: Plugin,
    echo: Plugin,
    workspace: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

fn rig() -> Rig {
    rig_with(Turn::Shared(MACHINE.read().unwrap_or_else(|p| p.into_inner())))
}

fn rig_alone() -> Rig {
    rig_with(Turn::Alone(MACHINE.write().unwrap_or_else(|p| p.into_inner())))
}

fn rig_with(turn: Turn) -> Rig {
    let (sandbox, cache) = sandbox();
    let adversary = load(&sandbox, &test_plugin("adversary"));
    let echo = load(&sandbox, &test_plugin("echo"));
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("input.txt"), "original").unwrap();
    Rig { _turn: turn, sandbox, adversary, echo, workspace, _cache: cache }
}

impl Rig {
    /// Run one attack with `quotas`, merging `/out` into a fresh destination.
    fn attack(&self, attack: &str, quotas: Quotas) -> (Result<serde_json::Value, SandboxError>, tempfile::TempDir) {
        let input = serde_json::json!({ "attack": attack }).to_string();
        self.attack_with(&input, quotas)
    }

    fn attack_with(&self, input: &str, quotas: Quotas) -> (Result<serde_json::Value, SandboxError>, tempfile::TempDir) {
        let dest = tempfile::tempdir().unwrap();
        let call = Call { input, quotas, workspace: Some(self.workspace.path()), ..Call::default() };
        let result = self
            .sandbox
            .run_task(&self.adversary, &call, dest.path(), false)
            .map(|t| serde_json::from_str(&t.call.output).unwrap());
        (result, dest)
    }

    /// The host and its pool are unharmed: a normal call succeeds.
    fn assert_healthy(&self) {
        let call = Call { input: r#"{"still":"alive"}"#, workspace: Some(self.workspace.path()), ..Call::default() };
        let out = self.sandbox.call(&self.echo, &call, None).expect("a normal call right after the attack");
        assert_eq!(out.output, r#"{"still":"alive"}"#);
        assert_eq!(std::fs::read_to_string(self.workspace.path().join("input.txt")).unwrap(), "original");
        assert_eq!(std::fs::read_dir(self.workspace.path()).unwrap().count(), 1, "workspace gained files");
    }
}

fn expect_quota(result: Result<serde_json::Value, SandboxError>, kind: QuotaKind) -> SandboxError {
    match result {
        Err(e @ SandboxError::Quota { .. }) => {
            let SandboxError::Quota { breach, .. } = &e else { unreachable!() };
            assert_eq!(breach.kind, kind, "{e}");
            assert_eq!(e.exit_code(), 4);
            e
        }
        other => panic!("expected a {kind} quota breach, got {other:?}"),
    }
}

fn expect_tool_failure(result: Result<serde_json::Value, SandboxError>, needle: &str) {
    match result {
        Err(e @ SandboxError::Tool { .. }) => {
            assert_eq!(e.exit_code(), 1);
            assert!(e.to_string().contains(needle), "`{e}` should mention `{needle}`");
        }
        other => panic!("expected the tool to fail with `{needle}`, got {other:?}"),
    }
}

#[test]
fn reading_host_files_is_impossible() {
    let r = rig();
    let (res, _) = r.attack("read_passwd", Quotas::default());
    expect_tool_failure(res, "/etc/passwd: No such file or directory");
    let (res, _) = r.attack("escape_dotdot", Quotas::default());
    expect_tool_failure(res, "Operation not permitted");
    let (res, _) = r.attack("escape_out_dotdot", Quotas::default());
    expect_tool_failure(res, "Operation not permitted");
    r.assert_healthy();
}

#[test]
fn symlinks_planted_in_out_are_never_followed_or_merged() {
    let r = rig();
    let (res, dest) = r.attack("symlink_escape", Quotas::default());
    let err = res.expect_err("a symlink in /out must refuse the merge");
    assert_eq!(err.exit_code(), 3);
    assert_eq!(
        err.to_string(),
        "plugin `adversary`: /out/evil is a symlink or special file; only regular files and directories are merged"
    );
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0, "nothing merged");
    let (res, _) = r.attack("symlink_absolute", Quotas::default());
    assert_eq!(res.unwrap()["symlink_created"], false, "an absolute symlink must not even be created");
    r.assert_healthy();
}

/// A tmpfs of `size` mounted on a temp dir; unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// `None` (with a loud SKIP) where mounting is not allowed (not root).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIP: cannot mount a tmpfs on {} (needs root or CAP_SYS_ADMIN)", dir.path().display());
            return None;
        }
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_call_that_fails_on_a_full_out_disk_is_retryable() {
    let r = rig();
    let Some(disk) = Tmpfs::mount("1m") else { return };
    let out = disk.0.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let call = Call { input: r#"{"attack":"write_out"}"#, workspace: Some(r.workspace.path()), ..Call::default() };
    // With room, the same call succeeds: what follows is the disk's doing.
    r.sandbox.call(&r.adversary, &call, Some(&out)).expect("a call with room to write");
    std::fs::remove_dir_all(out.join("sub")).unwrap();
    let filler = std::fs::File::create(disk.0.path().join("filler")).unwrap();
    let mut filler = std::io::BufWriter::new(filler);
    while std::io::Write::write_all(&mut filler, &[0u8; 4096]).and_then(|()| std::io::Write::flush(&mut filler)).is_ok() {}
    drop(filler);

    let err = r.sandbox.call(&r.adversary, &call, Some(&out)).expect_err("no room for /out/sub/result.txt");
    assert!(matches!(err, SandboxError::OutDiskFull { .. }), "{err:?}");
    assert!(err.is_retryable(), "a full disk is the host's to fix: {err}");
    assert_eq!(err.exit_code(), 1);
    let said = err.to_string();
    let expected = format!("plugin `adversary` failed while the filesystem holding its /out ({}) had 0 bytes free; retryable once space is freed (the tool said: failed: ", out.display());
    assert!(said.starts_with(&expected) && said.contains("/out/sub"), "{said}");

    // Freed: the call runs again and succeeds.
    std::fs::remove_file(disk.0.path().join("filler")).unwrap();
    let _ = std::fs::remove_dir_all(out.join("sub"));
    r.sandbox.call(&r.adversary, &call, Some(&out)).expect("the same call once space is freed");
    r.assert_healthy();
}

#[test]
fn the_workspace_is_read_only_and_out_is_merged_after_success() {
    let r = rig();
    let (res, _) = r.attack("write_workspace", Quotas::default());
    expect_tool_failure(res, "/workspace/pwned.txt");
    assert!(!r.workspace.path().join("pwned.txt").exists());
    let (res, dest) = r.attack("write_out", Quotas::default());
    res.unwrap();
    assert_eq!(std::fs::read_to_string(dest.path().join("sub/result.txt")).unwrap(), "result");
    r.assert_healthy();
}

#[test]
fn allocating_2_gib_is_a_memory_breach_not_a_trap() {
    let r = rig();
    let (res, _) = r.attack("alloc_2gib", Quotas::default());
    let e = expect_quota(res, QuotaKind::Memory);
    assert_eq!(e.to_string(), "plugin `adversary`: quota exceeded: memory (limit 67108864)");
    r.assert_healthy();
}

#[test]
fn an_endless_loop_stops_within_its_timeout_plus_ten_percent() {
    let r = rig_alone();
    // 2 s, so that the 10% margin (200 ms) is far above scheduling noise on a
    // loaded 2-core machine, while a missing or broken deadline still fails.
    let timeout = Duration::from_secs(2);
    let quotas = Quotas { timeout, fuel: u64::MAX, ..Quotas::default() };
    let call = Call { input: r#"{"attack":"loop_forever"}"#, quotas, ..Call::default() };
    let started = Instant::now();
    let res = r.sandbox.call(&r.adversary, &call, None).map(|o| serde_json::from_str(&o.output).unwrap());
    let took = started.elapsed();
    let e = expect_quota(res, QuotaKind::Timeout);
    assert_eq!(e.to_string(), "plugin `adversary`: quota exceeded: timeout (limit 2000)");
    assert!(took >= timeout, "stopped early: {took:?}");
    assert!(took <= timeout.mul_f64(1.10), "took {took:?}, more than 110% of {timeout:?}");
    r.assert_healthy();
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let r = rig();
    let (res, _) = r.attack("loop_forever", Quotas { fuel: 50_000_000, ..Quotas::default() });
    expect_quota(res, QuotaKind::Fuel);
    r.assert_healthy();
}

#[test]
fn endless_recursion_is_a_stack_breach() {
    let r = rig();
    let (res, _) = r.attack("recurse", Quotas::default());
    expect_quota(res, QuotaKind::Stack);
    r.assert_healthy();
}

#[test]
fn a_200_mb_return_is_an_output_breach() {
    let r = rig();
    let quotas = Quotas { memory: 1 << 30, fuel: u64::MAX, output: 1 << 20, ..Quotas::default() };
    let (res, _) = r.attack("huge_output", quotas);
    let e = expect_quota(res, QuotaKind::Output);
    assert_eq!(e.to_string(), "plugin `adversary`: quota exceeded: output (limit 1048576)");
    r.assert_healthy();
}

#[test]
fn ten_million_log_calls_hit_the_host_call_quota() {
    let r = rig();
    let (res, _) = r.attack("log_flood", Quotas::default());
    expect_quota(res, QuotaKind::HostCalls);
    r.assert_healthy();
}

#[test]
fn big_log_lines_hit_the_log_quota() {
    let r = rig();
    let (res, _) = r.attack_with(r#"{"attack":"log_big","n":100}"#, Quotas { log: 1 << 20, ..Quotas::default() });
    expect_quota(res, QuotaKind::Log);
    r.assert_healthy();
}

#[test]
fn the_guest_sees_no_environment() {
    // SAFETY: set before any thread of this test reads the environment; other
    // tests in this binary never read this variable.
    unsafe { std::env::set_var("TAYLORDASH_TEST_SECRET", "hunter2") };
    let r = rig();
    let (res, _) = r.attack("read_env", Quotas::default());
    assert_eq!(res.unwrap()["vars"], serde_json::json!([]));
    r.assert_healthy();
}

#[test]
fn sockets_are_refused_and_the_refusal_is_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = rig();
    let (res, _) = r.attack_with(&format!(r#"{{"attack":"tcp_connect","port":{port}}}"#), Quotas::default());
    let e = res.expect_err("connect must be refused");
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().starts_with("plugin `adversary`: denied network: no socket may be opened"), "{e}");
    assert!(listener.accept().is_err(), "the guest reached the listener");
    r.assert_healthy();
}

#[test]
fn exec_without_a_grant_is_denied() {
    let r = rig();
    let (res, _) = r.attack("exec_ungranted", Quotas::default());
    let e = res.expect_err("exec must be denied");
    assert_eq!(e.exit_code(), 3);
    assert!(
        e.to_string().starts_with("plugin `adversary`: denied exec: run `sh`: plugin `adversary` has no exec grant"),
        "{e}"
    );
    r.assert_healthy();
}

#[test]
fn a_panic_is_a_trap_with_the_panic_message() {
    let r = rig();
    let (res, _) = r.attack("panic", Quotas::default());
    let e = res.expect_err("panic must trap");
    assert_eq!(e.exit_code(), 5);
    assert!(e.to_string().contains("adversary panicked on purpose"), "{e}");
    r.assert_healthy();
}

#[test]
fn guest_text_cannot_inject_terminal_escapes() {
    let r = rig();
    let call = Call { input: r#"{"attack":"ansi"}"#, ..Call::default() };
    let e = r.sandbox.call(&r.adversary, &call, None).unwrap_err();
    let text = e.to_string();
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("\\u{1b}]0;pwned title\\u{7} done"), "{text}");
}

#[test]
fn logs_are_escaped_and_captured() {
    let (sandbox, _cache) = sandbox();
    let adversary = load(&sandbox, &test_plugin("adversary"));
    let call = Call { input: r#"{"attack":"log_big","n":2}"#, ..Call::default() };
    let out = sandbox.call(&adversary, &call, None).unwrap();
    assert_eq!(out.logs.len(), 2);
    assert_eq!(out.logs[0].message.len(), 64 << 10);
}

#[test]
fn a_second_load_comes_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let opts = || taylordash::sandbox::SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() };
    let first = Sandbox::new(opts()).unwrap();
    let compiled = load(&first, &test_plugin("echo"));
    assert!(!compiled.from_cache);
    // Compiled now, it already runs from the cached file: its code is mapped
    // from there, not kept as a private copy for the life of the process.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    assert!(maps.lines().any(|l| l.contains(cache_dir) && l.ends_with(".cwasm")), "no mapping of {cache_dir}/*.cwasm:\n{maps}");
    drop(compiled);
    let second = Sandbox::new(opts()).unwrap();
    let plugin = load(&second, &test_plugin("echo"));
    assert!(plugin.from_cache);
    let out = second.call(&plugin, &Call { input: "[1]", ..Call::default() }, None).unwrap();
    assert_eq!(out.output, "[1]");
}

#[test]
fn a_file_that_is_not_a_component_is_a_config_error() {
    let (sandbox, _cache) = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.wasm");
    std::fs::write(&path, b"\0asm junk").unwrap();
    let e = sandbox.load(&path).err().expect("junk must not load");
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().starts_with(&format!("plugin {} is not a valid component", path.display())), "{e}");
    let missing = sandbox.load(Path::new("/nonexistent/x.wasm")).err().unwrap();
    assert_eq!(missing.exit_code(), 2);
}
