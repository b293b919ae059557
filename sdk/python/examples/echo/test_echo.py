"""Native tests of the `echo` example: plain pytest, no wasm."""

import json

import pytest
from echo import Echo

from taylordash_sdk import InvalidInput
from taylordash_sdk.testing import Harness


def test_returns_its_input_unchanged():
    doc = {"job": "bench", "id": 42, "tags": ["peer", "echo"], "payload": {"text": "é", "n": 3.5, "none": None}}
    assert json.loads(Harness(Echo()).invoke_json(json.dumps(doc))) == doc


def test_the_wire_form_keeps_every_value():
    out = Harness(Echo()).invoke_json('{"a":[1,2,{"b":null}],"c":true}')
    assert json.loads(out) == {"a": [1, 2, {"b": None}], "c": True}


def test_a_non_object_is_invalid_input():
    with pytest.raises(InvalidInput):
        Harness(Echo()).invoke_json("[1, 2]")
