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
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{OwnMosquitto, Proc, free_port};

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
    /// Extra environment for every party (the S3 store's endpoint and credentials).
    env: Vec<(String, String)>,
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
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
    }

    /// A worker that cannot see `orch/`: a tmpfs hides it in the worker's
    /// own mount namespace.
    fn hidden_worker(&self, url: &str, prefix: &str, cache: &str, extra: &[&str]) -> Proc {
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
            .arg(self.path(cache))
            .args(extra)
            .env("HIDE", self.path("orch"))
            .current_dir(self.path("worker"));
        Proc::spawn(cmd)
    }

    fn run_over_bus(&self, ws: &str, url: &str, prefix: &str, extra: &[&str]) -> std::process::Output {
        let key = self.path("shared/bus.key");
        let ws = self.path(ws);
        let mut args = vec!["run", "pipelines/orchestration_flow.yaml", "--workspace", ws.to_str().unwrap(), "--broker", url,
            "--workers", "0", "--prefix", prefix, "--bus-key", key.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        self.taylordash("orch", &args).output().unwrap()
    }

    /// A run over the bus that must succeed; its id.
    fn run_ok(&self, ws: &str, url: &str, prefix: &str, extra: &[&str]) -> String {
        let out = self.run_over_bus(ws, url, prefix, extra);
        assert!(out.status.success(), "the run over the bus failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string()
    }

    /// The seed flow in process, on one machine: the reference workspace.
    fn local_run(&self) -> BTreeMap<String, Vec<u8>> {
        let out = self
            .taylordash("local", &["run", "pipelines/orchestration_flow.yaml", "--workspace", self.path("local/ws").to_str().unwrap(), "--broker", "in-process", "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "the in-process run failed: {}", String::from_utf8_lossy(&out.stderr));
        tree(&self.path("local/ws"))
    }

    /// Directories, the policy (bash_runner may run python3) and the bus key;
    /// the seed inputs in each of `workspaces`.
    fn new(env: Vec<(String, String)>, workspaces: &[&str]) -> Rig {
        let rig = Rig { home: tempfile::tempdir().unwrap(), env };
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
        for ws in workspaces.iter().chain(&["local/ws"]) {
            seed_workspace(&rig.path(ws));
        }
        rig
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
    let rig = Rig::new(Vec::new(), &["orch/ws", "orch/ws2"]);

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
    let worker = rig.hidden_worker(&url, &prefix, "worker/cache", &[]);
    worker.wait_for("ready");

    let first = rig.run_ok("orch/ws", &url, &prefix, &[]);
    let local = rig.local_run();
    let remote = tree(&rig.path("orch/ws"));
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
    let second = rig.run_ok("orch/ws2", &url, &prefix, &[]);
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

/// `moto_server` from the venv `tests/toolset/moto_venv.sh` makes.
fn moto_server() -> Result<PathBuf, String> {
    let venv = std::env::var_os("TD_VENV").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/td-venv"));
    let bin = venv.join("bin/moto_server");
    if bin.is_file() {
        return Ok(bin);
    }
    let why = format!("{} is missing (bash tests/toolset/moto_venv.sh makes it)", bin.display());
    if std::env::var("TAYLORDASH_REQUIRE_S3").is_ok_and(|v| v == "1") {
        panic!("{why}; TAYLORDASH_REQUIRE_S3=1");
    }
    Err(why)
}

/// Run `code` with `s3`, a boto3 client of the moto server on `port`
/// (Python from the same venv as `moto_server`); what it printed.
fn s3(moto: &Path, port: u16, code: &str) -> String {
    let python = moto.with_file_name("python");
    let script = format!("import boto3\ns3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', aws_access_key_id='testing', aws_secret_access_key='testing', region_name='us-east-1')\n{code}\n");
    let out = Command::new(python).arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One plain HTTP/1.1 request to moto (which takes unsigned requests); the status.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn through_an_s3_store_a_hidden_worker_runs_the_seed_flow_and_a_tampered_blob_is_refused() {
    const TEST: &str = "through_an_s3_store_a_hidden_worker_runs_the_seed_flow_and_a_tampered_blob_is_refused";
    if let Err(why) = can_unshare() {
        eprintln!("SKIP {TEST}: `unshare --mount` is not allowed here ({why}); it needs root");
        return;
    }
    let moto = match moto_server() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("SKIP {TEST}: {why}");
            return;
        }
    };
    let port = free_port();
    let _moto = Proc::spawn({
        let mut c = Command::new(&moto);
        c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        c
    });
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(http(port, "PUT", "/td-blobs", b""), 200, "bucket created");
    let aws = [
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
    ];
    let rig = Rig::new(aws.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), &["orch/ws", "orch/ws3"]);
    let store = ["--artifacts", "s3://td-blobs/runs"];
    let mosquitto = OwnMosquitto::start(free_port());
    let url = mosquitto.url();
    let prefix = format!("td-s3-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let worker = rig.hidden_worker(&url, &prefix, "worker/cache", &store);
    worker.wait_for("ready");

    let run = rig.run_ok("orch/ws", &url, &prefix, &store);
    assert_eq!(tree(&rig.path("orch/ws")), rig.local_run(), "the same files as on one machine");
    let (fetched, _, back) = moved(&rig.runs_show(&run));
    assert!(fetched > 0 && back > 0, "blobs went through the store both ways");
    // The store holds the seed's backlog under its digest.
    let backlog = std::fs::read(rig.path("orch/ws/backlog.yaml")).unwrap();
    let digest = taylordash::blobs::sha256_hex(&backlog);
    let object = format!("runs/{digest}");
    assert_eq!(s3(&moto, port, &format!("print(s3.get_object(Bucket='td-blobs', Key='{object}')['Body'].read().decode(), end='')")), String::from_utf8(backlog.clone()).unwrap(), "the backlog is in the store as {object}");
    drop(worker);

    // Someone with write access to the bucket changes the backlog's blob: a
    // worker that has not cached it refuses it, and says so in its audit log.
    s3(&moto, port, &format!("s3.put_object(Bucket='td-blobs', Key='{object}', Body=b'items: [{{id: evil}}]\\n')"));
    let fresh = rig.hidden_worker(&url, &prefix, "worker/cache-fresh", &store);
    fresh.wait_for("ready");
    let out = rig.run_over_bus("orch/ws3", &url, &prefix, &store);
    assert!(!out.status.success(), "a run on a tampered blob must not complete");
    let audit = std::fs::read_to_string(rig.path("worker/audit.jsonl")).unwrap_or_default();
    let refused: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["capability"] == "blob:digest")
        .collect();
    assert!(!refused.is_empty(), "the refusal is audited; the worker said:\n{}", fresh.output());
    assert!(refused[0]["detail"].as_str().unwrap().starts_with(&format!("blob {digest}: its content hashes to ")), "{}", refused[0]);
    assert_eq!(refused[0]["decision"], "deny");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("blob {digest}: its content hashes to ")), "the run says why:\n{stderr}");
}
