//! `openapi_gen`: the API and event contracts of the service the backlog
//! describes — the `architecture_contracts` agent's first tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes:
//!
//! - `openapi.yaml`: an OpenAPI 3.1.0 document with one operation per
//!   endpoint (CRUD per resource, event publishing, metrics), request and
//!   response schemas under `components.schemas`, request and response
//!   examples, and a `bearerAuth` security requirement on every mutating
//!   operation;
//! - `schemas/events/<event>.schema.json`: a JSON Schema (2020-12) per event
//!   type published on MQTT, the same schema `components.schemas` embeds;
//! - `schemas/events/examples/<type>.json`: one valid example per event type.
//!
//! Returns the operations, the files and the model summary. The same
//! backlog always gives byte-identical files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{
    GenInput, Doc, EndpointKind, EventType, Resource, ServiceModel, doc, paths, source::Out,
};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenapiGenOutput {
    /// The OpenAPI document's path.
    pub openapi: String,
    /// `METHOD path operationId`, in document order.
    pub operations: Vec<String>,
    /// The event JSON Schema files.
    pub event_schemas: Vec<String>,
    /// The event example files.
    pub event_examples: Vec<String>,
    /// Every file written into the out dir.
    pub files: Vec<String>,
    /// The service model the files came from.
    pub model: Value,
}

pub struct OpenapiGen;

impl Tool for OpenapiGen {
    const NAME: &'static str = "openapi_gen";
    const DESCRIPTION: &'static str = "Generates openapi.yaml (OpenAPI 3.1) and the event JSON Schemas with examples \
         from the run's backlog.";
    type Input = GenInput;
    type Output = OpenapiGenOutput;

    fn run(input: GenInput, cx: &Context) -> Result<OpenapiGenOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let mut out = Out::new();

        let document = openapi(&model);
        out.write(paths::OPENAPI, &document.to_yaml_text())?;
        let mut event_schemas = Vec::new();
        let mut event_examples = Vec::new();
        for event in &model.events {
            out.write(&event.schema_file(), &event.schema().to_json_text())?;
            event_schemas.push(event.schema_file());
            for (stem, example) in event.examples(&model) {
                let path = format!("{}/{stem}.json", paths::EVENT_EXAMPLES);
                out.write(&path, &model.example_doc(&example).to_json_text())?;
                event_examples.push(path);
            }
        }
        let operations: Vec<String> =
            model.endpoints.iter().map(|e| format!("{} {}", e.label(), e.operation_id)).collect();
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{}: {} operation(s), {} event schema(s), {} example(s) from {}",
                paths::OPENAPI,
                operations.len(),
                event_schemas.len(),
                event_examples.len(),
                model.source
            ),
        );
        Ok(OpenapiGenOutput {
            openapi: paths::OPENAPI.to_string(),
            operations,
            event_schemas,
            event_examples,
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(OpenapiGen);

// ---------------------------------------------------------------------------
// The document

fn schema_ref(name: &str) -> Doc {
    doc!({ "$ref": (format!("#/components/schemas/{name}")) })
}

fn json_content(schema: Doc, example: Option<Doc>) -> Doc {
    let mut media = doc!({ "schema": schema });
    if let Some(ex) = example {
        media.insert("example", ex);
    }
    doc!({ "application/json": media })
}

fn error_response(description: &str) -> Doc {
    doc!({ "description": description, "content": (json_content(schema_ref("Error"), None)) })
}

/// The OpenAPI 3.1 document of the model.
pub fn openapi(model: &ServiceModel) -> Doc {
    let svc = &model.service;
    let mut tags = Doc::Seq(Vec::new());
    let mut seen_tags = Vec::new();
    for e in &model.endpoints {
        if !seen_tags.contains(&e.tag) {
            seen_tags.push(e.tag.clone());
            let title = model.item(&e.item).map(|i| i.title.clone()).unwrap_or_default();
            tags.push(doc!({ "name": (e.tag.as_str()), "description": title }));
        }
    }

    let mut paths_doc = Doc::map();
    let mut order: Vec<String> = Vec::new();
    for e in &model.endpoints {
        if !order.contains(&e.path) {
            order.push(e.path.clone());
        }
    }
    for path in &order {
        let mut item = Doc::map();
        let params = service_model::model::placeholders(path);
        if !params.is_empty() {
            let resource = model.endpoints.iter().find(|e| &e.path == path).and_then(|e| e.resource.clone());
            let list: Vec<Doc> = params
                .iter()
                .map(|p| {
                    let what = resource
                        .as_deref()
                        .and_then(|r| model.resource(r))
                        .map(|r| format!("The {}'s id (a slug).", r.singular.replace('_', " ")))
                        .unwrap_or_else(|| "An id (a slug).".into());
                    doc!({
                        "name": (p.as_str()),
                        "in": "path",
                        "required": true,
                        "description": what,
                        "schema": { "type": "string", "pattern": (service_model::model::SLUG_PATTERN) }
                    })
                })
                .collect();
            item.insert("parameters", Doc::Seq(list));
        }
        for e in model.endpoints.iter().filter(|e| &e.path == path) {
            item.insert(e.method.lower(), operation(model, e));
        }
        paths_doc.insert(path.as_str(), item);
    }

    let mut schemas = Doc::map();
    for r in &model.resources {
        schemas.insert(r.class.as_str(), resource_schema(r));
        schemas.insert(format!("{}Create", r.class), create_schema(r));
        schemas.insert(format!("{}Update", r.class), update_schema(r));
    }
    for ev in &model.events {
        schemas.insert(ev.class.as_str(), component_of_event(ev));
    }
    if model.endpoints.iter().any(|e| e.kind == EndpointKind::Publish) {
        schemas.insert(
            "PublishReceipt",
            doc!({
                "type": "object",
                "description": "What the service published.",
                "required": ["event_id", "type", "topic"],
                "properties": {
                    "event_id": { "type": "string", "format": "uuid" },
                    "type": { "type": "string" },
                    "topic": { "type": "string", "description": "The concrete MQTT topic." }
                }
            }),
        );
    }
    schemas.insert(
        "Error",
        doc!({
            "type": "object",
            "description": "An error: a message, or the list of validation errors.",
            "required": ["detail"],
            "properties": {
                "detail": { "anyOf": [ { "type": "string" }, { "type": "array", "items": { "type": "object" } } ] }
            }
        }),
    );

    let mut description = format!("Generated by openapi_gen from `{}`.", model.source);
    if !svc.description.is_empty() {
        description = format!("{} {description}", svc.description);
    }
    doc!({
        "openapi": "3.1.0",
        "info": {
            "title": (format!("{} API", svc.title)),
            "version": (svc.version.as_str()),
            "description": description
        },
        "tags": tags,
        "paths": paths_doc,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Mutating operations require `Authorization: Bearer <token>`."
                }
            },
            "schemas": schemas
        }
    })
}

fn operation(model: &ServiceModel, e: &service_model::Endpoint) -> Doc {
    let svc = &model.service;
    let ex = |v: Value| Some(model.example_doc(&v));
    let resource = e.resource.as_deref().and_then(|r| model.resource(r));
    let mut op = doc!({
        "operationId": (e.operation_id.as_str()),
        "summary": (e.summary.as_str()),
        "description": (e.description.as_str()),
        "tags": [(e.tag.as_str())]
    });
    if e.mutating() {
        op.insert("security", doc!([{ "bearerAuth": [] }]));
    }
    let mut responses = Doc::map();
    let status = e.success.to_string();
    match (e.kind, resource) {
        (EndpointKind::List, Some(r)) => {
            responses.insert(
                status,
                doc!({
                    "description": (format!("The {}.", r.name.replace('_', " "))),
                    "content": (json_content(
                        doc!({ "type": "array", "items": (schema_ref(&r.class)) }),
                        ex(Value::Array(vec![r.example_item(svc)])),
                    ))
                }),
            );
        }
        (EndpointKind::Create, Some(r)) => {
            op.insert(
                "requestBody",
                doc!({ "required": true, "content": (json_content(schema_ref(&format!("{}Create", r.class)), ex(r.example_create(svc)))) }),
            );
            responses.insert(
                status,
                doc!({ "description": "Created.", "content": (json_content(schema_ref(&r.class), ex(r.example_item(svc)))) }),
            );
            responses.insert("401", error_response("Missing or wrong bearer token."));
            responses.insert("409", error_response("The id is taken."));
            responses.insert("422", error_response("The body does not match the schema."));
        }
        (EndpointKind::Get, Some(r)) => {
            responses.insert(
                status,
                doc!({ "description": (format!("The {}.", r.singular.replace('_', " "))), "content": (json_content(schema_ref(&r.class), ex(r.example_item(svc)))) }),
            );
            responses.insert("404", error_response("No such id."));
        }
        (EndpointKind::Update, Some(r)) => {
            let mut updated = r.example_item(svc);
            if let (Value::Object(u), Value::Object(changes)) = (&mut updated, r.example_update(svc)) {
                u.extend(changes);
            }
            op.insert(
                "requestBody",
                doc!({ "required": true, "content": (json_content(schema_ref(&format!("{}Update", r.class)), ex(r.example_update(svc)))) }),
            );
            responses.insert(status, doc!({ "description": "Updated.", "content": (json_content(schema_ref(&r.class), ex(updated))) }));
            responses.insert("401", error_response("Missing or wrong bearer token."));
            responses.insert("404", error_response("No such id."));
            responses.insert("422", error_response("The body does not match the schema."));
        }
        (EndpointKind::Delete, Some(_)) => {
            responses.insert(status, doc!({ "description": "Deleted." }));
            responses.insert("401", error_response("Missing or wrong bearer token."));
            responses.insert("404", error_response("No such id."));
        }
        (EndpointKind::Publish, _) => {
            let events: Vec<&EventType> = e.events.iter().filter_map(|n| model.event(n)).collect();
            let body_schema = match events.as_slice() {
                [one] => schema_ref(&one.class),
                many => Doc::map().with("oneOf", Doc::Seq(many.iter().map(|ev| schema_ref(&ev.class)).collect())),
            };
            let example = events.first().and_then(|ev| ev.examples(model).into_iter().next());
            let receipt = match (events.first(), &example) {
                (Some(ev), Some((_, ex))) => Some(serde_json::json!({
                    "event_id": ex["event_id"],
                    "type": ex["type"],
                    "topic": concrete_topic(&ev.topic, ex),
                })),
                _ => None,
            };
            op.insert(
                "requestBody",
                doc!({ "required": true, "content": (json_content(body_schema, example.map(|(_, v)| model.example_doc(&v)))) }),
            );
            responses.insert(
                status,
                doc!({ "description": "Validated and published.", "content": (json_content(schema_ref("PublishReceipt"), receipt.map(|v| model.example_doc(&v)))) }),
            );
            responses.insert("401", error_response("Missing or wrong bearer token."));
            responses.insert("422", error_response("The event does not match its schema (e.g. no trace_id)."));
            responses.insert("503", error_response("The MQTT broker did not accept the event."));
        }
        (EndpointKind::Metrics, _) => {
            responses.insert(
                status,
                doc!({
                    "description": "Prometheus text exposition format 0.0.4.",
                    "content": { "text/plain": {
                        "schema": { "type": "string" },
                        "example": (format!("# HELP {0} {1}\n# TYPE {0} counter\n", model.requests_metric(), model.metrics[0].help))
                    } }
                }),
            );
        }
        _ => {
            responses.insert(status, doc!({ "description": "OK." }));
        }
    }
    op.insert("responses", responses);
    op
}

/// `tracker/events/{project_id}` with the example's `project_id`.
pub fn concrete_topic(template: &str, event: &Value) -> String {
    let mut topic = template.to_string();
    for p in service_model::model::placeholders(template) {
        let v = event.get(&p).and_then(Value::as_str).unwrap_or("unknown");
        topic = topic.replace(&format!("{{{p}}}"), v);
    }
    topic
}

fn resource_schema(r: &Resource) -> Doc {
    let mut required = vec![Doc::from("id")];
    let mut props = doc!({
        "id": { "type": "string", "pattern": (service_model::model::SLUG_PATTERN), "description": "The id: a slug." }
    });
    for f in &r.fields {
        if f.required {
            required.push(Doc::from(f.name.as_str()));
            props.insert(f.name.as_str(), f.schema());
        } else {
            props.insert(f.name.as_str(), nullable(f.schema()));
        }
    }
    required.push(Doc::from("created_at"));
    required.push(Doc::from("updated_at"));
    props.insert("created_at", doc!({ "type": "string", "format": "date-time" }));
    props.insert("updated_at", doc!({ "type": "string", "format": "date-time" }));
    doc!({
        "type": "object",
        "description": (format!("A stored {}.", r.singular.replace('_', " "))),
        "required": (Doc::Seq(required)),
        "properties": props
    })
}

fn create_schema(r: &Resource) -> Doc {
    let mut props = doc!({
        "id": {
            "type": "string",
            "pattern": (service_model::model::SLUG_PATTERN),
            "maxLength": 64,
            "description": "Optional: defaults to the slug of the name."
        }
    });
    let mut required = Vec::new();
    for f in &r.fields {
        if f.required {
            required.push(Doc::from(f.name.as_str()));
        }
        props.insert(f.name.as_str(), f.schema());
    }
    doc!({
        "type": "object",
        "description": (format!("A new {}.", r.singular.replace('_', " "))),
        "required": (Doc::Seq(required)),
        "additionalProperties": false,
        "properties": props
    })
}

fn update_schema(r: &Resource) -> Doc {
    let mut props = Doc::map();
    for f in &r.fields {
        // Required fields may change but not be cleared; optional ones may be set to null.
        props.insert(f.name.as_str(), if f.required { f.schema() } else { nullable(f.schema()) });
    }
    doc!({
        "type": "object",
        "description": (format!("Changes to a {}: only the fields given change.", r.singular.replace('_', " "))),
        "additionalProperties": false,
        "minProperties": 1,
        "properties": props
    })
}

/// `{type: string, ...}` → `{type: [string, "null"], ...}`.
fn nullable(schema: Doc) -> Doc {
    match schema {
        Doc::Map(entries) => Doc::Map(
            entries
                .into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("type", Doc::Str(t)) => (k, doc!([t, "null"])),
                    (_, v) => (k, v),
                })
                .collect(),
        ),
        other => other,
    }
}

/// The event's schema as an OpenAPI component (no `$schema`: the
/// document's dialect applies).
pub fn component_of_event(ev: &EventType) -> Doc {
    match ev.schema() {
        Doc::Map(entries) => Doc::Map(entries.into_iter().filter(|(k, _)| k != "$schema").collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
