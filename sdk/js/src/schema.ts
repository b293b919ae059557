/**
 * JSON values checked against zod schemas, with serde's wording; and the
 * JSON Schemas `describe` returns.
 *
 * `parseJson(schema, value)` refuses unknown keys in every plain `z.object`
 * (as the Python SDK's dataclasses and the Rust SDK's
 * `#[serde(deny_unknown_fields)]` do); a `z.looseObject` (or `.loose()`,
 * `.passthrough()`) keeps them and a `.catchall(T)` checks them. An error is
 * an `InvalidInput` naming the path of the offending value, the first one
 * in field order: `items[2].title: invalid type: integer \`3\`, expected a string`,
 * `items[2]: missing field \`title\``, `unknown field \`nme\`, expected \`name\``.
 *
 * `jsonSchema(schema, io)` is zod's draft 2020-12 JSON Schema, with
 * `additionalProperties: false` on the plain objects that refuse unknown keys.
 */

import { z } from "zod";
import { InvalidInput } from "./errors.js";

type Json = unknown;
type Issue = z.core.$ZodIssue;
type Def = { type: string; [k: string]: unknown };

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `items[2].title` from `["items", 2, "title"]`; `""` for the root. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** serde's wording for what was found: ``integer `3` ``, `string "x"`, `map`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "boolean") return `boolean \`${v}\``;
  if (typeof v === "number") return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (Array.isArray(v)) return "sequence";
  return "map";
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  bigint: "an integer",
  array: "a list",
  tuple: "a list",
  object: "an object",
  record: "an object",
  map: "an object",
  null: "null",
  undefined: "nothing",
  nonoptional: "a value",
};

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

function oneOf(values: readonly unknown[]): string {
  return values.map((v) => `\`${typeof v === "string" ? v : JSON.stringify(v)}\``).join(", ");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, p)) {
      return { found: false, value: undefined };
    }
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return { found: true, value: cur };
}

function messageOf(issue: Issue, root: unknown): { path: readonly PropertyKey[]; message: string } {
  const path = issue.path;
  // A key the object lacks: serde's "missing field" at the object's path.
  if (path.length > 0) {
    const parentPath = path.slice(0, -1);
    const parent = valueAt(root, parentPath);
    const key = path[path.length - 1];
    if (parent.found && isPlainObject(parent.value) && typeof key === "string" && !Object.prototype.hasOwnProperty.call(parent.value, key)) {
      return { path: parentPath, message: `missing field \`${key}\`` };
    }
  }
  const found = valueAt(root, path);
  const value = found.found ? found.value : (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      return { path, message: `invalid type: ${describeValue(value)}, expected ${expectedName(issue.expected)}` };
    case "invalid_value":
      return {
        path,
        message: issue.values.length === 1
          ? `invalid value: ${describeValue(value)}, expected ${oneOf(issue.values)}`
          : `invalid value: ${describeValue(value)}, expected one of ${oneOf(issue.values)}`,
      };
    case "invalid_union": {
      const firsts = issue.errors.map((branch) => branch[0]);
      if (firsts.length > 0 && firsts.every((i) => i?.code === "invalid_type" && i.path.length === 0)) {
        const names = [...new Set(firsts.map((i) => expectedName((i as z.core.$ZodIssueInvalidType).expected)))];
        return { path, message: `invalid type: ${describeValue(value)}, expected ${names.join(" or ")}` };
      }
      // One branch got furthest: report its first issue, for a tagged union's fields.
      const deepest = issue.errors.map((b) => b[0]).filter((i): i is Issue => !!i).sort((a, b) => b.path.length - a.path.length)[0];
      if (deepest && deepest.path.length > 0) {
        const inner = messageOf({ ...deepest, path: [...path, ...deepest.path] } as Issue, root);
        return inner;
      }
      return { path, message: `invalid input: ${describeValue(value)} matches none of the allowed shapes` };
    }
    case "unrecognized_keys":
      return { path, message: `unknown field \`${issue.keys[0]}\`` };
    default:
      return { path, message: issue.message };
  }
}

/** The serde-style message of a zod issue, its path first (`items[2].title: ...`). */
export function formatIssue(issue: Issue, root: unknown): string {
  const { path, message } = messageOf(issue, root);
  const where = formatPath(path);
  return where ? `${where}: ${message}` : message;
}

/** Whether a `z.object` refuses keys it does not declare (plain and strict objects do). */
function refusesUnknown(def: Def): boolean {
  const catchall = defOf(def.catchall);
  return catchall === undefined || catchall.type === "never";
}

/**
 * The first unknown key in `value` that `schema` refuses, as an error message,
 * or `undefined`. Follows the value: arrays, records, optional and nullable
 * wrappers, pipes, lazy schemas and the union branch the value matches.
 */
export function unknownKey(schema: unknown, value: Json, path: PropertyKey[] = []): string | undefined {
  const def = defOf(schema);
  if (!def) return undefined;
  switch (def.type) {
    case "object": {
      if (!isPlainObject(value)) return undefined;
      const shape = def.shape as Record<string, unknown>;
      const known = Object.keys(shape);
      if (refusesUnknown(def)) {
        const unknown = Object.keys(value).find((k) => !Object.prototype.hasOwnProperty.call(shape, k));
        if (unknown !== undefined) {
          const expected = known.length === 0 ? "no fields" : (known.length > 1 ? "one of " : "") + oneOf(known);
          const where = formatPath(path);
          const message = `unknown field \`${unknown}\`, expected ${expected}`;
          return where ? `${where}: ${message}` : message;
        }
      }
      for (const k of known) {
        if (Object.prototype.hasOwnProperty.call(value, k)) {
          const found = unknownKey(shape[k], value[k], [...path, k]);
          if (found) return found;
        }
      }
      return undefined;
    }
    case "array":
      if (!Array.isArray(value)) return undefined;
      for (let i = 0; i < value.length; i++) {
        const found = unknownKey(def.element, value[i], [...path, i]);
        if (found) return found;
      }
      return undefined;
    case "tuple": {
      if (!Array.isArray(value)) return undefined;
      const items = def.items as unknown[];
      for (let i = 0; i < value.length; i++) {
        const found = unknownKey(i < items.length ? items[i] : def.rest, value[i], [...path, i]);
        if (found) return found;
      }
      return undefined;
    }
    case "record":
      if (!isPlainObject(value)) return undefined;
      for (const [k, v] of Object.entries(value)) {
        const found = unknownKey(def.valueType, v, [...path, k]);
        if (found) return found;
      }
      return undefined;
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
    case "catch":
      if (value === undefined || value === null) return undefined;
      return unknownKey(def.innerType, value, path);
    case "pipe":
      return unknownKey(def.in, value, path);
    case "lazy":
      return unknownKey((def.getter as () => unknown)(), value, path);
    case "union": {
      for (const option of def.options as z.ZodType[]) {
        if (option.safeParse(value).success) return unknownKey(option, value, path);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * `value` (as `JSON.parse` gives it) checked and built by `schema`; throws an
 * `InvalidInput` naming the first offending path (`prefix: ` before it, if given).
 */
export function parseJson<S extends z.ZodType>(schema: S, value: Json, prefix = ""): z.output<S> {
  const unknown = unknownKey(schema, value);
  if (unknown) throw new InvalidInput(prefix + unknown);
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) {
    const issues = result.error.issues;
    throw new InvalidInput(prefix + (issues.length ? formatIssue(issues[0]!, value) : result.error.message));
  }
  return result.data;
}

/** The first problem `schema` finds in `value`, formatted, or `undefined` (no throw). */
export function checkJson(schema: z.ZodType, value: Json): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: parseJson(schema, value) };
  } catch (e) {
    if (e instanceof InvalidInput) return { ok: false, message: e.message };
    throw e;
  }
}

/**
 * The draft 2020-12 JSON Schema of `schema` as `describe` returns it: `io`
 * "input" for the input (defaults optional), "output" for the output. Plain
 * objects say `additionalProperties: false`, as the parser refuses unknown keys.
 */
export function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    override(ctx) {
      const def = defOf(ctx.zodSchema);
      const js = ctx.jsonSchema as Record<string, unknown>;
      if (def?.type === "object" && refusesUnknown(def) && js.additionalProperties === undefined) {
        js.additionalProperties = false;
      }
    },
  }) as Record<string, unknown>;
}
