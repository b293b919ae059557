//! The orchestrator against real components (the `probe` test plugin through
//! the sandbox): parallel agents overlap, gates retry with feedback, a
//! security gate halts, add_only refuses without touching the workspace,
//! conflicts are decided by priority, timeouts go to the backup agent,
//! repeated failures halt for review, and agents.json follows the stages.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use taylordash::dispatch::InProcess;
use taylordash::orchestrator::{Orchestrator, RunOptions, RunOutcome, RunStatus};
use taylordash::pipeline::{self, Context};
use taylordash::store::Journal;

struct Rig {
    workspace: tempfile::TempDir,
    runs: tempfile::TempDir,
    _cache: tempfile::TempDir,
    plugins: std::path::PathBuf,
    _own_plugins: Option<tempfile::TempDir>,
    dispatch: InProcess,
}

fn rig(probe: Value) -> Rig {
    rig_with_plugins(probe, &[])
}

/// A rig whose plugins directory also holds the probe under other names
/// (`bash_runner`: a tool the orchestrator treats by its name).
fn rig_with_plugins(probe: Value, aliases: &[&str]) -> Rig {
    let (sandbox, cache) = common::sandbox();
    let mut plugins = common::test_plugin("probe").parent().unwrap().to_path_buf();
    let mut own = None;
    if !aliases.is_empty() {
        let dir = tempfile::tempdir().unwrap();
        for name in aliases.iter().chain(&["probe"]) {
            std::fs::copy(common::test_plugin("probe"), dir.path().join(format!("{name}.wasm"))).unwrap();
        }
        plugins = dir.path().to_path_buf();
        own = Some(dir);
    }
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("probe.json"), probe.to_string()).unwrap();
    std::fs::write(workspace.path().join("seed.json"), "{}").unwrap();
    Rig {
        workspace,
        runs: tempfile::tempdir().unwrap(),
        _cache: cache,
        dispatch: InProcess::new(Arc::new(sandbox), plugins.clone()),
        plugins,
        _own_plugins: own,
    }
}

impl Rig {
    fn run(&self, yaml: &str) -> RunOutcome {
        self.run_with(yaml, |o| o)
    }

    fn run_with<'d>(&'d self, yaml: &str, configure: impl FnOnce(Orchestrator<'d>) -> Orchestrator<'d>) -> RunOutcome {
        let p = pipeline::parse("test.yaml", yaml, &Context::with_plugins_dir(self.plugins.clone()))
            .unwrap_or_else(|d| panic!("{d}"));
        let opts = RunOptions {
            workspace: self.workspace.path().to_path_buf(),
            principal: "tester".into(),
            role: "admin".into(),
            inputs: Vec::new(),
            runs_dir: self.runs.path().to_path_buf(),
            quiet: true,
        };
        configure(Orchestrator::new(&self.dispatch)).start(&p, yaml, &opts).expect("run starts")
    }

    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.workspace.path().join(rel)).ok()
    }
}

fn journal(o: &RunOutcome) -> Journal {
    Journal::open(&o.run_dir.join("journal.sqlite")).unwrap()
}

fn output(j: &Journal, task: &str) -> Value {
    let row = j.task(task).unwrap().unwrap_or_else(|| panic!("no task {task}"));
    serde_json::from_str(row.output.as_deref().unwrap()).unwrap()
}

fn agent(name: &str, extra: &str) -> String {
    format!("        - {{ name: \"{name}\", tools: [\"probe\"], rbac: [\"admin\"] }}{extra}\n")
}

#[test]
fn parallel_agents_really_overlap_and_conflicts_go_to_the_first_agent() {
    // b is slower: its shared.txt comes second, loses to a (listed first),
    // and b's task is rolled back whole (b.txt too) and run again told so.
    let r = rig(json!({ "agents": {
        "a": { "sleep_ms": 100, "files": { "a.txt": "A", "shared.txt": "from {agent}" }, "outputs": { "plan": "p" } },
        "b": { "sleep_ms": 900, "files": { "b.txt": "B", "shared.txt": "from {agent}" }, "drop_on_feedback": "shared.txt" } } }));
    let yaml = format!(
        "orchestration_flow:\n  stages:\n    - stage: \"build\"\n      parallel: true\n      inputs: [\"seed\"]\n      outputs: [\"plan\"]\n      agents:\n{}{}",
        agent("a", ""),
        agent("b", "")
    );
    let o = r.run(&yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let j = journal(&o);
    let (a, b) = (output(&j, "build/a/probe#1"), output(&j, "build/b/probe#1"));
    let (a1, b0) = (a["finished_ms"].as_u64().unwrap(), b["started_ms"].as_u64().unwrap());
    assert!(b0 >= a1, "b's second run started {b0}, before a finished ({a1})");
    assert_eq!(r.read("shared.txt").unwrap(), "from a", "agent priority: the first listed wins");
    assert_eq!(r.read("b.txt").unwrap(), "B", "b's second run merged its own work");
    assert_eq!(b["saw_feedback"], json!(true));
    let attempts = j.attempts("build/b/probe#1").unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let first_error = attempts[0].4.as_deref().unwrap_or_default();
    assert!(first_error.starts_with("rolled back, nothing merged: `shared.txt` was written first by agent `a`"), "{attempts:?}");
    let decisions: Vec<_> = j.events().unwrap().into_iter().filter(|e| e.kind == "decision").collect();
    assert_eq!(decisions.len(), 1);
    let d: Value = serde_json::from_str(&decisions[0].data).unwrap();
    assert_eq!(
        (d["path"].as_str(), d["kept"].as_str(), d["discarded"].as_str(), d["detection"].as_str(), d["resolution"].as_str()),
        (Some("shared.txt"), Some("a"), Some("b"), Some("concurrent_file_access"), Some("agent_state_rollback_then_priority_queuing"))
    );
}

#[test]
fn a_conflict_the_loser_repeats_after_being_told_is_escalated_for_review() {
    let r = rig(json!({ "agents": {
        "a": { "files": { "shared.txt": "from {agent}" } },
        "b": { "sleep_ms": 800, "files": { "b.txt": "B", "shared.txt": "from {agent}" } } } }));
    let yaml = format!(
        "orchestration_flow:\n  stages:\n    - stage: \"build\"\n      parallel: true\n      agents:\n{}{}",
        agent("a", ""),
        agent("b", "")
    );
    let o = r.run(&yaml);
    assert_eq!(
        o.status,
        RunStatus::NeedsReview(
            "resource conflict in stage `build` is undecidable: `b` ran again after being told and still claims `shared.txt` was \
             written first by agent `a`, which has priority"
                .into()
        )
    );
    assert_eq!(r.read("b.txt"), None, "nothing of the rolled-back agent was merged");
    let resolutions: Vec<String> = journal(&o).events().unwrap().into_iter().filter(|e| e.kind == "decision")
        .map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["resolution"].as_str().unwrap().to_string()).collect();
    assert_eq!(resolutions, ["agent_state_rollback_then_priority_queuing", "escalated_to_human_review"]);
    // The decision audit trail shows both, read from the journal.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_taylordash"))
        .args(["--runs-dir", r.runs.path().to_str().unwrap(), "audit", "--decisions"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split_whitespace().skip(2).collect()).collect();
    assert_eq!(
        rows,
        [
            ["build", "concurrent_file_access", "agent_state_rollback_then_priority_queuing", "shared.txt", "a", "/", "b"],
            ["build", "concurrent_file_access", "escalated_to_human_review", "shared.txt", "a", "/", "b"],
        ],
        "{text}"
    );
}

#[test]
fn a_reserved_path_is_left_to_its_agent_whoever_comes_first() {
    // b is listed second but reserved `shared/`: a (first, faster) loses it.
    let r = rig(json!({ "agents": {
        "a": { "files": { "a.txt": "A", "shared/x.txt": "from {agent}" }, "drop_on_feedback": "shared/x.txt" },
        "b": { "sleep_ms": 300, "files": { "shared/x.txt": "from {agent}" } } } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"build\"\n      parallel: true\n      agents:\n\
                \x20       - { name: \"a\", tools: [\"probe\"], rbac: [\"admin\"] }\n\
                \x20       - { name: \"b\", tools: [\"probe\"], rbac: [\"admin\"], reserves: [\"shared/\"] }\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    assert_eq!(r.read("shared/x.txt").unwrap(), "from b");
    assert_eq!(r.read("a.txt").unwrap(), "A");
    let d: Value = journal(&o).events().unwrap().into_iter().find(|e| e.kind == "decision").map(|e| serde_json::from_str(&e.data).unwrap()).unwrap();
    assert_eq!((d["detection"].as_str(), d["kept"].as_str(), d["discarded"].as_str()), (Some("resource_reservation"), Some("b"), Some("a")));
    // Two agents may not reserve overlapping paths.
    let bad = "orchestration_flow:\n  stages:\n    - stage: \"build\"\n      parallel: true\n      agents:\n\
               \x20       - { name: \"a\", tools: [\"probe\"], reserves: [\"shared/\"] }\n\
               \x20       - { name: \"b\", tools: [\"probe\"], reserves: [\"shared/x.txt\", \"../etc\"] }\n";
    let dir = common::test_plugin("probe").parent().unwrap().to_path_buf();
    let problems: Vec<String> = pipeline::parse("p.yaml", bad, &Context::with_plugins_dir(dir)).unwrap_err().0.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        problems,
        [
            "p.yaml:7:53: `reserves`: `shared/x.txt` of agent `b` overlaps `shared/`, reserved by agent `a` at 6:53",
            "p.yaml:7:69: `reserves`: `../etc` must be a relative path inside the workspace",
        ]
    );
}

#[test]
fn contradictory_outputs_are_settled_on_the_gates_evidence_or_escalated() {
    let claim = |ty: &str| json!({ "contract_fields": { "project_event": { "priority": ty, "title": "string" } } });
    let two_agents = |gates: &str| {
        format!(
            "orchestration_flow:\n  stages:\n    - stage: \"build\"\n      parallel: true\n{gates}      agents:\n{}{}",
            agent("api", ""),
            agent("models", "")
        )
    };
    // Evidence: the gate finds fault with the file `models` wrote; told so,
    // `models` comes round to `api`'s type and the run completes.
    let r = rig(json!({
        "agents": {
            "api": { "files": { "api.txt": "priority: integer" }, "outputs": claim("integer") },
            "models": { "files": { "models.txt": "priority: string" }, "outputs": claim("string"),
                        "files_on_feedback": { "models.txt": "priority: integer" }, "outputs_on_feedback": claim("integer") } },
        "gates": { "types": { "forbid_text": { "file": "models.txt", "text": "string" } } } }));
    let o = r.run(&two_agents("      gates: [{ gate: \"types\", plugin: \"probe\" }]\n"));
    assert_eq!(o.status, RunStatus::Completed);
    let decisions: Vec<Value> = journal(&o).events().unwrap().into_iter().filter(|e| e.kind == "decision").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(
        decisions[0],
        json!({ "detection": "contradictory_outputs", "resolution": "arbitrated_on_gate_evidence", "stage": "build",
                "path": "project_event.priority", "kept": "api", "discarded": "models",
                "claims": [{ "agent": "api", "type": "integer" }, { "agent": "models", "type": "string" }] })
    );
    assert_eq!(r.read("models.txt").unwrap(), "priority: integer");
    // No gate to tell them apart: undecidable, halted for review.
    let r = rig(json!({ "agents": { "api": { "outputs": claim("integer") }, "models": { "outputs": claim("string") } } }));
    let o = r.run(&two_agents(""));
    assert_eq!(
        o.status,
        RunStatus::NeedsReview(
            "contradictory outputs in stage `build`: project_event.priority is typed `api`: integer vs `models`: string, and the \
             gates' evidence does not decide"
                .into()
        )
    );
}

#[test]
fn a_failed_gate_retries_the_stage_with_its_report_then_passes() {
    let r = rig(json!({ "agents": { "fixer": { "files": { "draft.md": "# draft" }, "fix_on_feedback": "fixed.txt" } },
                        "gates": { "check": { "require": "fixed.txt" } } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"work\"\n      agent: \"fixer\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      gates: [{ gate: \"check\", plugin: \"probe\" }]\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let j = journal(&o);
    let first = j.gate_results("work", 1).unwrap();
    assert_eq!(first.len(), 1);
    assert!(!first[0].1, "attempt 1's gate must fail");
    assert!(first[0].2.contains("fixed.txt is required and missing"), "{}", first[0].2);
    assert!(j.gate_results("work", 2).unwrap()[0].1, "attempt 2's gate must pass");
    assert_eq!(output(&j, "work/fixer/probe#1")["saw_feedback"], false);
    assert_eq!(output(&j, "work/fixer/probe#2")["saw_feedback"], true);
    assert_eq!(r.read("fixed.txt").unwrap(), "fixed by fixer");
}

#[test]
fn a_failed_security_gate_halts_for_review_at_once() {
    let r = rig(json!({ "agents": { "dev": { "files": { "secret.txt": "AKIA..." } }, "next": {} },
                        "gates": { "security_check": { "forbid": "secret.txt" } } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"work\"\n      agent: \"dev\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      gates: [{ gate: \"security_check\", plugin: \"probe\" }]\n    - stage: \"after\"\n      agent: \"next\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";
    let o = r.run(yaml);
    match &o.status {
        RunStatus::NeedsReview(m) => assert!(m.starts_with("security gate `security_check` failed in stage `work`"), "{m}"),
        other => panic!("expected needs_review, got {other:?}"),
    }
    let j = journal(&o);
    assert_eq!(j.run().unwrap().status, "needs_review");
    assert!(j.gate_results("work", 2).unwrap().is_empty(), "no retry after a security failure");
    assert!(j.task("after/next/probe#1").unwrap().is_none(), "later stages never ran");
}

#[test]
fn add_only_refuses_to_overwrite_and_leaves_the_workspace_untouched() {
    let r = rig(json!({ "agents": { "dev": { "files": { "new.txt": "new", "seed.json": "clobbered" } } } }));
    let yaml = "orchestration_flow:\n  policies: { add_only: true }\n  stages:\n    - stage: \"work\"\n      agent: \"dev\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";
    let o = r.run(yaml);
    match &o.status {
        RunStatus::Failed(m) => assert!(m.contains("add_only: the task would overwrite `seed.json`"), "{m}"),
        other => panic!("expected failure, got {other:?}"),
    }
    assert_eq!(r.read("seed.json").unwrap(), "{}");
    assert_eq!(r.read("new.txt"), None, "nothing of the refused task was merged");
}

#[test]
fn declared_outputs_must_be_produced() {
    let r = rig(json!({ "agents": { "dev": {} } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"work\"\n      agent: \"dev\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      outputs: [\"session_plan\"]\n";
    match r.run(yaml).status {
        RunStatus::Failed(m) => assert!(m.starts_with("stage `work` did not produce its declared output(s): session_plan"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn in_a_parallel_stage_the_suite_runs_after_the_other_agents_have_built() {
    // `qa` generates at once (its first tool overlaps `dev`), but its
    // bash_runner (the probe under that name) waits until `dev` has merged.
    let r = rig_with_plugins(
        json!({ "agents": { "dev": { "sleep_ms": 500, "files": { "app/main.py": "app" } }, "qa": { "files": { "tests/t.py": "t" } } } }),
        &["bash_runner"],
    );
    let yaml = "combination: \"dev + qa\"\nagents:\n  dev:\n    tools: [\"probe\"]\n  qa:\n    tools: [\"probe\", \"bash_runner\"]\n\
                coordination: parallel_execution\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let j = journal(&o);
    let dev = output(&j, "combination/dev/probe#1");
    let (qa_gen, qa_suite) = (output(&j, "combination/qa/probe#1"), output(&j, "combination/qa/bash_runner#1"));
    let ms = |v: &Value, k: &str| v[k].as_u64().unwrap();
    assert!(ms(&qa_gen, "started_ms") < ms(&dev, "finished_ms"), "qa's generator did not overlap dev: {qa_gen} {dev}");
    assert!(ms(&qa_suite, "started_ms") >= ms(&dev, "finished_ms"), "the suite ran while dev was building: {qa_suite} {dev}");
    let waits: Vec<Value> = j.events().unwrap().into_iter().filter(|e| e.kind == "dataflow_wait").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    assert_eq!(waits, [json!({ "stage": "combination", "agent": "qa", "tool": "bash_runner", "peers": ["dev"] })]);
}

#[test]
fn a_failed_peer_means_the_suite_never_runs() {
    let r = rig_with_plugins(json!({ "agents": { "dev": { "sleep_ms": 200, "fail": "failed" }, "qa": {} } }), &["bash_runner"]);
    let yaml = "combination: \"dev + qa\"\nagents:\n  dev:\n    tools: [\"probe\"]\n  qa:\n    tools: [\"bash_runner\"]\n\
                coordination: parallel_execution\n";
    let o = r.run(yaml);
    match &o.status {
        RunStatus::Failed(m) => assert!(m.starts_with("task combination/dev/probe#1 failed: plugin `probe` failed: dev: asked to fail"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(journal(&o).task("combination/qa/bash_runner#1").unwrap().is_none(), "the suite ran after its peer failed");
}

#[test]
fn a_missing_handoff_artifact_fails_the_handoff_and_declared_outputs_the_run() {
    let r = rig(json!({ "agents": { "design": { "files": { "openapi.yaml": "x", "schemas/realm-export.json": "{}" } }, "docs": { "files": { "index.md": "# d" } } } }));
    let combination = |extra: &str| {
        format!(
            "combination: \"design + docs\"\nagents:\n  design:\n    tools: [\"probe\"]\n  docs:\n    tools: [\"probe\"]\n\
             coordination: sequential_execution\n{extra}"
        )
    };
    // Present: a file name, and a file stem with `-` for `_`.
    let o = r.run(&combination("handoff_artifacts: [\"openapi.yaml\", \"realm_export\"]\noutputs: [\"index\"]\n"));
    assert_eq!(o.status, RunStatus::Completed);
    let o = r.run(&combination("handoff_artifacts: [\"openapi.yaml\", \"event_schemas\", \"conf_snippets\"]\n"));
    assert_eq!(
        o.status,
        RunStatus::Failed(
            "handoff to `docs`: the earlier agents did not produce event_schemas, conf_snippets (handoff_artifacts at \
             test.yaml:8:37; a tool's JSON key, or a file or directory of that name)"
                .into()
        )
    );
    assert!(journal(&o).task("docs/docs/probe#1").unwrap().is_none(), "the receiving agent never ran");
    let o = r.run(&combination("outputs: [\"dashboards\"]\n"));
    assert_eq!(
        o.status,
        RunStatus::Failed(
            "the run did not produce its declared output(s): dashboards (outputs at test.yaml:8:11; a tool's JSON key, \
             or a file or directory of that name)"
                .into()
        )
    );
}

#[test]
fn template_variables_are_rendered_into_each_tools_shared_context() {
    let r = rig(json!({ "agents": { "dev": { "files": { "a.txt": "A" } }, "qa": {} } }));
    let yaml = "combination: \"dev + qa\"\nagents:\n  dev:\n    tools: [\"probe\"]\n  qa:\n    tools: [\"probe\"]\n\
                coordination: sequential_execution\ntemplate_integration:\n  agent_roster: \"{{.AvailableAgents}}\"\n\
                \x20 task_context: \"{{.TaskHistory}}\"\n  me: \"{{.AgentName}} runs {{.Tools}}\"\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let j = journal(&o);
    let shared = output(&j, "qa/qa/probe#1")["shared_context"].clone();
    assert_eq!(shared["me"], json!("qa runs [\"probe\"]"));
    assert_eq!(
        shared["agent_roster"],
        json!([{ "name": "dev", "stage": "dev", "tools": ["probe"], "role": null }, { "name": "qa", "stage": "qa", "tools": ["probe"], "role": null }])
    );
    let history = shared["task_context"].as_array().unwrap();
    assert_eq!(history[0], json!({ "task": "dev/dev/probe#1", "status": "done" }));
    assert_eq!(output(&j, "dev/dev/probe#1")["shared_context"]["me"], json!("dev runs [\"probe\"]"));
}

#[test]
fn a_task_slower_than_its_agents_contract_is_an_sla_breach() {
    let r = rig(json!({ "agents": { "slow": { "sleep_ms": 300 }, "quick": {} } }));
    std::fs::create_dir_all(r.workspace.path().join("contracts")).unwrap();
    std::fs::write(r.workspace.path().join("contracts/slow.yaml"), "name: slow\nsla:\n  response_time: \"100ms\"\n").unwrap();
    std::fs::write(r.workspace.path().join("contracts/quick.yaml"), "name: quick\nsla:\n  response_time: \"30s\"\n").unwrap();
    let yaml = "combination: \"slow + quick\"\nagents:\n  slow:\n    tools: [\"probe\"]\n  quick:\n    tools: [\"probe\"]\n\
                coordination: sequential_execution\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed, "a breach is reported, the task stands");
    let breaches: Vec<Value> = journal(&o).events().unwrap().into_iter().filter(|e| e.kind == "sla_breach").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!((breaches[0]["agent"].as_str(), breaches[0]["tool"].as_str(), breaches[0]["sla_ms"].as_u64()), (Some("slow"), Some("probe"), Some(100)));
    assert!(breaches[0]["ms"].as_u64().unwrap() >= 300);
    // ...and counted where Prometheus scrapes.
    let snapshot = journal(&o).snapshot().unwrap();
    let audit = taylordash::audit::AuditLog::new(r.runs.path().join("audit.jsonl"));
    let scope = taylordash::observe::Scope { since_ms: 0, now_ms: i64::MAX, run: None, queue_samples: &[] };
    let text = taylordash::observe::metrics::encode(&taylordash::observe::metrics::from_look(&taylordash::observe::look(vec![snapshot], &audit, scope), 0));
    assert!(text.contains("taylordash_sla_breaches_total{agent=\"slow\",tool=\"probe\"} 1\n"), "{text}");
}

#[test]
fn a_timed_out_task_is_reassigned_to_the_backup_agent() {
    let r = rig(json!({ "agents": { "slow": { "sleep_ms": 5000 }, "backup": { "files": { "done.txt": "by backup" } } } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"work\"\n      agent: \"slow\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      timeout: 500ms\n      backup_agent: \"backup\"\n    - stage: \"spare\"\n      agent: \"backup\"\n      tools: [\"echo\"]\n      rbac: [\"admin\"]\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let attempts = journal(&o).attempts("work/slow/probe#1").unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!((attempts[0].1.as_str(), attempts[0].3), ("slow", Some(4)));
    assert_eq!((attempts[1].1.as_str(), attempts[1].2.as_str()), ("backup", "succeeded"));
    assert_eq!(r.read("done.txt").unwrap(), "by backup");
}

#[test]
fn more_than_three_consecutive_failures_halt_for_review() {
    let r = rig(json!({ "agents": { "flaky": { "fail": "retryable" } } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"work\"\n      agent: \"flaky\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      retries: 10\n      backoff: { initial: 10ms, max: 50ms }\n";
    let o = r.run(yaml);
    match &o.status {
        RunStatus::NeedsReview(m) => assert!(m.starts_with("more than 3 consecutive failures"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(journal(&o).attempts("work/flaky/probe#1").unwrap().len(), 4);
}

/// `stall_timeout` flags agents waiting on each other with no task out; a
/// task running (or awaiting a republish) longer than that is progress:
/// its own deadlines end it. (A broker restart made a stage wait for a
/// republish past the stall window and lost a run this way.)
#[test]
fn tasks_in_flight_longer_than_the_stall_window_are_not_a_stall() {
    let r = rig(json!({ "agents": { "a": { "sleep_ms": 2500 }, "b": { "sleep_ms": 2500 } } }));
    let yaml = format!(
        "orchestration_flow:\n  policies: {{ stall_timeout: 1s }}\n  stages:\n    - stage: \"work\"\n      parallel: true\n      agents:\n{}{}",
        agent("a", ""),
        agent("b", "")
    );
    let o = r.run(&yaml);
    assert_eq!(o.status, RunStatus::Completed);
    assert!(journal(&o).events().unwrap().iter().all(|e| e.kind != "circular_coordination"));
}

#[test]
fn agents_json_lists_every_agents_outputs_and_docs_are_required() {
    let r = rig(json!({ "agents": { "dev": { "files": { "app.py": "print()" } }, "scribe": { "files": { "docs/index.md": "# Docs" } } } }));
    let yaml = "orchestration_flow:\n  policies: { docs_required: true }\n  stages:\n    - stage: \"build\"\n      agent: \"dev\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n    - stage: \"docs\"\n      agent: \"scribe\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      final: true\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let agents: Value = serde_json::from_str(&r.read("agents.json").unwrap()).unwrap();
    assert_eq!(agents["agents"]["dev"]["outputs"], json!(["app.py"]));
    assert_eq!(agents["agents"]["scribe"]["outputs"], json!(["docs/index.md"]));
    assert_eq!(agents["status"], "completed");
    let in_run_dir: Value = serde_json::from_str(&std::fs::read_to_string(o.run_dir.join("agents.json")).unwrap()).unwrap();
    assert_eq!(in_run_dir, agents);

    let r = rig(json!({ "agents": { "dev": { "files": { "app.py": "print()" } } } }));
    let yaml = "orchestration_flow:\n  policies: { docs_required: true }\n  stages:\n    - stage: \"build\"\n      agent: \"dev\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";
    match r.run(yaml).status {
        RunStatus::Failed(m) => assert!(m.starts_with("docs_required: the run produced no documentation artifact"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_run_input_is_an_error_before_anything_runs() {
    let r = rig(json!({}));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"plan\"\n      agent: \"pm\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      inputs: [\"backlog\"]\n";
    let p = pipeline::parse("t.yaml", yaml, &Context::default()).unwrap();
    let opts = RunOptions {
        workspace: r.workspace.path().to_path_buf(),
        principal: "t".into(),
        role: "admin".into(),
        inputs: Vec::new(),
        runs_dir: r.runs.path().to_path_buf(),
        quiet: true,
    };
    let err = Orchestrator::new(&r.dispatch).start(&p, yaml, &opts).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().starts_with("run input `backlog` is missing"), "{err}");
    assert_eq!(std::fs::read_dir(r.runs.path()).unwrap().count(), 0, "no run was created");
}

/// Two 1-second stages that need nothing run side by side; the `final`
/// stage waits for both. The plugin is loaded by a first run, so the timed
/// run measures the stages, not compilation.
#[test]
fn independent_stages_run_at_once_and_the_final_stage_waits_for_both() {
    let r = rig(json!({ "agents": {
        "warm": {},
        "left": { "sleep_ms": 1000, "files": { "left.txt": "L" } },
        "right": { "sleep_ms": 1000, "files": { "right.txt": "R" } },
        "closer": { "files": { "close.txt": "C" } } } }));
    let stage = |name: &str, agent: &str, extra: &str| {
        format!("    - stage: \"{name}\"\n      agent: \"{agent}\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n{extra}")
    };
    let warm = format!("orchestration_flow:\n  stages:\n{}", stage("warm", "warm", ""));
    assert_eq!(r.run(&warm).status, RunStatus::Completed);

    let yaml = format!(
        "orchestration_flow:\n  stages:\n{}{}{}",
        stage("left", "left", ""),
        stage("right", "right", "      needs: []\n"),
        stage("close", "closer", "      final: true\n"),
    );
    let started = std::time::Instant::now();
    let o = r.run(&yaml);
    let took = started.elapsed();
    eprintln!("two independent 1 s stages, then a final one: {took:?}");
    assert_eq!(o.status, RunStatus::Completed);
    assert!(took < std::time::Duration::from_millis(1800), "two independent 1 s stages took {took:?}: not run at once");
    let j = journal(&o);
    let stages: Vec<(String, String)> = j.stages().unwrap().into_iter().map(|(s, status, _)| (s, status)).collect();
    let done = |s: &str| (s.to_string(), "done".to_string());
    assert_eq!(stages, [done("left"), done("right"), done("close")]);
    let (left, right, close) =
        (output(&j, "left/left/probe#1"), output(&j, "right/right/probe#1"), output(&j, "close/closer/probe#1"));
    let span = |v: &Value| (v["started_ms"].as_u64().unwrap(), v["finished_ms"].as_u64().unwrap());
    let ((l0, l1), (r0, r1), (c0, _)) = (span(&left), span(&right), span(&close));
    assert!(l0 < r1 && r0 < l1, "left ran {l0}..{l1}, right ran {r0}..{r1}: no overlap");
    assert!(c0 >= l1.max(r1), "the final stage started at {c0}, before left ({l1}) and right ({r1}) finished");
    for (f, c) in [("left.txt", "L"), ("right.txt", "R"), ("close.txt", "C")] {
        assert_eq!(r.read(f).as_deref(), Some(c));
    }
}

/// Without `needs`, each stage waits for the one before it, as in the seed.
#[test]
fn stages_without_needs_still_run_one_after_another_in_file_order() {
    let r = rig(json!({ "agents": { "one": { "sleep_ms": 200 }, "two": {} } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"a\"\n      agent: \"one\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n    - stage: \"b\"\n      agent: \"two\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";
    let o = r.run(yaml);
    assert_eq!(o.status, RunStatus::Completed);
    let j = journal(&o);
    let (one, two) = (output(&j, "a/one/probe#1"), output(&j, "b/two/probe#1"));
    let (one_done, two_started) = (one["finished_ms"].as_u64().unwrap(), two["started_ms"].as_u64().unwrap());
    assert!(two_started >= one_done, "b started at {two_started}, before a finished at {one_done}");
}

/// `with_max_parallel_stages(1)` runs independent stages one at a time, in file order.
#[test]
fn the_stage_bound_of_one_runs_independent_stages_one_at_a_time() {
    let r = rig(json!({ "agents": { "left": { "sleep_ms": 300 }, "right": { "sleep_ms": 300 } } }));
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"left\"\n      agent: \"left\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n    - stage: \"right\"\n      needs: []\n      agent: \"right\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";
    let o = r.run_with(yaml, |o| o.with_max_parallel_stages(1));
    assert_eq!(o.status, RunStatus::Completed);
    let j = journal(&o);
    let (left, right) = (output(&j, "left/left/probe#1"), output(&j, "right/right/probe#1"));
    let (left_done, right_started) = (left["finished_ms"].as_u64().unwrap(), right["started_ms"].as_u64().unwrap());
    assert!(right_started >= left_done, "right started at {right_started}, before left finished at {left_done}");
}
