//! `taylordash review`: the seed's `context7_code_review` over a local git
//! change — the head revision exported into a fresh workspace with
//! `review/diff.json` ([`crate::review`]), the review pipeline run on it like
//! `taylordash run`, and its `enhanced_review_comments` printed.

use std::path::PathBuf;

use clap::Args;
use taylordash_protocol::ExitCode;

use super::Cli;
use super::run::RunArgs;
use crate::review::{self, ReviewError};

/// The file the review pipeline's last tool writes.
const COMMENTS: &str = "review/enhanced_review_comments.md";

#[derive(Args)]
pub struct ReviewArgs {
    /// The git repository holding the change.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The revision the change is reviewed against (the pull request's base).
    #[arg(long)]
    base: String,
    /// The revision under review (the pull request's head).
    #[arg(long, default_value = "HEAD")]
    head: String,
    /// A fresh directory (absent or empty) the head revision is exported to;
    /// the review's files are merged into it.
    #[arg(long)]
    workspace: PathBuf,
    /// The review pipeline.
    #[arg(long, default_value = "pipelines/context7_code_review.yaml")]
    pipeline: PathBuf,
    /// The Context7 MCP endpoint that looks up the libraries the change brings
    /// in (written to the workspace's `context7.json`); without it, and
    /// without a `context7.json` in the repository, they are listed but not
    /// looked up.
    #[arg(long, value_name = "URL")]
    context7: Option<String>,
    /// The command that runs the tests and writes `reports/coverage.json`
    /// (written to the workspace's `bash_runner.json`; the policy must grant
    /// bash_runner its program).
    #[arg(long, value_name = "COMMAND", default_value = DEFAULT_TESTS)]
    tests: String,
    /// Exit 1 when the review requests changes (a blocking comment).
    #[arg(long)]
    check: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    bus: super::bus::RunBusArgs,
}

/// pytest under coverage.py, its JSON report where `review_comments` reads it.
const DEFAULT_TESTS: &str =
    "python3 -B -m pytest -q -p no:cacheprovider --cov=. --cov-report=json:reports/coverage.json";

pub fn run(cli: &Cli, args: &ReviewArgs) -> anyhow::Result<i32> {
    let diff = match review::prepare(&args.repo, &args.base, &args.head, &args.workspace) {
        Ok(diff) => diff,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(e.exit_code());
        }
    };
    if !args.quiet {
        eprintln!(
            "review: {}..{}: {} changed file(s) exported to {}",
            short(&diff.base),
            short(&diff.head),
            diff.files.len(),
            args.workspace.display()
        );
    }
    if let Err(e) = configure(args) {
        eprintln!("error: {e}");
        return Ok(e.exit_code());
    }
    let run_args = RunArgs {
        pipeline: args.pipeline.clone(),
        workspace: args.workspace.clone(),
        inputs: Vec::new(),
        quiet: args.quiet,
        bus: args.bus.clone(),
    };
    let (code, outcome) = super::run::start(cli, &run_args)?;
    if code != ExitCode::Ok.code() {
        return Ok(code);
    }
    let file = args.workspace.join(COMMENTS);
    let comments = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    print!("{comments}");
    let verdict = outcome.and_then(|o| verdict(cli, &o.run_id)).unwrap_or_default();
    if !args.quiet {
        eprintln!("review: {verdict}; the comments are in {}", file.display());
    }
    Ok(if args.check && verdict == "changes_requested" { ExitCode::Failed.code() } else { ExitCode::Ok.code() })
}

/// The operator's choices, as the workspace files the tools read. A
/// repository's own `context7.json` stands unless `--context7` is given.
fn configure(args: &ReviewArgs) -> Result<(), ReviewError> {
    let write = |name: &str, value: serde_json::Value| {
        let path = args.workspace.join(name);
        std::fs::write(&path, value.to_string() + "\n").map_err(|source| ReviewError::Io { path, source })
    };
    if let Some(endpoint) = &args.context7 {
        write("context7.json", serde_json::json!({ "endpoint": endpoint }))?;
    }
    write("bash_runner.json", serde_json::json!({ "commands": [args.tests] }))
}

/// `review_comments`' verdict, from the run's journal.
fn verdict(cli: &Cli, run_id: &str) -> Option<String> {
    let journal = cli.journals().open(run_id).ok()?;
    let task = journal.tasks().ok()?.into_iter().find(|t| t.tool == "review_comments")?;
    let output: serde_json::Value = serde_json::from_str(task.output.as_deref()?).ok()?;
    output["verdict"].as_str().map(str::to_string)
}

fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}
