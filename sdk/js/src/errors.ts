/**
 * The tool's typed errors: the WIT `tool-error` variant as JavaScript errors.
 *
 * Throw one from `run`; the SDK returns it to the host as the matching
 * `tool-error` case. The host maps every case to exit code 1, and the
 * orchestrator retries only `Retryable`. Any other thrown value becomes
 * `failed` ("TypeError: x is undefined") with its stack logged.
 */

/** The WIT `tool-error` case names. */
export type ToolErrorKind = "invalid-input" | "failed" | "retryable";

/** Why a call failed; `kind` names the WIT case, `message` the reason. */
export abstract class ToolError extends Error {
  abstract readonly kind: ToolErrorKind;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** A `Failed` from anything printable, for `catch (e) { throw ToolError.failed(e) }`. */
  static failed(err: unknown): Failed {
    return new Failed(err instanceof Error ? err.message : String(err));
  }
}

/** The input did not match the tool's input schema; not worth retrying. */
export class InvalidInput extends ToolError {
  readonly kind = "invalid-input" as const;
}

/** The tool ran and failed; the same input fails the same way. */
export class Failed extends ToolError {
  readonly kind = "failed" as const;
}

/** A transient failure; the orchestrator may retry. */
export class Retryable extends ToolError {
  readonly kind = "retryable" as const;
}

/** Whether `e` is one of the SDK's typed errors (also across two copies of the SDK). */
export function isToolError(e: unknown): e is ToolError {
  if (e instanceof ToolError) return true;
  const kind = (e as { kind?: unknown } | null)?.kind;
  return e instanceof Error && (kind === "invalid-input" || kind === "failed" || kind === "retryable");
}
