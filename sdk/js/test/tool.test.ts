import assert from "node:assert/strict";
import { test } from "node:test";
import { Failed, InvalidInput, defineTool, describe, invoke, z } from "@taylordash/sdk";

const In = z.object({ n: z.number().int() });
const Out = z.object({ doubled: z.number(), attempt: z.number(), previous: z.array(z.number()).nullable() });

const double = defineTool({
  name: "double",
  description: "Doubles a number.",
  input: In,
  output: Out,
  run(input, ctx) {
    // returned in another order than the schema's: the output follows the schema
    return { previous: (ctx.envelope.previous as number[] | undefined) ?? null, attempt: ctx.attempt, doubled: input.n * 2 };
  },
});

test("describe: name, default version, description and both schemas", () => {
  const info = describe(double);
  assert.deepEqual([info.name, info.version, info.description], ["double", "0.1.0", "Doubles a number."]);
  assert.deepEqual(JSON.parse(info.inputSchema).required, ["n"]);
  assert.deepEqual(JSON.parse(info.outputSchema).properties.previous, { anyOf: [{ type: "array", items: { type: "number" } }, { type: "null" }] });
});

test("invoke splits the envelope, passes the context, answers compact JSON in schema order", () => {
  const text = invoke(double, '{"n": 21, "previous": [1]}', { attempt: 3 });
  assert.equal(text, '{"doubled":42,"attempt":3,"previous":[1]}');
});

test("malformed JSON is invalid input", () => {
  assert.throws(() => invoke(double, "nope"), InvalidInput);
  assert.throws(() => invoke(double, '{"n": 1} {}'), InvalidInput);
});

test("an output the schema refuses, or no JSON at all, is failed", () => {
  const wrong = defineTool({ name: "wrong", description: "", input: In, output: Out, run: () => ({ doubled: 1 }) as never });
  assert.throws(() => invoke(wrong, '{"n": 1}'), new Failed("wrong.run returned an output its schema refuses: missing field `attempt`"));
  const nothing = defineTool({ name: "nothing", description: "", input: In, output: z.unknown(), run: () => undefined });
  assert.throws(() => invoke(nothing, '{"n": 1}'), new Failed("cannot serialise the output: it is not JSON (undefined)"));
  const big = defineTool({ name: "big", description: "", input: In, output: z.unknown(), run: () => ({ n: 1n }) });
  assert.throws(() => invoke(big, '{"n": 1}'), (e: unknown) => e instanceof Failed && e.message.startsWith("cannot serialise the output: "));
});

test("an async run gives a promise of the same text", async () => {
  const later = defineTool({
    name: "later",
    description: "",
    input: In,
    output: z.object({ n: z.number() }),
    async run(input) {
      await new Promise((r) => setTimeout(r, 1));
      return { n: input.n + 1 };
    },
  });
  const out = invoke(later, '{"n": 1}');
  assert.ok(out instanceof Promise);
  assert.equal(await out, '{"n":2}');
});

test("malformed tools are refused when defined", () => {
  assert.throws(() => defineTool({ name: "", description: "", input: In, output: Out, run: () => ({}) as never }), /has no `name`/);
  assert.throws(() => defineTool({ name: "x", description: "", input: {} as never, output: Out, run: () => ({}) as never }), /`input` is not a zod schema/);
  assert.throws(
    () => defineTool({ name: "reserved", description: "", input: z.object({ previous: z.string() }), output: Out, run: () => ({}) as never }),
    /input field `previous` is an envelope key \(task, previous, feedback, shared_context\); read it from ctx.envelope/,
  );
  assert.throws(
    () => defineTool({ name: "dated", description: "", input: In, output: z.object({ at: z.date() }), run: () => ({ at: new Date() }) }),
    /no JSON Schema for the output/,
  );
});

test("the chunked serialiser for outputs JSON.stringify cannot hold writes the same JSON", async () => {
  const { stringifyLarge } = await import("../dist/tool.js");
  const pair = "\u{1F600}";
  const long = "a".repeat((1 << 20) - 1) + pair + 'q"\\\n\u0001' + "é".repeat(1 << 20) + "\ud800" + "z";
  for (const v of [long, { s: long, n: [1, null, true, 2.5, undefined], d: new Date(0), u: undefined }, [long, {}], "short", 3, null]) {
    assert.equal(stringifyLarge(v), JSON.stringify(v));
  }
});
