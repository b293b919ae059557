use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

#[test]
fn writes_the_publisher_for_the_backlog_topics() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<MqttClient>(json!({ "previous": { "package": "app" } })).unwrap();
    assert_eq!(out.files, ["app/events.py"]);
    assert_eq!(out.topics, ["project_event: tracker/events/{project_id}"]);
    let text = h.out_file("app/events.py");
    assert!(!text.contains("@@"));
    assert!(text.contains("TOPICS: dict[str, str] = {\n    \"project_event\": \"tracker/events/{project_id}\",\n}\n"));
    assert!(text.contains(
        "SCHEMAS: dict[str, str] = {\n    \"project_event\": \"schemas/events/project_event.schema.json\",\n}\n"
    ));
    assert!(text.contains("| `project_event` | `tracker/events/{project_id}` | project.created, project.updated, project.deleted |"));
    assert!(text.contains("client.tls_set_context(ssl.create_default_context(cafile=self.ca_file))"));
    assert!(text.contains("protocol=mqtt.MQTTv5"));
    assert!(text.contains("Count the publish in `taylordash_mqtt_publish_total`"));
    assert_eq!(h.logs(), [(Level::Info, "topic project_event: tracker/events/{project_id}".to_string())]);
}

#[test]
fn no_credentials_in_the_module() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    h.run::<MqttClient>(json!({})).unwrap();
    let text = h.out_file("app/events.py");
    assert!(text.contains("password=os.environ.get(\"MQTT_PASSWORD\")"));
    assert!(!text.contains("password=\""));
    assert!(!text.contains("mqtt://localhost"));
}

#[test]
fn no_events_gives_an_empty_table() {
    let h = Harness::new();
    h.run::<MqttClient>(json!({ "backlog": { "items": [ { "id": "d", "title": "Docs in MkDocs" } ] } })).unwrap();
    let text = h.out_file("app/events.py");
    assert!(text.contains("TOPICS: dict[str, str] = {}\n"));
    assert!(text.contains("The backlog names no events yet"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        h.write_workspace("backlog.yaml", BACKLOG);
        h.run::<MqttClient>(json!({})).unwrap();
        h.out_file("app/events.py")
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<MqttClient>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
