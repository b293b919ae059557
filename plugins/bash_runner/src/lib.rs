//! `bash_runner`: runs the generated test suite — the `qa_tests` agent's
//! second tool, after `pytest_asyncio`.
//!
//! Runs each command through the host's `exec` capability
//! (`taylordash_sdk::exec::run`; the policy must grant the program — the
//! host runs it in a scratch copy of the workspace with a cleared
//! environment) and parses pytest's pass/fail counts from its output. The
//! commands come from the `commands` input, else from `bash_runner.json` in
//! the workspace (`{"commands": [...]}`: how an operator points the seed's
//! input-less pipeline at a virtualenv's interpreter), else the default
//! `python3 -B -m pytest -q -p no:cacheprovider -o asyncio_default_fixture_loop_scope=function`
//! (`-B` and no cache provider: nothing but results comes back from the
//! scratch copy). A command is a string (split like a shell word list,
//! quotes honoured; no shell runs) or `{program, args, stdin?}`.
//!
//! Returns `{ passed, failed, errors, skipped, exit_code, commands }` and
//! writes `reports/bash_runner.json` and `reports/bash_runner.log`. Fails —
//! so the host merges nothing and the stage shows the failure — when a
//! command cannot run, exits non-zero, or reports failed or erroring tests;
//! the error names the failing tests.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{paths, source};
use taylordash_sdk::exec;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod runner;
pub use exec_kit::CommandSpec;
pub use runner::*;

pub const DEFAULT_COMMAND: &str =
    "python3 -B -m pytest -q -p no:cacheprovider -o asyncio_default_fixture_loop_scope=function";
/// The workspace file that may name the commands.
pub const CONFIG: &str = "bash_runner.json";
/// Output kept in the log report per command (the tail, where pytest's summary is).
const LOG_TAIL: usize = 64 * 1024;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BashRunnerInput {
    /// The commands to run, in order. Default: `bash_runner.json` in the
    /// workspace, else `python3 -B -m pytest -q …`.
    #[serde(default)]
    pub commands: Option<Vec<CommandSpec>>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommandResult {
    /// The command as run.
    pub command: String,
    pub exit_code: i32,
    pub passed: u32,
    pub failed: u32,
    pub errors: u32,
    pub skipped: u32,
    /// pytest's summary line, if any.
    pub summary: Option<String>,
    /// `tests/test_api.py::test_x` of each failed or erroring test.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BashRunnerOutput {
    pub passed: u32,
    pub failed: u32,
    pub errors: u32,
    pub skipped: u32,
    /// The first non-zero exit code, else 0.
    pub exit_code: i32,
    /// Where the commands came from: `input`, `bash_runner.json` or `default`.
    pub source: String,
    pub commands: Vec<CommandResult>,
    pub files: Vec<String>,
}

pub struct BashRunner;

impl Tool for BashRunner {
    const NAME: &'static str = "bash_runner";
    const DESCRIPTION: &'static str = "Runs the test commands through the exec capability and reports pass/fail \
         counts; fails when a test fails. The commands come from the input's `commands`, else from \
         `bash_runner.json` in the workspace ({\"commands\": [\"python3 -m pytest -q\", {\"program\": \"ruff\", \
         \"args\": [\"check\", \".\"]}]}), else `python3 -B -m pytest -q …`; the policy must grant each \
         program (grants: { exec: { programs: [python3] } }).";
    type Input = BashRunnerInput;
    type Output = BashRunnerOutput;

    fn run(input: BashRunnerInput, cx: &Context) -> Result<BashRunnerOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        service_model::log_ignored(Self::NAME, &input.other);
        let (specs, origin) = match input.commands {
            Some(c) => (c, "input"),
            None if source::exists(CONFIG) => {
                #[derive(Deserialize)]
                struct Config {
                    commands: Vec<CommandSpec>,
                }
                let (cfg, _) = source::load::<Config>(CONFIG, &Value::String(CONFIG.into()))?;
                (cfg.commands, CONFIG)
            }
            None => (vec![CommandSpec::Line(DEFAULT_COMMAND.into())], "default"),
        };
        if specs.is_empty() {
            return Err(ToolError::InvalidInput(format!("commands: empty (from {origin})")));
        }
        let mut commands = Vec::new();
        let mut log = String::new();
        for (i, spec) in specs.iter().enumerate() {
            let cmd = to_command(spec).map_err(|m| ToolError::InvalidInput(format!("commands[{i}]: {m}")))?;
            let shown = shown(&cmd);
            taylordash_sdk::log(Level::Info, &format!("run {shown}"));
            let out = exec::run(&cmd).map_err(|why| ToolError::Failed(format!("commands[{i}] `{shown}`: cannot run: {why}")))?;
            let text = strip_ansi(&format!("{}{}", out.stdout, out.stderr));
            let r = parse(&shown, out.status, &text);
            taylordash_sdk::log(
                if r.exit_code == 0 { Level::Info } else { Level::Warn },
                &format!(
                    "{shown}: exit {}, {} passed, {} failed, {} errors, {} skipped",
                    r.exit_code, r.passed, r.failed, r.errors, r.skipped
                ),
            );
            log.push_str(&format!("$ {shown}\n{}\n[exit {}]\n\n", tail(&text, LOG_TAIL), r.exit_code));
            commands.push(r);
        }
        let sum = |f: fn(&CommandResult) -> u32| commands.iter().map(f).sum::<u32>();
        let mut output = BashRunnerOutput {
            passed: sum(|c| c.passed),
            failed: sum(|c| c.failed),
            errors: sum(|c| c.errors),
            skipped: sum(|c| c.skipped),
            exit_code: commands.iter().map(|c| c.exit_code).find(|c| *c != 0).unwrap_or(0),
            source: origin.to_string(),
            commands,
            files: Vec::new(),
        };
        if output.exit_code != 0 || output.failed > 0 || output.errors > 0 {
            let failing: Vec<String> = output.commands.iter().flat_map(|c| c.failures.clone()).collect();
            let bad = output.commands.iter().find(|c| c.exit_code != 0 || c.failed > 0 || c.errors > 0);
            return Err(ToolError::Failed(format!(
                "`{}` exited {}: {} passed, {} failed, {} errors{}",
                bad.map(|c| c.command.as_str()).unwrap_or(""),
                output.exit_code,
                output.passed,
                output.failed,
                output.errors,
                if failing.is_empty() { String::new() } else { format!("; failing: {}", failing.join(", ")) }
            )));
        }
        let mut out = source::Out::new();
        let report_json = format!("{}/bash_runner.json", paths::REPORTS);
        let report_log = format!("{}/bash_runner.log", paths::REPORTS);
        output.files = vec![report_json.clone(), report_log.clone()];
        let json = serde_json::to_string_pretty(&output).map_err(ToolError::failed)?;
        out.write(&report_json, &(json + "\n"))?;
        out.write(&report_log, &log)?;
        Ok(output)
    }
}

export_tool!(BashRunner);

#[cfg(test)]
mod tests;
