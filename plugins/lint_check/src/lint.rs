//! What `lint_check` does beside its `Input`, `Output` and `impl Tool` (in
//! `lib.rs`): reading a linter's output (pyflakes-style lines, ruff JSON)
//! and parsing YAML and JSON files.

use serde::Deserialize;
use serde::de::IgnoredAny;
use taylordash_sdk::ToolError;
use taylordash_sdk::exec::{Command, Output};

use super::*;

/// YAML and JSON files larger than this are not parsed (reported instead).
pub const MAX_PARSE_BYTES: u64 = 8 << 20;

fn finding(file: &str, line: Option<u32>, column: Option<u32>, message: impl Into<String>, code: Option<String>, tool: &str) -> LintFinding {
    let location = match (line, column) {
        (Some(l), Some(c)) => format!("{l}:{c}"),
        (Some(l), None) => l.to_string(),
        _ => String::new(),
    };
    LintFinding {
        file: file.to_string(),
        line,
        column,
        location,
        message: message.into(),
        code,
        tool: tool.to_string(),
        layer: LAYER.to_string(),
    }
}

/// The linter's name: the module after `-m`, else the program's file name.
pub fn tool_name(cmd: &Command) -> String {
    if let Some(i) = cmd.args.iter().position(|a| a == "-m")
        && let Some(m) = cmd.args.get(i + 1)
    {
        return m.clone();
    }
    cmd.program.rsplit('/').next().unwrap_or(&cmd.program).to_string()
}

/// Read one linter run. Findings on known workspace Python files only (a
/// warning Python prints about its own library is not a finding). A run
/// that exits non-zero without a finding could not lint: an error.
pub fn read_linter_output(cmd: &Command, out: &Output, known: &[String]) -> Result<(LintRun, Vec<LintFinding>), ToolError> {
    let line = exec_kit::shown(cmd);
    let tool = tool_name(cmd);
    let stdout = out.stdout.trim_start();
    let (format, findings) = if stdout.starts_with('[') {
        let found = parse_ruff_json(stdout, known).map_err(|e| {
            ToolError::Failed(format!("lint_check: `{line}` printed JSON that is not ruff's (`--output-format json`): {e}"))
        })?;
        ("ruff-json", found)
    } else {
        let mut found = parse_lines(&out.stdout, known, &tool);
        found.extend(parse_lines(&out.stderr, known, &tool));
        ("pyflakes", found)
    };
    if out.status != 0 && findings.is_empty() {
        let said = if out.stderr.trim().is_empty() { &out.stdout } else { &out.stderr };
        return Err(ToolError::Failed(format!(
            "lint_check: the linter `{line}` exited {} without reporting a finding (is it installed for that interpreter?): {}",
            out.status,
            exec_kit::tail(said, exec_kit::ERROR_TAIL)
        )));
    }
    taylordash_sdk::log(Level::Info, &format!("lint_check: `{line}`: exit {}, {} finding(s)", out.status, findings.len()));
    Ok((LintRun { command: line, exit_code: out.status, format: format.into(), findings: findings.len() }, findings))
}

/// `path:line:col: message` or `path:line: message` (pyflakes, flake8,
/// ruff's concise output); a leading rule code (`F401`) becomes `code`.
pub fn parse_lines(text: &str, known: &[String], tool: &str) -> Vec<LintFinding> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let Some((path, line, col, message)) = split_location(raw) else { continue };
        let file = exec_kit::relativize(path, known);
        if !known.contains(&file) {
            continue;
        }
        let mut message = message.to_string();
        let mut code = None;
        if let Some((first, rest)) = message.split_once(' ')
            && is_rule_code(first)
        {
            code = Some(first.to_string());
            message = rest.trim_start_matches("[*]").trim().to_string();
        }
        out.push(finding(&file, Some(line), col, message, code, tool));
    }
    out
}

fn is_rule_code(word: &str) -> bool {
    let letters = word.chars().take_while(|c| c.is_ascii_uppercase()).count();
    letters > 0 && letters < word.len() && word[letters..].chars().all(|c| c.is_ascii_digit())
}

/// `(path, line, col, message)` of `path:12:5: message` / `path:12: message`.
pub fn split_location(raw: &str) -> Option<(&str, u32, Option<u32>, &str)> {
    for (i, _) in raw.match_indices(':') {
        let path = &raw[..i];
        let rest = &raw[i + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if path.trim().is_empty() || digits == 0 || !rest[digits..].starts_with(':') {
            continue;
        }
        let Ok(line) = rest[..digits].parse::<u32>() else { continue };
        let mut after = &rest[digits + 1..];
        let mut col = None;
        let d2 = after.bytes().take_while(u8::is_ascii_digit).count();
        if d2 > 0 && after[d2..].starts_with(':') {
            col = after[..d2].parse::<u32>().ok();
            after = &after[d2 + 1..];
        }
        let message = after.trim();
        if message.is_empty() {
            continue;
        }
        return Some((path, line, col, message));
    }
    None
}

#[derive(Deserialize)]
struct RuffDiagnostic {
    #[serde(default)]
    code: Option<String>,
    message: String,
    filename: String,
    #[serde(default)]
    location: Option<RuffLocation>,
}

#[derive(Deserialize)]
struct RuffLocation {
    row: u32,
    column: u32,
}

/// ruff's `--output-format json`: an array of diagnostics (a syntax error
/// has no code).
pub fn parse_ruff_json(text: &str, known: &[String]) -> Result<Vec<LintFinding>, String> {
    let diags: Vec<RuffDiagnostic> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(diags
        .into_iter()
        .map(|d| {
            let file = exec_kit::relativize(&d.filename, known);
            let (line, col) = d.location.map(|l| (Some(l.row), Some(l.column))).unwrap_or((None, None));
            finding(&file, line, col, d.message, d.code, "ruff")
        })
        .collect())
}

/// Parse a YAML (every document) or JSON file of the workspace; the
/// findings say where it does not parse.
pub fn parse_structured(file: &str) -> Vec<LintFinding> {
    let is_json = file.ends_with(".json");
    let tool = if is_json { "json" } else { "yaml" };
    let path = taylordash_sdk::workspace_dir().join(file);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_PARSE_BYTES) {
        return vec![finding(file, None, None, format!("larger than {} MiB: not parsed", MAX_PARSE_BYTES >> 20), None, tool)];
    }
    let text = match std::fs::read(&path).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => return vec![finding(file, None, None, "not UTF-8 text", None, tool)],
        Err(e) => return vec![finding(file, None, None, format!("cannot read: {e}"), None, tool)],
    };
    if is_json {
        return match serde_json::from_str::<IgnoredAny>(&text) {
            Ok(_) => Vec::new(),
            Err(e) => {
                let (l, c) = (e.line() as u32, e.column() as u32);
                let message = strip_location(&e.to_string(), l, c);
                vec![finding(file, Some(l), Some(c), format!("invalid JSON: {message}"), None, tool)]
            }
        };
    }
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        if let Err(e) = serde_yaml_ng::Value::deserialize(doc) {
            let at = e.location().map(|l| (l.line() as u32, l.column() as u32));
            let message = match at {
                Some((l, c)) => strip_location(&e.to_string(), l, c),
                None => e.to_string(),
            };
            let which = if i > 0 { format!(" (document {})", i + 1) } else { String::new() };
            return vec![finding(file, at.map(|a| a.0), at.map(|a| a.1), format!("invalid YAML{which}: {message}"), None, tool)];
        }
    }
    Vec::new()
}

/// Drop ` at line L column C` from a parser message: the location is in the finding.
fn strip_location(message: &str, line: u32, column: u32) -> String {
    message.replacen(&format!(" at line {line} column {column}"), "", 1)
}
