"""Native tests of `{{name}}`: plain pytest, no wasm (the SDK's Harness stands in for the sandbox)."""

import pytest
from {{name}} import {{Name}}

from taylordash_sdk import InvalidInput, Level
from taylordash_sdk.testing import Harness


def test_greets():
    h = Harness({{Name}}())
    assert h.invoke({"name": "Ada"}).greeting == "Hello, Ada!"
    assert h.logs == [(Level.INFO, "greeting Ada")]


def test_the_output_is_the_json_the_host_prints():
    assert Harness({{Name}}()).invoke_json('{"name":"Ada"}') == '{"greeting":"Hello, Ada!"}'


def test_bad_input_names_the_field():
    h = Harness({{Name}}())
    with pytest.raises(InvalidInput, match="missing field `name`"):
        h.invoke({})
    with pytest.raises(InvalidInput, match="name: must not be empty"):
        h.invoke({"name": " "})
