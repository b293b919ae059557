//! A run's journal read whole, for the ones who measure runs (`stats`,
//! `/metrics`, the KPI page) rather than drive them: every stage with its
//! times, every attempt with its task, timing and cost, every gate verdict
//! and event. Reading never writes: the journals of the runs directory are
//! opened as they are.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use super::db::p;
use super::{EventRow, GateRow, Journal, JournalUrl, Journals, Result, RunRow};
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
        let id = &self.run_id;
        let stages = self.all(
            "SELECT stage, position, status, attempt, started_at, finished_at FROM stages WHERE run_id = ?1 ORDER BY position",
            p![id],
            |r| {
                Ok(StageSpan {
                    stage: r.text(0)?,
                    position: r.int(1)?,
                    status: r.text(2)?,
                    attempt: r.u32(3)?,
                    started_at: r.opt_int(4)?,
                    finished_at: r.opt_int(5)?,
                })
            },
        )?;
        let attempts = self.all(
            "SELECT a.task_id, t.stage, t.tool, a.agent, a.attempt, a.status, a.exit_code, a.error, a.started_at, a.duration_ms,
                    a.trace_id, a.span_id, t.span_id, t.status, a.fuel, a.memory_peak, a.call_ms, a.bytes_in, a.bytes_out,
                    a.blobs_cached, a.blobs_fetched, a.blobs_out, a.bytes_moved
             FROM attempts a JOIN tasks t ON t.run_id = a.run_id AND t.task_id = a.task_id
             WHERE a.run_id = ?1 ORDER BY a.started_at, a.task_id, a.attempt",
            p![id],
            |r| {
                let usage = match r.opt_int(14)? {
                    Some(fuel) => Some(Usage {
                        fuel: fuel.max(0) as u64,
                        memory_peak: r.amount(15)?,
                        call_ms: r.amount(16)?,
                        bytes_in: r.amount(17)?,
                        bytes_out: r.amount(18)?,
                        blobs_cached: r.amount(19)?,
                        blobs_fetched: r.amount(20)?,
                        blobs_out: r.amount(21)?,
                        bytes_moved: r.amount(22)?,
                    }),
                    None => None,
                };
                Ok(AttemptFact {
                    task_id: r.text(0)?,
                    stage: r.text(1)?,
                    tool: r.text(2)?,
                    agent: r.text(3)?,
                    attempt: r.u32(4)?,
                    status: r.text(5)?,
                    exit_code: r.opt_i32(6)?,
                    error: r.opt_text(7)?,
                    started_at: r.int(8)?,
                    duration_ms: r.opt_int(9)?,
                    trace_id: r.text(10)?,
                    span_id: r.text(11)?,
                    task_span_id: r.text(12)?,
                    task_status: r.text(13)?,
                    usage,
                })
            },
        )?;
        let pending = self.all(
            "SELECT task_id, stage, agent, tool FROM tasks t
             WHERE t.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id)
             ORDER BY t.seq",
            p![id],
            |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?)),
        )?;
        Ok(RunSnapshot { run, stages, attempts, pending, gates: self.gates()?, events: self.events()? })
    }

    /// What changed whenever the run changed: its update time, its last
    /// event, its attempts that ended (a server reads a run again only then).
    fn change_marks(&self) -> Result<Vec<(String, [i64; 3])>> {
        self.all(
            "SELECT r.id, r.updated_at,
                    (SELECT CAST(COALESCE(MAX(e.id), 0) AS BIGINT) FROM events e WHERE e.run_id = r.id),
                    (SELECT COUNT(*) FROM attempts a WHERE a.run_id = r.id AND a.status <> 'running')
             FROM runs r",
            p![],
            |r| Ok((r.text(0)?, [r.int(1)?, r.int(2)?, r.int(3)?])),
        )
    }
}

/// Every run the journals hold, oldest first. A journal that cannot be
/// read is skipped with a warning: one bad run must not blind the operator
/// to the others.
pub fn read_runs(journals: &Journals) -> Vec<RunSnapshot> {
    Snapshots::default().read(journals)
}

/// What tells that a run changed: a SQLite journal's and its write-ahead
/// log's sizes and modification times (a commit changes one of them), or
/// a PostgreSQL run's [`Journal::change_marks`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    File([(u64, Option<SystemTime>); 2]),
    Marks([i64; 3]),
}

fn file_stamp(db: &Path) -> Stamp {
    let of = |p: &Path| std::fs::metadata(p).map_or((0, None), |m| (m.len(), m.modified().ok()));
    Stamp::File([of(db), of(&db.with_extension("sqlite-wal"))])
}

/// The runs read again and again (a server's view): a run is read only
/// when it changed since the last look.
#[derive(Default)]
pub struct Snapshots {
    seen: HashMap<String, (Stamp, RunSnapshot)>,
}

impl Snapshots {
    pub fn read(&mut self, journals: &Journals) -> Vec<RunSnapshot> {
        match journals.url() {
            JournalUrl::Files => self.read_files(journals),
            JournalUrl::Postgres(url) => {
                if let Err(e) = self.read_database(url) {
                    tracing::warn!("cannot read the runs' journal: {e}");
                }
            }
        }
        let mut runs: Vec<RunSnapshot> = self.seen.values().map(|(_, s)| s.clone()).collect();
        runs.sort_by(|a, b| (a.run.created_at, &a.run.id).cmp(&(b.run.created_at, &b.run.id)));
        runs
    }

    fn read_files(&mut self, journals: &Journals) {
        let ids = journals.file_run_ids();
        self.seen.retain(|id, _| ids.contains(id));
        for id in ids {
            let db = journals.run_dir(&id).join("journal.sqlite");
            let now = file_stamp(&db);
            if self.seen.get(&id).is_some_and(|(was, _)| *was == now) {
                continue;
            }
            match Journal::open(&db).and_then(|j| j.snapshot()) {
                Ok(snapshot) => {
                    self.seen.insert(id, (now, snapshot));
                }
                Err(e) => tracing::warn!("skipping a run journal: {e}"),
            }
        }
    }

    fn read_database(&mut self, url: &str) -> Result<()> {
        let mut journal = Journal::connect(url, "")?;
        let marks = journal.change_marks()?;
        self.seen.retain(|id, _| marks.iter().any(|(m, _)| m == id));
        for (id, marks) in marks {
            let now = Stamp::Marks(marks);
            if self.seen.get(&id).is_some_and(|(was, _)| *was == now) {
                continue;
            }
            journal.run_id = id.clone();
            match journal.snapshot() {
                Ok(snapshot) => {
                    self.seen.insert(id, (now, snapshot));
                }
                Err(e) => tracing::warn!("skipping run {id}: {e}"),
            }
        }
        Ok(())
    }
}
