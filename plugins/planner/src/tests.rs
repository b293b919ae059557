use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG_YAML: &str = "\
items:
  - id: metrics
    title: Expose Prometheus metrics
    priority: low
    resource: metrics
  - id: projects-crud
    title: Projects CRUD API
    priority: high
    resource: projects
  - id: project-events
    title: Publish project events to MQTT
    resource: events
    depends_on: [projects-crud]
  - id: docs
    title: Document the API
    priority: high
    acceptance:
      - the API reference lists every endpoint
";

const FAILURES_JSON: &str = r#"{ "failures": [
        { "check": "contract_compliance", "message": "event payload lacks trace_id", "item": "project-events" },
        { "check": "security_check", "message": "HSTS header missing" }
    ] }"#;

const SNAPSHOT_JSON: &str =
    r#"{ "files": ["app/main.py", "app/routers/projects.py"], "services": ["mqtt"] }"#;

fn invalid(h: &Harness, input: Value) -> String {
    match h.run::<Planner>(input) {
        Err(ToolError::InvalidInput(m)) => m,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

fn ids(out: &PlannerOutput) -> Vec<&str> {
    out.session_plan
        .tasks
        .iter()
        .map(|t| t.id.as_str())
        .collect()
}

#[test]
fn plans_from_files() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG_YAML);
    h.write_workspace("failures.json", FAILURES_JSON);
    h.write_workspace("state/snapshot.json", SNAPSHOT_JSON);
    let out = h
        .run::<Planner>(json!({
            "backlog": "backlog.yaml",
            "failures": "failures.json",
            "snapshot": "state/snapshot.json"
        }))
        .unwrap();

    // projects-crud is needed by the failed project-events, so both go first.
    assert_eq!(
        ids(&out),
        ["projects-crud", "project-events", "docs", "metrics"]
    );
    let t = &out.session_plan.tasks;
    assert_eq!(
        t.iter().map(|t| t.action).collect::<Vec<_>>(),
        [Action::Extend, Action::Fix, Action::Create, Action::Create]
    );
    assert_eq!(
        t[0].reason,
        "needed by the fix of `project-events`; `projects` already exists \
             (app/routers/projects.py); priority high"
    );
    assert_eq!(
        t[1].reason,
        "fix first: check `contract_compliance` failed: event payload lacks trace_id; \
             priority medium"
    );
    assert_eq!(t[1].depends_on, ["projects-crud"]);
    assert_eq!(
        t[1].fix_first,
        [FixFirst {
            check: "contract_compliance".into(),
            message: "event payload lacks trace_id".into()
        }]
    );
    assert_eq!(
        t[3].reason,
        "`metrics` is not in the snapshot; priority low"
    );

    let crit = &out.acceptance_criteria;
    assert_eq!(crit.len(), 5);
    assert_eq!(crit[0].item.as_deref(), Some("projects-crud"));
    assert_eq!(
        crit[0].criteria,
        [
            "create: a new `projects` can be created and is returned with its id",
            "read: an existing `projects` can be fetched by id and appears in the list",
            "update: changes to an existing `projects` are saved and returned",
            "delete: a deleted `projects` is no longer returned",
            "existing `projects` behaviour keeps working",
            "tests covering `projects` pass",
        ]
    );
    assert_eq!(
        crit[1].criteria,
        [
            "each `events` event is published to its MQTT topic and a subscriber receives it",
            "tests covering `events` pass",
            "check `contract_compliance` passes",
        ]
    );
    assert_eq!(crit[2].criteria, ["the API reference lists every endpoint"]);
    assert_eq!(
        crit[4],
        ItemCriteria {
            item: None,
            criteria: vec!["check `security_check` passes".into()]
        }
    );

    assert_eq!(
        out.files,
        [
            "session_plan.md",
            "acceptance_criteria.md",
            "session_plan.json"
        ]
    );
    let plan_md = h.out_file("session_plan.md");
    assert!(plan_md.starts_with("# Session plan\n\n4 tasks: 1 fix, 1 extend, 2 create.\n"));
    assert!(plan_md.contains(
        "## 2. Publish project events to MQTT (`project-events`)\n\n- action: fix\n"
    ));
    assert!(
        plan_md.contains("  - check `contract_compliance`: event payload lacks trace_id\n")
    );
    let crit_md = h.out_file("acceptance_criteria.md");
    assert!(crit_md.contains("## Whole session\n\n- [ ] check `security_check` passes\n"));
    let json: PlannerOutput = serde_json::from_str(&h.out_file("session_plan.json")).unwrap();
    assert_eq!(json, out);

    let logs = h.logs();
    assert_eq!(logs.len(), 4);
    assert_eq!(
        logs[0],
        (
            Level::Info,
            "task 1/4: extend `projects-crud` (Projects CRUD API)".into()
        )
    );
    assert_eq!(
        logs[1].1,
        "task 2/4: fix `project-events` (Publish project events to MQTT)"
    );
}

#[test]
fn priority_breaks_ties_then_backlog_order() {
    let h = Harness::new();
    let out = h
        .run::<Planner>(json!({ "backlog": { "items": [
            { "id": "a", "title": "A", "priority": "low" },
            { "id": "b", "title": "B" },
            { "id": "c", "title": "C", "priority": 1 },
            { "id": "d", "title": "D", "priority": "HIGH", "depends_on": ["e"] },
            { "id": "e", "title": "E", "priority": 5 },
            { "id": "f", "title": "F" }
        ]}}))
        .unwrap();
    // Topological order wins over priority: d waits for e (rank 5).
    assert_eq!(ids(&out), ["c", "b", "f", "a", "e", "d"]);
    assert!(
        out.session_plan
            .tasks
            .iter()
            .all(|t| t.action == Action::Create)
    );
    assert_eq!(
        out.session_plan.tasks[0].reason,
        "new work (no resource named); priority 1"
    );
    assert_eq!(
        out.acceptance_criteria[0].criteria,
        ["C is done as described", "tests covering `c` pass"]
    );
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        h.write_workspace("backlog.yaml", BACKLOG_YAML);
        h.write_workspace("failures.json", FAILURES_JSON);
        h.write_workspace("snapshot.json", SNAPSHOT_JSON);
        let out = h
            .run_json::<Planner>(
                r#"{"backlog":"backlog.yaml","failures":"failures.json","snapshot":"snapshot.json"}"#,
            )
            .unwrap();
        (
            out,
            h.out_file("session_plan.md"),
            h.out_file("acceptance_criteria.md"),
            h.out_file("session_plan.json"),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn missing_title_names_the_field() {
    let h = Harness::new();
    h.write_workspace(
        "backlog.yaml",
        "items:\n  - {id: a, title: A}\n  - {id: b, title: B}\n  - {id: c, title: C}\n  - {id: d}\n",
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "backlog.yaml" })),
        "backlog.yaml: items[3].title is missing"
    );
    assert_eq!(
        invalid(
            &h,
            json!({ "backlog": { "items": [ { "title": "no id" } ] } })
        ),
        "backlog: items[0].id is missing"
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let h = Harness::new();
    let input = json!({ "backlog": { "items": [
        { "id": "a", "title": "A" }, { "id": "b", "title": "B" }, { "id": "a", "title": "A again" }
    ]}});
    assert_eq!(
        invalid(&h, input),
        "backlog: items[2].id `a` duplicates items[0].id"
    );
}

#[test]
fn unknown_dependency_is_rejected() {
    let h = Harness::new();
    let input = json!({ "backlog": { "items": [
        { "id": "a", "title": "A" }, { "id": "b", "title": "B", "depends_on": ["a", "auth"] }
    ]}});
    assert_eq!(
        invalid(&h, input),
        "backlog: items[1].depends_on[1]: unknown item `auth`"
    );
}

#[test]
fn dependency_cycle_is_named() {
    let h = Harness::new();
    h.write_workspace(
        "backlog.json",
        r#"{"items": [
                {"id": "root", "title": "Root"},
                {"id": "x", "title": "X", "depends_on": ["z"]},
                {"id": "y", "title": "Y", "depends_on": ["root", "x"]},
                {"id": "z", "title": "Z", "depends_on": ["y"]}
            ]}"#,
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "backlog.json" })),
        "backlog.json: dependency cycle x -> z -> y -> x (each item depends on the next)"
    );
    let self_loop =
        json!({ "backlog": { "items": [ { "id": "a", "title": "A", "depends_on": ["a"] } ] } });
    assert_eq!(
        invalid(&h, self_loop),
        "backlog: dependency cycle a -> a (each item depends on the next)"
    );
}

#[test]
fn bad_priority_is_rejected() {
    let h = Harness::new();
    let input = json!({ "backlog": { "items": [ { "id": "a", "title": "A", "priority": "urgent" } ] } });
    assert_eq!(
        invalid(&h, input),
        "backlog: items[0].priority must be high, medium, low or a non-negative integer, got \"urgent\""
    );
}

#[test]
fn failure_naming_an_unknown_item_is_rejected() {
    let h = Harness::new();
    let input = json!({
        "backlog": { "items": [ { "id": "a", "title": "A" } ] },
        "failures": { "failures": [ { "check": "lint", "message": "m", "item": "gone" } ] }
    });
    assert_eq!(
        invalid(&h, input),
        "failures: failures[0].item: unknown backlog item `gone`"
    );
    let input = json!({
        "backlog": { "items": [ { "id": "a", "title": "A" } ] },
        "failures": { "failures": [ { "message": "m" } ] }
    });
    assert_eq!(invalid(&h, input), "failures: failures[0].check is missing");
}

#[test]
fn missing_and_unsupported_files_are_named() {
    let h = Harness::new();
    assert_eq!(
        invalid(&h, json!({ "backlog": "nope.yaml" })),
        "backlog: cannot read `nope.yaml`: no such file in the workspace"
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "backlog.txt" })),
        "backlog: `backlog.txt` is neither .json nor .yaml/.yml"
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "../etc/backlog.json" })),
        "backlog: `../etc/backlog.json` must be a relative path inside the workspace"
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": 3 })),
        "backlog: expected a workspace-relative file path, an inline object or a list of items, got a number"
    );
    assert_eq!(
        invalid(
            &h,
            json!({ "backlog": { "items": [] }, "snapshot": "snap.json" })
        ),
        "snapshot: cannot read `snap.json`: no such file in the workspace"
    );
}

#[test]
fn parse_errors_carry_line_and_column() {
    let h = Harness::new();
    h.write_workspace(
        "backlog.yaml",
        "items:\n  - id: a\n    title: \"unterminated\n",
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "backlog.yaml" })),
        "backlog.yaml:4:1: found unexpected end of stream, while scanning a quoted scalar \
             at line 3 column 12"
    );
    h.write_workspace(
        "backlog.json",
        "{\"items\": [\n  {\"id\": \"a\", \"title\": 7}\n]}",
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "backlog.json" })),
        "backlog.json:2:24: items[0].title: invalid type: integer `7`, expected a string"
    );
    h.write_workspace(
        "typed.yaml",
        "items:\n  - id: a\n    title: A\n    depends_on: b\n",
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": "typed.yaml" })),
        "typed.yaml:4:17: items[0].depends_on: invalid type: string \"b\", expected a sequence"
    );
}

#[test]
fn backlog_and_failures_may_be_bare_lists() {
    let h = Harness::new();
    let items = json!([
        { "id": "a", "title": "A", "depends_on": ["b"] },
        { "id": "b", "title": "B" },
    ]);
    let failures = json!([ { "check": "lint", "message": "bad", "item": "a" } ]);
    let listed = h.run::<Planner>(json!({ "backlog": items, "failures": failures })).unwrap();
    let wrapped = h
        .run::<Planner>(json!({ "backlog": { "items": items }, "failures": { "failures": failures } }))
        .unwrap();
    assert_eq!(ids(&listed), ["b", "a"]);
    assert_eq!(listed, wrapped);
    assert_eq!(
        invalid(&h, json!({ "backlog": [ { "id": "a" } ] })),
        "backlog: items[0].title is missing"
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": [], "failures": 7 })),
        "failures: expected a workspace-relative file path, an inline object or a list of failures, got a number"
    );
    assert_eq!(
        invalid(&h, json!({ "backlog": [], "snapshot": [] })),
        "snapshot: expected a workspace-relative file path or an inline object, got an array"
    );
}

#[test]
fn the_envelope_is_not_part_of_the_input() {
    let h = Harness::new();
    let env = taylordash_sdk::Envelope {
        previous: Some(json!({ "x": 1 })),
        task: Some(taylordash_sdk::TaskInfo { run_id: "r1".into(), attempt: 2, ..Default::default() }),
        ..Default::default()
    };
    let out = h.run_with::<Planner>(&env, json!({ "backlog": [ { "id": "a", "title": "A" } ] })).unwrap();
    assert_eq!(ids(&out), ["a"]);
}

#[test]
fn unknown_input_key_is_rejected() {
    let h = Harness::new();
    let m = invalid(&h, json!({ "backlog": { "items": [] }, "backlogs": 1 }));
    assert_eq!(
        m,
        "backlogs: unknown field `backlogs`, expected one of `backlog`, `failures`, `snapshot`"
    );
}

/// `pipelines/examples`, the input of `cargo xtask demo`.
#[test]
fn plans_the_pipeline_examples() {
    let h = Harness::new();
    h.write_workspace(
        "backlog.yaml",
        include_str!("../../../pipelines/examples/backlog.yaml"),
    );
    h.write_workspace(
        "failures.json",
        include_str!("../../../pipelines/examples/failures.json"),
    );
    h.write_workspace(
        "snapshot.json",
        include_str!("../../../pipelines/examples/snapshot.json"),
    );
    let input = include_str!("../../../pipelines/examples/planner-input.json");
    let out: PlannerOutput =
        serde_json::from_str(&h.run_json::<Planner>(input).unwrap()).unwrap();
    let plan: Vec<(&str, Action)> = out
        .session_plan
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.action))
        .collect();
    assert_eq!(
        plan,
        [
            ("projects-crud", Action::Extend),
            ("event-schemas", Action::Create),
            ("events-endpoint", Action::Fix),
            ("metrics", Action::Create),
            ("api-docs", Action::Create),
        ]
    );
    assert_eq!(
        out.session_plan.tasks[0].reason,
        "needed by the fix of `events-endpoint`; `projects` already exists \
             (backend/app/routers/projects.py); priority high"
    );
    assert!(
        out.acceptance_criteria[2]
            .criteria
            .contains(&"check `contract_compliance` passes".to_string())
    );
    assert_eq!(h.logs().len(), 5);
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<Planner>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
    let input: Value = serde_json::from_str(&info.input_schema).unwrap();
    let mut names: Vec<&String> = input["properties"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["backlog", "failures", "snapshot"]);
    let output: Value = serde_json::from_str(&info.output_schema).unwrap();
    assert_eq!(output["type"], "object");
}
