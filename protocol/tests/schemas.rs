//! The JSON Schemas in `protocol/schemas/` are generated from this crate's
//! types; this test fails when a file and the code disagree.
//! Regenerate with `TAYLORDASH_BLESS=1 cargo test -p taylordash-protocol`.

use std::path::Path;

#[test]
fn checked_in_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let bless = std::env::var_os("TAYLORDASH_BLESS").is_some_and(|v| v == "1");
    let mut drifted = Vec::new();
    for (name, schema) in taylordash_protocol::schemas() {
        let text = serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n";
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).expect("create protocol/schemas");
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == text => {}
            Ok(_) => drifted.push(format!("{name} differs from the code")),
            Err(e) => drifted.push(format!("{name} cannot be read: {e}")),
        }
    }
    assert!(
        drifted.is_empty(),
        "protocol/schemas/ is out of date: {}; regenerate with `TAYLORDASH_BLESS=1 cargo test -p taylordash-protocol`",
        drifted.join("; ")
    );
}

#[test]
fn every_schema_file_is_generated() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let known: Vec<&str> = taylordash_protocol::schemas().into_iter().map(|(n, _)| n).collect();
    let mut extra: Vec<String> = std::fs::read_dir(&dir)
        .expect("protocol/schemas exists")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    extra.sort();
    assert_eq!(extra, Vec::<String>::new(), "files in protocol/schemas/ that no type generates");
}
