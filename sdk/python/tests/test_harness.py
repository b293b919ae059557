"""`testing.Harness`: the sandbox stand-in (directories, logs, events, exec)."""

from dataclasses import dataclass
from typing import Optional

import pytest

from taylordash_sdk import (Context, Envelope, Failed, Level, Tool, emit, exec, log, out_dir, read_workspace,
                            workspace_dir, write_out)
from taylordash_sdk.testing import Harness


@dataclass
class In:
    file: str
    run: "Optional[list[str]]" = None


@dataclass
class Out:
    lines: int
    status: "int | None" = None


class Lines(Tool):
    name = "lines"

    def run(self, input: In, ctx: Context) -> Out:
        text = read_workspace(input.file)
        write_out("count/n.txt", f"{len(text.splitlines())}\n")
        log(Level.INFO, f"{input.file} read")
        emit("lines/done", input.file)
        status = None
        if input.run:
            try:
                status = exec.run(exec.Command(input.run[0], input.run[1:], stdin=text)).status
            except exec.ExecError as e:
                raise Failed(e.reason) from None
        assert workspace_dir().is_dir() and out_dir().is_dir()
        return Out(len(text.splitlines()), status)


def test_directories_logs_and_events():
    h = Harness(Lines())
    h.write_workspace("notes/a.txt", "one\ntwo\n")
    assert h.invoke({"file": "notes/a.txt"}) == Out(2)
    assert h.out_file("count/n.txt") == "2\n"
    assert h.logs == [(Level.INFO, "notes/a.txt read")]
    assert h.events == [("lines/done", "notes/a.txt")]


def test_exec_is_denied_until_granted():
    h = Harness(Lines())
    h.write_workspace("a.txt", "x\n")
    with pytest.raises(Failed, match=r"^failed: exec denied: the tool has no exec grant \(program `wc`\)$"):
        h.invoke({"file": "a.txt", "run": ["wc", "-l"]})
    h.grant_exec(lambda cmd: exec.Output(status=7, stdout="", stderr=""))
    assert h.invoke({"file": "a.txt", "run": ["wc", "-l"]}).status == 7
    assert h.exec_calls[-1] == exec.Command("wc", ["-l"], "x\n")


def test_envelope_and_fixtures(tmp_path):
    seen = []

    class Peek(Lines):
        def run(self, input: In, ctx: Context) -> Out:
            seen.append(ctx.envelope.previous)
            return super().run(input, ctx)

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_text("a\nb\nc\n")
    with Harness(Peek()) as h:
        h.copy_into_workspace(tmp_path)
        assert h.invoke({"file": "sub/f.txt"}, envelope=Envelope(previous={"k": 1})).lines == 3
    assert seen == [{"k": 1}]
    assert not h.workspace.exists()


def test_paths_stay_inside_and_errors_propagate():
    h = Harness(Lines())
    with pytest.raises(ValueError, match="is not a relative path inside"):
        h.invoke({"file": "../x"})
    with pytest.raises(FileNotFoundError):  # not a ToolError: the test sees it as it is
        h.invoke({"file": "missing.txt"})


def test_host_calls_outside_a_call_are_refused():
    with pytest.raises(RuntimeError, match="outside a testing.Harness call"):
        log(Level.INFO, "x")
