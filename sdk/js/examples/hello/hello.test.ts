import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidInput, Level } from "@taylordash/sdk";
import { Harness } from "@taylordash/sdk/testing";
import hello from "./hello.ts";

test("greets by name and logs it", () => {
  const h = new Harness(hello);
  assert.deepEqual(h.invoke({ name: "Ada" }), { greeting: "Hello, Ada!" });
  assert.deepEqual(h.logs, [[Level.Info, "greeting Ada"]]);
});

test("refuses a missing, mistyped, unknown or empty name", () => {
  const h = new Harness(hello);
  assert.throws(() => h.invoke({}), new InvalidInput("missing field `name`"));
  assert.throws(() => h.invoke({ name: 3 }), new InvalidInput("name: invalid type: integer `3`, expected a string"));
  assert.throws(() => h.invoke({ nme: "Ada" }), new InvalidInput("unknown field `nme`, expected `name`"));
  assert.throws(() => h.invoke({ name: "  " }), new InvalidInput("name: must not be empty"));
});

test("describe gives the JSON Schemas", () => {
  const info = new Harness(hello).describe();
  assert.equal(info.name, "hello");
  assert.deepEqual(JSON.parse(info.inputSchema).properties.name, { type: "string", description: "Who to greet." });
  assert.equal(JSON.parse(info.inputSchema).additionalProperties, false);
});
