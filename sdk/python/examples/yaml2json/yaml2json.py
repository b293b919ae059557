"""`yaml2json`: reads a YAML file of the workspace, returns it as JSON and can
write it to `/out`; shows a pure-Python dependency (PyYAML) in a component."""

import json
from dataclasses import dataclass
from typing import Any, Optional

import yaml

from taylordash_sdk import Context, InvalidInput, Tool, emit, export, read_workspace, write_out


@dataclass
class Input:
    path: str
    """A workspace-relative YAML file."""
    out: Optional[str] = None
    """Where to write the JSON, relative to the out dir (nothing is written without it)."""


@dataclass
class Output:
    data: Any
    """The document, as JSON."""
    keys: "list[str]"
    """Its top-level keys, sorted (empty when it is not a mapping)."""
    written: Optional[str]


class Yaml2Json(Tool):
    """Converts a YAML file of the workspace to JSON."""

    name = "yaml2json"
    version = "0.1.0"

    def run(self, input: Input, ctx: Context) -> Output:
        try:
            text = read_workspace(input.path)
        except (OSError, ValueError) as e:
            raise InvalidInput(f"path: cannot read `{input.path}`: {e}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InvalidInput(f"path: `{input.path}` is not YAML: {e}") from None
        if input.out:
            write_out(input.out, json.dumps(data, indent=2, sort_keys=True) + "\n")
            emit("yaml2json/written", json.dumps({"file": input.out}))
        keys = sorted(str(k) for k in data) if isinstance(data, dict) else []
        return Output(data=data, keys=keys, written=input.out)


export(Yaml2Json)
