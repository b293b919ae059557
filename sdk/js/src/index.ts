/**
 * The TaylorDash tool SDK for JavaScript and TypeScript: what a tool author imports.
 *
 * A tool is `export default defineTool({ name, version, description, input,
 * output, run })` with zod schemas for its input and output. `taylordash-sdk
 * build tool.ts -o tool.wasm` bundles it (esbuild) and builds a component with
 * componentize-js against `wit/agent.wit`, world `tool`. The same code runs
 * natively under `Harness` from `@taylordash/sdk/testing`.
 */

export { z } from "zod";
export { ENVELOPE_KEYS, FailedGate, Feedback, TaskInfo, gateNames, splitEnvelope, wrapEnvelope, type Envelope } from "./envelope.js";
export { Failed, InvalidInput, Retryable, ToolError, isToolError, type ToolErrorKind } from "./errors.js";
export {
  ExecError,
  FsError,
  Level,
  OUT,
  WORKSPACE,
  emit,
  exec,
  listWorkspace,
  log,
  readWorkspace,
  readWorkspaceBytes,
  writeOut,
  type ExecCall,
  type ExecCommand,
  type ExecOutput,
} from "./host.js";
export { describeValue, formatPath, jsonSchema, parseJson } from "./schema.js";
export {
  defineTool,
  describe,
  emptyContext,
  invoke,
  isTool,
  type AnyTool,
  type Context,
  type RunResult,
  type Tool,
  type ToolInfo,
  type ToolSpec,
} from "./tool.js";

export const VERSION = "0.1.0";
