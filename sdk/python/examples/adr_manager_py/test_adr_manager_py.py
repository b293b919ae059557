"""Native tests of `adr_manager_py`: the Rust unit tests of `plugins/adr_manager/src/tests.rs`
and `toolkit/service_model/src/adr.rs`, ported one for one, then what the port adds (serde_yaml_ng's
and libyaml's behaviour on front matter, Rust's string functions)."""

import pytest
from adr_manager_py import AdrManagerPy

from service_model.adr import number_of, parse
from service_model.rust import debug_str, lines, json_f64, trim, with_decimal_point
from service_model.serde_yaml import YamlError, from_str_map
from taylordash_sdk import Envelope, Level
from taylordash_sdk.envelope import Feedback, FailedGate, TaskInfo
from taylordash_sdk.testing import Harness


def record(h: Harness, file: str, front: str, title: str) -> None:
    h.write_workspace(f"docs/adr/{file}", f"---\n{front}---\n\n# {title}\n\nBody.\n")


# --- tests.rs ---------------------------------------------------------------

def test_indexes_records_with_effective_status_and_links():
    h = Harness(AdrManagerPy())
    record(h, "0001-record-architecture-decisions.md", "status: accepted\n", "Record architecture decisions")
    record(h, "0002-publish-events.md", "status: accepted\nbacklog-item: events-endpoint\n", "Publish events as received")
    record(h, "0003-validate-events.md", "status: accepted\nbacklog-item: events-endpoint\nsupersedes: \"0002\"\n",
           "Validate events | then publish")
    h.write_workspace("docs/adr/index.md", "old index, not a record\n")
    h.write_workspace("docs/adr/notes.md", "not numbered\n")
    out = h.invoke({}, envelope=Envelope(task=TaskInfo(stage="documentation"), previous={"files": ["mkdocs.yml"]}))
    assert out.files == ["docs/adr/index.md"]
    assert out.problems == []
    statuses = [(r.number, r.effective_status, r.superseded_by) for r in out.records]
    assert statuses == [(1, "accepted", []), (2, "superseded by 0003", [3]), (3, "accepted", [])]
    md = h.out_file("docs/adr/index.md")
    assert md.startswith("# Architecture decision records\n\n3 records: 2 accepted, 1 superseded.")
    assert ("| [0002](0002-publish-events.md) | Publish events as received | superseded by [0003](0003-validate-events.md)"
            " | `events-endpoint` |  |\n") in md
    assert ("| [0003](0003-validate-events.md) | Validate events \\| then publish | accepted | `events-endpoint`"
            " | [0002](0002-publish-events.md) |\n") in md
    assert "## Problems" not in md


def test_problems_are_listed_with_file_and_line():
    h = Harness(AdrManagerPy())
    record(h, "0001-a.md", "status: accepted\nsupersedes: \"0009\"\n", "A")
    record(h, "0002-b.md", "status: accepted\nsupersedes: \"0003\"\n", "B")
    record(h, "0003-c.md", "status: accepted\nsupersedes: \"0002\"\n", "C")
    record(h, "0003-d.md", "status: maybe\n", "D")
    h.write_workspace("docs/adr/0004-e.md", "---\nstatus: accepted\n---\nno heading\n")
    out = h.invoke({})
    assert [f"{p.file}:{p.location} {p.message}" for p in out.problems] == [
        "docs/adr/0001-a.md:3:1 supersedes 0009, which does not exist",
        "docs/adr/0002-b.md:3:1 supersedes cycle back to this record",
        "docs/adr/0003-c.md:3:1 supersedes cycle back to this record",
        "docs/adr/0003-d.md:1:1 number 0003 is also docs/adr/0003-c.md",
        "docs/adr/0003-d.md:1:1 status `maybe` is not one of proposed, accepted, rejected, deprecated, superseded",
        "docs/adr/0004-e.md:4:1 no `# Title` heading",
    ]
    md = h.out_file("docs/adr/index.md")
    assert "## Problems\n\n* `0001-a.md` line 3: supersedes 0009, which does not exist\n" in md
    assert "| [0004](0004-e.md) | (untitled) | accepted |" in md


def test_no_records_gives_an_empty_index():
    h = Harness(AdrManagerPy())
    out = h.invoke({})
    assert out.records == []
    assert h.out_file("docs/adr/index.md") == "# Architecture decision records\n\nNo decisions recorded yet.\n"


def test_output_is_byte_identical_across_runs():
    def run():
        h = Harness(AdrManagerPy())
        record(h, "0001-a.md", "status: accepted\n", "A")
        record(h, "0002-b.md", "status: proposed\nsupersedes: [1]\n", "B")
        return h.invoke_json("{}"), h.out_file("docs/adr/index.md")

    assert run() == run()


def test_describe_names_the_tool():
    info = Harness(AdrManagerPy()).describe()
    assert info.name == "adr_manager_py"
    assert info.description.startswith("Writes docs/adr/index.md: every decision record")


# --- adr.rs -----------------------------------------------------------------

def test_parses_front_matter_and_title():
    a = parse("docs/adr/0003-use-x.md",
              "---\nstatus: accepted\nbacklog-item: events-endpoint\nsupersedes: \"0002\"\n---\n\n# Use X\n\nBody\n")
    assert (a.number, a.title, a.status) == (3, "Use X", "accepted")
    assert a.item == "events-endpoint"
    assert a.supersedes == [2]
    assert a.problems == []
    b = parse("docs/adr/0004-y.md", "---\nstatus: maybe\nsupersedes: [x]\n---\nno title\n")
    assert b.problems == [
        (3, "supersedes: `x` is not an ADR number"),
        (5, "no `# Title` heading"),
        (1, "status `maybe` is not one of proposed, accepted, rejected, deprecated, superseded"),
    ]
    c = parse("docs/adr/0005-z.md", "# Z\n\nStatus: superseded by ADR-0006\n")
    assert c.status == "superseded by ADR-0006"
    assert number_of("0012-a.md") == 12
    assert number_of("12-a.md") is None
    assert number_of("index.md") is None


# --- what the port adds -----------------------------------------------------

def test_the_output_is_compact_json_in_struct_order_with_non_ascii_as_is():
    h = Harness(AdrManagerPy())
    record(h, "0001-é.md", "status: accepted\nbacklog-item: \"café\"\n", "Décision \"x\"")
    text = h.invoke_json("{}")
    assert text.startswith('{"index":"docs/adr/index.md","records":[{"number":1,"file":"docs/adr/0001-é.md",'
                           '"title":"Décision \\"x\\"","status":"accepted","effective_status":"accepted","item":"café",'
                           '"supersedes":[],"superseded_by":[]}],"problems":[],"files":')


def test_input_keys_are_logged_as_ignored_and_the_envelope_is_not():
    h = Harness(AdrManagerPy())
    feedback = Feedback(failed_gates=[FailedGate(gate="docs_lint", report={"passed": False})])
    h.invoke({"zeta": 1, "alpha": [2]}, envelope=Envelope(feedback=feedback))
    assert h.logs[:2] == [
        (Level.INFO, "adr_manager: retry after failed gate(s) docs_lint; outputs are derived from the backlog again"),
        (Level.DEBUG, "adr_manager: ignoring input key(s) alpha, zeta"),
    ]
    assert h.logs[-1] == (Level.INFO, "docs/adr/index.md: 0 records, 0 superseded, 0 problem(s)")


@pytest.mark.parametrize("front, problem", [
    ("status: [unclosed\n", (3, "front matter is not YAML: did not find expected ',' or ']' at line 2 column 1, "
                                "while parsing a flow sequence at line 1 column 9")),
    ("status: accepted: yes\n", (2, "front matter is not YAML: mapping values are not allowed in this context "
                                    "at line 1 column 17")),
    ("status: \"open\n", (2, "front matter is not YAML: found unexpected end of stream at line 1 column 14, "
                             "while scanning a quoted scalar at line 1 column 9")),
    ("- a\n- b\n", (2, "front matter is not YAML: invalid type: sequence, expected a map")),
    ("just text\n", (2, "front matter is not YAML: invalid type: string \"just text\", expected a map")),
    ("status: x\nsupersedes: !ref 2\n", (3, "front matter is not YAML: supersedes: invalid type: enum, expected any "
                                           "valid JSON value at line 2 column 13")),
    ("status: x\n...\nmore: 1\n", (1, "front matter is not YAML: deserializing from YAML containing more than one "
                                      "document is not supported")),
    ("status: 3\n", (2, "status must be text")),
    ("", (1, "the front matter has no status")),
    ("status: accepted\nsupersedes: true\n", (3, "supersedes: a boolean is not an ADR number")),
    ("status: accepted\nsupersedes: -1\n", (3, "supersedes: `-1` is not an ADR number")),
    ("status: accepted\nsupersedes: 1e3\n", (3, "supersedes: `1000.0` is not an ADR number")),
    ("status: accepted\nsupersedes: 4294967296\n", (3, "supersedes: `4294967296` is not an ADR number")),
    ("status: accepted\nsupersedes: {a: 1}\n", (3, "supersedes: an object is not an ADR number")),
])
def test_front_matter_problems_read_as_serde_yaml_ng_words_them(front, problem):
    a = parse("docs/adr/0001-x.md", f"---\n{front}---\n\n# X\n")
    assert a.problems[0] == problem


@pytest.mark.parametrize("yaml, value", [
    ("supersedes: 0002", {"supersedes": "0002"}),            # YAML 1.2: leading zeros make a string
    ("supersedes: 0x10", {"supersedes": 16}),
    ("supersedes: 0o17", {"supersedes": 15}),
    ("supersedes: +7", {"supersedes": 7}),
    ("supersedes: 1_000", {"supersedes": "1_000"}),          # no `_` in Rust's integers
    ("a: yes\nb: ~\nc: .inf\nd: nan\ne:", {"a": "yes", "b": None, "c": None, "d": "nan", "e": None}),
    ("a: &x [1, 2]\nb: *x", {"a": [1, 2], "b": [1, 2]}),
    ("a: !!str 5\nb: !!int '7'", {"a": "5", "b": 7}),
    ("a: x\na: y", {"a": "y"}),                              # BTreeMap::insert: the last one
    ("a: one\ttwo\t\nb: \"\\x41\\u00e9\"", {"a": "one\ttwo", "b": "Aé"}),
    ("a: folded\n  over lines\n\n  and a gap", {"a": "folded over lines\nand a gap"}),
])
def test_scalars_resolve_as_serde_yaml_ng_resolves_them(yaml, value):
    assert from_str_map(yaml) == value


def test_yaml_errors_carry_libyaml_marks():
    with pytest.raises(YamlError) as e:
        from_str_map("a: 1\nb")
    assert (e.value.line, str(e.value)) == (  # libyaml ends the stream on a line of its own
        3, "could not find expected ':' at line 3 column 1, while scanning a simple key at line 2 column 1")
    with pytest.raises(YamlError) as e:
        from_str_map("a: \x07")
    assert (e.value.line, str(e.value)) == (1, "control characters are not allowed at position 3")


def test_rust_string_functions():
    assert lines("a\r\nb\n\nc\r") == ["a", "b", "", "c\r"]
    assert lines("") == [] and lines("\n") == [""]
    assert trim("\u3000 x\x1c ") == "x\x1c"  # U+001C is no Rust whitespace
    assert debug_str('a"b\\\n\x1b') == '"a\\"b\\\\\\n\\u{1b}"'
    assert [json_f64(f) for f in (1.0, 1e20, 1.5e-7, 0.001, 1e16, 1e15)] == [
        "1.0", "1e+20", "1.5e-7", "0.001", "1e+16", "1000000000000000.0"]
    assert [with_decimal_point(f) for f in (1.0, 1e20, 0.5)] == ["1.0", "100000000000000000000.0", "0.5"]
