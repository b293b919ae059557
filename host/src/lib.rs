//! TaylorDash: a host for sandboxed agent tools.
//!
//! Modules, in the order a task flows through them: [`pipeline`] reads and
//! plans a YAML pipeline (tool names from [`catalog`], units from [`units`]);
//! [`orchestrator`] runs its stages, journaling in [`store`]; each task goes
//! through a [`dispatch::Dispatch`], in process or over the [`bus`] to a
//! worker, and [`dispatch::InProcess`] runs it in the [`sandbox`] under the
//! [`policy`]'s quotas and grants; [`audit`] records every decision; [`cli`]
//! is the thin command-line layer; [`paths`] says where files live.
//!
//! Imports run one way: pipeline imports neither the sandbox nor the policy;
//! the sandbox knows nothing of runs, policy or transport; the bus never
//! imports the orchestrator.

pub mod audit;
pub mod blobs;
pub mod bus;
pub mod catalog;
pub mod cli;
pub mod dispatch;
pub mod mcp;
pub mod observe;
pub mod orchestrator;
pub mod paths;
pub mod pipeline;
pub mod policy;
pub mod preflight;
pub mod review;
pub mod sandbox;
pub mod scaffold;
pub mod serve;
pub mod sqlite;
pub mod store;
pub mod units;
pub mod yaml;
