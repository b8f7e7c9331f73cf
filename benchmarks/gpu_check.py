"""Sleuth on an NVIDIA GPU, in one run: both bundled models in bf16 on cuda, indexing a real folder, searching
it, and their quality on the evaluation sets that build offline.

    python -m benchmarks.gpu_check --install --out gpu-check            # scripts/gpu_check.sh runs this
    python -m benchmarks.gpu_check --folder F [--queries Q.jsonl] --out gpu-check
    python -m benchmarks.gpu_check --dry-run --out /tmp/gpu-check         # the same code on the CPU, tiny models

``--install`` first installs the CUDA build of torch (the pinned version, with the pip options
``scripts/check_system.py torch-args cuda`` prints) into this environment and starts again without it.

For each model (default: the GPU default ``smollm2-135m`` with Sleuth's adapter, then the CPU default
``minilm-l6-v2``), with the peak GPU memory counter reset before it loads:

- **indexing**: the folder indexed as ``sleuth index`` does (``core.evaluation.folder.index_folder``) into a
  private database under the output folder; files, passages, tokens, seconds;
- **embedding throughput**: every passage of that index embedded again in one timed call (``embed_passages``;
  cuda synchronised), passages/s and tokens/s;
- **query latency**: hybrid search (``Searcher.search_documents``, the window's query, no reranker) of every
  query of the folder's query file or, without one, of the evaluation sets; median and p95, query embedding
  included, after 3 warm-up queries;
- **peak GPU memory**: ``torch.cuda.max_memory_allocated`` over all of the above and the evaluations;
- **quality**: BM25, dense and hybrid MRR@10 / nDCG@10 / hit@1 on the test half of each evaluation set this
  machine can build offline (``scripts/build_eval_sets.py``: dpkg-status always; debian-packages where the
  apt lists hold descriptions; manpages where the manual pages are installed; sets already in
  ``$SLEUTH_EVAL_SETS``, default /work/evalsets, are used as they are), through ``core.evaluation``'s
  ``evaluate`` with the limits docs/benchmarks.md uses, and on the folder's judged queries
  (``evaluate_folder``) where the folder is the real-folder set.

The default folder is the real-folder set (``scripts/build_real_folder.py``, judged by
``benchmarks/real-folder/queries.jsonl``) where it was built at /work/realfolder, else the dpkg-status set's
documents written as text files (the installed packages' descriptions; no judged queries of its own, so the
folder gives throughput and latency, the sets quality). Writes ``gpu-check.json`` and ``gpu-check.md`` into
``--out``.

``--dry-run`` runs the same path on the CPU (fp32 unless the CPU has native bf16) with the tiny random models of
``benchmarks.tiny_models``, 16 of the dpkg-status documents as the folder, and that set cut to a handful of
queries: a check that the script works, not a measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GPU_MODELS = ("smollm2-135m", "minilm-l6-v2")
QUALITY_MODES = ("bm25", "dense", "hybrid")
REAL_FOLDER = Path("/work/realfolder")
REAL_FOLDER_QUERIES = ROOT / "benchmarks" / "real-folder" / "queries.jsonl"
#: set -> (build_eval_sets.py name, limit_queries, limit_docs): the limits docs/benchmarks.md's figures use.
SETS = {
    "dpkg-status": ("dpkg", None, None),
    "debian-packages": ("debian", 100, 500),
    "manpages": ("man", 100, 300),
}
DRY_SET_LIMITS = (16, 24)  # queries, documents of the dpkg-status set in a dry run
DRY_FOLDER_FILES = 16
WARMUP = 3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- installing torch ------------------------------------------------------------------------------


def install_cuda_torch() -> None:
    """The pinned torch, CUDA build, into this environment, as ``make install TORCH=cuda`` does.

    A CPU build of the same version (``2.13.0+cpu``) satisfies ``torch==2.13.0`` for pip, so it is removed first;
    local find-links (where a CPU wheel may wait) are left out, so PyPI's CUDA wheel is the one found.
    """
    script = str(ROOT / "scripts" / "check_system.py")
    pinned = next(
        line.split('"')[1] for line in Path(script).read_text().splitlines() if line.startswith("TORCH_VERSION =")
    )
    extra = subprocess.run([sys.executable, script, "torch-args", "cuda"], capture_output=True, text=True, check=True)
    cuda_build = subprocess.run(
        [sys.executable, "-c", "import torch, sys; sys.exit(0 if torch.version.cuda else 1)"], check=False
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    env = {**os.environ, "PIP_FIND_LINKS": ""}
    if cuda_build.returncode != 0:
        subprocess.run([*pip, "uninstall", "-y", "torch"], check=False, env=env)
    command = [*pip, "install", f"torch=={pinned}", *extra.stdout.split()]
    log("$ " + " ".join(command))
    subprocess.run(command, check=True, env=env)


# --- evaluation sets and folder --------------------------------------------------------------------


def eval_sets(out: Path, dry_run: bool) -> dict[str, Path]:
    """The sets this machine has or can build offline, name -> folder."""
    have = Path(os.environ.get("SLEUTH_EVAL_SETS", "/work/evalsets"))
    found: dict[str, Path] = {}
    names = ["dpkg-status"] if dry_run else list(SETS)
    for name in names:
        if not dry_run and (have / name / "queries.jsonl").is_file():
            found[name] = have / name
            continue
        target = out / "sets"
        command = [sys.executable, str(ROOT / "scripts" / "build_eval_sets.py"), str(target), "--sets", SETS[name][0]]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode == 0 and (target / name / "queries.jsonl").is_file():
            found[name] = target / name
        else:
            log(f"  {name}: not built offline here ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
    return found


def corpus_folder(out: Path, sets: dict[str, Path], limit: int | None) -> Path:
    """A folder of real text files that a set builds: the dpkg-status documents (the installed packages'
    descriptions), one file each, as ``sleuth eval`` writes them; the first ``limit`` in a dry run."""
    from core.evaluation.beir import load_beir, subsample
    from core.evaluation.runner import write_documents

    beir = load_beir(sets["dpkg-status"])
    if limit:
        beir = subsample(beir, None, limit, 0)
    write_documents(beir, out / "folder")
    return out / "folder"


def default_folder() -> tuple[Path | None, Path | None]:
    """The real-folder set with its judged queries where it was built; else (None, None)."""
    if REAL_FOLDER.is_dir() and REAL_FOLDER_QUERIES.is_file():
        return REAL_FOLDER, REAL_FOLDER_QUERIES
    return None, None


def latency_queries(queries_file: Path | None, sets: dict[str, Path], limit: int) -> list[str]:
    texts: list[str] = []
    if queries_file is not None:
        for line in queries_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["query"])
    for folder in sets.values():
        if len(texts) >= limit:
            break
        for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts[:limit]


# --- measuring one model ---------------------------------------------------------------------------


class Gpu:
    """Synchronisation and the peak memory counter where cuda runs; nothing on a CPU."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def reset(self) -> None:
        gc.collect()  # the last model's tensors go before the counter starts again
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def peak_mb(self) -> float | None:
        return round(self.torch.cuda.max_memory_allocated() / 2**20, 1) if self.cuda else None


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


def measure_model(
    model: str,
    settings: Any,
    folder: Path,
    queries_file: Path | None,
    sets: dict[str, Path],
    work: Path,
    dry_run: bool,
    gpu: Gpu,
) -> dict[str, Any]:
    from core.evaluation.beir import load_beir, subsample
    from core.evaluation.folder import evaluate_folder, index_folder, load_queries
    from core.evaluation.halves import Half, keep_half
    from core.evaluation.runner import EvalOptions, evaluate
    from core.index.indexer import settings_embedder
    from core.search.searcher import Searcher

    gpu.reset()
    settings = dataclasses.replace(settings, model=model, adapter=settings.adapter if "smollm2" in model else "")
    started = time.perf_counter()
    embedder = settings_embedder(settings, log)
    load_s = time.perf_counter() - started
    log(f"{model}: {embedder.name} on {embedder.device} ({getattr(embedder, 'precision', '')}), {load_s:.1f} s")
    row: dict[str, Any] = {
        "model": model,
        "embedder": embedder.name,
        "device": embedder.device,
        "precision": str(getattr(embedder, "precision", "")),
        "dimension": embedder.dimension,
        "load_s": round(load_s, 2),
    }
    # Indexing the folder, as `sleuth index` does.
    index_dir = work / "folder-index"
    gpu.sync()
    started = time.perf_counter()
    indexer = index_folder(folder, settings, embedder, index_dir, log)
    gpu.sync()
    index_s = time.perf_counter() - started
    table = indexer.index.chunks.search().select(["path", "text", "n_tokens"]).limit(None).to_arrow()
    texts = [t for t in table["text"].to_pylist() if t]
    tokens = int(sum(table["n_tokens"].to_pylist()))
    row["indexing"] = {
        "folder": str(folder),
        "files": len(set(table["path"].to_pylist())),
        "passages": table.num_rows,
        "tokens": tokens,
        "seconds": round(index_s, 2),
    }
    # Embedding throughput: every passage again, in one timed call.
    gpu.sync()
    started = time.perf_counter()
    embedder.embed_passages(texts)
    gpu.sync()
    embed_s = max(time.perf_counter() - started, 1e-9)
    row["embedding"] = {
        "passages": len(texts),
        "tokens": tokens,
        "seconds": round(embed_s, 3),
        "passages_per_s": round(len(texts) / embed_s, 1),
        "tokens_per_s": round(tokens / embed_s, 1),
    }
    # Query latency: hybrid, as the window searches (no reranker), query embedding included.
    weight = indexer.store.dense_weight(indexer.profile)
    searcher = Searcher(indexer.index, embedder, None, dense_weight=weight)
    queries = latency_queries(queries_file, sets, 8 if dry_run else 200)
    samples: list[float] = []
    for number, query in enumerate([*queries[:WARMUP], *queries]):
        started = time.perf_counter()
        searcher.search_documents(query, k=10, mode="hybrid", rerank=False)
        gpu.sync()
        if number >= WARMUP:
            samples.append((time.perf_counter() - started) * 1000)
    row["query_latency_ms"] = {
        "mode": "hybrid",
        "queries": len(samples),
        "median": round(statistics.median(samples), 2) if samples else None,
        "p95": round(_pct(samples, 0.95), 2) if samples else None,
        "dense_weight": weight,
    }
    # Quality on the test halves.
    quality: dict[str, Any] = {}
    for name, path in sets.items():
        limit_queries, limit_docs = DRY_SET_LIMITS if dry_run else SETS[name][1:]
        beir = subsample(load_beir(path), limit_queries, limit_docs, 0).half(Half.TEST)
        report = evaluate(
            beir,
            settings,
            embedder,
            None,
            EvalOptions(dims=[0], modes=QUALITY_MODES, work_dir=work / f"eval-{name}"),
            log,
        )
        result = report["results"][str(embedder.dimension)]
        per_query = report["per_query"][str(embedder.dimension)]
        quality[name] = {
            "queries": len(report["per_query"]["queries"]),
            "documents": len(beir.corpus),
            **{
                mode: {
                    "mrr@10": round(result[mode]["mrr@10"], 4),
                    "ndcg@10": round(result[mode]["ndcg@10"], 4),
                    "hit@1": round(statistics.fmean(per_query[f"{mode}:hit1"]), 4),
                }
                for mode in QUALITY_MODES
            },
        }
    if queries_file is not None:
        judged = keep_half(load_queries(queries_file, folder), Half.TEST, lambda q: q.id)
        report = evaluate_folder(
            folder, judged, settings, embedder, None, modes=QUALITY_MODES, work_dir=index_dir, log=log
        )
        quality[f"folder:{folder.name}"] = {
            "queries": len(judged),
            "documents": report["index"]["files"],
            **{mode: {m: report["results"][mode][m] for m in ("mrr@10", "ndcg@10", "hit@1")} for mode in QUALITY_MODES},
        }
    row["quality"] = quality
    row["peak_gpu_memory_mb"] = gpu.peak_mb()
    del searcher, indexer, embedder
    return row


# --- the report ------------------------------------------------------------------------------------


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Sleuth GPU check{' (dry run: tiny models on the CPU, not a measurement)' if report['dry_run'] else ''}",
        "",
        f"{report['date']}; {report['gpu'] or 'no GPU'}; torch {report['torch']} (CUDA {report['cuda'] or '–'}); "
        f"folder {report['folder']}",
        "",
        "| model | device, precision | passages/s | tokens/s | hybrid query p50 / p95 | peak GPU memory |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in report["models"]:
        emb, lat = row["embedding"], row["query_latency_ms"]
        peak = row["peak_gpu_memory_mb"]
        lines.append(
            f"| {row['model']} | {row['device']}, {row['precision']} | {_f(emb['passages_per_s'], 1)} | "
            f"{_f(emb['tokens_per_s'], 0)} | {_f(lat['median'], 1)} / {_f(lat['p95'], 1)} ms | "
            f"{'–' if peak is None else f'{peak:,.0f} MB'} |"
        )
    lines += ["", "Test halves, MRR@10 / nDCG@10 / hit@1:", "", "| set | queries | model | BM25 | dense | hybrid |"]
    lines.append("|---|---:|---|---|---|---|")
    for row in report["models"]:
        for name, q in row["quality"].items():
            cells = [" / ".join(_f(q[m][k]) for k in ("mrr@10", "ndcg@10", "hit@1")) for m in QUALITY_MODES]
            lines.append(f"| {name} | {q['queries']} | {row['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="folder for the report and indexes")
    parser.add_argument("--folder", type=Path, default=None, help="a real folder to index (default: see above)")
    parser.add_argument("--queries", type=Path, default=None, help="judged queries of --folder (sleuth eval's form)")
    parser.add_argument("--models", default=None, help=f"comma-separated (default {','.join(GPU_MODELS)})")
    parser.add_argument("--device", default=None, help="default: cuda (cpu in a dry run)")
    parser.add_argument("--precision", default=None, help="default: bf16 (a dry run: bf16 or fp32 by the CPU)")
    parser.add_argument("--install", action="store_true", help="install torch's CUDA build first, then run")
    parser.add_argument("--dry-run", action="store_true", help="tiny models on the CPU: checks the script only")
    args = parser.parse_args(argv)
    if args.install:
        install_cuda_torch()
        rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--install"]
        return subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", *rest], cwd=ROOT, check=False).returncode

    import torch

    from core.embedding.device import cpu_has_fast_bf16
    from core.settings import Settings

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    device = args.device or ("cpu" if args.dry_run else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        log(
            f"No CUDA GPU is visible to torch {torch.__version__} (CUDA build: {torch.version.cuda or 'no'}). "
            "On a machine with an NVIDIA GPU run with --install, or use --dry-run to check the script on a CPU."
        )
        return 2
    precision = args.precision or ("bf16" if device != "cpu" or cpu_has_fast_bf16() else "fp32")
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    elif args.dry_run:
        from benchmarks.tiny_models import save_tiny_encoder, save_tiny_llama

        models = [
            f"llara:{save_tiny_llama(out / 'models' / 'tiny-llama')}",
            f"encoder:{save_tiny_encoder(out / 'models' / 'tiny-encoder')}",
        ]
    else:
        models = list(GPU_MODELS)
    sets = eval_sets(out, args.dry_run)
    if args.folder is not None:
        folder, queries_file = args.folder.resolve(), args.queries
    else:
        found, queries_file = (None, None) if args.dry_run else default_folder()
        folder = found or corpus_folder(out, sets, DRY_FOLDER_FILES if args.dry_run else None)
    log(f"Folder {folder}; sets {', '.join(sets) or 'none'}; models {', '.join(models)}; {device}, {precision}")
    settings = Settings(device=device, precision=precision)
    gpu = Gpu(device)
    rows = []
    for number, model in enumerate(models):
        rows.append(
            measure_model(model, settings, folder, queries_file, sets, out / f"work-{number}", args.dry_run, gpu)
        )
    from core.evaluation.runner import machine_info

    report = {
        "dry_run": args.dry_run,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "device": device,
        "precision": precision,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "folder": str(folder),
        "folder_queries": str(queries_file) if queries_file else None,
        "sets": {name: str(path) for name, path in sets.items()},
        "half": "test",
        "command": " ".join(["python -m benchmarks.gpu_check", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine_info(),
        "models": rows,
    }
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "gpu-check.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    print(f"Report: {out / 'gpu-check.json'} and {out / 'gpu-check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
