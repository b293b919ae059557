"""MCP scenario driver on the official Python SDK (PyPI `mcp`, pinned in requirements.txt).

Owns: connecting over stdio or streamable HTTP, running a JSON array of steps read from stdin,
and printing one JSON line per step (README.md has the step format). It knows nothing about
TaylorDash; the Rust integration tests run it as a subprocess and read its lines.

  python client.py [--mode auto|legacy|2026-07-28] stdio -- <command> [args...]
  python client.py [--mode ...] http <url> [--token TOKEN] [--header 'Name: value']...

--mode is the SDK's own connect policy: auto (default) probes server/discover and falls back to
the initialize handshake; legacy forces initialize (2025-11-25); 2026-07-28 requires discover.
Exit 0 when the steps ran, 3 when the session died, 2 on bad input.
"""

import argparse
import json
import os
import shutil
import sys
import time
from contextlib import AsyncExitStack

import anyio
import httpx2
import mcp_types as types
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client._probe import negotiate_auto  # the SDK's mode="auto" policy, as mcp.Client runs it
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import listen
from mcp_types.version import MODERN_PROTOCOL_VERSIONS


def emit(obj):
    print(json.dumps(obj), flush=True)


def leaf(exc):
    """The one real exception inside (nested) single-member exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class Http:
    """Last HTTP error status answering a POST (a message sent) in this step. The SDK turns a
    non-2xx answer into an MCPError (-32603 "Server returned an error response", or the body's
    JSON-RPC error) and drops the status, so an httpx2 response hook keeps it for the line."""

    status = None

    @classmethod
    async def hook(cls, response):
        if response.status_code >= 400 and response.request.method == "POST":
            cls.status = response.status_code


def error_line(exc, **fields):
    exc = leaf(exc)
    fields["error"] = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MCPError):
        fields["code"] = exc.code
    status = getattr(getattr(exc, "response", None), "status_code", None) or Http.status
    if status is not None:
        fields["http_status"] = status
    return fields


def session_closed(exc):
    """The SDK's dispatcher fails every waiter with this once the transport is gone (the same
    code with another message is a single request's stream failing, with the session alive)."""
    exc = leaf(exc)
    return isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED and exc.message == "Connection closed"


def dump(model):
    return model.model_dump(by_alias=True, mode="json", exclude_none=True) if model is not None else None


class Driver:
    step = None  # index of the step running, named on a "session" error line

    def __init__(self, session):
        self.session = session
        self.list_changed = 0  # tools/list_changed notifications not yet consumed by a wait step
        self.changed = anyio.Event()

    async def on_message(self, message):
        if isinstance(message, types.ToolListChangedNotification):
            self.list_changed += 1
            self.changed.set()

    async def keep_listening(self, *, task_status=anyio.TASK_STATUS_IGNORED):
        """2026-07-28 delivers list changes only on a subscriptions/listen stream; hold one open.
        Its events reach on_message through the session's message handler like legacy ones."""
        started = False
        try:
            async with listen(self.session, tools_list_changed=True) as sub:
                task_status.started()
                started = True
                async for _ in sub:
                    pass
        except Exception as exc:
            print(f"client.py: subscriptions/listen ended: {leaf(exc)!r}", file=sys.stderr, flush=True)
        if not started:
            task_status.started()

    async def list_tools(self, step):
        tools, cursor = [], None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self.session.list_tools(params=params)
            tools += [dump(t) for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        keys = ("name", "description", "inputSchema", "outputSchema", "annotations")
        return {"tools": [{k: t.get(k) for k in keys} for t in tools]}

    async def call(self, step):
        progress = []

        async def on_progress(value, total, message):
            progress.append({"progress": value, "total": total, "message": message})

        call = self.session.call_tool(
            step["tool"],
            step.get("arguments") or {},
            read_timeout_seconds=step.get("timeout_s"),
            progress_callback=on_progress if step.get("progress") else None,
        )
        start = time.monotonic()
        # Leaving this scope mid-call makes the SDK's dispatcher send notifications/cancelled for
        # the request (at 2026-07-28 over HTTP the transport aborts the request's POST instead).
        cancel_after = step.get("cancel_after_ms")
        with anyio.move_on_after(cancel_after / 1000 if cancel_after is not None else None) as scope:
            result = await call
        elapsed = round((time.monotonic() - start) * 1000)
        if scope.cancelled_caught:
            return {"cancelled": True, "elapsed_ms": elapsed, "progress": progress}
        content = [c.text if isinstance(c, types.TextContent) else dump(c) for c in result.content]
        out = {"isError": bool(result.is_error), "structuredContent": result.structured_content}
        out.update(content=content, elapsed_ms=elapsed, progress=progress)
        if cancel_after is not None:
            out["cancelled"] = False
        return out

    async def wait_list_changed(self, step):
        start = time.monotonic()
        with anyio.move_on_after(step.get("timeout_s", 5)):
            while not self.list_changed:
                self.changed = anyio.Event()
                await self.changed.wait()
        count, self.list_changed = self.list_changed, 0  # one wait consumes every arrival so far
        return {"arrived": count > 0, "count": count, "elapsed_ms": round((time.monotonic() - start) * 1000)}

    async def copy(self, step):
        shutil.copy(step["from"], step["to"])
        return {"ok": True}

    async def remove(self, step):
        path = step["path"]
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return {"ok": True}

    async def sleep(self, step):
        await anyio.sleep(step["ms"] / 1000)
        return {"ok": True}


async def run(args, steps):
    async with AsyncExitStack() as stack:
        if args.transport == "stdio":
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=dict(os.environ))
            streams = stdio_client(params)
        else:
            headers = dict(h.split(":", 1) for h in args.header)
            headers = {k.strip(): v.strip() for k, v in headers.items()}
            if args.token:
                headers["Authorization"] = f"Bearer {args.token}"
            http = httpx2.AsyncClient(
                headers=headers,
                timeout=httpx2.Timeout(30, read=300),
                event_hooks={"response": [Http.hook]},
            )
            await stack.enter_async_context(http)
            streams = streamable_http_client(args.url, http_client=http)
        read, write = await stack.enter_async_context(streams)
        driver = Driver(None)
        session = ClientSession(read, write, message_handler=driver.on_message)
        driver.session = await stack.enter_async_context(session)
        try:
            if args.mode == "legacy":
                await session.initialize()
            elif args.mode == "auto":
                await negotiate_auto(session)
            else:
                await session.discover()
        except Exception as exc:
            emit(error_line(exc, op="initialize"))
            return 3
        emit(
            {
                "op": "initialize",
                "protocolVersion": session.protocol_version,
                "serverInfo": dump(session.server_info),
                "capabilities": dump(session.server_capabilities),
            }
        )
        tg = await stack.enter_async_context(anyio.create_task_group())
        if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await tg.start(driver.keep_listening)
        for i, step in enumerate(steps):
            op, Driver.step = step.get("op"), i
            Http.status = None
            try:
                handler = getattr(driver, op, None) if op in OPS else None
                if handler is None:
                    raise ValueError(f"unknown op {op!r}")
                emit({"step": i, "op": op, **await handler(step)})
            except Exception as exc:
                emit(error_line(exc, step=i, op=op))
                if session_closed(exc):
                    return 3
        tg.cancel_scope.cancel()
    return 0


OPS = {"list_tools", "call", "wait_list_changed", "copy", "remove", "sleep"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", default="auto", choices=["auto", "legacy", "2026-07-28"])
    sub = p.add_subparsers(dest="transport", required=True)
    s = sub.add_parser("stdio")
    s.add_argument("command", nargs=argparse.REMAINDER)
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("--token")
    h.add_argument("--header", action="append", default=[])
    args = p.parse_args()
    if args.transport == "stdio" and not [c for c in args.command if c != "--"]:
        p.error("stdio needs a command after --")
    try:
        steps = json.loads(sys.stdin.read() or "[]")
        assert isinstance(steps, list)
    except (ValueError, AssertionError):
        print("client.py: stdin must be a JSON array of steps", file=sys.stderr)
        sys.exit(2)
    try:
        code = anyio.run(run, args, steps)
    except BaseException as exc:  # the transport or session died under us
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        emit(error_line(exc, op="session", step=Driver.step))
        code = 3
    sys.exit(code)


if __name__ == "__main__":
    main()
