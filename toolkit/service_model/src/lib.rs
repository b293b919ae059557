//! `service_model`: what every TaylorDash generator and gate shares.
//!
//! The execution stage's agents run in parallel, so no generator can read
//! another's output: each derives the same [`ServiceModel`] from the run's
//! backlog (`backlog.yaml`/`.yml`/`.json` in the workspace, or a `backlog`
//! input) — resources with their fields, endpoints, event types with their
//! MQTT topics, metrics and SLOs — and so all artifacts agree by
//! construction. The gates then check that they do.
//!
//! Also here: [`source`] (inputs as inline values or workspace files, JSON or
//! YAML; the out dir), [`doc`] (ordered JSON/YAML documents), [`py`] (Python
//! literals and templates), [`locate`] (JSON pointer → line:col) and
//! [`Envelope`], the keys the orchestrator adds to every tool's input.
//!
//! A library, not a plugin: it lives under `toolkit/`, outside `plugins/`,
//! because every crate there is built as a component.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taylordash_sdk::Level;

pub mod adr;
pub mod doc;
pub mod locate;
pub mod model;
pub mod names;
pub mod py;
pub mod source;

pub use doc::Doc;
pub use model::{
    Endpoint, EndpointKind, EventType, Field, FieldType, Item, ItemKind, Method, Metric, MetricKind, Resource,
    ServiceModel, Slo, load_model, model_from_text, paths,
};

/// The keys the orchestrator adds to every tool's input (see
/// `host/src/orchestrator/run.rs`); tools accept them and use what they need.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct Envelope {
    /// The previous tool's JSON output in the same agent.
    #[serde(default)]
    pub previous: Option<Value>,
    /// The failed gates' report when the stage is retried.
    #[serde(default)]
    pub feedback: Option<Value>,
    /// The pipeline's shared context names that exist.
    #[serde(default)]
    pub shared_context: Option<Value>,
    /// `{ run_id, task_id, stage, agent, tool, attempt, trace_id, span_id }`.
    #[serde(default)]
    pub task: Option<Value>,
}

impl Envelope {
    /// Log what the tool was handed beyond its own inputs: a retry's gate
    /// feedback, and input keys it does not know (so a typo is visible).
    pub fn log(&self, tool: &str, extra: &BTreeMap<String, Value>) {
        if let Some(fb) = &self.feedback {
            let gates: Vec<String> = fb
                .get("failed_gates")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|g| g.get("gate").and_then(Value::as_str).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            taylordash_sdk::log(
                Level::Info,
                &format!(
                    "{tool}: retry after failed gate(s) {}; outputs are derived from the backlog again",
                    if gates.is_empty() { "(unnamed)".to_string() } else { gates.join(", ") }
                ),
            );
        }
        if !extra.is_empty() {
            let keys: Vec<&str> = extra.keys().map(String::as_str).collect();
            taylordash_sdk::log(Level::Debug, &format!("{tool}: ignoring input key(s) {}", keys.join(", ")));
        }
    }
}

/// The input of every generator: where the backlog is, plus what the
/// orchestrator adds.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GenInput {
    /// The backlog: a workspace-relative `.json`/`.yaml`/`.yml` path or an
    /// inline object. Default: `backlog.json`, `backlog.yaml` or
    /// `backlog.yml` in the workspace root.
    #[serde(default)]
    pub backlog: Option<Value>,
    #[serde(flatten)]
    pub envelope: Envelope,
    /// Other keys the stage passes (ignored, logged at debug level).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl GenInput {
    /// Log the envelope, load the model, log its notes.
    pub fn model(&self, tool: &str) -> Result<ServiceModel, taylordash_sdk::ToolError> {
        self.envelope.log(tool, &self.other);
        let model = load_model(self.backlog.as_ref())?;
        log_notes(tool, &model);
        Ok(model)
    }
}

/// A gate's finding: which file, where in it, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub file: String,
    /// `line:col (json pointer)`, `line:col`, or a pointer.
    pub location: String,
    pub message: String,
}

impl Finding {
    pub fn new(file: impl Into<String>, location: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { file: file.into(), location: location.into(), message: message.into() }
    }
}

/// Log each model note (what the model left out) as a warning.
pub fn log_notes(tool: &str, model: &ServiceModel) {
    for note in &model.notes {
        taylordash_sdk::log(Level::Warn, &format!("{tool}: {}: {note}", model.source));
    }
}

#[cfg(test)]
mod tests;
