//! `taylordash run`, `resume`, `runs list|show`: pipelines through the
//! orchestrator, with the in-process dispatcher.

use taylordash_protocol::ExitCode;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Cli, UsageError};
use crate::orchestrator::{InProcess, Orchestrator, OrchestratorError, RunOptions, RunOutcome, RunStatus};
use crate::pipeline::{self, Context};
use crate::store::Journal;

#[derive(Args)]
pub struct RunArgs {
    /// The pipeline file.
    pipeline: PathBuf,
    /// The run's workspace: inputs are read from it, outputs merged into it.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
    /// A run input from a file: `--input backlog=path/to/backlog.yaml`.
    #[arg(long = "input", value_parser = parse_input)]
    inputs: Vec<(String, PathBuf)>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    bus: super::bus::RunBusArgs,
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The run id `run` printed.
    run_id: String,
    #[arg(long, short)]
    quiet: bool,
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
        .with_audit(cli.audit_log()))
}

fn finish(outcome: Result<RunOutcome, OrchestratorError>) -> anyhow::Result<i32> {
    match outcome {
        Ok(o) => Ok(match o.status {
            RunStatus::Completed => ExitCode::Ok,
            RunStatus::Failed(_) | RunStatus::NeedsReview(_) => ExitCode::Failed,
        }
        .code()),
        Err(e) => {
            let code = e.exit_code();
            eprintln!("error: {e}");
            Ok(code)
        }
    }
}

pub fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<i32> {
    let cx = context(cli)?;
    let source = std::fs::read_to_string(&args.pipeline)
        .map_err(|e| UsageError(format!("{}: {e}", args.pipeline.display())))?;
    let pipeline = match pipeline::parse(&args.pipeline.display().to_string(), &source, &cx) {
        Ok(p) => p,
        Err(d) => {
            eprintln!("{d}");
            return Ok(ExitCode::Usage.code());
        }
    };
    let caller = cli.caller()?;
    let in_process = dispatcher(cli)?;
    let local_bus = super::bus::local_bus(cli, &args.bus)?;
    let dispatch: &dyn crate::orchestrator::Dispatch = match &local_bus {
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
    finish(Orchestrator::new(dispatch).with_audit(cli.audit_log()).start(&pipeline, &source, &opts))
}

pub fn resume(cli: &Cli, args: &ResumeArgs) -> anyhow::Result<i32> {
    let cx = context(cli)?;
    let dispatch = dispatcher(cli)?;
    finish(Orchestrator::new(&dispatch).with_audit(cli.audit_log()).resume(&cli.runs_dir().join(&args.run_id), &cx, args.quiet))
}

pub fn runs(cli: &Cli, cmd: &RunsCommand) -> anyhow::Result<i32> {
    let dir = cli.runs_dir();
    match cmd {
        RunsCommand::List { json } => {
            let mut rows = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.filter_map(|e| e.ok()) {
                    let db = e.path().join("journal.sqlite");
                    if db.is_file() {
                        if let Ok(row) = Journal::open(&db).and_then(|j| j.run()) {
                            rows.push(row);
                        }
                    }
                }
            }
            rows.sort_by_key(|r| r.created_at);
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
            let db = dir.join(run_id).join("journal.sqlite");
            if !db.is_file() {
                return Err(UsageError(format!("no run `{run_id}` in {}", dir.display())).into());
            }
            let j = Journal::open(&db)?;
            let run = j.run()?;
            let stages = j.stages()?;
            let tasks = j.tasks()?;
            let mut task_docs = Vec::new();
            for t in &tasks {
                let attempts: Vec<_> = j
                    .attempts(&t.task_id)?
                    .into_iter()
                    .map(|(n, agent, status, code, error)| json!({ "attempt": n, "agent": agent, "status": status, "exit_code": code, "error": error }))
                    .collect();
                task_docs.push(json!({ "task": t.task_id, "stage": t.stage, "agent": t.agent, "tool": t.tool, "status": t.status, "attempts": attempts }));
            }
            let events = j.events()?;
            if *json {
                let doc = json!({ "run": run, "stages": stages, "tasks": task_docs, "events": events });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(ExitCode::Ok.code());
            }
            println!("run {} — {} — {} (as {} / {})", run.id, run.status, run.pipeline, run.principal, run.role);
            if let Some(e) = &run.error {
                println!("error: {}", crate::sandbox::escape::for_terminal(e));
            }
            for (stage, status, attempt) in stages {
                println!("stage {stage:<20} {status:<10} attempt {attempt}");
                for t in tasks.iter().filter(|t| t.stage == stage) {
                    println!("  {:<40} {:<8} {} attempt(s)", t.task_id, t.status, t.attempts);
                }
            }
            Ok(ExitCode::Ok.code())
        }
    }
}
