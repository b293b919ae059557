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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GrafanaPanelsOutput {
    pub dashboard: String,
    pub uid: String,
    /// `id: title`, rows excluded.
    pub panels: Vec<String>,
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
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(GrafanaPanels);

pub fn uid(model: &ServiceModel) -> String {
    format!("{}-api", names::slug(&model.service.name))
}

fn datasource() -> Doc {
    doc!({ "type": "prometheus", "uid": "${datasource}" })
}

fn target(ref_id: &str, expr: String, legend: &str) -> Doc {
    doc!({ "refId": ref_id, "datasource": (datasource()), "expr": expr, "legendFormat": legend })
}

#[allow(clippy::too_many_arguments)]
fn panel(id: i64, title: String, description: String, unit: &str, x: i64, y: i64, targets: Vec<Doc>, threshold: Option<String>) -> Doc {
    let mut steps = vec![doc!({ "color": "green", "value": null })];
    if let Some(t) = &threshold {
        steps.push(doc!({ "color": "red", "value": (t.parse::<f64>().unwrap_or(0.0)) }));
    }
    let mut custom = doc!({ "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never" });
    if threshold.is_some() {
        custom.insert("thresholdsStyle", doc!({ "mode": "line" }));
    }
    doc!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": (datasource()),
        "gridPos": { "h": 8, "w": 12, "x": x, "y": y },
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": custom,
                "thresholds": { "mode": "absolute", "steps": (Doc::Seq(steps)) }
            },
            "overrides": []
        },
        "options": {
            "legend": { "displayMode": "list", "placement": "bottom", "showLegend": true },
            "tooltip": { "mode": "multi", "sort": "none" }
        },
        "targets": (Doc::Seq(targets))
    })
}

pub fn dashboard(model: &ServiceModel) -> Doc {
    let duration = model.duration_metric();
    let requests = model.requests_metric();
    let mut panels = Vec::new();
    let mut id = 1i64;
    let mut y = 0i64;
    let per_endpoint: Vec<&Metric> = model.metrics.iter().filter(|m| m.per_endpoint).collect();
    for e in &model.endpoints {
        let sel = e.selector();
        panels.push(doc!({
            "id": id, "type": "row", "title": (format!("{} ({})", e.label(), e.operation_id)), "collapsed": false,
            "gridPos": { "h": 1, "w": 24, "x": 0, "y": y }, "panels": []
        }));
        id += 1;
        y += 1;
        let mut x = 0;
        for m in &per_endpoint {
            let p = match m.kind {
                MetricKind::Histogram => panel(
                    id,
                    format!("{} latency", e.label()),
                    format!(
                        "{duration} for operation {}: p50 and p95 over 5m; the red line is the SLO (p95 <= {} s).",
                        e.operation_id,
                        e.slo.latency_seconds()
                    ),
                    "s",
                    x,
                    y,
                    vec![
                        target("A", format!("histogram_quantile(0.95, sum by (le) (rate({duration}_bucket{{{sel}}}[5m])))"), "p95"),
                        target("B", format!("histogram_quantile(0.5, sum by (le) (rate({duration}_bucket{{{sel}}}[5m])))"), "p50"),
                    ],
                    Some(e.slo.latency_seconds()),
                ),
                MetricKind::Counter => panel(
                    id,
                    format!("{} requests", e.label()),
                    format!(
                        "{requests} for operation {}: requests per second by status, and the 5xx ratio against the error budget ({}).",
                        e.operation_id,
                        e.slo.error_budget()
                    ),
                    "reqps",
                    x,
                    y,
                    vec![
                        target("A", format!("sum by (status) (rate({requests}{{{sel}}}[5m]))"), "{{status}}"),
                        target(
                            "B",
                            format!("sum(rate({requests}{{{sel},status=~\"5..\"}}[5m])) / clamp_min(sum(rate({requests}{{{sel}}}[5m])), 1e-9)"),
                            "5xx ratio",
                        ),
                    ],
                    None,
                ),
            };
            panels.push(p);
            id += 1;
            x += 12;
            if x >= 24 {
                x = 0;
                y += 8;
            }
        }
        if x != 0 {
            y += 8;
        }
    }
    let service_metrics: Vec<&Metric> = model.metrics.iter().filter(|m| !m.per_endpoint).collect();
    if !service_metrics.is_empty() {
        panels.push(doc!({
            "id": id, "type": "row", "title": "Service", "collapsed": false,
            "gridPos": { "h": 1, "w": 24, "x": 0, "y": y }, "panels": []
        }));
        id += 1;
        y += 1;
        let mut x = 0;
        for m in service_metrics {
            let by = m.labels.join(", ");
            panels.push(panel(
                id,
                names::human(m.name.trim_start_matches(&format!("{}_", model.service.name))),
                format!("{}: {}", m.name, m.help),
                "ops",
                x,
                y,
                vec![target("A", format!("sum by ({by}) (rate({}[5m]))", m.name), &m.labels.iter().map(|l| format!("{{{{{l}}}}}")).collect::<Vec<_>>().join(" "))],
                None,
            ));
            id += 1;
            x += 12;
            if x >= 24 {
                x = 0;
                y += 8;
            }
        }
    }
    doc!({
        "uid": (uid(model)),
        "title": (format!("{} API: endpoints and SLOs", model.service.title)),
        "description": (format!("Generated by grafana_panels from `{}`: a latency and a requests panel per endpoint, a panel per service metric.", model.source)),
        "tags": [(model.service.name.as_str()), "generated", "slo"],
        "timezone": "browser",
        "editable": true,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": { "from": "now-6h", "to": "now" },
        "annotations": { "list": [] },
        "templating": { "list": [ {
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []
        } ] },
        "panels": (Doc::Seq(panels))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use taylordash_sdk::testing::Harness;

    const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

    fn run_example() -> (Harness, GrafanaPanelsOutput, Value) {
        let h = Harness::new();
        h.write_workspace("backlog.yaml", BACKLOG);
        let out = h.run::<GrafanaPanels>(json!({ "previous": { "rules_file": "x" } })).unwrap();
        let d: Value = serde_json::from_str(&h.out_file("observability/grafana/dashboard.json")).unwrap();
        (h, out, d)
    }

    #[test]
    fn a_panel_per_metric_and_endpoint() {
        let (_, out, d) = run_example();
        assert_eq!(out.files, ["observability/grafana/dashboard.json"]);
        assert_eq!(out.uid, "taylordash-api");
        assert_eq!(out.panels.len(), 7 * 2 + 1);
        assert_eq!(out.panels[0], "2: GET /api/v1/projects requests");
        assert_eq!(out.panels[1], "3: GET /api/v1/projects latency");
        assert_eq!(out.panels[14], "23: Mqtt publish total");
        let panels = d["panels"].as_array().unwrap();
        let ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, (1..=23).collect::<Vec<_>>(), "unique, in order");
        for op in ["list_projects", "create_project", "get_project", "update_project", "delete_project", "publish_event", "get_metrics"] {
            let sel = format!("operation=\"{op}\"");
            let n = panels
                .iter()
                .filter(|p| p["targets"].as_array().is_some_and(|t| t.iter().all(|t| t["expr"].as_str().unwrap().contains(&sel))))
                .count();
            assert_eq!(n, 2, "{op}");
        }
        let latency = &panels[2];
        assert_eq!(latency["fieldConfig"]["defaults"]["thresholds"]["steps"][1], json!({ "color": "red", "value": 0.25 }));
        assert_eq!(latency["gridPos"], json!({ "h": 8, "w": 12, "x": 12, "y": 1 }));
        assert_eq!(d["templating"]["list"][0]["type"], "datasource");
    }

    #[test]
    fn panels_never_overlap() {
        let (_, _, d) = run_example();
        let mut cells = std::collections::BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            let g = &p["gridPos"];
            let (x, y, w, h) = (g["x"].as_i64().unwrap(), g["y"].as_i64().unwrap(), g["w"].as_i64().unwrap(), g["h"].as_i64().unwrap());
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(cells.insert((cx, cy)), "overlap at {cx},{cy}");
                }
            }
        }
    }

    #[test]
    fn output_is_byte_identical_across_runs() {
        let run = || {
            let (h, out, _) = run_example();
            (out, h.out_file("observability/grafana/dashboard.json"))
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn describe_names_the_tool_after_its_crate() {
        assert_eq!(taylordash_sdk::describe::<GrafanaPanels>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
    }
}
