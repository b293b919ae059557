"""Dataclass to JSON Schema (draft 2020-12), shaped like the Rust SDK's.

`schema_for(T)` gives what `describe` returns for an input or output type:
the root dataclass inline (`title`, `type: object`, `properties`,
`required`, `additionalProperties: false` unless the class ignores unknown
keys), nested dataclasses under `$defs` behind `$ref`, `Optional[T]` as
`"type": [T, "null"]`. Descriptions come from the class docstring and, per
field, from `metadata={"description": ...}`, a string in `Annotated[T, "..."]`
or the string literal right below the field (read from the source when the
module's source is available; the component build imports the tool with its
source present, so these land in `describe`).
"""

import ast
import dataclasses
import enum
import inspect
import textwrap
import typing
from typing import Any, Literal

from .convert import _UNION_TYPES, fields_of, ignores_unknown_keys, strip_annotated, to_json

DRAFT = "https://json-schema.org/draft/2020-12/schema"

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def schema_for(cls: type) -> dict:
    """The JSON Schema of dataclass `cls`, as a dict."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"taylordash-sdk: {cls!r} is not a dataclass")
    defs = _Defs()
    root = {"$schema": DRAFT, "title": cls.__name__, **_object_schema(cls, defs)}
    if defs:
        root["$defs"] = dict(defs)
    return root


def class_doc(cls: type) -> "str | None":
    """The docstring the author wrote (not the one `@dataclass` makes up)."""
    doc = cls.__dict__.get("__doc__")
    if not doc or (dataclasses.is_dataclass(cls) and doc.startswith(cls.__name__ + "(")):
        return None
    return inspect.cleandoc(doc)


def field_docs(cls: type) -> "dict[str, str]":
    """`{field: docstring}` from string literals under annotated fields."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for stmt, nxt in zip(body, body[1:]):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _object_schema(cls: type, defs: dict) -> dict:
    schema: dict = {"type": "object"}
    doc = class_doc(cls)
    if doc:
        schema["description"] = doc
    docs = field_docs(cls)
    props, required = {}, []
    for f in fields_of(cls):
        prop = _schema(f.type, defs)
        description = f.description or docs.get(f.name)
        if description:
            prop = {"description": description, **prop}  # beside a `$ref` too (2020-12 allows it)
        if f.default is not dataclasses.MISSING:
            prop["default"] = to_json(f.default)
        props[f.key] = prop
        if f.required:
            required.append(f.key)
    schema["properties"] = props
    if required:
        schema["required"] = required
    if not ignores_unknown_keys(cls):
        schema["additionalProperties"] = False
    return schema


def _schema(tp: Any, defs: dict) -> dict:
    tp, notes = strip_annotated(tp)
    schema = _bare_schema(tp, defs)
    note = next((n for n in notes if isinstance(n, str)), None)
    return {"description": note, **schema} if note else schema


def _bare_schema(tp: Any, defs: dict) -> dict:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return {}
    if tp is None:
        return {"type": "null"}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    if tp is list or origin is list:
        return {"type": "array", "items": _schema(args[0], defs)} if args else {"type": "array"}
    if tp is dict or origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1], defs)} if len(args) == 2 else {"type": "object"}
    if origin in _UNION_TYPES:
        return _union_schema(args, defs)
    if origin is Literal:
        return _enum_schema(list(args))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema([m.value for m in tp])
    if dataclasses.is_dataclass(tp):
        return _ref(tp, defs)
    raise TypeError(f"taylordash-sdk: no JSON Schema for {tp!r}")


def _union_schema(args: tuple, defs: dict) -> dict:
    nullable = type(None) in args
    members = [_schema(a, defs) for a in args if a is not type(None)]
    if len(members) == 1 and nullable:
        only = members[0]
        if "enum" in only:
            return {"enum": only["enum"] + [None]}
        if isinstance(only.get("type"), str):
            return {**only, "type": [only["type"], "null"]}
    if nullable:
        members.append({"type": "null"})
    return {"anyOf": members}


def _enum_schema(values: list) -> dict:
    kinds = {_SIMPLE.get(type(v)) for v in values}
    schema: dict = {"enum": values}
    if len(kinds) == 1 and None not in kinds:
        schema = {"type": kinds.pop(), **schema}
    return schema


class _Defs(dict):
    """`$defs` under construction, with the class behind each name."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: "dict[str, type]" = {}


def _ref(cls: type, defs: _Defs) -> dict:
    name = cls.__name__
    owner = defs.owners.setdefault(name, cls)
    if owner is not cls:
        raise TypeError(f"taylordash-sdk: two dataclasses named {name} ({owner.__module__}, {cls.__module__})")
    if name not in defs:
        defs[name] = {}  # placeholder: a recursive type refers to itself
        defs[name] = _object_schema(cls, defs)
    return {"$ref": f"#/$defs/{name}"}
