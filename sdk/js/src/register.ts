/**
 * `node --import @taylordash/sdk/register --test test/*.test.ts`: lets node 20
 * load TypeScript (`.ts`, `.mts`) by stripping the types with esbuild, so a
 * tool and its tests run natively without a compile step. Type checking is
 * `tsc --noEmit`'s job, not this loader's.
 */

import { register } from "node:module";

register("./ts-hooks.js", import.meta.url);
