//! `observability_check`: the validation stage's observability gate — every
//! endpoint has a metric, a rule and a panel.
//!
//! The endpoints are the operations of `openapi.yaml`. For each one:
//!
//! - **metric**: `app/telemetry.py`'s `ENDPOINTS` instruments it (same
//!   operationId, method and route), and a declared metric is labelled by
//!   `operation`;
//! - **rule**: `observability/prometheus/rules.yml` has a rule for it (its
//!   `operation` label, or `operation="<id>"` in its expression);
//! - **panel**: `observability/grafana/dashboard.json` has a panel whose
//!   query selects `operation="<id>"`.
//!
//! Also: the rules file is well-formed (groups, `record` xor `alert`, an
//! `expr`, alerts with a severity, valid `for` durations), every metric a
//! rule or panel queries is declared in `METRICS` (or recorded by a rule),
//! every declared metric has a panel, panel ids are unique, and
//! `ENDPOINTS` names no operation the contract lacks. Every finding with its
//! file and `line:col`. Returns `{ passed, findings, checked, summary }`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use service_model::locate::{self, Locations};
use service_model::{Finding, GateInput, GateOutput, finish_gate, line_col, paths, source};
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

mod checks;
pub use checks::*;

pub struct ObservabilityCheck;

impl Tool for ObservabilityCheck {
    const NAME: &'static str = "observability_check";
    const DESCRIPTION: &'static str = "Gate: every endpoint of openapi.yaml has a metric (app/telemetry.py), a \
         Prometheus rule and a Grafana panel, and rules and panels query declared metrics.";
    type Input = GateInput;
    type Output = GateOutput;

    fn run(_input: GateInput, cx: &Context) -> Result<GateOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        let mut c = Check::default();
        let endpoints = c.endpoints();
        let telemetry = c.telemetry();
        let rules = c.rules();
        let panels = c.panels();
        c.cross_check(&endpoints, telemetry.as_ref(), rules.as_ref(), panels.as_ref());
        let what = format!("{} endpoints with a metric, a rule and a panel", endpoints.len());
        finish_gate(Self::NAME, c.findings, c.checked, &what)
    }
}

export_tool!(ObservabilityCheck);

#[cfg(test)]
mod tests;
