"""Which probes predict what dense search adds: heading probes (Sleuth's) against inverse-cloze probes.

    python -m benchmarks.probe_kinds --kind ict --probes 150 --index realfolder W/real --index dpkg-status W/dpkg \
        --reference benchmarks/results/fusion-rules-s29.json

``heading`` is Sleuth's probe (``core.search.calibration.split_probe``: a passage's heading or first sentence as
the query, the rest as its answer). ``ict`` (the inverse cloze task) takes a sentence from the middle of the
passage instead (5-24 words, chosen by a seeded draw), and the passage without it as the answer: a query the
bundled adapter never trained on. Each index is measured by ``estimate_fusion`` with that probe; the report sets
each weight's probe gain beside the evaluation gain a ``benchmarks.fusion_rules`` report measured on the same
index (``--reference``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import log, save

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def ict_split(text: str) -> tuple[str, str] | None:
    """(a middle sentence, the passage without it), or None where the passage has fewer than three sentences."""
    from core.search import calibration
    from core.search.query_mining import clean_query

    flat = " ".join(text.split())
    sentences = _SENTENCE.split(flat)
    if len(sentences) < 3:
        return None
    order = list(range(1, len(sentences)))
    random.Random(zlib.crc32(flat[:64].encode())).shuffle(order)
    for i in order:
        words = sentences[i].split()
        if not 5 <= len(words) <= 24:
            continue
        query = clean_query(" ".join(words[: calibration.QUERY_WORDS]))
        if query is None or len(query.split()) < 4:
            continue
        rest = " ".join(sentences[:i] + sentences[i + 1 :])
        if len(rest.split()) >= calibration.MIN_REMAINDER_WORDS:
            return query, rest
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("heading", "ict"), default="heading")
    parser.add_argument("--probes", type=int, default=150)
    parser.add_argument("--index", nargs=2, action="append", required=True, metavar=("NAME", "WORK_DIR"))
    parser.add_argument("--reference", type=Path, required=True, help="a benchmarks.fusion_rules report")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from core.embedding import load_embedder
    from core.index.store import Store
    from core.search import calibration
    from core.search.searcher import Searcher

    if args.kind == "ict":
        calibration.split_probe = ict_split  # probe_queries looks it up at each call
    reference = json.loads(args.reference.read_text())["calibration"]["points"]
    embedder = load_embedder(adapter="bundled")
    report: dict[str, Any] = {"kind": args.kind, "probes": args.probes, "reference": str(args.reference), "sets": {}}
    for name, work_dir in args.index:
        store = Store(Path(work_dir) / "index.lancedb")
        profile = store.active_profile()
        if profile is None:
            raise SystemExit(f"{work_dir} holds no index")
        measured = calibration.estimate_fusion(Searcher(store.profile_index(profile), embedder), probes=args.probes)
        evaluation = {str(p["weight"]): p["evaluation"] for p in reference if p["set"] == name}
        report["sets"][name] = {"measured": measured, "evaluation_gain": evaluation}
        gains = measured.get("gains", {})
        log(
            f"{name}: {measured['probes']} probes, weight {measured['dense_weight']}; "
            + ", ".join(f"{w}: {g['gain']:+.3f}/{evaluation.get(w, float('nan')):+.3f}" for w, g in gains.items())
        )
    save(f"probe-kinds-{args.kind}", report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
