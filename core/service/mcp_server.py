"""``sleuth mcp``: Sleuth's search as a Model Context Protocol server on stdin/stdout, for local AI assistants.

Two read-only tools over :class:`core.service.assistant.Assistant`: ``search`` and ``passage``. A failure
the user or the assistant can act on (nothing indexed, a path outside the index) comes back as the tool's
error text; the server keeps serving. While it serves, the SDK points file descriptor 1 at stderr, so
nothing a library prints can corrupt the protocol's stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

# The SDK and pydantic at the top: the tools' annotations are evaluated in this module's namespace. Only
# `sleuth mcp` imports this module.
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from core import __version__
from core.errors import SleuthError
from core.service.assistant import MAX_CONTEXT, MAX_K, Assistant

if TYPE_CHECKING:
    from core.settings import Settings

INSTRUCTIONS = (
    "Sleuth searches the user's own documents (the folders they added to Sleuth), by meaning and by keyword. "
    "Use `search` to find documents and passages, then `passage` to read a passage with the text around it. "
    "Cite results by their path and page or line."
)
SEARCH_HELP = (
    "Search the user's indexed documents. One result per document, best first, each with its best passages "
    '(text, ordinal, page or line). Query syntax: plain words; "exact phrase"; -word (leave out documents '
    "with it); type:pdf (a kind of file); in:NAME (files whose path holds NAME); after:2024-01 and "
    "before:2024-06-30 (modification date)."
)
PASSAGE_HELP = (
    "Read one passage of an indexed document with the passages around it, by the document's path and the "
    "passage's ordinal (both as `search` returned them). Only files in Sleuth's index can be read."
)


def build(db_path: Path, settings: Callable[[], Settings]) -> MCPServer:
    """The server with its two tools, answering for the index at ``db_path``."""
    assistant = Assistant(db_path, settings)
    server: MCPServer = MCPServer(name="sleuth", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )

    @server.tool(description=SEARCH_HELP, annotations=read_only)
    def search(
        query: Annotated[str, Field(description="what to look for, in Sleuth's query syntax")],
        k: Annotated[
            int | None, Field(ge=1, le=MAX_K, description="how many documents (default: Sleuth's setting)")
        ] = None,
        mode: Annotated[
            Literal["hybrid", "bm25", "dense"] | None,
            Field(description="by keywords (bm25), by meaning (dense) or both (hybrid, the default)"),
        ] = None,
    ) -> dict[str, Any]:
        try:
            return assistant.search(query, k, mode)
        except SleuthError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(description=PASSAGE_HELP, annotations=read_only)
    def passage(
        path: Annotated[str, Field(description="the document's path, as search returned it")],
        ordinal: Annotated[int, Field(ge=0, description="the passage's ordinal, as search returned it")],
        context: Annotated[int, Field(ge=0, le=MAX_CONTEXT, description="passages to add on each side")] = 1,
    ) -> dict[str, Any]:
        try:
            return assistant.passage(path, ordinal, context)
        except SleuthError as exc:
            raise ToolError(str(exc)) from exc

    return server


def serve(db_path: Path, settings: Callable[[], Settings]) -> None:
    """Serve on stdin/stdout until the client closes them."""
    build(db_path, settings).run("stdio")
