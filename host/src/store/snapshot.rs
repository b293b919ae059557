//! A run's journal read whole, for the ones who measure runs (`stats`,
//! `/metrics`, the KPI page) rather than drive them: every stage with its
//! times, every attempt with its task, timing and cost, every gate verdict
//! and event. Reading never writes: the journals of the runs directory are
//! opened as they are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::params;

use super::{EventRow, GateRow, Journal, Result, RunRow};
use taylordash_protocol::bus::Usage;

/// One stage of a run, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageSpan {
    pub stage: String,
    pub position: i64,
    pub status: String,
    pub attempt: u32,
    /// Unix ms; set when the stage first started.
    pub started_at: Option<i64>,
    /// Unix ms; set when the stage finished (any outcome).
    pub finished_at: Option<i64>,
}

/// One attempt of one task, with what the task was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptFact {
    pub task_id: String,
    pub stage: String,
    pub tool: String,
    /// The agent that ran this attempt (a backup after a reassignment).
    pub agent: String,
    pub attempt: u32,
    pub status: String,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_at: i64,
    pub duration_ms: Option<i64>,
    pub trace_id: String,
    pub span_id: String,
    /// The task's own span (the parent of its attempts' spans).
    pub task_span_id: String,
    /// The task's status now (`done` once merged).
    pub task_status: String,
    /// Set on succeeded attempts journaled by a TaylorDash that measures it.
    pub usage: Option<Usage>,
}

/// Everything one run's journal holds that a measure needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunSnapshot {
    pub run: RunRow,
    pub stages: Vec<StageSpan>,
    pub attempts: Vec<AttemptFact>,
    /// Tasks journaled but never attempted yet: `(task_id, stage, agent, tool)`.
    pub pending: Vec<(String, String, String, String)>,
    pub gates: Vec<GateRow>,
    pub events: Vec<EventRow>,
}

impl Journal {
    /// The whole run, read in one pass.
    pub fn snapshot(&self) -> Result<RunSnapshot> {
        let run = self.run()?;
        let stages = self.query(
            "SELECT stage, position, status, attempt, started_at, finished_at FROM stages ORDER BY position",
            |r| {
                Ok(StageSpan {
                    stage: r.get(0)?,
                    position: r.get(1)?,
                    status: r.get(2)?,
                    attempt: r.get(3)?,
                    started_at: r.get(4)?,
                    finished_at: r.get(5)?,
                })
            },
        )?;
        let attempts = self.query(
            "SELECT a.task_id, t.stage, t.tool, a.agent, a.attempt, a.status, a.exit_code, a.error, a.started_at, a.duration_ms,
                    a.trace_id, a.span_id, t.span_id, t.status, a.fuel, a.memory_peak, a.call_ms, a.bytes_in, a.bytes_out,
                    a.blobs_cached, a.blobs_fetched, a.blobs_out, a.bytes_moved
             FROM attempts a JOIN tasks t ON t.task_id = a.task_id ORDER BY a.started_at, a.task_id, a.attempt",
            |r| {
                let fuel: Option<i64> = r.get(14)?;
                let usage = match fuel {
                    Some(fuel) => Some(Usage {
                        fuel: fuel.max(0) as u64,
                        memory_peak: r.get::<_, Option<i64>>(15)?.unwrap_or(0).max(0) as u64,
                        call_ms: r.get::<_, Option<i64>>(16)?.unwrap_or(0).max(0) as u64,
                        bytes_in: r.get::<_, Option<i64>>(17)?.unwrap_or(0).max(0) as u64,
                        bytes_out: r.get::<_, Option<i64>>(18)?.unwrap_or(0).max(0) as u64,
                        blobs_cached: r.get::<_, Option<i64>>(19)?.unwrap_or(0).max(0) as u64,
                        blobs_fetched: r.get::<_, Option<i64>>(20)?.unwrap_or(0).max(0) as u64,
                        blobs_out: r.get::<_, Option<i64>>(21)?.unwrap_or(0).max(0) as u64,
                        bytes_moved: r.get::<_, Option<i64>>(22)?.unwrap_or(0).max(0) as u64,
                    }),
                    None => None,
                };
                Ok(AttemptFact {
                    task_id: r.get(0)?,
                    stage: r.get(1)?,
                    tool: r.get(2)?,
                    agent: r.get(3)?,
                    attempt: r.get(4)?,
                    status: r.get(5)?,
                    exit_code: r.get(6)?,
                    error: r.get(7)?,
                    started_at: r.get(8)?,
                    duration_ms: r.get(9)?,
                    trace_id: r.get(10)?,
                    span_id: r.get(11)?,
                    task_span_id: r.get(12)?,
                    task_status: r.get(13)?,
                    usage,
                })
            },
        )?;
        let pending = self.query(
            "SELECT task_id, stage, agent, tool FROM tasks t
             WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.task_id = t.task_id) ORDER BY rowid",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        Ok(RunSnapshot { run, stages, attempts, pending, gates: self.gates()?, events: self.events()? })
    }

    fn query<T>(&self, sql: &str, row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.wrap(e))?;
        let rows = stmt.query_map(params![], row).map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }
}

/// Every run under `runs_dir`, oldest first. A journal that cannot be read
/// is skipped with a warning: one bad run must not blind the operator to
/// the others.
pub fn read_runs(runs_dir: &Path) -> Vec<RunSnapshot> {
    Snapshots::default().read(runs_dir)
}

/// Sizes and modification times of a journal and its write-ahead log: a
/// commit changes one of them.
type Stamp = [(u64, Option<SystemTime>); 2];

fn stamp(db: &Path) -> Stamp {
    let of = |p: &Path| std::fs::metadata(p).map_or((0, None), |m| (m.len(), m.modified().ok()));
    [of(db), of(&db.with_extension("sqlite-wal"))]
}

/// The runs of a directory read again and again (a server's view): a
/// journal is read only when it changed since the last look.
#[derive(Default)]
pub struct Snapshots {
    seen: HashMap<PathBuf, (Stamp, RunSnapshot)>,
}

impl Snapshots {
    pub fn read(&mut self, runs_dir: &Path) -> Vec<RunSnapshot> {
        let dbs: Vec<PathBuf> = match std::fs::read_dir(runs_dir) {
            Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path().join("journal.sqlite")).filter(|db| db.is_file()).collect(),
            Err(_) => Vec::new(),
        };
        self.seen.retain(|db, _| dbs.contains(db));
        for db in dbs {
            let now = stamp(&db);
            if self.seen.get(&db).is_some_and(|(was, _)| *was == now) {
                continue;
            }
            match Journal::open(&db).and_then(|j| j.snapshot()) {
                Ok(snapshot) => {
                    self.seen.insert(db, (now, snapshot));
                }
                Err(e) => tracing::warn!("skipping a run journal: {e}"),
            }
        }
        let mut runs: Vec<RunSnapshot> = self.seen.values().map(|(_, s)| s.clone()).collect();
        runs.sort_by(|a, b| (a.run.created_at, &a.run.id).cmp(&(b.run.created_at, &b.run.id)));
        runs
    }
}
