"""`from_json` / `to_json`: typed input with errors naming the field's path."""

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

import pytest

from taylordash_sdk import InvalidInput
from taylordash_sdk.convert import from_json, to_json


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@dataclass
class Entry:
    title: str
    level: Level = Level.LOW


@dataclass
class Doc:
    items: "list[Entry]"
    ratio: float = 1.0
    mode: Literal["a", "b"] = "a"
    note: Optional[str] = None
    extra: "dict[str, int]" = field(default_factory=dict)
    value: Any = None
    kind: str = field(default="k", metadata={"alias": "type"})


def err(tp, value) -> str:
    with pytest.raises(InvalidInput) as e:
        from_json(tp, value)
    return e.value.message


def test_builds_the_tree():
    doc = from_json(Doc, {"items": [{"title": "a", "level": 2}], "ratio": 3, "type": "t", "value": [1]})
    assert doc == Doc(items=[Entry("a", Level.HIGH)], ratio=3.0, kind="t", value=[1])
    assert isinstance(doc.ratio, float)
    assert to_json(doc) == {"items": [{"title": "a", "level": 2}], "ratio": 3.0, "mode": "a", "note": None,
                            "extra": {}, "value": [1], "type": "t"}


def test_errors_name_the_path():
    assert err(Doc, {}) == "missing field `items`"
    assert err(Doc, {"items": [{"title": "a"}, {}]}) == "items[1]: missing field `title`"
    assert err(Doc, {"items": [{"title": 1}]}) == "items[0].title: invalid type: integer `1`, expected a string"
    assert err(Doc, {"items": [], "extra": {"k": "v"}}) == 'extra.k: invalid type: string "v", expected an integer'
    assert err(Doc, {"items": [], "mode": "c"}) == 'mode: invalid value: string "c", expected one of `a`, `b`'
    assert err(Doc, {"items": [{"title": "a", "level": 3}]}) == "items[0].level: invalid value: integer `3`, expected one of `1`, `2`"
    assert err(Doc, {"items": {}}) == "items: invalid type: map, expected a list"
    assert err(Doc, []) == "invalid type: sequence, expected an object (Doc)"
    assert err(Doc, {"items": [], "kind": "x"}).startswith("unknown field `kind`, expected one of `items`, `ratio`, ")


def test_numbers_and_booleans_are_not_confused():
    assert err(int, True) == "invalid type: boolean `true`, expected an integer"
    assert err(int, 1.5) == "invalid type: floating point `1.5`, expected an integer"
    assert err(bool, 0) == "invalid type: integer `0`, expected a boolean"
    assert err(float, False) == "invalid type: boolean `false`, expected a number"
    assert err(Literal[1], True) == "invalid value: boolean `true`, expected one of `1`"


def test_optional_and_unions():
    assert from_json(Optional[int], None) is None
    assert from_json(Optional[int], 3) == 3
    assert from_json(Any, {"x": [1]}) == {"x": [1]}
    assert from_json(int | str, "x") == "x" and from_json(int | str, 2) == 2
    assert err(int | str, 1.5) == "invalid type: floating point `1.5`, expected an integer or a string"
    assert err(Optional[int], "x") == 'invalid type: string "x", expected an integer'


@dataclass
class Loose:
    ignore_unknown_keys: ClassVar[bool] = True
    a: int
    b: Optional[int]


def test_unknown_keys_can_be_ignored_and_optional_fields_default_to_none():
    assert from_json(Loose, {"a": 1, "zzz": 2}) == Loose(a=1, b=None)


def test_a_flatten_field_keeps_every_undeclared_key_like_serde():
    from dataclasses import dataclass, field
    from typing import Any, Dict

    from taylordash_sdk.convert import from_json, to_json
    from taylordash_sdk.schema import schema_for

    @dataclass
    class Loose:
        name: str = ""
        other: Dict[str, Any] = field(default_factory=dict, metadata={"flatten": True})

    got = from_json(Loose, {"name": "a", "b": 1, "__proto__": [2]})
    assert (got.name, got.other) == ("a", {"b": 1, "__proto__": [2]})
    assert to_json(got) == {"name": "a", "b": 1, "__proto__": [2]}
    assert "additionalProperties" not in schema_for(Loose) or schema_for(Loose)["additionalProperties"] is not False
