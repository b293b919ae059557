/**
 * `adversary_js`: the JavaScript twin of `tests/plugins/adversary` (Rust) and
 * `tests/guests/python/adversary_py.py`. Its input names one attack on the
 * sandbox; it reports what it managed to do, so a host test can assert that
 * every attack is contained in a JavaScript component too.
 *
 * The attacks are written as a naive JavaScript author would write them: the
 * SDK's `readWorkspace`, `writeOut`, `log` and `exec`, and, where the SDK
 * refuses a path before the sandbox sees it, the raw `wasi:filesystem`
 * import the SDK itself uses (StarlingMonkey has no `fs` module), with the
 * path resolved against the preopens the way wasi-libc resolves `open`. There
 * is no error handling: an error reaches the SDK, which returns it as
 * `failed` naming its type, with its stack logged.
 * Build: `sdk/js/build.sh guests` (into `target/test-plugins/adversary_js.wasm`).
 */

import { Failed, InvalidInput, Level, defineTool, exec, log, readWorkspace, writeOut, z } from "@taylordash/sdk";
// @ts-expect-error: a WIT import, resolved by componentize-js inside the component
import { getDirectories } from "wasi:filesystem/preopens@0.2.12";

interface Descriptor {
  openAt(pathFlags: object, path: string, openFlags: object, flags: object): Descriptor;
  read(length: bigint, offset: bigint): [Uint8Array, boolean];
  write(buffer: Uint8Array, offset: bigint): bigint;
  symlinkAt(oldPath: string, newPath: string): void;
}

const Attack = z.looseObject({
  attack: z.string().describe("Which attack to run."),
  port: z.number().int().default(0).describe("A TCP port, for `tcp_connect`."),
  n: z.number().int().min(0).default(0).describe("A count, for attacks that repeat."),
  program: z.string().default("").describe("A program, for `exec`."),
  args: z.array(z.string()).default([]).describe("Its arguments, for `exec`."),
});

/** What the attack managed: any JSON, as the Rust twin returns a `serde_json::Value`. */
const Report = z.unknown();

/** `path` (absolute) as wasi-libc opens it: the longest preopen that prefixes it, and the rest. */
function resolve(path: string): [Descriptor, string] {
  const dirs = getDirectories() as Array<[Descriptor, string]>;
  const match = dirs
    .filter(([, p]) => path === p || path.startsWith(p.endsWith("/") ? p : p + "/"))
    .sort((a, b) => b[1].length - a[1].length)[0];
  if (!match) throw new Error(`${path}: no preopened directory holds it (preopens: ${dirs.map(([, p]) => p).join(", ") || "none"})`);
  return [match[0], path.slice(match[1].length).replace(/^\/+/, "") || "."];
}

function why(e: unknown): string {
  const payload = (e as { payload?: unknown } | null)?.payload;
  return typeof payload === "string" ? payload : e instanceof Error ? e.message : String(e);
}

/** Read `path` through the raw filesystem import, as `fs.readFileSync(path, "utf8")` would. */
function readRaw(path: string): string {
  const [dir, rel] = resolve(path);
  let fd: Descriptor;
  try {
    fd = dir.openAt({ symlinkFollow: true }, rel, {}, { read: true });
  } catch (e) {
    throw new Error(`${path}: ${why(e)}`);
  }
  const [bytes] = fd.read(1n << 20n, 0n);
  return new TextDecoder().decode(bytes);
}

/** Write `text` to `path` through the raw filesystem import, as `fs.writeFileSync` would. */
function writeRaw(path: string, text: string): void {
  const [dir, rel] = resolve(path);
  let fd: Descriptor;
  try {
    fd = dir.openAt({}, rel, { create: true, truncate: true }, { write: true });
  } catch (e) {
    throw new Error(`${path}: ${why(e)}`);
  }
  fd.write(new TextEncoder().encode(text), 0n);
}

/** Try each way to read a file outside the sandbox; the first that works leaks it. */
function leak(path: string, viaSdk: string | undefined): { leaked: string } {
  const refusals: string[] = [];
  if (viaSdk !== undefined) {
    try {
      return { leaked: readWorkspace(viaSdk) };
    } catch (e) {
      refusals.push(`readWorkspace(${JSON.stringify(viaSdk)}): ${why(e)}`);
    }
  }
  try {
    return { leaked: readRaw(path) };
  } catch (e) {
    refusals.push(why(e));
  }
  // And the absolute path straight to every preopen, as a careless binding might pass it.
  for (const [dir, name] of getDirectories() as Array<[Descriptor, string]>) {
    try {
      const fd = dir.openAt({ symlinkFollow: true }, path, {}, { read: true });
      return { leaked: new TextDecoder().decode(fd.read(1n << 20n, 0n)[0]) };
    } catch (e) {
      refusals.push(`${path} from ${name}: ${why(e)}`);
    }
  }
  throw new Error(refusals.join("; "));
}

function recurse(depth: number): number {
  return recurse(depth + 1) + 1;
}

export default defineTool({
  name: "adversary_js",
  version: "0.1.0",
  description: "Attacks the sandbox, one attack per call.",
  input: Attack,
  output: Report,
  run(input) {
    switch (input.attack) {
      case "read_passwd":
        return leak("/etc/passwd", "../../../../etc/passwd");
      case "escape_dotdot":
        return leak("/workspace/../../../../../../etc/passwd", "../../../../../../etc/passwd");
      case "escape_out_dotdot":
        return leak("/out/../../../../../../etc/passwd", undefined);
      case "symlink_escape": {
        const [out] = resolve("/out");
        out.symlinkAt("../../../../../../etc/passwd", "evil");
        return { symlink_created: true, leaked: readRaw("/out/evil") };
      }
      case "write_workspace":
        writeRaw("/workspace/pwned.txt", "pwned");
        return { wrote: true };
      case "write_out":
        writeOut("sub/result.txt", "result");
        return { wrote: ["sub/result.txt"] };
      case "alloc_2gib": {
        const chunks: Uint8Array[] = [];
        while (chunks.length < 32) chunks.push(new Uint8Array(64 << 20).fill(1)); // 2 GiB, 64 MiB at a time
        return { allocated: chunks.reduce((n, c) => n + c.length, 0) };
      }
      case "loop_forever":
        for (;;) {
          // spin
        }
      case "recurse":
        return { depth: recurse(0) };
      case "huge_output":
        return "x".repeat(200 << 20);
      case "log_flood":
        for (let i = 0; i < 10_000_000; i++) log(Level.Info, "x");
        return { logged: 10_000_000 };
      case "log_big": {
        const line = "y".repeat(64 << 10);
        for (let i = 0; i < Math.max(input.n, 1); i++) log(Level.Info, line);
        return { logged: input.n };
      }
      case "read_env": {
        const env = (globalThis as { process?: { env?: Record<string, string> } }).process?.env ?? {};
        return { vars: Object.keys(env).sort() };
      }
      case "exec_ungranted": {
        const out = exec.run({ program: "sh", args: ["-c", "id"] });
        return { stdout: out.stdout };
      }
      case "exec": {
        const out = exec.run({ program: input.program, args: input.args });
        return { status: out.status, stdout: out.stdout, stderr: out.stderr };
      }
      case "ansi":
        log(Level.Warn, "\x1b[2J\x1b[31mred alert\x1b[0m\nINFO forged line");
        throw new Failed("\x1b]0;pwned title\x07 done");
      case "out_big": {
        const chunk = new Uint8Array(1 << 20).fill(7);
        const parts: Uint8Array[] = [];
        for (let written = 0; written < input.n; written += chunk.length) parts.push(chunk.subarray(0, Math.min(chunk.length, input.n - written)));
        const all = new Uint8Array(input.n);
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        writeOut("big", all);
        return { written: input.n };
      }
      case "out_many":
        for (let i = 0; i < input.n; i++) writeOut(`f${i}`, "x");
        return { files: input.n };
      case "panic":
        throw new Error("adversary panicked on purpose");
      case "ok":
        return { ok: true };
      default:
        throw new InvalidInput(`attack: unknown attack \`${input.attack}\``);
    }
  },
});
