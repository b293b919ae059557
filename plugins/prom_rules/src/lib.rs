//! `prom_rules`: Prometheus recording and alerting rules per endpoint SLO —
//! the `observability` agent's second tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`): the
//! same endpoints, operation ids and metrics `otel_instrument` instruments.
//! Writes `observability/prometheus/rules.yml`, one group per endpoint:
//!
//! - recording rules `<service>:http_request_duration_seconds:p95_5m`,
//!   `<service>:http_requests:rate_5m` and `<service>:http_requests:error_ratio_5m`,
//!   labelled with the endpoint's `operation`;
//! - `<Operation>LatencySLO` (warning): p95 above the endpoint's objective for 10m;
//! - `<Operation>ErrorBudgetBurn` (critical): 5xx ratio burning the error
//!   budget 14.4 times too fast (the fast-burn threshold of the Google SRE
//!   workbook) for 5m;
//!
//! and, when the service publishes events, a group for the MQTT publish
//! error ratio. Returns the groups and rules. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{Doc, Endpoint, GenInput, ServiceModel, doc, names, paths, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod rules;
pub use rules::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromRulesOutput {
    pub rules_file: String,
    pub groups: Vec<String>,
    /// Recording rule names (with their operation label).
    pub recording: Vec<String>,
    pub alerts: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct PromRules;

impl Tool for PromRules {
    const NAME: &'static str = "prom_rules";
    const DESCRIPTION: &'static str = "Generates observability/prometheus/rules.yml: recording rules and latency and \
         error-budget alerts per endpoint SLO, from the run's backlog.";
    type Input = GenInput;
    type Output = PromRulesOutput;

    fn run(input: GenInput, cx: &Context) -> Result<PromRulesOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let doc = rules(&model);
        let mut out = Out::new();
        out.write(paths::PROM_RULES, &doc.to_yaml_text())?;
        let mut groups = Vec::new();
        let mut recording = Vec::new();
        let mut alerts = Vec::new();
        if let Some(Doc::Seq(gs)) = doc.get("groups") {
            for g in gs {
                if let Some(Doc::Str(name)) = g.get("name") {
                    groups.push(name.clone());
                }
                if let Some(Doc::Seq(rs)) = g.get("rules") {
                    for r in rs {
                        let op = match r.get("labels").and_then(|l| l.get("operation")) {
                            Some(Doc::Str(op)) => format!("{{operation=\"{op}\"}}"),
                            _ => String::new(),
                        };
                        match (r.get("record"), r.get("alert")) {
                            (Some(Doc::Str(n)), _) => recording.push(format!("{n}{op}")),
                            (_, Some(Doc::Str(n))) => alerts.push(n.clone()),
                            _ => {}
                        }
                    }
                }
            }
        }
        taylordash_sdk::log(
            Level::Info,
            &format!("{}: {} groups, {} recording rules, {} alerts", paths::PROM_RULES, groups.len(), recording.len(), alerts.len()),
        );
        Ok(PromRulesOutput { rules_file: paths::PROM_RULES.into(), groups, recording, alerts, files: out.files, model: model.summary() })
    }
}

export_tool!(PromRules);

#[cfg(test)]
mod tests;
