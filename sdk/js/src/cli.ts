#!/usr/bin/env node
/**
 * `taylordash-sdk`: build TaylorDash tools written in JavaScript or TypeScript.
 *
 *     taylordash-sdk build src/hello.ts -o hello.wasm   # the component
 *     taylordash-sdk wit                                # where the bundled WIT is
 */

import { parseArgs } from "node:util";
import { buildComponent, defaultOutput, DEFAULT_DISABLED, FEATURES, sdkVersion, WIT_DIR, type Feature } from "./build.js";

const USAGE = `usage: taylordash-sdk build <tool.ts|tool.js> [-o out.wasm] [options]
       taylordash-sdk wit

build: bundle the tool (its module's default export is defineTool(...)), the SDK
and its npm dependencies with esbuild, then build a WebAssembly component with
componentize-js against the taylordash:agent \`tool\` world.

  -o, --output FILE    the component (default: <module>.wasm here)
  --http               keep outgoing fetch() (imports wasi:http; the host must grant it)
  --disable LIST       leave out more engine features, comma-separated: ${FEATURES.filter((f) => !DEFAULT_DISABLED.includes(f)).join(", ")}
                       (default leaves out: ${DEFAULT_DISABLED.join(", ")})
  --minify             minify the bundle
  --wit DIR            the folder holding agent.wit (default: the SDK's copy)
  --build-dir DIR      keep the bundle and staged WIT here
wit: print the bundled WIT directory.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      http: { type: "boolean" },
      disable: { type: "string" },
      minify: { type: "boolean" },
      wit: { type: "string" },
      "build-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
  if (values.version) {
    console.log(sdkVersion());
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === "wit") {
    console.log(WIT_DIR);
    return 0;
  }
  if (command !== "build" || rest.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const tool = rest[0]!;
  let disable: Feature[] = values.http ? DEFAULT_DISABLED.filter((f) => f !== "http") : [...DEFAULT_DISABLED];
  if (values.disable) disable = [...disable, ...(values.disable.split(",").map((s) => s.trim()).filter(Boolean) as Feature[])];
  await buildComponent({
    tool,
    output: values.output ?? defaultOutput(tool),
    disable,
    minify: values.minify,
    wit: values.wit,
    buildDir: values["build-dir"],
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(msg.startsWith("taylordash-sdk:") ? msg : `taylordash-sdk: ${msg}`);
    process.exit(1);
  },
);
