"""Time from adding a folder of real documents until it is keyword-searchable, and until fully embedded.

    python -m benchmarks.freshness --dataset /work/evalsets/manpages --limit-docs 200
    python -m benchmarks.freshness --folder ~/Documents --model smollm2-135m   # a real folder, read in place

The indexer runs on a worker thread, as in the app; the main thread meanwhile searches the index through
its own connection every 200 ms, as a user would, for a sample of the documents (each by the first words of
its own text, BM25; in a real folder, twelve words from the middle of its extracted text, since pages of one
site often start alike). "Keyword-searchable" is when every sampled document is found in the top 10;
"fully embedded" is when no chunk waits for its vector and every file is marked indexed.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, real_documents, save, write_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None)
    parser.add_argument("--folder", type=Path, default=None, help="a real folder, indexed where it is (read only)")
    parser.add_argument("--limit-docs", type=int, default=200)
    parser.add_argument("--sample", type=int, default=20, help="documents probed by keyword search")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--adapter", default=None, help="the adapter setting for the run (default: Sleuth's; empty: the bare model)"
    )
    parser.add_argument("--model", default=None, help="the model setting for the run (default: Sleuth's default)")
    args = parser.parse_args(argv)

    from core.index.indexer import settings_embedder
    from core.index.store import Store
    from core.jobs import KEYWORD_READY, drain
    from core.search.searcher import Searcher
    from core.service.writer import WriteService
    from core.settings import Settings
    from core.vocabulary import FileStatus

    settings = Settings()
    if args.adapter is not None:
        settings.adapter = args.adapter
    if args.model is not None:
        settings.model = args.model
    embedder = settings_embedder(settings, log)
    with tempfile.TemporaryDirectory(prefix="sleuth-fresh-") as tmp:
        if args.folder is not None:
            folder = args.folder.resolve()
            words = folder_words(folder)
            documents = len(words)
            probes = random.Random(0).sample(sorted(words), min(args.sample, len(words)))
            probe_query = {p: " ".join(words[p][len(words[p]) // 2 :][:12]) for p in probes}
        else:
            beir = real_documents(args.dataset, args.limit_docs)
            documents = len(beir.corpus)
            folder = Path(tmp) / "docs"
            doc_of_path = write_folder(beir, folder)
            probes = random.Random(0).sample(sorted(doc_of_path), min(args.sample, len(doc_of_path)))
            probe_query = {p: " ".join(Path(p).read_text().split()[:12]) for p in probes}
        db = Path(tmp) / "db"
        events: list[tuple[float, str, str]] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                writer = WriteService(Store(db), "the freshness benchmark")
                drain(writer.add_folder(folder.resolve()))
                phase = ""
                for event in writer.index(settings, embedder, [folder.resolve()]):
                    if event.phase != phase or event.message.startswith(KEYWORD_READY) or event.message == "Embedded":
                        events.append((time.perf_counter() - started, event.phase, event.message))
                        phase = event.phase
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        started = time.perf_counter()
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        found: dict[str, float] = {}
        first_hit = all_found = embedded = None
        reader_store: Store | None = None
        polls = 0
        while worker.is_alive() or embedded is None:
            time.sleep(0.2)
            now = time.perf_counter() - started
            try:
                reader_store = reader_store or Store(db)
                profile = reader_store.active_profile()
                if profile is None:
                    continue
                index = reader_store.profile_index(profile)
            except Exception:  # tables not created yet
                continue
            polls += 1
            searcher = Searcher(index, None)
            for path in probes:
                if path in found:
                    continue
                hits = searcher.search(probe_query[path], k=10, mode="bm25", rerank=False).hits
                if any(h.path == path for h in hits):
                    found[path] = now
            if found and first_hit is None:
                first_hit = min(found.values())
            if len(found) == len(probes) and all_found is None:
                all_found = now
            if embedded is None and index.chunks.count_rows() and index.count_pending() == 0:
                records = index.file_records()
                if records and all(r.status == FileStatus.INDEXED for r in records.values()):
                    embedded = now
            if not worker.is_alive() and embedded is None and polls > 3:
                break
        worker.join()
        if failure:
            raise failure[0]
        total = time.perf_counter() - started
        chunks = reader_store.profile_index(reader_store.active_profile()).chunks.count_rows() if reader_store else 0  # type: ignore[arg-type]
    result: dict[str, Any] = {
        "model": repr(embedder),
        "folder": str(args.folder) if args.folder is not None else None,
        "documents": documents,
        "chunks": chunks,
        "probed_documents": len(probes),
        "first_keyword_hit_s": round(first_hit, 2) if first_hit is not None else None,
        "keyword_searchable_s": round(all_found, 2) if all_found is not None else None,
        "fully_embedded_s": round(embedded, 2) if embedded is not None else None,
        "run_finished_s": round(total, 2),
        "events": [(round(t, 2), phase, message) for t, phase, message in events],
    }
    log(
        f"keyword-searchable after {result['keyword_searchable_s']} s (first hit {result['first_keyword_hit_s']} s), "
        f"fully embedded after {result['fully_embedded_s']} s"
    )
    save("freshness", result, args.out)
    return 0


def folder_words(folder: Path) -> dict[str, list[str]]:
    """The words of every file of a real folder that Sleuth reads and that holds at least a sentence of them."""
    from core.ingest.documents import extract

    words: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = extract(path).text
        except Exception:  # unreadable or not a document: the indexer reports it, the probes skip it
            continue
        if len(text.split()) >= 24:
            words[str(path)] = text.split()
    return words


if __name__ == "__main__":
    raise SystemExit(main())
