//! The run journal: one SQLite database (WAL) per run, holding the run,
//! its stages, tasks, every attempt, gate results, merges and events.
//!
//! The orchestrator writes an attempt's outcome and its merge intent in one
//! transaction before it touches the workspace, and marks the task done only
//! after the merge: a crash at any instant leaves a journal from which
//! `resume` can tell what finished, what was half-merged, and what never ran.

mod snapshot;

pub use snapshot::{AttemptFact, RunSnapshot, Snapshots, StageSpan, read_runs};

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use taylordash_protocol::bus::Usage;
use taylordash_protocol::{AttemptStatus, ExitCode, RunStatus, StageStatus, TaskStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("run journal {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("no run `{0}`")]
    NoRun(String),
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
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_text TEXT NOT NULL, workspace TEXT NOT NULL,
  principal TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL, trace_id TEXT NOT NULL,
  inputs TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS stages (
  stage TEXT PRIMARY KEY, position INTEGER NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER, finished_at INTEGER, feedback TEXT);
CREATE TABLE IF NOT EXISTS tasks (
  task_id TEXT PRIMARY KEY, stage TEXT NOT NULL, agent TEXT NOT NULL, tool TEXT NOT NULL,
  status TEXT NOT NULL, output TEXT, staging TEXT, span_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
  task_id TEXT NOT NULL, attempt INTEGER NOT NULL, agent TEXT NOT NULL, status TEXT NOT NULL,
  exit_code INTEGER, error TEXT, started_at INTEGER NOT NULL, duration_ms INTEGER,
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, fuel INTEGER, memory_peak INTEGER, call_ms INTEGER,
  bytes_in INTEGER, bytes_out INTEGER, blobs_cached INTEGER, blobs_fetched INTEGER, blobs_out INTEGER,
  bytes_moved INTEGER,
  PRIMARY KEY (task_id, attempt));
CREATE TABLE IF NOT EXISTS merges (
  path TEXT NOT NULL, task_id TEXT NOT NULL, agent TEXT NOT NULL, stage TEXT NOT NULL, sha256 TEXT NOT NULL,
  PRIMARY KEY (path, task_id));
CREATE TABLE IF NOT EXISTS gates (
  stage TEXT NOT NULL, attempt INTEGER NOT NULL, gate TEXT NOT NULL, passed INTEGER NOT NULL, report TEXT NOT NULL,
  PRIMARY KEY (stage, attempt, gate));
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Journal {
    /// Open (or create) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let wrap = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(wrap)?;
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        migrate(&conn).map_err(wrap)?;
        Ok(Journal { conn, path: path.to_path_buf() })
    }

    fn wrap(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    pub fn create_run(&self, run: &NewRun<'_>) -> Result<()> {
        let NewRun { id, pipeline, pipeline_text, workspace, principal, role, trace_id, inputs } = *run;
        let now = now_ms();
        self.conn
            .execute(
                "INSERT INTO runs (id, pipeline, pipeline_text, workspace, principal, role, status, trace_id, inputs, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?10, ?7, ?8, ?9, ?9)",
                params![id, pipeline, pipeline_text, workspace, principal, role, trace_id, inputs, now, RunStatus::Running.as_str()],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    pub fn run(&self) -> Result<RunRow> {
        self.conn
            .query_row(
                "SELECT id, pipeline, workspace, principal, role, status, trace_id, created_at, updated_at, error FROM runs LIMIT 1",
                [],
                |r| {
                    Ok(RunRow {
                        id: r.get(0)?,
                        pipeline: r.get(1)?,
                        workspace: r.get(2)?,
                        principal: r.get(3)?,
                        role: r.get(4)?,
                        status: r.get(5)?,
                        trace_id: r.get(6)?,
                        created_at: r.get(7)?,
                        updated_at: r.get(8)?,
                        error: r.get(9)?,
                    })
                },
            )
            .map_err(|e| self.wrap(e))
    }

    /// The pipeline text and run inputs recorded at the start.
    pub fn run_source(&self) -> Result<(String, String)> {
        self.conn
            .query_row("SELECT pipeline_text, inputs FROM runs LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.wrap(e))
    }

    pub fn set_run_status(&self, status: RunStatus, error: Option<&str>) -> Result<()> {
        self.conn
            .execute("UPDATE runs SET status = ?1, error = ?2, updated_at = ?3", params![status.as_str(), error, now_ms()])
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Status and attempt of a stage, if it was ever started.
    pub fn stage(&self, stage: &str) -> Result<Option<(String, u32, Option<String>)>> {
        self.conn
            .query_row("SELECT status, attempt, feedback FROM stages WHERE stage = ?1", params![stage], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(|e| self.wrap(e))
    }

    pub fn set_stage(&self, stage: &str, position: usize, status: StageStatus, attempt: u32, feedback: Option<&str>) -> Result<()> {
        let now = now_ms();
        self.conn
            .execute(
                "INSERT INTO stages (stage, position, status, attempt, started_at, feedback) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(stage) DO UPDATE SET status = ?3, attempt = ?4, feedback = ?6,
                   finished_at = CASE WHEN ?7 THEN ?5 ELSE NULL END",
                params![stage, position as i64, status.as_str(), attempt, now, feedback, status.is_finished()],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    pub fn task(&self, task_id: &str) -> Result<Option<TaskRow>> {
        self.conn
            .query_row(
                "SELECT t.task_id, t.stage, t.agent, t.tool, t.status, (SELECT COUNT(*) FROM attempts a WHERE a.task_id = t.task_id), t.output, t.staging
                 FROM tasks t WHERE t.task_id = ?1",
                params![task_id],
                task_row,
            )
            .optional()
            .map_err(|e| self.wrap(e))
    }

    pub fn tasks(&self) -> Result<Vec<TaskRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.task_id, t.stage, t.agent, t.tool, t.status, (SELECT COUNT(*) FROM attempts a WHERE a.task_id = t.task_id), t.output, t.staging
                 FROM tasks t ORDER BY t.rowid",
            )
            .map_err(|e| self.wrap(e))?;
        let rows = stmt.query_map([], task_row).map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    pub fn upsert_task(&self, task_id: &str, stage: &str, agent: &str, tool: &str, span_id: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO tasks (task_id, stage, agent, tool, status, span_id) VALUES (?1, ?2, ?3, ?4, ?6, ?5)
                 ON CONFLICT(task_id) DO NOTHING",
                params![task_id, stage, agent, tool, span_id, TaskStatus::Pending.as_str()],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Record the start of an attempt; returns its number (1-based).
    pub fn start_attempt(&self, task_id: &str, agent: &str, trace_id: &str, span_id: &str) -> Result<u32> {
        let attempt: u32 = self
            .conn
            .query_row("SELECT COUNT(*) + 1 FROM attempts WHERE task_id = ?1", params![task_id], |r| r.get(0))
            .map_err(|e| self.wrap(e))?;
        self.conn
            .execute(
                "INSERT INTO attempts (task_id, attempt, agent, status, started_at, trace_id, span_id) VALUES (?1, ?2, ?3, ?7, ?4, ?5, ?6)",
                params![task_id, attempt, agent, now_ms(), trace_id, span_id, AttemptStatus::Running.as_str()],
            )
            .map_err(|e| self.wrap(e))?;
        self.conn
            .execute("UPDATE tasks SET status = ?3, agent = ?2 WHERE task_id = ?1", params![task_id, agent, TaskStatus::Running.as_str()])
            .map_err(|e| self.wrap(e))?;
        Ok(attempt)
    }

    pub fn fail_attempt(&self, task_id: &str, attempt: u32, exit_code: i32, error: &str, duration_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE attempts SET status = ?6, exit_code = ?3, error = ?4, duration_ms = ?5 WHERE task_id = ?1 AND attempt = ?2",
                params![task_id, attempt, exit_code, error, duration_ms, AttemptStatus::Failed.as_str()],
            )
            .map_err(|e| self.wrap(e))?;
        self.conn
            .execute("UPDATE tasks SET status = ?2 WHERE task_id = ?1", params![task_id, TaskStatus::Failed.as_str()])
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// The attempt succeeded: its output and the files it is about to merge
    /// (with their digests), in one transaction, before the workspace changes.
    pub fn record_merge_intent(&mut self, intent: &MergeIntent<'_>) -> Result<()> {
        let MergeIntent { task_id, attempt, duration_ms, output, staging, files, agent, stage, usage } = *intent;
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(wrap)?;
        tx.execute(
            "UPDATE attempts SET status = ?4, exit_code = ?5, duration_ms = ?3, fuel = ?6, memory_peak = ?7, call_ms = ?8,
               bytes_in = ?9, bytes_out = ?10, blobs_cached = ?11, blobs_fetched = ?12, blobs_out = ?13,
               bytes_moved = ?14
             WHERE task_id = ?1 AND attempt = ?2",
            params![
                task_id, attempt, duration_ms, AttemptStatus::Succeeded.as_str(), ExitCode::Ok.code(),
                usage.fuel as i64, usage.memory_peak as i64, usage.call_ms as i64, usage.bytes_in as i64, usage.bytes_out as i64,
                usage.blobs_cached as i64, usage.blobs_fetched as i64, usage.blobs_out as i64, usage.bytes_moved as i64
            ],
        )
        .map_err(wrap)?;
        tx.execute(
            "UPDATE tasks SET status = ?4, output = ?2, staging = ?3 WHERE task_id = ?1",
            params![task_id, output, staging, TaskStatus::Merging.as_str()],
        )
        .map_err(wrap)?;
        for (file, sha) in files {
            tx.execute(
                "INSERT OR REPLACE INTO merges (path, task_id, agent, stage, sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![file, task_id, agent, stage, sha],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    pub fn finish_task(&self, task_id: &str) -> Result<()> {
        self.conn
            .execute("UPDATE tasks SET status = ?2 WHERE task_id = ?1", params![task_id, TaskStatus::Done.as_str()])
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Who in this run merged `path` (task, agent, stage, sha256), if anyone.
    pub fn merged_by(&self, path: &str) -> Result<Vec<(String, String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT task_id, agent, stage, sha256 FROM merges WHERE path = ?1")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![path], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// Every merged path with the task that merged it.
    pub fn merges(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, task_id, agent FROM merges ORDER BY path")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    pub fn forget_merge(&self, path: &str, task_id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM merges WHERE path = ?1 AND task_id = ?2", params![path, task_id])
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    pub fn record_gate(&self, stage: &str, attempt: u32, gate: &str, passed: bool, report: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO gates (stage, attempt, gate, passed, report) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![stage, attempt, gate, passed, report],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    pub fn event(&self, kind: &str, data: &serde_json::Value) -> Result<()> {
        self.conn
            .execute("INSERT INTO events (at, kind, data) VALUES (?1, ?2, ?3)", params![now_ms(), kind, data.to_string()])
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    pub fn events(&self) -> Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare("SELECT at, kind, data FROM events ORDER BY id").map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map([], |r| Ok(EventRow { at: r.get(0)?, kind: r.get(1)?, data: r.get(2)? }))
            .map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// `(attempt, agent, status, exit_code, error)` of every attempt of a task.
    pub fn attempts(&self, task_id: &str) -> Result<Vec<AttemptSummary>> {
        let mut stmt = self
            .conn
            .prepare("SELECT attempt, agent, status, exit_code, error FROM attempts WHERE task_id = ?1 ORDER BY attempt")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![task_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// Every attempt of a task with its timing, oldest first.
    /// What the run's attempts moved as blobs (workers without the shared
    /// filesystem).
    pub fn blobs_moved(&self) -> Result<BlobsMoved> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(blobs_cached), 0), COALESCE(SUM(blobs_fetched), 0), COALESCE(SUM(blobs_out), 0),
                        COALESCE(SUM(bytes_moved), 0) FROM attempts",
                [],
                |r| {
                    let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                    Ok(BlobsMoved { cached: n(0)?, fetched: n(1)?, out: n(2)?, bytes: n(3)? })
                },
            )
            .map_err(|e| self.wrap(e))
    }

    pub fn attempt_rows(&self, task_id: &str) -> Result<Vec<AttemptRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT attempt, agent, status, exit_code, error, started_at, duration_ms FROM attempts WHERE task_id = ?1 ORDER BY attempt",
            )
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![task_id], |r| {
                Ok(AttemptRow {
                    attempt: r.get(0)?,
                    agent: r.get(1)?,
                    status: r.get(2)?,
                    exit_code: r.get(3)?,
                    error: r.get(4)?,
                    started_at: r.get(5)?,
                    duration_ms: r.get(6)?,
                })
            })
            .map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// Every gate verdict of the run, in stage order, then attempt, then gate.
    pub fn gates(&self) -> Result<Vec<GateRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT g.stage, g.attempt, g.gate, g.passed, g.report FROM gates g LEFT JOIN stages s ON s.stage = g.stage \
                 ORDER BY s.position, g.attempt, g.gate",
            )
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(GateRow { stage: r.get(0)?, attempt: r.get(1)?, gate: r.get(2)?, passed: r.get(3)?, report: r.get(4)? })
            })
            .map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// `(stage, status, attempt)` in pipeline order.
    pub fn stages(&self) -> Result<Vec<(String, String, u32)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT stage, status, attempt FROM stages ORDER BY position")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }

    /// `(gate, passed, report)` of a stage attempt.
    pub fn gate_results(&self, stage: &str, attempt: u32) -> Result<Vec<(String, bool, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT gate, passed, report FROM gates WHERE stage = ?1 AND attempt = ?2 ORDER BY gate")
            .map_err(|e| self.wrap(e))?;
        let rows = stmt
            .query_map(params![stage, attempt], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.wrap(e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| self.wrap(e))
    }
}

/// Columns added after a journal's first release: a journal written by an
/// older TaylorDash gains them (empty) when opened.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("attempts", "fuel", "INTEGER"),
    ("attempts", "memory_peak", "INTEGER"),
    ("attempts", "call_ms", "INTEGER"),
    ("attempts", "bytes_in", "INTEGER"),
    ("attempts", "bytes_out", "INTEGER"),
    ("attempts", "blobs_cached", "INTEGER"),
    ("attempts", "blobs_fetched", "INTEGER"),
    ("attempts", "blobs_out", "INTEGER"),
    ("attempts", "bytes_moved", "INTEGER"),
];

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, kind) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
            params![column],
            |r| r.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

fn task_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        task_id: r.get(0)?,
        stage: r.get(1)?,
        agent: r.get(2)?,
        tool: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        output: r.get(6)?,
        staging: r.get(7)?,
    })
}
