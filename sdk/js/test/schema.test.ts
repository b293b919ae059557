import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidInput, jsonSchema, parseJson, z } from "@taylordash/sdk";

const Item = z.object({ title: z.string().describe("The title."), n: z.number().int().optional() });
const Input = z.object({
  items: z.array(Item),
  kind: z.enum(["a", "b"]).default("a"),
  tags: z.record(z.string(), z.number()).optional(),
  either: z.union([z.string(), z.number()]).optional(),
  extra: z.looseObject({ keep: z.boolean() }).optional(),
});

function fails(value: unknown, message: string, schema: z.ZodType = Input) {
  assert.throws(() => parseJson(schema, value), (e: unknown) => {
    assert.ok(e instanceof InvalidInput, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

describe("JSON Schema", () => {
  test("is draft 2020-12 with descriptions, required keys and no unknown keys", () => {
    const s = jsonSchema(Input, "input") as any;
    assert.equal(s.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.equal(s.type, "object");
    assert.deepEqual(s.required, ["items"]);
    assert.equal(s.additionalProperties, false);
    assert.equal(s.properties.items.items.additionalProperties, false);
    assert.deepEqual(s.properties.items.items.properties.title, { type: "string", description: "The title." });
    assert.deepEqual(s.properties.kind, { default: "a", type: "string", enum: ["a", "b"] });
  });

  test("a loose object allows unknown keys", () => {
    const s = jsonSchema(Input, "input") as any;
    assert.deepEqual(s.properties.extra.additionalProperties, {});
  });

  test("the output side lists defaulted keys as required", () => {
    const s = jsonSchema(Input, "output") as any;
    assert.deepEqual(s.required, ["items", "kind"]);
  });
});

describe("parsing", () => {
  test("builds the value, defaults filled, in the schema's key order", () => {
    const v = parseJson(Input, { tags: { x: 1 }, items: [{ title: "t" }] });
    assert.deepEqual(v, { items: [{ title: "t" }], kind: "a", tags: { x: 1 } });
    assert.deepEqual(Object.keys(v), ["items", "kind", "tags"]);
  });

  test("a missing field is named at its object's path", () => {
    fails({}, "missing field `items`");
    fails({ items: [{ title: "a" }, { title: "b" }, {}] }, "items[2]: missing field `title`");
  });

  test("a wrong type names the path, what was found and what was expected", () => {
    fails({ items: [{ title: 3 }] }, "items[0].title: invalid type: integer `3`, expected a string");
    fails({ items: [{ title: "t", n: 1.5 }] }, "items[0].n: invalid type: floating point `1.5`, expected an integer");
    fails({ items: "x" }, 'items: invalid type: string "x", expected a list');
    fails({ items: [], tags: { a: "1" } }, 'tags.a: invalid type: string "1", expected a number');
    fails([1], "invalid type: sequence, expected an object");
    fails({ items: [], either: true }, "either: invalid type: boolean `true`, expected a string or a number");
  });

  test("a value outside an enum lists the allowed ones", () => {
    fails({ items: [], kind: "c" }, 'kind: invalid value: string "c", expected one of `a`, `b`');
  });

  test("unknown keys are refused, nested too, unless the object is loose", () => {
    fails({ items: [], nope: 1 }, "unknown field `nope`, expected one of `items`, `kind`, `tags`, `either`, `extra`");
    fails({ items: [{ title: "t", titel: "x" }] }, "items[0]: unknown field `titel`, expected one of `title`, `n`");
    fails({ x: 1 }, "unknown field `x`, expected no fields", z.object({}));
    assert.deepEqual(parseJson(Input, { items: [], extra: { keep: true, more: 1 } }).extra, { keep: true, more: 1 });
  });

  test("the unknown key inside the union branch that matches", () => {
    const U = z.union([z.object({ a: z.string() }), z.object({ b: z.number() })]);
    fails({ b: 1, c: 2 }, "unknown field `c`, expected `b`", U);
  });

  test("checks from zod keep zod's words", () => {
    fails({ s: "" }, "s: Too small: expected string to have >=1 characters", z.object({ s: z.string().min(1) }));
  });
});
