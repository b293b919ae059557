"""`schema_for`: dataclasses to JSON Schema, shaped like the Rust SDK's (schemars)."""

import enum
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Optional

import pytest

from taylordash_sdk import schema_for


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Item:
    """One backlog item."""

    title: str
    tags: "list[str]" = field(default_factory=list)
    children: "list[Item]" = field(default_factory=list)


@dataclass
class Everything:
    name: str
    """Who it is."""
    count: int
    ratio: float
    on: bool
    mode: Literal["fast", "slow"]
    color: Color
    items: "list[Item]"
    scores: "dict[str, int]"
    anything: Any
    maybe: Optional[str]
    maybe_item: Optional[Item]
    either: "int | str"
    noted: Annotated[int, "From Annotated."]
    limit: int = field(default=10, metadata={"description": "From metadata."})
    from_: str = field(default="x", metadata={"alias": "from"})


def test_every_supported_type():
    s = schema_for(Everything)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (s["title"], s["type"], s["additionalProperties"]) == ("Everything", "object", False)
    assert "description" not in s  # @dataclass's made-up docstring is not a description
    p = s["properties"]
    assert p["name"] == {"description": "Who it is.", "type": "string"}
    assert p["count"] == {"type": "integer"} and p["ratio"] == {"type": "number"} and p["on"] == {"type": "boolean"}
    assert p["mode"] == {"type": "string", "enum": ["fast", "slow"]}
    assert p["color"] == {"type": "string", "enum": ["red", "blue"]}
    assert p["items"] == {"type": "array", "items": {"$ref": "#/$defs/Item"}}
    assert p["scores"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert p["anything"] == {}
    assert p["maybe"] == {"type": ["string", "null"]}
    assert p["maybe_item"] == {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]}
    assert p["either"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert p["noted"] == {"description": "From Annotated.", "type": "integer"}
    assert p["limit"] == {"description": "From metadata.", "type": "integer", "default": 10}
    assert p["from"] == {"type": "string", "default": "x"}
    assert s["required"] == ["name", "count", "ratio", "on", "mode", "color", "items", "scores", "either", "noted"]
    item = s["$defs"]["Item"]
    assert item["description"] == "One backlog item."
    assert item["properties"]["children"] == {"type": "array", "items": {"$ref": "#/$defs/Item"}}  # recursive
    assert item["required"] == ["title"]


@dataclass
class Loose:
    ignore_unknown_keys: ClassVar[bool] = True
    a: int


def test_a_class_ignoring_unknown_keys_has_no_additional_properties_false():
    assert "additionalProperties" not in schema_for(Loose)
    assert "ignore_unknown_keys" not in schema_for(Loose)["properties"]


def test_two_classes_of_one_name_are_refused():
    def make():
        @dataclass
        class Item:
            x: int
        return Item

    @dataclass
    class Both:
        a: Item
        b: make()  # type: ignore[valid-type]

    with pytest.raises(TypeError, match="two dataclasses named Item"):
        schema_for(Both)


def test_not_a_dataclass():
    with pytest.raises(TypeError, match="is not a dataclass"):
        schema_for(int)
