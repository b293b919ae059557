"""`adr_manager`'s input and output types (the structs of `plugins/adr_manager/src/lib.rs`)."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from service_model import Finding


@dataclass
class AdrManagerInput:
    """Any keys: none is read, each is logged as ignored (`#[serde(flatten)] other: BTreeMap<String, Value>`)."""

    other: Dict[str, Any] = field(default_factory=dict, metadata={"flatten": True})
    """Every key of the input (the SDK's flatten field, as serde's)."""


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
