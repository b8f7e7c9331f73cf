"""Keyword search over unspaced scripts: precision of the top 10 on phrase queries, per FTS tokenizer.

Corpus: CPython's real CJK codec samples (their UTF-8 originals), split into sentences. Queries: every
distinct run of 2-6 CJK characters at sampled positions; a hit is relevant when its passage contains the
phrase. Run: ``python benchmarks/cjk_keyword.py [SAMPLES_DIR]``.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

import lancedb
import pyarrow as pa
from lancedb.index import FTS
from lancedb.query import FullTextOperator, MatchQuery

DEFAULT = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "test" / "cjkencodings"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def passages(folder: Path) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for path in sorted(folder.glob("*-utf8.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if text in seen:
            continue
        seen.add(text)
        out.extend(p.strip() for p in re.split(r"(?<=[。！？\n])", text) if len(p.strip()) >= 8)
    return out


def bigrams(text: str) -> str:
    grams: list[str] = []
    for run in CJK.findall(text):
        grams.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return " ".join(grams)


def queries(texts: list[str], n: int, rng: random.Random) -> list[str]:
    found: set[str] = set()
    runs = [run for t in texts for run in CJK.findall(t) if len(run) >= 3]
    while len(found) < n:
        run = rng.choice(runs)
        size = rng.randint(2, min(6, len(run)))
        start = rng.randint(0, len(run) - size)
        found.add(run[start : start + size])
    return sorted(found)


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    texts = passages(folder)
    rng = random.Random(0)
    qs = queries(texts, 200, rng)
    configs = {
        "simple (current)": ("text", FTS(stem=True, remove_stop_words=True, ascii_folding=True)),
        "icu": ("text", FTS(base_tokenizer="icu", stem=True, remove_stop_words=True, ascii_folding=True)),
        "icu, stop words kept": (
            "text",
            FTS(base_tokenizer="icu", stem=True, remove_stop_words=False, ascii_folding=True),
        ),
        "ngram 2-2 (whole text)": ("text", FTS(base_tokenizer="ngram", ngram_min_length=2, ngram_max_length=2)),
        "CJK bigram column": ("bigrams", FTS(base_tokenizer="whitespace", stem=False, remove_stop_words=False)),
    }
    for name in ("icu", "ngram 2-2 (whole text)", "CJK bigram column"):
        configs[name + ", all terms"] = configs[name]
    print(f"{len(texts)} passages, {sum(map(len, texts))} characters, {len(qs)} phrase queries")
    for name, (column, config) in configs.items():
        tmp = Path(tempfile.mkdtemp())
        try:
            db = lancedb.connect(str(tmp))
            table = db.create_table(
                "t",
                data=pa.table({"n": list(range(len(texts))), "text": texts, "bigrams": [bigrams(t) for t in texts]}),
            )
            table.create_index(column, config=config)
            precision, recall, first, answered = [], [], [], 0
            every = name.endswith("all terms")
            for q in qs:
                text = bigrams(q) if column == "bigrams" else q
                try:
                    # Every field given: mypy does not see the defaults of LanceDB's pydantic dataclass.
                    query = MatchQuery(
                        text,
                        column,
                        boost=1.0,
                        fuzziness=0,
                        max_expansions=50,
                        operator=FullTextOperator.AND if every else FullTextOperator.OR,
                        prefix_length=0,
                        document_granularity=None,
                    )
                    hits = table.search(query, query_type="fts").select(["n"]).limit(10).to_list()
                except (ValueError, RuntimeError):
                    hits = []
                relevant = {i for i, t in enumerate(texts) if q in t}
                got = [h["n"] for h in hits]
                if got:
                    answered += 1
                    precision.append(sum(g in relevant for g in got) / len(got))
                first.append(bool(got) and got[0] in relevant)
                recall.append(sum(g in relevant for g in got) / min(10, len(relevant)))
            size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file() and "_indices" in f.parts)
            mean_p = sum(precision) / len(precision) if precision else 0.0
            print(
                f"{name:35s} precision@10 {mean_p:.3f}  recall@10 {sum(recall) / len(recall):.3f}  "
                f"first hit right {sum(first) / len(first):.3f}  "
                f"answered {answered}/{len(qs)}  FTS index {size / 1024:.0f} KiB"
            )
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
