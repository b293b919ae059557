// The component's export layer, run natively: what `invoke` returns to the
// host for each way a call ends (the WIT result<string, tool-error>).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Failed, InvalidInput, Retryable, defineTool, z } from "@taylordash/sdk";
import { componentExports } from "@taylordash/sdk/component";
import type { Backend } from "../dist/host.js";
import { runWith } from "../dist/host-native.js";

const ctx = { runId: "r", taskId: "t", agentId: "a", traceId: "", spanId: "", attempt: 1 };

const tool = defineTool({
  name: "ends",
  description: "Ends each call the way its input says.",
  input: z.object({ how: z.string() }),
  output: z.object({ ok: z.boolean() }),
  run({ how }) {
    if (how === "invalid") throw new InvalidInput("how: no");
    if (how === "failed") throw new Failed("it broke");
    if (how === "retry") throw new Retryable("later");
    if (how === "type") return (undefined as unknown as { x: number }).x as never;
    if (how === "string") throw "a string";
    if (how === "async") return Promise.resolve({ ok: true });
    if (how === "async-fail") return Promise.reject(new RangeError("too far"));
    return { ok: true };
  },
});

const exportsOf = componentExports(tool);

/** Call the `invoke` export with a backend standing in for the host's imports. */
function call(how: string) {
  const logs: Array<[string, string]> = [];
  const host: Backend = {
    log: (level, message) => void logs.push([level, message]),
    emit() {},
    exec() {
      throw new Error("no exec here");
    },
    read() {
      throw new Error("no files here");
    },
    list: () => [],
    write() {},
  };
  const result = runWith(host, () => exportsOf.invoke(JSON.stringify({ how }), ctx));
  return { logs, result };
}

test("ok and the three typed errors", () => {
  assert.deepEqual(call("fine").result, { tag: "ok", val: '{"ok":true}' });
  assert.deepEqual(call("invalid").result, { tag: "err", val: { tag: "invalid-input", val: "how: no" } });
  assert.deepEqual(call("failed").result, { tag: "err", val: { tag: "failed", val: "it broke" } });
  assert.deepEqual(call("retry").result, { tag: "err", val: { tag: "retryable", val: "later" } });
  assert.deepEqual(call("unknown-key-free").result, { tag: "ok", val: '{"ok":true}' });
});

test("a parse error is invalid-input", () => {
  assert.deepEqual(exportsOf.invoke("{}", ctx), { tag: "err", val: { tag: "invalid-input", val: "missing field `how`" } });
});

test("any other error is failed naming its type, with the stack logged", () => {
  const { logs, result } = call("type");
  const val = (result as { tag: string; val: { tag: string; val: string } }).val;
  assert.equal((result as { tag: string }).tag, "err");
  assert.equal(val.tag, "failed");
  assert.match(val.val, /^TypeError: /);
  assert.equal(logs.length, 1);
  assert.equal(logs[0]![0], "error");
  assert.match(logs[0]![1], /^TypeError: .*\n.*at /s);
  assert.deepEqual(call("string").result, { tag: "err", val: { tag: "failed", val: "thrown string: a string" } });
});

test("an async run settles into the same result", async () => {
  assert.deepEqual(await call("async").result, { tag: "ok", val: '{"ok":true}' });
  assert.deepEqual(await call("async-fail").result, { tag: "err", val: { tag: "failed", val: "RangeError: too far" } });
});

test("describe is the tool's info; a module without a tool is refused", () => {
  assert.equal(exportsOf.describe().name, "ends");
  assert.throws(() => componentExports({}), /export default defineTool/);
});
