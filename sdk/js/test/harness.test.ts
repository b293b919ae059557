import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  ExecError,
  FsError,
  InvalidInput,
  Level,
  defineTool,
  emit,
  exec,
  listWorkspace,
  log,
  readWorkspace,
  writeOut,
  z,
} from "@taylordash/sdk";
import { Harness } from "@taylordash/sdk/testing";

const files = defineTool({
  name: "files",
  description: "Copies a workspace file into /out, upper-cased, and lists what it saw.",
  input: z.object({ file: z.string(), run: z.boolean().default(false) }),
  output: z.object({ listed: z.array(z.string()), wrote: z.string(), stdout: z.string(), attempt: z.number(), previous: z.unknown() }),
  run(input, ctx) {
    const text = readWorkspace(input.file);
    const wrote = writeOut(`copies/${input.file}`, text.toUpperCase());
    log(Level.Info, `copied ${input.file}`);
    emit("progress", JSON.stringify({ file: input.file }));
    const stdout = input.run ? exec.run({ program: "wc", args: ["-c"], stdin: text }).stdout : "";
    return { listed: listWorkspace(), wrote, stdout, attempt: ctx.attempt, previous: ctx.envelope.previous ?? null };
  },
});

test("files, logs, events and the context go through the harness", () => {
  const h = new Harness(files);
  h.writeWorkspace("b.txt", "bee\n");
  h.writeWorkspace("a.txt", "ay\n");
  h.writeWorkspace("sub/c.txt", "sea\n");
  const out = h.invoke({ file: "a.txt" }, { envelope: { previous: { n: 1 } }, ctx: { attempt: 2 } });
  assert.deepEqual(out, { listed: ["a.txt", "b.txt", "sub"], wrote: "/out/copies/a.txt", stdout: "", attempt: 2, previous: { n: 1 } });
  assert.equal(h.outFile("copies/a.txt"), "AY\n");
  assert.deepEqual(h.logs, [[Level.Info, "copied a.txt"]]);
  assert.deepEqual(h.events, [["progress", '{"file":"a.txt"}']]);
  assert.ok(!existsSync(join(h.workspace, "copies")), "writeOut never writes the workspace");
  h.close();
  assert.ok(!existsSync(h.workspace));
});

test("exec is denied until granted, and every call is recorded", () => {
  const h = new Harness(files);
  h.writeWorkspace("a.txt", "ay\n");
  assert.throws(() => h.invoke({ file: "a.txt", run: true }), new ExecError("exec denied: the tool has no exec grant (program `wc`)"));
  h.grantExec((cmd) => ({ status: 0, stdout: `${cmd.stdin?.length} bytes`, stderr: "" }));
  assert.equal(h.invoke({ file: "a.txt", run: true }).stdout, "3 bytes");
  assert.deepEqual(h.execCalls, [
    { program: "wc", args: ["-c"], stdin: "ay\n" },
    { program: "wc", args: ["-c"], stdin: "ay\n" },
  ]);
});

test("a missing file is an FsError with the WASI code and the sandbox path", () => {
  const h = new Harness(files);
  assert.throws(() => h.invoke({ file: "nope.txt" }), (e: unknown) => {
    assert.ok(e instanceof FsError);
    assert.equal(e.code, "no-entry");
    assert.equal(e.message, "read /workspace/nope.txt: no-entry");
    return true;
  });
});

test("paths leaving the sandbox are refused before any file is touched", () => {
  const h = new Harness(files);
  for (const bad of ["../etc/passwd", "/etc/passwd", "a/../../b", ""]) {
    assert.throws(() => h.invoke({ file: bad }), new RegExp(`is not a relative path inside /workspace`), bad);
  }
});

test("invokeJson takes and gives raw JSON; errors of the input are typed", () => {
  const h = new Harness(files);
  h.writeWorkspace("a.txt", "x");
  assert.equal(
    h.invokeJson('{"file":"a.txt","task":{"run_id":"r"}}'),
    '{"listed":["a.txt"],"wrote":"/out/copies/a.txt","stdout":"","attempt":0,"previous":null}',
  );
  assert.throws(() => h.invokeJson('{"file":1}'), new InvalidInput("file: invalid type: integer `1`, expected a string"));
  assert.throws(() => h.invoke([], { envelope: { previous: 1 } }), /must be an object to carry an envelope/);
});

test("describe, and host functions outside a harness call", () => {
  const h = new Harness(files);
  assert.equal(h.describe().name, "files");
  assert.throws(() => log(Level.Info, "x"), /outside a testing Harness call/);
});

test("an async tool gives a promise, and keeps its harness across awaits", async () => {
  const slow = defineTool({
    name: "slow",
    description: "",
    input: z.object({ n: z.number() }),
    output: z.object({ n: z.number() }),
    async run({ n }) {
      await new Promise((r) => setTimeout(r, 5 * n));
      log(Level.Debug, `n=${n}`);
      return { n };
    },
  });
  const a = new Harness(slow);
  const b = new Harness(slow);
  const [x, y] = await Promise.all([a.invoke({ n: 2 }), b.invoke({ n: 1 })]);
  assert.deepEqual([x, y], [{ n: 2 }, { n: 1 }]);
  assert.deepEqual(a.logs, [[Level.Debug, "n=2"]]);
  assert.deepEqual(b.logs, [[Level.Debug, "n=1"]]);
});

test("an error that is not a ToolError propagates as it is", () => {
  const broken = defineTool({
    name: "broken",
    description: "",
    input: z.object({}),
    output: z.object({}),
    run() {
      throw new TypeError("x is not a function");
    },
  });
  assert.throws(() => new Harness(broken).invoke({}), TypeError);
});
