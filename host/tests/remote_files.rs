//! Workers without the orchestrator's filesystem, for real: a `taylordash
//! worker --cache-dir` started in its own mount namespace with a tmpfs over
//! the orchestrator's directory (so the workspace, the runs and the staging
//! directories do not exist for it), against a real Mosquitto, runs the
//! seed flow for `taylordash run --workers 0`. Every file lands in the
//! workspace, byte-identical to an in-process run; a second run of the same
//! flow fetches no blob the worker already holds (counted by `runs show`).
//!
//! Needs root (or CAP_SYS_ADMIN) for `unshare --mount`: without it the test
//! says SKIP and why.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{OwnMosquitto, free_port};

fn root() -> PathBuf {
    common::plugins_built().clone()
}

/// Whether this process may hide a directory under a tmpfs in a new mount namespace.
fn can_unshare() -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs td-probe /mnt && umount /mnt"])
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
}

/// A process whose output lines are collected; killed when dropped.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for out in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let l = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    l.lock().unwrap().push(line);
                }
            });
        }
        Proc { child, lines }
    }

    fn wait_for(&self, what: &str) {
        let until = Instant::now() + Duration::from_secs(30);
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(what)) {
            assert!(Instant::now() < until, "waited for `{what}`; the process printed:\n{}", self.lines.lock().unwrap().join("\n"));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every regular file under `dir`: relative path → bytes; `agents.json`
/// without the ids that name the run (`run_id`, `trace_id`).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = raw_tree(dir);
    if let Some(bytes) = files.get_mut("agents.json") {
        let mut doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        for volatile in ["run_id", "trace_id"] {
            assert!(doc.as_object_mut().unwrap().remove(volatile).is_some(), "agents.json names its {volatile}");
        }
        *bytes = serde_json::to_vec_pretty(&doc).unwrap();
    }
    files
}

fn raw_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The seed flow's inputs, as `cargo xtask demo` lays them out.
fn seed_workspace(ws: &Path) {
    std::fs::create_dir_all(ws).unwrap();
    for name in ["backlog.yaml", "failures.json", "snapshot.json"] {
        std::fs::copy(root().join("pipelines/examples").join(name), ws.join(name)).unwrap();
    }
    std::fs::write(ws.join("bash_runner.json"), r#"{"commands": [{"program": "python3", "args": ["-c", "print('1 passed')"]}]}"#).unwrap();
}

struct Rig {
    home: tempfile::TempDir,
}

impl Rig {
    fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    /// `taylordash` as one party: its own HOME, caches and audit log under `party/`.
    fn taylordash(&self, party: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        self.party_env(&mut cmd, party);
        cmd.arg("--policy").arg(self.path("shared/policy.yaml")).args(args).current_dir(root());
        cmd
    }

    fn party_env(&self, cmd: &mut Command, party: &str) {
        let dir = self.path(party);
        cmd.env("HOME", &dir)
            .env("USER", "tester")
            .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
            .env("TAYLORDASH_RUNS_DIR", dir.join("runs"))
            .env("TAYLORDASH_AUDIT_LOG", dir.join("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", root().join("target/plugins"))
            .env_remove("TAYLORDASH_BROKER")
            .env_remove("TAYLORDASH_CRASH_AT")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    }

    /// A worker that cannot see `orch/`: a tmpfs hides it in the worker's
    /// own mount namespace.
    fn hidden_worker(&self, url: &str, prefix: &str) -> Proc {
        let mut cmd = Command::new("unshare");
        self.party_env(&mut cmd, "worker");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", r#"mount -t tmpfs td-hidden "$HIDE" && exec "$@""#, "sh"])
            .arg(env!("CARGO_BIN_EXE_taylordash"))
            .arg("--policy")
            .arg(self.path("shared/policy.yaml"))
            .args(["worker", "--broker", url, "--prefix", prefix, "--session-expiry", "2"])
            .arg("--bus-key")
            .arg(self.path("shared/bus.key"))
            .arg("--cache-dir")
            .arg(self.path("worker/cache"))
            .env("HIDE", self.path("orch"))
            .current_dir(self.path("worker"));
        Proc::spawn(cmd)
    }

    fn run_over_bus(&self, ws: &str, url: &str, prefix: &str) -> String {
        let key = self.path("shared/bus.key");
        let ws = self.path(ws);
        let out = self
            .taylordash("orch", &["run", "pipelines/orchestration_flow.yaml", "--workspace", ws.to_str().unwrap(), "--broker", url,
                "--workers", "0", "--prefix", prefix, "--bus-key", key.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "the run over the bus failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string()
    }

    fn runs_show(&self, run: &str) -> String {
        let out = self.taylordash("orch", &["runs", "show", run]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `files over the bus: … workspace blobs N fetched, C from workers' caches; O /out blobs back`.
fn moved(show: &str) -> (u64, u64, u64) {
    let line = show.lines().find(|l| l.starts_with("files over the bus: ")).unwrap_or_else(|| panic!("no blob line in:\n{show}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let n = numbers.len();
    (numbers[n - 3], numbers[n - 2], numbers[n - 1])
}

#[test]
fn a_worker_that_cannot_see_the_workspace_runs_the_seed_flow() {
    if let Err(why) = can_unshare() {
        eprintln!("SKIP a_worker_that_cannot_see_the_workspace_runs_the_seed_flow: `unshare --mount` is not allowed here ({why}); it needs root");
        return;
    }
    let rig = Rig { home: tempfile::tempdir().unwrap() };
    for dir in ["shared", "orch", "worker", "local"] {
        std::fs::create_dir_all(rig.path(dir)).unwrap();
    }
    std::fs::write(
        rig.path("shared/policy.yaml"),
        "principals: { tester: admin }\nplugins:\n  bash_runner:\n    grants:\n      exec: { programs: [python3] }\n",
    )
    .unwrap();
    std::fs::write(rig.path("shared/bus.key"), "7c".repeat(32)).unwrap();
    std::fs::set_permissions(rig.path("shared/bus.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    seed_workspace(&rig.path("orch/ws"));
    seed_workspace(&rig.path("orch/ws2"));
    seed_workspace(&rig.path("local/ws"));

    // The hiding works: inside such a namespace the workspace is not there.
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", r#"mount -t tmpfs td-hidden "$HIDE" && test ! -e "$HIDE/ws/backlog.yaml""#])
        .env("HIDE", rig.path("orch"))
        .status()
        .unwrap();
    assert!(probe.success(), "a tmpfs over orch/ hides the workspace");

    let mosquitto = OwnMosquitto::start(free_port());
    let url = mosquitto.url();
    let prefix = format!("td-remote-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let worker = rig.hidden_worker(&url, &prefix);
    worker.wait_for("ready");

    let first = rig.run_over_bus("orch/ws", &url, &prefix);
    // The reference: the same flow on one machine, in process.
    let out = rig
        .taylordash("local", &["run", "pipelines/orchestration_flow.yaml", "--workspace", rig.path("local/ws").to_str().unwrap(), "--broker", "in-process", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "the in-process run failed: {}", String::from_utf8_lossy(&out.stderr));

    let remote = tree(&rig.path("orch/ws"));
    let local = tree(&rig.path("local/ws"));
    assert_eq!(remote.keys().collect::<Vec<_>>(), local.keys().collect::<Vec<_>>(), "the same files");
    for (path, bytes) in &local {
        assert!(remote[path] == *bytes, "{path} differs from the in-process run's");
    }
    assert!(local.len() > 20, "the seed flow wrote its files ({} in all)", local.len());

    let show = rig.runs_show(&first);
    let (fetched, cached, back) = moved(&show);
    assert!(fetched > 0 && back > 0, "the first run moved blobs both ways:\n{show}");
    let written = local.len() as u64 - 5; // less the four inputs and agents.json (the orchestrator's)
    assert!(back >= written, "every generated file came back as a blob ({back} of {written})");

    // The same flow again on a fresh copy of the inputs: the worker fetches
    // only what it has never held — the `agents.json` versions of this run,
    // which name it — and nothing unchanged.
    let blobs = rig.path("worker/cache/blobs");
    let held: Vec<String> = raw_tree(&blobs).into_keys().collect();
    let second = rig.run_over_bus("orch/ws2", &url, &prefix);
    let (fetched2, cached2, _) = moved(&rig.runs_show(&second));
    eprintln!("blobs: first run fetched {fetched}, cached {cached}, {back} back; second run fetched {fetched2}, cached {cached2}");
    assert_eq!(tree(&rig.path("orch/ws2")), local);
    assert!(cached2 > fetched2 && cached2 > 0, "most of the second run's blobs came from the cache");
    let new: BTreeMap<String, Vec<u8>> = raw_tree(&blobs).into_iter().filter(|(k, _)| !held.contains(k)).collect();
    assert_eq!(new.len() as u64, fetched2, "every blob the second run fetched is new to the worker (worker said:\n{})", worker.output());
    for (digest, bytes) in &new {
        let doc: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_else(|_| panic!("blob {digest} is not an agents.json"));
        assert_eq!(doc["run_id"], second.as_str(), "blob {digest} fetched in the second run is its agents.json");
    }
}
