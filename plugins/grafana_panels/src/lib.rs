//! `grafana_panels`: a Grafana dashboard with a panel per metric — the
//! `observability` agent's third tool.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `observability/grafana/dashboard.json` (schema version 39, a
//! `datasource` variable for the Prometheus data source): for each endpoint a
//! row with one panel per per-endpoint metric — latency (p50/p95 from the
//! duration histogram, with the SLO as a red threshold) and requests (rate by
//! status, 5xx ratio) — selected by the endpoint's `operation` label, then
//! one panel per service-wide metric (MQTT publishes by event type and
//! result). Panel ids and positions are fixed by the model. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{Doc, GenInput, Metric, MetricKind, ServiceModel, doc, names, paths, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod dashboards;
pub use dashboards::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GrafanaPanelsOutput {
    pub dashboard: String,
    pub uid: String,
    /// `id: title`, rows excluded.
    pub panels: Vec<String>,
    /// The dashboards it wrote (the seed's `dashboards` artifact).
    pub dashboards: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct GrafanaPanels;

impl Tool for GrafanaPanels {
    const NAME: &'static str = "grafana_panels";
    const DESCRIPTION: &'static str = "Generates observability/grafana/dashboard.json: per endpoint a latency and a \
         requests panel (SLO thresholds), and a panel per service-wide metric.";
    type Input = GenInput;
    type Output = GrafanaPanelsOutput;

    fn run(input: GenInput, cx: &Context) -> Result<GrafanaPanelsOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let d = dashboard(&model);
        let mut out = Out::new();
        out.write(paths::DASHBOARD, &d.to_json_text())?;
        let mut panels = Vec::new();
        if let Some(Doc::Seq(ps)) = d.get("panels") {
            for p in ps {
                if let (Some(Doc::Int(id)), Some(Doc::Str(t)), Some(Doc::Str(kind))) = (p.get("id"), p.get("title"), p.get("type"))
                    && kind != "row"
                {
                    panels.push(format!("{id}: {t}"));
                }
            }
        }
        taylordash_sdk::log(Level::Info, &format!("{}: {} panels", paths::DASHBOARD, panels.len()));
        Ok(GrafanaPanelsOutput {
            dashboard: paths::DASHBOARD.into(),
            uid: uid(&model),
            panels,
            dashboards: vec![paths::DASHBOARD.into()],
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(GrafanaPanels);

#[cfg(test)]
mod tests;
