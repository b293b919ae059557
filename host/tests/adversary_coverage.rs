//! Every attack of the `adversary` test plugin (`tests/plugins/adversary`)
//! has a host test, as wasmtime's test-programs hold each guest to a test:
//! an attack added to the plugin without one fails here, naming it.
//!
//! An attack is a match arm `"name" =>` in the plugin's `run`; a host test
//! covers it when a file under `host/tests/` that runs the adversary names
//! it as a string literal (`{"attack": "name"}`, `r.attack("name", …)`, or
//! a list of names it loops over).

use std::collections::BTreeMap;
use std::path::Path;

fn attacks(source: &str) -> Vec<String> {
    let body = source.split("fn run(").nth(1).expect("the adversary has a `fn run(`");
    body.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix('"')?;
            let (name, after) = rest.split_once('"')?;
            let is_arm = after.trim_start().starts_with("=>");
            (is_arm && !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
                .then(|| name.to_string())
        })
        .collect()
}

fn sends(test_source: &str, attack: &str) -> bool {
    test_source.contains("adversary") && test_source.contains(&format!("\"{attack}\""))
}

#[test]
fn every_adversary_attack_has_a_host_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plugin = root.join("../tests/plugins/adversary/src/lib.rs");
    let source = std::fs::read_to_string(&plugin).unwrap_or_else(|e| panic!("{}: {e}", plugin.display()));
    let names = attacks(&source);
    assert!(
        names.len() >= 20 && names.iter().any(|n| n == "read_passwd") && names.iter().any(|n| n == "socket_flood"),
        "could not read the attacks from {}: found {names:?}",
        plugin.display()
    );

    let this = file!().rsplit('/').next().unwrap_or_default().to_string();
    let mut tests: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("tests")).expect("host/tests") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.extension().is_some_and(|e| e == "rs") && name != this {
            tests.insert(name, std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        }
    }
    let uncovered: Vec<&str> =
        names.iter().map(String::as_str).filter(|a| !tests.values().any(|t| sends(t, a))).collect();
    assert!(
        uncovered.is_empty(),
        "adversary attack(s) with no host test: {}; add a test under host/tests/ that sends each \
         (e.g. `{{\"attack\": \"{}\"}}`) and asserts it is contained",
        uncovered.join(", "),
        uncovered.first().copied().unwrap_or_default()
    );
}

#[test]
fn the_check_finds_an_uncovered_attack() {
    let plugin = "fn run(input: Attack) {\n    match input.attack.as_str() {\n        \"covered\" => a(),\n        \"new_one\" => {\n        other => b(),\n";
    assert_eq!(attacks(plugin), ["covered", "new_one"]);
    let test = r#"let adversary = plugin(); r.attack("covered", q); json!({ "attack": "covered_too" })"#;
    assert!(sends(test, "covered") && sends(test, "covered_too") && !sends(test, "new_one"));
    assert!(!sends(r#"json!({ "attack": "covered" })"#, "covered"), "a file that never runs the adversary covers nothing");
}
