"""The host's imports and the sandbox's two directories, as plain functions.

Inside a component they reach the `host` import and the preopened
`/workspace` (read-only) and `/out` (read-write, merged into the workspace
after a successful call). Natively they reach the `testing.Harness` running
the current call, which captures logs and events and stands in temporary
directories. Call them only while a tool runs.
"""

import contextvars
import enum
from pathlib import Path, PurePosixPath
from typing import Any, Optional, Union

WORKSPACE = "/workspace"
"""Where the sandbox preopens the run's workspace, read-only."""
OUT = "/out"
"""Where the sandbox preopens the task's fresh staging directory, read-write."""


class Level(enum.IntEnum):
    """Severity of a `log` line (the WIT `level` enum, in its order)."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


# What serves the calls: the harness running the current call, else the
# component's imports (set by `taylordash_sdk.component` when it is loaded).
_current: "contextvars.ContextVar[Optional[Any]]" = contextvars.ContextVar("taylordash_backend", default=None)
_component: Optional[Any] = None


def backend() -> Any:
    found = _current.get() or _component
    if found is None:
        raise RuntimeError("taylordash-sdk: host functions called natively outside a testing.Harness call")
    return found


def log(level: Level, message: str) -> None:
    """Log a line through the host; its bytes count against the log quota."""
    backend().log(Level(level), message)


def emit(topic: str, payload: str) -> None:
    """Emit an event on the run's bus (`topic` is relative to the run)."""
    backend().emit(topic, payload)


def workspace_dir() -> Path:
    """`/workspace` (a temporary directory under the test harness)."""
    return backend().workspace


def out_dir() -> Path:
    """`/out` (a temporary directory under the test harness)."""
    return backend().out


def _inside(base: Path, rel: str) -> Path:
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ValueError(f"`{rel}` is not a relative path inside {base}")
    return base.joinpath(*parts)


def read_workspace(rel: str) -> str:
    """The UTF-8 text of the workspace file `rel` (OSError when it is missing)."""
    return _inside(workspace_dir(), rel).read_text(encoding="utf-8")


def read_workspace_bytes(rel: str) -> bytes:
    """The bytes of the workspace file `rel`."""
    return _inside(workspace_dir(), rel).read_bytes()


def write_out(rel: str, data: Union[str, bytes]) -> Path:
    """Write `data` (text as UTF-8) to `out_dir()/rel`, parents created; returns the path."""
    path = _inside(out_dir(), rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path
