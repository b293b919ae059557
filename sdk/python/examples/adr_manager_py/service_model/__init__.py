"""The part of `toolkit/service_model` (Rust) that `adr_manager` uses, ported to
Python module by module: `adr` (adr.rs), `source` (source.rs), `serde_yaml`
(what serde_yaml_ng + libyaml do with a front matter), `rust` (std's string
functions where Python's differ); here, from lib.rs: `Finding` (the protocol's),
`paths`, `log_envelope`, `log_ignored`."""

from dataclasses import dataclass
from typing import Any, Dict

from taylordash_sdk import Envelope, Level, log


@dataclass(order=True, frozen=True)
class Finding:
    """`taylordash_protocol::Finding`: ordered (and deduplicated) by file, location, message."""

    file: str
    location: str
    """`line:col`, here always `L:1`."""
    message: str


class paths:
    """`service_model::paths` (model.rs): where things are in the workspace."""

    ADR_DIR = "docs/adr"
    ADR_INDEX = "docs/adr/index.md"


def log_envelope(tool: str, envelope: Envelope) -> None:
    """Log what the orchestrator handed the tool beside its own input: a retry's gate feedback."""
    if envelope.feedback is not None:
        gates = envelope.feedback.gate_names()
        named = ", ".join(gates) if gates else "(unnamed)"
        log(Level.INFO, f"{tool}: retry after failed gate(s) {named}; outputs are derived from the backlog again")


def log_ignored(tool: str, extra: Dict[str, Any]) -> None:
    """Log input keys the tool does not know (so a typo is visible); `extra` as a BTreeMap: sorted."""
    if extra:
        log(Level.DEBUG, f"{tool}: ignoring input key(s) {', '.join(sorted(extra))}")
