//! `cargo xtask chaos [--runs N] [--seed S]`: the seed flow under faults.
//!
//! A harness, not a unit test. It runs `pipelines/orchestration_flow.yaml`
//! (as `cargo xtask demo` does) over a real Mosquitto with persistence,
//! three `taylordash worker` processes and an orchestrator `taylordash run
//! --workers 0`: once without a fault (the baseline), then N times with one
//! fault each, at a random instant of the run (round-robin over the kinds,
//! so a short soak still meets each):
//!
//! - `worker_kill`: SIGKILL one worker (a fresh one takes its place);
//! - `broker_restart`: SIGTERM Mosquitto and start it again on its data;
//! - `orchestrator_kill`: SIGKILL the orchestrator, then `taylordash resume`;
//! - `drop`, `duplicate`, `reorder`: for 3 s, MQTT PUBLISH packets between
//!   the orchestrator and the broker are dropped (one in three), sent twice,
//!   or swapped with the next packet (held at most 100 ms), by a small
//!   frame-aware proxy;
//! - `disk_full`: the runs directory (a 256 MiB tmpfs) is filled; the run
//!   must halt with a clear reason, then the space is freed and the run
//!   resumed.
//!
//! After every run it checks: the run completed (or halted with a reason,
//! then completed on resume); no task attempt executed twice (the workers'
//! `task done` lines, per `msg_id`); no task lost (all done in the journal);
//! the workspace byte-identical to the baseline's; the DLQ holding nothing
//! for the run. It prints a table and writes `target/chaos/report.md`.
//! Exit non-zero when any check failed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const KINDS: [&str; 7] = ["broker_restart", "worker_kill", "orchestrator_kill", "drop", "duplicate", "reorder", "disk_full"];
const USAGE: &str = "usage: cargo xtask chaos [--runs N] [--seed S] [--kinds K1,K2,…] (kinds: broker_restart, worker_kill, \
                     orchestrator_kill, drop, duplicate, reorder, disk_full)";
/// How long a run may take before it counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(600);

pub fn chaos(args: &[String]) -> anyhow::Result<()> {
    let (mut runs, mut seed, mut kinds) = (None, now_nanos(), KINDS.to_vec());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next().context(USAGE)?;
        let number = || value.parse::<u64>().ok().context(USAGE);
        match a.as_str() {
            "--runs" => runs = Some(number()? as usize),
            "--seed" => seed = number()?,
            "--kinds" => {
                kinds = value.split(',').map(|k| KINDS.iter().find(|known| **known == k).copied().context(USAGE)).collect::<anyhow::Result<_>>()?;
            }
            _ => bail!("{USAGE}"),
        }
    }
    let runs = runs.unwrap_or(kinds.len());
    let root = xtask::workspace_root();
    super::build()?;
    super::build_as_tests()?;
    let dir = root.join("target/chaos");
    let _ = Command::new("umount").arg(dir.join("runs")).stderr(Stdio::null()).status();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("logs"))?;
    let python = super::demo_venv(&root.join("target/demo/venv"))?;
    let h = Harness::new(&root, &dir, &python, seed)?;
    println!("chaos: seed {seed} (--seed {seed} repeats the instants); {runs} fault runs after a baseline");

    // The first run compiles every plugin into the cache: the baseline is
    // the second, as warm as the fault runs after it.
    let warm = h.run_once(0, None)?;
    if !warm.completed {
        bail!("the fault-free warm-up run did not complete: {}", warm.note);
    }
    let baseline = h.run_once(0, None)?;
    if !baseline.completed {
        bail!("the fault-free baseline run did not complete: {}", baseline.note);
    }
    println!("chaos: baseline {} completed in {:.1} s, {} files", baseline.run_id, baseline.secs, baseline.files.len());
    let mut rng = Rng(seed | 1);
    let mut results = Vec::new();
    for i in 0..runs {
        let kind = kinds[i % kinds.len()];
        let at = Duration::from_secs_f64(baseline.secs * (0.15 + 0.6 * rng.unit()));
        let mut r = h.run_once(i + 1, Some((kind, at)))?;
        r.compare(&baseline);
        println!(
            "chaos: run {:>2} {kind:<17} at {:>5.1} s: {} in {:.1} s (+{:.1} s), doubled {}, lost {}, {}{}",
            i + 1,
            at.as_secs_f64(),
            if r.completed { "completed" } else { "NOT completed" },
            r.secs,
            r.secs - baseline.secs,
            r.doubled,
            r.lost,
            if r.diff.is_empty() { "workspace identical".to_string() } else { format!("workspace differs: {}", r.diff.join(", ")) },
            if r.note.is_empty() { String::new() } else { format!(" — {}", r.note) }
        );
        results.push((kind, r, baseline.secs));
    }
    let report = table(&results, seed, &baseline);
    println!("\n{report}");
    std::fs::write(dir.join("report.md"), &report)?;
    let failed = results.iter().filter(|(_, r, _)| !r.ok()).count();
    if failed > 0 {
        bail!("{failed} of {} fault runs failed a check; logs in {}", results.len(), dir.display());
    }
    Ok(())
}

/// The parts every run shares: broker, proxy, workers, policy, key.
struct Harness {
    root: PathBuf,
    dir: PathBuf,
    runs: PathBuf,
    policy: PathBuf,
    key: PathBuf,
    runner: String,
    prefix: String,
    broker: Mutex<Mosquitto>,
    proxy: Proxy,
    workers: Mutex<Vec<Child>>,
    /// Whether `runs` is a tmpfs this harness may fill.
    tmpfs: bool,
    seed: u64,
}

/// What one run did, and how it compares with the baseline.
struct Outcome {
    run_id: String,
    completed: bool,
    secs: f64,
    files: BTreeMap<String, String>,
    doubled: usize,
    lost: usize,
    dlq: usize,
    diff: Vec<String>,
    note: String,
    skipped: bool,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.skipped || (self.completed && self.doubled == 0 && self.lost == 0 && self.dlq == 0 && self.diff.is_empty())
    }

    fn compare(&mut self, baseline: &Outcome) {
        if self.skipped {
            return;
        }
        let keys: BTreeSet<&String> = self.files.keys().chain(baseline.files.keys()).collect();
        self.diff = keys.into_iter().filter(|k| self.files.get(*k) != baseline.files.get(*k)).map(|k| k.to_string()).collect();
    }
}

impl Harness {
    fn new(root: &Path, dir: &Path, python: &str, seed: u64) -> anyhow::Result<Self> {
        let runs = dir.join("runs");
        std::fs::create_dir_all(&runs)?;
        let tmpfs = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256m", "tmpfs"])
            .arg(&runs)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !tmpfs {
            println!("chaos: SKIP disk_full: cannot mount a tmpfs on {} (needs root or CAP_SYS_ADMIN)", runs.display());
        }
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let runner = format!(
            "{{\"commands\": [{{\"program\": {}, \"args\": [\"-B\", \"-m\", \"pytest\", \"-q\", \
             \"-p\", \"no:cacheprovider\", \"-o\", \"asyncio_default_fixture_loop_scope=function\"]}}]}}\n",
            quote(python)
        );
        let policy = dir.join("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "# Written by `cargo xtask chaos`.\nprincipals: {{ chaos: admin }}\nplugins:\n  bash_runner:\n    quotas: {{ timeout: 300s }}\n    grants:\n      exec: {{ programs: [{}], timeout: 280s }}\n    max_role_to_grant: maintainer\n",
                quote(python)
            ),
        )?;
        let key = dir.join("bus.key");
        std::fs::write(&key, format!("{:016x}", seed).repeat(4))?;
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let broker = Mosquitto::start(&dir.join("mosquitto"), free_port()?)?;
        let proxy = Proxy::start(broker.port)?;
        let h = Harness {
            root: root.to_path_buf(),
            dir: dir.to_path_buf(),
            runs,
            policy,
            key,
            runner,
            prefix: format!("chaos-{:x}", seed & 0xffff_ffff),
            broker: Mutex::new(broker),
            proxy,
            workers: Mutex::new(Vec::new()),
            tmpfs,
            seed,
        };
        for n in 0..3 {
            let w = h.worker(n)?;
            h.workers.lock().unwrap_or_else(|p| p.into_inner()).push(w);
        }
        Ok(h)
    }

    /// `taylordash` with this harness's home, plugins, policy and runs.
    fn taylordash(&self) -> Command {
        let mut cmd = Command::new(self.root.join("target/debug/taylordash"));
        cmd.current_dir(&self.root)
            .env("HOME", self.dir.join("home"))
            .env("TAYLORDASH_AUDIT_LOG", self.dir.join("audit.jsonl"))
            .env_remove("TAYLORDASH_BROKER")
            .arg("--plugins-dir")
            .arg(self.root.join("target/plugins"))
            .arg("--policy")
            .arg(&self.policy)
            .args(["--as", "chaos", "--runs-dir"])
            .arg(&self.runs);
        cmd
    }

    fn bus_args(&self, broker: &str) -> Vec<String> {
        let key = self.key.display().to_string();
        ["--broker", broker, "--prefix", &self.prefix, "--bus-key", &key].map(String::from).to_vec()
    }

    fn worker(&self, n: usize) -> anyhow::Result<Child> {
        let path = self.dir.join(format!("logs/worker-{n}.log"));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let before = log.metadata()?.len() as usize;
        let port = self.broker.lock().unwrap_or_else(|p| p.into_inner()).port;
        let mut child = self
            .taylordash()
            .arg("worker")
            .args(self.bus_args(&format!("mqtt://127.0.0.1:{port}")))
            .env("TAYLORDASH_LOG", "warn,taylordash::bus::worker=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting a worker")?;
        // Ready once it says so in its log.
        let until = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&path).unwrap_or_default().get(before..).is_some_and(|l| l.contains("ready")) {
            if Instant::now() > until || child.try_wait()?.is_some() {
                bail!("worker {n} did not start; see {}", path.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(child)
    }

    /// One run of the seed flow; with `fault`, that fault at that instant.
    fn run_once(&self, index: usize, fault: Option<(&str, Duration)>) -> anyhow::Result<Outcome> {
        let mut out = Outcome {
            run_id: String::new(),
            completed: false,
            secs: 0.0,
            files: BTreeMap::new(),
            doubled: 0,
            lost: 0,
            dlq: 0,
            diff: Vec::new(),
            note: String::new(),
            skipped: false,
        };
        if fault.is_some_and(|(k, _)| k == "disk_full") && !self.tmpfs {
            out.skipped = true;
            out.completed = true;
            out.note = "SKIP: no tmpfs".into();
            return Ok(out);
        }
        let ws = self.dir.join(format!("ws-{index}"));
        super::fresh_workspace(&self.root, &ws, &self.runner, &[])?;
        let proxy_url = format!("mqtt://127.0.0.1:{}", self.proxy.port);
        let started = Instant::now();
        let mut run = self
            .taylordash()
            .args(["run", "pipelines/orchestration_flow.yaml", "--workers", "0", "-q", "--workspace"])
            .arg(&ws)
            .args(self.bus_args(&proxy_url))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.join(format!("logs/run-{index}.log")))?)
            .spawn()
            .context("starting taylordash run")?;
        let mut stdout = run.stdout.take().context("run stdout")?;
        let id = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s.lines().next().unwrap_or_default().trim().to_string()
        });
        let mut resumes = 0;
        if let Some((kind, at)) = fault {
            std::thread::sleep(at);
            match kind {
                "broker_restart" => {
                    let mut b = self.broker.lock().unwrap_or_else(|p| p.into_inner());
                    b.terminate();
                    *b = Mosquitto::start(&self.dir.join("mosquitto"), b.port)?;
                }
                "worker_kill" => {
                    let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
                    let n = (self.seed as usize + index) % workers.len();
                    let _ = workers[n].kill();
                    let _ = workers[n].wait();
                    drop(workers);
                    let fresh = self.worker(n)?;
                    self.workers.lock().unwrap_or_else(|p| p.into_inner())[n] = fresh;
                }
                "orchestrator_kill" => {
                    let _ = run.kill();
                    resumes += 1;
                }
                "drop" | "duplicate" | "reorder" => {
                    self.proxy.set(kind);
                    std::thread::sleep(Duration::from_secs(3));
                    self.proxy.set("pass");
                }
                "disk_full" => fill(&self.runs)?,
                other => bail!("unknown fault {other}"),
            }
        }
        let status = wait(&mut run, RUN_LIMIT)?;
        out.run_id = id.join().unwrap_or_default();
        if out.run_id.is_empty() {
            bail!("run {index} printed no run id; see {}", self.dir.join(format!("logs/run-{index}.log")).display());
        }
        if fault.is_some_and(|(k, _)| k == "disk_full") {
            let _ = std::fs::remove_file(self.runs.join("filler"));
            if status.success() {
                out.note = "the disk filled after the run ended".into();
            } else {
                let log = std::fs::read_to_string(self.dir.join(format!("logs/run-{index}.log"))).unwrap_or_default();
                out.note = format!("halted: {}", log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(nothing said)").trim());
                resumes += 1;
            }
        } else if !status.success() && resumes == 0 {
            out.note = format!("exit {:?}; see logs/run-{index}.log", status.code());
        }
        for _ in 0..resumes {
            let mut resume = self
                .taylordash()
                .args(["resume", &out.run_id, "-q"])
                .args(self.bus_args(&proxy_url))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(self.dir.join(format!("logs/resume-{index}.log")))?)
                .spawn()?;
            wait(&mut resume, RUN_LIMIT)?;
        }
        out.secs = started.elapsed().as_secs_f64();
        let show = self.taylordash().args(["runs", "show", &out.run_id, "--json"]).output()?;
        let doc: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap_or_default();
        out.completed = doc["run"]["status"] == "completed";
        let tasks = doc["tasks"].as_array().cloned().unwrap_or_default();
        out.lost = tasks.iter().filter(|t| t["status"] != "done" && t["status"] != "skipped").count();
        out.doubled = self.doubled(&out.run_id)?;
        let dlq = self.taylordash().args(["dlq", "list", "--json"]).output()?;
        let letters: serde_json::Value = serde_json::from_slice(&dlq.stdout).unwrap_or_default();
        out.dlq = letters.as_array().map_or(0, |l| l.iter().filter(|e| e["run_id"] == out.run_id.as_str()).count());
        out.files = digests(&ws)?;
        Ok(out)
    }

    /// Attempts (`msg_id`s) of `run_id` that more than one `task done` line
    /// reports, over every worker's log.
    fn doubled(&self, run_id: &str) -> anyhow::Result<usize> {
        let mut done: BTreeMap<String, usize> = BTreeMap::new();
        for n in 0..3 {
            let log = std::fs::read_to_string(self.dir.join(format!("logs/worker-{n}.log"))).unwrap_or_default();
            for line in log.lines().filter(|l| l.contains("task done") && l.contains(run_id)) {
                if let Some(msg) = field(line, "msg_id") {
                    *done.entry(msg.to_string()).or_default() += 1;
                }
            }
        }
        Ok(done.values().map(|n| n.saturating_sub(1)).sum())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for w in self.workers.lock().unwrap_or_else(|p| p.into_inner()).iter_mut() {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.broker.lock().unwrap_or_else(|p| p.into_inner()).terminate();
        if self.tmpfs {
            let _ = Command::new("umount").arg(&self.runs).status();
        }
    }
}

/// `name=value` in a log line (span fields).
fn field<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let at = line.find(&format!("{name}="))? + name.len() + 1;
    line[at..].split([' ', '}', ',', ':']).next()
}

/// Fill the filesystem holding `dir` (a tmpfs) with `dir/filler`.
fn fill(dir: &Path) -> anyhow::Result<()> {
    let mut f = std::fs::File::create(dir.join("filler"))?;
    let block = vec![0u8; 1 << 20];
    while f.write_all(&block).is_ok() {}
    let _ = f.flush();
    Ok(())
}

fn wait(child: &mut Child, limit: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > until {
            let _ = child.kill();
            bail!("a run took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Files that differ between two fault-free runs: the run id and timings
/// of `agents.json`, the pytest run's durations in bash_runner's report.
const VARYING: [&str; 3] = ["agents.json", "reports/bash_runner.json", "reports/bash_runner.log"];

/// Every file under `dir` (relative path) with its content's digest, but
/// the [`VARYING`] ones.
fn digests(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let path = e.path();
            if e.file_type()?.is_dir() {
                walk(base, &path, out)?;
            } else {
                let rel = path.strip_prefix(base)?.display().to_string();
                if !VARYING.contains(&rel.as_str()) {
                    out.insert(rel, fnv(&std::fs::read(&path)?));
                }
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// A 64-bit FNV-1a digest: enough to tell two files apart here.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn table(results: &[(&str, Outcome, f64)], seed: u64, baseline: &Outcome) -> String {
    let mut by_kind: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for (k, r, _) in results {
        by_kind.entry(k).or_default().push(r);
    }
    let mut s = format!(
        "## Chaos soak: {} fault runs (seed {seed}); baseline {:.1} s\n\n\
         Workspaces compared byte for byte but {} (they hold run ids and timings). Recovery: a run's\n\
         time over the baseline's.\n\n\
         | fault | runs | completed | lost | doubled | workspace identical | DLQ empty | mean recovery (s) |\n\
         |---|---|---|---|---|---|---|---|\n",
        results.len(),
        baseline.secs,
        VARYING.join(", ")
    );
    for (kind, rs) in &by_kind {
        let counted: Vec<&Outcome> = rs.iter().copied().filter(|r| !r.skipped).collect();
        if counted.is_empty() {
            s.push_str(&format!("| {kind} | SKIP ({}) | | | | | | |\n", rs[0].note));
        } else {
            s.push_str(&row(kind, &counted, baseline));
        }
    }
    let all: Vec<&Outcome> = results.iter().map(|(_, r, _)| r).filter(|r| !r.skipped).collect();
    s.push_str(&row("**all**", &all, baseline));
    s
}

/// One line of the table: the runs of a kind (or all of them).
fn row(label: &str, runs: &[&Outcome], baseline: &Outcome) -> String {
    let mean = runs.iter().map(|r| r.secs - baseline.secs).sum::<f64>() / runs.len().max(1) as f64;
    format!(
        "| {label} | {} | {} | {} | {} | {} | {} | {mean:+.1} |\n",
        runs.len(),
        runs.iter().filter(|r| r.completed).count(),
        runs.iter().map(|r| r.lost).sum::<usize>(),
        runs.iter().map(|r| r.doubled).sum::<usize>(),
        runs.iter().filter(|r| r.diff.is_empty()).count(),
        runs.iter().filter(|r| r.dlq == 0).count(),
    )
}

/// Our own Mosquitto: loopback, anonymous, persistence in `data`.
struct Mosquitto {
    child: Option<Child>,
    port: u16,
}

impl Mosquitto {
    fn start(data: &Path, port: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data)?;
        let conf = data.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_packet_size 16777216\npersistence true\npersistence_location {}/\n",
                data.display()
            ),
        )?;
        let child = Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().context("starting mosquitto")?;
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > until {
                bail!("mosquitto did not start on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Mosquitto { child: Some(child), port })
    }

    /// SIGTERM (it saves its persistence), and wait.
    fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

/// A TCP proxy in front of the broker that can drop, duplicate or reorder
/// MQTT PUBLISH packets (it reads the fixed header's remaining length to
/// find packet boundaries). Broker gone: the client's side is closed too.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
}

const PASS: u8 = 0;

impl Proxy {
    fn start(broker: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let m = mode.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", broker)) else { continue };
                for (from, to) in [(client.try_clone(), upstream.try_clone()), (upstream.try_clone(), client.try_clone())] {
                    let (Ok(from), Ok(to)) = (from, to) else { continue };
                    let m = m.clone();
                    std::thread::spawn(move || pump(from, to, &m));
                }
            }
        });
        Ok(Proxy { port, mode })
    }

    fn set(&self, kind: &str) {
        let m = match kind {
            "drop" => 1,
            "duplicate" => 2,
            "reorder" => 3,
            _ => PASS,
        };
        self.mode.store(m, Ordering::SeqCst);
    }
}

/// How long a PUBLISH held back (`reorder`) waits for a packet to swap
/// with: a reorder, not an unbounded delay (on a quiet connection the next
/// packet may be a keep-alive ping seconds away).
const HOLD_AT_MOST: Duration = Duration::from_millis(100);

/// Copy MQTT packets from `from` to `to`, applying the proxy's mode to
/// PUBLISH packets: drop every third, send each twice, or hold one back
/// until the next packet has gone (or `HOLD_AT_MOST` has passed).
fn pump(mut from: TcpStream, mut to: TcpStream, mode: &AtomicU8) {
    let mut held: Option<Vec<u8>> = None;
    let mut count = 0u64;
    loop {
        if held.is_some() && !readable_within(&from, HOLD_AT_MOST) {
            if held.take().is_some_and(|h| to.write_all(&h).is_err()) {
                break;
            }
            continue;
        }
        let Some(packet) = read_packet(&mut from) else { break };
        let publish = packet[0] >> 4 == 3;
        let mode = if publish { mode.load(Ordering::SeqCst) } else { PASS };
        count += publish as u64;
        if mode == 3 && held.is_none() {
            held = Some(packet);
            continue;
        }
        let sent = match mode {
            1 if count.is_multiple_of(3) => Ok(()),
            2 => to.write_all(&packet).and_then(|()| to.write_all(&packet)),
            _ => to.write_all(&packet),
        };
        let flushed = held.take().map_or(Ok(()), |h| to.write_all(&h));
        if sent.is_err() || flushed.is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Whether `stream` has a byte to read (or is closed) within `wait`.
fn readable_within(stream: &TcpStream, wait: Duration) -> bool {
    if stream.set_read_timeout(Some(wait)).is_err() {
        return true;
    }
    let mut b = [0u8; 1];
    let ready = !matches!(stream.peek(&mut b), Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
    let _ = stream.set_read_timeout(None);
    ready
}

/// One MQTT packet: fixed header byte, remaining length (varint), body.
fn read_packet(r: &mut TcpStream) -> Option<Vec<u8>> {
    let mut first = [0u8; 1];
    r.read_exact(&mut first).ok()?;
    let mut packet = vec![first[0]];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).ok()?;
        packet.push(b[0]);
        len |= ((b[0] & 0x7f) as usize) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return None;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    r.read_exact(&mut packet[start..]).ok()?;
    Some(packet)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
}

/// xorshift64: the instants, reproducible from `--seed`.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
