//! `tsdb_adapter`: the service's PostgreSQL/TimescaleDB storage — the
//! `backend_dev` agent's third tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes:
//!
//! - `migrations/001_init.sql`: a table per resource (the same fields,
//!   patterns and lengths as the OpenAPI schemas, as CHECK constraints) and
//!   an event table per event type (the JSON Schema's constraints, indexed by
//!   subject and time), in one transaction, idempotent; on a server with
//!   TimescaleDB the event tables become hypertables on `at`, on plain
//!   PostgreSQL that step is skipped;
//! - `app/repository_pg.py`: `PgRepository`, the asyncpg implementation of
//!   the in-memory repository's interface (`create/list/get/update/delete`
//!   per resource, `record_event`), TLS required unless the DSN says
//!   otherwise; `app/main.py` selects it when `DATABASE_URL` is set.
//!
//! Returns the tables. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::model::{EVENT_TYPE_PATTERN, SLUG_PATTERN, TRACE_ID_PATTERN};
use service_model::{EventType, FieldType, GenInput, Resource, ServiceModel, paths, py, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TsdbAdapterOutput {
    pub migration: String,
    pub module: String,
    /// Resource tables.
    pub tables: Vec<String>,
    /// Event tables (hypertables under TimescaleDB).
    pub event_tables: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct TsdbAdapter;

impl Tool for TsdbAdapter {
    const NAME: &'static str = "tsdb_adapter";
    const DESCRIPTION: &'static str = "Generates migrations/001_init.sql (PostgreSQL tables, TimescaleDB hypertables \
         when available) and app/repository_pg.py (async asyncpg repository) from the run's backlog.";
    type Input = GenInput;
    type Output = TsdbAdapterOutput;

    fn run(input: GenInput, cx: &Context) -> Result<TsdbAdapterOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let mut out = Out::new();
        out.write(paths::MIGRATION, &migration_sql(&model))?;
        out.write(paths::PG_REPOSITORY_MODULE, &repository_py(&model))?;
        let tables: Vec<String> = model.resources.iter().map(|r| r.name.clone()).collect();
        let event_tables: Vec<String> = model.events.iter().map(event_table).collect();
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{}: tables {}; event tables {}",
                paths::MIGRATION,
                if tables.is_empty() { "none".into() } else { tables.join(", ") },
                if event_tables.is_empty() { "none".into() } else { event_tables.join(", ") }
            ),
        );
        Ok(TsdbAdapterOutput {
            migration: paths::MIGRATION.into(),
            module: paths::PG_REPOSITORY_MODULE.into(),
            tables,
            event_tables,
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(TsdbAdapter);

pub fn event_table(e: &EventType) -> String {
    format!("{}s", e.name)
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn resource_table(r: &Resource) -> String {
    let width = r.fields.iter().map(|f| f.name.len()).chain([10]).max().unwrap_or(10);
    let col = |name: &str, def: String| format!("    {name:<width$} {def}");
    let mut cols = vec![col(
        "id",
        format!("TEXT PRIMARY KEY CHECK (id ~ {} AND char_length(id) <= 64)", sql_string(SLUG_PATTERN)),
    )];
    for f in &r.fields {
        let mut def = f.ty.sql().to_string();
        if f.required {
            def.push_str(" NOT NULL");
        }
        if f.ty == FieldType::String {
            let min = if f.required { 1 } else { 0 };
            if let Some(max) = f.max_length {
                def.push_str(&format!(" CHECK (char_length({}) BETWEEN {min} AND {max})", f.name));
            }
        }
        cols.push(col(&f.name, def));
    }
    cols.push(col("created_at", "TIMESTAMPTZ NOT NULL DEFAULT now()".into()));
    cols.push(col("updated_at", "TIMESTAMPTZ NOT NULL DEFAULT now()".into()));
    format!(
        "-- {name} (backlog item `{item}`): openapi.yaml components.schemas.{class}\n\
         CREATE TABLE IF NOT EXISTS {name} (\n{cols}\n);\n\
         CREATE INDEX IF NOT EXISTS {name}_created_at_idx ON {name} (created_at, id);\n",
        name = r.name,
        item = r.item,
        class = r.class,
        cols = cols.join(",\n"),
    )
}

fn event_table_sql(e: &EventType) -> String {
    let table = event_table(e);
    let type_check = if e.types.is_empty() {
        format!("CHECK (type ~ {})", sql_string(EVENT_TYPE_PATTERN))
    } else {
        let list: Vec<String> = e.types.iter().map(|t| sql_string(t)).collect();
        format!("CHECK (type IN ({}))", list.join(", "))
    };
    let mut cols = vec![
        "    event_id   UUID NOT NULL".to_string(),
        format!("    type       TEXT NOT NULL {type_check}"),
    ];
    if let Some(k) = &e.key_field {
        cols.push(format!("    {k:<10} TEXT NOT NULL CHECK ({k} ~ {})", sql_string(SLUG_PATTERN)));
    }
    cols.push(format!("    trace_id   TEXT NOT NULL CHECK (trace_id ~ {})", sql_string(TRACE_ID_PATTERN)));
    cols.push("    at         TIMESTAMPTZ NOT NULL".into());
    cols.push(
        "    changes    JSONB CHECK (changes IS NULL OR (jsonb_typeof(changes) = 'object' AND changes <> '{}'::jsonb))"
            .into(),
    );
    cols.push("    topic      TEXT NOT NULL".into());
    cols.push("    PRIMARY KEY (event_id, at)".into());
    let index = match &e.key_field {
        Some(k) => format!("CREATE INDEX IF NOT EXISTS {table}_{k}_at_idx ON {table} ({k}, at DESC);\n"),
        None => format!("CREATE INDEX IF NOT EXISTS {table}_at_idx ON {table} (at DESC);\n"),
    };
    format!(
        "-- {title}: {schema}\nCREATE TABLE IF NOT EXISTS {table} (\n{cols}\n);\n{index}",
        title = e.title(),
        schema = e.schema_file(),
        cols = cols.join(",\n"),
    )
}

pub fn migration_sql(model: &ServiceModel) -> String {
    let mut sql = format!(
        "-- Schema of the {title} API (generated by tsdb_adapter from `{source}`).\n\
         -- PostgreSQL 13+. Idempotent: applying it again changes nothing. On a server\n\
         -- with TimescaleDB the event tables become hypertables on `at`.\n\n\
         BEGIN;\n",
        title = model.service.title,
        source = model.source
    );
    for r in &model.resources {
        sql.push('\n');
        sql.push_str(&resource_table(r));
    }
    for e in &model.events {
        sql.push('\n');
        sql.push_str(&event_table_sql(e));
    }
    sql.push_str("\nCOMMIT;\n");
    if !model.events.is_empty() {
        let mut body = String::new();
        for e in &model.events {
            body.push_str(&format!(
                "        PERFORM create_hypertable('{}', 'at', if_not_exists => TRUE, migrate_data => TRUE);\n",
                event_table(e)
            ));
        }
        sql.push_str(&format!(
            "\n-- TimescaleDB when the server has it; plain PostgreSQL skips this.\n\
             DO $$\nBEGIN\n    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN\n        \
             CREATE EXTENSION IF NOT EXISTS timescaledb;\n{body}    END IF;\nEND\n$$;\n"
        ));
    }
    sql
}

const TEMPLATE: &str = r#""""PostgreSQL/TimescaleDB repository of the @@title@@ API (generated by tsdb_adapter from @@source@@).

The interface of `app/repository.py`'s MemoryRepository over an asyncpg pool;
the schema is `@@migration@@`. `app/main.py` uses it when `DATABASE_URL` is
set. Connections require TLS unless the DSN names an `sslmode` (e.g.
`sslmode=disable` for a database on the same host).
"""

from __future__ import annotations

import datetime
import json
import pathlib
import uuid
from typing import Any

from app.repository import Conflict

MIGRATION = "@@migration@@"
#: The sslmode of DSNs that name none: TLS required.
DEFAULT_SSLMODE = "require"

#: Resource table → the columns a client sets (ids and timestamps aside).
COLUMNS: dict[str, tuple[str, ...]] = @@columns@@

#: Event type → (table, subject column or None).
EVENT_TABLES: dict[str, tuple[str, str | None]] = @@event_tables@@


class PgTable:
    """One resource's table; the same methods as `MemoryTable`."""

    def __init__(self, pool: Any, table: str) -> None:
        self.pool = pool
        self.table = table
        self.columns = COLUMNS[table]

    async def create(self, row: dict[str, Any]) -> dict[str, Any]:
        import asyncpg

        names = [c for c in ("id", *self.columns, "created_at", "updated_at") if c in row]
        values = ", ".join(f"${i}" for i in range(1, len(names) + 1))
        sql = f"INSERT INTO {self.table} ({', '.join(names)}) VALUES ({values}) RETURNING *"
        try:
            record = await self.pool.fetchrow(sql, *(row[c] for c in names))
        except asyncpg.UniqueViolationError:
            raise Conflict(f"{self.table}: id `{row['id']}` already exists") from None
        return dict(record)

    async def list(self) -> list[dict[str, Any]]:
        records = await self.pool.fetch(f"SELECT * FROM {self.table} ORDER BY created_at, id")
        return [dict(r) for r in records]

    async def get(self, row_id: str) -> dict[str, Any] | None:
        record = await self.pool.fetchrow(f"SELECT * FROM {self.table} WHERE id = $1", row_id)
        return dict(record) if record is not None else None

    async def update(self, row_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        names = [c for c in changes if c in self.columns or c == "updated_at"]
        if not names:
            return await self.get(row_id)
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(names, start=2))
        record = await self.pool.fetchrow(
            f"UPDATE {self.table} SET {sets} WHERE id = $1 RETURNING *", row_id, *(changes[c] for c in names)
        )
        return dict(record) if record is not None else None

    async def delete(self, row_id: str) -> bool:
        status = await self.pool.execute(f"DELETE FROM {self.table} WHERE id = $1", row_id)
        return status == "DELETE 1"


def _ssl_args(dsn: str) -> dict[str, Any]:
    return {} if "sslmode=" in dsn else {"ssl": DEFAULT_SSLMODE}


class PgRepository:
    """Every resource's table and the event tables, over one pool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
@@tables@@

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> "PgRepository":
        import asyncpg

        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, **_ssl_args(dsn))
        return cls(pool)

    async def migrate(self, path: str | pathlib.Path = MIGRATION) -> None:
        """Apply the migration (idempotent)."""
        sql = pathlib.Path(path).read_text(encoding="utf-8")
        async with self.pool.acquire() as connection:
            await connection.execute(sql)

    async def record_event(self, name: str, event: dict[str, Any], topic: str) -> None:
        table, key = EVENT_TABLES[name]
        names = ["event_id", "type", *([key] if key else []), "trace_id", "at", "changes", "topic"]
        values = [
            uuid.UUID(str(event["event_id"])),
            event["type"],
            *([event[key]] if key else []),
            event["trace_id"],
            datetime.datetime.fromisoformat(str(event["at"]).replace("Z", "+00:00")),
            json.dumps(event["changes"]) if event.get("changes") else None,
            topic,
        ]
        placeholders = ", ".join(f"${i}" + ("::jsonb" if n == "changes" else "") for i, n in enumerate(names, start=1))
        await self.pool.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING", *values
        )

    async def close(self) -> None:
        await self.pool.close()
"#;

pub fn repository_py(model: &ServiceModel) -> String {
    let mut columns = String::from("{\n");
    for r in &model.resources {
        let cols: Vec<String> = r.fields.iter().map(|f| py::string(&f.name)).collect();
        columns.push_str(&format!(
            "    {}: ({}{}),\n",
            py::string(&r.name),
            cols.join(", "),
            if cols.len() == 1 { "," } else { "" }
        ));
    }
    columns.push('}');
    if model.resources.is_empty() {
        columns = "{}".into();
    }
    let mut events = String::from("{\n");
    for e in &model.events {
        events.push_str(&format!(
            "    {}: ({}, {}),\n",
            py::string(&e.name),
            py::string(&event_table(e)),
            e.key_field.as_deref().map(py::string).unwrap_or_else(|| "None".into())
        ));
    }
    events.push('}');
    if model.events.is_empty() {
        events = "{}".into();
    }
    let tables: Vec<String> =
        model.resources.iter().map(|r| format!("        self.{0} = PgTable(pool, \"{0}\")", r.name)).collect();
    py::fill(
        TEMPLATE,
        &[
            ("title", &model.service.title),
            ("source", &format!("`{}`", model.source)),
            ("migration", paths::MIGRATION),
            ("columns", &columns),
            ("event_tables", &events),
            ("tables", &tables.join("\n")),
        ],
    )
}

#[cfg(test)]
mod tests;
