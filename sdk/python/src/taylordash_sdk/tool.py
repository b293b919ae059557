"""The `Tool` base class and what the SDK does around `run`.

A tool subclasses `Tool`, sets `name` (and `version`, `description`, or a
docstring) and writes `run(self, input: In, ctx: Context) -> Out` with
dataclasses `In` and `Out`; the type hints are the contract. `describe`
returns their JSON Schemas; `invoke` takes the envelope out of the input,
parses the rest into `In` (an `InvalidInput` names the offending field),
runs, and serialises the `Out` as compact JSON in field order.
`export(MyTool)` names the class the component exports, as the Rust
`export_tool!` does.
"""

import dataclasses
import inspect
import json
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Union

from .convert import from_json, to_json
from .envelope import KEYS, Envelope
from .errors import Failed, InvalidInput
from .schema import schema_for


@dataclass
class Context:
    """Who is calling, where the call sits in a run's trace, and the envelope."""

    run_id: str = ""
    task_id: str = ""
    agent_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    attempt: int = 0
    envelope: Envelope = field(default_factory=Envelope)
    """The envelope keys taken out of the input before it was parsed."""


@dataclass(frozen=True)
class ToolInfo:
    """What the `describe` export returns; the schemas are JSON text."""

    name: str
    version: str
    description: str
    input_schema: str
    output_schema: str


class Tool:
    """An agent tool: typed JSON in, typed JSON out. Subclass and write `run`."""

    name: ClassVar[str] = ""
    """The tool's name as pipelines and the CLI refer to it."""
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = ""
    """One sentence for `taylordash plugins inspect`; the class docstring when empty."""

    def run(self, input: Any, ctx: Context) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.run")


@dataclass(frozen=True)
class Spec:
    """A tool class checked once: its input and output types and its `describe`."""

    input: type
    output: type
    info: ToolInfo


_SPECS: "dict[type, Spec]" = {}


def spec(tool: Union[Tool, type]) -> Spec:
    """The checked `Spec` of a tool (instance or class); raises TypeError on a malformed tool."""
    cls = tool if isinstance(tool, type) else type(tool)
    if cls not in _SPECS:
        _SPECS[cls] = _check(cls)
    return _SPECS[cls]


def _check(cls: type) -> Spec:
    where = f"taylordash-sdk: {cls.__name__}"
    if not (isinstance(cls, type) and issubclass(cls, Tool)):
        raise TypeError(f"{where} is not a taylordash_sdk.Tool")
    if not cls.name:
        raise TypeError(f"{where} has no `name`")
    hints = typing.get_type_hints(cls.run)
    params = [p for p in inspect.signature(cls.run).parameters if p != "self"]
    if len(params) != 2 or params[0] not in hints or "return" not in hints:
        raise TypeError(f"{where}.run must read `def run(self, input: In, ctx: Context) -> Out` with dataclasses In, Out")
    input_type, output_type = hints[params[0]], hints["return"]
    for role, tp in (("input", input_type), ("output", output_type)):
        if not dataclasses.is_dataclass(tp):
            raise TypeError(f"{where}.run: the {role} type {tp!r} is not a dataclass")
    reserved = [f.name for f in dataclasses.fields(input_type) if f.metadata.get("alias", f.name) in KEYS]
    if reserved:
        raise TypeError(f"{where}: input field `{reserved[0]}` is an envelope key ({', '.join(KEYS)}); read it from ctx.envelope")
    description = cls.description or inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    info = ToolInfo(
        name=cls.name,
        version=cls.version,
        description=description,
        input_schema=json.dumps(schema_for(input_type), separators=(",", ":"), ensure_ascii=False),
        output_schema=json.dumps(schema_for(output_type), separators=(",", ":"), ensure_ascii=False),
    )
    return Spec(input_type, output_type, info)


def describe(tool: Union[Tool, type]) -> ToolInfo:
    """The `describe` export for a tool."""
    return spec(tool).info


def invoke(tool: Tool, text: str, ctx: Optional[Context] = None) -> str:
    """The `invoke` export: JSON text in, JSON text out, or a `ToolError` raised."""
    s = spec(tool)
    try:
        value = json.loads(text)
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    envelope, own = Envelope.split(value)
    parsed = from_json(s.input, own)
    base = ctx or Context()
    output = tool.run(parsed, dataclasses.replace(base, envelope=envelope))
    if not isinstance(output, s.output):
        raise Failed(f"{type(tool).__name__}.run returned {type(output).__name__}, not {s.output.__name__}")
    try:
        return json.dumps(to_json(output), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise Failed(f"cannot serialise the output: {e}") from None


_exported: "list[Tool]" = []


def export(tool: Union[Tool, type]) -> Tool:
    """Name the tool the component exports (a class is instantiated with no arguments).

    Checks the tool at once, so a malformed one fails at import (in the
    component build too) rather than at the first call. Returns the instance.
    A test run may import several tool modules; a component holds one.
    """
    instance = tool() if isinstance(tool, type) else tool
    spec(instance)
    _exported.append(instance)
    return instance


def exported() -> Tool:
    """The one tool `export` named; raises when none or several were."""
    kinds = sorted({type(t).__name__ for t in _exported})
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise RuntimeError(f"taylordash-sdk: a component exports one tool, end its module with `export(MyTool)` (found: {found})")
    return _exported[-1]
