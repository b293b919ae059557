"""`adr_manager`'s input and output types (the structs of `plugins/adr_manager/src/lib.rs`)."""

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

from service_model import Finding


@dataclass
class AdrManagerInput:
    """Any keys: none is read, each is logged as ignored (`#[serde(flatten)] other: BTreeMap<String, Value>`)."""

    ignore_unknown_keys: ClassVar[bool] = True

    other: Dict[str, Any] = field(default_factory=dict, init=False)
    """The input's keys (set by `adr_manager_py`: the SDK parses declared fields only)."""


@dataclass
class Record:
    number: int
    file: str
    title: str
    status: str
    """As the file says."""
    effective_status: str
    """What the index shows: `superseded by NNNN` when a later record says so."""
    item: Optional[str]
    supersedes: List[int]
    superseded_by: List[int]


@dataclass
class AdrManagerOutput:
    index: str
    records: List[Record]
    problems: List[Finding]
    files: List[str]
