"""Sleuth's search for AI assistants (``sleuth mcp``): what the two tools answer, without the protocol.

Read-only, and never wider than the index: ``search`` is ``sleuth search --json`` (answered by the running
Sleuth's query server when there is one, else here with the index's model, loaded once), and ``passage``
returns a passage and its neighbours as the index stores them, for a file the index holds. Any other
path is refused; nothing is read from outside the indexed folders (a text file is re-read only to number
its lines, as ``sleuth search`` does). The protocol side is :mod:`core.service.mcp_server`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SleuthError
from core.ingest.text import page_label
from core.search.hits import Hit
from core.search.lines import LineFinder
from core.service.queries import Answerer, Query
from core.service.query_server import ask

if TYPE_CHECKING:
    from core.index.store import ProfileIndex
    from core.settings import Settings

#: The most documents one search returns, and the most neighbours a passage comes with on each side.
MAX_K, MAX_CONTEXT = 50, 5


class NotInIndex(SleuthError):
    """A path the index does not hold: the assistant may not read it through Sleuth."""


class Assistant:
    """Answers the tools for one index. Calls are serialised: the in-process answerer is not thread-safe."""

    def __init__(self, db_path: Path, settings: Callable[[], Settings]) -> None:
        self.db_path = db_path
        self._answerer = Answerer(db_path, settings)
        self._lines = LineFinder()
        self._lock = threading.Lock()

    def search(self, query: str, k: int | None = None, mode: str | None = None) -> dict[str, Any]:
        """Documents best first, each with its best passages (path, page or line, ordinal, text, score)."""
        if not query.strip():
            raise SleuthError("The query is empty.")
        if k is not None and not 1 <= k <= MAX_K:
            raise SleuthError(f"k must be from 1 to {MAX_K}.")
        try:
            request = Query.from_json({"query": query, "k": k, "mode": mode})
        except ValueError as exc:
            raise SleuthError(str(exc)) from exc
        with self._lock:
            data = ask(self.db_path, request)
            if data is None:
                data = self._answerer.answer(request)
        if "error" in data:
            raise SleuthError(str(data["error"]))
        return {
            "query": data["query"],
            "mode": data["mode"],
            "corrected": data["corrected"],
            "notes": data["notes"],
            "documents": [
                {
                    "path": document["path"],
                    "modified": document["modified"],
                    "score": document["score"],
                    "passages": [_passage(hit) for hit in document["passages"]],
                }
                for document in data["documents"]
            ],
        }

    def passage(self, path: str, ordinal: int, context: int = 1) -> dict[str, Any]:
        """The passage ``ordinal`` of an indexed file with ``context`` passages either side, as one text."""
        if not 0 <= context <= MAX_CONTEXT:
            raise SleuthError(f"context must be from 0 to {MAX_CONTEXT}.")
        from core.index.store import sql_str

        with self._lock:
            index = self._index()
            wanted = os.path.normpath(Path(path).expanduser())
            records = index.file_records_under([wanted]) if Path(wanted).is_absolute() else {}
            if wanted not in records:
                raise NotInIndex(f"{path} is not a file in Sleuth's index; only indexed files can be read.")
            rows = (
                index.chunks.search()
                .where(
                    f"path = {sql_str(wanted)} AND ordinal >= {ordinal - context} AND ordinal <= {ordinal + context}"
                )
                .select(["id", "ordinal", "text", "page", "char_start", "char_end"])
                .limit(2 * context + 1)
                .to_list()
            )
            rows.sort(key=lambda row: row["ordinal"])
            target = next((row for row in rows if row["ordinal"] == ordinal), None)
            if target is None:
                count = records[wanted].chunks or 0
                raise SleuthError(f"{path} has no passage {ordinal} (it has {count}, numbered from 0).")
            fields = (target["id"], wanted, ordinal, target["text"], target["page"])
            hit = Hit(*fields, target["char_start"], target["char_end"], 0.0)
            line = self._lines.line(hit)
        return {
            "path": path,
            "ordinal": ordinal,
            "page": target["page"],
            "page_label": page_label(wanted) if target["page"] else None,
            "line": line,
            "text": target["text"],
            "context": _stitch(rows),
            "ordinals": [row["ordinal"] for row in rows],
        }

    def _index(self) -> ProfileIndex:
        index = self._answerer.service.index()
        if index is None:
            raise SleuthError("Nothing is indexed yet. Run: sleuth index FOLDER")
        return index


def _passage(hit: dict[str, Any]) -> dict[str, Any]:
    return {
        "ordinal": hit["ordinal"],
        "page": hit["page"],
        "page_label": page_label(hit["path"]) if hit["page"] else None,
        "line": hit["line"],
        "score": hit["score"],
        "text": hit["text"],
    }


def _stitch(rows: list[dict[str, Any]]) -> str:
    """Consecutive passages as one text: each one's overlap with the one before is left out."""
    text, end = "", -1
    for row in rows:
        start, body = row["char_start"], row["text"]
        if text and 0 <= start < end and end - start < len(body) and row["char_end"] - start == len(body):
            text += body[end - start :]
        else:
            text += ("\n\n" if text else "") + body
        end = row["char_end"]
    return text
