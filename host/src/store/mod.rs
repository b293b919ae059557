//! The run journal: the run, its stages, tasks, every attempt, gate
//! results, merges and events — in one SQLite file (WAL) per run by default,
//! or in a PostgreSQL database that several orchestrators share
//! (`--journal postgres://…`): the same tables with the run in every key,
//! the same statements ([`db`]).
//!
//! The orchestrator writes an attempt's outcome and its merge intent in one
//! transaction before it touches the workspace, and marks the task done only
//! after the merge: a crash at any instant leaves a journal from which
//! `resume` can tell what finished, what was half-merged, and what never ran.
//! One orchestrator drives a run at a time: it holds the run's lease
//! ([`lease`]), and the writes that start or commit work check it in the
//! same statement.

mod db;
mod journals;
pub mod lease;
mod snapshot;

pub use journals::{JournalUrl, Journals};
pub use lease::{Lease, LeaseHolder, Owner};
pub use snapshot::{AttemptFact, RunSnapshot, Snapshots, StageSpan, read_runs};

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use db::{Db, DbError, Row, TxError, p};
use taylordash_protocol::bus::Usage;
use taylordash_protocol::{AttemptStatus, ExitCode, RunStatus, StageStatus, TaskStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("run journal {at}: {source}")]
    Sqlite { at: String, source: rusqlite::Error },
    #[error("run journal {at}: {source}")]
    Postgres { at: String, source: postgres::Error },
    #[error("a journal row's column {index} holds {found}, not {wanted}")]
    Column { index: usize, wanted: &'static str, found: String },
    #[error("no run `{0}`")]
    NoRun(String),
    #[error("run `{run}` is driven by another orchestrator now ({holder}): this one lost its lease")]
    LeaseLost { run: String, holder: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A run's row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRow {
    pub id: String,
    pub pipeline: String,
    pub workspace: String,
    pub principal: String,
    pub role: String,
    /// A [`RunStatus`]/[`TaskStatus`] text (`FromStr` reads it back).
    pub status: String,
    pub trace_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub error: Option<String>,
}

/// A task's row: what ran, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskRow {
    pub task_id: String,
    pub stage: String,
    pub agent: String,
    pub tool: String,
    /// A [`RunStatus`]/[`TaskStatus`] text (`FromStr` reads it back).
    pub status: String,
    pub attempts: i64,
    pub output: Option<String>,
    pub staging: Option<String>,
}

/// One attempt of a task: who ran it, how it ended, when and for how long.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRow {
    pub attempt: u32,
    pub agent: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Set when the attempt ended (succeeded or failed).
    pub duration_ms: Option<i64>,
}

/// Blobs a run moved ([`Journal::blobs_moved`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlobsMoved {
    /// Workspace blobs found in a worker's cache.
    pub cached: u64,
    /// Workspace blobs workers fetched.
    pub fetched: u64,
    /// `/out` blobs fetched back from workers.
    pub out: u64,
    /// Bytes fetched both ways.
    pub bytes: u64,
}

/// A gate's verdict on one stage attempt, with its report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GateRow {
    pub stage: String,
    pub attempt: u32,
    pub gate: String,
    pub passed: bool,
    pub report: String,
}

/// One journaled event (progress, decisions, gate reports, audit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub at: i64,
    pub kind: String,
    pub data: String,
}

/// A successful attempt about to merge: what [`Journal::record_merge_intent`] records.
#[derive(Debug, Clone, Copy)]
pub struct MergeIntent<'a> {
    pub task_id: &'a str,
    pub attempt: u32,
    pub duration_ms: i64,
    /// The tool's JSON output.
    pub output: &'a str,
    /// The staging directory the files are merged from (kept for resume).
    pub staging: &'a str,
    /// `(path, sha256)` of every file the merge will write.
    pub files: &'a [(String, String)],
    pub agent: &'a str,
    pub stage: &'a str,
    /// What the call cost (fuel, memory, sandbox time, bytes).
    pub usage: Usage,
}

/// `(attempt, agent, status, exit_code, error)`: one attempt of a task.
pub type AttemptSummary = (u32, String, String, Option<i32>, Option<String>);

/// A run as it starts: what [`Journal::create_run`] records.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    pub id: &'a str,
    /// The pipeline's file name, and its text (kept for resume).
    pub pipeline: &'a str,
    pub pipeline_text: &'a str,
    pub workspace: &'a str,
    pub principal: &'a str,
    pub role: &'a str,
    pub trace_id: &'a str,
    /// The resolved run inputs, as JSON.
    pub inputs: &'a str,
}

pub struct Journal {
    db: RefCell<Db>,
    /// The file, or the database URL without its password (for messages).
    at: String,
    /// The run this journal is of ('' in a SQLite file until [`Journal::create_run`]).
    run_id: String,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const TASK_COLUMNS: &str = "SELECT t.task_id, t.stage, t.agent, t.tool, t.status,
       (SELECT COUNT(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id), t.output, t.staging
     FROM tasks t";

impl Journal {
    /// Open (or create) the SQLite journal of one run at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let at = path.display().to_string();
        let db = Db::sqlite(path).map_err(|source| StoreError::Sqlite { at: at.clone(), source })?;
        let journal = Journal { db: RefCell::new(db), at, run_id: String::new() };
        let run_id = journal.one("SELECT id FROM runs LIMIT 1", p![], |r| r.text(0))?.unwrap_or_default();
        Ok(Journal { run_id, ..journal })
    }

    /// Connect to run `run_id`'s journal in a PostgreSQL database (creating
    /// the tables if they are not there).
    pub fn connect(url: &str, run_id: &str) -> Result<Self> {
        let at = journals::redact(url);
        let db = Db::postgres(url).map_err(|source| StoreError::Postgres { at: at.clone(), source })?;
        Ok(Journal { db: RefCell::new(db), at, run_id: run_id.to_string() })
    }

    /// The run this journal is of.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    fn wrap(&self, e: DbError) -> StoreError {
        match e {
            DbError::Sqlite(source) => StoreError::Sqlite { at: self.at.clone(), source },
            DbError::Postgres(source) => StoreError::Postgres { at: self.at.clone(), source },
            DbError::Row(e) => e,
        }
    }

    fn exec(&self, sql: &str, params: &[db::P<'_>]) -> Result<u64> {
        self.db.borrow_mut().exec(sql, params).map_err(|e| self.wrap(e))
    }

    fn all<T>(&self, sql: &str, params: &[db::P<'_>], each: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
        let rows = self.db.borrow_mut().rows(sql, params).map_err(|e| self.wrap(e))?;
        rows.iter().map(each).collect()
    }

    fn one<T>(&self, sql: &str, params: &[db::P<'_>], each: impl Fn(&Row) -> Result<T>) -> Result<Option<T>> {
        let row = self.db.borrow_mut().row(sql, params).map_err(|e| self.wrap(e))?;
        row.as_ref().map(each).transpose()
    }

    /// Run `f` in one transaction.
    fn transaction<T>(&self, f: impl FnOnce(&mut Db) -> std::result::Result<T, TxError>) -> Result<T> {
        self.db.borrow_mut().transaction(f).map_err(|e| match e {
            TxError::Db(e) => self.wrap(e),
            TxError::Store(e) => e,
        })
    }

    pub fn create_run(&mut self, run: &NewRun<'_>) -> Result<()> {
        let NewRun { id, pipeline, pipeline_text, workspace, principal, role, trace_id, inputs } = *run;
        self.run_id = id.to_string();
        self.exec(
            "INSERT INTO runs (id, pipeline, pipeline_text, workspace, principal, role, status, trace_id, inputs, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            p![id, pipeline, pipeline_text, workspace, principal, role, RunStatus::Running.as_str(), trace_id, inputs, now_ms()],
        )?;
        Ok(())
    }

    /// The run's row ([`StoreError::NoRun`] when the journal holds none).
    pub fn run(&self) -> Result<RunRow> {
        self.one(
            "SELECT id, pipeline, workspace, principal, role, status, trace_id, created_at, updated_at, error FROM runs WHERE id = ?1",
            p![&self.run_id],
            run_row,
        )?
        .ok_or_else(|| StoreError::NoRun(self.run_id.clone()))
    }

    /// Every run the database holds (a SQLite file: its one), unordered.
    fn run_rows(&self) -> Result<Vec<RunRow>> {
        self.all("SELECT id, pipeline, workspace, principal, role, status, trace_id, created_at, updated_at, error FROM runs", p![], run_row)
    }

    /// The pipeline text and run inputs recorded at the start.
    pub fn run_source(&self) -> Result<(String, String)> {
        self.one("SELECT pipeline_text, inputs FROM runs WHERE id = ?1", p![&self.run_id], |r| Ok((r.text(0)?, r.text(1)?)))?
            .ok_or_else(|| StoreError::NoRun(self.run_id.clone()))
    }

    pub fn set_run_status(&self, status: RunStatus, error: Option<&str>) -> Result<()> {
        self.exec("UPDATE runs SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1", p![&self.run_id, status.as_str(), error, now_ms()])?;
        Ok(())
    }

    /// Status and attempt of a stage, if it was ever started.
    pub fn stage(&self, stage: &str) -> Result<Option<(String, u32, Option<String>)>> {
        self.one("SELECT status, attempt, feedback FROM stages WHERE run_id = ?1 AND stage = ?2", p![&self.run_id, stage], |r| {
            Ok((r.text(0)?, r.u32(1)?, r.opt_text(2)?))
        })
    }

    pub fn set_stage(&self, stage: &str, position: usize, status: StageStatus, attempt: u32, feedback: Option<&str>) -> Result<()> {
        self.exec(
            "INSERT INTO stages (run_id, stage, position, status, attempt, started_at, feedback) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (run_id, stage) DO UPDATE SET status = ?4, attempt = ?5, feedback = ?7,
               finished_at = CASE WHEN ?8 = 1 THEN ?6 ELSE NULL END",
            p![&self.run_id, stage, position as i64, status.as_str(), attempt, now_ms(), feedback, status.is_finished()],
        )?;
        Ok(())
    }

    pub fn task(&self, task_id: &str) -> Result<Option<TaskRow>> {
        self.one(&format!("{TASK_COLUMNS} WHERE t.run_id = ?1 AND t.task_id = ?2"), p![&self.run_id, task_id], task_row)
    }

    pub fn tasks(&self) -> Result<Vec<TaskRow>> {
        self.all(&format!("{TASK_COLUMNS} WHERE t.run_id = ?1 ORDER BY t.seq"), p![&self.run_id], task_row)
    }

    pub fn upsert_task(&self, task_id: &str, stage: &str, agent: &str, tool: &str, span_id: &str) -> Result<()> {
        self.exec(
            "INSERT INTO tasks (run_id, task_id, stage, agent, tool, status, span_id, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks WHERE run_id = ?1))
             ON CONFLICT (run_id, task_id) DO NOTHING",
            p![&self.run_id, task_id, stage, agent, tool, TaskStatus::Pending.as_str(), span_id],
        )?;
        Ok(())
    }

    /// Record the start of an attempt; returns its number (1-based).
    /// Refused with [`StoreError::LeaseLost`] when `lease` is no longer
    /// this orchestrator's: a run is never driven by two at once.
    pub fn start_attempt(&self, task_id: &str, agent: &str, trace_id: &str, span_id: &str, lease: Option<&Lease>) -> Result<u32> {
        let run = self.run_id.clone();
        self.transaction(|db| {
            if let Some(lease) = lease {
                lease.check(db, &run)?;
            }
            let attempt = db
                .row("SELECT COUNT(*) + 1 FROM attempts WHERE run_id = ?1 AND task_id = ?2", p![&run, task_id])?
                .map(|r| r.u32(0))
                .transpose()
                .map_err(|e| TxError::Store(e))?
                .unwrap_or(1);
            db.exec(
                "INSERT INTO attempts (run_id, task_id, attempt, agent, status, started_at, trace_id, span_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                p![&run, task_id, attempt, agent, AttemptStatus::Running.as_str(), now_ms(), trace_id, span_id],
            )?;
            db.exec("UPDATE tasks SET status = ?3, agent = ?4 WHERE run_id = ?1 AND task_id = ?2", p![&run, task_id, TaskStatus::Running.as_str(), agent])?;
            Ok(attempt)
        })
    }

    /// The attempt of a task that was started and never ended (its
    /// orchestrator died while it ran), with its agent, trace and span.
    pub fn unfinished_attempt(&self, task_id: &str) -> Result<Option<(u32, String, String, String)>> {
        self.one(
            "SELECT attempt, agent, trace_id, span_id FROM attempts WHERE run_id = ?1 AND task_id = ?2 AND status = ?3
             ORDER BY attempt DESC LIMIT 1",
            p![&self.run_id, task_id, AttemptStatus::Running.as_str()],
            |r| Ok((r.u32(0)?, r.text(1)?, r.text(2)?, r.text(3)?)),
        )
    }

    pub fn fail_attempt(&self, task_id: &str, attempt: u32, exit_code: i32, error: &str, duration_ms: i64) -> Result<()> {
        let run = self.run_id.clone();
        self.transaction(|db| {
            db.exec(
                "UPDATE attempts SET status = ?4, exit_code = ?5, error = ?6, duration_ms = ?7 WHERE run_id = ?1 AND task_id = ?2 AND attempt = ?3",
                p![&run, task_id, attempt, AttemptStatus::Failed.as_str(), exit_code, error, duration_ms],
            )?;
            db.exec("UPDATE tasks SET status = ?3 WHERE run_id = ?1 AND task_id = ?2", p![&run, task_id, TaskStatus::Failed.as_str()])?;
            Ok(())
        })
    }

    /// The attempt succeeded: its output and the files it is about to merge
    /// (with their digests), in one transaction, before the workspace
    /// changes — refused with [`StoreError::LeaseLost`] when `lease` is no
    /// longer this orchestrator's.
    pub fn record_merge_intent(&self, intent: &MergeIntent<'_>, lease: Option<&Lease>) -> Result<()> {
        let MergeIntent { task_id, attempt, duration_ms, output, staging, files, agent, stage, usage } = *intent;
        let run = self.run_id.clone();
        self.transaction(|db| {
            if let Some(lease) = lease {
                lease.check(db, &run)?;
            }
            db.exec(
                "UPDATE attempts SET status = ?4, exit_code = ?5, duration_ms = ?6, fuel = ?7, memory_peak = ?8, call_ms = ?9,
                   bytes_in = ?10, bytes_out = ?11, blobs_cached = ?12, blobs_fetched = ?13, blobs_out = ?14, bytes_moved = ?15
                 WHERE run_id = ?1 AND task_id = ?2 AND attempt = ?3",
                p![
                    &run, task_id, attempt, AttemptStatus::Succeeded.as_str(), ExitCode::Ok.code(), duration_ms,
                    usage.fuel, usage.memory_peak, usage.call_ms, usage.bytes_in, usage.bytes_out,
                    usage.blobs_cached, usage.blobs_fetched, usage.blobs_out, usage.bytes_moved
                ],
            )?;
            db.exec(
                "UPDATE tasks SET status = ?3, output = ?4, staging = ?5 WHERE run_id = ?1 AND task_id = ?2",
                p![&run, task_id, TaskStatus::Merging.as_str(), output, staging],
            )?;
            for (file, sha) in files {
                db.exec(
                    "INSERT INTO merges (run_id, path, task_id, agent, stage, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (run_id, path, task_id) DO UPDATE SET agent = ?4, stage = ?5, sha256 = ?6",
                    p![&run, file, task_id, agent, stage, sha],
                )?;
            }
            Ok(())
        })
    }

    pub fn finish_task(&self, task_id: &str) -> Result<()> {
        self.exec("UPDATE tasks SET status = ?3 WHERE run_id = ?1 AND task_id = ?2", p![&self.run_id, task_id, TaskStatus::Done.as_str()])?;
        Ok(())
    }

    /// Who in this run merged `path` (task, agent, stage, sha256), if anyone.
    pub fn merged_by(&self, path: &str) -> Result<Vec<(String, String, String, String)>> {
        self.all("SELECT task_id, agent, stage, sha256 FROM merges WHERE run_id = ?1 AND path = ?2", p![&self.run_id, path], |r| {
            Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?))
        })
    }

    /// Every merged path with the task that merged it.
    pub fn merges(&self) -> Result<Vec<(String, String, String)>> {
        self.all("SELECT path, task_id, agent FROM merges WHERE run_id = ?1 ORDER BY path", p![&self.run_id], |r| {
            Ok((r.text(0)?, r.text(1)?, r.text(2)?))
        })
    }

    /// Every merge record: path, task, and the sha256 of what it wrote.
    pub fn merge_digests(&self) -> Result<Vec<(String, String, String)>> {
        self.all("SELECT path, task_id, sha256 FROM merges WHERE run_id = ?1 ORDER BY path, task_id", p![&self.run_id], |r| {
            Ok((r.text(0)?, r.text(1)?, r.text(2)?))
        })
    }

    pub fn forget_merge(&self, path: &str, task_id: &str) -> Result<()> {
        self.exec("DELETE FROM merges WHERE run_id = ?1 AND path = ?2 AND task_id = ?3", p![&self.run_id, path, task_id])?;
        Ok(())
    }

    pub fn record_gate(&self, stage: &str, attempt: u32, gate: &str, passed: bool, report: &str) -> Result<()> {
        self.exec(
            "INSERT INTO gates (run_id, stage, attempt, gate, passed, report) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (run_id, stage, attempt, gate) DO UPDATE SET passed = ?5, report = ?6",
            p![&self.run_id, stage, attempt, gate, passed, report],
        )?;
        Ok(())
    }

    pub fn event(&self, kind: &str, data: &serde_json::Value) -> Result<()> {
        self.exec("INSERT INTO events (run_id, at, kind, data) VALUES (?1, ?2, ?3, ?4)", p![&self.run_id, now_ms(), kind, &data.to_string()])?;
        Ok(())
    }

    pub fn events(&self) -> Result<Vec<EventRow>> {
        self.all("SELECT at, kind, data FROM events WHERE run_id = ?1 ORDER BY id", p![&self.run_id], |r| {
            Ok(EventRow { at: r.int(0)?, kind: r.text(1)?, data: r.text(2)? })
        })
    }

    /// `(attempt, agent, status, exit_code, error)` of every attempt of a task.
    pub fn attempts(&self, task_id: &str) -> Result<Vec<AttemptSummary>> {
        self.all(
            "SELECT attempt, agent, status, exit_code, error FROM attempts WHERE run_id = ?1 AND task_id = ?2 ORDER BY attempt",
            p![&self.run_id, task_id],
            |r| Ok((r.u32(0)?, r.text(1)?, r.text(2)?, r.opt_i32(3)?, r.opt_text(4)?)),
        )
    }

    /// What the run's attempts moved as blobs (workers without the shared
    /// filesystem).
    pub fn blobs_moved(&self) -> Result<BlobsMoved> {
        let moved = self.one(
            "SELECT CAST(COALESCE(SUM(blobs_cached), 0) AS BIGINT), CAST(COALESCE(SUM(blobs_fetched), 0) AS BIGINT),
                    CAST(COALESCE(SUM(blobs_out), 0) AS BIGINT), CAST(COALESCE(SUM(bytes_moved), 0) AS BIGINT)
             FROM attempts WHERE run_id = ?1",
            p![&self.run_id],
            |r| Ok(BlobsMoved { cached: r.amount(0)?, fetched: r.amount(1)?, out: r.amount(2)?, bytes: r.amount(3)? }),
        )?;
        Ok(moved.unwrap_or_default())
    }

    /// Every attempt of a task with its timing, oldest first.
    pub fn attempt_rows(&self, task_id: &str) -> Result<Vec<AttemptRow>> {
        self.all(
            "SELECT attempt, agent, status, exit_code, error, started_at, duration_ms FROM attempts
             WHERE run_id = ?1 AND task_id = ?2 ORDER BY attempt",
            p![&self.run_id, task_id],
            |r| {
                Ok(AttemptRow {
                    attempt: r.u32(0)?,
                    agent: r.text(1)?,
                    status: r.text(2)?,
                    exit_code: r.opt_i32(3)?,
                    error: r.opt_text(4)?,
                    started_at: r.int(5)?,
                    duration_ms: r.opt_int(6)?,
                })
            },
        )
    }

    /// Every gate verdict of the run, in stage order, then attempt, then gate.
    pub fn gates(&self) -> Result<Vec<GateRow>> {
        self.all(
            "SELECT g.stage, g.attempt, g.gate, g.passed, g.report FROM gates g
             LEFT JOIN stages s ON s.run_id = g.run_id AND s.stage = g.stage
             WHERE g.run_id = ?1 ORDER BY s.position, g.attempt, g.gate",
            p![&self.run_id],
            |r| Ok(GateRow { stage: r.text(0)?, attempt: r.u32(1)?, gate: r.text(2)?, passed: r.int(3)? != 0, report: r.text(4)? }),
        )
    }

    /// `(stage, status, attempt)` in pipeline order.
    pub fn stages(&self) -> Result<Vec<(String, String, u32)>> {
        self.all("SELECT stage, status, attempt FROM stages WHERE run_id = ?1 ORDER BY position", p![&self.run_id], |r| {
            Ok((r.text(0)?, r.text(1)?, r.u32(2)?))
        })
    }

    /// `(gate, passed, report)` of a stage attempt.
    pub fn gate_results(&self, stage: &str, attempt: u32) -> Result<Vec<(String, bool, String)>> {
        self.all(
            "SELECT gate, passed, report FROM gates WHERE run_id = ?1 AND stage = ?2 AND attempt = ?3 ORDER BY gate",
            p![&self.run_id, stage, attempt],
            |r| Ok((r.text(0)?, r.int(1)? != 0, r.text(2)?)),
        )
    }

    /// Take the run's lease for `owner` for `ttl`: the lease when it is
    /// free, expired or already `owner`'s, else who holds it.
    pub fn acquire_lease(&self, owner: &Owner, ttl: Duration) -> Result<std::result::Result<Lease, LeaseHolder>> {
        let run = self.run_id.clone();
        self.transaction(|db| lease::acquire(db, &run, owner, ttl))
    }

    /// Extend the lease; [`StoreError::LeaseLost`] when another took it.
    pub fn renew_lease(&self, lease: &Lease) -> Result<()> {
        let run = self.run_id.clone();
        self.transaction(|db| lease.check(db, &run))
    }

    /// Give the lease up (the run ended or halted): another may drive it at once.
    pub fn release_lease(&self, lease: &Lease) -> Result<()> {
        self.exec("DELETE FROM leases WHERE run_id = ?1 AND owner = ?2", p![&self.run_id, &lease.owner().to_string()])?;
        Ok(())
    }
}

fn run_row(r: &Row) -> Result<RunRow> {
    Ok(RunRow {
        id: r.text(0)?,
        pipeline: r.text(1)?,
        workspace: r.text(2)?,
        principal: r.text(3)?,
        role: r.text(4)?,
        status: r.text(5)?,
        trace_id: r.text(6)?,
        created_at: r.int(7)?,
        updated_at: r.int(8)?,
        error: r.opt_text(9)?,
    })
}

fn task_row(r: &Row) -> Result<TaskRow> {
    Ok(TaskRow {
        task_id: r.text(0)?,
        stage: r.text(1)?,
        agent: r.text(2)?,
        tool: r.text(3)?,
        status: r.text(4)?,
        attempts: r.int(5)?,
        output: r.opt_text(6)?,
        staging: r.opt_text(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal written before runs could share a database: no `run_id`
    /// columns, no `tasks.seq`, the old keys.
    const OLD_JOURNAL: &str = "
CREATE TABLE runs (id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_text TEXT NOT NULL, workspace TEXT NOT NULL,
  principal TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL, trace_id TEXT NOT NULL,
  inputs TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, error TEXT);
CREATE TABLE stages (stage TEXT PRIMARY KEY, position INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER, finished_at INTEGER, feedback TEXT);
CREATE TABLE tasks (task_id TEXT PRIMARY KEY, stage TEXT NOT NULL, agent TEXT NOT NULL, tool TEXT NOT NULL,
  status TEXT NOT NULL, output TEXT, staging TEXT, span_id TEXT NOT NULL);
CREATE TABLE attempts (task_id TEXT NOT NULL, attempt INTEGER NOT NULL, agent TEXT NOT NULL, status TEXT NOT NULL,
  exit_code INTEGER, error TEXT, started_at INTEGER NOT NULL, duration_ms INTEGER, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
  PRIMARY KEY (task_id, attempt));
CREATE TABLE merges (path TEXT NOT NULL, task_id TEXT NOT NULL, agent TEXT NOT NULL, stage TEXT NOT NULL, sha256 TEXT NOT NULL,
  PRIMARY KEY (path, task_id));
CREATE TABLE gates (stage TEXT NOT NULL, attempt INTEGER NOT NULL, gate TEXT NOT NULL, passed INTEGER NOT NULL, report TEXT NOT NULL,
  PRIMARY KEY (stage, attempt, gate));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
INSERT INTO runs VALUES ('run-old', 'p.yaml', '', '/ws', 'al', 'admin', 'failed', 't', '{}', 1, 2, 'boom');
INSERT INTO stages VALUES ('build', 0, 'failed', 1, 1, 2, NULL);
INSERT INTO tasks VALUES ('build/b/echo#1', 'build', 'b', 'echo', 'failed', NULL, NULL, 's2');
INSERT INTO tasks VALUES ('build/a/echo#1', 'build', 'a', 'echo', 'done', '{}', '/s', 's1');
INSERT INTO attempts VALUES ('build/b/echo#1', 1, 'b', 'failed', 1, 'boom', 1, 5, 't', 'x');
INSERT INTO merges VALUES ('a.md', 'build/a/echo#1', 'a', 'build', 'ab');
INSERT INTO events (at, kind, data) VALUES (1, 'run_started', '{}');
";

    #[test]
    fn a_journal_from_before_shared_databases_reads_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        rusqlite::Connection::open(&path).unwrap().execute_batch(OLD_JOURNAL).unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.run_id(), "run-old");
        assert_eq!(journal.run().unwrap().error.as_deref(), Some("boom"));
        let tasks: Vec<String> = journal.tasks().unwrap().into_iter().map(|t| t.task_id).collect();
        assert_eq!(tasks, ["build/b/echo#1", "build/a/echo#1"], "journaling order kept");
        assert_eq!(journal.attempts("build/b/echo#1").unwrap().len(), 1);
        assert_eq!(journal.merges().unwrap(), [("a.md".to_string(), "build/a/echo#1".to_string(), "a".to_string())]);
        assert_eq!(journal.events().unwrap().len(), 1);
        // Resuming writes through the new keys.
        journal.set_stage("build", 0, StageStatus::Running, 2, None).unwrap();
        journal.upsert_task("build/c/echo#2", "build", "c", "echo", "s3").unwrap();
        assert_eq!(journal.start_attempt("build/b/echo#1", "b", "t", "y", None).unwrap(), 2);
        assert_eq!(journal.stage("build").unwrap(), Some(("running".to_string(), 2, None)));
        assert_eq!(journal.tasks().unwrap().last().map(|t| t.task_id.as_str()), Some("build/c/echo#2"));
        let lease = journal.acquire_lease(&Owner::this_process(), Duration::from_secs(5)).unwrap().unwrap();
        let other = journal.acquire_lease(&Owner::this_process(), Duration::from_secs(5)).unwrap().unwrap_err();
        assert_eq!(other.owner, lease.owner().to_string(), "a second owner (another nonce) waits");
        drop(journal);
        // Opened again: nothing to migrate, the same answers.
        let again = Journal::open(&path).unwrap();
        assert_eq!(again.tasks().unwrap().len(), 3);
    }
}
