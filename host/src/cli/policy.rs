//! `taylordash policy check <policy.yaml> [pipeline.yaml…]`: every problem of
//! the policy and of the pipelines as `file:line:col: message` (exit 2), then
//! for each pipeline which stages each principal may run and which powerful
//! grants they would get.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::Cli;
use crate::yaml::diagnostic::did_you_mean;
use crate::pipeline::{self, Context, Diagnostics, Pipeline, Pos};
use crate::policy::access::{self, Access};
use crate::policy::read::{ReadPolicy, read};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Report every problem of a policy (and of pipelines checked against
    /// it) as file:line:col, and which stages each principal may run.
    Check(CheckArgs),
    /// Make a bearer token for the MCP gateway's HTTP transport: prints the
    /// token (give it to the client) and the `mcp_tokens` line for the
    /// policy (which keeps only its sha256).
    Token {
        /// The principal the token stands for (a name under `principals`).
        principal: String,
    },
}

#[derive(Args)]
pub struct CheckArgs {
    /// The policy file.
    // Not named `policy`: that id is the global `--policy`, and clap would
    // take one for the other.
    #[arg(value_name = "POLICY")]
    file: PathBuf,
    /// Pipelines to check against the policy's roles and principals.
    pipelines: Vec<PathBuf>,
    /// Print the problems and the tables as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(cli: &Cli, cmd: &PolicyCommand) -> anyhow::Result<i32> {
    match cmd {
        PolicyCommand::Check(args) => check(cli, args),
        PolicyCommand::Token { principal } => token(principal),
    }
}

/// 32 random bytes as hex; the policy line holds their digest only.
fn token(principal: &str) -> anyhow::Result<i32> {
    use sha2::Digest;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    let token = format!("td_{}", hex::encode(bytes));
    let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    println!("{token}");
    eprintln!("add to policy.yaml (the token itself is not stored anywhere):\n\nmcp_tokens:\n  \"sha256:{digest}\": {principal}\n");
    Ok(0)
}

fn check(cli: &Cli, args: &CheckArgs) -> anyhow::Result<i32> {
    let file = args.file.display().to_string();
    let mut policy = match std::fs::read_to_string(&args.file) {
        Ok(text) => read(&file, &text),
        Err(e) => {
            let mut r = ReadPolicy::default();
            r.diagnostics.push(&file, Pos { line: 1, col: 1 }, format!("cannot read the policy: {e}"));
            r
        }
    };
    check_plugin_names(cli, &file, &mut policy);
    let mut problems = policy.diagnostics.clone();

    // Pipelines are checked against the policy's roles, not the defaults.
    let mut cx = Context::with_plugins_dir(cli.plugins_dir.clone());
    cx.roles = policy.policy.roles.clone();
    let mut pipelines: Vec<(String, Pipeline)> = Vec::new();
    for path in &args.pipelines {
        match pipeline::load(path, &cx) {
            Ok(p) => pipelines.push((path.display().to_string(), p)),
            Err(d) => problems.0.extend(d.0),
        }
    }
    tracing::debug!(policy = %file, pipelines = args.pipelines.len(), problems = problems.len(), "policy check");

    let text = if args.json { json_report(&policy, &pipelines, &problems)? } else { text_report(&file, &policy, &pipelines) };
    emit(&text)?;
    if !args.json && !problems.is_empty() {
        eprintln!("{problems}");
        eprintln!("{} problem(s) found", problems.len());
    }
    Ok(if problems.is_empty() { 0 } else { 2 })
}

/// The report on stdout in one write; a reader that stops early (`| head`)
/// is not an error.
fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `ok:` lines, then a table per pipeline (or of the policy's powerful
/// grants when no pipeline is given). Problems go to stderr, as `validate`'s do.
fn text_report(file: &str, policy: &ReadPolicy, pipelines: &[(String, Pipeline)]) -> String {
    let mut out = String::new();
    let policy_ok = policy.diagnostics.is_empty();
    let note = "(the policy has problems; this is what the entries that could be read would give)\n";
    if policy_ok {
        let p = &policy.policy;
        let _ = writeln!(out, "ok: {file} ({}, {})", plural(p.principals.len(), "principal"), plural(p.plugins.len(), "plugin"));
    }
    for (name, p) in pipelines {
        let _ = writeln!(out, "ok: {name} ({})", plural(p.stages.len(), "stage"));
    }
    if pipelines.is_empty() {
        let _ = writeln!(out, "\n{file}: powerful grants (exec, env) by principal");
        if !policy_ok {
            out.push_str(note);
        }
        let rows = access::policy_access(&policy.policy).into_iter().map(|a| vec![principal(&a), role(&a), grants(&a)]);
        table(&mut out, &["PRINCIPAL", "ROLE", "POWERFUL GRANTS"], rows);
    }
    for (name, p) in pipelines {
        let _ = writeln!(out, "\n{name}: who may run which stage");
        if !policy_ok {
            out.push_str(note);
        }
        let rows = access::pipeline_access(&policy.policy, p).into_iter().map(|a| {
            let run = if a.may_run_pipeline { "may run" } else { "refused" };
            vec![principal(&a), role(&a), run.to_string(), stages(&a), grants(&a)]
        });
        table(&mut out, &["PRINCIPAL", "ROLE", "PIPELINE", "STAGES", "POWERFUL GRANTS"], rows);
    }
    out
}

/// A policy entry for a plugin the plugins directory does not hold pins and
/// grants nothing — a misspelt name silently drops a digest pin. Checked
/// only against a directory that holds plugins: a policy may well be checked
/// on a machine where they are not built.
fn check_plugin_names(cli: &Cli, file: &str, policy: &mut ReadPolicy) {
    let dir = &cli.plugins_dir;
    let known: BTreeSet<String> = crate::catalog::tool_names(dir);
    if known.is_empty() {
        return;
    }
    for named in &policy.plugin_names {
        if !known.contains(&named.name) {
            let hint = did_you_mean(&named.name, known.iter().map(String::as_str));
            policy.diagnostics.push(
                file,
                named.pos,
                format!("plugins.{0}: no {0}.wasm in {1}{hint}; this entry applies to nothing", named.name, dir.display()),
            );
        }
    }
    policy.diagnostics.0.sort();
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn principal(a: &Access) -> String {
    a.principal.clone().unwrap_or_else(|| "(anyone else)".into())
}

fn role(a: &Access) -> String {
    a.role.clone().unwrap_or_else(|| "none".into())
}

fn stages(a: &Access) -> String {
    if a.stages.is_empty() {
        return "-".into();
    }
    let names: Vec<String> = a
        .stages
        .iter()
        .map(|s| if s.all_agents { s.stage.clone() } else { format!("{} (only {})", s.stage, s.agents.join(", ")) })
        .collect();
    names.join(", ")
}

fn grants(a: &Access) -> String {
    if a.grants.is_empty() {
        return "-".into();
    }
    let cells: Vec<String> = a
        .grants
        .iter()
        .map(|g| {
            if !g.granted {
                return format!("{}: withheld (needs {})", g.plugin, g.needs_role);
            }
            let mut what = Vec::new();
            if !g.exec.is_empty() {
                what.push(format!("exec [{}]", g.exec.join(", ")));
            }
            if !g.env.is_empty() {
                what.push(format!("env [{}]", g.env.join(", ")));
            }
            format!("{}: {}", g.plugin, what.join(", "))
        })
        .collect();
    cells.join("; ")
}

/// Columns padded to their widest cell; the last one is not padded.
fn table(out: &mut String, header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect()).chain(rows).collect();
    let widths: Vec<usize> =
        (0..header.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for row in &rows {
        let last = row.len() - 1;
        let line: Vec<String> =
            row.iter().enumerate().map(|(i, c)| if i == last { c.clone() } else { format!("{c:<w$}", w = widths[i]) }).collect();
        let _ = writeln!(out, "{}", line.join("  "));
    }
}

fn json_report(policy: &ReadPolicy, pipelines: &[(String, Pipeline)], problems: &Diagnostics) -> anyhow::Result<String> {
    let problems: Vec<_> = problems
        .0
        .iter()
        .map(|d| json!({ "file": d.file, "line": d.pos.line, "col": d.pos.col, "message": d.message }))
        .collect();
    let pipelines: Vec<_> = pipelines
        .iter()
        .map(|(file, p)| json!({ "file": file, "stages": p.stages.len(), "access": access::pipeline_access(&policy.policy, p) }))
        .collect();
    let doc = json!({
        "ok": problems.is_empty(),
        "problems": problems,
        "principals": access::policy_access(&policy.policy),
        "pipelines": pipelines,
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}
