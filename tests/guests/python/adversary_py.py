"""`adversary_py`: the Python twin of `tests/plugins/adversary` (Rust). Its input
names one attack on the sandbox; it reports what it managed to do, so a host
test can assert that every attack is contained in a Python component too.

The attacks are written as a naive Python author would write them: plain
`open`, `os`, `socket`, the SDK's `log` and `exec`, and no error handling,
so an `OSError` reaches the SDK (which returns it as `failed`, naming the
exception, with the traceback logged) and a `MemoryError` or `RecursionError`
traps. Build: `sdk/python/build.sh guests` (into `target/test-plugins/adversary_py.wasm`).
"""

import dataclasses
import encodings.idna  # noqa: F401 (`socket` encodes host names with it; a component holds only what was imported)
import os
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

from taylordash_sdk import Context, InvalidInput, Level, Tool, exec, export, log

try:  # CPython for WASI may build without `_socket`; then `tcp_connect` says so.
    import socket
except ImportError:  # pragma: no cover (native CPython has it)
    socket = None


@dataclass
class Attack:
    """One attack, and what it needs."""

    ignore_unknown_keys: ClassVar[bool] = True  # like the Rust `Attack` (no `deny_unknown_fields`)

    attack: str
    """Which attack to run."""
    port: int = 0
    """A TCP port, for `tcp_connect`."""
    n: int = 0
    """A count, for attacks that repeat."""
    program: str = ""
    """A program, for `exec`."""
    args: "list[str]" = field(default_factory=list)
    """Its arguments, for `exec`."""


@dataclass
class Report:
    """What the attack managed: each result is a subclass with that attack's own keys
    (`report(wrote=True)` serialises as `{"wrote":true}`), as the Rust twin returns a `serde_json::Value`."""

    ignore_unknown_keys: ClassVar[bool] = True  # its schema: any object, not one without keys


def report(**values: Any) -> Report:
    """A `Report` whose JSON is exactly `values`, keys in order."""
    cls = dataclasses.make_dataclass("Report", [(k, Any) for k in values], bases=(Report,))
    return cls(**values)


def recurse(depth: int) -> int:
    return recurse(depth + 1) + 1


class AdversaryPy(Tool):
    """Attacks the sandbox, one attack per call."""

    name = "adversary_py"
    version = "0.1.0"

    def run(self, input: Attack, ctx: Context) -> Report:
        attack = input.attack
        if attack == "read_passwd":
            return report(leaked=open("/etc/passwd").read())
        if attack == "escape_dotdot":
            return report(leaked=open("/workspace/../../../../../../etc/passwd").read())
        if attack == "escape_out_dotdot":
            return report(leaked=open("/out/../../../../../../etc/passwd").read())
        if attack == "symlink_escape":
            os.symlink("../../../../../../etc/passwd", "/out/evil")
            return report(symlink_created=True, leaked=open("/out/evil").read())
        if attack == "symlink_absolute":
            os.symlink("/etc/passwd", "/out/abs")
            return report(symlink_created=True)
        if attack == "write_workspace":
            with open("/workspace/pwned.txt", "w") as f:
                f.write("pwned")
            return report(wrote=True)
        if attack == "write_out":
            os.makedirs("/out/sub", exist_ok=True)
            with open("/out/sub/result.txt", "w") as f:
                f.write("result")
            return report(wrote=["sub/result.txt"])
        if attack == "alloc_2gib":
            chunks = []
            while len(chunks) < 2048:  # 2 GiB, 1 MiB at a time
                chunks.append(bytearray(1 << 20))
            return report(allocated=sum(len(c) for c in chunks))
        if attack == "loop_forever":
            while True:
                pass
        if attack == "recurse":
            sys.setrecursionlimit(1_000_000)
            return report(depth=recurse(0))
        if attack == "huge_output":
            return report(output="x" * (200 << 20))
        if attack == "log_flood":
            for _ in range(10_000_000):
                log(Level.INFO, "x")
            return report(logged=10_000_000)
        if attack == "log_big":
            line = "y" * (64 << 10)
            for _ in range(max(input.n, 1)):
                log(Level.INFO, line)
            return report(logged=input.n)
        if attack == "read_env":
            return report(vars=sorted(os.environ))
        if attack == "tcp_connect":
            if socket is None:
                raise OSError("no socket module in this build")
            conn = socket.create_connection(("127.0.0.1", input.port))
            return report(connected=str(conn.getpeername()))
        if attack == "exec_ungranted":
            out = exec.run(exec.Command("sh", ["-c", "id"]))
            return report(stdout=out.stdout)
        if attack == "exec":
            out = exec.run(exec.Command(input.program, input.args))
            return report(status=out.status, stdout=out.stdout, stderr=out.stderr)
        if attack == "ansi":
            log(Level.WARN, "\x1b[2J\x1b[31mred alert\x1b[0m\nINFO forged line")
            raise RuntimeError("\x1b]0;pwned title\x07 done")
        if attack == "out_big":
            chunk = b"\x07" * (1 << 20)
            written = 0
            with open("/out/big", "wb") as f:
                while written < input.n:
                    take = min(len(chunk), input.n - written)
                    f.write(chunk[:take])
                    written += take
            return report(written=written)
        if attack == "out_many":
            for i in range(input.n):
                with open(f"/out/f{i}", "w") as f:
                    f.write("x")
            return report(files=input.n)
        if attack == "panic":
            raise RuntimeError("adversary panicked on purpose")
        if attack == "ok":
            return report(ok=True)
        raise InvalidInput(f"attack: unknown attack `{attack}`")


export(AdversaryPy)
