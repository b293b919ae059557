"""`hello`: the smallest TaylorDash tool in Python; greets someone by name."""

from dataclasses import dataclass

from taylordash_sdk import Context, InvalidInput, Level, Tool, export, log


@dataclass
class Input:
    name: str
    """Who to greet."""


@dataclass
class Output:
    greeting: str


class Hello(Tool):
    """Greets someone by name."""

    name = "hello"
    version = "0.1.0"

    def run(self, input: Input, ctx: Context) -> Output:
        if not input.name.strip():
            raise InvalidInput("name: must not be empty")
        log(Level.INFO, f"greeting {input.name}")
        return Output(greeting=f"Hello, {input.name}!")


export(Hello)
