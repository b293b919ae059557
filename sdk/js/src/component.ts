/**
 * The bridge to componentize-js: the `describe` and `invoke` exports of the
 * `tool` world, for the entry module `taylordash-sdk build` generates:
 *
 *     import tool from "./hello.ts";
 *     import { componentExports } from "@taylordash/sdk/component";
 *     export const { describe, invoke } = componentExports(tool);
 *
 * A `ToolError` becomes the matching `tool-error` case; any other thrown
 * value becomes `failed` naming its type ("TypeError: x is undefined"), with
 * its stack logged at error level. SpiderMonkey's `InternalError` (too much
 * recursion, out of memory) is left to trap, so the host reports the quota
 * that caused it.
 */

import { isToolError, type ToolErrorKind } from "./errors.js";
import { Level, log } from "./host.js";
import { describe, invoke, isTool, type AnyTool, type ToolInfo } from "./tool.js";

/** The WIT `context` record as componentize-js passes it. */
export interface WitContext {
  runId: string;
  taskId: string;
  agentId: string;
  traceId: string;
  spanId: string;
  attempt: number;
}

/** The WIT `result<string, tool-error>` as componentize-js reads it. */
export type WitResult = { tag: "ok"; val: string } | { tag: "err"; val: { tag: ToolErrorKind; val: string } };

function describeThrown(e: unknown): string {
  if (e instanceof Error) return `${e.name || e.constructor?.name || "Error"}: ${e.message}`;
  return `thrown ${e === null ? "null" : typeof e}: ${String(e)}`;
}

function failure(e: unknown): WitResult {
  if (isToolError(e)) return { tag: "err", val: { tag: e.kind, val: e.message } };
  if (e instanceof Error && e.name === "InternalError") throw e;
  try {
    log(Level.Error, e instanceof Error && e.stack ? `${describeThrown(e)}\n${e.stack}` : describeThrown(e));
  } catch {
    // the log quota is spent: the message below still says what happened
  }
  return { tag: "err", val: { tag: "failed", val: describeThrown(e) } };
}

/** `describe` and `invoke` as the component exports them. */
export function componentExports(tool: unknown): {
  describe: () => ToolInfo;
  invoke: (input: string, ctx: WitContext) => WitResult | Promise<WitResult>;
} {
  if (!isTool(tool)) {
    throw new TypeError("taylordash-sdk: the tool's module must end with `export default defineTool({ ... })`");
  }
  const t: AnyTool = tool;
  return {
    describe: () => describe(t),
    invoke(input: string, ctx: WitContext): WitResult | Promise<WitResult> {
      try {
        const out = invoke(t, input, ctx);
        if (typeof out === "string") return { tag: "ok", val: out };
        return out.then((val): WitResult => ({ tag: "ok", val }), failure);
      } catch (e) {
        return failure(e);
      }
    },
  };
}
