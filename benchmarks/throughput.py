"""Embedding throughput: the bare model's forward pass against the whole indexing pipeline, same run.

    python -m benchmarks.throughput --dataset /work/evalsets/manpages --limit-docs 300
    python -m benchmarks.throughput --dataset /work/evalsets/manpages --adapters bundled,resources/adapters/FOLDER
    python -m benchmarks.throughput --dataset /work/evalsets/manpages --models smollm2-135m,minilm-l6-v2

The pipeline is ``Indexer.run`` on a folder of real documents (scan, extraction, chunking, LanceDB writes,
FTS index, embedding, vector writes, fusion measurement). The bare figure embeds the very same chunk texts
with the same embedder in one call (globally length-sorted batches: the best case for padding). It runs
before and after the pipeline and the two are averaged, so drift in a shared machine's load shows up
as the spread between them. Tokens are the model's input tokens, prompt included. Models with different
tokenizers cut different chunks and count different tokens, so every configuration also reports the
documents' characters per second, and the speed ratios between configurations are taken on those.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Timer, log, percentiles, real_documents, save, write_folder


class Stopwatch:
    """Wraps methods of one object so the time spent in each is summed (no profiler overhead)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, obj: Any, name: str, label: str) -> None:
        inner = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(obj, name, timed)

    def report(self) -> dict[str, Any]:
        return {k: {"s": round(v, 2), "calls": self.calls[k]} for k, v in sorted(self.seconds.items())}


def run_pipeline(folder: Path, db: Path, settings: Any, embedder: Any) -> dict[str, Any]:
    from core.index.store import Store
    from core.jobs import drain
    from core.service.writer import WriteService

    writer = WriteService(Store(db), "the throughput benchmark")
    drain(writer.add_folder(folder.resolve()))
    indexer = writer.indexer(settings, embedder)
    watch = Stopwatch()
    for method in ("pending_chunks", "set_vectors", "optimize", "replace_chunks_many", "upsert_files", "count_pending"):
        if hasattr(indexer.index, method):
            watch.wrap(indexer.index, method, f"store.{method}")
    for method in ("embed_passages", "embed_queries"):
        watch.wrap(embedder, method, f"model.{method}")
    watch.wrap(indexer, "measure_fusion", "fusion measurement")
    phases: dict[str, float] = {}
    phase, started = "scan", time.perf_counter()
    last = started
    for event in indexer.run([folder.resolve()]):
        now = time.perf_counter()
        if event.phase != phase:
            phases[phase] = phases.get(phase, 0.0) + now - last
            phase, last = event.phase, now
    end = time.perf_counter()
    phases[phase] = phases.get(phase, 0.0) + end - last
    for method in ("embed_passages", "embed_queries"):
        vars(embedder).pop(method, None)  # unwrap: the bare passes must not pay for the stopwatch
    table = indexer.index.chunks.search().select(["text", "n_tokens"]).limit(None).to_arrow()
    return {
        "seconds": end - started,
        "phases": {k: round(v, 2) for k, v in phases.items()},
        "texts": table["text"].to_pylist(),
        "report": indexer.summary(),
        "where": watch.report(),
    }


def bare(embedder: Any, texts: list[str]) -> dict[str, float]:
    """Prompted token ids first (timed apart), then only the batched forward passes.

    An encoder tokenizes inside its batches, so its tokenizing is counted in the forward passes.
    """
    if not hasattr(embedder, "passage_input_ids"):
        with Timer() as forward:
            embedder.embed_passages(texts)
        tokens = sum(embedder.count_tokens(text) + 2 for text in texts)  # [CLS] and [SEP]
        return {"tokenize_s": 0.0, "forward_s": forward.seconds, "tokens": tokens}
    with Timer() as tokenize:
        ids = embedder.passage_input_ids(texts)
    with Timer() as forward:
        embedder.embed_ids(ids, embedder.batch_size)
    return {"tokenize_s": tokenize.seconds, "forward_s": forward.seconds, "tokens": sum(len(i) for i in ids)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None, help="BEIR folder of real documents (default: dpkg)")
    parser.add_argument("--limit-docs", type=int, default=300)
    parser.add_argument(
        "--models", "--model", default=None, help="comma-separated models measured side by side (default: the setting)"
    )
    parser.add_argument("--precision", default="auto", help="comma-separated precisions measured side by side")
    parser.add_argument(
        "--adapters",
        default="bundled",
        help="comma-separated adapter settings measured side by side on the same texts (e.g. bundled,FOLDER)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="also profile a second pipeline run (cProfile)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.embedding import load_embedder
    from core.embedding.registry import backend_for
    from core.settings import Settings

    beir = real_documents(args.dataset, args.limit_docs)
    configurations = []
    models = [m.strip() for m in (args.models or Settings().model).split(",") if m.strip()]
    adapters = [a.strip() for a in args.adapters.split(",") if a.strip()]
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    for model, adapter, precision in [(m, a, p) for m in models for a in adapters for p in precisions]:
        if backend_for(model)[0] != "llara":
            if adapter != adapters[0]:
                continue  # an encoder takes no adapter: measure it once
            adapter = ""
        settings = Settings(precision=precision, model=model, adapter=adapter)
        embedder = load_embedder(
            settings.model, adapter=adapter, device=settings.device, precision=settings.precision, progress=log
        )
        log(f"{embedder!r}, {torch.get_num_threads()} threads; {len(beir.corpus)} documents")
        embedder.embed_passages(["warm-up passage " * 20] * 8)
        configurations.append((adapter, settings, embedder))
    results = []
    with tempfile.TemporaryDirectory(prefix="sleuth-bench-") as tmp:
        folder = Path(tmp) / "docs"
        write_folder(beir, folder)
        # The bare passes need the chunk texts before the pipeline runs: the app's own extractor and chunker
        # give them (checked against the pipeline's chunks afterwards), cut with each model's own tokenizer.
        from core.ingest.chunking import chunk_text
        from core.ingest.documents import extract

        documents = [extract(path).text for path in sorted(folder.glob("*.txt"))]
        characters = sum(len(text) for text in documents)
        chunked = [
            [
                c.text
                for text in documents
                for c in chunk_text(text, embedder.tokenizer, settings.chunk_size, settings.chunk_overlap)
            ]
            for _adapter, settings, embedder in configurations
        ]
        # Round-robin: every configuration's bare pass, then every pipeline, then the bare passes again, so
        # a change in the shared machine's load falls on all of them alike.
        log(f"{[len(texts) for texts in chunked]} chunks; bare forward passes (1/2)…")
        before = [bare(embedder, texts) for (_a, _s, embedder), texts in zip(configurations, chunked, strict=True)]
        pipelines = []
        for number, (adapter, settings, embedder) in enumerate(configurations):
            log(f"pipeline, adapter {adapter}, {settings.precision}…")
            pipeline = run_pipeline(folder, Path(tmp) / f"db-{number}", settings, embedder)
            if sorted(pipeline["texts"]) != sorted(chunked[number]):
                log("warning: the pipeline's chunks differ from the chunker's output")
            log(f"  {pipeline['seconds']:.1f} s {pipeline['phases']}")
            pipelines.append(pipeline)
        log("bare forward passes (2/2)…")
        after = [bare(embedder, texts) for (_a, _s, embedder), texts in zip(configurations, chunked, strict=True)]
        log("query embedding, one query at a time…")
        query_times = query_latency([e for _a, _s, e in configurations], list(beir.queries.values())[:100])
        profile_top: list[str] = []
        if args.profile:
            log("profiling a second pipeline run…")
            profiler = cProfile.Profile()
            profiler.enable()
            run_pipeline(folder, Path(tmp) / "db-profiled", configurations[0][1], configurations[0][2])
            profiler.disable()
            profiler.dump_stats(args.profile)
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(30)
            profile_top = stream.getvalue().splitlines()
    for (adapter, _settings, embedder), texts, first, second, pipeline in zip(
        configurations, chunked, before, after, pipelines, strict=True
    ):
        results.append(measured(adapter, embedder, texts, first, second, pipeline, characters))
        results[-1]["query_embedding"] = percentiles(query_times[len(results) - 1])
    baseline = results[0]
    for result in results:
        # On the documents' characters: the same text for every configuration, whatever its tokenizer.
        result["pipeline_speed_vs_first"] = round(
            result["pipeline"]["characters_per_s"] / baseline["pipeline"]["characters_per_s"], 2
        )
        result["bare_speed_vs_first"] = round(
            result["bare"]["characters_per_s"] / baseline["bare"]["characters_per_s"], 2
        )
        log(
            f"{result['adapter']}: bare {result['bare']['tokens_per_s']} tok/s; pipeline "
            f"{result['pipeline']['tokens_per_s']} tok/s ({result['pipeline_speed_vs_first']}x the first); query "
            f"embedding p50 {result['query_embedding']['p50_ms']:.0f} ms, "
            f"p95 {result['query_embedding']['p95_ms']:.0f} ms; "
            f"{result['model_share_of_pipeline']:.0%} of the pipeline's time is in the model's passage forward passes"
        )
    summary = {
        "threads": torch.get_num_threads(),
        "documents": len(beir.corpus),
        "dataset": str(args.dataset) if args.dataset else "dpkg-status",
        "chunks": len(chunked[0]),
        "document_characters": characters,
        "configurations": results,
        "profile_top": profile_top,
    }
    save("throughput", summary, args.out)
    return 0


def query_latency(embedders: list[Any], queries: list[str], rounds: int = 3) -> list[list[float]]:
    """Seconds per query embedding for each embedder: each query alone, as a search embeds it, round-robin
    over the embedders so that the machine's load falls on all alike."""
    samples: list[list[float]] = [[] for _ in embedders]
    for _round in range(rounds):
        for query in queries:
            for number, embedder in enumerate(embedders):
                started = time.perf_counter()
                embedder.embed_queries([query])
                samples[number].append(time.perf_counter() - started)
    return samples


def measured(
    adapter: str,
    embedder: Any,
    texts: list[str],
    before: dict[str, float],
    after: dict[str, float],
    pipeline: Any,
    characters: int,
) -> dict[str, Any]:
    tokens = before["tokens"]
    # The faster bare pass: load from other processes only ever slows a pass down, so the faster one is the
    # closer to the model's own speed (and the ratio below the more conservative).
    bare_s = min(before["forward_s"], after["forward_s"])
    embed_s = pipeline["phases"].get("embed", 0.0)
    return {
        "adapter": adapter,
        "model": repr(embedder),
        "name": embedder.name,
        "depth": embedder.early_exit or getattr(embedder, "depth", None),
        "model_tokens": tokens,
        "chunks": len(texts),
        "bare": {
            "forward_s": [round(before["forward_s"], 2), round(after["forward_s"], 2)],
            "tokenize_s": round(before["tokenize_s"], 2),
            "tokens_per_s": round(tokens / bare_s, 1),
            "chunks_per_s": round(len(texts) / bare_s, 2),
            "characters_per_s": round(characters / bare_s, 1),
        },
        "pipeline": {
            "seconds": round(pipeline["seconds"], 2),
            "phases": pipeline["phases"],
            "tokens_per_s": round(tokens / pipeline["seconds"], 1),
            "chunks_per_s": round(len(texts) / pipeline["seconds"], 2),
            "characters_per_s": round(characters / pipeline["seconds"], 1),
            "embed_phase_tokens_per_s": round(tokens / embed_s, 1) if embed_s else None,
            "summary": pipeline["report"],
            "time_in": pipeline["where"],
        },
        "pipeline_share_of_bare": round(bare_s / pipeline["seconds"], 3),
        # Load-independent view of the same question: the share of the pipeline's own wall time spent in the
        # model's passage forward passes (everything else is overhead the bare model does not pay).
        "model_share_of_pipeline": round(
            pipeline["where"].get("model.embed_passages", {}).get("s", 0.0) / pipeline["seconds"], 3
        ),
    }


if __name__ == "__main__":
    raise SystemExit(main())
