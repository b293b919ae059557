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
//! [`log_envelope`], which logs what the orchestrator's envelope (see
//! `taylordash-protocol`) told the tool. Gate input and verdict are the
//! protocol's [`GateInput`] and [`GateOutput`] (= `GateVerdict`).
//!
//! A library, not a plugin: it lives under `toolkit/`, outside `plugins/`,
//! because every crate there is built as a component.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
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

pub use taylordash_sdk::protocol::{Envelope, Finding, GateInput, GateVerdict as GateOutput};

/// Log what the orchestrator handed the tool beside its own input: a
/// retry's gate feedback.
pub fn log_envelope(tool: &str, envelope: &Envelope) {
    if let Some(fb) = &envelope.feedback {
        let gates = fb.gate_names();
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{tool}: retry after failed gate(s) {}; outputs are derived from the backlog again",
                if gates.is_empty() { "(unnamed)".to_string() } else { gates.join(", ") }
            ),
        );
    }
}

/// Log input keys the tool does not know (so a typo is visible).
pub fn log_ignored(tool: &str, extra: &BTreeMap<String, Value>) {
    if !extra.is_empty() {
        let keys: Vec<&str> = extra.keys().map(String::as_str).collect();
        taylordash_sdk::log(Level::Debug, &format!("{tool}: ignoring input key(s) {}", keys.join(", ")));
    }
}

/// The input of every generator: where the backlog is. The orchestrator's
/// envelope comes through the [`Context`](taylordash_sdk::Context).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GenInput {
    /// The backlog: a workspace-relative `.json`/`.yaml`/`.yml` path or an
    /// inline object. Default: `backlog.json`, `backlog.yaml` or
    /// `backlog.yml` in the workspace root.
    #[serde(default)]
    pub backlog: Option<Value>,
    /// Other keys the stage passes (ignored, logged at debug level).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl GenInput {
    /// Log the envelope, load the model, log its notes.
    pub fn model(&self, tool: &str, cx: &taylordash_sdk::Context) -> Result<ServiceModel, taylordash_sdk::ToolError> {
        log_envelope(tool, cx.envelope());
        log_ignored(tool, &self.other);
        let model = load_model(self.backlog.as_ref())?;
        log_notes(tool, &model);
        Ok(model)
    }
}

/// Finish a gate: sort and dedupe findings, log one line per finding, write
/// `reports/<gate>.json` into the out dir (the orchestrator discards a
/// gate's out dir; `taylordash invoke --out` keeps it).
pub fn finish_gate(name: &str, mut findings: Vec<Finding>, mut checked: Vec<String>, what: &str) -> Result<GateOutput, taylordash_sdk::ToolError> {
    findings.sort_by(|a, b| {
        (a.file.as_str(), location_key(&a.location), a.message.as_str()).cmp(&(b.file.as_str(), location_key(&b.location), b.message.as_str()))
    });
    findings.dedup();
    checked.sort();
    checked.dedup();
    let passed = findings.is_empty();
    let summary = if passed {
        format!("{name}: passed: {what} ({} files checked)", checked.len())
    } else {
        format!("{name}: {} finding(s) in {} file(s)", findings.len(), {
            let mut files: Vec<&str> = findings.iter().map(|f| f.file.as_str()).collect();
            files.dedup();
            files.len()
        })
    };
    for f in &findings {
        taylordash_sdk::log(Level::Warn, &format!("{}:{}: {}", f.file, f.location, f.message));
    }
    taylordash_sdk::log(if passed { Level::Info } else { Level::Warn }, &summary);
    let out = GateOutput { passed, findings, checked, summary };
    let json = serde_json::to_string_pretty(&out).map_err(taylordash_sdk::ToolError::failed)?;
    source::Out::new().write(&format!("{}/{name}.json", paths::REPORTS), &(json + "\n"))?;
    Ok(out)
}

/// `12:5 (/x)` sorts by line, then column, numerically.
fn location_key(loc: &str) -> (usize, usize, String) {
    let head = loc.split_whitespace().next().unwrap_or("");
    let mut parts = head.split(':');
    match (parts.next().and_then(|l| l.parse().ok()), parts.next().and_then(|c| c.parse().ok())) {
        (Some(l), Some(c)) => (l, c, loc.to_string()),
        (Some(l), None) => (l, 0, loc.to_string()),
        _ => (0, 0, loc.to_string()),
    }
}

/// `(line, column)` (1-based) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| before[i + 1..].chars().count()).unwrap_or(before.chars().count()) + 1;
    (line, col)
}

/// Log each model note (what the model left out) as a warning.
pub fn log_notes(tool: &str, model: &ServiceModel) {
    for note in &model.notes {
        taylordash_sdk::log(Level::Warn, &format!("{tool}: {}: {note}", model.source));
    }
}

#[cfg(test)]
mod tests;
