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
            eprintln!("SKIP: the refusal branch: namespaces are available on this host (see isolate's unit tests)");
        }
        Err(why) => {
            let err = result.expect_err("refused");
            assert_eq!(err.exit_code(), 3);
            assert!(err.to_string().starts_with(&format!("plugin `adversary`: denied exec: run `bash`: {why}")), "{err}");
        }
    }
}
