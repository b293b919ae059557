// The SDK's bundled WIT is the repository's contract, byte for byte.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { WIT_DIR } from "@taylordash/sdk/build";

const repo = fileURLToPath(new URL("../../..", import.meta.url));
// The contract lives in sdk/wit/ (wit/ before it moved); whichever exist must match.
const contracts = [join(repo, "sdk", "wit", "agent.wit"), join(repo, "wit", "agent.wit")].filter(existsSync);

test("the bundled WIT matches the repository's", { skip: contracts.length === 0 && "not inside the TaylorDash repository" }, () => {
  const bundled = readFileSync(join(WIT_DIR, "agent.wit"));
  for (const contract of contracts) {
    assert.ok(bundled.equals(readFileSync(contract)), `copy ${contract} to sdk/js/wit/agent.wit`);
  }
});
