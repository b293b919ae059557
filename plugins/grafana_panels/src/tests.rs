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
