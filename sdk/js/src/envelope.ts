/**
 * The task envelope: the keys the orchestrator adds beside a tool's own input.
 *
 * `task`, `previous`, `feedback` and `shared_context` sit at the top level of
 * the input object (`protocol/src/envelope.rs`, `protocol/schemas/envelope.json`).
 * The SDK calls `splitEnvelope` before it parses the tool's own input, so the
 * input schema never declares them and keeps refusing unknown keys; the tool
 * reads them as `ctx.envelope`.
 */

import { z } from "zod";
import { parseJson } from "./schema.js";

/** The top-level input keys the envelope owns; no tool input may use them. */
export const ENVELOPE_KEYS = ["task", "previous", "feedback", "shared_context"] as const;

/** Where a call sits in a run; every field is set when the orchestrator runs a tool. */
export const TaskInfo = z.looseObject({
  run_id: z.string().default(""),
  /** `<stage>/<agent>/<tool>#<attempt>`, or `<stage>/gate/<gate>#<attempt>` for a gate. */
  task_id: z.string().default(""),
  stage: z.string().default(""),
  agent: z.string().default(""),
  tool: z.string().default(""),
  attempt: z.number().int().min(0).default(0),
  trace_id: z.string().default(""),
  span_id: z.string().default(""),
});
export type TaskInfo = z.output<typeof TaskInfo>;

/** One gate that failed in the previous attempt of a stage. */
export const FailedGate = z.looseObject({ gate: z.string(), report: z.unknown() });
export type FailedGate = { gate: string; report: unknown };

/** What a retried stage is told about its previous attempt. */
export const Feedback = z.looseObject({ failed_gates: z.array(FailedGate) });
export type Feedback = { failed_gates: FailedGate[] };

const EnvelopeSchema = z.object({
  task: TaskInfo.optional(),
  previous: z.unknown().optional(),
  feedback: Feedback.optional(),
  shared_context: z.record(z.string(), z.unknown()).optional(),
});

/** The keys the orchestrator adds to every tool's input; each is absent when not sent (or `null`). */
export interface Envelope {
  task?: TaskInfo;
  /** The previous tool's JSON output in the same agent. */
  previous?: unknown;
  /** The failed gates' reports when the stage is retried. */
  feedback?: Feedback;
  /** The pipeline's `shared_context` artifacts that exist, by name. */
  shared_context?: Record<string, unknown>;
}

/** The names of the gates that failed, from `envelope.feedback`. */
export function gateNames(feedback: Feedback | undefined): string[] {
  return feedback ? feedback.failed_gates.map((g) => g.gate) : [];
}

/**
 * Take the envelope's keys out of an input object: `[envelope, own input]`.
 *
 * A value that is not an object passes through with an empty envelope; a
 * `null` key counts as absent; a malformed key throws `InvalidInput` naming
 * it (`envelope: feedback: ...`).
 */
export function splitEnvelope(value: unknown): [Envelope, unknown] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [{}, value];
  const own: Record<string, unknown> = {};
  const present: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if ((ENVELOPE_KEYS as readonly string[]).includes(k)) {
      if (v !== null && v !== undefined) present[k] = v;
    } else {
      // defineProperty, not `own[k] = v`: an input key `__proto__` stays a
      // key (and is refused or kept like any other) instead of setting the prototype.
      Object.defineProperty(own, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  const parsed = parseJson(EnvelopeSchema, present, "envelope: ");
  const envelope: Envelope = {};
  for (const k of ENVELOPE_KEYS) {
    if (parsed[k] !== undefined) (envelope as Record<string, unknown>)[k] = parsed[k];
  }
  return [envelope, own];
}

/** The tool's input `fields` with `envelope`'s keys added (what the orchestrator sends). */
export function wrapEnvelope(fields: Record<string, unknown>, envelope: Envelope): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fields };
  for (const k of ENVELOPE_KEYS) {
    if (envelope[k] !== undefined && envelope[k] !== null) out[k] = envelope[k];
  }
  return out;
}
