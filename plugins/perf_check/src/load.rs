//! What `perf_check` does beside its `Input`, `Output` and `impl Tool` (in
//! `lib.rs`): settings and targets, running the load generator, reading its
//! result into findings.

use serde_json::json;
use service_model::{EndpointKind, Method, load_model};
use taylordash_sdk::exec::{Command, Output};

use super::*;

pub const MAX_REQUESTS: u32 = 100_000;
pub const MAX_CONCURRENCY: u32 = 1_000;

fn pick<T>(own: Option<T>, file: Option<T>) -> Option<(T, &'static str)> {
    own.map(|v| (v, "input")).or_else(|| file.map(|v| (v, CONFIG)))
}

fn bounded(name: &str, value: Option<(u32, &str)>, default: u32, max: u32) -> Result<u32, ToolError> {
    match value {
        None => Ok(default),
        Some((v, _)) if (1..=max).contains(&v) => Ok(v),
        Some((v, from)) => Err(ToolError::InvalidInput(format!("{name}: must be 1 to {max}, got {v} (from {from})"))),
    }
}

/// `app.main:app` → `app/main.py`.
pub fn app_file(app: &str) -> String {
    format!("{}.py", app.split(':').next().unwrap_or(app).replace('.', "/"))
}

/// The endpoints to load and each one's p95 target.
pub fn targets(p95: Option<(u32, &str)>, paths: Option<(Vec<String>, &str)>, backlog: Option<&Value>) -> Result<(Vec<Target>, Option<String>), ToolError> {
    let model = match &paths {
        // Explicit paths: the model only lends its SLOs, if it loads.
        Some(_) => load_model(backlog).ok(),
        None => Some(load_model(backlog).map_err(|e| match e {
            ToolError::InvalidInput(m) => ToolError::InvalidInput(format!("perf_check: no endpoints to load (name `paths`, or give a backlog): {m}")),
            other => other,
        })?),
    };
    let list = |m: &service_model::ServiceModel| -> Vec<(String, u32)> {
        m.endpoints
            .iter()
            .filter(|e| e.kind == EndpointKind::List && e.method == Method::Get && !e.path.contains('{'))
            .map(|e| (e.path.clone(), e.slo.latency_p95_ms))
            .collect()
    };
    let slos = model.as_ref().map(list).unwrap_or_default();
    let chosen: Vec<String> = match paths {
        Some((p, from)) => {
            if let Some(bad) = p.iter().find(|p| !p.starts_with('/') || p.contains(char::is_whitespace)) {
                return Err(ToolError::InvalidInput(format!("paths: `{bad}` is not an absolute URL path (from {from})")));
            }
            p
        }
        None => slos.iter().map(|(p, _)| p.clone()).collect(),
    };
    if chosen.is_empty() {
        return Err(ToolError::InvalidInput(
            "perf_check: the service model has no GET list endpoint to load; name `paths`".into(),
        ));
    }
    let targets = chosen
        .into_iter()
        .map(|path| {
            let (p95_ms, source) = match (p95, slos.iter().find(|(p, _)| *p == path)) {
                (Some((v, from)), _) => (v, from.to_string()),
                (None, Some((_, slo))) => (*slo, "slo".to_string()),
                (None, None) => (DEFAULT_P95_MS, "default".to_string()),
            };
            Target { path, p95_ms, source }
        })
        .collect();
    Ok((targets, model.map(|m| m.source)))
}

pub fn check(own: Settings, file: Option<Settings>) -> Result<PerfOutput, ToolError> {
    let file = file.unwrap_or_default();
    let requests = bounded("requests", pick(own.requests, file.requests), DEFAULT_REQUESTS, MAX_REQUESTS)?;
    let concurrency = bounded("concurrency", pick(own.concurrency, file.concurrency), DEFAULT_CONCURRENCY, MAX_CONCURRENCY)?;
    let p95 = pick(own.p95_ms, file.p95_ms);
    if let Some((0, from)) = p95 {
        return Err(ToolError::InvalidInput(format!("p95_ms: must be above 0 (from {from})")));
    }
    let python = pick(own.python, file.python).map(|p| p.0).unwrap_or_else(|| DEFAULT_PYTHON.into());
    let app = pick(own.app, file.app).map(|p| p.0).unwrap_or_else(|| DEFAULT_APP.into());
    let module = app.split(':').next().unwrap_or("");
    if module.is_empty() || !app.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':')) {
        return Err(ToolError::InvalidInput(format!("app: `{app}` is not `module.path:attribute`")));
    }
    let backlog = own.backlog.or(file.backlog);
    let (targets, backlog_file) = targets(p95, pick(own.paths, file.paths), backlog.as_ref())?;

    let paths: Vec<&str> = targets.iter().map(|t| t.path.as_str()).collect();
    let config = json!({ "app": app, "paths": paths, "requests": requests, "concurrency": concurrency });
    let cmd = Command {
        program: python,
        args: vec!["-B".into(), "-".into(), config.to_string()],
        stdin: Some(LOAD_SCRIPT.to_string()),
    };
    let out = exec_kit::run(PerfCheck::NAME, "load generator", &cmd)?;
    let load = read_result(&cmd, &out)?;

    let file = app_file(&app);
    let mut findings = Vec::new();
    for t in &targets {
        let figures = load.endpoints.get(&t.path).cloned().unwrap_or_default();
        let endpoint = format!("GET {}", t.path);
        let said = figures_text(&figures);
        if figures.p95_ms > f64::from(t.p95_ms) {
            findings.push(PerfFinding {
                file: file.clone(),
                line: None,
                location: String::new(),
                message: format!("{endpoint}: p95 {} ms over the {} ms target ({}); {said}", figures.p95_ms, t.p95_ms, source_text(&t.source)),
                layer: LAYER.into(),
                endpoint: Some(endpoint.clone()),
                target_p95_ms: t.p95_ms,
                figures: figures.clone(),
            });
        }
        if figures.errors > 0 || figures.requests == 0 {
            let prefix = format!("{endpoint}: ");
            let samples: Vec<&str> =
                load.error_samples.iter().filter_map(|s| s.strip_prefix(&prefix)).take(3).collect();
            let message = if figures.requests == 0 {
                format!("{endpoint}: no request was made")
            } else {
                format!(
                    "{endpoint}: {} of {} requests failed{}; {said}",
                    figures.errors,
                    figures.requests,
                    if samples.is_empty() { String::new() } else { format!(" ({})", samples.join(", ")) }
                )
            };
            findings.push(PerfFinding {
                file: file.clone(),
                line: None,
                location: String::new(),
                message,
                layer: LAYER.into(),
                endpoint: Some(endpoint),
                target_p95_ms: t.p95_ms,
                figures,
            });
        }
    }
    let target_p95_ms = targets.iter().map(|t| t.p95_ms).min().unwrap_or(DEFAULT_P95_MS);
    let checked: Vec<String> = backlog_file.into_iter().chain(std::iter::once(file)).collect();
    let lines: Vec<(String, String, String)> = findings.iter().map(|f| (f.file.clone(), f.location.clone(), f.message.clone())).collect();
    let what = format!(
        "p95 {} ms within the {target_p95_ms} ms target, {} requests, 0 errors",
        load.total.p95_ms, load.total.requests
    );
    let summary = exec_kit::summarize(PerfCheck::NAME, &lines, checked.len(), &what);
    let out = PerfOutput { passed: findings.is_empty(), findings, checked, summary, target_p95_ms, targets, load };
    exec_kit::write_report(PerfCheck::NAME, &out)?;
    Ok(out)
}

fn figures_text(f: &Figures) -> String {
    format!("p50 {} ms, p95 {} ms, p99 {} ms, {} requests, {} errors", f.p50_ms, f.p95_ms, f.p99_ms, f.requests, f.errors)
}

fn source_text(source: &str) -> &'static str {
    match source {
        "input" => "the input's p95_ms",
        CONFIG => "perf_check.json's p95_ms",
        "slo" => "the backlog's latency SLO",
        _ => "the default",
    }
}

/// The generator's JSON line (the last stdout line that is an object).
pub fn read_result(cmd: &Command, out: &Output) -> Result<LoadResult, ToolError> {
    let line = exec_kit::shown(&Command { stdin: None, ..cmd.clone() });
    let last = out.stdout.lines().rev().map(str::trim).find(|l| l.starts_with('{'));
    let said = || exec_kit::tail(if out.stderr.trim().is_empty() { &out.stdout } else { &out.stderr }, exec_kit::ERROR_TAIL).to_string();
    let Some(last) = last else {
        return Err(ToolError::Failed(format!("perf_check: the load generator `{line}` exited {} without a result: {}", out.status, said())));
    };
    let value: Value = serde_json::from_str(last)
        .map_err(|e| ToolError::Failed(format!("perf_check: the load generator `{line}` printed no JSON result ({e}): {}", said())))?;
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(ToolError::Failed(format!("perf_check: the load generator could not test the app: {error}")));
    }
    if out.status != 0 {
        return Err(ToolError::Failed(format!("perf_check: the load generator `{line}` exited {}: {}", out.status, said())));
    }
    serde_json::from_value(value).map_err(|e| ToolError::Failed(format!("perf_check: the load generator's result: {e}")))
}
