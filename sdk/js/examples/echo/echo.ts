/**
 * `echo`: returns its input unchanged — the trivial tool `cargo xtask bench
 * --peers` measures in every runtime (Rust, Python, JavaScript, Extism, a
 * subprocess).
 */
import { z, defineTool, type Context } from "@taylordash/sdk";

export const Input = z.record(z.string(), z.unknown());

export default defineTool({
  name: "echo",
  version: "0.1.0",
  description: "Returns its input, a JSON object, unchanged.",
  input: Input,
  output: Input,
  run(input, _ctx: Context) {
    return input;
  },
});
