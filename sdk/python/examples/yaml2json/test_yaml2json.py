"""Native tests of the `yaml2json` example (PyYAML runs natively as it does in the component)."""

import json

import pytest
from yaml2json import Yaml2Json

from taylordash_sdk import InvalidInput
from taylordash_sdk.testing import Harness


def test_converts_and_writes_out():
    h = Harness(Yaml2Json())
    h.write_workspace("conf/app.yaml", "name: demo\nports: [80, 443]\n")
    out = h.invoke({"path": "conf/app.yaml", "out": "app.json"})
    assert out.data == {"name": "demo", "ports": [80, 443]}
    assert out.keys == ["name", "ports"]
    assert json.loads(h.out_file("app.json")) == out.data
    assert h.events == [("yaml2json/written", '{"file": "app.json"}')]


def test_nothing_written_without_out():
    h = Harness(Yaml2Json())
    h.write_workspace("a.yaml", "- 1\n- 2\n")
    assert h.invoke_json('{"path":"a.yaml"}') == '{"data":[1,2],"keys":[],"written":null}'
    assert list(h.out.iterdir()) == []


def test_bad_paths_are_invalid_input():
    h = Harness(Yaml2Json())
    with pytest.raises(InvalidInput, match="path: cannot read `missing.yaml`"):
        h.invoke({"path": "missing.yaml"})
    with pytest.raises(InvalidInput, match=r"path: cannot read `../etc/passwd`: `../etc/passwd` is not a relative path"):
        h.invoke({"path": "../etc/passwd"})
    h.write_workspace("bad.yaml", "a: [1\n")
    with pytest.raises(InvalidInput, match="is not YAML"):
        h.invoke({"path": "bad.yaml"})
