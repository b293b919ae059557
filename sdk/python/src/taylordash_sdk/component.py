"""The bridge to componentize-py: the `WitWorld` class the component exports.

Only a component build imports this module: `wit_world` and
`componentize_py_types` are the bindings componentize-py generates from
`wit/agent.wit`, world `tool`. Importing it routes `log`, `emit`, `exec` and
the two directories to the host's imports, and checks that a tool was
exported. A `ToolError` becomes the matching `tool-error` case; any other
exception becomes `failed` naming its type, with the traceback logged at
error level. `MemoryError` and `RecursionError` are left to trap, so the
host reports the quota that caused them.

Every module a tool needs must be imported at the top level of a module: the
component holds only what was imported while it was built.
"""

import traceback
from pathlib import Path

import wit_world
from componentize_py_types import Err
from wit_world.imports import exec as wit_exec
from wit_world.imports import host as wit_host
from wit_world.imports import types

from . import host
from .errors import ToolError
from .exec import Command, ExecError, Output
from .tool import Context, describe, exported, invoke

_ERRORS = {
    "invalid-input": types.ToolError_InvalidInput,
    "failed": types.ToolError_Failed,
    "retryable": types.ToolError_Retryable,
}


class _Imports:
    """The `host` backend inside a component: the WIT imports and the preopens."""

    workspace = Path(host.WORKSPACE)
    out = Path(host.OUT)

    def log(self, level: host.Level, message: str) -> None:
        wit_host.log(wit_host.Level(int(level)), message)

    def emit(self, topic: str, payload: str) -> None:
        wit_host.emit(topic, payload)

    def exec(self, cmd: Command) -> Output:
        try:
            out = wit_exec.run(wit_exec.Command(cmd.program, list(cmd.args), cmd.stdin))
        except Err as e:
            raise ExecError(str(e.value)) from None
        return Output(out.status, out.stdout, out.stderr)


host._component = _Imports()
_TOOL = exported()


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.ToolInfo:
        info = describe(_TOOL)
        return types.ToolInfo(info.name, info.version, info.description, info.input_schema, info.output_schema)

    def invoke(self, input: str, ctx: types.Context) -> str:
        context = Context(ctx.run_id, ctx.task_id, ctx.agent_id, ctx.trace_id, ctx.span_id, ctx.attempt)
        try:
            return invoke(_TOOL, input, context)
        except ToolError as e:
            raise Err(_ERRORS[e.kind](e.message)) from None
        except (MemoryError, RecursionError):
            raise
        except Exception as e:  # noqa: BLE001 (a tool's bug is a `failed` call, not a trap)
            host.log(host.Level.ERROR, traceback.format_exc())
            raise Err(types.ToolError_Failed(f"{type(e).__name__}: {e}")) from None
