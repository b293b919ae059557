// Native tests of `{{name}}`: node's test runner, no wasm (the SDK's Harness stands in for the sandbox).
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidInput, Level } from "@taylordash/sdk";
import { Harness } from "@taylordash/sdk/testing";
import tool from "../src/{{name}}.ts";

test("greets", () => {
  const h = new Harness(tool);
  assert.deepEqual(h.invoke({ name: "Ada" }), { greeting: "Hello, Ada!" });
  assert.deepEqual(h.logs, [[Level.Info, "greeting Ada"]]);
});

test("the output is the JSON the host prints", () => {
  assert.equal(new Harness(tool).invokeJson('{"name":"Ada"}'), '{"greeting":"Hello, Ada!"}');
});

test("bad input names the field", () => {
  const h = new Harness(tool);
  assert.throws(() => h.invoke({}), new InvalidInput("missing field `name`"));
  assert.throws(() => h.invoke({ name: " " }), new InvalidInput("name: must not be empty"));
});
