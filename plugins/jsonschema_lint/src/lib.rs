//! `jsonschema_lint`: validates JSON and YAML documents in the workspace
//! against a JSON Schema and reports every violation, not just the first.
//!
//! The schema is a workspace-relative `.json`/`.yaml`/`.yml` file or an inline
//! schema. It is first checked against a built-in meta-schema covering drafts
//! 4 to 2020-12 (its `$schema`, if any, must name one of them); problems with
//! the schema, including `$ref`s that lead nowhere, are findings in the report,
//! not tool errors. Relative `$ref`s resolve to files in the workspace;
//! nothing is fetched over the network.
//!
//! Validation uses the small validator in [`validator`]: the `jsonschema`
//! crate builds for `wasm32-wasip2` but makes a 3.2 MB component, so it serves
//! only as the reference the native tests compare against.
//!
//! Each document's violations carry a JSON pointer into the document, the
//! schema path of the failing keyword and a message, sorted by pointer
//! (array indices numerically), then schema path, then message. A document
//! that is missing or does not parse is invalid input, named with its path
//! (and line and column). Writes the report to `jsonschema_lint.json` in the
//! out dir.
//!
//! Without `schema` and documents (how the orchestration flow calls it, after
//! `openapi_gen`), it lints the workspace's event contracts: every
//! `schemas/events/*.schema.json` is checked against its meta-schema and every
//! `schemas/events/examples/*.json` against the schema whose stem (without
//! `.schema` and a trailing `_event`) is the longest prefix of the example's
//! stem (`project_event.schema.json` checks `project_created.json`). An
//! example without a schema, or one that does not parse, is an invalid
//! document, not a tool error. No event schemas at all: valid, with a note.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use json_schema as validator;

use validator::{Draft, Formats, Store, Validator};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod lint;
use lint::*;

// ---------------------------------------------------------------------------
// Input and output types

/// What to check: `document` and/or `documents`, all against `schema`; or,
/// with none of them, the workspace's `schemas/events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LintInput {
    /// A workspace-relative `.json`, `.yaml` or `.yml` document.
    #[serde(default)]
    pub document: Option<String>,
    /// More documents to check against the same schema.
    #[serde(default)]
    pub documents: Vec<String>,
    /// A workspace-relative schema file, or an inline JSON Schema. Leave it
    /// and the documents out to lint `schemas/events` and its examples.
    #[serde(default)]
    #[schemars(schema_with = "schema_source_schema")]
    pub schema: Option<Value>,
    /// Also assert `format` (date-time, date, time, email, hostname, ipv4,
    /// ipv6, uuid, uri, json-pointer); by default formats are annotations.
    #[serde(default)]
    pub check_formats: bool,
}

fn schema_source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "string", "description": "a workspace-relative .json, .yaml or .yml file" },
            { "type": ["object", "boolean"], "description": "an inline JSON Schema" }
        ]
    })
}

/// The lint report; also written to `jsonschema_lint.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LintOutput {
    /// The schema is valid and every document conforms to it.
    pub valid: bool,
    /// The schema checked against its meta-schema.
    pub schema: Report,
    /// One report per document, in the order given.
    pub documents: Vec<Report>,
    /// Without `schema` and documents: one report per event schema, sorted
    /// (`schema` then sums them up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<Report>,
    /// What was checked when that is not obvious (e.g. nothing to check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// The workspace-relative path, or `(inline)` for an inline schema.
    pub path: String,
    pub valid: bool,
    /// Every violation, sorted.
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Violation {
    /// JSON pointer to the offending value in the document (`""` is the root).
    pub pointer: String,
    /// JSON pointer to the failing keyword in the schema.
    pub schema_path: String,
    pub message: String,
}

pub const REPORT: &str = "jsonschema_lint.json";
const INLINE: &str = "(inline)";
/// Where relative `$ref`s resolve: the workspace, as a virtual `file:` URI.
const BASE: &str = "file:///workspace/";

// ---------------------------------------------------------------------------
// The tool

pub struct JsonschemaLint;

impl Tool for JsonschemaLint {
    const NAME: &'static str = "jsonschema_lint";
    const DESCRIPTION: &'static str = "Validates JSON and YAML documents against a JSON Schema \
         (itself checked against its meta-schema) and reports every violation.";
    type Input = LintInput;
    type Output = LintOutput;

    fn run(input: LintInput, _cx: &Context) -> Result<LintOutput, ToolError> {
        let mut seen = BTreeSet::new();
        let paths: Vec<String> = input
            .document
            .into_iter()
            .chain(input.documents)
            .filter(|p| seen.insert(p.clone()))
            .collect();
        let output = match (input.schema, paths.is_empty()) {
            (None, true) => lint_event_schemas(input.check_formats)?,
            (None, false) => {
                return Err(ToolError::InvalidInput(
                    "schema: missing; give the schema the documents are checked against \
                     (or leave out the documents too to lint schemas/events)"
                        .to_string(),
                ));
            }
            (Some(_), true) => {
                return Err(ToolError::InvalidInput(
                    "no document to check: give `document` or `documents`".to_string(),
                ));
            }
            (Some(schema), false) => lint_explicit(schema, &paths, input.check_formats)?,
        };
        let json = serde_json::to_string_pretty(&output)
            .map_err(|e| ToolError::Failed(format!("cannot serialise {REPORT}: {e}")))?;
        std::fs::write(taylordash_sdk::out_dir().join(REPORT), json + "\n").map_err(|e| {
            ToolError::Failed(format!("cannot write {REPORT} into the out dir: {e}"))
        })?;
        Ok(output)
    }
}

/// The explicit mode: `paths` against `schema` (a path or inline).
fn lint_explicit(
    schema: Value,
    paths: &[String],
    check_formats: bool,
) -> Result<LintOutput, ToolError> {
    let (schema, schema_name, base_uri) = match schema {
        Value::String(path) => {
            let value = load("schema", &path)?;
            let base = format!("{BASE}{}", path.trim_start_matches("./"));
            (value, path, base)
        }
        value @ (Value::Object(_) | Value::Bool(_)) => {
            (value, INLINE.to_string(), BASE.to_string())
        }
        other => {
            return Err(ToolError::InvalidInput(format!(
                "schema: expected a workspace-relative path or an inline JSON Schema \
                 (object or boolean), got {}",
                kind(&other)
            )));
        }
    };
    let mut documents = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let key = if i == 0 {
            "document".to_string()
        } else {
            format!("documents[{i}]")
        };
        documents.push((path.clone(), load(&key, path)?));
    }
    let (schema_report, reports) =
        lint_against(&schema, &schema_name, &base_uri, &documents, check_formats)?;
    Ok(LintOutput {
        valid: schema_report.valid && reports.iter().all(|r| r.valid),
        schema: schema_report,
        documents: reports,
        schemas: Vec::new(),
        note: None,
    })
}

/// Check `schema` against its meta-schema, then (if it is valid) each document.
fn lint_against(
    schema: &Value,
    schema_name: &str,
    base_uri: &str,
    documents: &[(String, Value)],
    check_formats: bool,
) -> Result<(Report, Vec<Report>), ToolError> {
    let meta: Value = serde_json::from_str(validator::META_SCHEMA)
        .map_err(|e| ToolError::Failed(format!("the built-in meta-schema does not parse: {e}")))?;
    let (mut schema_violations, draft) = check_schema(&meta, schema);
    let mut store = Store::new(&meta, draft);
    schema_violations.extend(load_refs(&mut store, base_uri, schema));
    let formats = if check_formats {
        Formats::All
    } else {
        Formats::None
    };
    let validator = Validator::new(&store, formats);
    let schema_report = Report {
        path: schema_name.to_string(),
        valid: schema_violations.is_empty(),
        violations: sorted(schema_violations),
    };
    if !schema_report.valid {
        taylordash_sdk::log(
            Level::Warn,
            &format!(
                "schema {schema_name}: {} finding(s); documents not checked",
                schema_report.violations.len()
            ),
        );
    }

    let mut reports = Vec::with_capacity(documents.len());
    for (path, doc) in documents {
        let violations = if schema_report.valid {
            sorted(
                validator
                    .validate(schema, base_uri, doc)
                    .into_iter()
                    .map(Violation::from)
                    .collect(),
            )
        } else {
            vec![Violation {
                pointer: String::new(),
                schema_path: String::new(),
                message: format!("not checked: the schema {schema_name} is invalid"),
            }]
        };
        if schema_report.valid {
            taylordash_sdk::log(
                Level::Info,
                &format!("{path}: {}", verdict(violations.len())),
            );
        }
        reports.push(Report {
            path: path.clone(),
            valid: violations.is_empty(),
            violations,
        });
    }
    Ok((schema_report, reports))
}

fn verdict(n: usize) -> String {
    match n {
        0 => "valid".to_string(),
        1 => "1 violation".to_string(),
        n => format!("{n} violations"),
    }
}

/// Where the default mode looks.
pub const EVENT_SCHEMAS: &str = "schemas/events";
pub const EVENT_EXAMPLES: &str = "schemas/events/examples";

/// The regular files in workspace directory `dir` whose names end in
/// `suffix`, sorted; none if the directory does not exist.
fn list(dir: &str, suffix: &str) -> Result<Vec<String>, ToolError> {
    let entries = match std::fs::read_dir(taylordash_sdk::workspace_dir().join(dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ToolError::Failed(format!("cannot list `{dir}`: {e}"))),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ToolError::Failed(format!("cannot list `{dir}`: {e}")))?;
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if let Some(name) = entry.file_name().to_str()
            && is_file
            && name.ends_with(suffix)
            && !name.starts_with('.')
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A document that cannot be checked: one finding at its root.
fn unchecked(path: &str, message: String) -> Report {
    taylordash_sdk::log(Level::Warn, &format!("{path}: {message}"));
    Report {
        path: path.to_string(),
        valid: false,
        violations: vec![Violation {
            pointer: String::new(),
            schema_path: String::new(),
            message,
        }],
    }
}

fn message_of(e: ToolError) -> String {
    match e {
        ToolError::InvalidInput(m) | ToolError::Failed(m) | ToolError::Retryable(m) => m,
    }
}

/// The default mode: `schemas/events/*.schema.json` and their examples.
fn lint_event_schemas(check_formats: bool) -> Result<LintOutput, ToolError> {
    let schema_files = list(EVENT_SCHEMAS, ".schema.json")?;
    let example_files = list(EVENT_EXAMPLES, ".json")?;
    let all = format!("{EVENT_SCHEMAS}/*.schema.json");
    if schema_files.is_empty() {
        let note = format!("no event schemas: {all} matches no file; nothing checked");
        taylordash_sdk::log(Level::Info, &note);
        return Ok(LintOutput {
            valid: true,
            schema: Report {
                path: all,
                valid: true,
                violations: Vec::new(),
            },
            documents: Vec::new(),
            schemas: Vec::new(),
            note: Some(note),
        });
    }
    // Each schema's stem: `project_event.schema.json` -> `project`.
    let stems: Vec<(String, String)> = schema_files
        .iter()
        .map(|name| {
            let stem = name.trim_end_matches(".schema.json");
            let stem = stem.strip_suffix("_event").unwrap_or(stem);
            (stem.to_string(), name.clone())
        })
        .collect();
    // Examples by the schema they belong to (the longest matching stem).
    let mut by_schema: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let mut orphans = Vec::new();
    for name in &example_files {
        let stem = name.trim_end_matches(".json");
        let owner = stems
            .iter()
            .filter(|(s, _)| stem.starts_with(s.as_str()))
            .max_by_key(|(s, _)| s.len());
        match owner {
            Some((_, schema)) => by_schema
                .entry(schema.as_str())
                .or_default()
                .push(format!("{EVENT_EXAMPLES}/{name}")),
            None => orphans.push(format!("{EVENT_EXAMPLES}/{name}")),
        }
    }

    let mut schemas = Vec::new();
    let mut reports: Vec<Report> = Vec::new();
    for name in &schema_files {
        let path = format!("{EVENT_SCHEMAS}/{name}");
        let examples = by_schema.remove(name.as_str()).unwrap_or_default();
        let schema = match load("schema", &path) {
            Ok(schema) => schema,
            Err(e) => {
                let why = message_of(e);
                schemas.push(unchecked(&path, why.clone()));
                for ex in &examples {
                    reports.push(unchecked(
                        ex,
                        format!("not checked: the schema {path} does not parse"),
                    ));
                }
                continue;
            }
        };
        let mut documents = Vec::new();
        for ex in examples {
            match load("document", &ex) {
                Ok(doc) => documents.push((ex, doc)),
                Err(e) => reports.push(unchecked(&ex, message_of(e))),
            }
        }
        let base = format!("{BASE}{path}");
        let (report, checked) = lint_against(&schema, &path, &base, &documents, check_formats)?;
        schemas.push(report);
        reports.extend(checked);
    }
    for ex in orphans {
        let stem = ex
            .rsplit('/')
            .next()
            .unwrap_or(&ex)
            .trim_end_matches(".json")
            .to_string();
        reports.push(unchecked(
            &ex,
            format!(
                "no event schema for this example: no {all} has a stem (without `.schema` and \
                 a trailing `_event`) that `{stem}` starts with"
            ),
        ));
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));

    let summary: Vec<Violation> = schemas
        .iter()
        .flat_map(|r| {
            r.violations.iter().map(|v| Violation {
                pointer: v.pointer.clone(),
                schema_path: v.schema_path.clone(),
                message: format!("{}: {}", r.path, v.message),
            })
        })
        .collect();
    let schema = Report {
        path: all,
        valid: summary.is_empty(),
        violations: summary,
    };
    let valid = schema.valid && reports.iter().all(|r| r.valid);
    let note = format!(
        "{} event schema(s) in {EVENT_SCHEMAS}, {} example(s) in {EVENT_EXAMPLES}",
        schemas.len(),
        reports.len()
    );
    taylordash_sdk::log(Level::Info, &note);
    Ok(LintOutput {
        valid,
        schema,
        documents: reports,
        schemas,
        note: Some(note),
    })
}

export_tool!(JsonschemaLint);

#[cfg(test)]
mod tests;
