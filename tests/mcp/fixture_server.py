"""Throwaway MCP server for the driver self-test (selftest.sh), on the official Python SDK's
MCPServer (mcp 2.x's name for FastMCP). Not part of TaylorDash: it only gives client.py and
client.mjs something real to talk to.

  python fixture_server.py stdio [--bool-schema]
  python fixture_server.py http [--token T] [--bool-schema]   # prints its URL on stdout, serves /mcp

Tools: ls (output schema), slow (progress, counts cancellations), toggle_extra (adds/removes the
tool "extra" and announces tools/list_changed), stats (what the server saw), crash (exits). --bool-schema gives
ls an output schema with a boolean property schema ("model": true), as plugins may declare.
"""

import argparse
import os
import socket
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel
from starlette.responses import JSONResponse

seen = {"cancelled": 0, "completed": 0}


class Listing(BaseModel):
    files: list[str]


class Stats(BaseModel):
    cancelled: int
    completed: int


class Fixture(MCPServer):
    bool_schema = False

    async def list_tools(self):
        tools = await super().list_tools()
        for tool in tools:
            if self.bool_schema and tool.name == "ls" and tool.output_schema:
                tool.output_schema["properties"]["model"] = True
        return tools


mcp = Fixture("fixture", version="1.0.0")


@mcp.tool(description="List the file names in a directory")
def ls(path: str) -> Listing:
    return Listing(files=sorted(os.listdir(path)))


@mcp.tool(description="Sleep `steps` times `delay_ms`, reporting progress after each step")
async def slow(ctx: Context, steps: int = 5, delay_ms: int = 200) -> str:
    try:
        for i in range(steps):
            await anyio.sleep(delay_ms / 1000)
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
    except anyio.get_cancelled_exc_class():
        seen["cancelled"] += 1
        print(f"fixture: slow cancelled (request {ctx.request_id})", file=sys.stderr, flush=True)
        raise
    seen["completed"] += 1
    return f"slept {steps}x{delay_ms}ms"


def extra() -> str:
    return "extra"


@mcp.tool(description="Add the tool 'extra' if absent, else remove it; announce tools/list_changed")
async def toggle_extra(ctx: Context) -> str:
    names = {t.name for t in await mcp.list_tools()}
    if "extra" in names:
        mcp.remove_tool("extra")
    else:
        mcp.add_tool(extra, description="appears and disappears")
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        await ctx.notify_tools_changed()  # 2026-07-28: delivered on subscriptions/listen streams
    else:
        await ctx.session.send_tool_list_changed()  # handshake era: unsolicited notification
    return "removed" if "extra" in names else "added"


@mcp.tool(description="Exit the server process at once, so a client sees its session die")
def crash() -> str:
    os._exit(1)


@mcp.tool(description="What this server saw so far")
def stats() -> Stats:
    return Stats(**seen)


def require_bearer(app, token):
    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            if auth != f"Bearer {token}":
                deny = JSONResponse({"error": "unauthorized"}, 401, {"WWW-Authenticate": "Bearer"})
                return await deny(scope, receive, send)
        await app(scope, receive, send)

    return guarded


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("transport", choices=["stdio", "http"])
    p.add_argument("--token")
    p.add_argument("--bool-schema", action="store_true")
    a = p.parse_args()
    mcp.bool_schema = a.bool_schema
    if a.transport == "stdio":
        mcp.run("stdio")
        return
    app = mcp.streamable_http_app()
    if a.token:
        app = require_bearer(app, a.token)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    anyio.run(lambda: server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
