"""`echo`: returns its input unchanged — the trivial tool `cargo xtask bench
--peers` measures in every runtime (Rust, Python, JavaScript, Extism, a
subprocess)."""

from dataclasses import dataclass, field
from typing import Any

from taylordash_sdk import Context, Tool, export


@dataclass
class Doc:
    """Any JSON object: every key lands in `fields` and is written back inline."""

    fields: dict[str, Any] = field(default_factory=dict, metadata={"flatten": True})


class Echo(Tool):
    """Returns its input, a JSON object, unchanged."""

    name = "echo"
    version = "0.1.0"

    def run(self, input: Doc, ctx: Context) -> Doc:
        return input


export(Echo)
