"""A native test harness: run a `Tool` under plain pytest, without wasm.

The harness stands in for the sandbox: temporary directories replace
`/workspace` and `/out`, `log` and `emit` are captured, and `exec` is denied
unless the test grants a handler, as the host denies it without a grant.
Input goes through JSON text exactly as the host sends it, so a parse error
reads as the component's would.

    h = Harness(Hello())
    h.write_workspace("names.txt", "Ada\\n")
    out = h.invoke({"name": "Ada"})                      # an Output instance
    assert out.greeting == "Hello, Ada!"
    with pytest.raises(InvalidInput, match="missing field `name`"):
        h.invoke({})
    h.invoke({"name": "Ada"}, envelope=Envelope(previous={"files": []}))

An exception other than a `ToolError` propagates as it is (the component
returns it as `failed`), so a test sees the real traceback.
"""

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Union

from . import host
from .convert import from_json, to_json
from .envelope import Envelope
from .exec import Command, ExecError, Output
from .host import Level
from .tool import Context, Tool, ToolInfo, describe, invoke, spec

ExecHandler = Callable[[Command], Output]


class Harness:
    """One sandbox stand-in per test; host calls during `invoke` go to it."""

    def __init__(self, tool: Tool):
        self.tool = tool
        self._workspace = tempfile.TemporaryDirectory(prefix="taylordash-workspace-")
        self._out = tempfile.TemporaryDirectory(prefix="taylordash-out-")
        self.workspace = Path(self._workspace.name)
        """The directory standing in for `/workspace`."""
        self.out = Path(self._out.name)
        """The directory standing in for `/out`."""
        self.logs: "list[tuple[Level, str]]" = []
        self.events: "list[tuple[str, str]]" = []
        self.exec_calls: "list[Command]" = []
        self._exec: Optional[ExecHandler] = None

    def describe(self) -> ToolInfo:
        return describe(self.tool)

    def write_workspace(self, rel: str, contents: Union[str, bytes]) -> Path:
        """Put a file into the workspace (parents created)."""
        path = self.workspace / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(contents, str):
            path.write_text(contents, encoding="utf-8")
        else:
            path.write_bytes(contents)
        return path

    def copy_into_workspace(self, src: Union[str, Path]) -> None:
        """Copy the directory tree `src` (e.g. a checked-in fixture) into the workspace."""
        shutil.copytree(src, self.workspace, dirs_exist_ok=True)

    def out_file(self, rel: str) -> str:
        """The text of a file the tool wrote into the out dir."""
        return (self.out / rel).read_text(encoding="utf-8")

    def grant_exec(self, handler: ExecHandler) -> None:
        """Grant `exec`: `handler(cmd)` answers each call (raise `ExecError` to refuse one)."""
        self._exec = handler

    def invoke(self, input: Any, *, envelope: Optional[Envelope] = None, ctx: Optional[Context] = None) -> Any:
        """Invoke the tool with `input` (a dict or the input dataclass) and an optional
        envelope beside it; returns the output dataclass or raises the `ToolError`."""
        value = to_json(input)
        if envelope is not None:
            if not isinstance(value, dict):
                raise TypeError("Harness.invoke: the input must be an object to carry an envelope")
            value = envelope.wrap(value)
        text = self.invoke_json(json.dumps(value), ctx=ctx)
        return from_json(spec(self.tool).output, json.loads(text))

    def invoke_json(self, text: str, *, ctx: Optional[Context] = None) -> str:
        """Invoke the tool with raw JSON text; returns its raw JSON output."""
        token = host._current.set(self)
        try:
            return invoke(self.tool, text, ctx)
        finally:
            host._current.reset(token)

    # The backend `taylordash_sdk.host` calls while `invoke` runs.

    def log(self, level: Level, message: str) -> None:
        self.logs.append((level, message))

    def emit(self, topic: str, payload: str) -> None:
        self.events.append((topic, payload))

    def exec(self, cmd: Command) -> Output:
        self.exec_calls.append(dataclasses.replace(cmd, args=list(cmd.args)))
        if self._exec is None:
            raise ExecError(f"exec denied: the tool has no exec grant (program `{cmd.program}`)")
        return self._exec(cmd)

    def close(self) -> None:
        """Remove the temporary directories (also done when the harness is collected)."""
        self._workspace.cleanup()
        self._out.cleanup()

    def __enter__(self) -> "Harness":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
