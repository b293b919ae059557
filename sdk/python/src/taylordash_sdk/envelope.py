"""The task envelope: the keys the orchestrator adds beside a tool's own input.

`task`, `previous`, `feedback` and `shared_context` sit at the top level of
the input object (`protocol/src/envelope.rs`, `protocol/schemas/envelope.json`).
The SDK calls `split` before it parses the tool's own input, so the input
dataclass never declares them and keeps refusing unknown keys; the tool reads
them as `ctx.envelope`.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from .convert import fields_of, from_json, to_json
from .errors import InvalidInput

KEYS = ("task", "previous", "feedback", "shared_context")
"""The top-level input keys the envelope owns; no tool input may use them."""


@dataclass
class TaskInfo:
    """Where a call sits in a run; every field is set when the orchestrator runs a tool."""

    ignore_unknown_keys: ClassVar[bool] = True

    run_id: str = ""
    task_id: str = ""
    """`<stage>/<agent>/<tool>#<attempt>`, or `<stage>/gate/<gate>#<attempt>` for a gate."""
    stage: str = ""
    agent: str = ""
    tool: str = ""
    attempt: int = 0
    trace_id: str = ""
    span_id: str = ""


@dataclass
class FailedGate:
    """One gate that failed in the previous attempt of a stage."""

    ignore_unknown_keys: ClassVar[bool] = True

    gate: str
    report: Any


@dataclass
class Feedback:
    """What a retried stage is told about its previous attempt."""

    ignore_unknown_keys: ClassVar[bool] = True

    failed_gates: "list[FailedGate]"

    def gate_names(self) -> "list[str]":
        return [g.gate for g in self.failed_gates]


@dataclass
class Envelope:
    """The keys the orchestrator adds to every tool's input; each is `None` when absent."""

    task: Optional[TaskInfo] = None
    previous: Any = None
    """The previous tool's JSON output in the same agent."""
    feedback: Optional[Feedback] = None
    """The failed gates' reports when the stage is retried."""
    shared_context: "Optional[dict[str, Any]]" = field(default=None)
    """The pipeline's `shared_context` artifacts that exist, by name."""

    @staticmethod
    def split(value: Any) -> "tuple[Envelope, Any]":
        """Take the envelope's keys out of an input object: `(envelope, own input)`.

        A value that is not an object passes through with an empty envelope;
        a `null` key counts as absent; a malformed key raises `InvalidInput`
        naming it (`envelope: feedback: ...`).
        """
        if not isinstance(value, dict):
            return Envelope(), value
        own = {k: v for k, v in value.items() if k not in KEYS}
        present = {k: value[k] for k in KEYS if value.get(k) is not None}
        try:
            return from_json(Envelope, present), own
        except InvalidInput as e:
            raise InvalidInput(f"envelope: {e.message}") from None

    def wrap(self, fields: "dict[str, Any]") -> "dict[str, Any]":
        """The tool's input `fields` with this envelope's keys added."""
        own = {k: v for k, v in to_json(self).items() if v is not None}
        return {**fields, **own}

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))


# Resolve the type hints now: in a component this runs while it is built, so
# no call pays for it.
for _cls in (TaskInfo, FailedGate, Feedback, Envelope):
    fields_of(_cls)
