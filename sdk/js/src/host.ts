/**
 * The host's imports and the sandbox's two directories, as plain functions.
 *
 * Inside a component they reach the `host` and `exec` imports and the
 * preopened `/workspace` (read-only) and `/out` (read-write, merged into the
 * workspace after a successful call) through `wasi:filesystem`. Natively they
 * reach the `Harness` (`@taylordash/sdk/testing`) running the current call,
 * which captures logs and events and stands in temporary directories. Call
 * them only while a tool runs.
 *
 * Which of the two serves the calls is chosen when the module is resolved:
 * `#host` is `host-wasm.js` under the `taylordash-wasm` condition (the
 * component build bundles with it) and `host-native.js` otherwise (node).
 */

import { backend } from "#host";

/** Where the sandbox preopens the run's workspace, read-only. */
export const WORKSPACE = "/workspace";
/** Where the sandbox preopens the task's fresh staging directory, read-write. */
export const OUT = "/out";

/** Severity of a `log` line (the WIT `level` enum). */
export const Level = {
  Trace: "trace",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
} as const;
export type Level = (typeof Level)[keyof typeof Level];

/** A program to run, with its arguments and optional standard input (the WIT `exec.command`). */
export interface ExecCommand {
  program: string;
  args?: string[];
  stdin?: string;
}

/** A command as the host receives it: every field present (`stdin` undefined when none). */
export interface ExecCall {
  program: string;
  args: string[];
  stdin: string | undefined;
}

/** What a finished program left behind (the WIT `exec.output`). */
export interface ExecOutput {
  status: number;
  stdout: string;
  stderr: string;
}

/** The host refused or could not run the program; `reason` says why. */
export class ExecError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = "ExecError";
    this.reason = reason;
  }
}

/**
 * A filesystem call failed: `code` is the WASI `error-code` (`no-entry`,
 * `access`, `not-permitted`, `read-only`, `is-directory`, ...), the same
 * natively and in the component.
 */
export class FsError extends Error {
  readonly code: string;
  readonly path: string;
  constructor(op: string, path: string, code: string) {
    super(`${op} ${path}: ${code}`);
    this.name = "FsError";
    this.code = code;
    this.path = path;
  }
}

/** What serves the host calls: the component's imports (`host-wasm`) or the running `Harness` (`host-native`). */
export interface Backend {
  log(level: Level, message: string): void;
  emit(topic: string, payload: string): void;
  exec(cmd: ExecCall): ExecOutput;
  /** The bytes of `rel` (already checked) under `root` (`/workspace` or `/out`). */
  read(root: string, rel: string[]): Uint8Array;
  /** The entry names of directory `rel` under `root`. */
  list(root: string, rel: string[]): string[];
  /** Write `data` to `rel` under `root`, parent directories created. */
  write(root: string, rel: string[], data: Uint8Array): void;
}

const LEVELS = new Set<string>(Object.values(Level));

/** Log a line through the host; its bytes count against the log quota. */
export function log(level: Level, message: string): void {
  if (!LEVELS.has(level)) throw new TypeError(`log: unknown level ${JSON.stringify(level)} (use Level.Info, ...)`);
  backend().log(level, String(message));
}

/** Emit an event on the run's bus (`topic` is relative to the run). */
export function emit(topic: string, payload: string): void {
  backend().emit(topic, payload);
}

/** Run a program on the host; throws `ExecError` when the host refused or could not run it. */
function run(cmd: ExecCommand): ExecOutput {
  if (!cmd || typeof cmd.program !== "string") throw new TypeError("exec.run: expects { program, args?, stdin? }");
  return backend().exec({ program: cmd.program, args: [...(cmd.args ?? [])], stdin: cmd.stdin ?? undefined });
}

/**
 * Run a program on the host: the WIT `exec` import. Only programs the host's
 * policy grants run (`taylordash invoke` grants none); any other call throws
 * `ExecError` with the host's reason. Under the test harness `exec` is denied
 * the same way unless the test grants a handler.
 */
export const exec = { run, ExecError };

/** `rel` split into its parts, refusing anything but a relative path inside `base`. */
export function inside(base: string, rel: string, allowRoot = false): string[] {
  if (typeof rel !== "string") throw new TypeError(`expected a path inside ${base}, not ${typeof rel}`);
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (rel.startsWith("/") || rel.includes("\\") || rel.includes("\0") || parts.includes("..") || (!allowRoot && parts.length === 0)) {
    throw new Error(`\`${rel}\` is not a relative path inside ${base}`);
  }
  return parts;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const ENCODER = new TextEncoder();

/** The UTF-8 text of the workspace file `rel` (an `FsError` when it is missing). */
export function readWorkspace(rel: string): string {
  const bytes = readWorkspaceBytes(rel);
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new FsError("read", `${WORKSPACE}/${inside(WORKSPACE, rel).join("/")}`, "illegal-byte-sequence");
  }
}

/** The bytes of the workspace file `rel`. */
export function readWorkspaceBytes(rel: string): Uint8Array {
  return backend().read(WORKSPACE, inside(WORKSPACE, rel));
}

/** The names in the workspace directory `relDir` (`""` or `"."` for the top), sorted. */
export function listWorkspace(relDir = ""): string[] {
  return backend().list(WORKSPACE, inside(WORKSPACE, relDir, true)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Write `data` (text as UTF-8) to `/out/<rel>`, parent directories created;
 * returns the path as the tool sees it. The host merges `/out` into the
 * workspace only after `run` succeeds; on an error the files are discarded.
 */
export function writeOut(rel: string, data: string | Uint8Array): string {
  const parts = inside(OUT, rel);
  backend().write(OUT, parts, typeof data === "string" ? ENCODER.encode(data) : data);
  return `${OUT}/${parts.join("/")}`;
}
