"""Run a program on the host: the WIT `exec` import.

Only programs the host's policy grants run (`taylordash invoke` grants none);
any other call raises `ExecError` with the host's reason. Under the test
harness `exec` is denied the same way unless the test grants a handler.
"""

from dataclasses import dataclass, field
from typing import Optional

from . import host


@dataclass
class Command:
    """A program to run, with its arguments and optional standard input."""

    program: str
    args: "list[str]" = field(default_factory=list)
    stdin: Optional[str] = None


@dataclass
class Output:
    """What a finished program left behind."""

    status: int
    stdout: str
    stderr: str


class ExecError(Exception):
    """The host refused or could not run the program; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def run(cmd: Command) -> Output:
    """Run `cmd`; raises `ExecError` when the host refused or could not run it."""
    return host.backend().exec(cmd)
