"""Does dense search prefer the adapter's training domain? Training-domain files added to a real folder.

The bundled adapter learned from Python's documentation. This benchmark adds a seeded sample of those
very pages to a copy of an evaluation folder, indexes it again with `sleuth eval` (the rest is kept from
an earlier work folder), and counts per search mode how often an added page is ranked above the right
file. BM25 is the control: the added pages are the same for every mode. ``add --source FOLDER`` samples another
adapter's training text instead (for the broad adapter: ``scripts/broad_corpus.py``'s folder).

    python benchmarks/domain_bias.py add /work/realfolder --count 25 --seed 0
    cp -r /work/realfolder-work /work/realfolder-bias-work
    sleuth eval /work/realfolder --queries benchmarks/real-folder/queries.jsonl \\
        --work-dir /work/realfolder-bias-work --modes bm25,dense,hybrid --out BIAS.json
    python benchmarks/domain_bias.py compare BASE.json BIAS.json
    python benchmarks/domain_bias.py remove /work/realfolder

BASE.json is the same folder's report without the added pages. Sleuth never writes into a user's
folder; this script writes into an evaluation folder that `scripts/build_real_folder.py` made.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path
from typing import Any

SOURCES = Path("/usr/share/doc/python3.11/html/_sources")  # apt-get install python3.11-doc
ADDED = "python-docs-distractors"
MODES = ("bm25", "dense", "hybrid")
METRICS = ("hit@1", "mrr@10", "ndcg@10")


def add(folder: Path, count: int, seed: int, sources: Path = SOURCES) -> list[str]:
    pages = sorted(p for p in sources.rglob("*") if p.is_file() and p.name != "meta.json")
    target = folder / ADDED
    target.mkdir()
    names = []
    for page in random.Random(seed).sample(pages, count):
        name = str(page.relative_to(sources)).replace("/", "--").removesuffix(".txt")
        shutil.copy(page, target / name)
        names.append(name)
    return names


def compare(base: dict[str, Any], biased: dict[str, Any]) -> dict[str, Any]:
    """Per mode: queries whose first file is an added page, that have one in the top five, that rank one
    above their first right file; and the change in each figure from the report without them."""
    out: dict[str, Any] = {}
    for mode in MODES:
        first = in_top5 = above = 0
        for query, files in biased["top5"][mode].items():
            added = [i for i, (name, _page) in enumerate(files) if name.startswith(ADDED + "/")]
            rank = biased["per_query"][query][mode]["rank"]  # of the first right file; None: not in the top 10
            if added:
                in_top5 += 1
                first += added[0] == 0
                above += rank is None or added[0] + 1 < rank
        queries = biased["per_query"]
        change = {
            m: sum(queries[q][mode][m] - base["per_query"][q][mode][m] for q in queries) / len(queries) for m in METRICS
        }
        out[mode] = {"queries": len(queries), "added_first": first, "added_in_top5": in_top5}
        out[mode] |= {"added_above_right_file": above, "change": change}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    adding = sub.add_parser("add")
    adding.add_argument("folder", type=Path)
    adding.add_argument("--count", type=int, default=25)
    adding.add_argument("--seed", type=int, default=0)
    adding.add_argument(
        "--source", type=Path, default=SOURCES, help="the training text to sample (default: Python's documentation)"
    )
    removing = sub.add_parser("remove")
    removing.add_argument("folder", type=Path)
    comparing = sub.add_parser("compare")
    comparing.add_argument("base", type=Path)
    comparing.add_argument("biased", type=Path)
    comparing.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "add":
        print("\n".join(add(args.folder, args.count, args.seed, args.source)))
    elif args.command == "remove":
        shutil.rmtree(args.folder / ADDED)
    else:
        result = compare(*(json.loads(p.read_text(encoding="utf-8")) for p in (args.base, args.biased)))
        for mode, row in result.items():
            change = ", ".join(f"{m} {v:+.3f}" for m, v in row["change"].items())
            print(
                f"{mode:7s} {row['queries']} queries: an added page first {row['added_first']}, in the top 5 "
                f"{row['added_in_top5']}, above the first right file {row['added_above_right_file']}; {change}"
            )
        if args.out:
            args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
