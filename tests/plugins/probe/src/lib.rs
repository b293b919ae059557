//! `probe`: a tool (and gate) whose behaviour the test writes into
//! `/workspace/probe.json`, keyed by agent (or by gate name):
//!
//! ```json
//! { "agents": { "writer": { "sleep_ms": 300, "files": { "a.txt": "A" },
//!                            "outputs": { "plan": "p" }, "fail": "retryable",
//!                            "fix_on_feedback": "fixed.txt", "drop_on_feedback": "shared.txt" } },
//!   "gates":  { "check": { "require": "fixed.txt" }, "security_check": { "forbid": "secret.txt" } } }
//! ```
//!
//! It reports when it started and finished (wall clock, ms), so a test can
//! tell whether parallel agents really overlapped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use taylordash_sdk::{Context, Tool, ToolError, export_tool, out_dir, workspace_dir};

pub struct Probe;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn config() -> Value {
    std::fs::read_to_string(workspace_dir().join("probe.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn gate(name: &str, cfg: &Value) -> Value {
    let rule = &cfg["gates"][name];
    let mut findings = Vec::new();
    if let Some(f) = rule["require"].as_str() {
        if !workspace_dir().join(f).exists() {
            findings.push(json!({ "file": f, "message": format!("{f} is required and missing") }));
        }
    }
    if let (Some(f), Some(text)) = (rule["forbid_text"]["file"].as_str(), rule["forbid_text"]["text"].as_str()) {
        if std::fs::read_to_string(workspace_dir().join(f)).is_ok_and(|t| t.contains(text)) {
            findings.push(json!({ "file": f, "message": format!("{f} must not say `{text}`") }));
        }
    }
    if let Some(f) = rule["forbid"].as_str() {
        if workspace_dir().join(f).exists() {
            findings.push(json!({ "file": f, "message": format!("{f} must not exist") }));
        }
    }
    json!({ "passed": findings.is_empty(), "findings": findings })
}

impl Tool for Probe {
    const NAME: &'static str = "probe";
    const DESCRIPTION: &'static str = "Scriptable tool and gate for orchestrator tests.";
    type Input = Value;
    type Output = Value;

    fn run(input: Value, cx: &Context) -> Result<Value, ToolError> {
        let envelope = cx.envelope();
        let cfg = config();
        if let Some(name) = input["gate"].as_str() {
            return Ok(gate(name, &cfg));
        }
        let started = now_ms();
        let agent = envelope.task.as_ref().map(|t| t.agent.clone()).unwrap_or_default();
        let me = &cfg["agents"][&agent];
        if let Some(ms) = me["sleep_ms"].as_u64() {
            std::thread::sleep(Duration::from_millis(ms));
        }
        match me["fail"].as_str() {
            Some("retryable") => return Err(ToolError::Retryable(format!("{agent}: asked to fail (retryable)"))),
            Some("failed") => return Err(ToolError::Failed(format!("{agent}: asked to fail"))),
            _ => {}
        }
        let mut wrote = Vec::new();
        // A retried agent may answer differently (`files_on_feedback`, `outputs_on_feedback`).
        let told = envelope.feedback.is_some();
        let pick = |key: &str| if told && me[format!("{key}_on_feedback")].is_object() { &me[format!("{key}_on_feedback")] } else { &me[key] };
        let mut files: Vec<(String, String)> = pick("files")
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().replace("{agent}", &agent))).collect())
            .unwrap_or_default();
        if let (Some(fix), true) = (me["fix_on_feedback"].as_str(), envelope.feedback.is_some()) {
            files.push((fix.to_string(), format!("fixed by {agent}")));
        }
        if let (Some(drop), true) = (me["drop_on_feedback"].as_str(), envelope.feedback.is_some()) {
            files.retain(|(rel, _)| rel != drop);
        }
        for (rel, content) in files {
            let path = out_dir().join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(ToolError::failed)?;
            }
            std::fs::write(&path, content).map_err(|e| ToolError::Failed(format!("/out/{rel}: {e}")))?;
            wrote.push(rel);
        }
        let mut out = Map::new();
        if let Some(extra) = pick("outputs").as_object() {
            out.extend(extra.clone());
        }
        out.insert("agent".into(), json!(agent));
        out.insert("wrote".into(), json!(wrote));
        out.insert("saw_previous".into(), json!(envelope.previous.is_some()));
        out.insert("saw_feedback".into(), json!(envelope.feedback.is_some()));
        out.insert("shared_context".into(), json!(envelope.shared_context));
        out.insert("started_ms".into(), json!(started));
        out.insert("finished_ms".into(), json!(now_ms()));
        Ok(Value::Object(out))
    }
}

export_tool!(Probe);
