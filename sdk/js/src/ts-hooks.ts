/**
 * Module hooks for `@taylordash/sdk/register`: `.ts` and `.mts` files load as
 * ES modules with their types stripped (esbuild's `transform`, inline source
 * maps so stacks point at the TypeScript), and a relative `./x.js` that does
 * not exist resolves to `./x.ts` (TypeScript's ESM import style).
 */

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;
type Loaded = { format: string; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: unknown) => Promise<Loaded>;

const TS = /\.(m?ts)$/;

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/") || specifier.startsWith("file:");
}

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  try {
    return await next(specifier, context);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" && isRelative(specifier) && /\.m?js$/.test(specifier)) {
      return next(specifier.replace(/js$/, "ts"), context);
    }
    throw e;
  }
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<Loaded> {
  if (!url.startsWith("file:") || !TS.test(url) || url.endsWith(".d.ts")) return next(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, "utf8");
  const out = await transform(source, {
    loader: "ts",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    sourcefile: path,
  });
  return { format: "module", source: out.code, shortCircuit: true };
}
