/**
 * `defineTool` and what the SDK does around `run`.
 *
 * A tool is `defineTool({ name, version, description, input, output, run })`
 * with zod schemas for the input and output; the schemas are the contract.
 * `describe` returns their JSON Schemas; `invoke` takes the envelope out of
 * the input, parses the rest with the input schema (an `InvalidInput` names
 * the offending field), runs, checks the result with the output schema and
 * serialises it as compact JSON in the schema's key order. The module's
 * default export is the tool the component exports (`export default defineTool(...)`).
 */

import type { z } from "zod";
import { ENVELOPE_KEYS, splitEnvelope, type Envelope } from "./envelope.js";
import { Failed, InvalidInput } from "./errors.js";
import { checkJson, jsonSchema, parseJson } from "./schema.js";

/** Who is calling, where the call sits in a run's trace, and the envelope. */
export interface Context {
  runId: string;
  taskId: string;
  agentId: string;
  traceId: string;
  spanId: string;
  attempt: number;
  /** The envelope keys taken out of the input before it was parsed. */
  envelope: Envelope;
}

/** What the `describe` export returns; the schemas are JSON text. */
export interface ToolInfo {
  name: string;
  version: string;
  description: string;
  inputSchema: string;
  outputSchema: string;
}

/** What `run` may return: the output, or a promise of it. */
export type RunResult<O extends z.ZodType> = z.input<O> | Promise<z.input<O>>;

/** What the author writes. */
export interface ToolSpec<I extends z.ZodType, O extends z.ZodType, R extends RunResult<O>> {
  /** The tool's name as pipelines and the CLI refer to it. */
  name: string;
  /** Defaults to "0.1.0". */
  version?: string;
  /** One sentence for `taylordash plugins inspect`. */
  description: string;
  /** The input's schema; a plain `z.object` refuses unknown keys (`z.looseObject` allows them). */
  input: I;
  /** The output's schema; `run`'s result is checked against it and serialised in its key order. */
  output: O;
  /**
   * The tool. Throw `InvalidInput`, `Failed` or `Retryable` to fail a call;
   * anything else thrown becomes `failed` with its stack logged. May be
   * `async` (the component runs its event loop until the promise settles).
   */
  run(input: z.output<I>, ctx: Context): R;
}

const TOOL = Symbol.for("taylordash.tool");

/** A checked tool, as `defineTool` returns it. */
export interface Tool<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, R extends RunResult<O> = RunResult<O>>
  extends Readonly<Required<ToolSpec<I, O, R>>> {
  /** What `describe` returns, computed once when the tool is defined. */
  readonly info: ToolInfo;
  readonly [TOOL]: true;
}

/** Any tool, whatever its schemas. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTool = Tool<any, any, any>;

/** Whether `v` is a tool `defineTool` made (also by another copy of the SDK). */
export function isTool(v: unknown): v is AnyTool {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[TOOL] === true;
}

function shapeKeys(schema: z.ZodType): string[] {
  const def = (schema as unknown as { _zod: { def: { type: string; shape?: Record<string, unknown> } } })._zod.def;
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/**
 * Check a tool and compute its `describe` at once, so a malformed one fails
 * when its module loads (in the component build too) rather than at the first call.
 */
export function defineTool<I extends z.ZodType, O extends z.ZodType, R extends RunResult<O>>(spec: ToolSpec<I, O, R>): Tool<I, O, R> {
  const where = `taylordash-sdk: tool ${spec?.name ? `\`${spec.name}\`` : "(unnamed)"}`;
  if (!spec || typeof spec !== "object") throw new TypeError("taylordash-sdk: defineTool({ name, description, input, output, run })");
  if (typeof spec.name !== "string" || !spec.name) throw new TypeError(`${where} has no \`name\``);
  for (const role of ["input", "output"] as const) {
    const s = spec[role] as unknown as { safeParse?: unknown } | undefined;
    if (!s || typeof s.safeParse !== "function") throw new TypeError(`${where}: \`${role}\` is not a zod schema`);
  }
  if (typeof spec.run !== "function") throw new TypeError(`${where}: \`run(input, ctx)\` is not a function`);
  const reserved = shapeKeys(spec.input).filter((k) => (ENVELOPE_KEYS as readonly string[]).includes(k));
  if (reserved.length) {
    throw new TypeError(`${where}: input field \`${reserved[0]}\` is an envelope key (${ENVELOPE_KEYS.join(", ")}); read it from ctx.envelope`);
  }
  const schemaText = (role: "input" | "output") => {
    try {
      return JSON.stringify(jsonSchema(spec[role], role));
    } catch (e) {
      throw new TypeError(`${where}: no JSON Schema for the ${role}: ${(e as Error).message}`);
    }
  };
  const info: ToolInfo = {
    name: spec.name,
    version: spec.version ?? "0.1.0",
    description: spec.description ?? "",
    inputSchema: schemaText("input"),
    outputSchema: schemaText("output"),
  };
  return Object.freeze({
    name: spec.name,
    version: info.version,
    description: info.description,
    input: spec.input,
    output: spec.output,
    run: (input: z.output<I>, ctx: Context): R => spec.run(input, ctx),
    info,
    [TOOL]: true as const,
  });
}

/** The `describe` export for a tool. */
export function describe(tool: AnyTool): ToolInfo {
  return tool.info;
}

/** A context with every field empty, as `taylordash invoke` sends when given none. */
export function emptyContext(): Context {
  return { runId: "", taskId: "", agentId: "", traceId: "", spanId: "", attempt: 0, envelope: {} };
}

const CHUNK = 1 << 20;

/**
 * Whether `JSON.stringify(c)` is `c` in quotes, found without copying `c` when
 * it can be: `encodeURI` returns its argument itself when no character needs
 * escaping (a native scan; a URI-safe character never needs JSON escaping).
 */
function quoteChunk(c: string): string {
  try {
    if (encodeURI(c) === c) return c;
  } catch {
    // a lone surrogate: JSON.stringify escapes it
  }
  const quoted = JSON.stringify(c);
  return quoted.length === c.length + 2 ? c : quoted.slice(1, -1);
}

/**
 * `JSON.stringify(s)`, a chunk at a time for a long string. A chunk with
 * nothing to escape is kept as a slice (it shares the string's characters),
 * so the only copy is the final join.
 */
function quoteLarge(s: string): string {
  if (s.length <= CHUNK) return JSON.stringify(s);
  const parts = ['"'];
  for (let i = 0; i < s.length; ) {
    let j = Math.min(i + CHUNK, s.length);
    const last = s.charCodeAt(j - 1);
    if (j < s.length && last >= 0xd800 && last <= 0xdbff) j++; // keep a surrogate pair whole
    parts.push(quoteChunk(s.slice(i, j)));
    i = j;
  }
  parts.push('"');
  return parts.join("");
}

/**
 * `JSON.stringify` for plain JSON data, its long strings quoted a chunk at a
 * time: SpiderMonkey on wasm32 reserves six bytes a character to quote a
 * string and refuses one over ~170 M characters ("allocation size overflow"),
 * so a large output would otherwise never reach the host's output quota.
 */
export function stringifyLarge(v: unknown): string | undefined {
  if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
    v = (v as { toJSON: () => unknown }).toJSON();
  }
  if (typeof v === "string") return quoteLarge(v);
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map((x) => stringifyLarge(x) ?? "null").join(",") + "]";
  const fields: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    const text = stringifyLarge(x);
    if (text !== undefined) fields.push(JSON.stringify(k) + ":" + text);
  }
  return "{" + fields.join(",") + "}";
}

function serialise(tool: AnyTool, output: unknown): string {
  const checked = checkJson(tool.output, output);
  if (!checked.ok) throw new Failed(`${tool.name}.run returned an output its schema refuses: ${checked.message}`);
  let text: string | undefined;
  try {
    try {
      text = JSON.stringify(checked.value);
    } catch (e) {
      if (e instanceof TypeError) throw e; // a cycle, a BigInt: not JSON
      text = stringifyLarge(checked.value);
    }
  } catch (e) {
    throw new Failed(`cannot serialise the output: ${(e as Error).message ?? String(e)}`);
  }
  if (text === undefined) throw new Failed("cannot serialise the output: it is not JSON (undefined)");
  return text;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/**
 * The `invoke` export: JSON text in, JSON text out, or a `ToolError` thrown.
 * Synchronous when `run` is; a promise when `run` returns one. Errors other
 * than `ToolError`s propagate as they are (the component turns them into `failed`).
 */
export function invoke(tool: AnyTool, text: string, ctx?: Partial<Omit<Context, "envelope">>): string | Promise<string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidInput((e as Error).message);
  }
  const [envelope, own] = splitEnvelope(value);
  const input = parseJson(tool.input, own);
  const context: Context = { ...emptyContext(), ...ctx, envelope };
  const result = tool.run(input, context);
  if (isThenable(result)) return Promise.resolve(result).then((out) => serialise(tool, out));
  return serialise(tool, result);
}
