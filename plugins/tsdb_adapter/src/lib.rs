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

mod adapter;
pub use adapter::*;

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

#[cfg(test)]
mod tests;
