use super::*;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, OtelInstrumentOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<OtelInstrument>(json!({ "task": { "agent": "observability" } })).unwrap();
    (h, out)
}

#[test]
fn every_endpoint_has_its_metrics_and_slo() {
    let (h, out) = run_example();
    assert_eq!(out.files, ["app/telemetry.py"]);
    assert_eq!(out.endpoints.len(), 7);
    assert_eq!(out.endpoints[1], "create_project: POST /api/v1/projects (p95 <= 0.5s, 99.9%)");
    assert_eq!(out.endpoints[5], "publish_event: POST /api/v1/events (p95 <= 0.1s, 99.9%)");
    assert_eq!(
        out.metrics,
        [
            "taylordash_http_requests_total (counter)",
            "taylordash_http_request_duration_seconds (histogram)",
            "taylordash_mqtt_publish_total (counter)"
        ]
    );
    let text = h.out_file("app/telemetry.py");
    assert!(!text.contains("@@"));
    assert!(text.contains(
        "    \"list_projects\": {\"method\": \"GET\", \"route\": \"/api/v1/projects\", \"slo_p95_seconds\": 0.25, \"slo_availability\": 0.999},\n"
    ));
    assert!(text.contains(
        "    \"get_project\": {\"method\": \"GET\", \"route\": \"/api/v1/projects/{project_id}\","
    ));
    assert!(text.contains("BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)"));
    assert!(text.contains("REGISTRY = (REQUESTS, DURATION, PUBLISHES)"));
    assert!(text.contains("\"labels\": (\"event_type\", \"result\")"));
}

#[test]
fn without_events_there_is_no_publish_counter() {
    let h = Harness::new();
    h.run::<OtelInstrument>(json!({ "backlog": { "items": [
        { "id": "m", "title": "Prometheus metrics", "description": "on /metrics" }
    ] } }))
    .unwrap();
    let text = h.out_file("app/telemetry.py");
    assert!(text.contains("REGISTRY = (REQUESTS, DURATION)\n"));
    assert!(!text.contains("PUBLISHES"));
    assert!(text.contains("\"get_metrics\": {\"method\": \"GET\", \"route\": \"/metrics\""));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let (h, out) = run_example();
        (out, h.out_file("app/telemetry.py"))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(
        taylordash_sdk::describe::<OtelInstrument>(env!("CARGO_PKG_VERSION")).name,
        env!("CARGO_PKG_NAME")
    );
}
