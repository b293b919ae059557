//! `mkdocs_writer`: the service's documentation site — the `documentation`
//! stage's first tool.
//!
//! Reads every artifact the run left in the workspace and writes `mkdocs.yml`
//! and one page per concern under `docs/`:
//!
//! | page | from |
//! |---|---|
//! | `index.md` | the backlog (items, kinds), the artifact inventory |
//! | `plan.md` | `session_plan.md`, `acceptance_criteria.md` (planner) |
//! | `api.md` | `openapi.yaml`: every operation with its auth, parameters, a request and a response example, and the schemas |
//! | `events.md` | `schemas/events/*.schema.json` and their examples, topics from the backlog |
//! | `data.md` | `migrations/*.sql`: tables and columns, and the SQL |
//! | `observability.md` | `app/telemetry.py` metrics, SLOs, `rules.yml`, `dashboard.json` |
//! | `security.md` | `openapi.yaml` security, the app's HSTS and TLS settings |
//! | `testing.md` | `tests/test_api.py` and `reports/bash_runner.json` |
//!
//! The navigation lists the decision records under `docs/adr/` and their
//! index `docs/adr/index.md` (written by `adr_manager`, the next tool). Pages
//! link only to pages, so `mkdocs build --strict` passes. A missing artifact
//! is said so on its page and listed in the output. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::adr;
use service_model::{Doc, GenInput, ItemKind, ServiceModel, doc, paths, source};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MkdocsWriterOutput {
    pub config: String,
    /// `docs/<page>.md`, in navigation order.
    pub pages: Vec<String>,
    /// Decision records in the navigation.
    pub adrs: Vec<String>,
    /// Artifacts the pages are written from.
    pub artifacts: Vec<String>,
    /// Artifacts the run did not produce (their pages say so).
    pub missing: Vec<String>,
    pub files: Vec<String>,
}

pub struct MkdocsWriter;

impl Tool for MkdocsWriter {
    const NAME: &'static str = "mkdocs_writer";
    const DESCRIPTION: &'static str = "Writes mkdocs.yml and docs pages (API with examples, events, data, \
         observability, security, tests, plan) from every artifact of the run; builds with --strict.";
    type Input = GenInput;
    type Output = MkdocsWriterOutput;

    fn run(input: GenInput, cx: &Context) -> Result<MkdocsWriterOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let site = site(&model);
        let mut out = source::Out::new();
        for (path, text) in &site.files {
            out.write(path, text)?;
        }
        for m in &site.missing {
            taylordash_sdk::log(Level::Warn, &format!("{m}: not in the workspace; its page says so"));
        }
        taylordash_sdk::log(
            Level::Info,
            &format!("{}: {} pages, {} decision records", paths::MKDOCS, site.pages.len(), site.adrs.len()),
        );
        Ok(MkdocsWriterOutput {
            config: paths::MKDOCS.into(),
            pages: site.pages,
            adrs: site.adrs,
            artifacts: site.artifacts,
            missing: site.missing,
            files: out.files,
        })
    }
}

export_tool!(MkdocsWriter);

pub struct Site {
    pub files: Vec<(String, String)>,
    pub pages: Vec<String>,
    pub adrs: Vec<String>,
    pub artifacts: Vec<String>,
    pub missing: Vec<String>,
}

/// Reads artifacts, remembering which exist.
struct Reader {
    artifacts: Vec<String>,
    missing: Vec<String>,
}

impl Reader {
    fn text(&mut self, path: &str) -> Option<String> {
        match source::read_workspace("file", path) {
            Ok(t) => {
                if !self.artifacts.iter().any(|a| a == path) {
                    self.artifacts.push(path.to_string());
                }
                Some(t)
            }
            Err(_) => {
                if !self.missing.iter().any(|a| a == path) {
                    self.missing.push(path.to_string());
                }
                None
            }
        }
    }

    fn value(&mut self, path: &str) -> Option<Value> {
        let text = self.text(path)?;
        source::decode(path, source::format_of(path).unwrap_or(source::Format::Json), &text).ok()
    }
}

/// A table cell: pipes escaped, one line.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

fn json_block(model: &ServiceModel, v: &Value) -> String {
    format!("```json\n{}```\n", model.example_doc(v).to_json_text())
}

fn missing_note(what: &str, tool: &str) -> String {
    format!("!!! warning \"Not generated\"\n    `{what}` is not in the workspace: `{tool}` did not run or failed.\n")
}

/// Shift Markdown headings one level down (`# X` → `## X`).
fn demote(md: &str) -> String {
    let mut in_code = false;
    md.lines()
        .map(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
            }
            if !in_code && l.starts_with('#') { format!("#{l}") } else { l.to_string() }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn site(model: &ServiceModel) -> Site {
    let mut r = Reader { artifacts: Vec::new(), missing: Vec::new() };
    let api = api_page(model, &mut r);
    let events = events_page(model, &mut r);
    let data = data_page(&mut r);
    let observability = observability_page(model, &mut r);
    let security = security_page(model, &mut r);
    let testing = testing_page(&mut r);
    let plan = plan_page(&mut r);
    let adrs = adr::read_all();
    let index = index_page(model, &mut r, &adrs);
    let pages: Vec<(&str, &str, String)> = vec![
        ("Home", "index.md", index),
        ("Session plan", "plan.md", plan),
        ("API reference", "api.md", api),
        ("Events", "events.md", events),
        ("Data", "data.md", data),
        ("Observability", "observability.md", observability),
        ("Security", "security.md", security),
        ("Tests", "testing.md", testing),
    ];
    let mut nav = Vec::new();
    let mut files = Vec::new();
    let mut page_paths = Vec::new();
    for (title, file, text) in pages {
        nav.push(Doc::map().with(title, file));
        page_paths.push(format!("docs/{file}"));
        files.push((format!("docs/{file}"), text));
    }
    let mut decisions = vec![Doc::map().with("Index", "adr/index.md")];
    let mut adr_files = Vec::new();
    for a in &adrs {
        let name = a.file.trim_start_matches("docs/");
        decisions.push(Doc::map().with(format!("{:04} {}", a.number, if a.title.is_empty() { "(untitled)" } else { &a.title }), name));
        adr_files.push(a.file.clone());
    }
    nav.push(Doc::map().with("Decisions", Doc::Seq(decisions)));
    let config = doc!({
        "site_name": (format!("{} API", model.service.title)),
        "site_description": (format!("Generated by mkdocs_writer from the run's artifacts ({}).", model.source)),
        "docs_dir": "docs",
        "strict": true,
        "theme": { "name": "mkdocs" },
        "markdown_extensions": [
            { "toc": { "permalink": true } },
            "tables",
            "fenced_code",
            "admonition"
        ],
        "nav": (Doc::Seq(nav))
    });
    let mut all = vec![(paths::MKDOCS.to_string(), config.to_yaml_text())];
    all.extend(files);
    Site { files: all, pages: page_paths, adrs: adr_files, artifacts: r.artifacts, missing: r.missing }
}

// ---------------------------------------------------------------------------
// Pages

fn index_page(model: &ServiceModel, r: &mut Reader, adrs: &[adr::Adr]) -> String {
    let svc = &model.service;
    let mut md = format!("# {} API\n\n", svc.title);
    if !svc.description.is_empty() {
        md.push_str(&format!("{}\n\n", svc.description));
    }
    md.push_str(&format!(
        "Version {}. This site is generated by `mkdocs_writer` from the artifacts of the run that built the service \
         from `{}`: every page below is derived from a file in the workspace, not written by hand.\n\n",
        svc.version, model.source
    ));
    md.push_str("## Backlog\n\n| Item | Title | What it became | Priority | Depends on |\n|---|---|---|---|---|\n");
    for i in &model.items {
        let what = match i.kind {
            ItemKind::Crud => "[CRUD endpoints](api.md), [a table](data.md)",
            ItemKind::EventIngest => "[an event endpoint](api.md), [MQTT events](events.md)",
            ItemKind::Metrics => "[metrics, rules and a dashboard](observability.md)",
            ItemKind::Contracts => "[event schemas](events.md)",
            ItemKind::Docs => "this site",
            ItemKind::Other => "documented only",
        };
        md.push_str(&format!(
            "| `{}` | {} | {what} | {} | {} |\n",
            i.id,
            cell(&i.title),
            i.priority,
            i.depends_on.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    md.push_str("\n## Artifacts\n\n| Artifact | What | Written by | Documented in |\n|---|---|---|---|\n");
    let inventory: [(&str, &str, &str, &str); 12] = [
        (paths::OPENAPI, "OpenAPI 3.1 contract", "openapi_gen", "[API reference](api.md)"),
        (paths::EVENT_SCHEMAS, "event JSON Schemas and examples", "openapi_gen", "[Events](events.md)"),
        ("app/", "FastAPI application", "fastapi_gen", "[API reference](api.md)"),
        (paths::EVENTS_MODULE, "MQTT publisher", "mqtt_client", "[Events](events.md)"),
        (paths::MIGRATION, "PostgreSQL/TimescaleDB schema", "tsdb_adapter", "[Data](data.md)"),
        (paths::PG_REPOSITORY_MODULE, "PostgreSQL repository", "tsdb_adapter", "[Data](data.md)"),
        (paths::STORAGE_MODULE, "S3-compatible artifact storage", "minio_client", "[Security](security.md)"),
        (paths::TELEMETRY_MODULE, "metrics and tracing", "otel_instrument", "[Observability](observability.md)"),
        (paths::PROM_RULES, "Prometheus rules", "prom_rules", "[Observability](observability.md)"),
        (paths::DASHBOARD, "Grafana dashboard", "grafana_panels", "[Observability](observability.md)"),
        (paths::TESTS, "test suite", "pytest_asyncio", "[Tests](testing.md)"),
        (paths::ADR_DIR, "decision records", "adr_writer, adr_manager", "[Decisions](adr/index.md)"),
    ];
    for (path, what, tool, page) in inventory {
        let present = if path.ends_with('/') || path == paths::EVENT_SCHEMAS || path == paths::ADR_DIR {
            !source::list_files(path.trim_end_matches('/'), &[]).is_empty()
        } else {
            source::exists(path)
        };
        if !present && !r.missing.iter().any(|m| m == path) {
            r.missing.push(path.to_string());
        }
        md.push_str(&format!(
            "| `{path}` | {what}{} | `{tool}` | {page} |\n",
            if present { "" } else { " (**missing**)" }
        ));
    }
    md.push_str(&format!(
        "\n{} decision record(s): see [Decisions](adr/index.md).\n",
        adrs.len()
    ));
    md
}

fn plan_page(r: &mut Reader) -> String {
    let mut md = String::from("# Session plan\n\n");
    match r.text("session_plan.md") {
        Some(t) => md.push_str(&demote(&t)),
        None => md.push_str(&missing_note("session_plan.md", "planner")),
    }
    if let Some(t) = r.text("acceptance_criteria.md") {
        md.push('\n');
        md.push_str(&demote(&t));
    }
    md
}

fn schema_type(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return format!("[{0}](#{1})", r.rsplit('/').next().unwrap_or(r), r.rsplit('/').next().unwrap_or(r).to_ascii_lowercase());
    }
    let base = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ if s.get("enum").is_some() => "enum".into(),
        _ if s.get("anyOf").is_some() || s.get("oneOf").is_some() => "one of several".into(),
        _ => "any".into(),
    };
    match (base.as_str(), s.get("items"), s.get("format").and_then(Value::as_str)) {
        ("array", Some(items), _) => format!("array of {}", schema_type(items)),
        (_, _, Some(f)) => format!("{base} ({f})"),
        _ => base,
    }
}

fn constraints(s: &Value) -> String {
    let mut c = Vec::new();
    for (k, label) in [("minLength", "min length"), ("maxLength", "max length"), ("minProperties", "min properties"), ("pattern", "pattern")] {
        if let Some(v) = s.get(k) {
            c.push(format!("{label} {}", match v {
                Value::String(p) => code(p),
                other => other.to_string(),
            }));
        }
    }
    if let Some(Value::Array(e)) = s.get("enum") {
        c.push(format!("one of {}", e.iter().map(|v| code(v.as_str().unwrap_or(&v.to_string()))).collect::<Vec<_>>().join(", ")));
    }
    c.join("; ")
}

fn fields_table(schema: &Value) -> String {
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut md = String::from("| Field | Type | Required | Constraints | Description |\n|---|---|---|---|---|\n");
    let props = schema.get("properties").and_then(Value::as_object);
    // Required fields first, in `required` order, then the rest.
    let mut names: Vec<&String> = props.map(|p| p.keys().collect()).unwrap_or_default();
    names.sort_by_key(|n| (required.iter().position(|r| r == n).unwrap_or(usize::MAX), (*n).clone()));
    for n in names {
        let Some(s) = props.and_then(|p| p.get(n)) else { continue };
        md.push_str(&format!(
            "| `{n}` | {} | {} | {} | {} |\n",
            schema_type(s),
            if required.contains(&n.as_str()) { "yes" } else { "no" },
            constraints(s),
            cell(s.get("description").and_then(Value::as_str).unwrap_or(""))
        ));
    }
    md
}

fn api_page(model: &ServiceModel, r: &mut Reader) -> String {
    let mut md = String::from("# API reference\n\n");
    let Some(doc) = r.value(paths::OPENAPI) else {
        md.push_str(&missing_note(paths::OPENAPI, "openapi_gen"));
        return md;
    };
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    md.push_str(&format!(
        "{} {}, from `{}` (OpenAPI {}). Mutating operations need `Authorization: Bearer <token>`; the app reads \
         the token from `{}_API_TOKEN`. Every response carries `Strict-Transport-Security`.\n\n",
        info.get("title").and_then(Value::as_str).unwrap_or("The API"),
        info.get("version").and_then(Value::as_str).unwrap_or(""),
        paths::OPENAPI,
        doc.get("openapi").and_then(Value::as_str).unwrap_or("?"),
        model.service.name.to_ascii_uppercase()
    ));
    // Operations in the model's order, then any the model does not know.
    let mut ops: Vec<(String, String)> = model.endpoints.iter().map(|e| (e.path.clone(), e.method.lower().to_string())).collect();
    if let Some(paths_obj) = doc.get("paths").and_then(Value::as_object) {
        for (p, item) in paths_obj {
            for m in ["get", "post", "put", "patch", "delete"] {
                if item.get(m).is_some() && !ops.contains(&(p.clone(), m.to_string())) {
                    ops.push((p.clone(), m.to_string()));
                }
            }
        }
    }
    md.push_str("| Operation | Method and path | Summary | Auth |\n|---|---|---|---|\n");
    for (p, m) in &ops {
        let Some(op) = doc.get("paths").and_then(|x| x.get(p)).and_then(|x| x.get(m)) else { continue };
        let id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
        md.push_str(&format!(
            "| [`{id}`](#{id}) | `{} {p}` | {} | {} |\n",
            m.to_ascii_uppercase(),
            cell(op.get("summary").and_then(Value::as_str).unwrap_or("")),
            if op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty())) { "bearer" } else { "none" }
        ));
    }
    let mut tag_seen: Vec<String> = Vec::new();
    for (p, m) in &ops {
        let Some(op) = doc.get("paths").and_then(|x| x.get(p)).and_then(|x| x.get(m)) else { continue };
        let tag = op.get("tags").and_then(|t| t.get(0)).and_then(Value::as_str).unwrap_or("other").to_string();
        if !tag_seen.contains(&tag) {
            md.push_str(&format!("\n## {}\n", names_title(&tag)));
            tag_seen.push(tag);
        }
        let id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
        md.push_str(&format!("\n### {id}\n\n`{} {p}`: {}\n\n", m.to_ascii_uppercase(), op.get("summary").and_then(Value::as_str).unwrap_or("")));
        if let Some(d) = op.get("description").and_then(Value::as_str) {
            md.push_str(&format!("{d}\n\n"));
        }
        if op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty())) {
            md.push_str("Requires `Authorization: Bearer <token>` (401 without it).\n\n");
        }
        let mut params: Vec<Value> = doc.pointer(&format!("/paths/{}/parameters", p.replace('~', "~0").replace('/', "~1"))).and_then(Value::as_array).cloned().unwrap_or_default();
        params.extend(op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default());
        if !params.is_empty() {
            md.push_str("| Parameter | In | Type | Required | Description |\n|---|---|---|---|---|\n");
            for prm in &params {
                md.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    prm.get("name").and_then(Value::as_str).unwrap_or(""),
                    prm.get("in").and_then(Value::as_str).unwrap_or(""),
                    prm.get("schema").map(schema_type).unwrap_or_default(),
                    if prm.get("required").and_then(Value::as_bool).unwrap_or(false) { "yes" } else { "no" },
                    cell(prm.get("description").and_then(Value::as_str).unwrap_or(""))
                ));
            }
            md.push('\n');
        }
        if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
            for (mt, media) in content {
                md.push_str(&format!(
                    "Request body (`{mt}`, {}):\n\n",
                    media.get("schema").map(schema_type).unwrap_or_default()
                ));
                if let Some(ex) = media.get("example") {
                    md.push_str(&json_block(model, ex));
                    md.push('\n');
                }
            }
        }
        if let Some(responses) = op.get("responses").and_then(Value::as_object) {
            md.push_str("| Status | Meaning | Body |\n|---|---|---|\n");
            let mut example: Option<(String, String, Value)> = None;
            for (code_, resp) in responses {
                let body = resp
                    .get("content")
                    .and_then(Value::as_object)
                    .map(|c| c.iter().map(|(mt, m)| format!("{} (`{mt}`)", m.get("schema").map(schema_type).unwrap_or_default())).collect::<Vec<_>>().join(", "))
                    .unwrap_or_else(|| "none".into());
                md.push_str(&format!("| {code_} | {} | {body} |\n", cell(resp.get("description").and_then(Value::as_str).unwrap_or(""))));
                if example.is_none()
                    && code_.starts_with('2')
                    && let Some((mt, media)) = resp.get("content").and_then(Value::as_object).and_then(|c| c.iter().next())
                    && let Some(ex) = media.get("example")
                {
                    example = Some((code_.clone(), mt.clone(), ex.clone()));
                }
            }
            md.push('\n');
            match example {
                Some((c, mt, Value::String(text))) => md.push_str(&format!("Response example ({c}, `{mt}`):\n\n```text\n{text}```\n")),
                Some((c, mt, ex)) => {
                    md.push_str(&format!("Response example ({c}, `{mt}`):\n\n"));
                    md.push_str(&json_block(model, &ex));
                }
                None => md.push_str("No response body.\n"),
            }
        }
    }
    if let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) {
        md.push_str("\n## Schemas\n");
        for (name, s) in schemas {
            md.push_str(&format!("\n### {name}\n\n"));
            if let Some(d) = s.get("description").and_then(Value::as_str).or_else(|| s.get("title").and_then(Value::as_str)) {
                md.push_str(&format!("{d}\n\n"));
            }
            if s.get("properties").is_some() {
                md.push_str(&fields_table(s));
            }
        }
    }
    md
}

fn names_title(tag: &str) -> String {
    service_model::names::human(tag)
}

fn events_page(model: &ServiceModel, r: &mut Reader) -> String {
    let mut md = String::from("# Events\n\n");
    md.push_str(
        "The service publishes its events to MQTT (QoS 1, JSON, MQTT v5 with the W3C `traceparent` as a user \
         property) through `app/events.py`. Configure it with `MQTT_URL` (`mqtts://host:8883`; TLS unless a \
         plaintext `mqtt://` URL is given explicitly), `MQTT_USERNAME`, `MQTT_PASSWORD`, `MQTT_CA_FILE`. Without \
         `MQTT_URL` events are kept in memory.\n\n",
    );
    if !source::exists(paths::EVENTS_MODULE) {
        r.missing.push(paths::EVENTS_MODULE.into());
        md.push_str(&missing_note(paths::EVENTS_MODULE, "mqtt_client"));
        md.push('\n');
    } else {
        r.artifacts.push(paths::EVENTS_MODULE.into());
    }
    let mut files = source::list_files(paths::EVENT_SCHEMAS, &[".schema.json"]);
    files.retain(|f| f.matches('/').count() == 2);
    if files.is_empty() {
        md.push_str(&missing_note(paths::EVENT_SCHEMAS, "openapi_gen"));
        r.missing.push(paths::EVENT_SCHEMAS.into());
        return md;
    }
    md.push_str("| Event | Topic | Types | Schema |\n|---|---|---|---|\n");
    let mut sections = String::new();
    let examples: Vec<(String, Value)> = source::list_files(paths::EVENT_EXAMPLES, &[".json"])
        .into_iter()
        .filter_map(|f| r.value(&f).map(|v| (f, v)))
        .collect();
    for f in &files {
        let Some(schema) = r.value(f) else { continue };
        let stem = f.rsplit('/').next().unwrap_or("").trim_end_matches(".schema.json").to_string();
        let ev = model.event(&stem);
        let topic = ev.map(|e| e.topic.clone()).unwrap_or_else(|| "?".into());
        let types: Vec<String> = schema
            .pointer("/properties/type/enum")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(|t| format!("`{t}`")).collect())
            .unwrap_or_else(|| vec!["any dotted name".into()]);
        md.push_str(&format!("| [{stem}](#{stem}) | `{topic}` | {} | `{f}` |\n", types.join(", ")));
        sections.push_str(&format!(
            "\n## {stem}\n\n{}\n\nPublished on `{topic}`; the placeholders are the event's fields.\n\n",
            schema.get("title").and_then(Value::as_str).unwrap_or("")
        ));
        sections.push_str(&fields_table(&schema));
        for (ef, ex) in &examples {
            let t = ex.get("type").and_then(Value::as_str).unwrap_or("");
            if types.iter().any(|x| x.trim_matches('`') == t) || (ev.is_some_and(|e| e.types.is_empty()) && !t.is_empty()) {
                sections.push_str(&format!("\nExample `{}` (`{ef}`):\n\n", t));
                sections.push_str(&json_block(model, ex));
            }
        }
    }
    md.push_str(&sections);
    md
}

fn data_page(r: &mut Reader) -> String {
    let mut md = String::from("# Data\n\n");
    let mut files = source::list_files("migrations", &[".sql"]);
    files.sort();
    if files.is_empty() {
        r.missing.push(paths::MIGRATION.into());
        md.push_str(&missing_note(paths::MIGRATION, "tsdb_adapter"));
        return md;
    }
    md.push_str(
        "PostgreSQL 13+ (TimescaleDB when the server has it: event tables become hypertables on `at`). The app \
         uses the database when `DATABASE_URL` is set (`app/repository_pg.py`, TLS required unless the DSN names \
         an `sslmode`); otherwise it keeps data in memory. Apply the migrations in order with \
         `psql -v ON_ERROR_STOP=1 -f <file>`; each is idempotent.\n",
    );
    for f in files {
        let Some(sql) = r.text(&f) else { continue };
        md.push_str(&format!("\n## {}\n", f.trim_start_matches("migrations/")));
        let mut rest = sql.as_str();
        while let Some(at) = rest.find("CREATE TABLE IF NOT EXISTS ") {
            let after = &rest[at + 27..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let body_end = after.find("\n);").unwrap_or(after.len());
            let body = &after[..body_end];
            md.push_str(&format!("\n### {name}\n\n| Column | Definition |\n|---|---|\n"));
            for line in body.lines().skip(1) {
                let line = line.trim().trim_end_matches(',');
                if line.is_empty() {
                    continue;
                }
                let (col, def) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                if col == "PRIMARY" {
                    md.push_str(&format!("| (primary key) | `{}` |\n", cell(line)));
                } else {
                    md.push_str(&format!("| `{col}` | `{}` |\n", cell(def.trim())));
                }
            }
            rest = &after[body_end..];
        }
        md.push_str(&format!("\nThe SQL:\n\n```sql\n{sql}```\n"));
    }
    md
}

fn observability_page(model: &ServiceModel, r: &mut Reader) -> String {
    let mut md = String::from("# Observability\n\n");
    if r.text(paths::TELEMETRY_MODULE).is_none() {
        md.push_str(&missing_note(paths::TELEMETRY_MODULE, "otel_instrument"));
        md.push('\n');
    }
    md.push_str(
        "`app/telemetry.py` measures every request under its operation and serves the metrics on `/metrics`; with \
         the OpenTelemetry SDK installed each request is also a server span continuing the caller's `traceparent` \
         (exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set).\n\n## Metrics\n\n\
         | Metric | Type | Labels | Help |\n|---|---|---|---|\n"
    );
    for m in &model.metrics {
        md.push_str(&format!("| `{}` | {} | {} | {} |\n", m.name, m.kind.as_str(), m.labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", "), cell(&m.help)));
    }
    md.push_str("\n## Service level objectives\n\n| Operation | Endpoint | p95 latency | Availability | Error budget |\n|---|---|---|---|---|\n");
    for e in &model.endpoints {
        md.push_str(&format!(
            "| `{}` | `{}` | ≤ {} s | {} % | {} |\n",
            e.operation_id,
            e.label(),
            e.slo.latency_seconds(),
            e.slo.availability_percent(),
            e.slo.error_budget()
        ));
    }
    md.push_str("\n## Prometheus rules\n\n");
    match r.value(paths::PROM_RULES) {
        Some(rules) => {
            md.push_str(&format!("From `{}`.\n\n| Group | Rule | Kind | Expression |\n|---|---|---|---|\n", paths::PROM_RULES));
            for g in rules.get("groups").and_then(Value::as_array).into_iter().flatten() {
                let gname = g.get("name").and_then(Value::as_str).unwrap_or("");
                for rule in g.get("rules").and_then(Value::as_array).into_iter().flatten() {
                    let (name, kind) = match (rule.get("record").and_then(Value::as_str), rule.get("alert").and_then(Value::as_str)) {
                        (Some(n), _) => (n, "recording"),
                        (_, Some(n)) => (n, "alert"),
                        _ => ("?", "?"),
                    };
                    md.push_str(&format!(
                        "| `{gname}` | `{name}` | {kind} | {} |\n",
                        code(rule.get("expr").and_then(Value::as_str).unwrap_or(""))
                    ));
                }
            }
        }
        None => md.push_str(&missing_note(paths::PROM_RULES, "prom_rules")),
    }
    md.push_str("\n## Grafana dashboard\n\n");
    match r.value(paths::DASHBOARD) {
        Some(d) => {
            md.push_str(&format!(
                "`{}` (uid `{}`): import it into Grafana and pick the Prometheus data source.\n\n| Panel | Shows |\n|---|---|\n",
                paths::DASHBOARD,
                d.get("uid").and_then(Value::as_str).unwrap_or("")
            ));
            for p in d.get("panels").and_then(Value::as_array).into_iter().flatten() {
                if p.get("type").and_then(Value::as_str) == Some("row") {
                    continue;
                }
                md.push_str(&format!(
                    "| {} | {} |\n",
                    cell(p.get("title").and_then(Value::as_str).unwrap_or("")),
                    cell(p.get("description").and_then(Value::as_str).unwrap_or(""))
                ));
            }
        }
        None => md.push_str(&missing_note(paths::DASHBOARD, "grafana_panels")),
    }
    md
}

fn security_page(model: &ServiceModel, r: &mut Reader) -> String {
    let env = model.service.name.to_ascii_uppercase();
    let mut md = String::from("# Security\n\n## Authentication\n\n");
    md.push_str(&format!(
        "Mutating operations require `Authorization: Bearer <token>`, compared in constant time with \
         `{env}_API_TOKEN`; with no token configured every mutating request is refused (401). Reads are public.\n\n"
    ));
    if let Some(doc) = r.value(paths::OPENAPI) {
        md.push_str("| Operation | Security |\n|---|---|\n");
        for e in &model.endpoints {
            let op = doc.get("paths").and_then(|p| p.get(&e.path)).and_then(|i| i.get(e.method.lower()));
            let sec = op
                .and_then(|o| o.get("security"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_object).flat_map(|o| o.keys().cloned()).collect::<Vec<_>>().join(", "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "none".into());
            md.push_str(&format!("| `{}` | {} |\n", e.label(), sec));
        }
    }
    md.push_str("\n## Transport\n\n");
    let settings = r.text("app/settings.py").unwrap_or_default();
    let hsts = settings
        .lines()
        .find_map(|l| l.strip_prefix("HSTS_MAX_AGE = "))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "(not found)".into());
    md.push_str(&format!(
        "* HSTS on every response: `Strict-Transport-Security: max-age={hsts}; includeSubDomains`, and \
         `X-Content-Type-Options: nosniff`. TLS is terminated by the proxy in front of the app; set \
         `{env}_HTTPS_REDIRECT=true` to redirect plain HTTP when it is not.\n\
         * MQTT: `mqtts://` (TLS, system CAs or `MQTT_CA_FILE`) unless a plaintext URL is configured explicitly.\n\
         * PostgreSQL: TLS required (`sslmode=require`) unless the DSN names another `sslmode`.\n\
         * Object storage: `https://` by default (`S3_ENDPOINT`), every request signed with AWS Signature Version 4.\n\n\
         ## Secrets\n\nNo secret is in the code or the artifacts; the `security_check` gate scans every file. \
         Credentials come from the environment: `{env}_API_TOKEN`, `DATABASE_URL`, `MQTT_USERNAME`/`MQTT_PASSWORD`, \
         `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.\n"
    ));
    md
}

fn testing_page(r: &mut Reader) -> String {
    let mut md = String::from("# Tests\n\n");
    let Some(text) = r.text(paths::TESTS) else {
        md.push_str(&missing_note(paths::TESTS, "pytest_asyncio"));
        return md;
    };
    md.push_str(&format!(
        "`{}` drives the app in-process through `httpx.ASGITransport`: from the workspace root, \
         `pip install -r {}` then `python3 -m pytest -q`.\n\n",
        paths::TESTS,
        paths::TEST_REQUIREMENTS
    ));
    if let Some(report) = r.value(&format!("{}/bash_runner.json", paths::REPORTS)) {
        md.push_str(&format!(
            "Last run (`bash_runner`): **{} passed, {} failed, {} skipped**, exit code {}.\n\n",
            report.get("passed").and_then(Value::as_u64).unwrap_or(0),
            report.get("failed").and_then(Value::as_u64).unwrap_or(0),
            report.get("skipped").and_then(Value::as_u64).unwrap_or(0),
            report.get("exit_code").and_then(Value::as_i64).unwrap_or(0),
        ));
    }
    md.push_str("| Test | Checks |\n|---|---|\n");
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.strip_prefix("async def test_") {
            let name = format!("test_{}", rest.split('(').next().unwrap_or(""));
            let doc = lines.get(i + 1).map(|d| d.trim().trim_matches('"').to_string()).unwrap_or_default();
            md.push_str(&format!("| `{name}` | {} |\n", cell(&doc)));
        }
    }
    md
}

#[cfg(test)]
mod tests;
