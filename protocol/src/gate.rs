//! What a gate receives and what it answers.
//!
//! A gate is a tool run after a stage's agents: its input is a
//! [`GateInput`] plus the [`Envelope`](crate::Envelope)'s `task`
//! ([`GateRequest`] is the two together, as published in
//! `schemas/gate_input.json`), and its output is a [`GateVerdict`]. The
//! orchestrator reads only `passed`; it keeps the whole answer as the gate's
//! report.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Envelope;

/// The gate's own input fields. Every field has a default, so a gate can be
/// run by hand with `{}`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateInput {
    /// The gate's name in the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// The stage the gate follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The stage's attempt, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Workspace paths merged by the stage.
    #[serde(default)]
    pub files: Vec<String>,
    /// The stage's declared outputs that exist, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Value>>,
}

/// A gate's whole input as it travels: its own fields and the envelope.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateRequest {
    #[serde(flatten)]
    pub input: GateInput,
    #[serde(flatten)]
    pub envelope: Envelope,
}

/// A gate's finding: which file, where in it, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub file: String,
    /// `line:col (json pointer)`, `line:col`, or a pointer; empty when the
    /// finding is about the file as a whole.
    #[serde(default)]
    pub location: String,
    pub message: String,
}

impl Finding {
    pub fn new(file: impl Into<String>, location: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { file: file.into(), location: location.into(), message: message.into() }
    }
}

/// What a gate answers. Only `passed` is required; the rest explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GateVerdict {
    /// Whether the stage may go on.
    pub passed: bool,
    /// Every finding, sorted by file, then location.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The workspace files the gate read.
    #[serde(default)]
    pub checked: Vec<String>,
    /// One line: what passed or failed.
    #[serde(default)]
    pub summary: String,
}

impl GateVerdict {
    /// Read a gate's output text; the error says what was wrong with it.
    pub fn parse(output: &str) -> Result<GateVerdict, serde_json::Error> {
        serde_json::from_str(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_verdict_needs_only_passed() {
        let v = GateVerdict::parse(r#"{"passed": true, "extra": 1}"#).unwrap();
        assert_eq!(v, GateVerdict { passed: true, findings: vec![], checked: vec![], summary: String::new() });
        let v = GateVerdict::parse(r#"{"passed": false, "findings": [{"file": "a.py", "message": "no"}]}"#).unwrap();
        assert_eq!(v.findings, [Finding::new("a.py", "", "no")]);
        let err = GateVerdict::parse(r#"{"findings": []}"#).unwrap_err();
        assert_eq!(err.to_string(), "missing field `passed` at line 1 column 16");
    }

    #[test]
    fn a_request_splits_into_input_and_envelope() {
        let text = json!({ "gate": "lint", "stage": "s", "attempt": 1, "files": ["a"], "outputs": {},
                           "task": { "run_id": "r", "trace_id": "t" } });
        let req: GateRequest = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(req.input.gate.as_deref(), Some("lint"));
        assert_eq!(req.envelope.task.map(|t| t.run_id), Some("r".to_string()));
        let (env, own) = Envelope::split(text).unwrap();
        assert_eq!(env.task.map(|t| t.trace_id), Some("t".to_string()));
        let input: GateInput = serde_json::from_value(own).unwrap();
        assert_eq!(input.files, ["a"]);
    }
}
