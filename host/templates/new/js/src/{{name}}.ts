/**
 * `{{name}}`: a TaylorDash agent tool, built into a WebAssembly component.
 *
 * `Input` and `Output` are the tool's contract: their JSON Schemas are what
 * `taylordash plugins inspect {{name}}.wasm` shows, and the input is checked
 * against `Input` (unknown keys refused) before `run` sees it.
 */
import { z, defineTool, log, Level, InvalidInput, type Context } from "@taylordash/sdk";

export const Input = z.object({
  name: z.string().describe("Who to greet."),
});

export const Output = z.object({
  greeting: z.string().describe("The greeting."),
});

export default defineTool({
  name: "{{name}}",
  version: "0.1.0",
  description: "Greets someone by name.",
  input: Input,
  output: Output,
  run(input, ctx: Context) {
    if (!input.name.trim()) throw new InvalidInput("name: must not be empty");
    log(Level.Info, `greeting ${input.name}`);
    return { greeting: `Hello, ${input.name}!` };
  },
});
