"""What the stand-in MCP servers of tests/mcp share: serve one on 127.0.0.1:PORT/mcp
(streamable HTTP) and print READY once it listens, for the tests that start them."""

import asyncio
import sys

import uvicorn


async def _serve(server, port: int, name: str) -> None:
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(web.serve())
    while not web.started:
        if serving.done():
            await serving
            raise SystemExit(f"{name}: could not listen on 127.0.0.1:{port}")
        await asyncio.sleep(0.02)
    print("READY", flush=True)
    await serving


def main(server, name: str) -> None:
    """`python <script> PORT`: serve `server` until killed."""
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        raise SystemExit(f"usage: {sys.argv[0]} PORT")
    asyncio.run(_serve(server, int(sys.argv[1]), name))
