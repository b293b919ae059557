//! The orchestrator: runs a validated pipeline's stages in dependency order
//! (independent stages at once), each task through a
//! [`Dispatch`](crate::dispatch::Dispatch), journaling every step so that a
//! crashed or halted run can be resumed without re-running what finished.
//!
//! `run.rs` holds the state machine (stages, agents, retries, gates,
//! recovery), `conflict.rs` what happens when agents of a stage claim the
//! same path, `contract.rs` the response times agents are held to and the
//! run's template variables, `dataflow.rs` which task produced a declared artifact and when
//! a task of a parallel stage waits for its peers, `merge.rs` publishes a task's `/out` under the run's rules,
//! `inputs.rs` resolves the run's inputs, `report.rs` writes `agents.json`
//! and progress lines, `verify.rs` checks a run's files against its journal
//! (before a resume, and for `taylordash runs verify`). Tasks go out through [`crate::dispatch`], the seam to
//! the sandbox or the bus.

pub mod conflict;
pub mod contract;
pub mod dataflow;
pub mod inputs;
pub mod integration;
pub mod merge;
pub mod report;
pub mod run;
pub mod verify;

pub use report::{PrintRunId, RunObserver};
pub use run::{DEFAULT_LEASE_TTL, Orchestrator, OrchestratorError, RunOptions, RunOutcome, RunStatus};
/// Where runs are journaled, as an orchestrator option: callers that must
/// not touch the journal themselves (the MCP gateway) pass it through.
pub use crate::store::JournalUrl;

use std::path::PathBuf;

/// Where runs live: `$TAYLORDASH_RUNS_DIR`, else `$XDG_STATE_HOME/taylordash/runs`,
/// else `~/.local/state/taylordash/runs`, else `.taylordash/runs`.
pub fn default_runs_dir() -> PathBuf {
    crate::paths::env_path("TAYLORDASH_RUNS_DIR").unwrap_or_else(|| crate::paths::state_dir().join("runs"))
}
