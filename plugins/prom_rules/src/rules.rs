//! What `prom_rules` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

/// Fast-burn multiplier: 2 % of a 30-day budget in one hour.
pub const FAST_BURN: &str = "14.4";

/// `create_project` → `CreateProject`.
pub fn alert_prefix(e: &Endpoint) -> String {
    names::pascal(&e.operation_id)
}

pub fn rules(model: &ServiceModel) -> Doc {
    let svc = &model.service.name;
    let duration = model.duration_metric();
    let requests = model.requests_metric();
    let mut groups = Vec::new();
    for e in &model.endpoints {
        let sel = e.selector();
        let op = e.operation_id.as_str();
        let labels = || doc!({ "operation": op });
        let threshold = e.slo.latency_seconds();
        let budget = e.slo.error_budget();
        let p95 = format!("{svc}:http_request_duration_seconds:p95_5m");
        let ratio = format!("{svc}:http_requests:error_ratio_5m");
        let rules = doc!([
            {
                "record": (p95.as_str()),
                "expr": (format!("histogram_quantile(0.95, sum by (le) (rate({duration}_bucket{{{sel}}}[5m])))")),
                "labels": (labels())
            },
            {
                "record": (format!("{svc}:http_requests:rate_5m")),
                "expr": (format!("sum(rate({requests}{{{sel}}}[5m]))")),
                "labels": (labels())
            },
            {
                "record": (ratio.as_str()),
                "expr": (format!(
                    "sum(rate({requests}{{{sel},status=~\"5..\"}}[5m])) / clamp_min(sum(rate({requests}{{{sel}}}[5m])), 1e-9)"
                )),
                "labels": (labels())
            },
            {
                "alert": (format!("{}LatencySLO", alert_prefix(e))),
                "expr": (format!("{p95}{{{sel}}} > {threshold}")),
                "for": "10m",
                "labels": { "severity": "warning", "operation": op, "slo": "latency" },
                "annotations": {
                    "summary": (format!("{} p95 latency above {threshold} s", e.label())),
                    "description": (format!(
                        "The p95 latency of {op} has been {{{{ $value | humanizeDuration }}}} for 10 minutes; the objective is {threshold} s (backlog item {}).",
                        e.item
                    ))
                }
            },
            {
                "alert": (format!("{}ErrorBudgetBurn", alert_prefix(e))),
                "expr": (format!("{ratio}{{{sel}}} > ({FAST_BURN} * {budget})")),
                "for": "5m",
                "labels": { "severity": "critical", "operation": op, "slo": "availability" },
                "annotations": {
                    "summary": (format!("{} is burning its error budget", e.label())),
                    "description": (format!(
                        "5xx ratio of {op} is {{{{ $value | humanizePercentage }}}}, over {FAST_BURN} times the budget of {budget} ({}% availability).",
                        e.slo.availability_percent()
                    ))
                }
            }
        ]);
        groups.push(doc!({ "name": (format!("{svc}-slo-{op}")), "rules": rules }));
    }
    if model.metrics.iter().any(|m| m.name == model.publish_metric()) {
        let publish = model.publish_metric();
        let ratio = format!("{svc}:mqtt_publish:error_ratio_5m");
        groups.push(doc!({
            "name": (format!("{svc}-mqtt")),
            "rules": [
                {
                    "record": (ratio.as_str()),
                    "expr": (format!("sum(rate({publish}{{result=\"error\"}}[5m])) / clamp_min(sum(rate({publish}[5m])), 1e-9)"))
                },
                {
                    "alert": (format!("{}MqttPublishFailing", names::pascal(svc))),
                    "expr": (format!("{ratio} > 0.01")),
                    "for": "5m",
                    "labels": { "severity": "critical" },
                    "annotations": {
                        "summary": "MQTT publishes are failing",
                        "description": "{{ $value | humanizePercentage }} of MQTT publishes failed in the last 5 minutes."
                    }
                }
            ]
        }));
    }
    doc!({ "groups": (Doc::Seq(groups)) })
}
