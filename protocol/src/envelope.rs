//! The task envelope: the keys the orchestrator adds beside a tool's own
//! input fields, at the top level of the input object.
//!
//! ```json
//! { "backlog": "backlog.yaml",
//!   "task": { "run_id": "run-…", "task_id": "planning/planner/planner#1", "stage": "planning", … },
//!   "previous": { … }, "feedback": { "failed_gates": [ … ] }, "shared_context": { … } }
//! ```
//!
//! A tool never declares these keys: the SDK calls [`Envelope::split`]
//! before it parses the tool's own input, so that input keeps
//! `deny_unknown_fields`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a call sits in a run. Every field is present when the orchestrator
/// runs a tool; `taylordash invoke` sends none.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TaskInfo {
    pub run_id: String,
    /// `<stage>/<agent>/<tool>#<attempt>`, or `<stage>/gate/<gate>#<attempt>` for a gate.
    pub task_id: String,
    pub stage: String,
    /// The agent running the tool (`gate` for a gate).
    pub agent: String,
    pub tool: String,
    /// The task's attempt, from 1 (for a gate: the stage's attempt).
    pub attempt: u32,
    /// W3C trace id (32 hex digits).
    pub trace_id: String,
    /// W3C span id of the task (16 hex digits).
    pub span_id: String,
}

/// One gate that failed in the previous attempt of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FailedGate {
    /// The gate's name in the pipeline.
    pub gate: String,
    /// The gate's whole answer (a [`GateVerdict`](crate::GateVerdict), or an
    /// error report when the gate did not answer one).
    pub report: Value,
}

/// What a retried stage is told about its previous attempt.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Feedback {
    pub failed_gates: Vec<FailedGate>,
}

impl Feedback {
    /// The failed gates' names, in order.
    pub fn gate_names(&self) -> Vec<&str> {
        self.failed_gates.iter().map(|g| g.gate.as_str()).collect()
    }
}

/// The keys the orchestrator adds to every tool's input.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Who runs the call and where it sits in the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskInfo>,
    /// The previous tool's JSON output in the same agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Value>,
    /// The failed gates' reports when the stage is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
    /// The pipeline's `shared_context` artifacts that exist, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_context: Option<Map<String, Value>>,
}

impl Envelope {
    /// The top-level input keys the envelope owns; no tool input may use them.
    pub const KEYS: [&'static str; 4] = ["task", "previous", "feedback", "shared_context"];

    /// Take the envelope's keys out of a tool's input object: returns the
    /// envelope and what is left, the tool's own input. A value that is not
    /// an object is returned as it is, with an empty envelope. A `null`
    /// envelope key counts as absent.
    pub fn split(input: Value) -> Result<(Envelope, Value), serde_json::Error> {
        let Value::Object(mut fields) = input else { return Ok((Envelope::default(), input)) };
        let mut own = Map::new();
        for key in Self::KEYS {
            if let Some(v) = fields.remove(key)
                && !v.is_null()
            {
                own.insert(key.to_string(), v);
            }
        }
        let envelope = serde_json::from_value(Value::Object(own))?;
        Ok((envelope, Value::Object(fields)))
    }

    /// The tool's input `fields` with the envelope's keys added (a key the
    /// envelope sets replaces one of the same name).
    pub fn wrap(&self, mut fields: Map<String, Value>) -> Map<String, Value> {
        if let Ok(Value::Object(own)) = serde_json::to_value(self) {
            fields.extend(own);
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_takes_only_the_envelope_keys() {
        let input = json!({ "backlog": "b.yaml", "previous": { "a": 1 }, "task": { "run_id": "r1", "attempt": 2 },
                            "feedback": { "failed_gates": [ { "gate": "lint", "report": { "passed": false } } ] },
                            "shared_context": { "adr": "x" } });
        let (env, own) = Envelope::split(input).unwrap();
        assert_eq!(own, json!({ "backlog": "b.yaml" }));
        assert_eq!(env.previous, Some(json!({ "a": 1 })));
        assert_eq!(env.task.as_ref().map(|t| (t.run_id.as_str(), t.attempt)), Some(("r1", 2)));
        assert_eq!(env.feedback.as_ref().map(Feedback::gate_names), Some(vec!["lint"]));
        assert_eq!(env.shared_context.as_ref().and_then(|s| s.get("adr")), Some(&json!("x")));
    }

    #[test]
    fn null_keys_are_absent_and_a_non_object_passes_through() {
        let (env, own) = Envelope::split(json!({ "previous": null, "x": 1 })).unwrap();
        assert_eq!((env, own), (Envelope::default(), json!({ "x": 1 })));
        let (env, own) = Envelope::split(json!([1, 2])).unwrap();
        assert_eq!((env, own), (Envelope::default(), json!([1, 2])));
    }

    #[test]
    fn a_malformed_envelope_key_is_an_error() {
        let err = Envelope::split(json!({ "feedback": "retry" })).unwrap_err();
        assert_eq!(err.to_string(), "invalid type: string \"retry\", expected struct Feedback");
    }

    #[test]
    fn wrap_then_split_round_trips() {
        let env = Envelope { previous: Some(json!([1])), ..Envelope::default() };
        let fields = json!({ "x": true }).as_object().cloned().unwrap();
        let wrapped = Value::Object(env.wrap(fields));
        assert_eq!(wrapped, json!({ "x": true, "previous": [1] }));
        assert_eq!(Envelope::split(wrapped).unwrap(), (env, json!({ "x": true })));
    }
}
