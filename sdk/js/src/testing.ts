/**
 * A native test harness: run a tool under node's test runner, without wasm.
 *
 * The harness stands in for the sandbox: temporary directories replace
 * `/workspace` and `/out`, `log` and `emit` are captured, and `exec` is
 * denied unless the test grants a handler, as the host denies it without a
 * grant. Input goes through JSON text exactly as the host sends it, so a
 * parse error reads as the component's would.
 *
 *     import { test } from "node:test";
 *     import assert from "node:assert/strict";
 *     import { Harness } from "@taylordash/sdk/testing";
 *     import hello from "../src/hello.ts";
 *
 *     test("greets", () => {
 *       const h = new Harness(hello);
 *       assert.deepEqual(h.invoke({ name: "Ada" }), { greeting: "Hello, Ada!" });
 *       assert.throws(() => h.invoke({}), { name: "InvalidInput", message: "missing field `name`" });
 *     });
 *
 * An error other than a `ToolError` propagates as it is (the component
 * returns it as `failed`), so a test sees the real stack.
 */

import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { z } from "zod";
import { wrapEnvelope, type Envelope } from "./envelope.js";
import { ExecError, FsError, type Backend, type ExecCall, type ExecOutput, type Level } from "./host.js";
import { runWith } from "./host-native.js";
import { parseJson } from "./schema.js";
import { invoke, type AnyTool, type Context, type ToolInfo } from "./tool.js";

/** Answers a granted `exec` call; throw `ExecError` to refuse one. */
export type ExecHandler = (cmd: ExecCall) => ExecOutput;

/** What `Harness.invoke` returns: the parsed output, or a promise of it when `run` is async. */
export type InvokeResult<T extends AnyTool> = T["run"] extends (...args: never[]) => infer R
  ? R extends PromiseLike<unknown>
    ? Promise<z.output<T["output"]>>
    : z.output<T["output"]>
  : never;

/** What `Harness.invokeJson` returns: JSON text, or a promise of it when `run` is async. */
export type InvokeJsonResult<T extends AnyTool> = T["run"] extends (...args: never[]) => infer R
  ? R extends PromiseLike<unknown>
    ? Promise<string>
    : string
  : never;

export interface InvokeOptions {
  /** Envelope keys to send beside the input (`previous`, `task`, `feedback`, `shared_context`). */
  envelope?: Envelope;
  /** Context fields (`runId`, `attempt`, ...); the rest are empty. */
  ctx?: Partial<Omit<Context, "envelope">>;
}

const ERRNO: Record<string, string> = {
  ENOENT: "no-entry",
  EACCES: "access",
  EPERM: "not-permitted",
  EISDIR: "is-directory",
  ENOTDIR: "not-directory",
  EEXIST: "exist",
  EROFS: "read-only",
  ENOTEMPTY: "not-empty",
  ENAMETOOLONG: "name-too-long",
  ELOOP: "loop",
  ENOSPC: "insufficient-space",
};

const live = new Set<Harness<AnyTool>>();
let cleanupHooked = false;

/** One sandbox stand-in per test; host calls during `invoke` go to it. */
export class Harness<T extends AnyTool = AnyTool> {
  readonly tool: T;
  /** The directory standing in for `/workspace`. */
  readonly workspace: string;
  /** The directory standing in for `/out`. */
  readonly out: string;
  /** `[level, message]` for every `log` call, in order. */
  readonly logs: Array<[Level, string]> = [];
  /** `[topic, payload]` for every `emit` call, in order. */
  readonly events: Array<[string, string]> = [];
  /** Every `exec.run` call, granted or not. */
  readonly execCalls: Array<ExecCall> = [];
  #exec: ExecHandler | undefined;
  #base: string;

  constructor(tool: T) {
    if (!tool || typeof tool !== "object" || typeof (tool as AnyTool).run !== "function" || !(tool as AnyTool).info) {
      throw new TypeError("Harness: expects a tool made by defineTool(...) (the tool module's default export)");
    }
    this.tool = tool;
    this.#base = mkdtempSync(join(tmpdir(), "taylordash-harness-"));
    this.workspace = join(this.#base, "workspace");
    this.out = join(this.#base, "out");
    mkdirSync(this.workspace);
    mkdirSync(this.out);
    live.add(this as Harness<AnyTool>);
    if (!cleanupHooked) {
      cleanupHooked = true;
      process.once("exit", () => {
        for (const h of live) h.close();
      });
    }
  }

  /** What the component's `describe` returns. */
  describe(): ToolInfo {
    return this.tool.info;
  }

  /** Put a file into the workspace (parents created); returns its host path. */
  writeWorkspace(rel: string, contents: string | Uint8Array): string {
    const path = join(this.workspace, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, contents);
    return path;
  }

  /** Copy the directory tree `src` (e.g. a checked-in fixture) into the workspace. */
  copyIntoWorkspace(src: string): void {
    cpSync(src, this.workspace, { recursive: true });
  }

  /** The text of a file the tool wrote into `/out`. */
  outFile(rel: string): string {
    return readFileSync(join(this.out, rel), "utf8");
  }

  /** Grant `exec`: `handler(cmd)` answers each call (throw `ExecError` to refuse one). */
  grantExec(handler: ExecHandler): void {
    this.#exec = handler;
  }

  /**
   * Invoke the tool with `input` (a plain value; the envelope's keys are added
   * beside it) and return the output as the output schema parses it, or throw
   * the `ToolError`. A promise when the tool's `run` is async.
   */
  invoke(input: unknown, options: InvokeOptions = {}): InvokeResult<T> {
    let value = input;
    if (options.envelope) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new TypeError("Harness.invoke: the input must be an object to carry an envelope");
      }
      value = wrapEnvelope(value as Record<string, unknown>, options.envelope);
    }
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError("Harness.invoke: the input is not JSON");
    const out = this.invokeJson(text, { ctx: options.ctx }) as string | Promise<string>;
    const parse = (t: string) => parseJson(this.tool.output, JSON.parse(t));
    return (typeof out === "string" ? parse(out) : out.then(parse)) as InvokeResult<T>;
  }

  /** Invoke the tool with raw JSON text; returns its raw JSON output. */
  invokeJson(text: string, options: Pick<InvokeOptions, "ctx"> = {}): InvokeJsonResult<T> {
    return runWith(this.#backend, () => invoke(this.tool, text, options.ctx)) as InvokeJsonResult<T>;
  }

  /** Remove the temporary directories (also done when the process exits). */
  close(): void {
    live.delete(this as Harness<AnyTool>);
    rmSync(this.#base, { recursive: true, force: true });
  }

  // The backend the host functions call while `invoke` runs.
  #backend: Backend = {
    log: (level, message) => {
      this.logs.push([level, message]);
    },
    emit: (topic, payload) => {
      this.events.push([topic, payload]);
    },
    exec: (cmd) => {
      const call: ExecCall = { program: cmd.program, args: [...cmd.args], stdin: cmd.stdin };
      this.execCalls.push(call);
      if (!this.#exec) throw new ExecError(`exec denied: the tool has no exec grant (program \`${cmd.program}\`)`);
      return this.#exec({ ...call, args: [...call.args] });
    },
    read: (root, rel) => this.#fs("read", root, rel, (p) => new Uint8Array(readFileSync(p))),
    list: (root, rel) => this.#fs("list", root, rel, (p) => readdirSync(p)),
    write: (root, rel, data) => {
      if (root !== "/out") throw new FsError("write", `${root}/${rel.join("/")}`, "read-only");
      this.#fs("write", root, rel, (p) => {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, data);
      });
    },
  };

  #fs<R>(op: string, root: string, rel: string[], f: (hostPath: string) => R): R {
    const dir = root === "/workspace" ? this.workspace : this.out;
    try {
      return f(join(dir, ...rel));
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno) throw new FsError(op, rel.length ? `${root}/${rel.join("/")}` : root, ERRNO[errno] ?? errno.toLowerCase());
      throw e;
    }
  }
}
