//! A granted program (the `exec` capability) against what an attacker who
//! controls it would try: daemons and background jobs that outlive the
//! call and hold its output pipes, reading the host's `/proc`, UDP, TCP and
//! abstract Unix sockets, memory and fork bombs. Real `bash` and `python3`
//! through the `adversary` plugin's `exec` attack; no mocks.
//!
//! Surviving processes are found by a unique marker in their command line
//! (`sleep 1000.<random>`), scanned over the host's `/proc/*/cmdline`: PIDs
//! inside the program's namespace are not the host's.

mod common;

use std::time::{Duration, Instant};

use common::{load, sandbox, test_plugin};
use taylordash::sandbox::isolate::{self, Plan};
use taylordash::sandbox::{Call, ExecGrant, Grants, Plugin, QuotaKind, Quotas, Sandbox, SandboxError};

struct Rig {
    sandbox: Sandbox,
    adversary: Plugin,
    _cache: tempfile::TempDir,
}

fn rig() -> Rig {
    let (sandbox, cache) = sandbox();
    let adversary = load(&sandbox, &test_plugin("adversary"));
    Rig { sandbox, adversary, _cache: cache }
}

/// The namespaces this file is about, or why a test cannot run here.
fn isolated() -> bool {
    match isolate::namespaces() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("SKIP: namespaces are unavailable on this host ({why})");
            false
        }
    }
}

fn grant(program: &str, timeout: Duration) -> ExecGrant {
    ExecGrant { timeout, ..ExecGrant::new(vec![program.to_string()]) }
}

impl Rig {
    /// Run `program args` under `grant` within a call of `call_timeout`;
    /// the tool's JSON (status, stdout, stderr) and how long the call took.
    fn exec(&self, grant: ExecGrant, args: &[&str], call_timeout: Duration) -> (Result<serde_json::Value, SandboxError>, Duration) {
        let program = grant.programs[0].clone();
        let input = serde_json::json!({ "attack": "exec", "program": program, "args": args }).to_string();
        let call = Call {
            input: &input,
            quotas: Quotas { timeout: call_timeout, ..Quotas::default() },
            grants: Grants { exec: Some(grant), ..Grants::default() },
            ..Call::default()
        };
        let started = Instant::now();
        let result = self.sandbox.call(&self.adversary, &call, None).map(|o| serde_json::from_str(&o.output).unwrap());
        (result, started.elapsed())
    }
}

/// A marker no other process on the machine has: `1000.<digits>` is a
/// valid `sleep` duration.
fn marker() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("1000.{}{:09}", std::process::id(), nanos)
}

/// Host processes whose command line contains `marker`.
fn survivors(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

fn stdout(doc: &serde_json::Value) -> &str {
    doc["stdout"].as_str().unwrap_or_default()
}

#[test]
fn every_process_a_program_starts_dies_with_the_call() {
    if !isolated() {
        return;
    }
    let r = rig();
    let timeout = Duration::from_secs(3);
    let cases = [
        ("a daemon", "setsid sleep {M} & echo started"),
        ("a double fork", "(sleep {M} &) & echo started"),
        ("a background job holding the pipes", "sleep {M} & echo started"),
        ("a daemon with its output redirected", "setsid sleep {M} >/dev/null 2>&1 </dev/null & echo started"),
    ];
    for (what, script) in cases {
        let mark = marker();
        let (result, took) = r.exec(grant("bash", timeout), &["-c", &script.replace("{M}", &mark)], Duration::from_secs(10));
        let doc = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!((doc["status"].as_i64(), stdout(&doc)), (Some(0), "started\n"), "{what}");
        assert!(took < timeout, "{what}: the call waited for a process it should have killed ({took:?})");
        assert_eq!(survivors(&mark), Vec::<String>::new(), "{what} outlived the call");
        eprintln!("{what}: returned in {took:?}");
    }
}

#[test]
fn a_program_past_its_timeout_dies_with_its_children_by_the_deadline() {
    if !isolated() {
        return;
    }
    let r = rig();
    let timeout = Duration::from_secs(2);
    let mark = marker();
    let script = format!("setsid sleep {mark} & (sleep {mark} &) & echo looping; while :; do :; done");
    let (result, took) = r.exec(grant("bash", timeout), &["-c", &script], Duration::from_secs(10));
    let err = result.expect_err("the program loops past its timeout");
    assert_eq!(err.to_string(), "plugin `adversary` failed: exec `bash` timed out after 2s");
    assert_eq!(err.exit_code(), 1);
    assert!(took < timeout.mul_f64(1.1), "returned after {took:?}, deadline {timeout:?} + 10%");
    assert_eq!(survivors(&mark), Vec::<String>::new());
    eprintln!("looping program, timeout {timeout:?}: returned in {took:?}");
}

/// The call's own wall-clock quota bounds a granted program whose grant
/// allows longer: the host call returns by then and the call breaches
/// `timeout`, instead of hanging in the host where epochs cannot reach.
#[test]
fn the_calls_deadline_bounds_a_program_granted_longer() {
    if !isolated() {
        return;
    }
    let r = rig();
    let call_timeout = Duration::from_secs(2);
    let mark = marker();
    let script = format!("setsid sleep {mark} & while :; do :; done");
    let (result, took) = r.exec(grant("bash", Duration::from_secs(60)), &["-c", &script], call_timeout);
    match result {
        Err(SandboxError::Quota { breach, .. }) => assert_eq!(breach.kind, QuotaKind::Timeout),
        other => panic!("expected the call's timeout, got {other:?}"),
    }
    assert!(took < call_timeout.mul_f64(1.1), "returned after {took:?}, deadline {call_timeout:?} + 10%");
    assert_eq!(survivors(&mark), Vec::<String>::new());
    eprintln!("program granted 60s in a call of {call_timeout:?}: returned in {took:?}");
}

#[test]
fn the_program_sees_only_its_own_processes() {
    if !isolated() {
        return;
    }
    let r = rig();
    let host = std::process::id();
    let secret = env!("CARGO_MANIFEST_DIR");
    assert!(std::fs::read_to_string(format!("/proc/{host}/environ")).is_ok_and(|e| e.contains(secret)), "the test's own environ holds the secret");
    let script = format!(
        "import os\n\
         for f in ('environ', 'cmdline'):\n\
         \x20   try:\n\
         \x20       print(f, open('/proc/{host}/' + f, 'rb').read())\n\
         \x20   except OSError as e:\n\
         \x20       print(f, type(e).__name__)\n\
         print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n\
         print(os.getpid())\n"
    );
    let (result, _) = r.exec(grant("python3", Duration::from_secs(20)), &["-c", &script], Duration::from_secs(30));
    let doc = result.unwrap();
    assert_eq!(stdout(&doc), "environ FileNotFoundError\ncmdline FileNotFoundError\n[1, 2]\n2\n", "{doc}");
}

#[test]
fn the_program_has_no_network() {
    if !isolated() {
        return;
    }
    let r = rig();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let name = format!("taylordash-test-{}", marker());
    let addr = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name.as_bytes()).unwrap();
    let _unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let script = format!(
        "import socket\n\
         def attempt(what, f):\n\
         \x20   try:\n\
         \x20       f()\n\
         \x20       print(what, 'sent')\n\
         \x20   except OSError as e:\n\
         \x20       print(what, e.strerror)\n\
         attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'leak', ('127.0.0.1', {udp})))\n\
         attempt('tcp', lambda: socket.create_connection(('127.0.0.1', {tcp}), timeout=2))\n\
         attempt('unix', lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect('\\0{name}'))\n",
        udp = udp.local_addr().unwrap().port(),
        tcp = tcp.local_addr().unwrap().port(),
    );
    let (result, _) = r.exec(grant("python3", Duration::from_secs(20)), &["-c", &script], Duration::from_secs(30));
    let doc = result.unwrap();
    let mut buf = [0u8; 64];
    assert!(udp.recv_from(&mut buf).is_err(), "a UDP datagram reached the host");
    let said = stdout(&doc);
    // Landlock refuses TCP before routing does; without it, the empty
    // network namespace has no route.
    let tcp = if taylordash::sandbox::confine::kernel_abi().is_some() { "Permission denied" } else { "Network is unreachable" };
    assert_eq!(said, format!("udp Network is unreachable\ntcp {tcp}\nunix Connection refused\n"), "{doc}");
}

#[test]
fn memory_is_capped_by_the_grant() {
    if !isolated() {
        return;
    }
    let r = rig();
    let script = "try:\n    b = bytearray(300 << 20)\n    print('allocated')\nexcept MemoryError:\n    print('MemoryError')\n";
    let small = ExecGrant { memory: 128 << 20, ..grant("python3", Duration::from_secs(20)) };
    let (result, _) = r.exec(small, &["-c", script], Duration::from_secs(30));
    assert_eq!(stdout(&result.unwrap()), "MemoryError\n");
    let (result, _) = r.exec(grant("python3", Duration::from_secs(20)), &["-c", script], Duration::from_secs(30));
    assert_eq!(stdout(&result.unwrap()), "allocated\n", "the default (1 GiB) allows it");
}

#[test]
fn cpu_time_is_capped_by_the_grant() {
    if !isolated() {
        return;
    }
    let r = rig();
    let capped = ExecGrant { cpu: Duration::from_secs(1), ..grant("bash", Duration::from_secs(20)) };
    let started = Instant::now();
    let (result, _) = r.exec(capped, &["-c", "while :; do :; done"], Duration::from_secs(30));
    assert_eq!(result.unwrap()["status"], 128 + libc::SIGXCPU, "killed by SIGXCPU at the soft limit");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
}

#[test]
fn a_fork_bomb_stops_at_the_process_cap() {
    if !isolated() {
        return;
    }
    if !std::path::Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() && unsafe_is_root() {
        eprintln!("SKIP: no v1 pids cgroup, and RLIMIT_NPROC does not bind root");
        return;
    }
    let r = rig();
    let mark = marker();
    // 200 forks at most; each child sleeps, so they are all alive at once.
    let script = format!(
        "import os, time\n\
         forked = refused = 0\n\
         for _ in range(200):\n\
         \x20   try:\n\
         \x20       if os.fork() == 0:\n\
         \x20           os.execv('/bin/sleep', ['sleep', '{mark}'])\n\
         \x20       forked += 1\n\
         \x20   except BlockingIOError:\n\
         \x20       refused += 1\n\
         print('forked', forked, 'refused', refused)\n"
    );
    let capped = ExecGrant { processes: 16, ..grant("python3", Duration::from_secs(20)) };
    let (result, _) = r.exec(capped, &["-c", &script], Duration::from_secs(30));
    let doc = result.unwrap();
    // 16 processes: python3 and 15 children.
    assert_eq!(stdout(&doc), "forked 15 refused 185\n", "{doc}");
    assert_eq!(survivors(&mark), Vec::<String>::new());
}

fn unsafe_is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// `require_isolation` runs where namespaces exist and is refused (a
/// denial, exit 3) where they do not; which branch runs depends on the host.
#[test]
fn require_isolation_refuses_only_where_namespaces_are_missing() {
    let r = rig();
    let strict = ExecGrant { require_isolation: true, ..grant("bash", Duration::from_secs(20)) };
    let (result, _) = r.exec(strict, &["-c", "echo ran"], Duration::from_secs(30));
    match isolate::decide(isolate::namespaces(), true) {
        Ok(plan) => {
            assert_eq!(plan, Plan::Namespaces);
            assert_eq!(stdout(&result.unwrap()), "ran\n");
            eprintln!("SKIP: the refusal branch here: namespaces are available on this host (require_isolation_without_namespaces_is_a_denial takes them away)");
        }
        Err(why) => {
            let err = result.expect_err("refused");
            assert_eq!(err.exit_code(), 3);
            assert!(err.to_string().starts_with(&format!("plugin `adversary`: denied exec: run `bash`: {why}")), "{err}");
        }
    }
}

/// The host binary with namespaces made unavailable to it: it runs in a
/// user namespace of its own (as that namespace's root) whose limit on
/// network namespaces is 0, so its `unshare` fails with ENOSPC as it would
/// on a kernel without them. `None` (SKIP) where user namespaces are
/// unavailable to the test itself.
fn host_without_namespaces(dir: &std::path::Path, policy: &str, script: &str) -> Option<(std::process::Output, Duration)> {
    common::plugins_built();
    let policy_file = dir.join("policy.yaml");
    std::fs::write(&policy_file, policy).unwrap();
    let input = serde_json::json!({ "attack": "exec", "program": "bash", "args": ["-c", script] }).to_string();
    let started = Instant::now();
    let out = std::process::Command::new("unshare")
        .args(["-Ur", "sh", "-c", "echo 0 > /proc/sys/user/max_net_namespaces && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_taylordash"))
        .arg("--policy")
        .arg(&policy_file)
        .args(["--as", "tester", "--cache-dir"])
        .arg(dir.join("cache"))
        .arg("--audit-log")
        .arg(dir.join("audit.jsonl"))
        .args(["invoke", &test_plugin("adversary").display().to_string(), "--input", &input])
        .output()
        .expect("running unshare");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.starts_with("unshare:") || stderr.starts_with("sh:") {
        eprintln!("SKIP: cannot make namespaces unavailable to the host here: {stderr}");
        return None;
    }
    Some((out, took))
}

const NO_NAMESPACES: &str = "cannot create PID, mount, network and IPC namespaces: No space left on device (os error 28)";

/// Without namespaces the host says so on every call, still kills the
/// program's process group when it ends, and never waits for a daemon that
/// left the group past the deadline plus its grace.
#[test]
fn without_namespaces_the_host_warns_and_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let (job, daemon) = (marker(), format!("{}1", marker()));
    let policy = "principals: { tester: admin }\nplugins:\n  adversary:\n    grants:\n      exec: { programs: [bash], timeout: 2s }\n";
    let script = format!("sleep {job} & setsid sleep {daemon} & echo started");
    // The first call compiles the plugin into the cache; the second is
    // what the host takes for a program that exits at once.
    let Some(_) = host_without_namespaces(dir.path(), policy, "true") else { return };
    let Some((_, baseline)) = host_without_namespaces(dir.path(), policy, "true") else { return };
    let Some((out, took)) = host_without_namespaces(dir.path(), policy, &script) else { return };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout(&doc), "started\n");
    assert!(stderr.contains("exec: namespaces unavailable; the granted program sees the host's processes and network, and only its process group is killed when the call ends"), "{stderr}");
    assert!(stderr.contains(NO_NAMESPACES), "{stderr}");
    assert_eq!(survivors(&job), Vec::<String>::new(), "the background job dies with its process group");
    // The daemon left the group and holds the output pipes. Where the host
    // has a pids cgroup it dies with it; where not, it survives — the
    // documented limit of the fallback — and the host abandons the pipes
    // at the deadline (2 s) plus its grace.
    let escaped = survivors(&daemon);
    if std::path::Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
        assert_eq!(escaped, Vec::<String>::new(), "the daemon dies with the call's pids cgroup");
    }
    for pid in escaped.iter().filter_map(|s| s.split(':').next()?.parse::<i32>().ok()) {
        // SAFETY: kill takes integers; the pid is the test's own daemon, found by its unique marker.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(took < Duration::from_millis(2200) + baseline, "the host took {took:?}: more than the deadline (2 s) + 10% + its own {baseline:?}");
    eprintln!("fallback: returned in {took:?} (a program that exits at once: {baseline:?}); setsid daemons escaped: {}", escaped.len());
}

/// `require_isolation` where namespaces are unavailable: a denial (exit 3),
/// in the audit log, and the program never runs.
#[test]
fn require_isolation_without_namespaces_is_a_denial() {
    let dir = tempfile::tempdir().unwrap();
    let mark = marker();
    let policy = "principals: { tester: admin }\nplugins:\n  adversary:\n    grants:\n      exec: { programs: [bash], require_isolation: true }\n";
    let Some((out, _)) = host_without_namespaces(dir.path(), policy, &format!("touch ran; sleep {mark}")) else { return };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let want = format!("plugin `adversary`: denied exec: run `bash`: the grant requires isolation, but namespaces are unavailable here ({NO_NAMESPACES})");
    assert!(stderr.contains(&want), "{stderr}");
    assert_eq!(survivors(&mark), Vec::<String>::new(), "the program never ran");
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let exec: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["capability"] == "exec")
        .map(|e| (e["decision"].as_str().unwrap_or_default(), e["detail"].as_str().unwrap_or_default()))
        .collect();
    let detail = format!("run `bash`: the grant requires isolation, but namespaces are unavailable here ({NO_NAMESPACES})");
    assert_eq!(exec, [("deny", detail.as_str())]);
}

/// A host that is not root isolates through a user namespace mapping only
/// its own ids: the program keeps its uid, sees only its own processes and
/// has no network. Run as `nobody` (needs root to switch, and `setpriv`).
#[test]
fn a_host_that_is_not_root_isolates_through_a_user_namespace() {
    if !unsafe_is_root() || !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("SKIP: needs root and setpriv to run the host as nobody");
        return;
    }
    // nobody runs the host (and its compiler child) and reads the plugin from
    // this checkout: a checkout under a directory only root may enter (e.g.
    // `git clone` into `mktemp -d`, mode 0700) cannot be tested this way.
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_taylordash"));
    let closed = exe.ancestors().skip(1).find(|d| {
        std::fs::metadata(d).is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o001 == 0)
    });
    if let Some(closed) = closed {
        eprintln!("SKIP: nobody cannot reach the host binary: {} is not searchable by others", closed.display());
        return;
    }
    common::plugins_built();
    let dir = tempfile::tempdir().unwrap();
    // nobody writes its audit log and reads the policy here.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "principals: { nobody: admin }\nplugins:\n  adversary:\n    grants:\n      exec: { programs: [python3], timeout: 20s }\n").unwrap();
    let script = "import os, socket\n\
        print(os.getuid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n\
        try:\n\
        \x20   socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))\n\
        except OSError as e:\n\
        \x20   print(e.strerror)\n";
    let input = serde_json::json!({ "attack": "exec", "program": "python3", "args": ["-c", script] }).to_string();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_taylordash"))
        // `-v`: the isolation it reports is an info line (quiet by default).
        .arg("-v")
        .arg("--policy")
        .arg(&policy)
        .args(["--as", "nobody", "--no-cache", "--audit-log"])
        .arg(dir.path().join("audit.jsonl"))
        .args(["invoke", &test_plugin("adversary").display().to_string(), "--input", &input])
        .env("HOME", dir.path())
        .output()
        .expect("running setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("cannot create PID, mount, network and IPC namespaces") {
        eprintln!("SKIP: user namespaces are unavailable to nobody here: {stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("exec: isolated in its own PID, mount, network and IPC namespaces"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout(&doc), "65534 [1, 2]\nNetwork is unreachable\n", "{doc}");
}
