//! The one SQL connection a journal talks through, SQLite or PostgreSQL,
//! and the little the two disagree on.
//!
//! The journal's statements are written once, in the dialect both engines
//! speak (`?1` parameters, `ON CONFLICT … DO UPDATE`, `CAST(… AS BIGINT)`);
//! for PostgreSQL `?N` becomes `$N` and `{now}` becomes the server's clock
//! (SQLite: the local one). Parameters carry their type, so PostgreSQL is
//! told it instead of guessing; rows come back as [`Row`]s of plain cells.
//! Only the table definitions differ ([`SQLITE_SCHEMA`], [`POSTGRES_SCHEMA`]).

use std::collections::HashMap;
use std::path::Path;

use postgres::types::{ToSql, Type};
use rusqlite::types::ValueRef;

use super::{Result, StoreError};

/// A statement's parameter, with its type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum P<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

impl<'a> From<&'a str> for P<'a> {
    fn from(v: &'a str) -> Self {
        P::Text(Some(v))
    }
}
impl<'a> From<&'a String> for P<'a> {
    fn from(v: &'a String) -> Self {
        P::Text(Some(v))
    }
}
impl<'a> From<Option<&'a str>> for P<'a> {
    fn from(v: Option<&'a str>) -> Self {
        P::Text(v)
    }
}
impl From<i64> for P<'_> {
    fn from(v: i64) -> Self {
        P::Int(Some(v))
    }
}
impl From<u32> for P<'_> {
    fn from(v: u32) -> Self {
        P::Int(Some(i64::from(v)))
    }
}
impl From<i32> for P<'_> {
    fn from(v: i32) -> Self {
        P::Int(Some(i64::from(v)))
    }
}
impl From<u64> for P<'_> {
    fn from(v: u64) -> Self {
        P::Int(Some(i64::try_from(v).unwrap_or(i64::MAX)))
    }
}
impl From<bool> for P<'_> {
    fn from(v: bool) -> Self {
        P::Int(Some(i64::from(v)))
    }
}

/// `p![a, b, …]`: a statement's parameters.
macro_rules! p {
    ($($v:expr),* $(,)?) => { &[$($crate::store::db::P::from($v)),*][..] };
}
pub(crate) use p;

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            P::Text(v) => rusqlite::ToSql::to_sql(v),
            P::Int(v) => rusqlite::ToSql::to_sql(v),
        }
    }
}

/// One cell of a result row.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// One result row: cells read by position, with the column's index in the
/// error when a cell is not what the journal wrote there.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Cell>);

impl Row {
    fn cell(&self, i: usize) -> &Cell {
        self.0.get(i).unwrap_or(&Cell::Null)
    }

    fn mismatch(&self, i: usize, wanted: &'static str) -> StoreError {
        StoreError::Column { index: i, wanted, found: format!("{:?}", self.cell(i)) }
    }

    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i, "text"))
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Text(t) => Ok(Some(t.clone())),
            Cell::Int(_) => Err(self.mismatch(i, "text")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.mismatch(i, "an integer"))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.cell(i) {
            Cell::Null => Ok(None),
            Cell::Int(v) => Ok(Some(*v)),
            Cell::Text(_) => Err(self.mismatch(i, "an integer")),
        }
    }

    pub fn u32(&self, i: usize) -> Result<u32> {
        u32::try_from(self.int(i)?).map_err(|_| self.mismatch(i, "a count"))
    }

    pub fn opt_i32(&self, i: usize) -> Result<Option<i32>> {
        self.opt_int(i)?.map(|v| i32::try_from(v).map_err(|_| self.mismatch(i, "an exit code"))).transpose()
    }

    /// A non-negative amount (negative or missing reads as 0).
    pub fn amount(&self, i: usize) -> Result<u64> {
        Ok(self.opt_int(i)?.unwrap_or(0).max(0) as u64)
    }
}

/// A connection to one journal database.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres {
        client: Box<postgres::Client>,
        /// Prepared statements by their shared text.
        prepared: HashMap<String, postgres::Statement>,
    },
}

/// Which engine, for the parts written per engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// The journal's tables in a SQLite file of one run. Journals written
/// before runs could share a database lack `run_id` columns (and
/// `tasks.seq`): [`Db::sqlite`] adds them.
const SQLITE_SCHEMA: &str = "
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
CREATE TABLE IF NOT EXISTS leases (
  run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
";

/// Columns added after a journal's first release: a journal written by an
/// older TaylorDash gains them (empty) when opened.
const SQLITE_ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("attempts", "fuel", "INTEGER"),
    ("attempts", "memory_peak", "INTEGER"),
    ("attempts", "call_ms", "INTEGER"),
    ("attempts", "bytes_in", "INTEGER"),
    ("attempts", "bytes_out", "INTEGER"),
    ("attempts", "blobs_cached", "INTEGER"),
    ("attempts", "blobs_fetched", "INTEGER"),
    ("attempts", "blobs_out", "INTEGER"),
    ("attempts", "bytes_moved", "INTEGER"),
    ("tasks", "seq", "INTEGER"),
    ("stages", "run_id", "TEXT NOT NULL DEFAULT ''"),
    ("tasks", "run_id", "TEXT NOT NULL DEFAULT ''"),
    ("attempts", "run_id", "TEXT NOT NULL DEFAULT ''"),
    ("merges", "run_id", "TEXT NOT NULL DEFAULT ''"),
    ("gates", "run_id", "TEXT NOT NULL DEFAULT ''"),
    ("events", "run_id", "TEXT NOT NULL DEFAULT ''"),
];

/// The columns of [`SQLITE_ADDED_COLUMNS`] the file lacks (all of them
/// when its tables do not exist yet).
fn sqlite_missing_columns(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<(&'static str, &'static str, &'static str)>> {
    let mut missing = Vec::new();
    for &(table, column, kind) in SQLITE_ADDED_COLUMNS {
        let present: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |r| r.get(0),
        )?;
        if present == 0 {
            missing.push((table, column, kind));
        }
    }
    Ok(missing)
}

/// The keys the shared statements' `ON CONFLICT` clauses name: in a file of
/// one run they are the old keys with a constant in front.
const SQLITE_KEYS: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS stages_key ON stages (run_id, stage);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_key ON tasks (run_id, task_id);
CREATE UNIQUE INDEX IF NOT EXISTS attempts_key ON attempts (run_id, task_id, attempt);
CREATE UNIQUE INDEX IF NOT EXISTS merges_key ON merges (run_id, path, task_id);
CREATE UNIQUE INDEX IF NOT EXISTS gates_key ON gates (run_id, stage, attempt, gate);
";

/// The journal's tables in a PostgreSQL database many runs (and many
/// orchestrators) share: the SQLite tables with the run in every key.
const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_text TEXT NOT NULL, workspace TEXT NOT NULL,
  principal TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL, trace_id TEXT NOT NULL,
  inputs TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS stages (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, stage TEXT NOT NULL, position BIGINT NOT NULL,
  status TEXT NOT NULL, attempt BIGINT NOT NULL DEFAULT 0, started_at BIGINT, finished_at BIGINT, feedback TEXT,
  PRIMARY KEY (run_id, stage));
CREATE TABLE IF NOT EXISTS tasks (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, task_id TEXT NOT NULL, stage TEXT NOT NULL,
  agent TEXT NOT NULL, tool TEXT NOT NULL, status TEXT NOT NULL, output TEXT, staging TEXT, span_id TEXT NOT NULL,
  seq BIGINT, PRIMARY KEY (run_id, task_id));
CREATE TABLE IF NOT EXISTS attempts (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, task_id TEXT NOT NULL, attempt BIGINT NOT NULL,
  agent TEXT NOT NULL, status TEXT NOT NULL, exit_code BIGINT, error TEXT, started_at BIGINT NOT NULL,
  duration_ms BIGINT, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, fuel BIGINT, memory_peak BIGINT,
  call_ms BIGINT, bytes_in BIGINT, bytes_out BIGINT, blobs_cached BIGINT, blobs_fetched BIGINT,
  blobs_out BIGINT, bytes_moved BIGINT,
  PRIMARY KEY (run_id, task_id, attempt));
CREATE TABLE IF NOT EXISTS merges (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, path TEXT NOT NULL, task_id TEXT NOT NULL,
  agent TEXT NOT NULL, stage TEXT NOT NULL, sha256 TEXT NOT NULL,
  PRIMARY KEY (run_id, path, task_id));
CREATE TABLE IF NOT EXISTS gates (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, stage TEXT NOT NULL, attempt BIGINT NOT NULL,
  gate TEXT NOT NULL, passed BIGINT NOT NULL, report TEXT NOT NULL,
  PRIMARY KEY (run_id, stage, attempt, gate));
CREATE TABLE IF NOT EXISTS events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  at BIGINT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id);
CREATE TABLE IF NOT EXISTS leases (
  run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
";

/// Serialises schema creation among orchestrators starting at once
/// (`CREATE TABLE IF NOT EXISTS` races on PostgreSQL's catalogue).
const POSTGRES_SCHEMA_LOCK: i64 = 0x7461_796c_6f72;

impl Db {
    /// Open (or create) the SQLite journal file at `path`.
    pub fn sqlite(path: &Path) -> rusqlite::Result<Db> {
        let conn = crate::sqlite::open_shared(path)?;
        // Each `CREATE TABLE IF NOT EXISTS` is atomic, and writes nothing
        // when the table exists (a journal from before a table gains it).
        conn.execute_batch(SQLITE_SCHEMA)?;
        // Adding columns is checked again under the write lock: the
        // orchestrator creating a journal and a reader (`serve`, `stats`)
        // opening it at the same moment would otherwise both see a column
        // missing and both add it ("duplicate column name"). A journal
        // already current is only read: no write lock.
        if !sqlite_missing_columns(&conn)?.is_empty() {
            let tx = rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)?;
            let missing = sqlite_missing_columns(&tx)?;
            for (table, column, kind) in &missing {
                tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
            }
            if !missing.is_empty() {
                // Rows of a journal from before `run_id`: the file's one run.
                for table in ["stages", "tasks", "attempts", "merges", "gates", "events"] {
                    tx.execute(&format!("UPDATE {table} SET run_id = (SELECT id FROM runs) WHERE run_id = '' AND EXISTS (SELECT 1 FROM runs)"), [])?;
                }
                tx.execute("UPDATE tasks SET seq = rowid WHERE seq IS NULL", [])?;
                tx.execute_batch(SQLITE_KEYS)?;
            }
            tx.commit()?;
        }
        Ok(Db::Sqlite(conn))
    }

    /// Connect to a PostgreSQL journal and create its tables if need be.
    /// The tables are created once per database and process: a server
    /// reading runs every few seconds does not repeat the DDL.
    pub fn postgres(url: &str) -> std::result::Result<Db, postgres::Error> {
        static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        let known = CREATED.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|u| u == url);
        if !known {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POSTGRES_SCHEMA_LOCK])?;
            tx.batch_execute(POSTGRES_SCHEMA)?;
            tx.commit()?;
            CREATED.lock().unwrap_or_else(|p| p.into_inner()).push(url.to_string());
        }
        Ok(Db::Postgres { client: Box::new(client), prepared: HashMap::new() })
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres { .. } => Engine::Postgres,
        }
    }

    /// Run a statement; the number of rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[P<'_>]) -> std::result::Result<u64, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let sql = sqlite_text(sql);
                let mut stmt = conn.prepare_cached(&sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Db::Postgres { client, prepared } => {
                let stmt = prepare(client, prepared, sql, params)?;
                Ok(client.execute(&stmt, &pg_params(params))?)
            }
        }
    }

    /// Every row a query returns.
    pub fn rows(&mut self, sql: &str, params: &[P<'_>]) -> std::result::Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let sql = sqlite_text(sql);
                let mut stmt = conn.prepare_cached(&sql)?;
                let width = stmt.column_count();
                let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    (0..width)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                ValueRef::Null => Cell::Null,
                                ValueRef::Integer(v) => Cell::Int(v),
                                ValueRef::Real(v) => Cell::Int(v as i64),
                                ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<Cell>>>()
                        .map(Row)
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<Row>>>()?)
            }
            Db::Postgres { client, prepared } => {
                let stmt = prepare(client, prepared, sql, params)?;
                let rows = client.query(&stmt, &pg_params(params))?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// The first row a query returns, if any.
    pub fn row(&mut self, sql: &str, params: &[P<'_>]) -> std::result::Result<Option<Row>, DbError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// Run `f` in one transaction: all of it commits, or none of it.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Db) -> std::result::Result<T, TxError>) -> std::result::Result<T, TxError> {
        let begin = match self.engine() {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        };
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn batch(&mut self, sql: &str) -> std::result::Result<(), DbError> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres { client, .. } => Ok(client.batch_execute(sql)?),
        }
    }
}

/// What a statement failed with, before the journal names where.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    #[error(transparent)]
    Row(#[from] StoreError),
}

/// Why a transaction was rolled back: the database, or the journal's own
/// reason (e.g. the run's lease was lost).
#[derive(Debug)]
pub(crate) enum TxError {
    Db(DbError),
    Store(StoreError),
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

/// The shared text for SQLite: `{now}` is the local clock in ms.
fn sqlite_text(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains("{now}") {
        sql.replace("{now}", "CAST(unixepoch('subsec') * 1000 AS INTEGER)").into()
    } else {
        sql.into()
    }
}

/// The shared text for PostgreSQL: `?N` → `$N`, `{now}` → the server's clock in ms.
fn postgres_text(sql: &str) -> String {
    let sql = sql.replace("{now}", "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)");
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn prepare(
    client: &mut postgres::Client,
    prepared: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[P<'_>],
) -> std::result::Result<postgres::Statement, postgres::Error> {
    if let Some(stmt) = prepared.get(sql) {
        return Ok(stmt.clone());
    }
    let types: Vec<Type> = params
        .iter()
        .map(|p| match p {
            P::Text(_) => Type::TEXT,
            P::Int(_) => Type::INT8,
        })
        .collect();
    let stmt = client.prepare_typed(&postgres_text(sql), &types)?;
    prepared.insert(sql.to_string(), stmt.clone());
    Ok(stmt)
}

fn pg_params<'a>(params: &'a [P<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            P::Text(v) => v as &(dyn ToSql + Sync),
            P::Int(v) => v as &(dyn ToSql + Sync),
        })
        .collect()
}

fn pg_row(r: &postgres::Row) -> std::result::Result<Row, DbError> {
    let mut cells = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let cell = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?.map_or(Cell::Null, |v| Cell::Int(v.into()))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map_or(Cell::Null, |v| Cell::Int(v.into()))
        } else {
            r.try_get::<_, Option<String>>(i)?.map_or(Cell::Null, Cell::Text)
        };
        cells.push(cell);
    }
    Ok(Row(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text_numbers_parameters_and_reads_the_server_clock() {
        assert_eq!(postgres_text("UPDATE t SET a = ?2 WHERE b = ?1 AND c > {now}"),
            "UPDATE t SET a = $2 WHERE b = $1 AND c > CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)");
        assert_eq!(postgres_text("SELECT '?' , ?10"), "SELECT '?' , $10");
    }

    /// The race CI met: the orchestrator creating a journal while `serve`
    /// opens it. Every opener must see one schema, none a duplicate column.
    #[test]
    fn many_openers_of_a_new_journal_at_once_all_succeed() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.sqlite");
            for opened in crate::sqlite::at_once(4, || Db::sqlite(&path).map(|_| ())) {
                opened.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
            }
            assert!(sqlite_missing_columns(&rusqlite::Connection::open(&path).unwrap()).unwrap().is_empty());
        }
    }
}
