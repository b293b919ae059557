//! `taylordash run` / `resume` / `runs` as processes: a run killed with
//! SIGKILL mid-stage (one stage at a time, or two at once), or aborted between merging a task's files and recording
//! it done, resumes without running any finished task again; RBAC refuses a
//! role a stage does not admit.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taylordash::store::Journal;

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new(probe: Value) -> Self {
        common::plugins_built();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("ws")).unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        std::fs::write(root.path().join("ws/probe.json"), probe.to_string()).unwrap();
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(args)
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("TAYLORDASH_PLUGINS_DIR", common::test_plugin("probe").parent().unwrap())
            .env_remove("TAYLORDASH_CRASH_AT");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn write(&self, rel: &str, text: &str) -> String {
        std::fs::write(self.path(rel), text).unwrap();
        self.path(rel).display().to_string()
    }

    fn journal(&self, run_id: &str) -> Journal {
        Journal::open(&self.path("runs").join(run_id).join("journal.sqlite")).unwrap()
    }
}


fn probe_config(second_sleep_ms: u64) -> Value {
    json!({ "agents": {
        "one": { "files": { "one.txt": "1" } },
        "two": { "sleep_ms": second_sleep_ms, "files": { "two.txt": "2" } },
        "three": { "files": { "three.txt": "3" } } } })
}

fn run_id(out: &[u8]) -> String {
    String::from_utf8_lossy(out).lines().next().unwrap_or_default().trim().to_string()
}

fn succeeded_attempts(j: &Journal, task: &str) -> usize {
    j.attempts(task).unwrap().iter().filter(|a| a.2 == "succeeded").count()
}

fn wait_for(path: &Path, what: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|t| what(&t)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {}", path.display());
}

#[test]
fn kill_9_mid_run_then_resume_runs_no_finished_task_twice() {
    let env = Env::new(probe_config(4000));
    let pipeline = env.write("p.yaml", common::THREE_STAGES);
    let ws = env.path("ws").display().to_string();
    let mut child = env.cmd(&["run", &pipeline, "--workspace", &ws]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    // agents.json is rewritten after every stage: once it shows `first` done,
    // the run is inside `second` (a 4 s task): kill it there.
    wait_for(&env.path("ws/agents.json"), |t| t.contains("\"stage\": \"first\"") && t.contains("\"status\": \"done\""));
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let id = run_id(&out.stdout);
    assert!(id.starts_with("run-"), "{id:?}");
    assert!(!env.path("ws/two.txt").exists(), "killed before `second` finished");
    let agents: Value = serde_json::from_str(&std::fs::read_to_string(env.path("ws/agents.json")).unwrap()).unwrap();
    assert_eq!(agents["stages"][0], json!({ "stage": "first", "status": "done", "attempt": 1 }));

    // Make the resumed attempt quick.
    std::fs::write(env.path("ws/probe.json"), probe_config(10).to_string()).unwrap();
    let resumed = env.run(&["resume", &id]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let j = env.journal(&id);
    assert_eq!(j.run().unwrap().status, "completed");
    assert_eq!(j.attempts("first/one/probe#1").unwrap().len(), 1, "a finished task ran again");
    assert_eq!(succeeded_attempts(&j, "second/two/probe#1"), 1);
    assert_eq!(succeeded_attempts(&j, "third/three/probe#1"), 1);
    for (f, c) in [("one.txt", "1"), ("two.txt", "2"), ("three.txt", "3")] {
        assert_eq!(std::fs::read_to_string(env.path("ws").join(f)).unwrap(), c);
    }
}

/// `quick` and `slow` need nothing, so they run at once; `last` is final.
const PARALLEL_STAGES: &str = r#"orchestration_flow:
  stages:
    - stage: "quick"
      agent: "one"
      tools: ["probe"]
      rbac: ["admin"]
    - stage: "slow"
      needs: []
      agent: "two"
      tools: ["probe"]
      rbac: ["admin"]
    - stage: "last"
      final: true
      agent: "three"
      tools: ["probe"]
      rbac: ["admin"]
"#;

#[test]
fn kill_9_with_parallel_stages_then_resume_runs_no_finished_stage_twice() {
    let env = Env::new(probe_config(4000));
    let pipeline = env.write("p.yaml", PARALLEL_STAGES);
    let ws = env.path("ws").display().to_string();
    let mut child = env.cmd(&["run", &pipeline, "--workspace", &ws]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    // `quick` done while `slow` (a 4 s task started beside it) still runs: kill there.
    wait_for(&env.path("ws/agents.json"), |t| t.contains("\"stage\": \"quick\"") && t.contains("\"status\": \"done\""));
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let id = run_id(&out.stdout);
    assert!(id.starts_with("run-"), "{id:?}");
    assert!(!env.path("ws/two.txt").exists(), "killed before `slow` finished");
    let j = env.journal(&id);
    assert_eq!(j.attempts("slow/two/probe#1").unwrap().len(), 1, "`slow` ran beside `quick`, not after it");
    assert!(j.task("last/three/probe#1").unwrap().is_none(), "the final stage waits for every other stage");

    std::fs::write(env.path("ws/probe.json"), probe_config(10).to_string()).unwrap();
    let resumed = env.run(&["resume", &id]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let j = env.journal(&id);
    assert_eq!(j.run().unwrap().status, "completed");
    assert_eq!(j.attempts("quick/one/probe#1").unwrap().len(), 1, "a finished task ran again");
    assert_eq!(succeeded_attempts(&j, "slow/two/probe#1"), 1);
    assert_eq!(succeeded_attempts(&j, "last/three/probe#1"), 1);
    for (f, c) in [("one.txt", "1"), ("two.txt", "2"), ("three.txt", "3")] {
        assert_eq!(std::fs::read_to_string(env.path("ws").join(f)).unwrap(), c);
    }
}

#[test]
fn a_crash_between_merge_and_done_resumes_cleanly_under_add_only() {
    let env = Env::new(probe_config(0));
    let pipeline = env.write("p.yaml", common::THREE_STAGES);
    let ws = env.path("ws").display().to_string();
    let out = env.cmd(&["run", &pipeline, "--workspace", &ws]).env("TAYLORDASH_CRASH_AT", "after_merge:second/two/probe#1").output().unwrap();
    assert_ne!(out.status.code(), Some(0), "the process must have aborted");
    let id = run_id(&out.stdout);
    assert_eq!(std::fs::read_to_string(env.path("ws/two.txt")).unwrap(), "2", "merged before the crash");
    assert_eq!(env.journal(&id).task("second/two/probe#1").unwrap().unwrap().status, "merging");

    let resumed = env.run(&["resume", &id]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let j = env.journal(&id);
    assert_eq!(j.attempts("second/two/probe#1").unwrap().len(), 1, "the merged task was not run again");
    assert_eq!(j.task("second/two/probe#1").unwrap().unwrap().status, "done");
    assert_eq!(j.run().unwrap().status, "completed");
    assert_eq!(std::fs::read_to_string(env.path("ws/three.txt")).unwrap(), "3");
}

#[test]
fn a_viewer_is_denied_an_admin_stage_with_exit_3() {
    let env = Env::new(probe_config(0));
    let pipeline = env.write("p.yaml", common::THREE_STAGES);
    let policy = env.write("policy.yaml", "principals: { alice: admin, dash: viewer }\n");
    let ws = env.path("ws").display().to_string();
    let out = env.run(&["--policy", &policy, "--as", "dash", "run", &pipeline, "--workspace", &ws]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("denied: stage `first` (agent `one`) may be run by role admin; `dash` has role `viewer`"), "{err}");
    let out = env.run(&["--policy", &policy, "--as", "mallory", "run", &pipeline, "--workspace", &ws]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`mallory` has role `none`"));
    assert!(!env.path("ws/one.txt").exists());
    let audit = env.run(&["audit", "--denied", "--json"]);
    let events: Vec<Value> = serde_json::from_slice(&audit.stdout).unwrap();
    let who: Vec<(&str, &str)> = events.iter().map(|e| (e["principal"].as_str().unwrap(), e["capability"].as_str().unwrap())).collect();
    assert_eq!(who, [("dash", "rbac"), ("mallory", "rbac")]);
    let ok = env.run(&["--policy", &policy, "--as", "alice", "run", &pipeline, "--workspace", &ws, "--quiet"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn a_quiet_run_says_nothing_when_it_completes_and_why_when_it_fails() {
    let env = Env::new(probe_config(0));
    let pipeline = env.write("p.yaml", common::THREE_STAGES);
    let ws = env.path("ws").display().to_string();
    let ok = env.run(&["run", &pipeline, "--workspace", &ws, "-q"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stderr), "");

    std::fs::write(env.path("ws/probe.json"), json!({ "agents": { "two": { "fail": "failed" } } }).to_string()).unwrap();
    let failed = env.run(&["run", &pipeline, "--workspace", &ws, "-q"]);
    assert_eq!(failed.status.code(), Some(1));
    let id = run_id(&failed.stdout);
    let err = String::from_utf8_lossy(&failed.stderr);
    let reason = err.lines().find(|l| l.starts_with(&format!("run {id}: failed: "))).unwrap_or_else(|| panic!("no reason given:\n{err}"));
    assert!(reason.contains("two: asked to fail"), "{reason}");
}

#[test]
fn runs_list_and_show_report_the_journal() {
    let env = Env::new(probe_config(0));
    let pipeline = env.write("p.yaml", common::THREE_STAGES);
    let ws = env.path("ws").display().to_string();
    let out = env.run(&["run", &pipeline, "--workspace", &ws, "--quiet"]);
    let id = run_id(&out.stdout);
    let list = env.run(&["runs", "list", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["id"].as_str(), rows[0]["status"].as_str()), (Some(id.as_str()), Some("completed")));
    let show = env.run(&["runs", "show", &id, "--json"]);
    let doc: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(doc["tasks"].as_array().unwrap().len(), 3);
    let again = env.run(&["resume", &id]);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already completed"));
}

/// The seed's `data_corruption: inconsistent state detection`: a file the
/// run merged is changed behind its back while it is down. `runs verify`
/// names it (exit 1); `resume` halts for review instead of building on it;
/// `resume --accept-workspace-changes` continues, and the accepted change is
/// no longer a finding.
#[test]
fn a_workspace_changed_behind_a_crashed_run_halts_its_resume_for_review() {
    let env = Env::new(probe_config(0));
    let pipeline = env.write("p.yaml", common::THREE_STAGES);
    let ws = env.path("ws").display().to_string();
    let out = env.cmd(&["run", &pipeline, "--workspace", &ws]).env("TAYLORDASH_CRASH_AT", "after_merge:second/two/probe#1").output().unwrap();
    assert_ne!(out.status.code(), Some(0), "the process must have aborted");
    let id = run_id(&out.stdout);
    let clean = env.run(&["runs", "verify", &id]);
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stdout));
    assert_eq!(
        String::from_utf8_lossy(&clean.stdout),
        format!("run {id}: consistent — 2 merged file(s) match the journal, and the journal agrees with itself\n")
    );

    std::fs::write(env.path("ws/one.txt"), "edited by hand").unwrap();
    let verify = env.run(&["runs", "verify", &id]);
    assert_eq!(verify.status.code(), Some(1));
    let said = String::from_utf8_lossy(&verify.stdout);
    let one = env.path("ws/one.txt").display().to_string();
    // sha256("1") = 6b86b273ff34…, sha256("edited by hand") = …
    assert!(said.starts_with(&format!("run {id}: 1 finding(s) over 2 merged file(s):\n  {one}: changed since the run merged it (sha256 now ")), "{said}");
    assert!(said.contains("the journal recorded 6b86b273ff34)"), "{said}");

    let resumed = env.run(&["resume", &id]);
    assert_eq!(resumed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert!(err.contains("data corruption: the run's files are not what its journal recorded"), "{err}");
    assert!(err.contains(&format!("`taylordash runs verify {id}`")), "{err}");
    let j = env.journal(&id);
    assert_eq!(j.run().unwrap().status, "needs_review");
    assert!(j.events().unwrap().iter().any(|e| e.kind == "data_corruption"));
    assert!(!env.path("ws/three.txt").exists(), "nothing was built on the changed file");

    let accepted = env.run(&["resume", &id, "--accept-workspace-changes"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", String::from_utf8_lossy(&accepted.stderr));
    assert_eq!(env.journal(&id).run().unwrap().status, "completed");
    assert_eq!(std::fs::read_to_string(env.path("ws/three.txt")).unwrap(), "3");
    assert_eq!(std::fs::read_to_string(env.path("ws/one.txt")).unwrap(), "edited by hand", "the operator's change stands");
    let verify = env.run(&["runs", "verify", &id, "--json"]);
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stdout));
    let doc: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(doc["findings"], json!([]));
    assert_eq!(doc["merged_files"], 3);

    // A merged file deleted, and a journal that contradicts itself.
    std::fs::remove_file(env.path("ws/three.txt")).unwrap();
    let db = rusqlite::Connection::open(env.path("runs").join(&id).join("journal.sqlite")).unwrap();
    db.execute("DELETE FROM attempts WHERE task_id = 'first/one/probe#1'", []).unwrap();
    drop(db);
    let verify = env.run(&["runs", "verify", &id]);
    assert_eq!(verify.status.code(), Some(1));
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(said.contains("the journal disagrees with itself: task first/one/probe#1 is done without a succeeded attempt"), "{said}");
    assert!(said.contains(&format!("{}: merged by the run, now missing", env.path("ws/three.txt").display())), "{said}");
}
