//! The TaylorDash protocol: every value that crosses a boundary between the
//! host, a tool, a gate, a worker and the journal, declared once.
//!
//! - [`envelope`]: what the orchestrator adds to a tool's input (`task`,
//!   `previous`, `feedback`, `shared_context`) and how a tool separates it
//!   from its own fields ([`Envelope::split`]).
//! - [`gate`]: what a gate receives ([`GateInput`]) and answers
//!   ([`GateVerdict`]).
//! - [`status`]: the statuses the journal records for runs, stages, tasks
//!   and attempts, spelled as the journal spells them.
//! - [`exit`]: the exit codes of the CLI, of a task and of a worker's answer.
//! - [`bus`]: the header and payloads of bus messages (the signing and the
//!   MQTT encoding stay in the host).
//!
//! Serde and schemars only: the crate builds for the host and for
//! `wasm32-wasip2` tools alike. The envelope and gate I/O are published as
//! JSON Schemas in `protocol/schemas/` ([`schemas`]) so tools written in
//! other languages read the same contract.

pub mod bus;
pub mod envelope;
pub mod exit;
pub mod gate;
pub mod status;

pub use envelope::{Envelope, FailedGate, Feedback, TaskInfo};
pub use exit::ExitCode;
pub use gate::{Finding, GateInput, GateVerdict};
pub use status::{AttemptStatus, RunStatus, StageStatus, TaskStatus, UnknownStatus};

/// The published JSON Schemas: `(file name under protocol/schemas/, schema)`.
pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("envelope.json", schemars::schema_for!(Envelope)),
        ("gate_input.json", schemars::schema_for!(gate::GateRequest)),
        ("gate_verdict.json", schemars::schema_for!(GateVerdict)),
    ]
}
