use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

#[test]
fn writes_the_storage_module() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<MinioClient>(json!({ "previous": { "tables": ["projects"] } })).unwrap();
    assert_eq!(out.files, ["app/storage.py"]);
    assert_eq!(out.default_bucket, "taylordash-artifacts");
    let text = h.out_file("app/storage.py");
    assert!(!text.contains("@@"));
    assert!(text.contains("DEFAULT_ENDPOINT = \"https://localhost:9000\"\nDEFAULT_BUCKET = \"taylordash-artifacts\"\n"));
    assert!(text.contains("ALGORITHM = \"AWS4-HMAC-SHA256\""));
    assert_eq!(h.logs(), [(Level::Info, "app/storage.py: bucket taylordash-artifacts by default".to_string())]);
}

#[test]
fn credentials_come_from_the_environment_only() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    h.run::<MinioClient>(json!({})).unwrap();
    let text = h.out_file("app/storage.py");
    assert!(text.contains("access_key = os.environ.get(\"AWS_ACCESS_KEY_ID\")"));
    assert!(!text.contains("AKIA"));
    assert!(!text.contains("http://"));
}

#[test]
fn bucket_follows_the_service_name() {
    let h = Harness::new();
    let out = h
        .run::<MinioClient>(json!({ "backlog": { "service": { "name": "Tracker_App" }, "items": [] } }))
        .unwrap();
    assert_eq!(out.default_bucket, "tracker-app-artifacts");
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        h.write_workspace("backlog.yaml", BACKLOG);
        h.run::<MinioClient>(json!({})).unwrap();
        h.out_file("app/storage.py")
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<MinioClient>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
