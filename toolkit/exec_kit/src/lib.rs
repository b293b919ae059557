//! What the tools that run granted programs share — `bash_runner` (the
//! suite) and the exec-driven quality gates `lint_check` (L1), `perf_check`
//! (L4) and `security_scan` (L5): the command format (a shell-like word list
//! or `{program, args, stdin}`), the optional `<tool>.json` configuration
//! file in the workspace, running a granted program with an error that names
//! it and the missing grant, workspace-relative paths for what a program
//! reports, and a gate's report and summary.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{paths, source};
use taylordash_sdk::exec::{self, Command};
use taylordash_sdk::{Level, ToolError};

/// Output of a failed program quoted in an error (the tail, where the reason is).
pub const ERROR_TAIL: usize = 1500;

/// A command: a shell-like word list, or its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CommandSpec {
    /// `"python3 -m pyflakes ."`: split into words (quotes honoured, no shell).
    Line(String),
    Parts {
        program: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        stdin: Option<String>,
    },
}

/// Split a command line into words: whitespace separates, `'…'` and `"…"`
/// group, `\` escapes (outside single quotes). No globbing, no variables.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed ' in `{line}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x) => cur.push(x),
                            None => return Err(format!("trailing \\ in `{line}`")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed \" in `{line}`")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(x) => {
                    in_word = true;
                    cur.push(x);
                }
                None => return Err(format!("trailing \\ in `{line}`")),
            },
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

pub fn to_command(spec: &CommandSpec) -> Result<Command, String> {
    match spec {
        CommandSpec::Line(line) => {
            let mut words = split_words(line)?;
            if words.is_empty() {
                return Err("an empty command".into());
            }
            let program = words.remove(0);
            Ok(Command { program, args: words, stdin: None })
        }
        CommandSpec::Parts { program, args, stdin } => {
            if program.trim().is_empty() {
                return Err("program is empty".into());
            }
            Ok(Command { program: program.clone(), args: args.clone(), stdin: stdin.clone() })
        }
    }
}

/// The command as a user would type it.
pub fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.program.as_str())
        .chain(cmd.args.iter().map(String::as_str))
        .map(|w| if w.is_empty() || w.contains(char::is_whitespace) { format!("'{w}'") } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `max` bytes of `s` (on a character boundary), trimmed.
pub fn tail(s: &str, max: usize) -> &str {
    let s = s.trim();
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// `<gate>.json` in the workspace, if there is one: `T` with the file named in errors.
pub fn load_config<T: DeserializeOwned>(file: &str) -> Result<Option<T>, ToolError> {
    if !source::exists(file) {
        return Ok(None);
    }
    let (cfg, _) = source::load::<T>(file, &Value::String(file.into()))?;
    Ok(Some(cfg))
}

/// Run `cmd` through the host's `exec`. A refusal (no grant, program not
/// granted, not found) becomes a `Failed` error naming the gate, the
/// command and the grant the policy needs.
pub fn run(gate: &str, what: &str, cmd: &Command) -> Result<exec::Output, ToolError> {
    let line = shown(cmd);
    taylordash_sdk::log(Level::Info, &format!("{gate}: run {line}"));
    exec::run(cmd).map_err(|why| {
        ToolError::Failed(format!(
            "{gate}: cannot run the {what} `{line}`: {why}; grant the program in the policy \
             (plugins: {{ {gate}: {{ grants: {{ exec: {{ programs: [{}] }} }} }} }}) or name another \
             command in `{gate}.json`",
            cmd.program
        ))
    })
}

/// A path a program printed, workspace-relative: `./app/x.py` → `app/x.py`;
/// an absolute path in the scratch copy → the workspace file it ends with.
pub fn relativize(path: &str, known: &[String]) -> String {
    let p = path.trim().trim_start_matches("./");
    if known.iter().any(|k| k == p) {
        return p.to_string();
    }
    known
        .iter()
        .filter(|k| p.ends_with(&format!("/{k}")))
        .max_by_key(|k| k.len())
        .cloned()
        .unwrap_or_else(|| p.to_string())
}

/// Write `reports/<gate>.json` into the out dir (the orchestrator discards
/// a gate's out dir; `taylordash invoke --out` keeps it).
pub fn write_report<T: Serialize>(gate: &str, report: &T) -> Result<(), ToolError> {
    let json = serde_json::to_string_pretty(report).map_err(ToolError::failed)?;
    source::Out::new().write(&format!("{}/{gate}.json", paths::REPORTS), &(json + "\n"))
}

/// The summary line and a log line per finding, as `finish_gate` says them.
pub fn summarize(gate: &str, findings: &[(String, String, String)], checked: usize, what: &str) -> String {
    for (file, at, message) in findings {
        taylordash_sdk::log(Level::Warn, &format!("{file}:{at}: {message}"));
    }
    let summary = if findings.is_empty() {
        format!("{gate}: passed: {what} ({checked} files checked)")
    } else {
        let mut files: Vec<&str> = findings.iter().map(|f| f.0.as_str()).collect();
        files.sort();
        files.dedup();
        format!("{gate}: {} finding(s) in {} file(s)", findings.len(), files.len())
    };
    taylordash_sdk::log(if findings.is_empty() { Level::Info } else { Level::Warn }, &summary);
    summary
}
