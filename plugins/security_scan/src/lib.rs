//! `security_scan`: the L5 (security) quality gate of the seed's
//! multi-layer validation: a static security analysis of the generated
//! Python with bandit, next to `security_check` (secrets, auth, TLS) and,
//! like it, a security gate — a failure halts the run for human review.
//!
//! Each command runs through the host's `exec` capability (the policy must
//! grant the program; it runs in a scratch copy of the workspace) and must
//! print bandit's JSON report. The commands come from the input's
//! `commands`, else `security_scan.json` in the workspace (`{"commands":
//! [...], "min_severity": "medium"}`), else `python3 -m bandit -f json -q -r app`.
//! Every result becomes a finding with `file`, `line`, `test_id`,
//! `severity`, `confidence`, `cwe`, `message` and `layer: "L5"`; results at
//! or above `min_severity` (default `medium`) fail the gate, the others are
//! reported under `below_threshold`. A reviewed result can be waived by
//! `accept: [{test_id, file, reason}]` (input or config): it is reported
//! under `accepted` with its reason instead of failing, and a waiver that
//! matches nothing is listed in `unused_waivers`. A file bandit could not scan fails the
//! gate too (unscanned code is not known to be safe), as does a workspace
//! without Python code. A scanner that cannot run — no grant, not
//! installed — fails with an error naming the command.
//!
//! Returns `{ passed, findings, below_threshold, accepted, unused_waivers,
//! checked, summary, min_severity, source, commands }` and writes `reports/security_scan.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use service_model::source;
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

mod scan;

pub use exec_kit::CommandSpec;
pub use scan::*;

pub const DEFAULT_COMMAND: &str = "python3 -m bandit -f json -q -r app";
/// The workspace file that may name the commands and the threshold.
pub const CONFIG: &str = "security_scan.json";
pub const LAYER: &str = "L5";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// bandit's `LOW`/`MEDIUM`/`HIGH` (`UNDEFINED` is low); anything else is
    /// taken as high: an unknown rating must not pass silently.
    pub fn from_bandit(s: &str) -> Severity {
        match s.to_ascii_uppercase().as_str() {
            "LOW" | "UNDEFINED" => Severity::Low,
            "MEDIUM" => Severity::Medium,
            _ => Severity::High,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanInput {
    /// Commands printing bandit's JSON report. Default: `security_scan.json`
    /// in the workspace, else `python3 -m bandit -f json -q -r app`.
    #[serde(default)]
    pub commands: Option<Vec<CommandSpec>>,
    /// The lowest severity that fails the gate (default `medium`).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Reviewed results that do not fail the gate. Default: `security_scan.json`'s.
    #[serde(default)]
    pub accept: Option<Vec<Waiver>>,
    /// The gate's name in the pipeline (the orchestrator's gate input).
    #[serde(default)]
    pub gate: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub attempt: Option<u32>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub outputs: Option<Map<String, Value>>,
}

/// A reviewed bandit result: its test in one file, and why it is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// bandit's test id (`B608`).
    pub test_id: String,
    /// The workspace-relative file (`app/repository_pg.py`).
    pub file: String,
    /// Why the result is not a vulnerability (required).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct ScanFinding {
    pub file: String,
    /// 1-based; null when the finding is about the file as a whole.
    pub line: Option<u32>,
    /// `line:col` (the other gates' location format).
    pub location: String,
    /// bandit's test id (`B602`), or `scan-error` / `no-code`.
    pub test_id: String,
    /// bandit's test name (`subprocess_popen_with_shell_equals_true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_name: Option<String>,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    /// The CWE id bandit names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwe: Option<u32>,
    pub message: String,
    /// Always `L5`.
    pub layer: String,
    /// The waiver's reason, for a result under `accepted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_because: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScanRun {
    pub command: String,
    pub exit_code: i32,
    pub results: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScanOutput {
    pub passed: bool,
    /// Results at or above `min_severity`, scan errors: what fails the gate.
    pub findings: Vec<ScanFinding>,
    /// Results below `min_severity`: reported, not failing.
    pub below_threshold: Vec<ScanFinding>,
    /// Results a waiver accepts, with its reason.
    pub accepted: Vec<ScanFinding>,
    /// Waivers that matched no result (stale: remove them).
    pub unused_waivers: Vec<Waiver>,
    /// The files bandit scanned.
    pub checked: Vec<String>,
    pub summary: String,
    pub min_severity: Severity,
    /// Where the commands came from: `input`, `security_scan.json` or `default`.
    pub source: String,
    pub commands: Vec<ScanRun>,
}

pub struct SecurityScan;

impl Tool for SecurityScan {
    const NAME: &'static str = "security_scan";
    const DESCRIPTION: &'static str = "Gate L5 (security): runs bandit (`python3 -m bandit -f json -q -r app` by \
         default; commands from the input's `commands` or `security_scan.json`) through the exec capability on the \
         generated code; every issue a finding with file, line, test_id and severity; issues at or above \
         `min_severity` (medium) fail the gate. The policy must grant the program (grants: { exec: { programs: [python3] } }).";
    type Input = ScanInput;
    type Output = ScanOutput;

    fn run(input: ScanInput, cx: &Context) -> Result<ScanOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        let config = exec_kit::load_config::<Config>(CONFIG)?;
        let (config_commands, config_min, config_accept) =
            config.map(|c| (c.commands, c.min_severity, c.accept)).unwrap_or((None, None, None));
        let min_severity = input.min_severity.or(config_min).unwrap_or(Severity::Medium);
        let (waivers, waivers_from) = match (input.accept, config_accept) {
            (Some(w), _) => (w, "input"),
            (None, Some(w)) => (w, CONFIG),
            (None, None) => (Vec::new(), "none"),
        };
        for (i, w) in waivers.iter().enumerate() {
            if w.test_id.trim().is_empty() || w.file.trim().is_empty() || w.reason.trim().is_empty() {
                return Err(ToolError::InvalidInput(format!(
                    "accept[{i}]: test_id, file and reason must all be non-empty (from {waivers_from})"
                )));
            }
        }
        let (specs, origin) = match (input.commands, config_commands) {
            (Some(c), _) => (c, "input"),
            (None, Some(c)) => (c, CONFIG),
            (None, None) => (vec![CommandSpec::Line(DEFAULT_COMMAND.into())], "default"),
        };
        if specs.is_empty() {
            return Err(ToolError::InvalidInput(format!("commands: empty (from {origin})")));
        }
        let py = source::list_files("", &[".py"]);
        scan::scan(&specs, origin, min_severity, &waivers, &py)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    commands: Option<Vec<CommandSpec>>,
    #[serde(default)]
    min_severity: Option<Severity>,
    #[serde(default)]
    accept: Option<Vec<Waiver>>,
}

export_tool!(SecurityScan);

#[cfg(test)]
mod tests;
