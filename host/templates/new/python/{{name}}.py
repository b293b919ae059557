"""`{{name}}`: a TaylorDash agent tool, built into a WebAssembly component.

`Input` and `Output` are the tool's contract: their JSON Schemas are what
`taylordash plugins inspect {{name}}.wasm` shows, and the input is checked
against `Input` before `run` sees it.
"""

from dataclasses import dataclass

from taylordash_sdk import Context, InvalidInput, Level, Tool, export, log


@dataclass
class Input:
    name: str
    """Who to greet."""


@dataclass
class Output:
    greeting: str
    """The greeting."""


class {{Name}}(Tool):
    """Greets someone by name."""

    name = "{{name}}"
    version = "0.1.0"

    def run(self, input: Input, ctx: Context) -> Output:
        if not input.name.strip():
            raise InvalidInput("name: must not be empty")
        log(Level.INFO, f"greeting {input.name}")
        return Output(greeting=f"Hello, {input.name}!")


export({{Name}})  # the one tool this component exports
