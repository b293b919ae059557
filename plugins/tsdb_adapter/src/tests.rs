use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, TsdbAdapterOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<TsdbAdapter>(json!({ "previous": { "module": "app/events.py" } })).unwrap();
    (h, out)
}

#[test]
fn migration_has_a_table_per_resource_and_event() {
    let (h, out) = run_example();
    assert_eq!(out.files, ["migrations/001_init.sql", "app/repository_pg.py"]);
    assert_eq!(out.tables, ["projects"]);
    assert_eq!(out.event_tables, ["project_events"]);
    let sql = h.out_file("migrations/001_init.sql");
    assert!(sql.contains(
        "CREATE TABLE IF NOT EXISTS projects (\n    id          TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9-]+$' AND char_length(id) <= 64),\n    \
             name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),\n    \
             description TEXT CHECK (char_length(description) BETWEEN 0 AND 2000),\n"
    ));
    assert!(sql.contains("    type       TEXT NOT NULL CHECK (type IN ('project.created', 'project.updated', 'project.deleted')),\n"));
    assert!(sql.contains("    project_id TEXT NOT NULL CHECK (project_id ~ '^[a-z0-9-]+$'),\n"));
    assert!(sql.contains("CREATE INDEX IF NOT EXISTS project_events_project_id_at_idx ON project_events (project_id, at DESC);"));
    assert!(sql.contains("PERFORM create_hypertable('project_events', 'at', if_not_exists => TRUE, migrate_data => TRUE);"));
    assert_eq!(sql.matches("BEGIN;").count(), 1);
    assert_eq!(sql.matches("COMMIT;").count(), 1);
}

#[test]
fn repository_matches_the_memory_interface() {
    let (h, _) = run_example();
    let text = h.out_file("app/repository_pg.py");
    assert!(!text.contains("@@"));
    for method in ["async def create(", "async def list(", "async def get(", "async def update(", "async def delete("] {
        assert!(text.contains(method), "{method}");
    }
    assert!(text.contains("COLUMNS: dict[str, tuple[str, ...]] = {\n    \"projects\": (\"name\", \"description\"),\n}"));
    assert!(text.contains("EVENT_TABLES: dict[str, tuple[str, str | None]] = {\n    \"project_event\": (\"project_events\", \"project_id\"),\n}"));
    assert!(text.contains("        self.projects = PgTable(pool, \"projects\")"));
    assert!(text.contains("DEFAULT_SSLMODE = \"require\""));
}

#[test]
fn custom_field_types_map_to_columns() {
    let h = Harness::new();
    h.run::<TsdbAdapter>(json!({ "backlog": { "items": [ { "id": "t", "title": "Tasks CRUD", "resource": "tasks",
        "fields": [ { "name": "title", "required": true }, { "name": "points", "type": "integer" },
                    { "name": "due", "type": "date-time" }, { "name": "owner", "type": "uuid" } ] } ] } }))
        .unwrap();
    let sql = h.out_file("migrations/001_init.sql");
    assert!(sql.contains("    points     BIGINT,\n"));
    assert!(sql.contains("    due        TIMESTAMPTZ,\n"));
    assert!(sql.contains("    owner      UUID,\n"));
    assert!(sql.contains("CREATE TABLE IF NOT EXISTS task_events ("));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let (h, out) = run_example();
        (out, h.out_file("migrations/001_init.sql"), h.out_file("app/repository_pg.py"))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<TsdbAdapter>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
