//! Who the caller is, as the `taylordash` binary decides it:
//! - `identity: os`: the caller is the test process's OS account (read with
//!   `id -un`, never written down here); `--as` from a viewer's account is
//!   refused with exit 3 and an audit event naming both; an admin's `--as`
//!   is allowed and every event after it names both; an unmapped account
//!   has no role; `$USER` changes nothing;
//! - `policy check` places a bad `identity:` at its file:line:col;
//! - a `taylordash worker` names itself (`--identity`, else its bus
//!   username, else its client id) in every audit event it writes.

mod common;

use common::Proc;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        common::plugins_built();
        let root = tempfile::tempdir().unwrap();
        for d in ["home", "ws"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        std::fs::write(root.path().join("ws/probe.json"), r#"{"agents":{}}"#).unwrap();
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> String {
        std::fs::write(self.path(rel), text).unwrap();
        self.path(rel).display().to_string()
    }

    /// `taylordash` with a clean environment in which `$USER` claims to be
    /// `alice`: under `identity: os` that must count for nothing.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("USER", "alice")
            .env("LOGNAME", "alice")
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("XDG_STATE_HOME", self.path("home/state"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", common::test_plugin("probe").parent().unwrap());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn audit(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.path("audit.jsonl")) {
            Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The OS account of this process (what getpwuid says of the effective
/// uid), or `None` with a SKIP note when it cannot be read.
fn account() -> Option<String> {
    match Command::new("id").arg("-un").output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        _ => {
            eprintln!("SKIP: `id -un` cannot name this process's OS account");
            None
        }
    }
}

const ADMIN_STAGE: &str = r#"orchestration_flow:
  stages:
    - stage: "only"
      agent: "one"
      tools: ["probe"]
      rbac: ["admin"]
"#;

fn field<'a>(e: &'a Value, key: &str) -> &'a str {
    e[key].as_str().unwrap_or_default()
}

#[test]
fn os_identity_refuses_as_from_a_viewer_account() {
    let Some(me) = account() else { return };
    let env = Env::new();
    let policy = env.write("policy.yaml", &format!("identity: os\nprincipals: {{ \"{me}\": viewer, alice: admin }}\n"));
    let out = env.run(&["--policy", &policy, "--as", "alice", "invoke", "echo", "--input", "{}"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let expected = format!(
        "error: --as alice refused: the policy's identity is `os`, so the caller is OS account `{me}`, which has role `viewer`; only role `admin` may act as another principal"
    );
    assert!(stderr(&out).lines().any(|l| l == expected), "{}", stderr(&out));
    let events = env.audit();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (field(e, "principal"), field(e, "capability"), field(e, "decision"), field(e, "detail")),
        (me.as_str(), "identity", "deny", &expected["error: ".len()..])
    );

    // Without --as, $USER=alice does not make the caller alice.
    let pipeline = env.write("p.yaml", ADMIN_STAGE);
    let ws = env.path("ws").display().to_string();
    let out = env.run(&["--policy", &policy, "run", &pipeline, "--workspace", &ws, "--broker", "in-process", "-q"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("denied: stage `only` (agent `one`) may be run by role admin; `{me}` has role `viewer`")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn os_identity_lets_an_admin_act_as_another_and_records_both() {
    let Some(me) = account() else { return };
    let env = Env::new();
    let policy = env.write("policy.yaml", &format!("identity: os\nprincipals: {{ \"{me}\": admin, alice: maintainer }}\n"));
    let out = env.run(&["--policy", &policy, "--as", "alice", "invoke", "echo", "--input", r#"{"a":1}"#]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"a\":1}\n");
    let events = env.audit();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (field(e, "principal"), field(e, "actor"), field(e, "capability"), field(e, "decision"), field(e, "detail")),
        ("alice", me.as_str(), "identity", "allow", format!("OS account `{me}` (role `admin`) acts as `alice` (role `maintainer`)").as_str())
    );

    // The events of the call itself carry both names too: a refused socket.
    let adversary = common::test_plugin("adversary").display().to_string();
    let out = env.run(&["--policy", &policy, "--as", "alice", "invoke", &adversary, "--input", r#"{"attack":"tcp_connect","port":9}"#]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let events = env.audit();
    let network: Vec<_> = events.iter().filter(|e| field(e, "capability") == "network").collect();
    assert_eq!(network.len(), 1, "{events:?}");
    assert_eq!((field(network[0], "principal"), field(network[0], "actor")), ("alice", me.as_str()));

    // And `--as` really changes the principal: alice (maintainer) may not run an admin stage.
    let pipeline = env.write("p.yaml", ADMIN_STAGE);
    let ws = env.path("ws").display().to_string();
    let out = env.run(&["--policy", &policy, "--as", "alice", "run", &pipeline, "--workspace", &ws, "--broker", "in-process", "-q"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("`alice` has role `maintainer`"), "{}", stderr(&out));
    // The account itself may.
    let out = env.run(&["--policy", &policy, "run", &pipeline, "--workspace", &ws, "--broker", "in-process", "-q"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn os_identity_gives_an_unmapped_account_no_role() {
    let Some(me) = account() else { return };
    let env = Env::new();
    let policy = env.write("policy.yaml", "identity: os\nprincipals: { alice: admin }\n");
    let pipeline = env.write("p.yaml", ADMIN_STAGE);
    let ws = env.path("ws").display().to_string();
    let out = env.run(&["--policy", &policy, "run", &pipeline, "--workspace", &ws, "--broker", "in-process", "-q"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("denied: stage `only` (agent `one`) may be run by role admin; `{me}` has role `none`")),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["--policy", &policy, "--as", "alice", "run", &pipeline, "--workspace", &ws, "--broker", "in-process", "-q"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let expected = format!(
        "error: --as alice refused: the policy's identity is `os`, so the caller is OS account `{me}`, which has no role; only role `admin` may act as another principal"
    );
    assert!(stderr(&out).lines().any(|l| l == expected), "{}", stderr(&out));
    assert!(!env.path("ws/one.txt").exists());
    let denied: Vec<(String, String)> = env
        .audit()
        .iter()
        .filter(|e| field(e, "decision") == "deny")
        .map(|e| (field(e, "principal").to_string(), field(e, "capability").to_string()))
        .collect();
    assert_eq!(denied, [(me.clone(), "rbac".to_string()), (me, "identity".to_string())]);
}

#[test]
fn claimed_identity_stays_the_default() {
    let env = Env::new();
    let pipeline = env.write("p.yaml", ADMIN_STAGE);
    let ws = env.path("ws").display().to_string();
    for text in ["principals: { alice: admin }\n", "identity: claimed\nprincipals: { alice: admin }\n"] {
        let policy = env.write("policy.yaml", text);
        let out = env.run(&["--policy", &policy, "--as", "alice", "run", &pipeline, "--workspace", &ws, "--broker", "in-process", "-q"]);
        assert_eq!(code(&out), 0, "{text}: {}", stderr(&out));
        let check = env.run(&["policy", "check", &policy]);
        assert_eq!(code(&check), 0, "{text}: {}", stderr(&check));
    }
}

#[test]
fn policy_check_places_a_bad_identity_at_its_line_and_column() {
    let env = Env::new();
    let policy = env.write("policy.yaml", "principals: { alice: admin }\nidentity: oss\n");
    let out = env.run(&["policy", "check", &policy]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let problems: Vec<String> = stderr(&out).lines().filter(|l| l.starts_with(&policy)).map(str::to_string).collect();
    assert_eq!(problems, [format!("{policy}:2:11: identity: unknown value `oss` (did you mean \"os\"?); values are claimed, os")]);
    let out = env.write("policy.yaml", "identity: { os: true }\n");
    let check = env.run(&["policy", "check", &out]);
    assert_eq!(code(&check), 2);
    assert!(stderr(&check).contains(&format!("{out}:1:11: identity: must be a string, found a mapping")), "{}", stderr(&check));
    // Every other command refuses it the same way.
    let run = env.run(&["--policy", &out, "invoke", "echo", "--input", "{}"]);
    assert_eq!(code(&run), 2, "{}", stderr(&run));
}

// ---------------------------------------------------------------- workers


#[test]
fn a_worker_names_itself_in_the_audit_events_it_writes() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _broker = Proc::spawn(env.cmd(&["broker", "--port", &port.to_string()]));
    let url = format!("mqtt://127.0.0.1:{port}");
    _broker.wait_for(&url);
    let key = env.write("bus.key", &"5a".repeat(32));
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The worker's policy pins probe to a digest it does not have: each task
    // it takes is refused, a `digest` denial the worker itself audits.
    let policy = env.write("worker-policy.yaml", &format!("plugins:\n  probe:\n    digest: \"sha256:{}\"\n", "0".repeat(64)));
    let prefix = format!("td-test/identity-{}", std::process::id());
    let worker = Proc::spawn(env.cmd(&[
        "--policy", &policy, "worker", "--broker", &url, "--prefix", &prefix, "--bus-key", &key, "--session-expiry", "2",
        "--identity", "build-7",
    ]));
    worker.wait_for("ready");
    let pipeline = env.write("p.yaml", ADMIN_STAGE);
    let ws = env.path("ws").display().to_string();
    let out = env.run(&["run", &pipeline, "--workspace", &ws, "--broker", &url, "--workers", "0", "--prefix", &prefix, "--bus-key", &key, "-q"]);
    assert_eq!(code(&out), 1, "the run fails: its only task was refused\n{}", stderr(&out));
    let events = env.audit();
    let digest: Vec<_> = events.iter().filter(|e| field(e, "capability") == "digest").collect();
    assert!(!digest.is_empty(), "{events:?}");
    for e in &digest {
        assert_eq!((field(e, "worker"), field(e, "decision"), field(e, "plugin")), ("build-7", "deny", "probe"), "{e}");
    }
    // The orchestrator's own decision is not a worker's.
    let rbac: Vec<_> = events.iter().filter(|e| field(e, "capability") == "rbac").collect();
    assert_eq!(rbac.len(), 1, "{events:?}");
    assert_eq!(rbac[0].get("worker"), None);
}

#[test]
fn a_worker_identity_defaults_to_its_bus_username_then_its_client_id() {
    use taylordash::bus::{BrokerAddr, Credentials, Topics, WorkerOptions};
    let mut opts = WorkerOptions::new(vec![BrokerAddr::tcp("127.0.0.1", 1883)], Topics::new("t").unwrap());
    opts.client.client_id = "td-worker-abc".into();
    assert_eq!(opts.identity(), "td-worker-abc");
    opts.client.credentials = Some(Credentials { username: "worker-1".into(), password: "pw".into() });
    assert_eq!(opts.identity(), "worker-1");
    opts.identity = Some("build-7".into());
    assert_eq!(opts.identity(), "build-7");
}
