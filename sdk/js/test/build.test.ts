// The bundle the component build feeds componentize-js (the componentize
// step itself takes seconds and runs in sdk/js/build.sh).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleTool, defaultOutput } from "@taylordash/sdk/build";

const hello = fileURLToPath(new URL("../examples/hello/hello.ts", import.meta.url));

test("the bundle uses the WIT imports, not node, and exports the world's functions", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "taylordash-bundle-")), "tool.js");
  await bundleTool(hello, out);
  const js = readFileSync(out, "utf8");
  assert.match(js, /from "taylordash:agent\/host@0\.1\.0"/);
  assert.match(js, /from "wasi:filesystem\/preopens@0\.2\.12"/);
  assert.doesNotMatch(js, /node:async_hooks|node:fs/);
  assert.match(js, /export \{[^}]*\bdescribe\b[^}]*\binvoke\b[^}]*\}|export function describe/);
  assert.doesNotMatch(js, /Zbývá|Gültige/, "zod's other locales are left out");
});

test("the default component name", () => {
  assert.equal(defaultOutput("src/hello.ts"), "hello.wasm");
  assert.equal(defaultOutput("x/tool.mjs"), "tool.wasm");
});

test("componentize-js's bindings still have the string encoder the build speeds up", async () => {
  const { join: j } = await import("node:path");
  const { createRequire } = await import("node:module");
  const { patchBindings, stageWit, WIT_DIR } = await import("@taylordash/sdk/build");
  const wit = j(mkdtempSync(j(tmpdir(), "taylordash-wit-")), "wit");
  stageWit(WIT_DIR, wit);
  const cjs = import.meta.resolve("@bytecodealliance/componentize-js");
  const shim = await import(createRequire(cjs).resolve("@bytecodealliance/preview2-shim/filesystem"));
  shim._setPreopens({ "/": "/" });
  const { splicer } = await import(new URL("../lib/spidermonkey-embedding-splicer.js", cjs).href);
  const engine = readFileSync(new URL("../lib/starlingmonkey_embedding.wasm", cjs));
  const { jsBindings } = splicer.spliceBindings(engine, ["stdio", "random", "clocks"], undefined, wit, "tool", false);
  const patched = patchBindings(jsBindings);
  assert.ok(patched, "the _utf8AllocateAndEncode of componentize-js changed: update FAST_UTF8_ENCODE in src/build.ts");
  assert.match(patched!, /taylordash-sdk build: the UTF-8 length from the native encoder/);
});
