/** `hello`: greets someone by name. */
import { z, defineTool, log, Level, InvalidInput, type Context } from "@taylordash/sdk";

export const Input = z.object({
  name: z.string().describe("Who to greet."),
});

export const Output = z.object({
  greeting: z.string(),
});

export default defineTool({
  name: "hello",
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
