/**
 * The host backend inside a component: the `taylordash:agent` imports and the
 * preopened directories through `wasi:filesystem` (componentize-js exposes
 * every interface the build's world imports as an ES module).
 *
 * Only the component build resolves `#host` to this module (the
 * `taylordash-wasm` condition); node never loads it.
 */

import { emit as witEmit, log as witLog } from "taylordash:agent/host@0.1.0";
import { run as witRun } from "taylordash:agent/exec@0.1.0";
import { getDirectories } from "wasi:filesystem/preopens@0.2.12";
import type { Descriptor } from "wasi:filesystem/types@0.2.12";
import { ExecError, FsError, type Backend } from "./host.js";

const CHUNK = 1n << 20n;
const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("dispose");

function drop(resource: unknown): void {
  const d = (resource as Record<symbol, (() => void) | undefined>)[DISPOSE];
  if (typeof d === "function") d.call(resource);
}

/** The error code a failed WASI call threw (componentize-js: a ComponentError whose payload is the enum). */
function code(e: unknown): string {
  const payload = (e as { payload?: unknown } | null)?.payload;
  if (typeof payload === "string") return payload;
  throw e;
}

let preopens: Map<string, Descriptor> | undefined;

function root(name: string, op: string): Descriptor {
  preopens ??= new Map(getDirectories().map(([d, p]) => [p, d]));
  const dir = preopens.get(name);
  if (!dir) throw new FsError(op, name, "not-mounted");
  return dir;
}

function open(op: string, base: string, rel: string[], how: () => Descriptor): Descriptor {
  try {
    return how();
  } catch (e) {
    throw new FsError(op, `${base}/${rel.join("/")}`, code(e));
  }
}

export const wasmBackend: Backend = {
  log(level, message) {
    witLog(level, message);
  },
  emit(topic, payload) {
    witEmit(topic, payload);
  },
  exec(cmd) {
    try {
      return witRun({ program: cmd.program, args: cmd.args, stdin: cmd.stdin });
    } catch (e) {
      const payload = (e as { payload?: unknown } | null)?.payload;
      throw new ExecError(typeof payload === "string" ? payload : String(e));
    }
  },
  read(base, rel) {
    const dir = root(base, "read");
    const path = `${base}/${rel.join("/")}`;
    const fd = open("read", base, rel, () => dir.openAt({ symlinkFollow: true }, rel.join("/"), {}, { read: true }));
    try {
      const chunks: Uint8Array[] = [];
      let offset = 0n;
      for (;;) {
        let data: Uint8Array, eof: boolean;
        try {
          [data, eof] = fd.read(CHUNK, offset);
        } catch (e) {
          throw new FsError("read", path, code(e));
        }
        if (data.length) chunks.push(data);
        offset += BigInt(data.length);
        if (eof || data.length === 0) break;
      }
      if (chunks.length === 1) return chunks[0]!;
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    } finally {
      drop(fd);
    }
  },
  list(base, rel) {
    const dir = root(base, "list");
    const path = rel.length ? `${base}/${rel.join("/")}` : base;
    // The top too is opened as "." (some runtimes cannot list a preopen's own descriptor).
    const fd = open("list", base, rel, () => dir.openAt({ symlinkFollow: true }, rel.join("/") || ".", { directory: true }, { read: true }));
    try {
      const names: string[] = [];
      let stream;
      try {
        stream = fd.readDirectory();
      } catch (e) {
        throw new FsError("list", path, code(e));
      }
      try {
        for (;;) {
          let entry;
          try {
            entry = stream.readDirectoryEntry();
          } catch (e) {
            throw new FsError("list", path, code(e));
          }
          if (!entry) break;
          names.push(entry.name);
        }
      } finally {
        drop(stream);
      }
      return names;
    } finally {
      drop(fd);
    }
  },
  write(base, rel, data) {
    const dir = root(base, "write");
    for (let i = 1; i < rel.length; i++) {
      try {
        dir.createDirectoryAt(rel.slice(0, i).join("/"));
      } catch (e) {
        if (code(e) !== "exist") throw new FsError("write", `${base}/${rel.slice(0, i).join("/")}`, code(e));
      }
    }
    const path = `${base}/${rel.join("/")}`;
    const fd = open("write", base, rel, () =>
      dir.openAt({ symlinkFollow: false }, rel.join("/"), { create: true, truncate: true }, { write: true }),
    );
    try {
      let offset = 0;
      while (offset < data.length) {
        let n: bigint;
        try {
          n = fd.write(data.subarray(offset, offset + Number(CHUNK)), BigInt(offset));
        } catch (e) {
          throw new FsError("write", path, code(e));
        }
        if (n === 0n) throw new FsError("write", path, "no-progress");
        offset += Number(n);
      }
    } finally {
      drop(fd);
    }
  },
};

/** The backend `host.ts` calls: always the component's imports here. */
export function backend(): Backend {
  return wasmBackend;
}
