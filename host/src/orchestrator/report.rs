//! What a run tells the world as it goes: progress lines on stderr, and
//! `agents.json` (the seed's context-loss prevention) rewritten atomically
//! after every stage, in the run directory and in the workspace.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use taylordash_protocol::StageStatus;

use crate::store::{Journal, StoreError};

/// Who watches a run as it goes. The CLI prints the run id on stdout; the
/// MCP gateway turns stages into `notifications/progress` and a client's
/// `notifications/cancelled` into [`RunObserver::cancelled`].
pub trait RunObserver: Send + Sync {
    /// The run has its id and its journal.
    fn started(&self, _run_id: &str) {}
    /// A stage ended (done, failed or skipped); `finished` of `total` have.
    fn stage_finished(&self, _stage: &str, _status: StageStatus, _finished: usize, _total: usize) {}
    /// Whether the run should stop: asked before each stage and each task;
    /// a cancelled run ends `cancelled`, and `resume` continues it.
    fn cancelled(&self) -> bool {
        false
    }
}

/// The CLI's observer: the run id on stdout, for scripts.
pub struct PrintRunId;

impl RunObserver for PrintRunId {
    fn started(&self, run_id: &str) {
        println!("{run_id}");
    }
}

/// A progress line, unless quiet.
pub fn progress(quiet: bool, line: std::fmt::Arguments<'_>) {
    if !quiet {
        eprintln!("{line}");
    }
}

/// The agents' state from the journal.
pub fn agents_state(journal: &Journal) -> Result<Value, StoreError> {
    let run = journal.run()?;
    let stages: Vec<Value> = journal
        .stages()?
        .into_iter()
        .map(|(stage, status, attempt)| json!({ "stage": stage, "status": status, "attempt": attempt }))
        .collect();
    let merges = journal.merges()?;
    let mut agents: BTreeMap<String, Value> = BTreeMap::new();
    for task in journal.tasks()? {
        let entry = agents.entry(task.agent.clone()).or_insert_with(|| {
            json!({ "stage": task.stage, "tools": [], "outputs": [] })
        });
        let outputs: Vec<&str> =
            merges.iter().filter(|(_, t, _)| *t == task.task_id).map(|(p, _, _)| p.as_str()).collect();
        if let Some(tools) = entry["tools"].as_array_mut() {
            tools.push(json!({ "task": task.task_id, "tool": task.tool, "status": task.status, "attempts": task.attempts }));
        }
        if let Some(all) = entry["outputs"].as_array_mut() {
            for p in outputs {
                if !all.iter().any(|v| v == p) {
                    all.push(json!(p));
                }
            }
        }
    }
    Ok(json!({
        "run_id": run.id,
        "pipeline": run.pipeline,
        "status": run.status,
        "trace_id": run.trace_id,
        "stages": stages,
        "agents": agents,
    }))
}

/// Write `agents.json` into each directory, atomically (temp file + rename).
pub fn write_agents_json(journal: &Journal, dirs: &[&Path]) -> Result<(), String> {
    let state = agents_state(journal).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&state).map_err(|e| e.to_string())?;
    for dir in dirs {
        let mut tmp = tempfile::Builder::new()
            .prefix(".agents.json.")
            .tempfile_in(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| e.to_string())?;
        tmp.as_file().sync_data().map_err(|e| e.to_string())?;
        tmp.persist(dir.join("agents.json")).map_err(|e| e.error.to_string())?;
    }
    Ok(())
}
