//! Preflight: before stage 1 runs, what the pipeline's tools will ask of
//! the sandbox (exec of a program, HTTP to a `host:port`) against what the
//! policy grants the caller — so that a run does not plan and generate for
//! minutes and then fail in validation because `bash_runner` may not start
//! `python3`.
//!
//! A tool's needs are read from what it will do in this workspace: the
//! commands of `bash_runner.json` (else bash_runner's default command), the
//! endpoint of `minio_uploader.json`, the MCP endpoint of `context7.json`
//! (for `context7_resolve_library` and `context7_get_docs`), and for the
//! `mcp_call` plugin the endpoint `mcp_servers.json` gives each
//! `mcp_orchestration` server a stage calls. Every missing grant is named in one
//! [`PreflightError`], with a `policy.yaml` snippet that grants them all.
//! Pure decisions over the pipeline, the workspace and the policy: nothing
//! is run, nothing is audited.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::pipeline::Pipeline;
use crate::policy::Policy;

/// bash_runner's command when neither its input nor `bash_runner.json`
/// names one (kept in step with `plugins/bash_runner`'s `DEFAULT_COMMAND`).
pub const BASH_RUNNER_DEFAULT_PROGRAM: &str = "python3";

/// What one tool will ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Run these programs through the `exec` capability.
    Exec { programs: Vec<String>, source: String },
    /// Reach this `host:port` over wasi:http.
    Http { host_port: String, source: String },
}

/// A grant the run needs and the policy does not give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub plugin: String,
    /// The stages whose agents use the plugin.
    pub stages: Vec<String>,
    pub need: Need,
    /// Why the policy does not give it, when it names the grant but not
    /// for this caller's role.
    pub role_too_low: Option<String>,
}

/// Every grant the run needs and lacks, and the snippet that grants them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PreflightError {
    pub missing: Vec<Missing>,
    /// Whether a policy was given (without one nothing is granted, and the
    /// snippet must also map the caller to a role).
    pub has_policy: bool,
    /// The caller, for the snippet's `principals`.
    pub principal: String,
    pub role: String,
}

impl PreflightError {
    /// A denial: the exit code of every policy refusal.
    pub fn exit_code(&self) -> i32 {
        3
    }
}

/// What the tools of `pipeline` will ask for when run in `workspace`, by
/// plugin, with the stages that use each.
pub fn needs(pipeline: &Pipeline, workspace: &Path) -> BTreeMap<String, (Vec<String>, Vec<Need>)> {
    let mut out: BTreeMap<String, (Vec<String>, Vec<Need>)> = BTreeMap::new();
    for stage in &pipeline.stages {
        for tool in stage.agents.iter().flat_map(|a| a.tools.iter()) {
            let needs = tool_needs(&tool.name, workspace);
            add_needs(&mut out, &tool.name, &stage.name, needs);
        }
        for point in &stage.integration_points {
            for server in pipeline.mcp_servers.iter().filter(|s| s.serves(&point.name)) {
                let needs = mcp_server_needs(workspace, &server.name).into_iter().collect();
                add_needs(&mut out, MCP_CALL_PLUGIN, &stage.name, needs);
            }
        }
    }
    out
}

/// The plugin the orchestrator calls `mcp_orchestration` servers through.
const MCP_CALL_PLUGIN: &str = "mcp_call";
/// Where the operator says where each `mcp_orchestration` server is.
const MCP_SERVERS_FILE: &str = "mcp_servers.json";

fn add_needs(out: &mut BTreeMap<String, (Vec<String>, Vec<Need>)>, plugin: &str, stage: &str, needs: Vec<Need>) {
    if needs.is_empty() {
        return;
    }
    let entry = out.entry(plugin.to_string()).or_default();
    if !entry.0.iter().any(|s| s == stage) {
        entry.0.push(stage.to_string());
    }
    for need in needs {
        if !entry.1.contains(&need) {
            entry.1.push(need);
        }
    }
}

/// The `host:port` `mcp_servers.json` gives `server`; a missing file or
/// entry is left for `mcp_call` to report (it names the file and server).
fn mcp_server_needs(workspace: &Path, server: &str) -> Option<Need> {
    let text = std::fs::read_to_string(workspace.join(MCP_SERVERS_FILE)).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    let endpoint = doc.get(server)?.get("endpoint")?.as_str()?;
    url_need(endpoint, format!("the endpoint of `{server}` in {MCP_SERVERS_FILE}"))
}

fn tool_needs(tool: &str, workspace: &Path) -> Vec<Need> {
    match tool {
        "bash_runner" => vec![bash_runner_needs(workspace)],
        "minio_uploader" => minio_uploader_needs(workspace).into_iter().collect(),
        "context7_resolve_library" | "context7_get_docs" => endpoint_needs(workspace, "context7.json").into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The programs of `bash_runner.json`'s commands; a file that cannot be
/// read as commands is left for bash_runner itself to report.
fn bash_runner_needs(workspace: &Path) -> Need {
    let config = workspace.join("bash_runner.json");
    let programs: Option<Vec<String>> = std::fs::read_to_string(&config)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|doc| {
            let commands = doc.get("commands")?.as_array()?;
            let mut programs: Vec<String> = Vec::new();
            for command in commands {
                let program = match command {
                    Value::String(line) => first_word(line)?,
                    Value::Object(parts) => parts.get("program")?.as_str()?.to_string(),
                    _ => return None,
                };
                if !programs.contains(&program) {
                    programs.push(program);
                }
            }
            Some(programs).filter(|p| !p.is_empty())
        });
    match programs {
        Some(programs) => Need::Exec { programs, source: "the commands of bash_runner.json".into() },
        None => Need::Exec {
            programs: vec![BASH_RUNNER_DEFAULT_PROGRAM.into()],
            source: "its default command `python3 -B -m pytest -q …`; bash_runner.json in the workspace may name others".into(),
        },
    }
}

/// The program of a command line as bash_runner splits it (quotes honoured).
fn first_word(line: &str) -> Option<String> {
    let line = line.trim_start();
    let word = match line.chars().next()? {
        q @ ('"' | '\'') => line[1..].split(q).next()?.to_string(),
        _ => line.split_whitespace().next()?.to_string(),
    };
    Some(word).filter(|w| !w.is_empty())
}

/// The `host:port` of `minio_uploader.json`'s endpoint; no endpoint means
/// uploading is skipped, which needs nothing.
fn minio_uploader_needs(workspace: &Path) -> Option<Need> {
    endpoint_needs(workspace, "minio_uploader.json")
}

/// The `host:port` of the `endpoint` URL in the workspace's JSON file
/// `file`; none when the file or its endpoint is absent (the tool then
/// skips, or fails naming what is missing).
fn endpoint_needs(workspace: &Path, file: &str) -> Option<Need> {
    let text = std::fs::read_to_string(workspace.join(file)).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    url_need(doc.get("endpoint")?.as_str()?, format!("the endpoint of {file}"))
}

/// Reaching the `host:port` of the URL `endpoint`.
fn url_need(endpoint: &str, source: String) -> Option<Need> {
    let (default_port, rest) = match endpoint.split_once("://") {
        Some(("https", rest)) => (443, rest),
        Some((_, rest)) => (80, rest),
        None => (80, endpoint),
    };
    let authority = rest.split(['/', '?']).next().filter(|a| !a.is_empty())?.to_ascii_lowercase();
    let has_port = if authority.starts_with('[') { authority.contains("]:") } else { authority.contains(':') };
    let host_port = if has_port { authority } else { format!("{authority}:{default_port}") };
    Some(Need::Http { host_port, source })
}

/// Check every need against what `policy` grants a caller of `role`
/// (without a policy nothing is granted).
pub fn check(pipeline: &Pipeline, workspace: &Path, policy: Option<&Policy>, principal: &str, role: &str) -> Result<(), PreflightError> {
    let mut missing = Vec::new();
    for (plugin, (stages, needs)) in needs(pipeline, workspace) {
        let entry = policy.and_then(|p| p.plugins.get(&plugin).map(|e| (p, e)));
        for need in needs {
            let (granted, role_too_low) = match (&need, entry) {
                (_, None) => (false, None),
                (Need::Exec { programs, .. }, Some((policy, e))) => {
                    let written = e.grants.exec.as_ref().is_some_and(|x| programs.iter().all(|p| x.programs.contains(p)));
                    let allowed = e.powerful_allowed(policy, role);
                    (written && allowed, (written && !allowed).then(|| e.needed_role().to_string()))
                }
                (Need::Http { host_port, .. }, Some((_, e))) => {
                    (e.grants.http.as_ref().is_some_and(|h| h.contains(host_port)), None)
                }
            };
            if !granted {
                missing.push(Missing { plugin: plugin.clone(), stages: stages.clone(), need, role_too_low });
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(PreflightError { missing, has_policy: policy.is_some(), principal: principal.to_string(), role: role.to_string() })
}

impl fmt::Display for PreflightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_policy {
            writeln!(f, "preflight: nothing has run: the policy does not grant what the pipeline's tools need:")?;
        } else {
            writeln!(f, "preflight: nothing has run: without --policy no tool is granted anything, and the pipeline's tools need:")?;
        }
        for m in &self.missing {
            let stages: Vec<String> = m.stages.iter().map(|s| format!("`{s}`")).collect();
            let what = match &m.need {
                Need::Exec { programs, source } => format!("exec of {} ({source})", quoted(programs)),
                Need::Http { host_port, source } => format!("http to `{host_port}` ({source})"),
            };
            write!(f, "  - {} (stage {}): {what}", m.plugin, stages.join(", "))?;
            if let Some(needed) = &m.role_too_low {
                write!(f, "; the policy grants it to role `{needed}` and above, and the caller has role `{}`", self.role)?;
            }
            writeln!(f)?;
        }
        if self.has_policy {
            writeln!(f, "Add to the policy file:")?;
        } else {
            writeln!(f, "Put this in policy.yaml and run with --policy policy.yaml:")?;
        }
        write!(f, "{}", self.snippet())
    }
}

impl PreflightError {
    /// YAML granting every missing need, ready to paste.
    pub fn snippet(&self) -> String {
        let mut out = String::new();
        if !self.has_policy {
            out.push_str(&format!("principals: {{ {}: admin }}\n", yaml_key(&self.principal)));
        }
        out.push_str("plugins:\n");
        let mut by_plugin: BTreeMap<&str, Vec<&Missing>> = BTreeMap::new();
        for m in &self.missing {
            by_plugin.entry(m.plugin.as_str()).or_default().push(m);
        }
        for (plugin, missing) in by_plugin {
            out.push_str(&format!("  {plugin}:\n    grants:\n"));
            let mut hosts: Vec<String> = Vec::new();
            for m in &missing {
                match &m.need {
                    Need::Exec { programs, .. } => {
                        let list: Vec<String> = programs.iter().map(|p| yaml_key(p)).collect();
                        out.push_str(&format!("      exec: {{ programs: [{}] }}\n", list.join(", ")));
                    }
                    Need::Http { host_port, .. } => {
                        let quoted = format!("\"{host_port}\"");
                        if !hosts.contains(&quoted) {
                            hosts.push(quoted);
                        }
                    }
                }
            }
            // One `http:` list per plugin: a key may appear once.
            if !hosts.is_empty() {
                out.push_str(&format!("      http: [{}]\n", hosts.join(", ")));
            }
            if missing.iter().any(|m| m.role_too_low.is_some()) && !self.role.is_empty() {
                out.push_str(&format!("    max_role_to_grant: {}\n", self.role));
            }
        }
        out
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// A name as a YAML scalar: bare when it is plainly a word, else quoted.
fn yaml_key(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')) {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_else(|_| format!("\"{name}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_words_follow_quotes() {
        assert_eq!(first_word("  .venv/bin/python -m pytest").as_deref(), Some(".venv/bin/python"));
        assert_eq!(first_word("\"/opt/my py/python3\" -m pytest").as_deref(), Some("/opt/my py/python3"));
        assert_eq!(first_word("   "), None);
    }

    #[test]
    fn bash_runner_json_names_the_programs() {
        let ws = tempfile::tempdir().expect("a temp dir");
        assert_eq!(
            bash_runner_needs(ws.path()),
            Need::Exec { programs: vec!["python3".into()], source: "its default command `python3 -B -m pytest -q …`; bash_runner.json in the workspace may name others".into() }
        );
        std::fs::write(ws.path().join("bash_runner.json"), r#"{"commands": ["ruff check .", {"program": "/usr/bin/pytest"}, "ruff format"]}"#)
            .expect("writing bash_runner.json");
        assert_eq!(
            bash_runner_needs(ws.path()),
            Need::Exec { programs: vec!["ruff".into(), "/usr/bin/pytest".into()], source: "the commands of bash_runner.json".into() }
        );
    }

    #[test]
    fn a_minio_endpoint_needs_its_host_and_port() {
        let ws = tempfile::tempdir().expect("a temp dir");
        assert_eq!(minio_uploader_needs(ws.path()), None);
        std::fs::write(ws.path().join("minio_uploader.json"), r#"{"endpoint": "http://127.0.0.1:9000"}"#).expect("writing");
        assert_eq!(minio_uploader_needs(ws.path()), Some(Need::Http { host_port: "127.0.0.1:9000".into(), source: "the endpoint of minio_uploader.json".into() }));
        std::fs::write(ws.path().join("minio_uploader.json"), r#"{"endpoint": "https://S3.example.com"}"#).expect("writing");
        assert_eq!(minio_uploader_needs(ws.path()), Some(Need::Http { host_port: "s3.example.com:443".into(), source: "the endpoint of minio_uploader.json".into() }));
    }

    #[test]
    fn the_context7_tools_need_the_mcp_endpoint_of_context7_json() {
        let ws = tempfile::tempdir().expect("a temp dir");
        assert_eq!(tool_needs("context7_get_docs", ws.path()), Vec::new());
        std::fs::write(ws.path().join("context7.json"), r#"{"endpoint": "http://127.0.0.1:8931/mcp?x=1"}"#).expect("writing");
        let need = Need::Http { host_port: "127.0.0.1:8931".into(), source: "the endpoint of context7.json".into() };
        assert_eq!(tool_needs("context7_resolve_library", ws.path()), [need.clone()]);
        assert_eq!(tool_needs("context7_get_docs", ws.path()), [need]);
    }

    #[test]
    fn mcp_call_needs_the_endpoint_of_every_server_a_stage_calls() {
        let flow = r#"
mcp_orchestration:
  context7: { integration_points: ["pre_implementation"] }
  testing: { integration_points: ["qa_phase"] }
  unused: { integration_points: ["deployment_gate"] }
orchestration_flow:
  stages:
    - { stage: build, agent: dev, tools: [planner], rbac: [admin], integration_points: [pre_implementation] }
    - { stage: qa, agent: qa, tools: [planner], rbac: [admin], integration_points: [qa_phase] }
"#;
        let p = crate::pipeline::parse("flow.yaml", flow, &crate::pipeline::Context::default()).expect("valid");
        let ws = tempfile::tempdir().expect("a temp dir");
        assert_eq!(needs(&p, ws.path()).get("mcp_call"), None, "without mcp_servers.json, mcp_call reports what is missing");
        std::fs::write(
            ws.path().join("mcp_servers.json"),
            r#"{"context7": {"endpoint": "http://127.0.0.1:8931/mcp"}, "testing": {"endpoint": "http://localhost:9000/mcp"},
                "unused": {"endpoint": "http://10.0.0.1/mcp"}}"#,
        )
        .expect("writing");
        let (stages, needs) = needs(&p, ws.path()).remove("mcp_call").expect("mcp_call needs grants");
        assert_eq!(stages, ["build", "qa"]);
        assert_eq!(
            needs,
            [
                Need::Http { host_port: "127.0.0.1:8931".into(), source: "the endpoint of `context7` in mcp_servers.json".into() },
                Need::Http { host_port: "localhost:9000".into(), source: "the endpoint of `testing` in mcp_servers.json".into() },
            ]
        );
    }
}
