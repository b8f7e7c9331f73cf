"""``sleuth mcp``: a real MCP client session (the SDK's stdio client) against the real ``sleuth mcp`` process,
over a folder indexed with the tiny real model."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from core.cli import main
from tests.conftest import private_sleuth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(
    tmp_path: Path, tiny_llama_dir: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The sample corpus indexed by ``sleuth index`` in private folders; no Sleuth runs beside it."""
    with private_sleuth(tmp_path, monkeypatch) as environment:
        assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
        assert main(["config", "set", "chunk_size", "48"]) == 0
        assert main(["index", str(corpus)]) == 0
        yield environment


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def test_an_assistant_lists_the_tools_searches_reads_a_passage_and_is_refused_outside_the_index(
    env: dict[str, str], tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["search", "Vesuvius buried Pompeii", "-k", "3", "--mode", "bm25", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    secret = tmp_path / "secret.txt"  # beside the indexed folder, never added
    secret.write_text("The safe's combination is 31-41-59.\n")
    server = StdioServerParameters(command=sys.executable, args=["-m", "core.cli", "mcp"], env=env, cwd=str(ROOT))
    outcome: dict[str, Any] = {}

    async def session() -> None:
        async with stdio_client(server) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            outcome["tools"] = tools
            outcome["search"] = await client.call_tool(
                "search", {"query": "Vesuvius buried Pompeii", "k": 3, "mode": "bm25"}
            )
            best = _data(outcome["search"])["documents"][0]
            outcome["passage"] = await client.call_tool(
                "passage", {"path": best["path"], "ordinal": best["passages"][0]["ordinal"], "context": 1}
            )
            outcome["outside"] = await client.call_tool("passage", {"path": str(secret), "ordinal": 0})
            sneaky = str(corpus / ".." / "secret.txt")
            outcome["traversal"] = await client.call_tool("passage", {"path": sneaky, "ordinal": 0})
            outcome["folder"] = await client.call_tool("passage", {"path": str(corpus), "ordinal": 0})
            outcome["no_such_passage"] = await client.call_tool("passage", {"path": best["path"], "ordinal": 999})
            outcome["bad_k"] = await client.call_tool("search", {"query": "tax", "k": 0})

    anyio.run(session)

    tools = outcome["tools"]
    assert set(tools) == {"search", "passage"}
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert "type:pdf" in (tools["search"].description or "")

    found = _data(outcome["search"])
    # The same documents, in the same order, as `sleuth search --json`.
    assert [d["path"] for d in found["documents"]] == [d["path"] for d in cli["documents"]]
    best = found["documents"][0]
    assert Path(best["path"]).name == "volcano.txt"
    hit = best["passages"][0]
    assert "Vesuvius" in hit["text"] and hit["line"] >= 1 and hit["page"] is None

    read = _data(outcome["passage"])
    assert read["path"] == best["path"] and read["ordinal"] == hit["ordinal"]
    assert read["text"] == hit["text"] and read["line"] == hit["line"]
    assert hit["text"] in read["context"] and hit["ordinal"] in read["ordinals"]
    volcano = (corpus / "volcano.txt").read_text()
    assert read["context"] in volcano or " ".join(read["context"].split()) in " ".join(volcano.split())

    for refused in ("outside", "traversal", "folder"):
        result = outcome[refused]
        assert result.is_error, refused
        assert "is not a file in Sleuth's index" in _text(result)
        assert "31-41-59" not in _text(result)
    assert outcome["no_such_passage"].is_error and "has no passage 999" in _text(outcome["no_such_passage"])
    assert outcome["bad_k"].is_error
