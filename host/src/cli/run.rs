//! `taylordash run`, `resume`, `runs list|show`: pipelines through the
//! orchestrator, with the in-process dispatcher.

use taylordash_protocol::ExitCode;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Cli, UsageError};
use crate::dispatch::InProcess;
use crate::orchestrator::{Orchestrator, OrchestratorError, RunOptions, RunOutcome, RunStatus};
use crate::pipeline::{self, Context};
use crate::store::{Journal, Journals};

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline file.
    pub(super) pipeline: PathBuf,
    /// The run's workspace: inputs are read from it, outputs merged into it.
    #[arg(long, default_value = ".")]
    pub(super) workspace: PathBuf,
    /// A run input from a file: `--input backlog=path/to/backlog.yaml`.
    #[arg(long = "input", value_parser = parse_input)]
    pub(super) inputs: Vec<(String, PathBuf)>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub(super) quiet: bool,
    #[command(flatten)]
    pub(super) bus: super::bus::RunBusArgs,
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The run id `run` printed.
    run_id: String,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// When another orchestrator drives the run, wait for its lease and
    /// take the run over if it dies (instead of refusing); exits when the
    /// run ends under the other.
    #[arg(long)]
    standby: bool,
    /// Continue even though files the run merged changed since (see `runs
    /// verify`); without it such a run halts for review.
    #[arg(long = "accept-workspace-changes")]
    accept_workspace_changes: bool,
    /// The bus; each option not given is what the run used.
    #[command(flatten)]
    bus: super::bus::RunBusArgs,
}

#[derive(Subcommand)]
pub enum RunsCommand {
    /// Every run, newest last.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One run: stages, tasks, attempts, gates, events.
    Show {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Check a run's files against its journal (the sha256 of every file it
    /// merged) and the journal against itself; exit 1 when they disagree.
    Verify {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
}

fn parse_input(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok((name.to_string(), PathBuf::from(path))),
        _ => Err(format!("`{s}`: expected NAME=FILE")),
    }
}

fn context(cli: &Cli) -> anyhow::Result<Context> {
    let mut cx = Context::with_plugins_dir(cli.plugins_dir.clone());
    if let Some(policy) = cli.policy()? {
        cx.roles = policy.roles().iter().map(|r| r.to_string()).collect();
    }
    Ok(cx)
}

fn dispatcher(cli: &Cli) -> anyhow::Result<InProcess> {
    let policy = cli.policy()?.map(Arc::new);
    let caller = cli.caller()?;
    Ok(InProcess::new(Arc::new(cli.sandbox()?), cli.plugins_dir.clone())
        .with_policy(policy, caller)
        .with_audit(cli.audit_log())
        .with_tracing(cli.otlp()?))
}

/// The orchestrator over `dispatch` with what the command line sets for
/// every run: the audit log, traces, journal and lease.
fn orchestrator<'d>(cli: &Cli, dispatch: &'d dyn crate::dispatch::Dispatch) -> anyhow::Result<Orchestrator<'d>> {
    Ok(Orchestrator::new(dispatch)
        .with_audit(cli.audit_log())
        .with_tracing(cli.otlp()?)
        .with_journal(cli.journal.clone())
        .with_lease_ttl(cli.lease_ttl))
}

fn finish(outcome: Result<RunOutcome, OrchestratorError>) -> anyhow::Result<i32> {
    match outcome {
        Ok(o) => Ok(match o.status {
            RunStatus::Completed => ExitCode::Ok,
            RunStatus::Failed(_) | RunStatus::NeedsReview(_) | RunStatus::Cancelled => ExitCode::Failed,
        }
        .code()),
        Err(e) => {
            let code = e.exit_code();
            // Nothing to do (a completed run) is said, not reported as an error.
            if code == ExitCode::Ok.code() {
                eprintln!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            Ok(code)
        }
    }
}

pub fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<i32> {
    Ok(start(cli, args)?.0)
}

/// Run the pipeline `args` names; the exit code, and the run when one started.
pub(super) fn start(cli: &Cli, args: &RunArgs) -> anyhow::Result<(i32, Option<RunOutcome>)> {
    let cx = context(cli)?;
    let source = std::fs::read_to_string(&args.pipeline)
        .map_err(|e| UsageError(format!("{}: {e}", args.pipeline.display())))?;
    let pipeline = match pipeline::parse(&args.pipeline.display().to_string(), &source, &cx) {
        Ok(p) => p,
        Err(d) => {
            eprintln!("{d}");
            return Ok((ExitCode::Usage.code(), None));
        }
    };
    let caller = cli.caller()?;
    if let Err(missing) = preflight(cli, args, &pipeline, &caller) {
        eprint!("error: {missing}");
        return Ok((missing.exit_code(), None));
    }
    let in_process = dispatcher(cli)?;
    let local_bus = super::bus::local_bus(cli, &args.bus)?;
    let dispatch: &dyn crate::dispatch::Dispatch = match &local_bus {
        Some(bus) => bus,
        None => &in_process,
    };
    let opts = RunOptions {
        workspace: args.workspace.clone(),
        principal: caller.principal,
        role: caller.role,
        inputs: args.inputs.clone(),
        runs_dir: cli.runs_dir(),
        quiet: args.quiet,
    };
    let started = std::time::Instant::now();
    let outcome = orchestrator(cli, dispatch)?.with_dispatch_note(args.bus.note()).start(&pipeline, &source, &opts);
    if let (Ok(o), false) = (&outcome, args.quiet) {
        summary(&cli.journals(), o, started.elapsed());
    }
    let run = outcome.as_ref().ok().cloned();
    Ok((finish(outcome)?, run))
}

/// The grants the pipeline's tools need, checked before anything runs.
/// Skipped when only external workers run tasks (their policy is theirs),
/// and when the caller's role may not run the pipeline at all: the
/// orchestrator refuses that (and audits it) first.
fn preflight(cli: &Cli, args: &RunArgs, pipeline: &pipeline::Pipeline, caller: &crate::policy::Caller) -> Result<(), crate::preflight::PreflightError> {
    if args.bus.workers == Some(0) || crate::orchestrator::run::check_rbac(pipeline, &caller.principal, &caller.role).is_err() {
        return Ok(());
    }
    // A policy that does not load is refused later with all its problems.
    let Ok(policy) = cli.policy() else { return Ok(()) };
    crate::preflight::check(pipeline, &args.workspace, policy.as_ref(), &caller.principal, &caller.role)
}

/// One closing line: stages, tasks and failed attempts from the journal, and
/// the wall-clock time.
fn summary(journals: &Journals, outcome: &RunOutcome, elapsed: std::time::Duration) {
    let Ok(journal) = journals.open(&outcome.run_id) else { return };
    let (Ok(stages), Ok(tasks)) = (journal.stages(), journal.tasks()) else { return };
    let done = stages.iter().filter(|(_, status, _)| status == "done").count();
    let failed_attempts: usize = tasks
        .iter()
        .filter_map(|t| journal.attempts(&t.task_id).ok())
        .map(|attempts| attempts.iter().filter(|(_, _, status, _, _)| status == "failed").count())
        .sum();
    let status = match &outcome.status {
        RunStatus::Completed => "completed",
        RunStatus::Failed(_) => "failed",
        RunStatus::NeedsReview(_) => "needs review",
        RunStatus::Cancelled => "cancelled",
    };
    eprintln!(
        "summary: run {} {status} in {:.1} s: {done} of {} stages done, {} tasks, {failed_attempts} failed attempts",
        outcome.run_id,
        elapsed.as_secs_f64(),
        stages.len(),
        tasks.len()
    );
}

pub fn resume(cli: &Cli, args: &ResumeArgs) -> anyhow::Result<i32> {
    let cx = context(cli)?;
    let journals = cli.journals();
    let run_dir = journals.run_dir(&args.run_id);
    let bus = args.bus.or_noted(&dispatch_note(&journals, &args.run_id));
    let in_process = dispatcher(cli)?;
    let local_bus = super::bus::local_bus(cli, &bus)?;
    let dispatch: &dyn crate::dispatch::Dispatch = match &local_bus {
        Some(bus) => bus,
        None => &in_process,
    };
    let orchestrator = orchestrator(cli, dispatch)?.with_standby(args.standby).accepting_workspace_changes(args.accept_workspace_changes);
    finish(orchestrator.resume(&run_dir, &cx, args.quiet))
}

/// The bus options the run journaled when it started (`null` for a run
/// from before they were journaled, or no run at all: resume says which).
fn dispatch_note(journals: &Journals, run_id: &str) -> serde_json::Value {
    let Ok(journal) = journals.open(run_id) else { return serde_json::Value::Null };
    journal
        .events()
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.kind == "run_started")
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .and_then(|data| data.get("dispatch").cloned())
        .unwrap_or(serde_json::Value::Null)
}

pub fn runs(cli: &Cli, cmd: &RunsCommand) -> anyhow::Result<i32> {
    let journals = cli.journals();
    match cmd {
        RunsCommand::List { json } => {
            let rows = journals.runs()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<18} {:<13} {:<12} PIPELINE", "RUN", "STATUS", "PRINCIPAL");
                for r in rows {
                    println!("{:<18} {:<13} {:<12} {}", r.id, r.status, r.principal, r.pipeline);
                }
            }
            Ok(ExitCode::Ok.code())
        }
        RunsCommand::Show { run_id, json } => {
            let j = open_run(&journals, run_id)?;
            if *json {
                show_json(&j)?;
            } else {
                show_text(&j)?;
            }
            Ok(ExitCode::Ok.code())
        }
        RunsCommand::Verify { run_id, json } => {
            let j = open_run(&journals, run_id)?;
            let run = j.run()?;
            let findings = crate::orchestrator::verify::verify(&j, std::path::Path::new(&run.workspace))?;
            let merged = j.merge_digests()?.len();
            if *json {
                println!("{}", serde_json::to_string_pretty(&json!({ "run": run.id, "merged_files": merged, "findings": findings }))?);
            } else if findings.is_empty() {
                println!("run {}: consistent — {merged} merged file(s) match the journal, and the journal agrees with itself", run.id);
            } else {
                println!("run {}: {} finding(s) over {merged} merged file(s):", run.id, findings.len());
                for f in &findings {
                    println!("  {}", crate::sandbox::escape::for_terminal(&f.to_string()));
                }
            }
            Ok(if findings.is_empty() { ExitCode::Ok } else { ExitCode::Failed }.code())
        }
    }
}

fn open_run(journals: &Journals, run_id: &str) -> anyhow::Result<Journal> {
    match journals.open(run_id) {
        Err(crate::store::StoreError::NoRun(_)) => Err(UsageError(format!("no run `{run_id}` in {}", journals.describe())).into()),
        j => Ok(j?),
    }
}

fn show_json(j: &Journal) -> anyhow::Result<()> {
    let mut task_docs = Vec::new();
    for t in j.tasks()? {
        let attempts: Vec<_> = j
            .attempt_rows(&t.task_id)?
            .into_iter()
            .map(|a| {
                json!({ "attempt": a.attempt, "agent": a.agent, "status": a.status, "exit_code": a.exit_code, "error": a.error,
                        "started_at": a.started_at, "duration_ms": a.duration_ms })
            })
            .collect();
        task_docs.push(json!({ "task": t.task_id, "stage": t.stage, "agent": t.agent, "tool": t.tool, "status": t.status, "attempts": attempts }));
    }
    let doc = json!({ "run": j.run()?, "stages": j.stages()?, "tasks": task_docs, "gates": j.gates()?, "events": j.events()?,
                      "blobs": j.blobs_moved()? });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The run, then aligned tables of its stages, tasks (first start, last
/// end, time spent over all attempts) and gate verdicts with their reports.
fn show_text(j: &Journal) -> anyhow::Result<()> {
    use super::time::{human_ms, local_rfc3339};
    use crate::sandbox::escape::for_terminal;
    let run = j.run()?;
    println!("run {} — {} — {} (as {} / {})", run.id, run.status, run.pipeline, run.principal, run.role);
    println!("started {}, last change {}", local_rfc3339(run.created_at), local_rfc3339(run.updated_at));
    if let Some(e) = &run.error {
        println!("error: {}", for_terminal(e));
    }
    let moved = j.blobs_moved()?;
    if moved.cached + moved.fetched + moved.out > 0 {
        println!(
            "files over the bus: {} moved — workspace blobs {} fetched, {} from workers' caches; {} /out blobs back",
            crate::units::human_bytes(moved.bytes),
            moved.fetched,
            moved.cached,
            moved.out
        );
    }
    println!();
    let stages: Vec<Vec<String>> =
        j.stages()?.into_iter().map(|(stage, status, attempt)| vec![stage, status, attempt.to_string()]).collect();
    print_table(&["STAGE", "STATUS", "ATTEMPT"], &stages);
    let mut tasks = Vec::new();
    for t in j.tasks()? {
        let attempts = j.attempt_rows(&t.task_id)?;
        let started = attempts.first().map(|a| local_rfc3339(a.started_at)).unwrap_or_else(|| "-".into());
        let ended = attempts
            .last()
            .and_then(|a| a.duration_ms.map(|d| local_rfc3339(a.started_at + d)))
            .unwrap_or_else(|| "-".into());
        let spent: Option<i64> = attempts.iter().map(|a| a.duration_ms).sum();
        tasks.push(vec![
            t.task_id,
            t.status,
            attempts.len().to_string(),
            started,
            ended,
            spent.map(human_ms).unwrap_or_else(|| "-".into()),
        ]);
    }
    println!();
    print_table(&["TASK", "STATUS", "ATTEMPTS", "STARTED", "ENDED", "TIME"], &tasks);
    let gates: Vec<Vec<String>> = j
        .gates()?
        .into_iter()
        .map(|g| {
            let report = for_terminal(&g.report).split_whitespace().collect::<Vec<_>>().join(" ");
            vec![g.stage, g.attempt.to_string(), g.gate, if g.passed { "passed" } else { "FAILED" }.to_string(), report]
        })
        .collect();
    if !gates.is_empty() {
        println!();
        print_table(&["STAGE", "ATTEMPT", "GATE", "VERDICT", "REPORT"], &gates);
    }
    Ok(())
}

/// Columns as wide as their widest cell (the last one unpadded), so that a
/// long task id never pushes the next column out of line.
fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out
    };
    println!("{}", line(headers.to_vec()));
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}
