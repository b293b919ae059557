//! What `grafana_panels` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

pub fn uid(model: &ServiceModel) -> String {
    format!("{}-api", names::slug(&model.service.name))
}

pub(crate) fn datasource() -> Doc {
    doc!({ "type": "prometheus", "uid": "${datasource}" })
}

pub(crate) fn target(ref_id: &str, expr: String, legend: &str) -> Doc {
    doc!({ "refId": ref_id, "datasource": (datasource()), "expr": expr, "legendFormat": legend })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn panel(id: i64, title: String, description: String, unit: &str, x: i64, y: i64, targets: Vec<Doc>, threshold: Option<String>) -> Doc {
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
