/**
 * Tests of `adr_manager_js`: every Rust unit test of the tool
 * (plugins/adr_manager/src/tests.rs) and of its MADR reader
 * (toolkit/service_model/src/adr.rs), ported; then golden cases produced by
 * the Rust tool, compared byte for byte:
 *
 *   tests/guests/adr_manager/cases/<case>/   (made by make_cases.sh with `taylordash invoke`)
 *
 * each with `workspace/…`, `expected.json` (the tool's stdout) and
 * `expected_index.md`.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Level } from "@taylordash/sdk";
import { Harness } from "@taylordash/sdk/testing";
import {
  adrFiles,
  cmpStr,
  decodeUtf8,
  decodeUtf8Slow,
  indexMd,
  jsonString,
  manage,
  numberOf,
  parse,
  runOn,
  rustLines,
  rustTrim,
  toJson,
  type Output,
} from "./adr_index.ts";
import tool from "./adr_manager_js.ts";
import { fastMap, fromStrMapFull } from "./yaml.ts";

const here = dirname(fileURLToPath(import.meta.url));

function record(h: Harness, file: string, front: string, title: string): void {
  h.writeWorkspace(`docs/adr/${file}`, `---\n${front}---\n\n# ${title}\n\nBody.\n`);
}

// ---------------------------------------------------------------------------
// toolkit/service_model/src/adr.rs: tests

test("parses_front_matter_and_title", () => {
  const a = parse(
    "docs/adr/0003-use-x.md",
    '---\nstatus: accepted\nbacklog-item: events-endpoint\nsupersedes: "0002"\n---\n\n# Use X\n\nBody\n',
  );
  assert.deepEqual([a.number, a.title, a.status], [3, "Use X", "accepted"]);
  assert.equal(a.item, "events-endpoint");
  assert.deepEqual(a.supersedes, [2]);
  assert.deepEqual(a.problems, []);
  const b = parse("docs/adr/0004-y.md", "---\nstatus: maybe\nsupersedes: [x]\n---\nno title\n");
  assert.deepEqual(b.problems, [
    [3, "supersedes: `x` is not an ADR number"],
    [5, "no `# Title` heading"],
    [1, "status `maybe` is not one of proposed, accepted, rejected, deprecated, superseded"],
  ]);
  const c = parse("docs/adr/0005-z.md", "# Z\n\nStatus: superseded by ADR-0006\n");
  assert.equal(c.status, "superseded by ADR-0006");
  assert.equal(numberOf("0012-a.md"), 12);
  assert.equal(numberOf("12-a.md"), null);
  assert.equal(numberOf("index.md"), null);
});

// ---------------------------------------------------------------------------
// plugins/adr_manager/src/tests.rs

test("indexes_records_with_effective_status_and_links", () => {
  const h = new Harness(tool);
  record(h, "0001-record-architecture-decisions.md", "status: accepted\n", "Record architecture decisions");
  record(h, "0002-publish-events.md", "status: accepted\nbacklog-item: events-endpoint\n", "Publish events as received");
  record(h, "0003-validate-events.md", 'status: accepted\nbacklog-item: events-endpoint\nsupersedes: "0002"\n', "Validate events | then publish");
  h.writeWorkspace("docs/adr/index.md", "old index, not a record\n");
  h.writeWorkspace("docs/adr/notes.md", "not numbered\n");
  const out = h.invoke({}, { envelope: { task: { stage: "documentation" } as never, previous: { files: ["mkdocs.yml"] } } });
  assert.deepEqual(out.files, ["docs/adr/index.md"]);
  assert.deepEqual(out.problems, []);
  const statuses = out.records.map((r) => [r.number, r.effective_status, r.superseded_by]);
  assert.deepEqual(statuses, [
    [1, "accepted", []],
    [2, "superseded by 0003", [3]],
    [3, "accepted", []],
  ]);
  const md = h.outFile("docs/adr/index.md");
  assert.ok(md.startsWith("# Architecture decision records\n\n3 records: 2 accepted, 1 superseded."));
  assert.ok(
    md.includes(
      "| [0002](0002-publish-events.md) | Publish events as received | superseded by [0003](0003-validate-events.md) | `events-endpoint` |  |\n",
    ),
  );
  assert.ok(
    md.includes(
      "| [0003](0003-validate-events.md) | Validate events \\| then publish | accepted | `events-endpoint` | [0002](0002-publish-events.md) |\n",
    ),
  );
  assert.ok(!md.includes("## Problems"));
});

test("problems_are_listed_with_file_and_line", () => {
  const h = new Harness(tool);
  record(h, "0001-a.md", 'status: accepted\nsupersedes: "0009"\n', "A");
  record(h, "0002-b.md", 'status: accepted\nsupersedes: "0003"\n', "B");
  record(h, "0003-c.md", 'status: accepted\nsupersedes: "0002"\n', "C");
  record(h, "0003-d.md", "status: maybe\n", "D");
  h.writeWorkspace("docs/adr/0004-e.md", "---\nstatus: accepted\n---\nno heading\n");
  const out = h.invoke({});
  const got = out.problems.map((p) => `${p.file}:${p.location} ${p.message}`);
  assert.deepEqual(got, [
    "docs/adr/0001-a.md:3:1 supersedes 0009, which does not exist",
    "docs/adr/0002-b.md:3:1 supersedes cycle back to this record",
    "docs/adr/0003-c.md:3:1 supersedes cycle back to this record",
    "docs/adr/0003-d.md:1:1 number 0003 is also docs/adr/0003-c.md",
    "docs/adr/0003-d.md:1:1 status `maybe` is not one of proposed, accepted, rejected, deprecated, superseded",
    "docs/adr/0004-e.md:4:1 no `# Title` heading",
  ]);
  const md = h.outFile("docs/adr/index.md");
  assert.ok(md.includes("## Problems\n\n* `0001-a.md` line 3: supersedes 0009, which does not exist\n"));
  assert.ok(md.includes("| [0004](0004-e.md) | (untitled) | accepted |"));
});

test("no_records_gives_an_empty_index", () => {
  const h = new Harness(tool);
  const out = h.invoke({});
  assert.deepEqual(out.records, []);
  assert.equal(h.outFile("docs/adr/index.md"), "# Architecture decision records\n\nNo decisions recorded yet.\n");
});

test("output_is_byte_identical_across_runs", () => {
  const run = () => {
    const h = new Harness(tool);
    record(h, "0001-a.md", "status: accepted\n", "A");
    record(h, "0002-b.md", "status: proposed\nsupersedes: [1]\n", "B");
    const out = h.invokeJson("{}");
    return [out, h.outFile("docs/adr/index.md")];
  };
  assert.deepEqual(run(), run());
});

test("describe_names_the_tool_after_its_directory", () => {
  const info = new Harness(tool).describe();
  assert.equal(info.name, "adr_manager_js");
  assert.equal(info.name, here.split("/").pop());
});

// ---------------------------------------------------------------------------
// What the Rust tool logs, with this tool's name

test("logs the ignored input keys, the retry feedback, each problem and a summary", () => {
  const h = new Harness(tool);
  record(h, "0001-a.md", 'status: accepted\nsupersedes: "0009"\n', "A");
  h.invoke({ zeta: 1, alpha: true, "é": null, "\u{1F600}": 1, "\uFFFD": 2 }, { envelope: { feedback: { failed_gates: [{ gate: "lint", report: {} }, { gate: "docs", report: null }] } } });
  assert.deepEqual(h.logs, [
    [Level.Info, "adr_manager_js: retry after failed gate(s) lint, docs; outputs are derived from the backlog again"],
    // BTreeMap order: by UTF-8 bytes, so U+FFFD before U+1F600 (JS's sort would swap them)
    [Level.Debug, "adr_manager_js: ignoring input key(s) alpha, zeta, é, \uFFFD, \u{1F600}"],
    [Level.Warn, "docs/adr/0001-a.md:3:1: supersedes 0009, which does not exist"],
    [Level.Info, "docs/adr/index.md: 1 records, 0 superseded, 1 problem(s)"],
  ]);
  const h2 = new Harness(tool);
  h2.invoke({}, { envelope: { feedback: { failed_gates: [] } } });
  assert.deepEqual(h2.logs, [
    [Level.Info, "adr_manager_js: retry after failed gate(s) (unnamed); outputs are derived from the backlog again"],
    [Level.Info, "docs/adr/index.md: 0 records, 0 superseded, 0 problem(s)"],
  ]);
});

// ---------------------------------------------------------------------------
// Where Rust and JavaScript differ

test("Rust's str::lines, trim and byte order", () => {
  assert.deepEqual(rustLines(""), []);
  assert.deepEqual(rustLines("a\n"), ["a"]);
  assert.deepEqual(rustLines("a\r\nb\r\n\n"), ["a", "b", ""]);
  assert.deepEqual(rustLines("a\rb\r"), ["a\rb\r"]); // a lone \r is no line end, nor is a final one
  assert.equal(rustTrim("\u0085 x \u3000"), "x"); // NEL is white space in Rust, not in JS
  assert.equal(rustTrim("\uFEFFx\uFEFF"), "\uFEFFx\uFEFF"); // BOM is white space in JS, not in Rust
  assert.ok(cmpStr("\uFFFD", "\u{1F600}") < 0);
  assert.ok("\uFFFD" > "\u{1F600}"); // what JS's own order says
});

test("UTF-8 text as read_to_string reads it: a BOM is kept, invalid bytes refuse the file", () => {
  for (const decode of [decodeUtf8, decodeUtf8Slow]) {
    assert.equal(decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), "\uFEFFA");
    assert.equal(decode(new Uint8Array([0x41, 0xff])), null);
    assert.equal(decode(new Uint8Array([0xc0, 0x80])), null); // overlong
    assert.equal(decode(new Uint8Array([0xed, 0xa0, 0x80])), null); // surrogate
    assert.equal(decode(new Uint8Array([0xf0, 0x9f, 0x98])), null); // truncated
    assert.equal(decode(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), null); // above U+10FFFF
    assert.equal(decode(new TextEncoder().encode("é\u2028\u{1F600}x")), "é\u2028\u{1F600}x");
  }
  const h = new Harness(tool);
  h.writeWorkspace("docs/adr/0001-bom.md", "\uFEFF---\nstatus: accepted\nsupersedes: 9\n---\n# BOM\n");
  h.writeWorkspace("docs/adr/0002-latin1.md", new Uint8Array([0x23, 0x20, 0xe9, 0x0a]));
  const out = h.invoke({});
  // The first line is "\uFEFF---", not "---": no front matter, so `supersedes: 9` is not read
  // (the status comes from the `status:` line). The Latin-1 file is no record at all.
  assert.deepEqual(out.problems, []);
  assert.deepEqual(
    out.records.map((r) => [r.file, r.status, r.supersedes]),
    [["docs/adr/0001-bom.md", "accepted", []]],
  );
});

test("JSON text as serde_json writes it", () => {
  const s = 'q" b\\ n\n r\r t\t b\b f\f nul\0 esc\x1b del\x7f é \u2028 \u2029 / \u{1F600}';
  assert.equal(jsonString(s), '"q\\" b\\\\ n\\n r\\r t\\t b\\b f\\f nul\\u0000 esc\\u001b del\x7f é \u2028 \u2029 / \u{1F600}"');
  // JSON.stringify agrees for well-formed strings (it leaves U+2028/U+2029 raw, as serde_json does)
  assert.equal(JSON.stringify(s), jsonString(s));
  // The SDK serialises the output with JSON.stringify in the schema's key order: the same text.
  const h = new Harness(tool);
  h.writeWorkspace("docs/adr/0001-u.md", '---\nstatus: accepted\nbacklog-item: "a\\u2028b\\x01"\n---\n# T\u2029\n');
  const text = h.invokeJson("{}");
  const out = JSON.parse(text) as Output;
  assert.equal(text, toJson(out));
  assert.equal(out.records[0]!.item, "a\u2028b\x01");
});

test("YAML errors read as serde_yaml_ng's", () => {
  const problems = (front: string) => parse("docs/adr/0001-a.md", `---\n${front}\n---\n# A\n`).problems;
  assert.deepEqual(problems("status: [unclosed"), [
    [3, "front matter is not YAML: did not find expected ',' or ']' at line 2 column 1, while parsing a flow sequence at line 1 column 9"],
  ]);
  assert.deepEqual(problems("status: accepted\nx: !foo y"), [
    [3, "front matter is not YAML: x: invalid type: enum, expected any valid JSON value at line 2 column 4"],
  ]);
  assert.deepEqual(problems("status: accepted\nx: \x07"), [[2, "front matter is not YAML: control characters are not allowed at position 20"]]);
  assert.deepEqual(problems("status: accepted\nsupersedes: 1e16"), [[3, "supersedes: `1e+16` is not an ADR number"]]);
  assert.deepEqual(problems("status: accepted\nsupersedes: 2.0"), [[3, "supersedes: `2.0` is not an ADR number"]]);
  assert.deepEqual(problems("just text"), [[2, 'front matter is not YAML: invalid type: string "just text", expected a map']]); // a mark at 1:1 is not shown
  assert.deepEqual(problems(`status: accepted\nx: ${"[".repeat(130)}${"]".repeat(130)}`), [
    [3, "front matter is not YAML: recursion limit exceeded at line 2 column 131"],
  ]);
});

test("the fast path for simple front matter agrees with the full libyaml port, or declines", () => {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T,>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
  const keys = ["status", "backlog-item", "supersedes", "decision-makers", "_x", "true", "x".repeat(1001), "1a", "-a", "a b", "é"];
  const values = [
    "accepted", "superseded by ADR-0002", "0002", "2", "-1", "+5", "1.5", "1e16", "0x10", "true", "null", "~", ".inf", "1_000",
    "4294967296", "340282366920938463463374607431768211455", "project_manager (planning stage)", "a, b", "a  b", "a #b", "a: b",
    "it's", "é è", "x\u2028y", "x\u00a0y", "x\ty", '"q"', "'s'", '"a:b # c"', "'it''s'", '"a\\"b"', '""', "&a x", "*a", "!t x",
    "- x", '[1, "0003"]', "[]", "[ ]", "[a b, c]", "[1,,2]", "[x: y]", '["a,b"]', "[[1]]", "{a: 1}", "", "@x", "%x", "#c", "00", ".5",
  ];
  let fast = 0;
  for (let i = 0; i < 5000; i++) {
    const text = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(keys) + pick([": ", ":  ", ":", ":\t"]) + pick(values) + pick(["", " "])).join("\n");
    const f = fastMap(text);
    if (f === null) continue;
    fast++;
    const full = fromStrMapFull(text);
    assert.ok("ok" in full, `the full port refuses what the fast path took: ${JSON.stringify(text)}`);
    const ser = (m: unknown) => JSON.stringify(m, (_k, v) => (v instanceof Map ? [...v] : typeof v === "bigint" ? `${v}n` : v));
    assert.equal(ser(f), ser(full.ok), JSON.stringify(text));
  }
  assert.ok(fast > 100, `only ${fast} inputs took the fast path`);
  // What adr_writer writes takes it.
  assert.notEqual(fastMap("status: accepted\ndecision-makers: project_manager (planning stage)\nbacklog-item: events-endpoint"), null);
});

test("the records are the NNNN-*.md names directly in docs/adr", () => {
  assert.deepEqual(adrFiles(["index.md", "0002-b.md", "0001-a.md", "12345-x.md", "0003.md", "0004-x.MD", "notes.md"]), [
    "docs/adr/0001-a.md",
    "docs/adr/0002-b.md",
  ]);
  const h = new Harness(tool);
  h.writeWorkspace("docs/adr/0001-a.md/inside.md", "a directory named like a record\n");
  h.writeWorkspace("docs/adr/sub/0002-b.md", "---\nstatus: accepted\n---\n# Nested\n");
  h.writeWorkspace("docs/adr/0003-c.md", "---\nstatus: accepted\n---\n# C\n");
  assert.deepEqual(
    h.invoke({}).records.map((r) => r.file),
    ["docs/adr/0003-c.md"],
  );
});

// ---------------------------------------------------------------------------
// Golden cases

/** The tool's logic over a case's workspace, the I/O done here as the tool does it. */
function runCase(workspace: string): { json: string; index: string } {
  const adrDir = join(workspace, "docs/adr");
  const names = existsSync(adrDir) ? readdirSync(adrDir) : [];
  const files: { file: string; text: string }[] = [];
  for (const file of adrFiles(names)) {
    const path = join(workspace, file);
    if (statSync(path).isDirectory()) continue;
    const text = decodeUtf8(readFileSync(path));
    if (text !== null) files.push({ file, text });
  }
  const r = runOn(files);
  return { json: toJson(r.output) + "\n", index: r.index };
}

const suites: [string, string][] = [
  ["tests/guests/adr_manager/cases", join(here, "../../../../tests/guests/adr_manager/cases")],
];

for (const [label, root] of suites) {
  const cases = existsSync(root) ? readdirSync(root).filter((c) => statSync(join(root, c)).isDirectory()).sort() : [];
  if (cases.length === 0) {
    test(`golden cases in ${label}`, { skip: `NO GOLDEN CASES: ${root} is missing or empty` }, () => {});
    continue;
  }
  for (const c of cases) {
    const dir = join(root, c);
    const expectedJson = join(dir, "expected.json");
    const expectedIndex = join(dir, "expected_index.md");
    const ready = existsSync(expectedJson) && existsSync(expectedIndex);
    test(
      `golden ${label}/${c}`,
      ready ? {} : { skip: `NOT YET GENERATED: ${label}/${c} has no expected.json/expected_index.md` },
      () => {
        const workspace = join(dir, "workspace");
        const got = runCase(workspace);
        assert.equal(got.json, readFileSync(expectedJson, "utf8"), "stdout JSON differs");
        assert.equal(got.index, readFileSync(expectedIndex, "utf8"), "docs/adr/index.md differs");
        // The same through the SDK: the tool itself in the test harness.
        const h = new Harness(tool);
        if (existsSync(workspace)) h.copyIntoWorkspace(workspace);
        assert.equal(h.invokeJson("{}") + "\n", got.json, "the tool's JSON differs from its logic's");
        assert.equal(h.outFile("docs/adr/index.md"), got.index);
      },
    );
  }
}

test("indexMd of manage of nothing", () => {
  const [records, problems] = manage([]);
  assert.equal(indexMd(records, problems), "# Architecture decision records\n\nNo decisions recorded yet.\n");
});
