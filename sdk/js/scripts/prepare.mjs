#!/usr/bin/env node
// `npm run prepare`: compile src/ to dist/ with the pinned TypeScript.
//
// npm runs `prepare` after `npm install` here, and when it packs this folder
// for a project that depends on it (`"@taylordash/sdk": "file:..."` with
// install-links, as `taylordash new --lang js` writes). In the second case
// this folder's own devDependencies may not be installed yet: then they are,
// from package-lock.json (`npm ci --ignore-scripts`), before compiling.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const npm = process.env.npm_execpath;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    console.error(`@taylordash/sdk prepare: \`${[cmd, ...args].join(" ")}\` failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

if (!existsSync(join(root, "src"))) process.exit(0); // a packed copy: dist/ is already there
if (!existsSync(tsc)) {
  console.error("@taylordash/sdk prepare: installing the SDK's build dependencies (npm ci --ignore-scripts)");
  if (npm && npm.endsWith(".js")) run(process.execPath, [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
  else run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
}
run(process.execPath, [tsc, "-p", "tsconfig.json"]);
