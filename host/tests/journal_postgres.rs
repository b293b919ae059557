//! The PostgreSQL journal (`--journal postgres://…`) on the machine's
//! PostgreSQL, each test in a database of its own (created and dropped
//! here): the same writes read back the same as from SQLite; a lease held
//! by an orchestrator of another host is taken over only once it expires;
//! and two orchestrators on one run over a real Mosquitto — one drives it,
//! the other stands by, the driver is killed with SIGKILL mid-stage and the
//! other finishes the run with every task executed exactly once (journal
//! attempts and the worker's log agree). `runs list/show` and `stats` read
//! the run from the database. And `deploy/fleet/try-it.sh`, the example of
//! that deployment (S3 + PostgreSQL + two workers + a standby), runs.
//!
//! PostgreSQL is looked for at `$TAYLORDASH_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); without it the tests say
//! SKIP, and fail when `TAYLORDASH_REQUIRE_POSTGRES=1` (CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taylordash::store::{Journal, MergeIntent, NewRun, Owner};
use taylordash_protocol::{RunStatus, StageStatus};

/// A database of this test's own, dropped at the end.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    fn create(test: &str) -> Option<TestDb> {
        let admin = std::env::var("TAYLORDASH_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut client = match postgres::Client::connect(&admin, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                assert!(std::env::var("TAYLORDASH_REQUIRE_POSTGRES").is_err(), "PostgreSQL is required here and unreachable at {admin}: {e}");
                eprintln!("SKIP {test}: no PostgreSQL at {admin} ({e}); set TAYLORDASH_TEST_POSTGRES");
                return None;
            }
        };
        let name = format!("td_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Some(TestDb { admin, name, url })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The same run written to `journal`: stages, tasks, attempts (one failed,
/// one merged with usage), a gate, events; then read back whole.
fn write_a_run(journal: &mut Journal, id: &str) -> Value {
    journal
        .create_run(&NewRun {
            id,
            pipeline: "p.yaml",
            pipeline_text: "orchestration_flow: {}",
            workspace: "/ws",
            principal: "alice",
            role: "admin",
            trace_id: "0123456789abcdef0123456789abcdef",
            inputs: "{}",
        })
        .unwrap();
    journal.set_stage("build", 0, StageStatus::Running, 1, None).unwrap();
    journal.upsert_task("build/a/echo#1", "build", "a", "echo", "00000000000000a1").unwrap();
    journal.upsert_task("build/b/echo#1", "build", "b", "echo", "00000000000000b1").unwrap();
    journal.upsert_task("build/a/echo#1", "build", "a", "echo", "ffffffffffffffff").unwrap();
    let one = journal.start_attempt("build/a/echo#1", "a", "t", "s1", None).unwrap();
    journal.fail_attempt("build/a/echo#1", one, 1, "boom", 5).unwrap();
    let two = journal.start_attempt("build/a/echo#1", "a", "t", "s2", None).unwrap();
    let usage = taylordash_protocol::bus::Usage { fuel: 7, memory_peak: 8, call_ms: 9, bytes_in: 10, bytes_out: 11, blobs_cached: 1, blobs_fetched: 2, blobs_out: 3, bytes_moved: 4 };
    let files = vec![("docs/a.md".to_string(), "ab".repeat(32))];
    let intent = MergeIntent { task_id: "build/a/echo#1", attempt: two, duration_ms: 12, output: "{\"ok\":1}", staging: "/s", files: &files, agent: "a", stage: "build", usage };
    journal.record_merge_intent(&intent, None).unwrap();
    journal.record_merge_intent(&intent, None).unwrap();
    journal.finish_task("build/a/echo#1").unwrap();
    journal.record_gate("build", 1, "lint", false, "{\"why\":1}").unwrap();
    journal.record_gate("build", 1, "lint", true, "{}").unwrap();
    journal.event("decision", &json!({ "x": 1 })).unwrap();
    journal.set_stage("build", 0, StageStatus::Done, 1, None).unwrap();
    journal.set_run_status(RunStatus::Completed, None).unwrap();
    let mut snap = serde_json::to_value(journal.snapshot().unwrap()).unwrap();
    let blobs = serde_json::to_value(journal.blobs_moved().unwrap()).unwrap();
    // Times are the clock's, not the journal's.
    strip_times(&mut snap);
    json!({ "snapshot": snap, "tasks": serde_json::to_value(journal.tasks().unwrap()).unwrap(),
            "merges": journal.merged_by("docs/a.md").unwrap(), "blobs": blobs,
            "attempts": journal.attempts("build/a/echo#1").unwrap(), "gates": journal.gate_results("build", 1).unwrap() })
}

fn strip_times(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if ["at", "started_at", "finished_at", "created_at", "updated_at"].contains(&k.as_str()) {
                    *val = Value::Null;
                } else {
                    strip_times(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_times),
        _ => {}
    }
}

#[test]
fn the_same_writes_read_back_the_same_from_postgres_and_sqlite() {
    let Some(db) = TestDb::create("the_same_writes_read_back_the_same_from_postgres_and_sqlite") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut lite = Journal::open(&dir.path().join("journal.sqlite")).unwrap();
    let mut pg = Journal::connect(&db.url, "run-000000000001").unwrap();
    let from_sqlite = write_a_run(&mut lite, "run-000000000001");
    let from_postgres = write_a_run(&mut pg, "run-000000000001");
    assert_eq!(from_postgres, from_sqlite);
    assert_eq!(from_postgres["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(from_postgres["gates"], json!([["lint", true, "{}"]]));
    // A second run in the same database sees only its own rows.
    let mut other = Journal::connect(&db.url, "run-000000000002").unwrap();
    other
        .create_run(&NewRun { id: "run-000000000002", pipeline: "q.yaml", pipeline_text: "", workspace: "/w", principal: "bob", role: "viewer", trace_id: "t", inputs: "{}" })
        .unwrap();
    assert!(other.tasks().unwrap().is_empty());
    assert_eq!(pg.tasks().unwrap().len(), 2);
    let journals = taylordash::store::Journals::new(dir.path().to_path_buf(), taylordash::store::JournalUrl::Postgres(db.url.clone()));
    let ids: Vec<String> = journals.runs().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["run-000000000001", "run-000000000002"]);
    assert!(matches!(journals.open("run-nope"), Err(taylordash::store::StoreError::NoRun(_))));
}

#[test]
fn a_lease_of_another_host_is_taken_over_only_once_it_expires() {
    let Some(db) = TestDb::create("a_lease_of_another_host_is_taken_over_only_once_it_expires") else { return };
    let mut journal = Journal::connect(&db.url, "run-00000000000a").unwrap();
    journal
        .create_run(&NewRun { id: "run-00000000000a", pipeline: "p", pipeline_text: "", workspace: "/w", principal: "p", role: "admin", trace_id: "t", inputs: "{}" })
        .unwrap();
    // An orchestrator on another host holds it for 1.5 s more.
    let mut sql = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    sql.execute(
        "INSERT INTO leases (run_id, owner, expires_at) VALUES ($1, 'far-away-host/4242/1/abcd', CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + 1500)",
        &[&"run-00000000000a"],
    )
    .unwrap();
    let me = Owner::this_process();
    let held = journal.acquire_lease(&me, Duration::from_secs(5)).unwrap().unwrap_err();
    assert_eq!(held.owner, "far-away-host/4242/1/abcd");
    assert!(held.expires_in > Duration::from_millis(500), "{held}");
    std::thread::sleep(held.expires_in + Duration::from_millis(200));
    let lease = journal.acquire_lease(&me, Duration::from_secs(5)).unwrap().expect("expired: taken over");
    journal.renew_lease(&lease).unwrap();
    // The other host comes back and takes it (as if ours had expired): our
    // next fenced write is refused and names the holder.
    sql.execute("UPDATE leases SET owner = 'far-away-host/4242/1/abcd' WHERE run_id = $1", &[&"run-00000000000a"]).unwrap();
    let err = journal.start_attempt("x/y/z#1", "y", "t", "s", Some(&lease)).unwrap_err().to_string();
    assert!(err.starts_with("run `run-00000000000a` is driven by another orchestrator now (far-away-host/4242/1/abcd, lease for"), "{err}");
    assert!(journal.attempts("x/y/z#1").unwrap().is_empty(), "the refused write left nothing behind");
}


struct Rig {
    root: tempfile::TempDir,
    url: String,
    broker: String,
}

impl Rig {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn taylordash(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", common::test_plugin("probe").parent().unwrap())
            .env("TAYLORDASH_JOURNAL", &self.url)
            .env("TAYLORDASH_LEASE_TTL", "3s")
            .env("TAYLORDASH_BUS_KEY_FILE", self.path("bus.key"))
            .env_remove("TAYLORDASH_BROKER")
            .env_remove("TAYLORDASH_CRASH_AT")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .args(args);
        cmd
    }

    fn orchestrator(&self, args: &[&str]) -> common::Proc {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--broker", &self.broker, "--workers", "0", "--prefix", "ha/"]);
        // Its own audit log: what it audits reaches the others through the database.
        let mut cmd = self.taylordash(&full);
        cmd.env("TAYLORDASH_AUDIT_LOG", self.path("b-audit.jsonl"));
        common::Proc::spawn(cmd)
    }
}

fn wait_file(path: &Path, what: impl Fn(&str) -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(path).is_ok_and(|t| what(&t)) {
        assert!(Instant::now() < until, "timed out waiting for {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many times the worker's log says it ran `task` (a copy answered
/// from memory is a duplicate, not a run).
fn runs_of(worker_log: &str, task: &str) -> usize {
    worker_log.lines().filter(|l| l.contains(&format!("task_id={task}")) && l.contains("task done")).count()
}

#[test]
fn two_orchestrators_one_drives_the_other_takes_over_after_kill_9() {
    let Some(db) = TestDb::create("two_orchestrators_one_drives_the_other_takes_over_after_kill_9") else { return };
    common::plugins_built();
    let mosquitto = common::OwnMosquitto::start(common::free_port());
    let rig = Rig { root: tempfile::tempdir().unwrap(), url: db.url.clone(), broker: mosquitto.url() };
    for dir in ["ws", "home", "runs"] {
        std::fs::create_dir_all(rig.path(dir)).unwrap();
    }
    std::fs::write(rig.path("bus.key"), "5a".repeat(32)).unwrap();
    std::fs::set_permissions(rig.path("bus.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let probe = |second_ms: u64| {
        json!({ "agents": { "one": { "files": { "one.txt": "1" } },
                            "two": { "sleep_ms": second_ms, "files": { "two.txt": "2" } },
                            "three": { "files": { "three.txt": "3" } } } })
        .to_string()
    };
    std::fs::write(rig.path("ws/probe.json"), probe(4000)).unwrap();
    std::fs::write(rig.path("p.yaml"), common::THREE_STAGES).unwrap();
    let worker = common::Proc::spawn(rig.taylordash(&["worker", "--broker", &rig.broker, "--prefix", "ha/", "--concurrency", "2", "--log", "taylordash=debug"]));
    worker.wait_for("ready");

    let ws = rig.path("ws").display().to_string();
    let pipeline = rig.path("p.yaml").display().to_string();
    let mut a = rig
        .taylordash(&["run", &pipeline, "--workspace", &ws, "--broker", &rig.broker, "--workers", "0", "--prefix", "ha/"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Inside `second` (a 4 s task on the worker): the run id is known.
    wait_file(&rig.path("ws/agents.json"), |t| t.contains("\"stage\": \"first\"") && t.contains("\"status\": \"done\""));
    let runs = rig.taylordash(&["runs", "list", "--json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&runs.stdout).unwrap_or(Value::Null);
    let id = listed[0]["id"].as_str().expect("runs list reads the run from PostgreSQL").to_string();
    assert_eq!(listed[0]["status"], "running");

    // The second orchestrator on the same run: it must not drive it while the first lives.
    let b = rig.orchestrator(&["resume", &id, "--standby"]);
    b.wait_for("standing by: driven by");
    let refused = rig.taylordash(&["resume", &id, "--broker", &rig.broker, "--workers", "0", "--prefix", "ha/"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains(&format!("error: run `{id}` is being driven by another orchestrator (")) && said.contains("`resume --standby` waits to take it over"), "{said}");

    std::thread::sleep(Duration::from_millis(300));
    a.kill().unwrap();
    let _ = a.wait();
    let killed_at = Instant::now();
    assert!(!rig.path("ws/two.txt").exists(), "killed before `second` finished");

    // B takes over and finishes the run.
    let until = Instant::now() + Duration::from_secs(60);
    while !b.output().contains(&format!("run {id}: completed")) {
        assert!(Instant::now() < until, "the standby did not finish the run:\n{}\n--- worker:\n{}", b.output(), worker.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = killed_at.elapsed();
    eprintln!("takeover to completion: {took:?}");
    for (f, c) in [("one.txt", "1"), ("two.txt", "2"), ("three.txt", "3")] {
        assert_eq!(std::fs::read_to_string(rig.path("ws").join(f)).unwrap(), c, "{f}");
    }
    let journal = Journal::connect(&db.url, &id).unwrap();
    assert_eq!(journal.run().unwrap().status, "completed");
    let log = worker.output();
    for task in ["first/one/probe#1", "second/two/probe#1", "third/three/probe#1"] {
        let attempts = journal.attempts(task).unwrap();
        assert_eq!(attempts.len(), 1, "{task}: {attempts:?}");
        assert_eq!(attempts[0].2, "succeeded", "{task}: {attempts:?}");
        assert_eq!(runs_of(&log, task), 1, "{task} ran {} times on the worker:\n{log}", runs_of(&log, task));
    }
    // B found `second` out while it still ran (A died 0.3 s into 4 s): it
    // asked for the attempt instead of sending it again, and the worker
    // holding it claimed it again (docs/architecture.md, "The bus contract").
    assert!(
        log.contains("asked for a task running here: claimed it again task=second/two/probe#1"),
        "the resumed attempt was asked for, and the worker running it answered:\n{log}"
    );
    let kinds: Vec<String> = journal.events().unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "run_resumed").count(), 1, "{kinds:?}");

    // Reading from the database: show and stats.
    let show = rig.taylordash(&["runs", "show", &id]).output().unwrap();
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("completed") && text.contains("second/two/probe#1"), "{text}");
    let stats = rig.taylordash(&["stats", "--run", &id, "--json"]).output().unwrap();
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert!(stats.to_string().contains("\"tasks\""), "{stats}");
    // The audit trail of both orchestrators, read on a third with an empty log of its own.
    let audit = rig.taylordash(&["audit", "--json"]).env("TAYLORDASH_AUDIT_LOG", rig.path("c-audit.jsonl")).output().unwrap();
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    let events: Vec<Value> = serde_json::from_slice(&audit.stdout).unwrap();
    let rbac = events.iter().filter(|e| e["capability"] == "rbac" && e["decision"] == "allow").count();
    assert!(rbac >= 2, "A's start and B's takeover both audited their role decision: {events:#?}");
    assert!(!rig.path("c-audit.jsonl").exists() || std::fs::read_to_string(rig.path("c-audit.jsonl")).unwrap().is_empty());
}

#[test]
fn the_fleet_example_runs() {
    const TEST: &str = "the_fleet_example_runs";
    let Some(_db) = TestDb::create(TEST) else { return };
    let venv = std::env::var_os("TD_VENV").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/td-venv"));
    if !venv.join("bin/moto_server").is_file() {
        assert!(std::env::var("TAYLORDASH_REQUIRE_S3").is_err(), "{} is missing; TAYLORDASH_REQUIRE_S3=1", venv.display());
        eprintln!("SKIP {TEST}: no moto venv at {} (bash tests/toolset/moto_venv.sh makes it)", venv.display());
        return;
    }
    common::plugins_built();
    let root = xtask::workspace_root();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(root.join("deploy/fleet/try-it.sh"))
        .env("TAYLORDASH", env!("CARGO_BIN_EXE_taylordash"))
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", root.join("target/test-cache/fleet"))
        .env("TMPDIR", home.path())
        .env_remove("TAYLORDASH_JOURNAL")
        .output()
        .unwrap();
    let said = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "try-it.sh failed:\n{said}");
    assert!(said.contains("try-it: orchestrator A exited 0; the standby exited 0"), "{said}");
    assert!(said.contains("— completed — pipelines/orchestration_flow.yaml"), "runs show from PostgreSQL:\n{said}");
    assert!(said.contains("files over the bus:") && said.contains("fetched"), "blobs went through the store:\n{said}");
}
