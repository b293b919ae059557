use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, PromRulesOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<PromRules>(json!({ "previous": { "module": "app/telemetry.py" } })).unwrap();
    (h, out)
}

#[test]
fn a_group_per_endpoint_with_recording_and_alerting_rules() {
    let (h, out) = run_example();
    assert_eq!(out.files, ["observability/prometheus/rules.yml"]);
    assert_eq!(out.groups.len(), 8);
    assert_eq!(out.groups[0], "taylordash-slo-list_projects");
    assert_eq!(out.groups[7], "taylordash-mqtt");
    assert_eq!(out.recording.len(), 7 * 3 + 1);
    assert_eq!(out.alerts.len(), 7 * 2 + 1);
    assert!(out.alerts.contains(&"PublishEventLatencySLO".to_string()));
    let y: Value = serde_yaml_ng::from_str(&h.out_file("observability/prometheus/rules.yml")).unwrap();
    let publish = &y["groups"][5]["rules"];
    assert_eq!(
        publish[0]["expr"],
        "histogram_quantile(0.95, sum by (le) (rate(taylordash_http_request_duration_seconds_bucket{operation=\"publish_event\"}[5m])))"
    );
    assert_eq!(publish[3]["expr"], "taylordash:http_request_duration_seconds:p95_5m{operation=\"publish_event\"} > 0.1");
    assert_eq!(publish[4]["expr"], "taylordash:http_requests:error_ratio_5m{operation=\"publish_event\"} > (14.4 * 0.001)");
    assert_eq!(publish[4]["labels"], json!({ "severity": "critical", "operation": "publish_event", "slo": "availability" }));
    assert_eq!(publish[3]["for"], "10m");
    assert!(publish[3]["annotations"]["description"].as_str().unwrap().contains("{{ $value | humanizeDuration }}"));
}

#[test]
fn every_expression_is_balanced() {
    let (h, _) = run_example();
    let y: Value = serde_yaml_ng::from_str(&h.out_file("observability/prometheus/rules.yml")).unwrap();
    for g in y["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            let e = r["expr"].as_str().unwrap();
            for (open, close) in [('(', ')'), ('{', '}'), ('[', ']')] {
                assert_eq!(e.matches(open).count(), e.matches(close).count(), "{e}");
            }
            assert!(r.get("record").is_some() != r.get("alert").is_some());
        }
    }
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let (h, out) = run_example();
        (out, h.out_file("observability/prometheus/rules.yml"))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<PromRules>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
