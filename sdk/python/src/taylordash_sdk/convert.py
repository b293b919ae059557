"""JSON values to typed dataclasses and back.

`from_json(T, value)` checks a parsed JSON value against the type `T` and
builds it: dataclasses (unknown keys refused, missing required fields named),
`str`, `int`, `float`, `bool`, `None`, `list[T]`, `dict[str, T]`,
`Optional[T]` / `T | None`, unions, `Literal[...]`, `Enum`s, `Any`, and
`Annotated[T, ...]`. An error is an `InvalidInput` naming the path of the
offending value (`items[2].title: missing field `title``), as the Rust SDK's.
`to_json(obj)` turns a dataclass tree back into plain JSON values.

Unknown keys are refused unless the class says
`ignore_unknown_keys: ClassVar[bool] = True`, or has a `dict[str, T]` field with
`metadata={"flatten": True}`, which receives every undeclared key (serde's
`#[serde(flatten)]` map; `to_json` writes them back inline). A field's JSON key is its name, or `metadata={"alias": "from"}` for a name
Python cannot spell. A field is required unless it has a default or its type
admits `None` (then a missing key reads as `None`, like serde's `Option`).
"""

import dataclasses
import enum
import types
import typing
from typing import Any, Literal, Union

from .errors import InvalidInput

_UNION_TYPES = (Union, types.UnionType)


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One dataclass field as JSON sees it."""

    name: str
    key: str
    type: Any
    required: bool
    default: Any
    description: "str | None"


_FIELDS: "dict[type, list[FieldInfo]]" = {}


def fields_of(cls: type) -> "list[FieldInfo]":
    """The init fields of dataclass `cls`, type hints resolved (cached)."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls, include_extras=True)
        infos = []
        for f in dataclasses.fields(cls):
            if not f.init or f.metadata.get("flatten"):
                continue
            tp, notes = strip_annotated(hints[f.name])
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            description = f.metadata.get("description") or next((n for n in notes if isinstance(n, str)), None)
            infos.append(FieldInfo(
                name=f.name,
                key=f.metadata.get("alias", f.name),
                type=tp,
                required=not has_default and not admits_none(tp),
                default=f.default,
                description=description,
            ))
        _FIELDS[cls] = infos
    return _FIELDS[cls]


def flatten_field(cls: type) -> "tuple[str, Any] | None":
    """The name and value type of `cls`'s `metadata={"flatten": True}` field, if any."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("flatten"):
            tp, _ = strip_annotated(typing.get_type_hints(cls, include_extras=True)[f.name])
            args = typing.get_args(tp)
            if typing.get_origin(tp) is not dict or len(args) != 2 or args[0] is not str:
                raise TypeError(f"taylordash-sdk: {cls.__name__}.{f.name}: a flatten field is a dict[str, T]")
            return f.name, args[1]
    return None


def ignores_unknown_keys(cls: type) -> bool:
    """Whether `cls` takes unknown keys: `ignore_unknown_keys: ClassVar[bool] = True`
    (serde without `deny_unknown_fields`) or a flatten field that keeps them."""
    return bool(getattr(cls, "ignore_unknown_keys", False)) or flatten_field(cls) is not None


def strip_annotated(tp: Any) -> "tuple[Any, tuple]":
    """`Annotated[T, *notes]` as `(T, notes)`; any other type as `(tp, ())`."""
    if typing.get_origin(tp) is typing.Annotated:
        return tp.__origin__, tp.__metadata__
    return tp, ()


def admits_none(tp: Any) -> bool:
    tp, _ = strip_annotated(tp)
    if tp is None or tp is type(None) or tp is Any:
        return True
    if typing.get_origin(tp) in _UNION_TYPES:
        return any(admits_none(arg) for arg in typing.get_args(tp))
    if typing.get_origin(tp) is Literal:
        return None in typing.get_args(tp)
    return False


def describe_value(value: Any) -> str:
    """serde's wording for what was found: `integer `3``, `string "x"`, `map`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def _expected(tp: Any) -> str:
    tp, _ = strip_annotated(tp)
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
             list: "a list", dict: "an object", type(None): "null"}
    if tp in names:
        return names[tp]
    origin = typing.get_origin(tp)
    if origin in names:
        return names[origin]
    if origin in _UNION_TYPES:
        return " or ".join(_expected(a) for a in typing.get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in tp)
    if dataclasses.is_dataclass(tp):
        return f"an object ({tp.__name__})"
    return getattr(tp, "__name__", str(tp))


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}" if path else message)


def _wrong(path: str, value: Any, tp: Any) -> InvalidInput:
    return _fail(path, f"invalid type: {describe_value(value)}, expected {_expected(tp)}")


def from_json(tp: Any, value: Any, path: str = "") -> Any:
    """`value` (as `json.loads` gives it) checked and built as type `tp`."""
    tp, _ = strip_annotated(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if tp is None or tp is type(None):
        if value is not None:
            raise _wrong(path, value, type(None))
        return None
    if tp in (str, bool):
        if type(value) is not tp:
            raise _wrong(path, value, tp)
        return value
    if tp is int:
        if type(value) is not int:
            raise _wrong(path, value, tp)
        return value
    if tp is float:
        if type(value) not in (int, float):
            raise _wrong(path, value, tp)
        return float(value)
    if tp is list or origin is list:
        if not isinstance(value, list):
            raise _wrong(path, value, tp)
        item = args[0] if args else Any
        return [from_json(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise _wrong(path, value, tp)
        item = args[1] if len(args) == 2 else Any
        return {k: from_json(item, v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if origin in _UNION_TYPES:
        return _from_union(tp, args, value, path)
    if origin is Literal:
        if not any(type(value) is type(a) and value == a for a in args):
            raise _fail(path, f"invalid value: {describe_value(value)}, expected {_expected(tp)}")
        return value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if type(member.value) is type(value) and member.value == value:
                return member
        raise _fail(path, f"invalid value: {describe_value(value)}, expected {_expected(tp)}")
    if dataclasses.is_dataclass(tp):
        return _from_object(tp, value, path)
    raise TypeError(f"taylordash-sdk: cannot read JSON into {tp!r}")


def _from_union(tp: Any, args: tuple, value: Any, path: str) -> Any:
    if value is None and admits_none(tp):
        return None
    members = [a for a in args if a is not type(None)]
    if len(members) == 1:
        return from_json(members[0], value, path)
    for member in members:
        try:
            return from_json(member, value, path)
        except InvalidInput:
            continue
    raise _wrong(path, value, tp)


def _from_object(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _wrong(path, value, cls)
    infos = fields_of(cls)
    keys = [f.key for f in infos]
    unknown = [k for k in value if k not in keys]
    if unknown and not ignores_unknown_keys(cls):
        expected = ", ".join(f"`{k}`" for k in keys) or "no fields"
        one_of = "one of " if len(keys) > 1 else ""
        raise _fail(path, f"unknown field `{unknown[0]}`, expected {one_of}{expected}")
    kwargs = {}
    for f in infos:
        sub = f"{path}.{f.key}" if path else f.key
        if f.key in value:
            kwargs[f.name] = from_json(f.type, value[f.key], sub)
        elif f.required:
            raise _fail(path, f"missing field `{f.key}`")
        elif f.default is dataclasses.MISSING and admits_none(f.type):
            kwargs[f.name] = None
    flat = flatten_field(cls)
    if flat is None:
        return cls(**kwargs)
    name, value_type = flat
    extra = {k: from_json(value_type, value[k], f"{path}.{k}" if path else k) for k in unknown}
    obj = cls(**kwargs)
    setattr(obj, name, extra)  # also when the field is `init=False`
    return obj


def to_json(obj: Any) -> Any:
    """A dataclass tree as plain JSON values (fields in declaration order)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.key: to_json(getattr(obj, f.name)) for f in fields_of(type(obj))}
        flat = flatten_field(type(obj))
        if flat is not None:
            out.update({str(k): to_json(v) for k, v in getattr(obj, flat[0]).items() if k not in out})
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    return obj
