//! `taylordash stats` on journals with known outcomes: the exact rates, P90,
//! bottleneck and recovery time; the slower-than-baseline trigger fires on a
//! stage made slow on purpose, once, into the journal and the audit log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use taylordash::dispatch::Usage;
use taylordash::store::{Journal, MergeIntent, NewRun, now_ms};
use taylordash_protocol::StageStatus;

const S: i64 = 1000;
const MIB: u64 = 1024 * 1024;

/// One attempt: task, stage, agent, tool, start offset (s), duration (s),
/// `Some(call seconds)` for a success (its usage), `None` for a failure.
struct A(&'static str, &'static str, &'static str, &'static str, i64, i64, Option<f64>);

/// A run of pipeline `p.yaml` created at `t0`: stages `(name, start s, end s)`,
/// its attempts, its gate verdicts `(stage, attempt, gate, passed)`.
fn journal_run(runs: &Path, id: &str, t0: i64, stages: &[(&str, i64, i64)], attempts: &[A], gates: &[(&str, u32, &str, bool)]) {
    let dir = runs.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("journal.sqlite");
    let mut j = Journal::open(&db).unwrap();
    let trace = format!("{:0>32}", id.replace('-', ""));
    j.create_run(&NewRun {
        id,
        pipeline: "p.yaml",
        pipeline_text: "",
        workspace: "/ws",
        principal: "tester",
        role: "admin",
        trace_id: &trace,
        inputs: "{}",
    })
    .unwrap();
    for (i, (stage, _, _)) in stages.iter().enumerate() {
        j.set_stage(stage, i, StageStatus::Done, 1, None).unwrap();
    }
    let mut times = Vec::new();
    for (n, A(task, stage, agent, tool, start, dur, call)) in attempts.iter().enumerate() {
        j.upsert_task(task, stage, agent, tool, &format!("{n:0>16}")).unwrap();
        let attempt = j.start_attempt(task, agent, &trace, &format!("{:0>16}", n + 100), None).unwrap();
        match call {
            Some(call) => {
                let fuel = if *agent == "a" { 100 } else { 200 };
                let usage = Usage { fuel, memory_peak: fuel / 100 * MIB, call_ms: (call * 1000.0) as u64, bytes_in: 10, bytes_out: 20, ..Usage::default() };
                j.record_merge_intent(&MergeIntent {
                    task_id: task,
                    attempt,
                    duration_ms: dur * S,
                    output: "{}",
                    staging: "/s",
                    files: &[],
                    agent,
                    stage,
                    usage,
                }, None)
                .unwrap();
                j.finish_task(task).unwrap();
            }
            None => j.fail_attempt(task, attempt, 1, "tool failed", dur * S).unwrap(),
        }
        times.push((task.to_string(), attempt, t0 + start * S));
    }
    for (stage, attempt, gate, passed) in gates {
        j.record_gate(stage, *attempt, gate, *passed, "{}").unwrap();
    }
    j.set_run_status(taylordash_protocol::RunStatus::Completed, None).unwrap();
    drop(j);
    // The journal stamps "now": put every time where the scenario says.
    let c = rusqlite::Connection::open(&db).unwrap();
    let end = stages.iter().map(|s| s.2).max().unwrap();
    c.execute("UPDATE runs SET created_at = ?1, updated_at = ?2", rusqlite::params![t0, t0 + end * S]).unwrap();
    for (stage, start, end) in stages {
        c.execute(
            "UPDATE stages SET started_at = ?2, finished_at = ?3 WHERE stage = ?1",
            rusqlite::params![stage, t0 + start * S, t0 + end * S],
        )
        .unwrap();
    }
    for (task, attempt, at) in times {
        c.execute("UPDATE attempts SET started_at = ?3 WHERE task_id = ?1 AND attempt = ?2", rusqlite::params![task, attempt, at]).unwrap();
    }
}

/// Two runs at the baseline (plan 10 s, build 10 s), then one whose build
/// stage fails once and takes 30 s: 3× its baseline.
fn scenario(runs: &Path) {
    let now = now_ms();
    for (id, t0) in [("run-000000000001", now - 3 * 3600 * S), ("run-000000000002", now - 2 * 3600 * S)] {
        journal_run(
            runs,
            id,
            t0,
            &[("plan", 0, 10), ("build", 10, 20)],
            &[A("plan/a/planner#1", "plan", "a", "planner", 0, 10, Some(9.0)), A("build/b/builder#1", "build", "b", "builder", 10, 10, Some(9.5))],
            &[("build", 1, "tests", true)],
        );
    }
    journal_run(
        runs,
        "run-000000000003",
        now - 1800 * S,
        &[("plan", 0, 10), ("build", 10, 40)],
        &[
            A("plan/a/planner#1", "plan", "a", "planner", 0, 10, Some(9.0)),
            A("build/b/builder#1", "build", "b", "builder", 10, 5, None),
            A("build/b/builder#1", "build", "b", "builder", 15, 25, Some(24.0)),
        ],
        &[("build", 1, "tests", false), ("build", 2, "tests", true)],
    );
}

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        scenario(&root.path().join("runs"));
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn stats(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_taylordash"))
            .arg("stats")
            .args(args)
            .env("HOME", self.path("home"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.stats(&all);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("stats --json prints JSON")
    }
}

fn kpi<'a>(stats: &'a Value, key: &str) -> &'a Value {
    stats["kpis"].as_array().unwrap().iter().find(|k| k["key"] == key).unwrap_or_else(|| panic!("no KPI {key}"))
}

fn value(stats: &Value, key: &str) -> f64 {
    kpi(stats, key)["value"].as_f64().unwrap_or_else(|| panic!("{key} has no value: {}", kpi(stats, key)))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn stats_computes_the_seeds_figures_exactly() {
    let env = Env::new();
    let s = env.json(&[]);
    assert_eq!(s["runs"], 3);
    assert_eq!(value(&s, "completion_rate"), 1.0, "6 of 6 tasks merged");
    assert_eq!(kpi(&s, "completion_rate")["meets"], true);
    assert_eq!(value(&s, "quality_score"), 0.75, "3 of 4 gate verdicts passed");
    assert_eq!(kpi(&s, "quality_score")["meets"], false);
    assert_eq!(kpi(&s, "quality_score")["display"], "75.0%");
    // Task latencies 10, 10, 10, 10, 10 and 30 s (the retried build: 10 → 40).
    assert_eq!(value(&s, "response_time_p90"), 30.0);
    assert_eq!(kpi(&s, "response_time_p90")["meets"], false);
    assert_eq!(value(&s, "error_recovery_time"), 25.0, "failed at +15 s, succeeded at +40 s");
    assert!(close(value(&s, "success_rate_24h"), 6.0 / 7.0));
    assert!(close(value(&s, "success_rate_1h"), 2.0 / 3.0));
    // 80 s of runs, 5 s of which no call executed (1.5 + 1.5 + 2).
    assert!(close(value(&s, "coordination_overhead"), 5.0 / 80.0), "{}", value(&s, "coordination_overhead"));
    assert!(close(value(&s, "throughput"), 6.0 / (80.0 / 3600.0)));
    assert_eq!(value(&s, "parallel_efficiency"), 1.0);
    assert_eq!(value(&s, "agent_idle_time"), 0.0);
    assert_eq!(value(&s, "context_switching_overhead"), 0.0);
    assert_eq!(value(&s, "message_delivery_rate"), 1.0);
    assert_eq!(value(&s, "trace_correlation"), 1.0);
    assert_eq!(value(&s, "event_latency_p95"), 1.0, "overheads 1, 0.5, 1, 0.5, 1, 1 s");
    assert!(kpi(&s, "context7_query_time_p90")["value"].is_null(), "no context7 call in the window");
    assert_eq!(kpi(&s, "context_retention")["note"], "no honest measure yet: the journal does not record which context a tool used");
    assert_eq!(s["bottleneck"]["stage"], "build");
    assert!(close(s["bottleneck"]["seconds"].as_f64().unwrap(), 50.0 / 3.0));
    assert_eq!(s["agents"]["a"]["fuel"], 300);
    assert_eq!(s["agents"]["b"]["fuel"], 600);
    assert_eq!(s["agents"]["b"]["tasks"], 4);
    assert_eq!(s["agents"]["b"]["memory_peak_bytes"], 2 * MIB);
    let build = s["stages"].as_array().unwrap().iter().find(|x| x["stage"] == "build").unwrap();
    assert_eq!((build["latest_seconds"].as_f64(), build["baseline_seconds"].as_f64(), build["slowdown"].as_f64()), (Some(30.0), Some(10.0), Some(3.0)));
    let kinds: Vec<&str> = s["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["performance_degradation", "quality_threshold_breach"]);
    let thrash = s["detectors"].as_array().unwrap().iter().find(|d| d["key"] == "context_thrashing").unwrap();
    assert_eq!(thrash["fired"], false);
}

#[test]
fn the_window_and_one_run_narrow_what_is_measured() {
    let env = Env::new();
    let last_hour = env.json(&["--since", "1h"]);
    assert_eq!(last_hour["runs"], 1);
    assert_eq!(value(&last_hour, "completion_rate"), 1.0);
    assert_eq!(value(&last_hour, "quality_score"), 0.5);
    let one = env.json(&["--run", "run-000000000001"]);
    assert_eq!(one["runs"], 1);
    assert_eq!(value(&one, "quality_score"), 1.0);
    assert_eq!(one["alerts"].as_array().unwrap().len(), 0, "the first run has no baseline to be slower than");
    let missing = env.stats(&["--run", "run-nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run `run-nope`"));
}

#[test]
fn check_raises_the_slower_than_baseline_trigger_once() {
    let env = Env::new();
    let out = env.stats(&["--check"]);
    assert_eq!(out.status.code(), Some(1), "a trigger fired");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trigger: performance_degradation: stage `build` of p.yaml took 30.00 s in run run-000000000003: 3.0× its baseline 10.00 s"),
        "{stderr}"
    );
    let journal = Journal::open(&env.path("runs/run-000000000003/journal.sqlite")).unwrap();
    let triggers = |j: &Journal| j.events().unwrap().into_iter().filter(|e| e.kind == "manual_trigger").count();
    assert_eq!(triggers(&journal), 1);
    let audit = std::fs::read_to_string(env.path("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{audit}");
    assert_eq!((lines[0]["capability"].as_str(), lines[0]["decision"].as_str()), (Some("trigger:performance_degradation"), Some("alert")));
    assert_eq!(lines[0]["run_id"], "run-000000000003");
    // Checking again reports it again but records nothing new.
    assert_eq!(env.stats(&["--check"]).status.code(), Some(1));
    assert_eq!(triggers(&journal), 1);
    assert_eq!(std::fs::read_to_string(env.path("audit.jsonl")).unwrap().lines().count(), 1);
    // The text report names every KPI with its target.
    let text = String::from_utf8_lossy(&env.stats(&[]).stdout).to_string();
    assert!(text.contains("Completion rate") && text.contains("> 95%"), "{text}");
    assert!(text.contains("bottleneck: stage `build` of p.yaml"), "{text}");
}
