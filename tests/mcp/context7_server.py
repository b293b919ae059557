"""A local stand-in for the Context7 documentation service, for tests.

An MCP server (the official Python SDK, `mcp` pinned in requirements.txt)
over the streamable HTTP transport on 127.0.0.1:<port>/mcp, serving exactly
Context7's two tools over the small corpus in context7_corpus/:

- resolve-library-id(libraryName): the libraries matching the name, in
  Context7's text format (Title / Context7-compatible library ID /
  Description blocks separated by ----------), best match first;
- get-library-docs(context7CompatibleLibraryID, topic?, tokens?): the
  library's Markdown, narrowed to the sections mentioning the topic and cut
  to about `tokens` tokens (4 characters each). An unknown id is a tool
  error (isError).

Usage: python context7_server.py PORT   (prints READY once it listens)
"""

import json
import pathlib

from mcp.server.mcpserver import MCPServer

import standin

CORPUS = pathlib.Path(__file__).resolve().parent / "context7_corpus"
LIBRARIES = json.loads((CORPUS / "index.json").read_text())["libraries"]

server = MCPServer("context7-stand-in", log_level="WARNING")


def matches(name: str) -> list[dict]:
    """Libraries for `name`: an exact name first, then substrings of id, title or names."""
    wanted = name.strip().lower()
    if not wanted:
        return []
    exact = [lib for lib in LIBRARIES if wanted in lib["names"]]
    loose = [
        lib
        for lib in LIBRARIES
        if lib not in exact
        and (wanted in lib["id"].lower() or wanted in lib["title"].lower() or any(wanted in n for n in lib["names"]))
    ]
    return exact + loose


@server.tool(name="resolve-library-id")
def resolve_library_id(libraryName: str) -> str:
    """Resolve a package or product name to a Context7-compatible library ID."""
    found = matches(libraryName)
    if not found:
        return f'No libraries found matching "{libraryName}".'
    blocks = []
    for lib in found:
        words = len((CORPUS / lib["file"]).read_text().split())
        blocks.append(
            f"- Title: {lib['title']}\n"
            f"- Context7-compatible library ID: {lib['id']}\n"
            f"- Description: {lib['description']}\n"
            f"- Code Snippets: {words // 40}"
        )
    return (
        "Available Libraries (top matches):\n\n"
        "Each result includes:\n"
        "- Library ID: Context7-compatible identifier (format: /org/project)\n"
        "- Name: Library or package name\n"
        "- Description: Short summary\n\n"
        "----------\n\n" + "\n----------\n".join(blocks)
    )


def narrow(text: str, topic: str | None) -> str:
    """The introduction and the `## ` sections mentioning a word of `topic` (all when none does)."""
    if not topic or not topic.strip():
        return text
    intro, *sections = text.split("\n## ")
    words = [w.lower() for w in topic.split() if w.strip()]
    chosen = [s for s in sections if any(w in s.lower() for w in words)]
    if not chosen:
        return text
    return "\n## ".join([intro, *chosen])


def cut(text: str, tokens: int) -> str:
    """At most about `tokens` tokens (4 characters each), at a line end."""
    limit = max(tokens, 1) * 4
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head[: head.rfind("\n")] if "\n" in head else head


@server.tool(name="get-library-docs")
def get_library_docs(context7CompatibleLibraryID: str, topic: str | None = None, tokens: int = 5000) -> str:
    """Fetch up-to-date documentation for a library by its Context7-compatible ID."""
    for lib in LIBRARIES:
        if lib["id"] == context7CompatibleLibraryID:
            text = (CORPUS / lib["file"]).read_text()
            return cut(narrow(text, topic), tokens)
    raise ValueError(
        f"The library you are trying to access does not exist: {context7CompatibleLibraryID}. "
        "Use resolve-library-id to find a valid ID."
    )


if __name__ == "__main__":
    standin.main(server, "context7 stand-in")
