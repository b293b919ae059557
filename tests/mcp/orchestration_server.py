"""A local MCP server for the orchestrator's integration points, for tests.

An MCP server (the official Python SDK, `mcp` pinned in requirements.txt)
over the streamable HTTP transport on 127.0.0.1:<port>/mcp, the kind of
server `mcp_servers.json` names and the `mcp_call` plugin calls. Its tools
answer with plain text (no structured content):

- templates(kind): `template for <kind>`, at once;
- validate(seconds=0): sleeps `seconds`, then `validated after <seconds>s`
  (for timeouts and slow integration points);
- broken(): always a tool error (isError), text `broken on purpose`.

Usage: python orchestration_server.py PORT   (prints READY once it listens)
"""

import asyncio

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

import standin

server = MCPServer("orchestration-stand-in", log_level="WARNING")


@server.tool(name="templates", structured_output=False)
def templates(kind: str) -> str:
    """The template for a kind of artifact."""
    return f"template for {kind}"


@server.tool(name="validate", structured_output=False)
async def validate(seconds: float = 0) -> str:
    """Validate, taking `seconds` seconds."""
    await asyncio.sleep(max(seconds, 0))
    return f"validated after {seconds:g}s"


@server.tool(name="broken", structured_output=False)
def broken() -> str:
    """Always fails: the result is a tool error (isError)."""
    raise ToolError("broken on purpose")


if __name__ == "__main__":
    standin.main(server, "orchestration stand-in")
