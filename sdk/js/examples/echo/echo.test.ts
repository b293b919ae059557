import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidInput } from "@taylordash/sdk";
import { Harness } from "@taylordash/sdk/testing";
import echo from "./echo.ts";

test("returns its input unchanged", () => {
  const doc = { job: "bench", id: 42, tags: ["peer", "echo"], payload: { text: "é", n: 3.5, none: null } };
  assert.deepEqual(new Harness(echo).invoke(doc), doc);
});

test("a non-object is invalid input", () => {
  assert.throws(() => new Harness(echo).invoke([1, 2]), InvalidInput);
});
