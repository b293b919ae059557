"""Native tests of the `hello` example: plain pytest, no wasm."""

import json

import pytest
from hello import Hello

from taylordash_sdk import InvalidInput, Level
from taylordash_sdk.testing import Harness


def test_greets():
    h = Harness(Hello())
    assert h.invoke({"name": "Ada"}).greeting == "Hello, Ada!"
    assert h.logs == [(Level.INFO, "greeting Ada")]


def test_the_output_is_compact_json_as_the_host_prints_it():
    assert Harness(Hello()).invoke_json('{"name":"x"}') == '{"greeting":"Hello, x!"}'


def test_errors_name_the_field():
    h = Harness(Hello())
    with pytest.raises(InvalidInput, match="^invalid input: missing field `name`$"):
        h.invoke({})
    with pytest.raises(InvalidInput, match=r"^invalid input: name: invalid type: integer `3`, expected a string$"):
        h.invoke({"name": 3})
    with pytest.raises(InvalidInput, match="unknown field `nam`, expected `name`"):
        h.invoke({"nam": "x"})
    with pytest.raises(InvalidInput, match="name: must not be empty"):
        h.invoke({"name": " "})


def test_describe_has_the_schemas():
    info = Harness(Hello()).describe()
    assert (info.name, info.version, info.description) == ("hello", "0.1.0", "Greets someone by name.")
    assert json.loads(info.input_schema) == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Input",
        "type": "object",
        "properties": {"name": {"description": "Who to greet.", "type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    assert json.loads(info.output_schema)["required"] == ["greeting"]
