"""The TaylorDash tool SDK for Python: what a tool author imports.

A tool is a `Tool` subclass with dataclass input and output; `export(MyTool)`
at the end of its module names it for the component build (`taylordash-sdk
build`, componentize-py against `wit/agent.wit`, world `tool`). The same code
runs natively under `taylordash_sdk.testing.Harness`.
"""

from . import exec
from .envelope import Envelope, FailedGate, Feedback, TaskInfo
from .errors import Failed, InvalidInput, Retryable, ToolError
from .host import (OUT, WORKSPACE, Level, emit, log, out_dir, read_workspace, read_workspace_bytes,
                   workspace_dir, write_out)
from .schema import schema_for
from .tool import Context, Tool, ToolInfo, describe, export, invoke

__version__ = "0.1.0"

__all__ = [
    "Context", "Envelope", "Failed", "FailedGate", "Feedback", "InvalidInput", "Level", "OUT", "Retryable",
    "TaskInfo", "Tool", "ToolError", "ToolInfo", "WORKSPACE", "describe", "emit", "exec", "export", "invoke",
    "log", "out_dir", "read_workspace", "read_workspace_bytes", "schema_for", "workspace_dir", "write_out",
]
