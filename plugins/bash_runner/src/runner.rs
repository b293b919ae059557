//! What `bash_runner` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

pub use exec_kit::split_words;
pub(crate) use exec_kit::{shown, to_command};

/// Remove ANSI colour sequences (`ESC [ … letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for x in chars.by_ref() {
                if x.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Counts from pytest's summary line (`1 failed, 18 passed, 2 skipped in
/// 0.64s`, with or without `=` rules) and the `FAILED`/`ERROR` lines.
pub fn parse(command: &str, exit_code: i32, output: &str) -> CommandResult {
    let mut r = CommandResult {
        command: command.to_string(),
        exit_code,
        passed: 0,
        failed: 0,
        errors: 0,
        skipped: 0,
        summary: None,
        failures: Vec::new(),
    };
    for line in output.lines().rev() {
        let l = line.trim().trim_matches('=').trim();
        let is_summary = (l.contains(" in ") && l.ends_with('s'))
            && (l.contains("passed") || l.contains("failed") || l.contains("error") || l.contains("skipped") || l.starts_with("no tests ran"));
        if !is_summary {
            continue;
        }
        for part in l.split(" in ").next().unwrap_or("").split(',') {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else { continue };
            let Ok(n) = n.parse::<u32>() else { continue };
            match what {
                "passed" => r.passed = n,
                "failed" => r.failed = n,
                "error" | "errors" => r.errors = n,
                "skipped" => r.skipped = n,
                _ => {}
            }
        }
        r.summary = Some(l.to_string());
        break;
    }
    for line in output.lines() {
        for prefix in ["FAILED ", "ERROR "] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let id = rest.split(" - ").next().unwrap_or(rest).trim().to_string();
                if !r.failures.contains(&id) {
                    r.failures.push(id);
                }
            }
        }
    }
    r
}
