use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

fn record(h: &Harness, file: &str, front: &str, title: &str) {
    h.write_workspace(&format!("docs/adr/{file}"), format!("---\n{front}---\n\n# {title}\n\nBody.\n"));
}

#[test]
fn indexes_records_with_effective_status_and_links() {
    let h = Harness::new();
    record(&h, "0001-record-architecture-decisions.md", "status: accepted\n", "Record architecture decisions");
    record(&h, "0002-publish-events.md", "status: accepted\nbacklog-item: events-endpoint\n", "Publish events as received");
    record(&h, "0003-validate-events.md", "status: accepted\nbacklog-item: events-endpoint\nsupersedes: \"0002\"\n", "Validate events | then publish");
    h.write_workspace("docs/adr/index.md", "old index, not a record\n");
    h.write_workspace("docs/adr/notes.md", "not numbered\n");
    let out = h.run::<AdrManager>(json!({ "task": { "stage": "documentation" }, "previous": { "files": ["mkdocs.yml"] } })).unwrap();
    assert_eq!(out.files, ["docs/adr/index.md"]);
    assert_eq!(out.problems, []);
    let statuses: Vec<(u32, &str, &[u32])> =
        out.records.iter().map(|r| (r.number, r.effective_status.as_str(), r.superseded_by.as_slice())).collect();
    assert_eq!(statuses, [(1, "accepted", &[][..]), (2, "superseded by 0003", &[3][..]), (3, "accepted", &[][..])]);
    let md = h.out_file("docs/adr/index.md");
    assert!(md.starts_with("# Architecture decision records\n\n3 records: 2 accepted, 1 superseded."));
    assert!(md.contains(
        "| [0002](0002-publish-events.md) | Publish events as received | superseded by [0003](0003-validate-events.md) | `events-endpoint` |  |\n"
    ));
    assert!(md.contains(
        "| [0003](0003-validate-events.md) | Validate events \\| then publish | accepted | `events-endpoint` | [0002](0002-publish-events.md) |\n"
    ));
    assert!(!md.contains("## Problems"));
}

#[test]
fn problems_are_listed_with_file_and_line() {
    let h = Harness::new();
    record(&h, "0001-a.md", "status: accepted\nsupersedes: \"0009\"\n", "A");
    record(&h, "0002-b.md", "status: accepted\nsupersedes: \"0003\"\n", "B");
    record(&h, "0003-c.md", "status: accepted\nsupersedes: \"0002\"\n", "C");
    record(&h, "0003-d.md", "status: maybe\n", "D");
    h.write_workspace("docs/adr/0004-e.md", "---\nstatus: accepted\n---\nno heading\n");
    let out = h.run::<AdrManager>(json!({})).unwrap();
    let got: Vec<String> = out.problems.iter().map(|p| format!("{}:{} {}", p.file, p.location, p.message)).collect();
    assert_eq!(
        got,
        [
            "docs/adr/0001-a.md:3:1 supersedes 0009, which does not exist",
            "docs/adr/0002-b.md:3:1 supersedes cycle back to this record",
            "docs/adr/0003-c.md:3:1 supersedes cycle back to this record",
            "docs/adr/0003-d.md:1:1 number 0003 is also docs/adr/0003-c.md",
            "docs/adr/0003-d.md:1:1 status `maybe` is not one of proposed, accepted, rejected, deprecated, superseded",
            "docs/adr/0004-e.md:4:1 no `# Title` heading",
        ]
    );
    let md = h.out_file("docs/adr/index.md");
    assert!(md.contains("## Problems\n\n* `0001-a.md` line 3: supersedes 0009, which does not exist\n"));
    assert!(md.contains("| [0004](0004-e.md) | (untitled) | accepted |"));
}

#[test]
fn no_records_gives_an_empty_index() {
    let h = Harness::new();
    let out = h.run::<AdrManager>(json!({})).unwrap();
    assert!(out.records.is_empty());
    assert_eq!(h.out_file("docs/adr/index.md"), "# Architecture decision records\n\nNo decisions recorded yet.\n");
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = Harness::new();
        record(&h, "0001-a.md", "status: accepted\n", "A");
        record(&h, "0002-b.md", "status: proposed\nsupersedes: [1]\n", "B");
        let out = h.run::<AdrManager>(json!({})).unwrap();
        (out, h.out_file("docs/adr/index.md"))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<AdrManager>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}
