//! The backlog → the service model.
//!
//! The backlog (`{ service?, items: [...] }`, the planner's input) is
//! validated as the planner does (ids and titles present, ids unique,
//! dependencies known), then each item is classified from its words:
//!
//! | item | becomes |
//! |---|---|
//! | names `METHOD /path` and publishes (MQTT, publish, event) | an event-publishing endpoint; the MQTT topic is the `a/b/{key}` token of its description |
//! | mentions metrics or Prometheus | `GET /metrics` (or the `/path` it names) and the service metrics |
//! | mentions schemas or contracts, no endpoint | the event contracts (JSON Schemas, examples) |
//! | has a `resource` otherwise | CRUD: list, create, get, update, delete under `/api/v1/<resource>`, and `<singular>.created/updated/deleted` events |
//! | mentions docs, no resource | documentation only |
//!
//! A CRUD resource's fields come from the item's optional `fields:`
//! (`[{name, type, required?, description?}]`, types `string`, `integer`,
//! `number`, `boolean`, `date-time`, `date`, `uuid`), else `name` (required)
//! and `description`. Every resource also has `id` (a slug), `created_at`
//! and `updated_at`. An item's optional `slo: {latency_p95_ms, availability}`
//! overrides the default objectives of its endpoints.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};
use taylordash_sdk::ToolError;

use crate::doc::Doc;
use crate::names::{hex32, human, pascal, singular, slug, snake, uuid_for};
use crate::source;

/// Where the generators put what, relative to the workspace.
pub mod paths {
    pub const OPENAPI: &str = "openapi.yaml";
    pub const EVENT_SCHEMAS: &str = "schemas/events";
    pub const EVENT_EXAMPLES: &str = "schemas/events/examples";
    pub const APP: &str = "app";
    pub const TESTS: &str = "tests/test_api.py";
    pub const TEST_REQUIREMENTS: &str = "tests/requirements.txt";
    pub const EVENTS_MODULE: &str = "app/events.py";
    pub const TELEMETRY_MODULE: &str = "app/telemetry.py";
    pub const STORAGE_MODULE: &str = "app/storage.py";
    pub const PG_REPOSITORY_MODULE: &str = "app/repository_pg.py";
    pub const MIGRATION: &str = "migrations/001_init.sql";
    pub const PROM_RULES: &str = "observability/prometheus/rules.yml";
    pub const DASHBOARD: &str = "observability/grafana/dashboard.json";
    pub const ADR_DIR: &str = "docs/adr";
    pub const ADR_INDEX: &str = "docs/adr/index.md";
    pub const MKDOCS: &str = "mkdocs.yml";
    pub const REPORTS: &str = "reports";
    /// Backlog file names looked for in the workspace root, in this order.
    pub const BACKLOG_FILES: [&str; 3] = ["backlog.json", "backlog.yaml", "backlog.yml"];
}

/// Example timestamp of generated examples (fixed: outputs are deterministic).
pub const EXAMPLE_AT: &str = "2025-09-13T10:15:00Z";
pub const SLUG_PATTERN: &str = "^[a-z0-9-]+$";
pub const TRACE_ID_PATTERN: &str = "^[0-9a-f]{32}$";
pub const EVENT_TYPE_PATTERN: &str = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$";

// ---------------------------------------------------------------------------
// The model

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceModel {
    /// Where the backlog came from (`backlog.yaml`, or `backlog` when inline).
    pub source: String,
    pub service: Service,
    pub items: Vec<Item>,
    pub resources: Vec<Resource>,
    pub events: Vec<EventType>,
    pub endpoints: Vec<Endpoint>,
    pub metrics: Vec<Metric>,
    /// What the model left out, and why (tools log these).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// snake_case: Python package names, metric prefixes.
    pub name: String,
    pub title: String,
    pub version: String,
    pub description: String,
    /// `/api/v1`: where CRUD routers are mounted.
    pub api_prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Crud,
    EventIngest,
    Metrics,
    Contracts,
    Docs,
    Other,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Crud => "crud",
            ItemKind::EventIngest => "event_ingest",
            ItemKind::Metrics => "metrics",
            ItemKind::Contracts => "contracts",
            ItemKind::Docs => "docs",
            ItemKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub index: usize,
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub priority: String,
    pub resource: Option<String>,
    pub acceptance: Vec<String>,
    pub depends_on: Vec<String>,
    pub kind: ItemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    DateTime,
    Date,
    Uuid,
}

impl FieldType {
    fn parse(s: &str) -> Option<FieldType> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "string" | "str" | "text" => FieldType::String,
            "integer" | "int" => FieldType::Integer,
            "number" | "float" => FieldType::Number,
            "boolean" | "bool" => FieldType::Boolean,
            "date-time" | "datetime" | "timestamp" => FieldType::DateTime,
            "date" => FieldType::Date,
            "uuid" => FieldType::Uuid,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::DateTime => "date-time",
            FieldType::Date => "date",
            FieldType::Uuid => "uuid",
        }
    }

    /// The JSON Schema of a value of this type.
    pub fn schema(self) -> Doc {
        match self {
            FieldType::String => crate::doc!({ "type": "string" }),
            FieldType::Integer => crate::doc!({ "type": "integer" }),
            FieldType::Number => crate::doc!({ "type": "number" }),
            FieldType::Boolean => crate::doc!({ "type": "boolean" }),
            FieldType::DateTime => crate::doc!({ "type": "string", "format": "date-time" }),
            FieldType::Date => crate::doc!({ "type": "string", "format": "date" }),
            FieldType::Uuid => crate::doc!({ "type": "string", "format": "uuid" }),
        }
    }

    /// The Python annotation pydantic validates.
    pub fn python(self) -> &'static str {
        match self {
            FieldType::String => "str",
            FieldType::Integer => "int",
            FieldType::Number => "float",
            FieldType::Boolean => "bool",
            FieldType::DateTime => "AwareDatetime",
            FieldType::Date => "date",
            FieldType::Uuid => "UUID",
        }
    }

    /// The PostgreSQL column type.
    pub fn sql(self) -> &'static str {
        match self {
            FieldType::String => "TEXT",
            FieldType::Integer => "BIGINT",
            FieldType::Number => "DOUBLE PRECISION",
            FieldType::Boolean => "BOOLEAN",
            FieldType::DateTime => "TIMESTAMPTZ",
            FieldType::Date => "DATE",
            FieldType::Uuid => "UUID",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub required: bool,
    pub description: String,
    /// For strings.
    pub max_length: Option<u32>,
}

impl Field {
    /// JSON Schema of the field (with its length limits).
    pub fn schema(&self) -> Doc {
        let mut s = self.ty.schema();
        if self.ty == FieldType::String {
            if self.required {
                s.insert("minLength", 1);
            }
            if let Some(max) = self.max_length {
                s.insert("maxLength", max);
            }
        }
        s.insert("description", self.description.as_str());
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The backlog item that asked for it.
    pub item: String,
    /// Plural snake name: `projects` (tables, routers, tags).
    pub name: String,
    pub singular: String,
    /// `Project`.
    pub class: String,
    /// `project_id`: the path parameter and the events' key.
    pub id_param: String,
    /// `/api/v1/projects`.
    pub path: String,
    /// The fields a client sets (not `id`, `created_at`, `updated_at`).
    pub fields: Vec<Field>,
    /// The event type its changes publish.
    pub event: String,
}

impl Resource {
    /// The string field ids are derived from (`name`), if any.
    pub fn label_field(&self) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.ty == FieldType::String && f.required)
            .or_else(|| self.fields.iter().find(|f| f.ty == FieldType::String))
    }

    /// An example create request.
    pub fn example_create(&self, service: &Service) -> Value {
        let mut m = serde_json::Map::new();
        for f in &self.fields {
            m.insert(f.name.clone(), example_value(f, self, service));
        }
        Value::Object(m)
    }

    /// An example update request: the first field changed.
    pub fn example_update(&self, service: &Service) -> Value {
        let mut m = serde_json::Map::new();
        if let Some(f) = self.fields.iter().find(|f| f.ty == FieldType::String).or(self.fields.first()) {
            let v = match example_value(f, self, service) {
                Value::String(s) => Value::String(format!("{s} (renamed)")),
                other => other,
            };
            m.insert(f.name.clone(), v);
        }
        Value::Object(m)
    }

    /// The example's id (a slug of its label, or `<singular>-1`).
    pub fn example_id(&self, service: &Service) -> String {
        match self.label_field().map(|f| example_value(f, self, service)) {
            Some(Value::String(s)) => slug(&s),
            _ => format!("{}-1", slug(&self.singular)),
        }
    }

    /// An example of the stored resource, as the API returns it.
    pub fn example_item(&self, service: &Service) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), Value::String(self.example_id(service)));
        if let Value::Object(fields) = self.example_create(service) {
            m.extend(fields);
        }
        m.insert("created_at".into(), Value::String(EXAMPLE_AT.into()));
        m.insert("updated_at".into(), Value::String(EXAMPLE_AT.into()));
        Value::Object(m)
    }
}

fn example_value(f: &Field, r: &Resource, service: &Service) -> Value {
    match f.ty {
        FieldType::String => match f.name.as_str() {
            "name" | "title" => Value::String(format!("{} core", service.title)),
            "description" | "summary" => Value::String(format!("The {} {} example", service.title, r.singular.replace('_', " "))),
            "email" => Value::String("owner@example.com".into()),
            other => Value::String(format!("Example {}", other.replace('_', " "))),
        },
        FieldType::Integer => json!(1),
        FieldType::Number => json!(1.5),
        FieldType::Boolean => json!(true),
        FieldType::DateTime => Value::String(EXAMPLE_AT.into()),
        FieldType::Date => Value::String("2025-09-13".into()),
        FieldType::Uuid => Value::String(uuid_for(&format!("{}.{}", r.name, f.name))),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    /// `project_event`: the schema's file stem.
    pub name: String,
    /// `ProjectEvent`: the OpenAPI component and pydantic class.
    pub class: String,
    /// The resource whose changes it reports, if any.
    pub resource: Option<String>,
    /// The backlog item it belongs to.
    pub item: String,
    /// The `type` values it admits; empty = any dotted name.
    pub types: Vec<String>,
    /// The field naming the subject (`project_id`), used in the topic.
    pub key_field: Option<String>,
    /// MQTT topic template, e.g. `tracker/events/{project_id}`.
    pub topic: String,
}

impl EventType {
    pub fn schema_file(&self) -> String {
        format!("{}/{}.schema.json", paths::EVENT_SCHEMAS, self.name)
    }

    pub fn title(&self) -> String {
        format!("{} on {}", human(&self.name), self.topic)
    }

    /// The JSON Schema (draft 2020-12) of the event.
    pub fn schema(&self) -> Doc {
        let mut required = vec![Doc::from("event_id"), Doc::from("type")];
        if let Some(k) = &self.key_field {
            required.push(Doc::from(k.as_str()));
        }
        required.push(Doc::from("trace_id"));
        required.push(Doc::from("at"));
        let type_schema = if self.types.is_empty() {
            crate::doc!({ "type": "string", "pattern": EVENT_TYPE_PATTERN })
        } else {
            crate::doc!({ "enum": (self.types.clone()) })
        };
        let mut props = crate::doc!({
            "event_id": { "type": "string", "format": "uuid" },
            "type": type_schema
        });
        if let Some(k) = &self.key_field {
            props.insert(k.as_str(), crate::doc!({ "type": "string", "pattern": SLUG_PATTERN }));
        }
        props.insert("trace_id", crate::doc!({ "type": "string", "pattern": TRACE_ID_PATTERN }));
        props.insert("at", crate::doc!({ "type": "string", "format": "date-time" }));
        props.insert("changes", crate::doc!({ "type": "object", "minProperties": 1 }));
        crate::doc!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": (self.title()),
            "type": "object",
            "required": (Doc::Seq(required)),
            "additionalProperties": false,
            "properties": props
        })
    }

    /// One valid example per event type: `(file stem, event)`.
    pub fn examples(&self, model: &ServiceModel) -> Vec<(String, Value)> {
        let key_value = self
            .resource
            .as_deref()
            .and_then(|r| model.resource(r))
            .map(|r| r.example_id(&model.service))
            .unwrap_or_else(|| format!("{}-core", slug(&model.service.name)));
        let types = if self.types.is_empty() { vec![format!("{}.published", snake(&self.name))] } else { self.types.clone() };
        types
            .iter()
            .map(|t| {
                let mut m = serde_json::Map::new();
                m.insert("event_id".into(), Value::String(uuid_for(t)));
                m.insert("type".into(), Value::String(t.clone()));
                if let Some(k) = &self.key_field {
                    m.insert(k.clone(), Value::String(key_value.clone()));
                }
                m.insert("trace_id".into(), Value::String(hex32(t)));
                m.insert("at".into(), Value::String(EXAMPLE_AT.into()));
                if !t.ends_with(".deleted") {
                    let changes = self
                        .resource
                        .as_deref()
                        .and_then(|r| model.resource(r))
                        .map(|r| {
                            if t.ends_with(".updated") {
                                r.example_update(&model.service)
                            } else {
                                r.example_create(&model.service)
                            }
                        })
                        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                        .unwrap_or_else(|| json!({ "note": "example" }));
                    m.insert("changes".into(), changes);
                }
                (t.replace('.', "_"), Value::Object(m))
            })
            .collect()
    }

    /// The topic for a concrete event (placeholders filled from its fields).
    pub fn topic_placeholders(&self) -> Vec<String> {
        placeholders(&self.topic)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    pub fn upper(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub fn lower(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    pub fn mutating(self) -> bool {
        !matches!(self, Method::Get)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    List,
    Create,
    Get,
    Update,
    Delete,
    Publish,
    Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slo {
    pub latency_p95_ms: u32,
    /// Availability in basis points (9990 = 99.9 %).
    pub availability_bp: u32,
}

impl Slo {
    /// The latency objective in seconds, as Prometheus writes it (`0.5`).
    pub fn latency_seconds(&self) -> String {
        decimal(u64::from(self.latency_p95_ms), 3)
    }

    /// `99.9`.
    pub fn availability_percent(&self) -> String {
        decimal(u64::from(self.availability_bp), 2)
    }

    /// The error budget as a ratio (`0.001` for 99.9 %).
    pub fn error_budget(&self) -> String {
        decimal(u64::from(10_000 - self.availability_bp.min(10_000)), 4)
    }
}

/// `value / 10^scale` written without float noise: `decimal(500, 3)` = `0.5`.
pub fn decimal(value: u64, scale: u32) -> String {
    let div = 10u64.pow(scale);
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = scale as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub operation_id: String,
    pub method: Method,
    /// OpenAPI path template: `/api/v1/projects/{project_id}`.
    pub path: String,
    pub summary: String,
    pub description: String,
    /// The backlog item it implements.
    pub item: String,
    /// OpenAPI tag (the resource, or `events`, `observability`).
    pub tag: String,
    pub kind: EndpointKind,
    pub resource: Option<String>,
    /// Publish: the event types accepted; CRUD: the one it emits.
    pub events: Vec<String>,
    /// The success status code.
    pub success: u16,
    pub slo: Slo,
}

impl Endpoint {
    pub fn mutating(&self) -> bool {
        self.method.mutating()
    }

    /// `POST /api/v1/projects`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method.upper(), self.path)
    }

    /// The PromQL label matcher selecting this endpoint's series.
    pub fn selector(&self) -> String {
        format!("operation=\"{}\"", self.operation_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub help: String,
    pub labels: Vec<String>,
    /// Recorded per endpoint, labelled with its `operation`.
    pub per_endpoint: bool,
    /// Histogram buckets in milliseconds (exact), ascending.
    pub buckets_ms: Vec<u32>,
    /// The backlog item asking for it, if one does.
    pub item: Option<String>,
}

impl Metric {
    /// Bucket bounds as Prometheus writes them (`0.005`, `0.1`, `1`).
    pub fn buckets(&self) -> Vec<String> {
        self.buckets_ms.iter().map(|ms| decimal(u64::from(*ms), 3)).collect()
    }
}

impl ServiceModel {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    pub fn event(&self, name: &str) -> Option<&EventType> {
        self.events.iter().find(|e| e.name == name)
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The event type a dotted `type` value belongs to.
    pub fn event_for_type(&self, t: &str) -> Option<&EventType> {
        self.events.iter().find(|e| e.types.iter().any(|x| x == t))
    }

    /// `<prefix>_http_requests_total`.
    pub fn requests_metric(&self) -> String {
        format!("{}_http_requests_total", self.service.name)
    }

    /// `<prefix>_http_request_duration_seconds`.
    pub fn duration_metric(&self) -> String {
        format!("{}_http_request_duration_seconds", self.service.name)
    }

    /// `<prefix>_mqtt_publish_total`.
    pub fn publish_metric(&self) -> String {
        format!("{}_mqtt_publish_total", self.service.name)
    }

    /// Key order for examples: ids and types first, then the resources'
    /// fields, then event and bookkeeping fields (see [`Doc::from_json_ordered`]).
    pub fn key_order(&self) -> Vec<String> {
        let mut order: Vec<String> = ["id", "event_id", "type"].iter().map(|s| s.to_string()).collect();
        for e in &self.events {
            if let Some(k) = &e.key_field
                && !order.contains(k)
            {
                order.push(k.clone());
            }
        }
        for r in &self.resources {
            for f in &r.fields {
                if !order.contains(&f.name) {
                    order.push(f.name.clone());
                }
            }
        }
        for k in ["trace_id", "at", "changes", "topic", "created_at", "updated_at"] {
            if !order.iter().any(|o| o == k) {
                order.push(k.to_string());
            }
        }
        order
    }

    /// An example value as an ordered document.
    pub fn example_doc(&self, v: &Value) -> Doc {
        Doc::from_json_ordered(v, &self.key_order())
    }

    /// A compact description for tool outputs and logs.
    pub fn summary(&self) -> Value {
        json!({
            "backlog": self.source,
            "service": self.service.name,
            "resources": self.resources.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "endpoints": self.endpoints.iter().map(|e| format!("{} {}", e.label(), e.operation_id)).collect::<Vec<_>>(),
            "events": self.events.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
            "metrics": self.metrics.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        })
    }
}

// ---------------------------------------------------------------------------
// Loading

/// The run's service model: from `backlog` (a workspace path or an inline
/// object) if given, else from `backlog.json`/`.yaml`/`.yml` in the workspace.
pub fn load_model(backlog: Option<&Value>) -> Result<ServiceModel, ToolError> {
    let source = match backlog {
        Some(Value::Null) | None => match paths::BACKLOG_FILES.iter().find(|f| source::exists(f)) {
            Some(f) => Value::String((*f).to_string()),
            None => {
                return Err(ToolError::InvalidInput(
                    "backlog: no `backlog` input and no backlog.json, backlog.yaml or backlog.yml in the workspace"
                        .into(),
                ));
            }
        },
        Some(v) => v.clone(),
    };
    let (raw, name) = source::load::<RawBacklog>("backlog", &source)?;
    build(&name, raw).map_err(ToolError::InvalidInput)
}

/// Build the model from backlog text (for tests and gates).
pub fn model_from_text(name: &str, text: &str) -> Result<ServiceModel, String> {
    let format = source::format_of(name).unwrap_or(source::Format::Yaml);
    let raw: RawBacklog = source::decode(name, format, text)?;
    build(name, raw)
}

#[derive(Deserialize)]
struct RawBacklog {
    service: Option<RawService>,
    items: Option<Vec<RawItem>>,
}

#[derive(Deserialize)]
struct RawService {
    name: Option<String>,
    title: Option<String>,
    version: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct RawItem {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    priority: Option<Value>,
    resource: Option<String>,
    acceptance: Option<Vec<String>>,
    depends_on: Option<Vec<String>>,
    fields: Option<Vec<RawField>>,
    slo: Option<RawSlo>,
}

#[derive(Deserialize)]
struct RawField {
    name: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    required: Option<bool>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct RawSlo {
    latency_p95_ms: Option<u64>,
    availability: Option<f64>,
}

fn required(name: &str, field: &str, value: Option<String>) -> Result<String, String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Some(_) => Err(format!("{name}: {field} is empty")),
        None => Err(format!("{name}: {field} is missing")),
    }
}

fn priority(name: &str, field: &str, value: Option<Value>) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok("medium".into()),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            p @ ("high" | "medium" | "low") => Ok(p.to_string()),
            _ => Err(format!("{name}: {field} must be high, medium, low or a non-negative integer, got {s:?}")),
        },
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.to_string()),
        Some(other) => Err(format!("{name}: {field} must be high, medium, low or a non-negative integer, got {other}")),
    }
}

const RESERVED_FIELDS: [&str; 3] = ["id", "created_at", "updated_at"];

/// Python keywords and names a pydantic model field must not take.
const PYTHON_RESERVED: [&str; 38] = [
    "false", "none", "true", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
    "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    "model_config", "model_fields", "type",
];

fn identifier(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_lowercase())
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn build(name: &str, raw: RawBacklog) -> Result<ServiceModel, String> {
    let service = service_of(name, raw.service)?;
    let raw_items = raw.items.ok_or_else(|| format!("{name}: items is missing"))?;
    let Parsed { mut items, index_of, fields_of, slo_of } = parse_items(name, raw_items)?;
    let mut slos = Vec::with_capacity(items.len());
    for (i, raw) in slo_of.into_iter().enumerate() {
        slos.push(match raw {
            None => None,
            Some(s) => Some(parse_slo(name, i, s)?),
        });
    }

    let texts: Vec<ItemText> = items.iter().map(ItemText::of).collect();
    for (i, item) in items.iter_mut().enumerate() {
        item.kind = classify(item, &texts[i]);
    }
    let api_prefix = texts
        .iter()
        .flat_map(|t| t.endpoints.iter())
        .find_map(|(_, p)| api_prefix_of(p))
        .unwrap_or_else(|| "/api/v1".to_string());
    let service = Service { api_prefix, ..service };

    let mut notes = Vec::new();
    let resources = resources_of(&service, &mut items, &fields_of, &mut notes);
    let mut events = resource_events(&service, &items, &texts, &resources);
    let mut endpoints = crud_endpoints(&resources, &index_of, &slos);
    let cx = ItemCx { service: &service, items: &items, texts: &texts, index_of: &index_of, slos: &slos };
    item_endpoints(&cx, &mut events, &mut endpoints, &mut notes);
    check_unique(name, &endpoints)?;
    let metrics = metrics_of(&service, &items, &endpoints, !events.is_empty());
    for item in &items {
        if item.kind == ItemKind::Other {
            notes.push(format!(
                "items[{}] (`{}`): no resource, endpoint, metric or contract recognised; documented only",
                item.index, item.id
            ));
        }
    }

    Ok(ServiceModel { source: name.to_string(), service, items, resources, events, endpoints, metrics, notes })
}

/// The backlog's `service`, or the default one (its `api_prefix` comes later).
fn service_of(name: &str, raw: Option<RawService>) -> Result<Service, String> {
    Ok(match raw {
        Some(s) => {
            let svc_name = match s.name {
                Some(n) => {
                    let n2 = snake(&n);
                    if !identifier(&n2) {
                        return Err(format!("{name}: service.name `{n}` must start with a letter"));
                    }
                    n2
                }
                None => "taylordash".to_string(),
            };
            Service {
                title: s.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| default_title(&svc_name)),
                version: s.version.filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "0.1.0".into()),
                description: s.description.unwrap_or_default(),
                name: svc_name,
                api_prefix: String::new(),
            }
        }
        None => Service {
            name: "taylordash".into(),
            title: "TaylorDash".into(),
            version: "0.1.0".into(),
            description: String::new(),
            api_prefix: String::new(),
        },
    })
}

/// The items as parsed, before classification, with what each declared.
struct Parsed {
    items: Vec<Item>,
    index_of: BTreeMap<String, usize>,
    fields_of: Vec<Option<Vec<Field>>>,
    slo_of: Vec<Option<RawSlo>>,
}

/// Items, validated as the planner validates them: ids, titles, resources,
/// acceptance, fields, known and acyclic dependencies.
fn parse_items(name: &str, raw_items: Vec<RawItem>) -> Result<Parsed, String> {
    let mut items = Vec::with_capacity(raw_items.len());
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut fields_of: Vec<Option<Vec<Field>>> = Vec::new();
    let mut slo_of: Vec<Option<RawSlo>> = Vec::new();
    for (i, r) in raw_items.into_iter().enumerate() {
        let id = required(name, &format!("items[{i}].id"), r.id)?;
        let title = required(name, &format!("items[{i}].title"), r.title)?;
        if let Some(first) = index_of.get(&id) {
            return Err(format!("{name}: items[{i}].id `{id}` duplicates items[{first}].id"));
        }
        index_of.insert(id.clone(), i);
        let priority = priority(name, &format!("items[{i}].priority"), r.priority)?;
        let resource = match r.resource.filter(|s| !s.trim().is_empty()) {
            Some(res) => {
                let s = snake(&res);
                if !identifier(&s) {
                    return Err(format!(
                        "{name}: items[{i}].resource `{res}` must be a name starting with a letter (e.g. `projects`)"
                    ));
                }
                Some(s)
            }
            None => None,
        };
        let mut acceptance = Vec::new();
        for (j, a) in r.acceptance.unwrap_or_default().into_iter().enumerate() {
            acceptance.push(required(name, &format!("items[{i}].acceptance[{j}]"), Some(a))?);
        }
        fields_of.push(match r.fields {
            Some(raw_fields) => Some(parse_fields(name, i, raw_fields)?),
            None => None,
        });
        slo_of.push(r.slo);
        items.push(Item {
            index: i,
            id,
            title,
            description: r.description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty()),
            priority,
            resource,
            acceptance,
            depends_on: r.depends_on.unwrap_or_default(),
            kind: ItemKind::Other,
        });
    }
    for item in &items {
        for (j, dep) in item.depends_on.iter().enumerate() {
            if !index_of.contains_key(dep) {
                return Err(format!("{name}: items[{}].depends_on[{j}]: unknown item `{dep}`", item.index));
            }
        }
    }
    check_acyclic(name, &items, &index_of)?;
    Ok(Parsed { items, index_of, fields_of, slo_of })
}

/// Resources (CRUD items), one per resource name; a second item naming the
/// same resource is noted and documented only.
fn resources_of(service: &Service, items: &mut [Item], fields_of: &[Option<Vec<Field>>], notes: &mut Vec<String>) -> Vec<Resource> {
    let mut resources: Vec<Resource> = Vec::new();
    for (i, item) in items.iter_mut().enumerate() {
        if item.kind != ItemKind::Crud {
            continue;
        }
        let Some(res) = item.resource.clone() else { continue };
        if let Some(existing) = resources.iter().find(|r| r.name == res) {
            notes.push(format!(
                "items[{i}] (`{}`) names resource `{res}`, already served by `{}`: no second router",
                item.id, existing.item
            ));
            item.kind = ItemKind::Other;
            continue;
        }
        let singular = {
            let s = singular(&res);
            if s == res { format!("{res}_item") } else { s }
        };
        let fields = fields_of[i].clone().unwrap_or_else(|| default_fields(&singular));
        resources.push(Resource {
            item: item.id.clone(),
            class: pascal(&singular),
            id_param: format!("{singular}_id"),
            path: format!("{}/{}", service.api_prefix, res.replace('_', "-")),
            event: format!("{singular}_event"),
            name: res,
            singular,
            fields,
        });
    }
    resources
}

/// Event types: one per resource, topics from the publishing items.
fn resource_events(service: &Service, items: &[Item], texts: &[ItemText], resources: &[Resource]) -> Vec<EventType> {
    let topics: Vec<String> = items
        .iter()
        .zip(texts)
        .filter(|(item, _)| item.kind == ItemKind::EventIngest)
        .flat_map(|(_, t)| t.topics.clone())
        .collect();
    resources
        .iter()
        .map(|r| {
            let key = r.id_param.clone();
            let topic = topics
                .iter()
                .find(|t| {
                    let ph = placeholders(t);
                    ph.contains(&key) && ph.iter().all(|p| *p == key)
                })
                .cloned()
                .unwrap_or_else(|| format!("{}/{}/{{{key}}}/events", service.name, r.name));
            EventType {
                name: r.event.clone(),
                class: pascal(&r.event),
                resource: Some(r.name.clone()),
                item: r.item.clone(),
                types: ["created", "updated", "deleted"].iter().map(|v| format!("{}.{v}", r.singular)).collect(),
                key_field: Some(key),
                topic,
            }
        })
        .collect()
}

/// The five CRUD endpoints of each resource.
fn crud_endpoints(resources: &[Resource], index_of: &BTreeMap<String, usize>, slos: &[Option<Slo>]) -> Vec<Endpoint> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for r in resources {
        let item_index = index_of.get(&r.item).copied().unwrap_or(0);
        let slo = slos.get(item_index).copied().flatten();
        let one = format!("{}/{{{}}}", r.path, r.id_param);
        let label = r.singular.replace('_', " ");
        let plural = r.name.replace('_', " ");
        let specs = [
            (EndpointKind::List, Method::Get, r.path.clone(), format!("list_{}", r.name), format!("List {plural}"), 200, None),
            (EndpointKind::Create, Method::Post, r.path.clone(), format!("create_{}", r.singular), format!("Create a {label}"), 201, Some("created")),
            (EndpointKind::Get, Method::Get, one.clone(), format!("get_{}", r.singular), format!("Get a {label}"), 200, None),
            (EndpointKind::Update, Method::Patch, one.clone(), format!("update_{}", r.singular), format!("Update a {label}"), 200, Some("updated")),
            (EndpointKind::Delete, Method::Delete, one, format!("delete_{}", r.singular), format!("Delete a {label}"), 204, Some("deleted")),
        ];
        for (kind, method, path, op, summary, success, event) in specs {
            endpoints.push(Endpoint {
                description: endpoint_description(kind, &label, &plural, event.map(|e| format!("{}.{e}", r.singular))),
                operation_id: op,
                method,
                path,
                summary,
                item: r.item.clone(),
                tag: r.name.clone(),
                kind,
                resource: Some(r.name.clone()),
                events: event.map(|e| vec![format!("{}.{e}", r.singular)]).unwrap_or_default(),
                success,
                slo: slo.unwrap_or_else(|| default_slo(kind)),
            });
        }
    }
    endpoints
}

/// What [`item_endpoints`] reads of the model being built.
struct ItemCx<'a> {
    service: &'a Service,
    items: &'a [Item],
    texts: &'a [ItemText],
    index_of: &'a BTreeMap<String, usize>,
    slos: &'a [Option<Slo>],
}

/// The endpoints items declare in their text: event publishing (adding a
/// generic event type when the item publishes nothing known yet) and metrics.
fn item_endpoints(cx: &ItemCx<'_>, events: &mut Vec<EventType>, endpoints: &mut Vec<Endpoint>, notes: &mut Vec<String>) {
    let ItemCx { service, items, texts, index_of, slos } = *cx;
    for (i, item) in items.iter().enumerate() {
        let text = &texts[i];
        let slo = slos[i];
        match item.kind {
            ItemKind::EventIngest => {
                let accepted = accepted_events(item, items, index_of, events);
                if accepted.is_empty() && events.iter().all(|e| e.item != item.id) {
                    // Nothing to publish yet: a generic event for this item.
                    let key = text.topics.first().and_then(|t| placeholders(t).into_iter().next());
                    let name_ = format!("{}_event", service.name);
                    events.push(EventType {
                        class: pascal(&name_),
                        topic: text
                            .topics
                            .first()
                            .cloned()
                            .unwrap_or_else(|| format!("{}/events", service.name)),
                        name: name_,
                        resource: None,
                        item: item.id.clone(),
                        types: Vec::new(),
                        key_field: key,
                    });
                }
                let accepted = if accepted.is_empty() {
                    events.iter().filter(|e| e.item == item.id).map(|e| e.name.clone()).collect()
                } else {
                    accepted
                };
                let base = singular(item.resource.as_deref().unwrap_or("event"));
                let mut n = 0;
                for (method, path) in &text.endpoints {
                    if *method != Method::Post {
                        notes.push(format!(
                            "items[{i}] (`{}`) names `{} {path}`: only POST publishes events; left out",
                            item.id,
                            method.upper()
                        ));
                        continue;
                    }
                    n += 1;
                    let op = if n == 1 { format!("publish_{base}") } else { format!("publish_{base}_{n}") };
                    let types: Vec<String> = accepted
                        .iter()
                        .filter_map(|a| events.iter().find(|e| &e.name == a))
                        .map(|e| e.name.clone())
                        .collect();
                    endpoints.push(Endpoint {
                        operation_id: op,
                        method: *method,
                        path: path.clone(),
                        summary: item.title.clone(),
                        description: format!(
                            "Validates an event against its JSON Schema ({}) and publishes it to MQTT ({}) with its trace_id.",
                            types.join(", "),
                            types
                                .iter()
                                .filter_map(|t| events.iter().find(|e| &e.name == t))
                                .map(|e| format!("`{}`", e.topic))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        item: item.id.clone(),
                        tag: item.resource.clone().unwrap_or_else(|| "events".into()),
                        kind: EndpointKind::Publish,
                        resource: None,
                        events: types,
                        success: 202,
                        slo: slo.unwrap_or_else(|| default_slo(EndpointKind::Publish)),
                    });
                }
            }
            ItemKind::Metrics => {
                let path = text.paths.first().cloned().unwrap_or_else(|| "/metrics".to_string());
                endpoints.push(Endpoint {
                    operation_id: format!("get_{}", snake(path.trim_start_matches('/')).if_empty("metrics")),
                    method: Method::Get,
                    path,
                    summary: item.title.clone(),
                    description: "Prometheus text exposition of the service's metrics.".into(),
                    item: item.id.clone(),
                    tag: "observability".into(),
                    kind: EndpointKind::Metrics,
                    resource: None,
                    events: Vec::new(),
                    success: 200,
                    slo: slo.unwrap_or_else(|| default_slo(EndpointKind::Metrics)),
                });
            }
            _ => {}
        }
    }
}

/// Operation ids and routes are unique across items.
fn check_unique(name: &str, endpoints: &[Endpoint]) -> Result<(), String> {
    let mut seen_ops: BTreeMap<String, String> = BTreeMap::new();
    let mut seen_routes: BTreeMap<(Method, String), String> = BTreeMap::new();
    for e in endpoints {
        if let Some(other) = seen_ops.insert(e.operation_id.clone(), e.item.clone()) {
            return Err(format!(
                "{name}: items `{other}` and `{}` both define operation `{}`",
                e.item, e.operation_id
            ));
        }
        if let Some(other) = seen_routes.insert((e.method, e.path.clone()), e.item.clone()) {
            return Err(format!("{name}: items `{other}` and `{}` both define `{}`", e.item, e.label()));
        }
    }
    Ok(())
}

/// The request counter and latency histogram (buckets include every SLO),
/// and the MQTT publish counter when there are events.
fn metrics_of(service: &Service, items: &[Item], endpoints: &[Endpoint], has_events: bool) -> Vec<Metric> {
    let metrics_item = items.iter().find(|i| i.kind == ItemKind::Metrics).map(|i| i.id.clone());
    let mut buckets: BTreeSet<u32> = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000].into_iter().collect();
    buckets.extend(endpoints.iter().map(|e| e.slo.latency_p95_ms));
    let mut metrics = vec![
        Metric {
            name: format!("{}_http_requests_total", service.name),
            kind: MetricKind::Counter,
            help: "HTTP requests by operation, method, route and status code.".into(),
            labels: vec!["operation".into(), "method".into(), "route".into(), "status".into()],
            per_endpoint: true,
            buckets_ms: Vec::new(),
            item: metrics_item.clone(),
        },
        Metric {
            name: format!("{}_http_request_duration_seconds", service.name),
            kind: MetricKind::Histogram,
            help: "HTTP request latency in seconds by operation, method and route.".into(),
            labels: vec!["operation".into(), "method".into(), "route".into()],
            per_endpoint: true,
            buckets_ms: buckets.into_iter().collect(),
            item: metrics_item.clone(),
        },
    ];
    if has_events {
        metrics.push(Metric {
            name: format!("{}_mqtt_publish_total", service.name),
            kind: MetricKind::Counter,
            help: "MQTT publishes by event type and result (ok, error).".into(),
            labels: vec!["event_type".into(), "result".into()],
            per_endpoint: false,
            buckets_ms: Vec::new(),
            item: metrics_item,
        });
    }
    metrics
}

trait IfEmpty {
    fn if_empty(self, default: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, default: &str) -> String {
        if self.is_empty() { default.to_string() } else { self }
    }
}

fn default_title(name: &str) -> String {
    if name == "taylordash" { "TaylorDash".to_string() } else { human(name) }
}

fn default_fields(singular: &str) -> Vec<Field> {
    let label = singular.replace('_', " ");
    vec![
        Field {
            name: "name".into(),
            ty: FieldType::String,
            required: true,
            description: format!("Human-readable name of the {label}."),
            max_length: Some(200),
        },
        Field {
            name: "description".into(),
            ty: FieldType::String,
            required: false,
            description: format!("What the {label} is about."),
            max_length: Some(2000),
        },
    ]
}

fn parse_fields(name: &str, i: usize, raw: Vec<RawField>) -> Result<Vec<Field>, String> {
    let mut out: Vec<Field> = Vec::new();
    for (j, f) in raw.into_iter().enumerate() {
        let at = format!("items[{i}].fields[{j}]");
        let fname = required(name, &format!("{at}.name"), f.name)?;
        if !identifier(&fname) {
            return Err(format!("{name}: {at}.name `{fname}` must be snake_case (a-z, 0-9, _), starting with a letter"));
        }
        if RESERVED_FIELDS.contains(&fname.as_str()) || PYTHON_RESERVED.contains(&fname.as_str()) {
            return Err(format!("{name}: {at}.name `{fname}` is reserved"));
        }
        if out.iter().any(|o| o.name == fname) {
            return Err(format!("{name}: {at}.name `{fname}` is declared twice"));
        }
        let ty_text = f.ty.unwrap_or_else(|| "string".into());
        let ty = FieldType::parse(&ty_text).ok_or_else(|| {
            format!(
                "{name}: {at}.type `{ty_text}` is not one of string, integer, number, boolean, date-time, date, uuid"
            )
        })?;
        let required = f.required.unwrap_or(false);
        out.push(Field {
            description: f.description.unwrap_or_else(|| human(&fname) + "."),
            max_length: (ty == FieldType::String).then_some(if required { 200 } else { 2000 }),
            name: fname,
            ty,
            required,
        });
    }
    if out.is_empty() {
        return Err(format!("{name}: items[{i}].fields is empty"));
    }
    Ok(out)
}

fn parse_slo(name: &str, i: usize, raw: RawSlo) -> Result<Slo, String> {
    let latency = raw.latency_p95_ms.unwrap_or(500);
    if !(1..=60_000).contains(&latency) {
        return Err(format!("{name}: items[{i}].slo.latency_p95_ms must be 1 to 60000, got {latency}"));
    }
    let availability = raw.availability.unwrap_or(99.9);
    let bp = (availability * 100.0).round();
    if !(availability > 0.0 && availability < 100.0 && (1.0..=9999.0).contains(&bp)) {
        return Err(format!(
            "{name}: items[{i}].slo.availability must be a percentage above 0 and below 100, got {availability}"
        ));
    }
    Ok(Slo { latency_p95_ms: latency as u32, availability_bp: bp as u32 })
}

fn default_slo(kind: EndpointKind) -> Slo {
    let latency_p95_ms = match kind {
        EndpointKind::List | EndpointKind::Get | EndpointKind::Metrics => 250,
        EndpointKind::Create | EndpointKind::Update | EndpointKind::Delete => 500,
        // The seed's event-driven coordination target: < 100 ms P95.
        EndpointKind::Publish => 100,
    };
    Slo { latency_p95_ms, availability_bp: 9990 }
}

fn endpoint_description(kind: EndpointKind, label: &str, plural: &str, event: Option<String>) -> String {
    let base = match kind {
        EndpointKind::List => format!("Every {label}, oldest first."),
        EndpointKind::Create => format!("Stores a new {label}; its id is the slug of its name unless given."),
        EndpointKind::Get => format!("One {label} by id."),
        EndpointKind::Update => format!("Changes the given fields of a {label}."),
        EndpointKind::Delete => format!("Removes a {label}."),
        _ => format!("{plural}."),
    };
    match event {
        Some(e) => format!("{base} Publishes `{e}`."),
        None => base,
    }
}

/// Dependency cycles are the planner's to report; the model refuses them too.
fn check_acyclic(name: &str, items: &[Item], index_of: &BTreeMap<String, usize>) -> Result<(), String> {
    let n = items.len();
    let mut state = vec![0u8; n];
    fn visit(
        i: usize,
        items: &[Item],
        index_of: &BTreeMap<String, usize>,
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        path.push(i);
        for dep in &items[i].depends_on {
            let Some(&d) = index_of.get(dep) else { continue };
            if state[d] == 1 {
                let start = path.iter().position(|&p| p == d).unwrap_or(0);
                return Some(path[start..].to_vec());
            }
            if state[d] == 0
                && let Some(c) = visit(d, items, index_of, state, path)
            {
                return Some(c);
            }
        }
        path.pop();
        state[i] = 2;
        None
    }
    for i in 0..n {
        if state[i] == 0 {
            let mut path = Vec::new();
            if let Some(cycle) = visit(i, items, index_of, &mut state, &mut path) {
                let mut names: Vec<&str> = cycle.iter().map(|&c| items[c].id.as_str()).collect();
                names.push(items[cycle[0]].id.as_str());
                return Err(format!("{name}: dependency cycle {} (each item depends on the next)", names.join(" -> ")));
            }
        }
    }
    Ok(())
}

/// What an item's text says: its words, `METHOD /path` pairs, `/paths`
/// and MQTT topic templates.
struct ItemText {
    words: BTreeSet<String>,
    endpoints: Vec<(Method, String)>,
    paths: Vec<String>,
    topics: Vec<String>,
}

impl ItemText {
    fn of(item: &Item) -> ItemText {
        let text = format!("{} {} {}", item.id, item.title, item.description.as_deref().unwrap_or(""));
        let words = text
            .to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        let description = item.description.as_deref().unwrap_or("");
        let tokens: Vec<&str> = description
            .split_whitespace()
            .map(|t| t.trim_matches(|c: char| ",.;:()[]\"'`".contains(c)))
            .filter(|t| !t.is_empty())
            .collect();
        let path_like =
            |t: &str| t.starts_with('/') && t.len() > 1 && t.chars().all(|c| c.is_ascii_alphanumeric() || "/_-{}.".contains(c));
        let mut endpoints = Vec::new();
        for w in tokens.windows(2) {
            if let Some(m) = Method::parse(w[0])
                && path_like(w[1])
            {
                endpoints.push((m, w[1].to_string()));
            }
        }
        let paths = tokens.iter().filter(|t| path_like(t)).map(|t| t.to_string()).collect();
        let topics = tokens
            .iter()
            .filter(|t| {
                !t.starts_with('/')
                    && !t.contains("://")
                    && t.matches('/').count() >= 1
                    && t.split('/').all(|seg| !seg.is_empty())
                    && t.chars().all(|c| c.is_ascii_alphanumeric() || "/_-{}+#".contains(c))
            })
            .map(|t| t.to_string())
            .collect();
        ItemText { words, endpoints, paths, topics }
    }

    fn has(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.words.contains(*w))
    }
}

fn classify(item: &Item, t: &ItemText) -> ItemKind {
    let publishes = t.has(&["mqtt", "publish", "publishes", "publishing", "event", "events"]);
    if !t.endpoints.is_empty() && publishes && t.endpoints.iter().any(|(m, _)| *m == Method::Post) {
        return ItemKind::EventIngest;
    }
    if t.has(&["metrics", "metric", "prometheus"]) {
        return ItemKind::Metrics;
    }
    if t.has(&["schema", "schemas", "contract", "contracts"]) && t.endpoints.is_empty() {
        return ItemKind::Contracts;
    }
    if item.resource.is_some() {
        return ItemKind::Crud;
    }
    if t.has(&["docs", "doc", "documentation", "mkdocs", "reference", "readme"]) {
        return ItemKind::Docs;
    }
    ItemKind::Other
}

/// `/api/v1/events` → `/api/v1`.
fn api_prefix_of(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segs.len() >= 2 && segs[0] == "api" && segs[1].starts_with('v') && segs[1][1..].chars().all(|c| c.is_ascii_digit()) {
        Some(format!("/api/{}", segs[1]))
    } else {
        None
    }
}

/// `tracker/events/{project_id}` → `["project_id"]`.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// The events a publishing item accepts: those of the CRUD resources it
/// depends on (transitively); if none, every resource's.
fn accepted_events(item: &Item, items: &[Item], index_of: &BTreeMap<String, usize>, events: &[EventType]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = item.depends_on.clone();
    let mut deps = BTreeSet::new();
    while let Some(d) = stack.pop() {
        if seen.insert(d.clone())
            && let Some(&i) = index_of.get(&d)
        {
            deps.insert(items[i].id.clone());
            stack.extend(items[i].depends_on.iter().cloned());
        }
    }
    let from_deps: Vec<String> = events.iter().filter(|e| deps.contains(&e.item)).map(|e| e.name.clone()).collect();
    if from_deps.is_empty() {
        events.iter().filter(|e| e.resource.is_some()).map(|e| e.name.clone()).collect()
    } else {
        from_deps
    }
}
