"""`taylordash_sdk.component` run natively against componentize-py's generated
bindings of `wit/agent.wit` (world `tool`), with the imports stubbed: checks
the bridge's use of the bindings without building a component."""

import importlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from taylordash_sdk import Context, Level, Retryable, Tool, exec, export, host, log
from taylordash_sdk import tool as tool_module
from taylordash_sdk.build import WIT_DIR, componentize_py

pytestmark = pytest.mark.skipif(
    not (shutil.which("componentize-py") or (Path(sys.executable).parent / "componentize-py").exists()),
    reason="componentize-py is not installed")


@dataclass
class In:
    mode: str


@dataclass
class Out:
    said: str


class Echo(Tool):
    name = "echo"

    def run(self, input: In, ctx: Context) -> Out:
        log(Level.WARN, f"mode {input.mode}")
        if input.mode == "retry":
            raise Retryable("later")
        if input.mode == "bug":
            return {}["missing"]
        if input.mode == "exec":
            try:
                exec.run(exec.Command("git", ["status"]))
            except exec.ExecError as e:
                return Out(f"denied: {e.reason}")
        return Out(f"{input.mode} from {ctx.run_id}")


@pytest.fixture
def bridge(tmp_path, monkeypatch):
    subprocess.run([componentize_py(), "-d", str(WIT_DIR), "-w", "tool", "bindings", str(tmp_path)], check=True,
                   capture_output=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(tool_module, "_exported", [])
    monkeypatch.setattr(host, "_component", None)
    export(Echo)
    from wit_world.imports import exec as wit_exec
    from wit_world.imports import host as wit_host
    calls = []
    monkeypatch.setattr(wit_host, "log", lambda level, message: calls.append((level, message)))

    def refuse(cmd):
        from componentize_py_types import Err
        raise Err(f"exec denied: no grant for `{cmd.program}`")

    monkeypatch.setattr(wit_exec, "run", refuse)
    sys.modules.pop("taylordash_sdk.component", None)
    component = importlib.import_module("taylordash_sdk.component")
    yield component, calls
    sys.modules.pop("taylordash_sdk.component", None)
    for name in [m for m in sys.modules if m == "wit_world" or m.startswith(("wit_world.", "componentize_py"))]:
        sys.modules.pop(name)


def test_describe_and_invoke_through_the_bindings(bridge):
    component, calls = bridge
    from componentize_py_types import Err
    from wit_world.imports import types
    world = component.WitWorld()
    info = world.describe()
    assert isinstance(info, types.ToolInfo) and info.name == "echo"
    ctx = types.Context("run-1", "t", "a", "0" * 32, "0" * 16, 1)
    assert world.invoke('{"mode": "hi"}', ctx) == '{"said":"hi from run-1"}'
    assert calls[0][0].name == "WARN" and calls[0][1] == "mode hi"
    assert world.invoke('{"mode": "exec"}', ctx) == '{"said":"denied: exec denied: no grant for `git`"}'
    for text, case, message in [
        ('{"mode": "retry"}', types.ToolError_Retryable, "later"),
        ("{}", types.ToolError_InvalidInput, "missing field `mode`"),
        ('{"mode": "bug"}', types.ToolError_Failed, "KeyError: 'missing'"),
    ]:
        with pytest.raises(Err) as e:
            world.invoke(text, ctx)
        assert e.value.value == case(message)
    assert calls[-1][0].name == "ERROR" and "Traceback" in calls[-1][1]  # the bug's traceback
