import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidInput, gateNames, splitEnvelope, wrapEnvelope, type Envelope } from "@taylordash/sdk";

test("split takes only the envelope keys", () => {
  const [env, own] = splitEnvelope({
    backlog: "b.yaml",
    previous: { a: 1 },
    task: { run_id: "r1", attempt: 2 },
    feedback: { failed_gates: [{ gate: "lint", report: { passed: false } }] },
    shared_context: { adr: "x" },
  });
  assert.deepEqual(own, { backlog: "b.yaml" });
  assert.deepEqual(env.previous, { a: 1 });
  assert.deepEqual([env.task?.run_id, env.task?.attempt, env.task?.stage], ["r1", 2, ""]);
  assert.deepEqual(gateNames(env.feedback), ["lint"]);
  assert.deepEqual(env.shared_context, { adr: "x" });
});

test("null keys are absent and a non-object passes through", () => {
  assert.deepEqual(splitEnvelope({ previous: null, x: 1 }), [{}, { x: 1 }]);
  assert.deepEqual(splitEnvelope([1, 2]), [{}, [1, 2]]);
  assert.deepEqual(gateNames(undefined), []);
});

test("a malformed envelope key is invalid input", () => {
  assert.throws(() => splitEnvelope({ feedback: "retry" }), new InvalidInput('envelope: feedback: invalid type: string "retry", expected an object'));
  assert.throws(() => splitEnvelope({ task: { attempt: "2" } }), new InvalidInput('envelope: task.attempt: invalid type: string "2", expected a number'));
});

test("newer task fields are kept, not refused", () => {
  const [env] = splitEnvelope({ task: { run_id: "r", future_field: 1 } });
  assert.equal(env.task?.run_id, "r");
});

test("wrap then split round-trips", () => {
  const env: Envelope = { previous: [1], feedback: { failed_gates: [{ gate: "lint", report: { passed: false } }] } };
  const wrapped = wrapEnvelope({ x: true }, env);
  assert.deepEqual(wrapped, { x: true, previous: [1], feedback: { failed_gates: [{ gate: "lint", report: { passed: false } }] } });
  assert.deepEqual(splitEnvelope(wrapped), [env, { x: true }]);
});

test("an input key __proto__ stays a key, never the prototype", () => {
  const [, own] = splitEnvelope(JSON.parse('{"__proto__": {"polluted": true}, "name": "x"}'));
  assert.deepEqual(Object.keys(own as object), ["__proto__", "name"]);
  assert.equal(Object.getPrototypeOf(own), Object.prototype);
  assert.equal((own as { polluted?: boolean }).polluted, undefined);
});
