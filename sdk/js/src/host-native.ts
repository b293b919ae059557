/**
 * The host backend natively (node): the `Harness` running the current call.
 *
 * `Harness.invoke` runs the tool inside `runWith(itself, ...)`; the host
 * functions find it through an `AsyncLocalStorage`, so an async `run` keeps
 * its harness across `await`s and two harnesses never see each other's calls.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { Backend } from "./host.js";

const current = new AsyncLocalStorage<Backend>();

/** Run `fn` with `b` serving the host calls it makes. */
export function runWith<T>(b: Backend, fn: () => T): T {
  return current.run(b, fn);
}

/** The backend `host.ts` calls: the harness running the current call. */
export function backend(): Backend {
  const found = current.getStore();
  if (!found) {
    throw new Error("taylordash-sdk: host functions called natively outside a testing Harness call");
  }
  return found;
}
