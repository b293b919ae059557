//! The dead-letter queue's record: tasks that no worker finished within
//! their deliveries, kept in a small SQLite file (WAL) under the runs
//! directory (`<runs>/dlq.sqlite`), next to the message on
//! `orchestrator/dlq`. Each row holds the task's full envelope, so it can be
//! listed and published again (`taylordash dlq list|replay`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::BusError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dlq (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL,
  msg_id TEXT NOT NULL, tool TEXT NOT NULL, attempt INTEGER NOT NULL, deliveries INTEGER NOT NULL,
  reason TEXT NOT NULL, envelope TEXT NOT NULL, replayed_at INTEGER);
";

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DlqEntry {
    pub id: i64,
    pub at: i64,
    pub run_id: String,
    pub task_id: String,
    pub msg_id: String,
    pub tool: String,
    pub attempt: u32,
    pub deliveries: u64,
    pub reason: String,
    /// The task envelope as it was last published (JSON).
    pub envelope: String,
    pub replayed_at: Option<i64>,
}

/// A task to record as dead: what [`DlqStore::record`] stores.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    pub run_id: &'a str,
    pub task_id: &'a str,
    pub msg_id: &'a str,
    pub tool: &'a str,
    pub attempt: u32,
    /// How many times the broker delivered it.
    pub deliveries: u64,
    pub reason: &'a str,
    /// The task envelope as it was last published (JSON).
    pub envelope: &'a str,
}

pub struct DlqStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl DlqStore {
    pub fn open(path: &Path) -> Result<Self, BusError> {
        let wrap = |source| BusError::Dlq { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = crate::sqlite::open_shared(path).map_err(wrap)?;
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        Ok(DlqStore { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    fn wrap(&self, source: rusqlite::Error) -> BusError {
        BusError::Dlq { path: self.path.clone(), source }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a dead letter; returns its id.
    pub fn record(&self, letter: &DeadLetter<'_>) -> Result<i64, BusError> {
        let DeadLetter { run_id, task_id, msg_id, tool, attempt, deliveries, reason, envelope } = *letter;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO dlq (at, run_id, task_id, msg_id, tool, attempt, deliveries, reason, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![super::now_ms() as i64, run_id, task_id, msg_id, tool, attempt, deliveries as i64, reason, envelope],
        )
        .map_err(|e| self.wrap(e))?;
        Ok(conn.last_insert_rowid())
    }

    pub fn list(&self) -> Result<Vec<DlqEntry>, BusError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, at, run_id, task_id, msg_id, tool, attempt, deliveries, reason, envelope, replayed_at FROM dlq ORDER BY id",
            )
            .map_err(|e| self.wrap(e))?;
        let rows = stmt.query_map([], row).map_err(|e| self.wrap(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.wrap(e))
    }

    pub fn get(&self, id: i64) -> Result<Option<DlqEntry>, BusError> {
        self.conn()
            .query_row(
                "SELECT id, at, run_id, task_id, msg_id, tool, attempt, deliveries, reason, envelope, replayed_at FROM dlq WHERE id = ?1",
                params![id],
                row,
            )
            .optional()
            .map_err(|e| self.wrap(e))
    }

    pub fn mark_replayed(&self, id: i64) -> Result<(), BusError> {
        self.conn()
            .execute("UPDATE dlq SET replayed_at = ?2 WHERE id = ?1", params![id, super::now_ms() as i64])
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DlqEntry> {
    Ok(DlqEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        run_id: r.get(2)?,
        task_id: r.get(3)?,
        msg_id: r.get(4)?,
        tool: r.get(5)?,
        attempt: r.get(6)?,
        deliveries: r.get::<_, i64>(7)? as u64,
        reason: r.get(8)?,
        envelope: r.get(9)?,
        replayed_at: r.get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every orchestrator of a runs directory, `serve` and `taylordash dlq`
    /// open the one DLQ; the first ones may meet while it is being created.
    #[test]
    fn openers_of_a_new_dlq_at_once_all_succeed_and_share_it() {
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("dlq.sqlite");
            let stores: Vec<DlqStore> = crate::sqlite::at_once(4, || DlqStore::open(&path))
                .into_iter()
                .map(|s| s.unwrap_or_else(|e| panic!("round {round}: {e}")))
                .collect();
            let letter = DeadLetter { run_id: "r", task_id: "t", msg_id: "m", tool: "echo", attempt: 1, deliveries: 1, reason: "x", envelope: "{}" };
            stores[0].record(&letter).unwrap();
            assert_eq!(stores[3].list().unwrap().len(), 1);
        }
    }
}
