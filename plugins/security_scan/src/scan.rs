//! What `security_scan` does beside its `Input`, `Output` and `impl Tool`
//! (in `lib.rs`): running the scanners and reading bandit's JSON report.

use taylordash_sdk::exec::{Command, Output};

use super::*;

/// The test id of a file bandit could not scan.
pub const SCAN_ERROR: &str = "scan-error";

#[derive(Deserialize)]
struct BanditReport {
    #[serde(default)]
    errors: Vec<BanditError>,
    #[serde(default)]
    results: Vec<BanditResult>,
    #[serde(default)]
    metrics: Map<String, Value>,
}

#[derive(Deserialize)]
struct BanditError {
    filename: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct BanditResult {
    filename: String,
    #[serde(default)]
    line_number: Option<u32>,
    #[serde(default)]
    col_offset: Option<u32>,
    test_id: String,
    #[serde(default)]
    test_name: Option<String>,
    issue_severity: String,
    #[serde(default)]
    issue_confidence: Option<String>,
    issue_text: String,
    #[serde(default)]
    issue_cwe: Option<Cwe>,
}

#[derive(Deserialize)]
struct Cwe {
    #[serde(default)]
    id: Option<u32>,
}

pub fn scan(specs: &[CommandSpec], origin: &str, min: Severity, waivers: &[Waiver], py: &[String]) -> Result<ScanOutput, ToolError> {
    let mut findings = Vec::new();
    let mut below = Vec::new();
    let mut accepted = Vec::new();
    let mut used = vec![false; waivers.len()];
    let mut checked = Vec::new();
    let mut commands = Vec::new();
    if py.is_empty() {
        findings.push(ScanFinding {
            file: "app/".into(),
            line: None,
            location: String::new(),
            test_id: "no-code".into(),
            test_name: None,
            severity: Severity::High,
            confidence: None,
            cwe: None,
            message: "no Python code in the workspace to scan (fastapi_gen writes app/)".into(),
            layer: LAYER.into(),
            accepted_because: None,
        });
    } else {
        for (i, spec) in specs.iter().enumerate() {
            let cmd = exec_kit::to_command(spec).map_err(|m| ToolError::InvalidInput(format!("commands[{i}]: {m}")))?;
            let out = exec_kit::run(SecurityScan::NAME, "scanner", &cmd)?;
            let (run, found, files) = read_bandit(&cmd, &out, py)?;
            commands.push(run);
            checked.extend(files);
            for mut f in found {
                let waiver = waivers.iter().position(|w| w.test_id == f.test_id && w.file == f.file);
                match waiver {
                    // Scan errors are never waived: unscanned code is not reviewed code.
                    Some(i) if f.test_id != SCAN_ERROR => {
                        used[i] = true;
                        f.accepted_because = Some(waivers[i].reason.clone());
                        accepted.push(f);
                    }
                    _ if f.severity >= min => findings.push(f),
                    _ => below.push(f),
                }
            }
        }
    }
    findings.sort();
    findings.dedup();
    below.sort();
    below.dedup();
    accepted.sort();
    accepted.dedup();
    let unused_waivers: Vec<Waiver> =
        waivers.iter().zip(&used).filter(|(_, u)| !**u).map(|(w, _)| w.clone()).collect();
    for w in &unused_waivers {
        taylordash_sdk::log(
            taylordash_sdk::Level::Warn,
            &format!("security_scan: the waiver of {} in {} matched no result (stale: remove it)", w.test_id, w.file),
        );
    }
    checked.sort();
    checked.dedup();
    let lines: Vec<(String, String, String)> = findings
        .iter()
        .map(|f| (f.file.clone(), f.location.clone(), format!("{} ({}) {}", f.test_id, f.severity.as_str(), f.message)))
        .collect();
    let mut what = format!("no bandit issue of {} severity or above", min.as_str());
    if !below.is_empty() {
        what.push_str(&format!(", {} below it", below.len()));
    }
    if !accepted.is_empty() {
        what.push_str(&format!(", {} accepted by waiver", accepted.len()));
    }
    let summary = exec_kit::summarize(SecurityScan::NAME, &lines, checked.len(), &what);
    let out = ScanOutput {
        passed: findings.is_empty(),
        findings,
        below_threshold: below,
        accepted,
        unused_waivers,
        checked,
        summary,
        min_severity: min,
        source: origin.to_string(),
        commands,
    };
    exec_kit::write_report(SecurityScan::NAME, &out)?;
    Ok(out)
}

/// One bandit run: its findings (every severity) and the files it scanned.
/// Exit 0 (no issue) or 1 (issues) with a JSON report; anything else could not scan.
pub fn read_bandit(cmd: &Command, out: &Output, known: &[String]) -> Result<(ScanRun, Vec<ScanFinding>, Vec<String>), ToolError> {
    let line = exec_kit::shown(cmd);
    let said = || exec_kit::tail(if out.stderr.trim().is_empty() { &out.stdout } else { &out.stderr }, exec_kit::ERROR_TAIL).to_string();
    let json = out.stdout.find('{').map(|i| &out.stdout[i..]);
    let report = match (out.status, json) {
        (0 | 1, Some(text)) => serde_json::from_str::<BanditReport>(text).map_err(|e| {
            ToolError::Failed(format!("security_scan: `{line}` printed no bandit JSON report (`-f json`): {e}"))
        })?,
        _ => {
            return Err(ToolError::Failed(format!(
                "security_scan: the scanner `{line}` exited {} without a report (is bandit installed for that interpreter?): {}",
                out.status,
                said()
            )));
        }
    };
    let mut found = Vec::new();
    for r in report.results {
        let col = r.col_offset.map(|c| c + 1);
        found.push(ScanFinding {
            file: exec_kit::relativize(&r.filename, known),
            line: r.line_number,
            location: match (r.line_number, col) {
                (Some(l), Some(c)) => format!("{l}:{c}"),
                (Some(l), None) => l.to_string(),
                _ => String::new(),
            },
            test_id: r.test_id,
            test_name: r.test_name,
            severity: Severity::from_bandit(&r.issue_severity),
            confidence: r.issue_confidence.map(|c| c.to_ascii_lowercase()),
            cwe: r.issue_cwe.and_then(|c| c.id),
            message: r.issue_text,
            layer: LAYER.into(),
            accepted_because: None,
        });
    }
    for e in report.errors {
        found.push(ScanFinding {
            file: exec_kit::relativize(&e.filename, known),
            line: None,
            location: String::new(),
            test_id: SCAN_ERROR.into(),
            test_name: None,
            severity: Severity::High,
            confidence: None,
            cwe: None,
            message: format!("bandit could not scan this file: {}", e.reason),
            layer: LAYER.into(),
            accepted_because: None,
        });
    }
    let files: Vec<String> =
        report.metrics.keys().filter(|k| !k.starts_with('_')).map(|k| exec_kit::relativize(k, known)).collect();
    taylordash_sdk::log(taylordash_sdk::Level::Info, &format!("security_scan: `{line}`: exit {}, {} result(s)", out.status, found.len()));
    Ok((ScanRun { command: line, exit_code: out.status, results: found.len() }, found, files))
}
