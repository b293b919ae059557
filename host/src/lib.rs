//! TaylorDash: a host for sandboxed agent tools.
//!
//! Modules, in the order data flows through them (DESIGN.md): [`sandbox`]
//! loads and calls WebAssembly components under quotas and capabilities;
//! [`cli`] is the thin command-line layer over it.

pub mod bus;
pub mod cli;
pub mod orchestrator;
pub mod paths;
pub mod pipeline;
pub mod policy;
pub mod preflight;
pub mod sandbox;
pub mod store;
pub mod yaml;
