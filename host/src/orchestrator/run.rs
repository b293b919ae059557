//! The run state machine.
//!
//! Stages run in dependency order ([`pipeline::plan::dependencies`]: a
//! stage's `needs`, else the stage before it, so a pipeline without `needs`
//! runs in file order exactly). Every stage whose dependencies are done runs
//! at once, each on its own thread, up to the orchestrator's bound; a
//! `final: true` stage waits for every other stage. After a stage stops the
//! run, no new stage starts and the run ends once the running ones have
//! finished (each journaled as usual). A stage's agents run concurrently when
//! `parallel: true`; an agent runs its tools in order, each seeing the stage
//! inputs, the shared context, the previous tool's output and any gate
//! feedback. After the agents, the declared outputs must exist and the gates
//! run: a failed gate retries the stage with its report as feedback
//! (`retry_with_enhanced_context`), a failed security gate halts the run for
//! review at once. Recovery follows the seed: a timed-out agent's task is
//! reassigned to the `backup_agent`; retryable failures back off
//! exponentially with jitter; more than `max_consecutive_failures` failed
//! attempts in a row, or no progress for `stall_timeout`, halt the run in
//! `needs_review`. A stage whose tasks are in flight (running, awaiting a
//! republish, backing off before a retry) is making progress: each ends by
//! its own deadlines, so only agents waiting on each other with no task out
//! can stall.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use taylordash_protocol::{self as protocol, Envelope, ExitCode, FailedGate, Feedback, GateInput, GateVerdict, StageStatus, TaskStatus};

use crate::dispatch::{Dispatch, Task, TaskError, TaskResult, Usage};
use super::conflict::{self, Lost};
use super::contract::{self, RunFacts};
use super::dataflow::{self, Join, Joined};
use super::inputs::{self, InputError};
use super::integration::{self, PointCall};
use super::merge::{self, Action, Merger, MergeRefused};
use super::report::{PrintRunId, RunObserver, progress, write_agents_json};
use crate::pipeline::{self, Pipeline, Stage};
use crate::audit::{AuditLog, Subject};
use crate::store::{Journal, JournalUrl, Journals, Lease, LeaseHolder, MergeIntent, NewRun, Owner, StoreError};
use crate::observe::cpu::thread_cpu;
use crate::observe::trace::Otlp;

/// Wall-clock budget of one task when its stage names none.
const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries of a stage (gate failures) and of a task (retryable failures)
/// when the stage names none.
const DEFAULT_RETRIES: u32 = 2;
/// How long a run's lease lasts without a heartbeat (renewed every third of it).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workspace: PathBuf,
    pub principal: String,
    pub role: String,
    /// `--input NAME=FILE`.
    pub inputs: Vec<(String, PathBuf)>,
    pub runs_dir: PathBuf,
    pub quiet: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Completed,
    Failed(String),
    /// Halted for a human: a security gate failed, too many failures in a
    /// row, or no progress (circular coordination).
    NeedsReview(String),
    /// Stopped at the caller's request ([`RunObserver::cancelled`]).
    Cancelled,
}

impl RunStatus {
    /// The status the journal records.
    fn label(&self) -> protocol::RunStatus {
        match self {
            RunStatus::Completed => protocol::RunStatus::Completed,
            RunStatus::Failed(_) => protocol::RunStatus::Failed,
            RunStatus::NeedsReview(_) => protocol::RunStatus::NeedsReview,
            RunStatus::Cancelled => protocol::RunStatus::Cancelled,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub status: RunStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error("{0}")]
    Pipeline(pipeline::Diagnostics),
    #[error("denied: stage `{stage}` (agent `{agent}`) may be run by {allowed}; `{principal}` has role `{role}`")]
    Rbac { stage: String, agent: String, allowed: String, principal: String, role: String },
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("no run `{0}` (see `taylordash runs list`)")]
    NoRun(String),
    #[error("run `{0}` already completed; nothing to resume")]
    AlreadyCompleted(String),
    #[error("run `{run}` is being driven by another orchestrator ({holder}); `resume --standby` waits to take it over")]
    LeaseHeld { run: String, holder: LeaseHolder },
    #[error("run `{run}` ended as `{status}` under the orchestrator this one stood by for; `resume {run}` continues it")]
    EndedElsewhere { run: String, status: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
}

impl OrchestratorError {
    pub fn exit_code(&self) -> i32 {
        match self {
            OrchestratorError::Rbac { .. } => ExitCode::Denied,
            OrchestratorError::Pipeline(_) | OrchestratorError::Input(_) | OrchestratorError::NoRun(_) => ExitCode::Usage,
            OrchestratorError::AlreadyCompleted(_) => ExitCode::Ok,
            OrchestratorError::Store(_) | OrchestratorError::Io(_) | OrchestratorError::LeaseHeld { .. }
            | OrchestratorError::EndedElsewhere { .. } => ExitCode::Failed,
        }
        .code()
    }
}

pub struct Orchestrator<'d> {
    dispatch: &'d dyn Dispatch,
    audit: Option<AuditLog>,
    /// Stages that may run at once (at least 1).
    max_parallel_stages: usize,
    /// How tasks are dispatched (the bus options), journaled with
    /// `run_started` so that `resume` can default to them.
    dispatch_note: Value,
    observer: Arc<dyn RunObserver>,
    /// Where the run's spans go when it ends (none: no spans are built).
    otlp: Option<Arc<Otlp>>,
    /// Where journals live (default: a SQLite file per run).
    journal_url: JournalUrl,
    lease_ttl: Duration,
    /// `resume` waits for another orchestrator's lease instead of refusing.
    standby: bool,
    /// `resume` builds on a workspace that changed behind the run's back
    /// (see [`super::verify`]) instead of halting for review.
    accept_workspace: bool,
}

/// Why a stage did not complete.
enum Stop {
    Failed(String),
    Review(String),
    Cancelled,
    /// Another orchestrator took the run's lease: it drives the run now,
    /// and this one must not write another line of it.
    LeaseLost(String),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost { .. } => Stop::LeaseLost(e.to_string()),
            e => Stop::Failed(format!("journal: {e}")),
        }
    }
}

/// One run in progress.
struct Run<'a> {
    id: String,
    dir: PathBuf,
    workspace: PathBuf,
    trace_id: String,
    pipeline: &'a Pipeline,
    journal: Mutex<Journal>,
    /// This orchestrator's hold on the run, renewed by [`Run::heartbeat`].
    lease: Lease,
    /// Set once the lease is found to be another's.
    lease_lost: AtomicBool,
    dispatch: &'a dyn Dispatch,
    /// Artifact name → value (run inputs and stage outputs).
    artifacts: Mutex<BTreeMap<String, Value>>,
    consecutive_failures: AtomicU32,
    /// Agent → the response time its contract promises (`contracts/`).
    response_times: BTreeMap<String, Duration>,
    quiet: bool,
    max_parallel_stages: usize,
    observer: &'a dyn RunObserver,
    /// Microseconds of CPU the orchestrator spent on tasks outside their
    /// calls, and milliseconds the calls took (journaled at the end).
    coordination_cpu_us: AtomicU64,
    tool_ms: AtomicU64,
    otlp: Option<&'a Otlp>,
    /// Stage → its tasks between dispatch and outcome (see [`InFlight`]).
    in_flight: Mutex<BTreeMap<String, u32>>,
    /// Gates (task ids) an orchestrator that died sent and never saw
    /// answered (`gate_sent` events): asked for before they are sent again.
    sent_gates: BTreeSet<String>,
}

/// A task of a stage counted in flight while it lives.
struct InFlight<'r> {
    counts: &'r Mutex<BTreeMap<String, u32>>,
    stage: &'r str,
}

impl<'r> InFlight<'r> {
    fn enter(counts: &'r Mutex<BTreeMap<String, u32>>, stage: &'r str) -> Self {
        *counts.lock().unwrap_or_else(|p| p.into_inner()).entry(stage.to_string()).or_default() += 1;
        InFlight { counts, stage }
    }

    fn any(counts: &Mutex<BTreeMap<String, u32>>, stage: &str) -> bool {
        counts.lock().unwrap_or_else(|p| p.into_inner()).get(stage).is_some_and(|n| *n > 0)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.counts.lock().unwrap_or_else(|p| p.into_inner()).get_mut(self.stage) {
            *n = n.saturating_sub(1);
        }
    }
}

impl<'d> Orchestrator<'d> {
    pub fn new(dispatch: &'d dyn Dispatch) -> Self {
        Orchestrator {
            dispatch,
            audit: None,
            max_parallel_stages: usize::MAX,
            dispatch_note: Value::Null,
            observer: Arc::new(PrintRunId),
            otlp: None,
            journal_url: JournalUrl::Files,
            lease_ttl: DEFAULT_LEASE_TTL,
            standby: false,
            accept_workspace: false,
        }
    }

    /// Let `resume` continue on a workspace whose merged files changed (the
    /// operator looked and vouches for them); the findings are journaled.
    pub fn accepting_workspace_changes(mut self, accept: bool) -> Self {
        self.accept_workspace = accept;
        self
    }

    /// Keep journals in `url` (default: a SQLite file per run).
    pub fn with_journal(mut self, url: JournalUrl) -> Self {
        self.journal_url = url;
        self
    }

    /// How long a run's lease lasts without a heartbeat: how soon another
    /// orchestrator takes over a run whose owner died on another host.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(300));
        self
    }

    /// `resume` a run another orchestrator drives by waiting for its lease
    /// (taking the run over when that orchestrator dies) instead of refusing.
    pub fn with_standby(mut self, standby: bool) -> Self {
        self.standby = standby;
        self
    }

    /// Whether the run still needs a driver (its status is `running`).
    fn still_running(journal: &Journal) -> Result<(), OrchestratorError> {
        let row = journal.run()?;
        match row.status.parse::<protocol::RunStatus>() {
            Ok(protocol::RunStatus::Running) => Ok(()),
            Ok(protocol::RunStatus::Completed) => Err(OrchestratorError::AlreadyCompleted(row.id)),
            _ => Err(OrchestratorError::EndedElsewhere { run: row.id, status: row.status }),
        }
    }

    /// Take `journal`'s run's lease, or (standing by) wait until it is free.
    fn take_lease(&self, journal: &Journal, quiet: bool) -> Result<Lease, OrchestratorError> {
        let owner = Owner::this_process();
        let mut said = false;
        loop {
            match journal.acquire_lease(&owner, self.lease_ttl)? {
                Ok(lease) => {
                    // Standing by ends when the owner dies mid-run, not when it finishes.
                    if said && let Err(ended) = Self::still_running(journal) {
                        let _ = journal.release_lease(&lease);
                        return Err(ended);
                    }
                    return Ok(lease);
                }
                Err(holder) if !self.standby => return Err(OrchestratorError::LeaseHeld { run: journal.run_id().to_string(), holder }),
                Err(holder) => {
                    Self::still_running(journal)?;
                    if !said {
                        progress(quiet, format_args!("run {}: standing by: driven by {holder}", journal.run_id()));
                        said = true;
                    }
                    let wait = (holder.expires_in + Duration::from_millis(50)).min(self.lease_ttl / 3);
                    std::thread::sleep(wait.max(Duration::from_millis(50)));
                }
            }
        }
    }

    /// Who watches the run (default: [`PrintRunId`]).
    pub fn with_observer(mut self, observer: Arc<dyn RunObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Run at most `n` independent stages at once (default: all that are
    /// ready; 1 runs them one at a time in plan order).
    pub fn with_max_parallel_stages(mut self, n: usize) -> Self {
        self.max_parallel_stages = n.max(1);
        self
    }

    /// Journal `note` (how tasks are dispatched) in the `run_started` event.
    pub fn with_dispatch_note(mut self, note: Value) -> Self {
        self.dispatch_note = note;
        self
    }

    /// Export each run's spans (run → stage → agent → task → attempt) when it ends.
    pub fn with_tracing(mut self, otlp: Option<Arc<Otlp>>) -> Self {
        self.otlp = otlp;
        self
    }

    /// Record role decisions in this audit log.
    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    fn audit_rbac(&self, p: &Pipeline, principal: &str, role: &str) -> Result<(), OrchestratorError> {
        let verdict = check_rbac(p, principal, role);
        if let Some(log) = &self.audit {
            let subject = Subject { principal: principal.to_string(), ..Subject::default() };
            let (decision, detail) = match &verdict {
                Ok(()) => ("allow", format!("role `{role}` may run every stage of {}", p.file)),
                Err(e) => ("deny", e.to_string()),
            };
            log.append(&[subject.event("rbac", decision, detail)]);
        }
        verdict
    }

    /// Start a new run of `pipeline` (its source text is journaled for resume).
    pub fn start(&self, pipeline: &Pipeline, source: &str, opts: &RunOptions) -> Result<RunOutcome, OrchestratorError> {
        self.audit_rbac(pipeline, &opts.principal, &opts.role)?;
        let root_inputs = entry_inputs(pipeline);
        let workspace = opts
            .workspace
            .canonicalize()
            .map_err(|e| OrchestratorError::Io(format!("workspace {}: {e}", opts.workspace.display())))?;
        let mut resolved = inputs::resolve(&root_inputs, &workspace, &opts.inputs)?;
        for (name, value) in inputs::shared_from_workspace(&pipeline.shared_context, &workspace) {
            resolved.entry(name).or_insert(value);
        }
        let id = format!("run-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let trace_id = uuid::Uuid::new_v4().simple().to_string();
        let dir = opts.runs_dir.join(&id);
        std::fs::create_dir_all(dir.join("staging"))
            .map_err(|e| OrchestratorError::Io(format!("run directory {}: {e}", dir.display())))?;
        let journals = Journals::new(opts.runs_dir.clone(), self.journal_url.clone());
        let mut journal = journals.create(&id)?;
        let inputs_json = serde_json::to_string(&resolved).unwrap_or_default();
        journal.create_run(&NewRun {
            id: &id,
            pipeline: &pipeline.file,
            pipeline_text: source,
            workspace: &workspace.display().to_string(),
            principal: &opts.principal,
            role: &opts.role,
            trace_id: &trace_id,
            inputs: &inputs_json,
        })?;
        let lease = self.take_lease(&journal, opts.quiet)?;
        journal.event(
            "run_started",
            &json!({ "principal": opts.principal, "role": opts.role, "trace_id": trace_id, "dispatch": self.dispatch_note }),
        )?;
        self.observer.started(&id);
        progress(opts.quiet, format_args!("run {id}: {} ({} stages), trace {trace_id}", pipeline.file, pipeline.stages.len()));
        let run = Run {
            id,
            dir,
            response_times: contract::response_times(pipeline, &workspace),
            workspace,
            trace_id,
            pipeline,
            journal: Mutex::new(journal),
            lease,
            lease_lost: AtomicBool::new(false),
            dispatch: self.dispatch,
            artifacts: Mutex::new(resolved),
            consecutive_failures: AtomicU32::new(0),

            coordination_cpu_us: AtomicU64::new(0),
            tool_ms: AtomicU64::new(0),
            quiet: opts.quiet,
            max_parallel_stages: self.max_parallel_stages,
            observer: self.observer.as_ref(),
            otlp: self.otlp.as_deref(),
            in_flight: Mutex::default(),
            sent_gates: BTreeSet::new(),
        };
        Ok(run.execute())
    }

    /// Continue a run that crashed or halted. Tasks that finished are not
    /// run again; a task interrupted mid-merge finishes its merge.
    pub fn resume(&self, run_dir: &Path, cx: &pipeline::Context, quiet: bool) -> Result<RunOutcome, OrchestratorError> {
        let id = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let runs_dir = run_dir.parent().unwrap_or(Path::new(".")).to_path_buf();
        let journals = Journals::new(runs_dir, self.journal_url.clone());
        let journal = journals.open(&id).map_err(|e| match e {
            StoreError::NoRun(_) => OrchestratorError::NoRun(id.clone()),
            e => e.into(),
        })?;
        if journal.run()?.status == protocol::RunStatus::Completed {
            return Err(OrchestratorError::AlreadyCompleted(id));
        }
        let lease = self.take_lease(&journal, quiet)?;
        let row = journal.run()?;
        if row.status == protocol::RunStatus::Completed {
            let _ = journal.release_lease(&lease);
            return Err(OrchestratorError::AlreadyCompleted(row.id));
        }
        std::fs::create_dir_all(run_dir.join("staging"))
            .map_err(|e| OrchestratorError::Io(format!("run directory {}: {e}", run_dir.display())))?;
        let (source, inputs_json) = journal.run_source()?;
        let pipeline = pipeline::parse(&row.pipeline, &source, cx).map_err(OrchestratorError::Pipeline)?;
        self.audit_rbac(&pipeline, &row.principal, &row.role)?;
        let artifacts: BTreeMap<String, Value> = serde_json::from_str(&inputs_json).unwrap_or_default();
        let workspace = PathBuf::from(row.workspace);
        let findings = super::verify::verify(&journal, &workspace)?;
        if !findings.is_empty() {
            let listed: Vec<String> = findings.iter().map(ToString::to_string).collect();
            if !self.accept_workspace {
                let message = format!(
                    "data corruption: the run's files are not what its journal recorded, so resuming would build on them: {}; \
                     inspect them (`taylordash runs verify {}`), then resume with --accept-workspace-changes to continue on them",
                    listed.join("; "),
                    row.id
                );
                journal.event("data_corruption", &json!({ "findings": findings }))?;
                journal.set_run_status(protocol::RunStatus::NeedsReview, Some(&message))?;
                let _ = journal.release_lease(&lease);
                progress(quiet, format_args!("run {}: needs review: {message}", row.id));
                return Ok(RunOutcome { run_id: row.id, run_dir: run_dir.to_path_buf(), status: RunStatus::NeedsReview(message) });
            }
            journal.event("workspace_changes_accepted", &json!({ "findings": findings }))?;
            progress(quiet, format_args!("run {}: building on {} change(s) to its files, as asked", row.id, findings.len()));
        }
        let sent_gates = gates_sent_unanswered(&journal)?;
        journal.set_run_status(protocol::RunStatus::Running, None)?;
        journal.event("run_resumed", &json!({}))?;
        progress(quiet, format_args!("run {}: resuming {}", row.id, row.pipeline));
        self.observer.started(&row.id);
        let run = Run {
            id: row.id,
            dir: run_dir.to_path_buf(),
            response_times: contract::response_times(&pipeline, &workspace),
            workspace,
            trace_id: row.trace_id,
            pipeline: &pipeline,
            journal: Mutex::new(journal),
            lease,
            lease_lost: AtomicBool::new(false),
            dispatch: self.dispatch,
            artifacts: Mutex::new(artifacts),
            consecutive_failures: AtomicU32::new(0),
            coordination_cpu_us: AtomicU64::new(0),
            tool_ms: AtomicU64::new(0),
            quiet,
            max_parallel_stages: self.max_parallel_stages,
            observer: self.observer.as_ref(),
            otlp: self.otlp.as_deref(),
            in_flight: Mutex::default(),
            sent_gates,
        };
        Ok(run.execute())
    }
}

/// Gates (task ids) the run's journal says were sent (`gate_sent`) and
/// never answered (no `gate` event for that stage, gate and attempt).
fn gates_sent_unanswered(journal: &Journal) -> Result<BTreeSet<String>, StoreError> {
    let mut sent = BTreeSet::new();
    let mut answered = BTreeSet::new();
    for e in journal.events()? {
        let data: Value = serde_json::from_str(&e.data).unwrap_or_default();
        match e.kind.as_str() {
            "gate_sent" => sent.extend(data["task_id"].as_str().map(str::to_string)),
            "gate" => {
                let (stage, gate) = (data["stage"].as_str().unwrap_or_default(), data["gate"].as_str().unwrap_or_default());
                answered.insert(format!("{stage}/gate/{gate}#{}", data["attempt"]));
            }
            _ => {}
        }
    }
    Ok(sent.difference(&answered).cloned().collect())
}

/// One tool call of an agent, as its stage asks for it.
struct ToolCall<'s> {
    stage: &'s Stage,
    agent: &'s str,
    tool: &'s str,
    task_id: &'s str,
    previous: Option<&'s Value>,
    feedback: Option<&'s Feedback>,
    /// Agents of the stage in priority order (first wins a merge conflict).
    priority: &'s [String],
    /// Set for an integration point's MCP call: its own input, and the
    /// target its answer is held to.
    point: Option<PointCall<'s>>,
}

/// A successful attempt, to be published.
#[derive(Clone, Copy)]
struct Succeeded<'s> {
    /// The agent that ran it (the backup, after a reassignment).
    agent: &'s str,
    attempt: u32,
    ms: i64,
    output: &'s str,
    staging: &'s Path,
    usage: Usage,
}

/// Why a successful call's files were not merged.
enum NotMerged {
    /// Refused (add_only, a bad staging directory, the journal): the attempt failed.
    Refused(TaskError),
    /// Paths of another agent: the task is rolled back and runs again.
    Conflict(Vec<Lost>),
}

impl From<TaskError> for NotMerged {
    fn from(e: TaskError) -> Self {
        NotMerged::Refused(e)
    }
}

/// Where a stage is in [`Run::stages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StageState {
    Waiting,
    Running,
    /// Done or skipped: the stages that wait for it may start.
    Done,
    Stopped,
}

/// What each stage waits for: its dependencies, and for a `final: true`
/// stage every other stage (it is last in the file, but its `needs` may
/// name fewer).
fn stage_waits(p: &Pipeline) -> Vec<Vec<usize>> {
    let mut deps = pipeline::plan::dependencies(p);
    for (i, stage) in p.stages.iter().enumerate() {
        if stage.is_final {
            deps[i] = (0..p.stages.len()).filter(|&j| j != i).collect();
        }
    }
    deps
}

/// The first waiting stage, in file order, whose dependencies are all done.
fn next_ready(deps: &[Vec<usize>], state: &[StageState]) -> Option<usize> {
    (0..deps.len())
        .find(|&i| state[i] == StageState::Waiting && deps[i].iter().all(|&d| state[d] == StageState::Done))
}

/// The inputs of stages with no dependencies: they come from the run.
pub fn entry_inputs(p: &Pipeline) -> Vec<String> {
    let deps = pipeline::plan::dependencies(p);
    let mut names: Vec<String> = Vec::new();
    for (i, s) in p.stages.iter().enumerate() {
        if deps[i].is_empty() {
            for n in &s.inputs {
                if !names.contains(&n.name) {
                    names.push(n.name.clone());
                }
            }
        }
    }
    names
}

/// Every agent of every stage must admit the caller's role.
pub fn check_rbac(p: &Pipeline, principal: &str, role: &str) -> Result<(), OrchestratorError> {
    for stage in &p.stages {
        for agent in &stage.agents {
            if !agent.rbac.iter().any(|r| r.name == role) {
                let allowed: Vec<&str> = agent.rbac.iter().map(|r| r.name.as_str()).collect();
                return Err(OrchestratorError::Rbac {
                    stage: stage.name.clone(),
                    agent: agent.name.clone(),
                    allowed: if allowed.is_empty() { "no role".into() } else { format!("role {}", allowed.join(" or ")) },
                    principal: principal.to_string(),
                    role: if role.is_empty() { "none".into() } else { role.to_string() },
                });
            }
        }
    }
    Ok(())
}

fn span_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// Exponential backoff with full jitter: a random wait in [d/2, d].
fn backoff_delay(stage: &Stage, failures: u32) -> Duration {
    let b = stage.backoff;
    let exp = b.initial.as_secs_f64() * b.factor.powi(failures.saturating_sub(1) as i32);
    let capped = exp.min(b.max.as_secs_f64());
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    Duration::from_secs_f64(capped * (0.5 + 0.5 * jitter))
}

impl Run<'_> {
    fn journal<T>(&self, f: impl FnOnce(&mut Journal) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut guard = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn say(&self, line: std::fmt::Arguments<'_>) {
        progress(self.quiet, line);
    }

    /// Renew the lease every third of its life until `stop` closes; a
    /// lease found to be another's stops the run at its next step.
    fn heartbeat(&self, stop: std::sync::mpsc::Receiver<()>) {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(self.lease.ttl() / 3) {
            match self.journal(|j| j.renew_lease(&self.lease)) {
                Ok(()) => {}
                Err(e @ StoreError::LeaseLost { .. }) => {
                    tracing::error!("{e}");
                    self.lease_lost.store(true, Ordering::SeqCst);
                    return;
                }
                // The fenced writes catch a lease lost meanwhile; keep trying.
                Err(e) => tracing::warn!("could not renew the run's lease: {e}"),
            }
        }
    }

    /// The lease is another's: stop here, writing nothing more.
    fn lease_gone(&self) -> Option<Stop> {
        self.lease_lost
            .load(Ordering::SeqCst)
            .then(|| Stop::LeaseLost(format!("run `{}` is driven by another orchestrator now: this one lost its lease", self.id)))
    }

    fn execute(self) -> RunOutcome {
        let (stop_heartbeat, beats) = std::sync::mpsc::channel::<()>();
        let stopped = std::thread::scope(|scope| {
            scope.spawn(|| self.heartbeat(beats));
            let stopped = self.stages();
            drop(stop_heartbeat);
            stopped
        });
        let status = match stopped {
            Ok(()) => self.finish_checks(),
            Err(Stop::Failed(m)) => RunStatus::Failed(m),
            Err(Stop::Review(m)) => RunStatus::NeedsReview(m),
            Err(Stop::Cancelled) => RunStatus::Cancelled,
            Err(Stop::LeaseLost(m)) => {
                self.say(format_args!("run {}: stopped: {m}", self.id));
                return RunOutcome { run_id: self.id.clone(), run_dir: self.dir.clone(), status: RunStatus::Failed(m) };
            }
        };
        let error = match &status {
            RunStatus::Completed | RunStatus::Cancelled => None,
            RunStatus::Failed(m) | RunStatus::NeedsReview(m) => Some(m.clone()),
        };
        let cpu = json!({
            "coordination_cpu_ms": self.coordination_cpu_us.load(Ordering::Relaxed) / 1000,
            "tool_ms": self.tool_ms.load(Ordering::Relaxed),
        });
        let _ = self.journal(|j| {
            j.set_run_status(status.label(), error.as_deref())?;
            j.event("orchestrator_cpu", &cpu)?;
            j.event("run_finished", &json!({ "status": status.label(), "error": error }))?;
            j.release_lease(&self.lease)
        });
        self.write_agents_json();
        if let Some(otlp) = self.otlp {
            match self.journal(|j| j.snapshot()) {
                Ok(snapshot) => otlp.send(crate::observe::trace::run_spans(&snapshot, crate::store::now_ms())),
                Err(e) => tracing::warn!("no spans for run {}: {e}", self.id),
            }
        }
        // `-q` silences progress, not the reason a run did not complete.
        match &status {
            RunStatus::Completed => self.say(format_args!("run {}: completed", self.id)),
            RunStatus::Failed(m) => progress(false, format_args!("run {}: failed: {m}", self.id)),
            RunStatus::NeedsReview(m) => progress(false, format_args!("run {}: needs review: {m}", self.id)),
            RunStatus::Cancelled => self.say(format_args!("run {}: cancelled (resume continues it)", self.id)),
        }
        RunOutcome { run_id: self.id.clone(), run_dir: self.dir.clone(), status }
    }

    fn write_agents_json(&self) {
        let dirs = [self.dir.as_path(), self.workspace.as_path()];
        let guard = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = write_agents_json(&guard, &dirs) {
            tracing::warn!(error = %e, "could not write agents.json");
        }
    }

    /// Run every stage as soon as its dependencies are done, independent
    /// ones concurrently; the first stage to stop the run ends it.
    fn stages(&self) -> Result<(), Stop> {
        let deps = stage_waits(self.pipeline);
        pipeline::plan::order(&deps).map_err(|_| Stop::Failed("the stages form a cycle".into()))?;
        let mut state = vec![StageState::Waiting; deps.len()];
        let (finished_tx, finished_rx) = std::sync::mpsc::channel::<(usize, Result<(), Stop>)>();
        std::thread::scope(|scope| {
            let mut running = 0usize;
            let mut first_stop: Option<Stop> = None;
            loop {
                while first_stop.is_none() && running < self.max_parallel_stages {
                    let Some(i) = next_ready(&deps, &state) else { break };
                    if self.observer.cancelled() {
                        first_stop = Some(Stop::Cancelled);
                        break;
                    }
                    let stage = &self.pipeline.stages[i];
                    match self.skipped(i, stage) {
                        Ok(true) => {
                            state[i] = StageState::Done;
                            let finished = state.iter().filter(|s| matches!(s, StageState::Done | StageState::Stopped)).count();
                            self.observer.stage_finished(&stage.name, StageStatus::Skipped, finished, deps.len());
                            continue;
                        }
                        Ok(false) => {}
                        Err(stop) => {
                            first_stop = Some(stop);
                            break;
                        }
                    }
                    state[i] = StageState::Running;
                    running += 1;
                    let finished_tx = finished_tx.clone();
                    scope.spawn(move || {
                        // A panicking stage still reports, or this loop would wait for it forever.
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.stage(i, stage)))
                            .unwrap_or_else(|_| Err(Stop::Failed(format!("stage `{}` panicked", stage.name))));
                        let _ = finished_tx.send((i, result));
                    });
                }
                if running == 0 {
                    break;
                }
                // Every stage thread sends once before it ends, and `finished_tx`
                // lives on here: this receives once per running stage.
                let Ok((i, result)) = finished_rx.recv() else { break };
                running -= 1;
                let finished = state.iter().filter(|s| matches!(s, StageState::Done | StageState::Stopped)).count() + 1;
                let name = &self.pipeline.stages[i].name;
                match result {
                    Ok(()) => {
                        state[i] = StageState::Done;
                        self.write_agents_json();
                        self.observer.stage_finished(name, StageStatus::Done, finished, deps.len());
                    }
                    Err(stop) => {
                        state[i] = StageState::Stopped;
                        self.observer.stage_finished(name, StageStatus::Failed, finished, deps.len());
                        first_stop.get_or_insert(stop);
                    }
                }
            }
            match first_stop {
                Some(stop) => Err(stop),
                None => Ok(()),
            }
        })
    }

    /// Whether the stage's `if:` skips it (journaled and said when it does).
    fn skipped(&self, position: usize, stage: &Stage) -> Result<bool, Stop> {
        let Some(cond) = &stage.condition else { return Ok(false) };
        let (negate, name) = match cond.name.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, cond.name.as_str()),
        };
        let present = self.artifacts.lock().map(|a| a.get(name).is_some_and(dataflow::non_empty)).unwrap_or(false);
        if present != negate {
            return Ok(false);
        }
        self.journal(|j| j.set_stage(&stage.name, position, StageStatus::Skipped, 0, None))?;
        self.say(format_args!("[{}] skipped (if: {})", stage.name, cond.name));
        Ok(true)
    }

    fn stage(&self, position: usize, stage: &Stage) -> Result<(), Stop> {
        let (mut attempt, mut feedback) = match self.journal(|j| j.stage(&stage.name))? {
            Some((status, attempt, _)) if status == StageStatus::Done => {
                self.say(format_args!("[{}] already done", stage.name));
                self.replay_outputs(stage, attempt)?;
                return Ok(());
            }
            Some((_, attempt, feedback)) => {
                (attempt.max(1), feedback.and_then(|f| serde_json::from_str::<Feedback>(&f).ok()))
            }
            None => (1, None),
        };
        self.check_handoff(stage)?;
        self.integration_points(stage)?;
        let budget = stage_retries(stage);
        loop {
            let fb_text = feedback.as_ref().and_then(|f| serde_json::to_string(f).ok());
            self.journal(|j| j.set_stage(&stage.name, position, StageStatus::Running, attempt, fb_text.as_deref()))?;
            self.say(format_args!("[{}] attempt {attempt}{}", stage.name, if stage.parallel { " (parallel agents)" } else { "" }));
            let started = Instant::now();
            let files = self.agents(stage, attempt, feedback.as_ref())?;
            self.check_outputs(stage)?;
            let verdict = self.gates(stage, attempt, &files)?;
            self.settle_contradictions(stage, attempt, verdict.as_ref())?;
            match verdict {
                None => {
                    self.journal(|j| j.set_stage(&stage.name, position, StageStatus::Done, attempt, None))?;
                    self.say(format_args!("[{}] done in {} ms", stage.name, started.elapsed().as_millis()));
                    return Ok(());
                }
                Some(report) if attempt <= budget => {
                    self.say(format_args!("[{}] gates failed; retrying with their report as context", stage.name));
                    self.journal(|j| j.event("retry_with_enhanced_context", &json!({ "stage": stage.name, "attempt": attempt, "report": report })))?;
                    feedback = Some(report);
                    attempt += 1;
                }
                Some(report) => {
                    self.journal(|j| j.set_stage(&stage.name, position, StageStatus::Failed, attempt, None))?;
                    let report = serde_json::to_string(&report).unwrap_or_default();
                    return Err(Stop::Failed(format!("stage `{}`: gates still failing after {attempt} attempts: {report}", stage.name)));
                }
            }
        }
    }

    /// The stage's integration points: each `mcp_orchestration` server that
    /// serves one is called (a `mcp_call` task) before the agents run, its
    /// answer merged into the workspace and timed against its target.
    fn integration_points(&self, stage: &Stage) -> Result<(), Stop> {
        let calls = integration::calls(self.pipeline, stage);
        for point in calls {
            let (agent, task_id) = (point.agent(), point.task_id(stage));
            self.say(format_args!("[{}] {}: asking MCP server `{}`", stage.name, point.point, point.server.name));
            let call = ToolCall {
                stage,
                agent: &agent,
                tool: integration::PLUGIN,
                task_id: &task_id,
                previous: None,
                feedback: None,
                priority: &[],
                point: Some(point),
            };
            self.task(&call)?;
        }
        Ok(())
    }

    /// Journal an integration point's answer time (`mcp_call`), and a
    /// `mcp_target_breach` when it missed the server's target; the answer stands.
    fn check_point_target(&self, call: &ToolCall<'_>, point: &PointCall<'_>, ms: i64) {
        let (event, breached) = point.measured(call.stage, ms);
        if breached {
            self.say(format_args!(
                "  {}: slower than its target ({ms} ms > {} ms)",
                call.agent,
                point.server.target.map(|t| t.as_millis()).unwrap_or_default()
            ));
        }
        let kinds: &[&str] = if breached { &["mcp_call", "mcp_target_breach"] } else { &["mcp_call"] };
        for kind in kinds {
            if let Err(e) = self.journal(|j| j.event(kind, &event)) {
                tracing::warn!("cannot journal the {kind} of {}: {e}", call.task_id);
            }
        }
    }

    /// Agents of this stage attempt that typed one contract field differently
    /// ([`conflict::contradictions`]): settled on the gates' evidence (the
    /// side whose files drew findings loses, and the gate retry tells it so),
    /// else the run halts for review. Each is a `decision` event.
    fn settle_contradictions(&self, stage: &Stage, attempt: u32, report: Option<&Feedback>) -> Result<(), Stop> {
        let suffix = format!("#{attempt}");
        let mut outputs: Vec<(String, Value)> = self
            .journal(|j| j.tasks())?
            .into_iter()
            .filter(|t| t.stage == stage.name && t.task_id.ends_with(&suffix))
            .filter_map(|t| t.output.as_deref().and_then(|o| serde_json::from_str(o).ok()).map(|v| (t.agent, v)))
            .collect();
        // In the stage's agent order, whatever order they finished in.
        outputs.sort_by_key(|(agent, _)| stage.agents.iter().position(|a| a.name == *agent));
        let found = conflict::contradictions(&outputs);
        if found.is_empty() {
            return Ok(());
        }
        let merges = self.journal(|j| j.merges())?;
        let findings = report.into_iter().flat_map(|r| r.failed_gates.iter()).flat_map(|g| g.report["findings"].as_array().cloned().unwrap_or_default());
        let mut faulted: Vec<String> = Vec::new();
        for file in findings.filter_map(|f| f["file"].as_str().map(str::to_string)) {
            if let Some((_, _, agent)) = merges.iter().find(|(p, _, _)| *p == file) {
                if !faulted.contains(agent) {
                    faulted.push(agent.clone());
                }
            }
        }
        for c in &found {
            let verdict = conflict::arbitrate(c, &faulted);
            self.journal(|j| j.event("decision", &conflict::contradiction_decision(&stage.name, c, &verdict)))?;
            let claims: Vec<String> = c.claims.iter().map(|(a, t)| format!("`{a}`: {t}")).collect();
            match verdict {
                conflict::Arbitration::Kept { kept, losers } => self.say(format_args!(
                    "[{}] contradiction on {}.{} ({}): kept `{kept}`'s, the gates found fault with {}",
                    stage.name,
                    c.contract,
                    c.field,
                    claims.join(", "),
                    losers.join(", ")
                )),
                conflict::Arbitration::Undecidable => {
                    return Err(Stop::Review(format!(
                        "contradictory outputs in stage `{}`: {}.{} is typed {}, and the gates' evidence does not decide",
                        stage.name,
                        c.contract,
                        c.field,
                        claims.join(" vs ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// A completed stage's outputs, from the journal, for the stages after it.
    fn replay_outputs(&self, stage: &Stage, attempt: u32) -> Result<(), Stop> {
        for (gate, _, report) in self.journal(|j| j.gate_results(&stage.name, attempt))? {
            if let (Ok(report), Ok(mut artifacts)) = (serde_json::from_str::<Value>(&report), self.artifacts.lock()) {
                artifacts.insert(gate, report);
            }
        }
        let tasks = self.journal(|j| j.tasks())?;
        let merges = self.journal(|j| j.merges())?;
        for t in tasks.iter().filter(|t| t.stage == stage.name && t.status == TaskStatus::Done) {
            let output: Value = t.output.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
            let files: Vec<String> = merges.iter().filter(|(_, id, _)| *id == t.task_id).map(|(p, _, _)| p.clone()).collect();
            self.register_outputs(stage, &output, &files);
        }
        Ok(())
    }

    /// Note the artifacts a task produced: its stage's declared outputs, and
    /// the run-wide names (a combination's `outputs` and hand-overs).
    fn register_outputs(&self, stage: &Stage, output: &Value, files: &[String]) {
        let Ok(mut artifacts) = self.artifacts.lock() else { return };
        let handoffs = self.pipeline.stages.iter().flat_map(|s| s.handoff.iter());
        for name in stage.outputs.iter().chain(&self.pipeline.outputs).chain(handoffs) {
            if let Some(v) = dataflow::produced(&name.name, output, files) {
                artifacts.insert(name.name.clone(), v);
            }
        }
    }

    /// Names of `wanted` that no task has produced yet.
    fn not_produced<'n>(&self, wanted: &'n [pipeline::Named]) -> Vec<&'n pipeline::Named> {
        let artifacts = self.artifacts.lock().unwrap_or_else(|p| p.into_inner());
        wanted.iter().filter(|n| !artifacts.contains_key(&n.name)).collect()
    }

    /// Before a stage that receives a hand-over: every artifact handed to it
    /// must exist.
    fn check_handoff(&self, stage: &Stage) -> Result<(), Stop> {
        let missing = self.not_produced(&stage.handoff);
        let Some(first) = missing.first() else { return Ok(()) };
        let names: Vec<&str> = missing.iter().map(|n| n.name.as_str()).collect();
        Err(Stop::Failed(format!(
            "handoff to `{}`: the earlier agents did not produce {} (handoff_artifacts at {}:{}; a tool's JSON key, \
             or a file or directory of that name)",
            stage.name,
            names.join(", "),
            self.pipeline.file,
            first.pos
        )))
    }

    fn check_outputs(&self, stage: &Stage) -> Result<(), Stop> {
        let artifacts = self.artifacts.lock().map_err(|_| Stop::Failed("poisoned".into()))?;
        let missing: Vec<&str> =
            stage.outputs.iter().map(|n| n.name.as_str()).filter(|n| !artifacts.contains_key(*n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Stop::Failed(format!(
                "stage `{}` did not produce its declared output(s): {} (a tool's JSON key or a file of that name)",
                stage.name,
                missing.join(", ")
            )))
        }
    }

    /// Run the stage's agents; returns the files merged by the stage.
    fn agents(&self, stage: &Stage, attempt: u32, feedback: Option<&Feedback>) -> Result<Vec<String>, Stop> {
        let priority: Vec<String> = stage.agents.iter().map(|a| a.name.clone()).collect();
        if !stage.parallel || stage.agents.len() < 2 {
            let mut files = Vec::new();
            for agent in &stage.agents {
                files.extend(self.agent(stage, &agent.name, attempt, feedback, &priority, None)?);
            }
            return Ok(files);
        }
        let stall = self.pipeline.policies.stall_timeout;
        let join = Join::new(stage.agents.len());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            for agent in &stage.agents {
                let tx = tx.clone();
                let (priority, join) = (&priority, &join);
                scope.spawn(move || {
                    let _ = tx.send(self.agent(stage, &agent.name, attempt, feedback, priority, Some(join)));
                });
            }
            drop(tx);
            let mut files = Vec::new();
            let mut first_stop = None;
            let mut finished = 0;
            while finished < stage.agents.len() {
                match rx.recv_timeout(stall) {
                    Ok(Ok(f)) => files.extend(f),
                    Ok(Err(stop)) => {
                        first_stop.get_or_insert(stop);
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) if InFlight::any(&self.in_flight, &stage.name) => continue,
                    Err(_) => {
                        let msg = format!(
                            "circular coordination: no progress in stage `{}` for {:?}",
                            stage.name, stall
                        );
                        let _ = self.journal(|j| j.event("circular_coordination", &json!({ "stage": stage.name })));
                        first_stop.get_or_insert(Stop::Review(msg));
                        break;
                    }
                }
                finished += 1;
            }
            match first_stop {
                Some(stop) => Err(stop),
                None => Ok(files),
            }
        })
    }

    /// Run one agent's tools in order; returns the files it merged. In a
    /// parallel stage (`join`), a tool that runs the workspace waits for the
    /// other agents to finish building first ([`dataflow`]).
    fn agent(
        &self,
        stage: &Stage,
        agent: &str,
        attempt: u32,
        feedback: Option<&Feedback>,
        priority: &[String],
        join: Option<&Join>,
    ) -> Result<Vec<String>, Stop> {
        let mut at_join = false;
        let result = self.agent_tools(stage, agent, attempt, feedback, priority, join, &mut at_join);
        if let Some(join) = join {
            if !at_join {
                join.built(result.is_err());
            }
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn agent_tools(
        &self,
        stage: &Stage,
        agent: &str,
        attempt: u32,
        feedback: Option<&Feedback>,
        priority: &[String],
        join: Option<&Join>,
        at_join: &mut bool,
    ) -> Result<Vec<String>, Stop> {
        let tools = stage.agents.iter().find(|a| a.name == agent).map(|a| a.tools.clone()).unwrap_or_default();
        let mut previous: Option<Value> = None;
        let mut files = Vec::new();
        for tool in &tools {
            if self.observer.cancelled() {
                return Err(Stop::Cancelled);
            }
            if let Some(join) = join.filter(|_| !*at_join && dataflow::waits_for_peers(&tool.name)) {
                *at_join = true;
                join.built(false);
                let peers: Vec<&str> = stage.agents.iter().map(|a| a.name.as_str()).filter(|a| *a != agent).collect();
                self.say(format_args!("[{}] {agent}: {} waits for {} to finish", stage.name, tool.name, peers.join(", ")));
                self.journal(|j| j.event("dataflow_wait", &json!({ "stage": stage.name, "agent": agent, "tool": tool.name, "peers": peers })))?;
                if join.wait() == Joined::PeerStopped {
                    return Ok(files);
                }
            }
            let task_id = format!("{}/{}/{}#{}", stage.name, agent, tool.name, attempt);
            let call = ToolCall { stage, agent, tool: &tool.name, task_id: &task_id, previous: previous.as_ref(), feedback, priority, point: None };
            let (output, merged) = self.task(&call)?;
            self.register_outputs(stage, &output, &merged);
            files.extend(merged);
            previous = Some(output);
        }
        Ok(files)
    }

    /// The tool's input: the stage's inputs that exist, and the envelope.
    fn task_input(&self, stage: &Stage, task: &Task, previous: Option<&Value>, feedback: Option<&Feedback>) -> String {
        let artifacts = self.artifacts.lock().map(|a| a.clone()).unwrap_or_default();
        let mut input = Map::new();
        for name in &stage.inputs {
            if let Some(v) = artifacts.get(&name.name) {
                input.insert(name.name.clone(), v.clone());
            }
        }
        let mut shared: Map<String, Value> = self
            .pipeline
            .shared_context
            .iter()
            .filter_map(|n| artifacts.get(n).map(|v| (n.clone(), v.clone())))
            .collect();
        if !self.pipeline.template_integration.is_empty() {
            let tasks = self.journal(|j| j.tasks()).unwrap_or_default();
            let facts = RunFacts {
                run_id: &self.id,
                attempt: task.attempt,
                tasks: tasks.into_iter().map(|t| (t.task_id, t.status)).collect(),
                workspace: &self.workspace,
            };
            for field in &self.pipeline.template_integration {
                let value = field.template.render_value(|v| contract::value(self.pipeline, stage, &task.agent, &facts, v));
                shared.insert(field.key.clone(), value);
            }
        }
        let envelope = Envelope {
            task: Some(task.info()),
            previous: previous.cloned(),
            feedback: feedback.cloned(),
            shared_context: (!shared.is_empty()).then_some(shared),
        };
        Value::Object(envelope.wrap(input)).to_string()
    }

    /// Run one task to completion: skip it if the journal says it finished,
    /// finish its merge if a crash interrupted one, else attempt it (with
    /// retries, backoff and reassignment) and merge its `/out`.
    fn task(&self, call: &ToolCall<'_>) -> Result<(Value, Vec<String>), Stop> {
        let _in_flight = InFlight::enter(&self.in_flight, &call.stage.name);
        let span = span_id();
        self.journal(|j| j.upsert_task(call.task_id, &call.stage.name, call.agent, call.tool, &span))?;
        if let Some(finished) = self.finished_before(call)? {
            return Ok(finished);
        }
        let retries = stage_retries(call.stage);
        let mut running_as = call.agent.to_string();
        let mut failures = 0u32;
        // An attempt a dead orchestrator sent and never saw end is sent
        // again as itself: the worker that ran it answers from its memory.
        let mut resend = self.dispatch.resends_attempts();
        // Set once the task lost a path to another agent: it runs again told so.
        let mut conflict_feedback: Option<Feedback> = None;
        loop {
            if let Some(stop) = self.lease_gone() {
                return Err(stop);
            }
            let limit = self.pipeline.policies.max_consecutive_failures;
            if self.consecutive_failures.load(Ordering::SeqCst) > limit {
                return Err(Stop::Review(format!("more than {limit} consecutive failures (last: {})", call.task_id)));
            }
            let cpu = thread_cpu();
            let retold = ToolCall { feedback: conflict_feedback.as_ref().or(call.feedback), ..*call };
            let (task, resent) = self.prepare_attempt(&retold, &running_as, std::mem::take(&mut resend))?;
            let mut own_cpu = thread_cpu().saturating_sub(cpu);
            let started = Instant::now();
            let result = if resent { self.dispatch.run_resent(&task) } else { self.dispatch.run(&task) };
            let ms = started.elapsed().as_millis() as i64;
            for (kind, data) in self.dispatch.take_events() {
                self.journal(|j| j.event(&kind, &data))?;
            }
            let cpu = thread_cpu();
            let result = match result {
                Ok(res) => {
                    self.tool_ms.fetch_add(res.usage.call_ms, Ordering::Relaxed);
                    self.accept(call, &task, ms, res)
                }
                Err(e) => Err(NotMerged::Refused(e)),
            };
            own_cpu += thread_cpu().saturating_sub(cpu);
            self.coordination_cpu_us.fetch_add(own_cpu.as_micros() as u64, Ordering::Relaxed);
            let error = match result {
                Ok(finished) => return Ok(finished),
                Err(NotMerged::Conflict(lost)) => {
                    let escalated = conflict_feedback.is_some();
                    self.roll_back(call, &task, ms, &lost, escalated)?;
                    if escalated {
                        return Err(Stop::Review(format!(
                            "resource conflict in stage `{}` is undecidable: `{}` ran again after being told and still claims {}",
                            call.stage.name, task.agent, conflict::summary(&lost)
                        )));
                    }
                    conflict_feedback = Some(conflict::feedback(&lost));
                    continue;
                }
                Err(NotMerged::Refused(e)) => e,
            };
            if let Some(stop) = self.lease_gone() {
                return Err(stop);
            }
            failures += 1;
            self.record_failure(call, &task, ms, &error)?;
            if let Some(backup) = self.backup_for(call, &running_as, &error)? {
                running_as = backup;
                continue;
            }
            if !(error.retryable || error.timed_out) || failures > retries {
                self.dispatch.gave_up(&task, &error);
                return Err(Stop::Failed(format!("task {} failed: {}", call.task_id, error.message)));
            }
            std::thread::sleep(backoff_delay(call.stage, failures));
        }
    }

    /// What the journal says of a task that finished (or merged) before a
    /// crash or halt: its output and files, without running it again.
    fn finished_before(&self, call: &ToolCall<'_>) -> Result<Option<(Value, Vec<String>)>, Stop> {
        let (agent, tool, task_id) = (call.agent, call.tool, call.task_id);
        let Some(row) = self.journal(|j| j.task(task_id))? else { return Ok(None) };
        let output = || row.output.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
        match row.status.parse::<TaskStatus>() {
            Ok(TaskStatus::Done) => {
                let files = self.journal(|j| j.merges())?
                    .into_iter()
                    .filter(|(_, id, _)| id == task_id)
                    .map(|(p, _, _)| p)
                    .collect();
                self.say(format_args!("  {agent}/{tool}: done before, not run again"));
                Ok(Some((output(), files)))
            }
            Ok(TaskStatus::Merging) => {
                let staging = PathBuf::from(row.staging.clone().unwrap_or_default());
                {
                    // Merges hold the journal lock: no live copy is swept.
                    let _merges = self.journal.lock().unwrap_or_else(|p| p.into_inner());
                    let swept = merge::sweep_stale_copies(&staging, &self.workspace);
                    if swept > 0 {
                        tracing::info!(task = %task_id, swept, "removed the copies its interrupted merge left");
                    }
                }
                let files = self.merge(call, &row.agent, &staging)?;
                self.journal(|j| j.finish_task(task_id))?;
                self.say(format_args!("  {agent}/{tool}: finished its interrupted merge"));
                Ok(Some((output(), files)))
            }
            _ => Ok(None),
        }
    }

    /// Journal a new attempt of `call` by `running_as`, give it a fresh
    /// staging directory, and build the task the dispatcher runs.
    /// With `resend`, an attempt journaled as started and never ended is
    /// sent again as it was (same number, agent and span; its staging kept);
    /// the task, and whether it is such a re-sent attempt.
    fn prepare_attempt(&self, call: &ToolCall<'_>, running_as: &str, resend: bool) -> Result<(Task, bool), Stop> {
        let task_id = call.task_id;
        let unfinished = if resend { self.journal(|j| j.unfinished_attempt(task_id))? } else { None };
        let resent = unfinished.is_some();
        let (attempt, running_as, span) = match unfinished {
            Some((attempt, agent, _, span)) => {
                self.journal(|j| j.renew_lease(&self.lease))?;
                self.say(format_args!("  {agent}/{}: attempt {attempt} sent again (its orchestrator stopped before it ended)", call.tool));
                (attempt, agent, span)
            }
            None => {
                let span = span_id();
                (self.journal(|j| j.start_attempt(task_id, running_as, &self.trace_id, &span, Some(&self.lease)))?, running_as.to_string(), span)
            }
        };
        let staging = self.dir.join("staging").join(format!("{}-{attempt}", task_id.replace(['/', '#'], "_")));
        if !resent {
            let _ = std::fs::remove_dir_all(&staging);
        }
        std::fs::create_dir_all(&staging).map_err(|e| Stop::Failed(format!("staging {}: {e}", staging.display())))?;
        let mut task = Task {
            run_id: self.id.clone(),
            task_id: task_id.to_string(),
            stage: call.stage.name.clone(),
            agent: running_as,
            tool: call.tool.to_string(),
            attempt,
            input: String::new(),
            trace_id: self.trace_id.clone(),
            span_id: span,
            timeout: call.stage.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT),
            workspace: self.workspace.clone(),
            staging,
        };
        if self.pipeline.policies.trace_required && (task.trace_id.is_empty() || task.span_id.is_empty()) {
            return Err(Stop::Failed(format!("trace_required: task {task_id} has no trace ids")));
        }
        task.input = match &call.point {
            Some(point) => Value::Object(Envelope { task: Some(task.info()), ..Envelope::default() }.wrap(point.input())).to_string(),
            None => self.task_input(call.stage, &task, call.previous, call.feedback),
        };
        Ok((task, resent))
    }

    /// Publish a successful attempt's files; acknowledge its result only
    /// once that is journaled.
    fn accept(&self, call: &ToolCall<'_>, task: &Task, ms: i64, mut res: TaskResult) -> Result<(Value, Vec<String>), NotMerged> {
        let done = Succeeded { agent: &task.agent, attempt: task.attempt, ms, output: &res.output, staging: &task.staging, usage: res.usage };
        let published = self.publish(call, &done);
        if let Err(NotMerged::Conflict(_)) = &published {
            // The result is decided on (rolled back): nothing to redeliver.
            if let Some(ack) = res.ack.take() {
                ack();
            }
        }
        let files = published?;
        if let Some(ack) = res.ack.take() {
            ack();
        }
        self.consecutive_failures.store(0, Ordering::SeqCst);
        self.say(format_args!("  {}/{}: ok in {ms} ms, {} file(s)", task.agent, call.tool, files.len()));
        match &call.point {
            Some(point) => self.check_point_target(call, point, ms),
            None => self.check_response_time(call, task, ms),
        }
        let output = serde_json::from_str(&res.output).unwrap_or(Value::Null);
        Ok((output, files))
    }

    /// A task slower than its agent's contract promises is an `sla_breach`
    /// event (counted in `taylordash_sla_breaches_total`); the task stands.
    fn check_response_time(&self, call: &ToolCall<'_>, task: &Task, ms: i64) {
        let Some(sla) = self.response_times.get(call.agent) else { return };
        if ms as u128 <= sla.as_millis() {
            return;
        }
        self.say(format_args!("  {}/{}: slower than its contract ({ms} ms > {} ms)", call.agent, call.tool, sla.as_millis()));
        let data = json!({ "task": task.task_id, "agent": call.agent, "tool": call.tool, "ms": ms, "sla_ms": sla.as_millis() as u64 });
        if let Err(e) = self.journal(|j| j.event("sla_breach", &data)) {
            tracing::warn!("cannot journal the sla breach of {}: {e}", task.task_id);
        }
    }

    /// Journal a failed attempt (and its denial, for exit codes 3 and 4).
    fn record_failure(&self, call: &ToolCall<'_>, task: &Task, ms: i64, error: &TaskError) -> Result<(), Stop> {
        let (task_id, tool) = (call.task_id, call.tool);
        self.consecutive_failures.fetch_add(1, Ordering::SeqCst);
        self.journal(|j| {
            j.fail_attempt(task_id, task.attempt, error.exit_code, &error.message, ms)?;
            if ExitCode::is_refusal(error.exit_code) {
                let decision = json!({ "task": task_id, "plugin": tool, "decision": "deny", "exit_code": error.exit_code, "detail": error.message });
                j.event("audit", &decision)?;
            }
            Ok(())
        })?;
        self.say(format_args!("  {}/{tool}: attempt {} failed (exit {}): {}", task.agent, task.attempt, error.exit_code, error.message));
        Ok(())
    }

    /// Journal a task rolled back for losing paths to another agent: its
    /// attempt ends failed (nothing merged) and the decision is recorded.
    fn roll_back(&self, call: &ToolCall<'_>, task: &Task, ms: i64, lost: &[Lost], escalated: bool) -> Result<(), Stop> {
        let message = format!("rolled back, nothing merged: {}", conflict::summary(lost));
        let decision = conflict::decision(&call.stage.name, call.task_id, &task.agent, lost, escalated);
        self.journal(|j| {
            j.fail_attempt(call.task_id, task.attempt, ExitCode::Failed.code(), &message, ms)?;
            j.event("decision", &decision)
        })?;
        let next = if escalated { "halting for human review" } else { "running it again after them" };
        self.say(format_args!("  conflict: {}/{} {message}; {next}", task.agent, call.tool));
        Ok(())
    }

    /// The backup agent a timed-out task goes to, unless it already runs there.
    fn backup_for(&self, call: &ToolCall<'_>, running_as: &str, error: &TaskError) -> Result<Option<String>, Stop> {
        let task_id = call.task_id;
        match (error.timed_out, call.stage.backup_agent.as_ref()) {
            (true, Some(backup)) if running_as != backup.name => {
                self.journal(|j| j.event("reassign_task_to_backup", &json!({ "task": task_id, "from": running_as, "to": backup.name })))?;
                self.say(format_args!("  {task_id}: timed out; reassigned to backup agent `{}`", backup.name));
                Ok(Some(backup.name.clone()))
            }
            _ => Ok(None),
        }
    }

    /// Journal the attempt's success and merge intent, then merge.
    fn publish(&self, call: &ToolCall<'_>, done: &Succeeded<'_>) -> Result<Vec<String>, NotMerged> {
        let (stage, task_id) = (call.stage, call.task_id);
        let Succeeded { agent, attempt, ms, output, staging, usage } = *done;
        let refused = |e: MergeRefused| TaskError {
            exit_code: if matches!(e, MergeRefused::AddOnly(_) | MergeRefused::Staging(_)) { ExitCode::Denied } else { ExitCode::Failed }
                .code(),
            message: e.to_string(),
            retryable: false,
            timed_out: false,
        };
        let reservations = conflict::reservations(stage);
        let m = Merger {
            task_id,
            agent,
            stage: &stage.name,
            agents: call.priority,
            reservations: &reservations,
            add_only: self.pipeline.policies.add_only,
        };
        let guard = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let planned = merge::plan(&m, &guard, staging, &self.workspace).map_err(refused)?;
        let lost = conflict::lost(&planned);
        if !lost.is_empty() {
            return Err(NotMerged::Conflict(lost));
        }
        let intents: Vec<(String, String)> = planned
            .iter()
            .filter(|f| !matches!(f.action, Action::KeepOther { .. }))
            .map(|f| (f.rel.clone(), f.sha256.clone()))
            .collect();
        guard
            .record_merge_intent(&MergeIntent {
                task_id,
                attempt,
                duration_ms: ms,
                output,
                staging: &staging.display().to_string(),
                files: &intents,
                agent,
                stage: &stage.name,
                usage,
            }, Some(&self.lease))
            .map_err(|e| {
                if matches!(e, StoreError::LeaseLost { .. }) {
                    self.lease_lost.store(true, Ordering::SeqCst);
                }
                refused(e.into())
            })?;
        for f in &planned {
            let decision = match (&f.action, &f.overrides) {
                (Action::Write, Some(loser)) => Some((agent.to_string(), loser.clone())),
                _ => None,
            };
            if let Some((winner, loser)) = decision {
                let _ = guard.event(
                    "decision",
                    &json!({ "detection": "concurrent_file_access", "resolution": "priority_based_queuing",
                             "path": f.rel, "stage": stage.name, "kept": winner, "discarded": loser }),
                );
                self.say(format_args!("  conflict on {}: kept `{winner}`'s version over `{loser}`'s (agent priority)", f.rel));
            }
        }
        let files = merge::apply(&planned, staging, &self.workspace).map_err(refused)?;
        crash_point("after_merge", task_id);
        guard.finish_task(task_id).map_err(|e| refused(e.into()))?;
        Ok(files)
    }

    /// Finish an interrupted merge from the preserved staging directory.
    fn merge(&self, call: &ToolCall<'_>, agent: &str, staging: &Path) -> Result<Vec<String>, Stop> {
        let m = Merger {
            task_id: call.task_id,
            agent,
            stage: &call.stage.name,
            agents: call.priority,
            reservations: &conflict::reservations(call.stage),
            add_only: self.pipeline.policies.add_only,
        };
        let guard = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let planned = merge::plan(&m, &guard, staging, &self.workspace).map_err(|e| Stop::Failed(e.to_string()))?;
        merge::apply(&planned, staging, &self.workspace).map_err(|e| Stop::Failed(e.to_string()))
    }

    /// Run the stage's gates; `None` when all pass, else the failure report.
    fn gates(&self, stage: &Stage, attempt: u32, files: &[String]) -> Result<Option<Feedback>, Stop> {
        let mut failures = Vec::new();
        for gate in &stage.gates {
            let task_id = format!("{}/gate/{}#{attempt}", stage.name, gate.name);
            let staging = self.dir.join("staging").join(task_id.replace(['/', '#'], "_"));
            let _ = std::fs::create_dir_all(&staging);
            let artifacts = self.artifacts.lock().map(|a| a.clone()).unwrap_or_default();
            let outputs: Map<String, Value> =
                stage.outputs.iter().filter_map(|n| artifacts.get(&n.name).map(|v| (n.name.clone(), v.clone()))).collect();
            let input = GateInput {
                gate: Some(gate.name.clone()),
                stage: Some(stage.name.clone()),
                attempt: Some(attempt),
                files: files.to_vec(),
                outputs: Some(outputs),
            };
            let mut task = Task {
                run_id: self.id.clone(),
                task_id: task_id.clone(),
                stage: stage.name.clone(),
                agent: "gate".into(),
                tool: gate.plugin.clone(),
                attempt,
                input: String::new(),
                trace_id: self.trace_id.clone(),
                span_id: span_id(),
                timeout: stage.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT),
                workspace: self.workspace.clone(),
                staging,
            };
            let envelope = Envelope { task: Some(task.info()), ..Envelope::default() };
            let own = match serde_json::to_value(&input) {
                Ok(Value::Object(own)) => own,
                _ => Map::new(),
            };
            task.input = Value::Object(envelope.wrap(own)).to_string();
            let mut ack = None;
            // Journaled as sent first: an orchestrator that takes the run over
            // asks for it (its worker may hold it) instead of sending it again.
            let sent = if self.sent_gates.contains(&task_id) {
                self.dispatch.run_resent(&task)
            } else {
                self.journal(|j| j.event("gate_sent", &json!({ "task_id": task_id })))?;
                self.dispatch.run(&task)
            };
            let (passed, report) = match sent {
                Ok(mut res) => {
                    ack = res.ack.take();
                    let v: Value = serde_json::from_str(&res.output).unwrap_or(Value::Null);
                    match GateVerdict::parse(&res.output) {
                        Ok(verdict) => (verdict.passed, v),
                        Err(e) => (false, json!({ "passed": false, "error": format!("the gate's output is not a verdict: {e}"), "output": v })),
                    }
                }
                Err(e) => (false, json!({ "passed": false, "error": e.message })),
            };
            self.journal(|j| {
                j.record_gate(&stage.name, attempt, &gate.name, passed, &report.to_string())?;
                j.event("gate", &json!({ "stage": stage.name, "gate": gate.name, "attempt": attempt, "passed": passed }))
            })?;
            if let Some(ack) = ack {
                ack();
            }
            if let Ok(mut artifacts) = self.artifacts.lock() {
                artifacts.insert(gate.name.clone(), report.clone());
            }
            let shown = match (passed, gate.blocking) {
                (true, _) => "passed",
                (false, true) => "FAILED",
                (false, false) => "findings reported (not blocking)",
            };
            self.say(format_args!("  gate {}: {shown}", gate.name));
            if !passed && gate.blocking {
                if gate.security {
                    return Err(Stop::Review(format!(
                        "security gate `{}` failed in stage `{}`; halted for human review: {report}",
                        gate.name, stage.name
                    )));
                }
                failures.push(FailedGate { gate: gate.name.clone(), report });
            }
        }
        Ok(if failures.is_empty() { None } else { Some(Feedback { failed_gates: failures }) })
    }

    /// Run-wide policies and outputs checked at the end.
    fn finish_checks(&self) -> RunStatus {
        let missing = self.not_produced(&self.pipeline.outputs);
        if let Some(first) = missing.first() {
            let names: Vec<&str> = missing.iter().map(|n| n.name.as_str()).collect();
            return RunStatus::Failed(format!(
                "the run did not produce its declared output(s): {} (outputs at {}:{}; a tool's JSON key, or a file \
                 or directory of that name)",
                names.join(", "),
                self.pipeline.file,
                first.pos
            ));
        }
        if self.pipeline.policies.docs_required {
            let merges = self.journal(|j| j.merges()).unwrap_or_default();
            let is_doc = |p: &str| {
                p.ends_with(".md") || p.ends_with(".rst") || p.starts_with("docs/") || p == "mkdocs.yml"
            };
            if !merges.iter().any(|(p, _, _)| is_doc(p)) {
                return RunStatus::Failed(
                    "docs_required: the run produced no documentation artifact (*.md, *.rst, docs/, mkdocs.yml)".into(),
                );
            }
        }
        RunStatus::Completed
    }
}

/// Fault injection for the crash tests: `TAYLORDASH_CRASH_AT=after_merge:<task>`
/// aborts the process at that instant, as `kill -9` would.
fn crash_point(point: &str, task_id: &str) {
    if std::env::var("TAYLORDASH_CRASH_AT").is_ok_and(|spec| spec.split_once(':') == Some((point, task_id))) {
        std::process::abort();
    }
}

fn stage_retries(stage: &Stage) -> u32 {
    stage.retries.unwrap_or(DEFAULT_RETRIES)
}
