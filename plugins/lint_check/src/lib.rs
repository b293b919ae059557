//! `lint_check`: the L1 (syntax) quality gate of the seed's multi-layer
//! validation.
//!
//! 1. **Python**: when the workspace holds `*.py` files, each lint command
//!    runs through the host's `exec` capability (the policy must grant the
//!    program; it runs in a scratch copy of the workspace). The commands come
//!    from the input's `commands`, else `lint_check.json` in the workspace
//!    (`{"commands": [...]}`, as `bash_runner.json`), else
//!    `python3 -m pyflakes .`. Their output is parsed into findings:
//!    pyflakes' `path:line:col: message` lines (syntax errors included,
//!    from stderr), or ruff's JSON (`ruff check --output-format json .`).
//!    A linter that cannot run — no grant, not installed, exits non-zero
//!    without a finding — fails the gate with an error naming the command.
//! 2. **YAML and JSON**: every `*.yaml`/`*.yml` (each document of a
//!    multi-document stream, duplicate keys refused) and `*.json` file is
//!    parsed inside the component (serde_yaml_ng, serde_json).
//!
//! Every finding carries `file`, `line`, `column`, `location`, `message`,
//! `layer: "L1"` and the `tool` that found it. Returns `{ passed, findings,
//! checked, summary, commands }` and writes `reports/lint_check.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use service_model::source;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod lint;

pub use exec_kit::CommandSpec;
pub use lint::*;

pub const DEFAULT_COMMAND: &str = "python3 -m pyflakes .";
/// The workspace file that may name the commands.
pub const CONFIG: &str = "lint_check.json";
pub const LAYER: &str = "L1";

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LintInput {
    /// Lint commands for the Python files, in order. Default: `lint_check.json`
    /// in the workspace, else `python3 -m pyflakes .`.
    #[serde(default)]
    pub commands: Option<Vec<CommandSpec>>,
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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct LintFinding {
    pub file: String,
    /// 1-based; null when the finding is about the file as a whole.
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// `line:col` (the other gates' location format).
    pub location: String,
    pub message: String,
    /// The linter's rule code (ruff: `F401`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `pyflakes`, `ruff`, the linter command's program, `yaml` or `json`.
    pub tool: String,
    /// Always `L1`.
    pub layer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LintRun {
    /// The command as run.
    pub command: String,
    pub exit_code: i32,
    /// `pyflakes` or `ruff-json`: how its output was read.
    pub format: String,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LintOutput {
    pub passed: bool,
    /// Sorted by file, line, column.
    pub findings: Vec<LintFinding>,
    /// The files linted or parsed.
    pub checked: Vec<String>,
    pub summary: String,
    /// Where the commands came from: `input`, `lint_check.json`, `default`,
    /// or `none` (no Python files: no linter ran).
    pub source: String,
    pub commands: Vec<LintRun>,
}

pub struct LintCheck;

impl Tool for LintCheck {
    const NAME: &'static str = "lint_check";
    const DESCRIPTION: &'static str = "Gate L1 (syntax): lints the workspace's Python files through a granted linter \
         (`python3 -m pyflakes .` by default; `ruff check --output-format json .` understood too; commands from the \
         input's `commands` or `lint_check.json`) and parses every YAML and JSON file; findings with file and line. \
         The policy must grant the linter's program (grants: { exec: { programs: [python3] } }).";
    type Input = LintInput;
    type Output = LintOutput;

    fn run(input: LintInput, cx: &Context) -> Result<LintOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        let py = source::list_files("", &[".py"]);
        let mut findings = Vec::new();
        let mut commands = Vec::new();
        let origin = if py.is_empty() {
            taylordash_sdk::log(Level::Info, "lint_check: no Python files: no linter runs");
            "none".to_string()
        } else {
            let (specs, origin) = match input.commands {
                Some(c) => (c, "input"),
                None => match exec_kit::load_config::<Config>(CONFIG)? {
                    Some(cfg) => (cfg.commands, CONFIG),
                    None => (vec![CommandSpec::Line(DEFAULT_COMMAND.into())], "default"),
                },
            };
            if specs.is_empty() {
                return Err(ToolError::InvalidInput(format!("commands: empty (from {origin})")));
            }
            for (i, spec) in specs.iter().enumerate() {
                let cmd = exec_kit::to_command(spec).map_err(|m| ToolError::InvalidInput(format!("commands[{i}]: {m}")))?;
                let out = exec_kit::run(Self::NAME, "linter", &cmd)?;
                let (run, found) = lint::read_linter_output(&cmd, &out, &py)?;
                commands.push(run);
                findings.extend(found);
            }
            origin.to_string()
        };
        let structured = source::list_files("", &[".yaml", ".yml", ".json"]);
        for f in &structured {
            findings.extend(lint::parse_structured(f));
        }
        let mut checked: Vec<String> = py.into_iter().chain(structured).collect();
        checked.sort();
        findings.sort();
        findings.dedup();
        let lines: Vec<(String, String, String)> =
            findings.iter().map(|f| (f.file.clone(), f.location.clone(), f.message.clone())).collect();
        let summary = exec_kit::summarize(Self::NAME, &lines, checked.len(), "Python lints clean, YAML and JSON parse");
        let out = LintOutput { passed: findings.is_empty(), findings, checked, summary, source: origin, commands };
        exec_kit::write_report(Self::NAME, &out)?;
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    commands: Vec<CommandSpec>,
}

export_tool!(LintCheck);

#[cfg(test)]
mod tests;
