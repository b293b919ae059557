//! Each target for a few hundred inputs — its seeds, mutations and generated
//! inputs — with a fixed seed, so the targets cannot rot: a crash here is a
//! bug found (or a target that no longer builds its inputs).

use std::path::PathBuf;
use std::time::Duration;

use taylordash_fuzz::engine::{self, Options};
use taylordash_fuzz::targets;

fn smoke(name: &str, execs: u64) {
    let target = targets::by_name(name).expect("a target");
    let opts = Options {
        time: Duration::from_secs(30),
        max_execs: Some(execs),
        seed: 18,
        corpus_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        crash_dir: None,
        hang: Duration::from_secs(30),
        verbose: false,
    };
    let stats = engine::fuzz(&target, &opts);
    assert_eq!(stats.execs, execs, "{name}");
    assert!(stats.unique.is_empty(), "{name} crashed:\n{}", stats.unique.keys().cloned().collect::<Vec<_>>().join("\n"));
    assert!(stats.features > 0, "{name} reported no features");
}

#[test]
fn pipeline() {
    smoke("pipeline", 300);
}

#[test]
fn policy() {
    smoke("policy", 300);
}

#[test]
fn envelope() {
    smoke("envelope", 300);
}

#[test]
fn json_schema() {
    smoke("json_schema", 300);
}

#[test]
fn merge() {
    smoke("merge", 200);
}

#[test]
fn every_target_has_committed_seeds() {
    for t in targets::all() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(t.name);
        let n = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(n > 0, "no seeds in {}", dir.display());
    }
}

/// The oracle comparison is not vacuous: most generated schemas keep to the
/// comparable subset and compile in the `jsonschema` crate.
#[test]
fn generated_schemas_are_compared_with_the_oracle() {
    let target = targets::json_schema::target();
    let generate = target.generate.expect("a generator");
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut compared = 0;
    for _ in 0..200 {
        let doc: serde_json::Value = serde_json::from_slice(&generate(&mut runner)).unwrap();
        if targets::json_schema::comparable(&doc["schema"]) && jsonschema::draft202012::new(&doc["schema"]).is_ok() {
            compared += 1;
        }
    }
    assert!(compared >= 150, "only {compared} of 200 generated schemas compared");
}
