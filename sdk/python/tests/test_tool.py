"""`Tool`, `describe`, `invoke`, `export`: what the SDK does around `run`."""

import json
from dataclasses import dataclass

import pytest

from taylordash_sdk import Context, Failed, InvalidInput, Tool, describe, export, invoke
from taylordash_sdk import tool as tool_module


@dataclass
class In:
    n: int


@dataclass
class Out:
    doubled: int
    attempt: int
    previous: "list[int] | None"


class Double(Tool):
    """Doubles a number.

    A longer paragraph the one-line description leaves out."""

    name = "double"

    def run(self, input: In, ctx: Context) -> Out:
        return Out(input.n * 2, ctx.attempt, ctx.envelope.previous)


def test_describe():
    info = describe(Double)
    assert (info.name, info.version, info.description) == ("double", "0.1.0", "Doubles a number.")
    assert json.loads(info.input_schema)["required"] == ["n"]
    assert json.loads(info.output_schema)["properties"]["previous"] == {"type": ["array", "null"], "items": {"type": "integer"}}


def test_invoke_splits_the_envelope_and_passes_the_context():
    text = invoke(Double(), '{"n": 21, "previous": [1]}', Context(attempt=3))
    assert text == '{"doubled":42,"attempt":3,"previous":[1]}'


def test_malformed_json_is_invalid_input():
    with pytest.raises(InvalidInput, match="Expecting value: line 1 column 1"):
        invoke(Double(), "nope")
    with pytest.raises(InvalidInput, match="Extra data"):
        invoke(Double(), '{"n": 1} {}')


class WrongOutput(Tool):
    name = "wrong"

    def run(self, input: In, ctx: Context) -> Out:
        return {"doubled": 1}  # type: ignore[return-value]


class NotJson(Tool):
    name = "nan"

    def run(self, input: In, ctx: Context) -> Out:
        return Out(float("nan"), 0, None)  # type: ignore[arg-type]


def test_a_bad_output_is_failed():
    with pytest.raises(Failed, match="WrongOutput.run returned dict, not Out"):
        invoke(WrongOutput(), '{"n": 1}')
    with pytest.raises(Failed, match="cannot serialise the output"):
        invoke(NotJson(), '{"n": 1}')


@dataclass
class Reserved:
    previous: str


def test_malformed_tools_are_refused_when_checked():
    class NoName(Tool):
        def run(self, input: In, ctx: Context) -> Out: ...

    class Untyped(Tool):
        name = "untyped"

        def run(self, input, ctx): ...

    class UsesEnvelopeKey(Tool):
        name = "reserved"

        def run(self, input: Reserved, ctx: Context) -> Out: ...

    with pytest.raises(TypeError, match="has no `name`"):
        describe(NoName)
    with pytest.raises(TypeError, match=r"must read `def run\(self, input: In, ctx: Context\) -> Out`"):
        describe(Untyped)
    with pytest.raises(TypeError, match="input field `previous` is an envelope key"):
        export(UsesEnvelopeKey)


def test_exported_wants_exactly_one_tool(monkeypatch):
    monkeypatch.setattr(tool_module, "_exported", [])
    with pytest.raises(RuntimeError, match=r"found: none"):
        tool_module.exported()
    export(Double)
    assert isinstance(tool_module.exported(), Double)
    export(WrongOutput)
    with pytest.raises(RuntimeError, match=r"found: Double, WrongOutput"):
        tool_module.exported()
