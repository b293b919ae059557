use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

/// The workspace the generators make from `pipelines/examples/backlog.yaml`.
fn example(h: &Harness) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/toolset/fixtures/example");
    h.copy_into_workspace(&root);
}

fn run(h: &Harness) -> GateOutput {
    h.run::<ObservabilityCheck>(json!({ "gate": "observability_check", "stage": "validation", "attempt": 2, "files": [] })).unwrap()
}

fn edit(h: &Harness, rel: &str, f: impl FnOnce(String) -> String) {
    let path = h.workspace().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

fn lines(out: &GateOutput) -> Vec<String> {
    out.findings.iter().map(|f| format!("{}:{} {}", f.file, f.location, f.message)).collect()
}

#[test]
fn every_generated_endpoint_has_a_metric_a_rule_and_a_panel() {
    let h = Harness::new();
    example(&h);
    let out = run(&h);
    assert_eq!(lines(&out), Vec::<String>::new());
    assert_eq!(out.summary, "observability_check: passed: 7 endpoints with a metric, a rule and a panel (4 files checked)");
    assert_eq!(
        out.checked,
        ["app/telemetry.py", "observability/grafana/dashboard.json", "observability/prometheus/rules.yml", "openapi.yaml"]
    );
}

#[test]
fn a_missing_metric_rule_or_panel_is_named() {
    let h = Harness::new();
    example(&h);
    // get_metrics loses its telemetry entry, publish_event its rules, delete_project its panels.
    edit(&h, "app/telemetry.py", |t| t.lines().filter(|l| !l.starts_with("    \"get_metrics\":")).collect::<Vec<_>>().join("\n") + "\n");
    edit(&h, "observability/prometheus/rules.yml", |t| {
        let start = t.find("- name: taylordash-slo-publish_event").unwrap();
        let end = t[start + 1..].find("- name: ").unwrap() + start + 1;
        format!("{}{}", &t[..start], &t[end..])
    });
    edit(&h, "observability/grafana/dashboard.json", |t| t.replace("operation=\\\"delete_project\\\"", "operation=\\\"gone\\\""));
    let got = lines(&run(&h));
    assert!(got.contains(&"app/telemetry.py: no metric for GET /metrics (get_metrics): `get_metrics` is not in ENDPOINTS".to_string()), "{got:#?}");
    assert!(got.contains(&"observability/prometheus/rules.yml:1:1 (/groups) no rule for POST /api/v1/events (publish_event)".to_string()), "{got:#?}");
    assert!(got.contains(&"observability/grafana/dashboard.json:37:3 (/panels) no panel for DELETE /api/v1/projects/{project_id} (delete_project)".to_string()), "{got:#?}");
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn rules_must_be_well_formed_and_query_declared_metrics() {
    let h = Harness::new();
    example(&h);
    edit(&h, "observability/prometheus/rules.yml", |t| {
        t.replacen("    for: '10m'\n    labels:\n      severity: warning\n", "    for: 'ten minutes'\n    labels:\n", 1)
            .replacen("'sum(rate(taylordash_http_requests_total{operation=\"list_projects\"}[5m]))'", "'sum(rate(taylordash_http_reqs_total{operation=\"list_projects\"}[5m]))'", 1)
            .replacen("  - alert: GetProjectLatencySLO\n", "  - alert: GetProjectLatencySLO\n    record: also\n", 1)
    });
    let got = lines(&run(&h));
    assert!(got.iter().any(|l| l.ends_with("/groups/0/rules/1/expr: metric `taylordash_http_reqs_total` is not declared in app/telemetry.py METRICS")), "{got:#?}");
    assert!(got.iter().any(|l| l.ends_with("/groups/0/rules/3/for: `\"ten minutes\"` is not a duration (e.g. 5m)")), "{got:#?}");
    assert!(got.iter().any(|l| l.ends_with("/groups/0/rules/3: alert `ListProjectsLatencySLO` has no `severity` label")), "{got:#?}");
    assert!(got.iter().any(|l| l.ends_with("/groups/2/rules/3: a rule has exactly one of `record` and `alert`")), "{got:#?}");
    assert!(got.iter().all(|l| l.starts_with("observability/prometheus/rules.yml:")), "{got:#?}");
}

#[test]
fn every_declared_metric_needs_a_panel_and_panel_ids_are_unique() {
    let h = Harness::new();
    example(&h);
    edit(&h, "observability/grafana/dashboard.json", |t| t.replace("taylordash_mqtt_publish_total", "taylordash_mqtt_sent_total").replacen("\"id\": 3,", "\"id\": 2,", 1));
    let got = lines(&run(&h));
    assert!(got.iter().any(|l| l.starts_with("app/telemetry.py:") && l.ends_with("metric `taylordash_mqtt_publish_total` has no panel in observability/grafana/dashboard.json")), "{got:#?}");
    assert!(got.iter().any(|l| l.ends_with("metric `taylordash_mqtt_sent_total` is not declared in app/telemetry.py METRICS")), "{got:#?}");
    assert!(got.iter().any(|l| l.ends_with("/panels/2: panel id 2 is also the id of /panels/1")), "{got:#?}");
}

#[test]
fn missing_files_are_findings() {
    let h = Harness::new();
    let got = lines(&run(&h));
    assert_eq!(
        got,
        [
            "app/telemetry.py: missing: the app's telemetry (otel_instrument writes it)",
            "observability/grafana/dashboard.json: missing: the Grafana dashboard (grafana_panels writes it)",
            "observability/prometheus/rules.yml: missing: the Prometheus rules (prom_rules writes them)",
            "openapi.yaml: missing: the API contract lists the endpoints to observe (openapi_gen writes it)",
        ]
    );
}

#[test]
fn metric_names_of_promql() {
    assert_eq!(
        metric_names("histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{operation=\"x\",le=~\"0.1\"}[5m])))"),
        ["a_seconds_bucket"]
    );
    assert_eq!(
        metric_names("sum(rate(a_total{status=~\"5..\"}[5m])) / clamp_min(sum without (pod) (rate(a_total[5m])), 1e-9) > (14.4 * 0.001)"),
        ["a_total"]
    );
    assert_eq!(metric_names("svc:ratio_5m{operation=\"x\"} > 0.01 and on (x) b"), ["b", "svc:ratio_5m"]);
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<ObservabilityCheck>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
