"""Matryoshka truncation: search a short prefix of each vector, keep the full one for rescoring.

LLaRA was not trained with a Matryoshka loss, so what truncation costs must be
measured (see DESIGN.md); this module does the arithmetic and keeps what was measured of each dimension's
cost, which the settings panel shows beside the search dimension.

Neither bundled model puts its most telling dimensions first, so an index turns its vectors by their principal
axes (``principal_axes``, fitted on a sample of the index's own passages) before truncating them: the rotation is
orthogonal, so full-dimension scores, and the rescoring that uses them, are unchanged, while the first dimensions
carry most of what tells passages apart (``project``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.embedding.base import l2_normalize

#: An index's truncated search vectors are turned once this many passages (and twice the model's dimension) have
#: vectors: axes fitted on fewer describe the sample more than the folder. Until then they are a plain prefix.
ROTATION_MIN_ROWS = 1024


def truncate(vectors: np.ndarray, dim: int) -> np.ndarray:
    """First ``dim`` columns, re-normalised, as a new float32 array (rows or a single vector)."""
    array = np.asarray(vectors)
    if array.ndim not in (1, 2):
        raise ValueError(f"expected a vector or a 2-D array of vectors, got shape {array.shape}")
    full = array.shape[-1]
    if not 0 < dim <= full:
        raise ValueError(f"cannot truncate {full}-dimensional vectors to {dim} dimensions")
    return l2_normalize(array[..., :dim])


def principal_axes(sample: np.ndarray) -> np.ndarray:
    """An orthogonal matrix whose first columns are the directions in which ``sample`` (rows of vectors) varies
    most: ``vectors @ principal_axes(sample)`` puts the most telling dimensions first."""
    rows = np.asarray(sample, np.float64)
    _, _, components = np.linalg.svd(rows - rows.mean(axis=0), full_matrices=True)
    return np.ascontiguousarray(components.T.astype(np.float32))


def project(vectors: np.ndarray, dim: int, rotation: np.ndarray | None = None) -> np.ndarray:
    """The search vectors of full ``vectors``: turned by ``rotation`` where one is given, then truncated to ``dim``
    and re-normalised. At the full dimension the vectors themselves (nothing is turned)."""
    array = np.asarray(vectors, np.float32)
    if dim >= array.shape[-1]:
        return array
    return truncate(array @ rotation if rotation is not None else array, dim)


@dataclass(frozen=True)
class DimensionCost:
    """What searching the first ``dim`` dimensions of a model's vectors cost at ``passages`` passages of real text.

    ``kept``: the share of the exact full-dimension top 10 that dense search still finds (the truncated first
    stage's candidates, rescored at full dimension, as ``Searcher.dense_candidates`` does); ``ms``: that first
    stage's median time per query through Sleuth's own table (searched exactly below 50,000 passages).
    ``rotated``: measured with the search vectors turned by the index's principal axes, as every index of at
    least ``ROTATION_MIN_ROWS`` passages is below its full dimension; otherwise a plain prefix.
    """

    passages: int
    dim: int
    kept: float
    ms: float
    rotated: bool = False


#: Measured by ``benchmarks/matryoshka_scale.py`` (docs/benchmarks.md, "Matryoshka dimensions"), by model alias.
#: Only the measured model is here: for any other the settings panel says nothing it has not measured.
MEASURED_COSTS: dict[str, tuple[DimensionCost, ...]] = {
    # EPYC, 2 cores shared, one thread, 2026-12-06: Debian package descriptions, the evaluation sets' 500 queries;
    # benchmarks/results/matryoshka-scale-minilm{-4096,}.json (flat search: both sizes are under 50,000 passages).
    "minilm-l6-v2": (
        DimensionCost(4096, 32, 0.496, 13.0),
        DimensionCost(4096, 64, 0.752, 9.5),
        DimensionCost(4096, 128, 0.936, 8.0),
        DimensionCost(4096, 256, 0.998, 9.1),
        DimensionCost(4096, 384, 1.0, 10.4),
        DimensionCost(18432, 32, 0.439, 15.7),
        DimensionCost(18432, 64, 0.738, 14.8),
        DimensionCost(18432, 128, 0.929, 21.3),
        DimensionCost(18432, 256, 0.998, 27.4),
        DimensionCost(18432, 384, 1.0, 31.1),
        # EPYC, 2026-12-07: all 59,144 package descriptions, above 50,000 passages, so through the IVF_PQ index
        # Sleuth builds there; benchmarks/results/matryoshka-scale-minilm-59144{,-d32}.json.
        DimensionCost(59144, 32, 0.420, 23.8),
        DimensionCost(59144, 64, 0.745, 40.6),
        DimensionCost(59144, 128, 0.936, 39.3),
        DimensionCost(59144, 256, 0.999, 43.7),
        DimensionCost(59144, 384, 1.0, 49.0),
        # EPYC, 2026-12-07: 100,000 passages (the 59,144 and 40,856 of manual pages and /usr/share/doc), IVF_PQ;
        # benchmarks/results/matryoshka-scale-minilm-100000.json.
        DimensionCost(100000, 32, 0.432, 22.9),
        DimensionCost(100000, 64, 0.755, 28.0),
        DimensionCost(100000, 128, 0.947, 38.0),
        DimensionCost(100000, 256, 0.998, 46.6),
        DimensionCost(100000, 384, 1.0, 52.7),
        # Turned by the index's principal axes, as Sleuth does at 1,024 passages or more: written at the full
        # dimension, then set to each (ProfileIndex.set_search_dim); EPYC, 2026-12-07,
        # benchmarks/results/matryoshka-scale-minilm-{4096,18432,59144,100000}-turned.json (fitted on an even
        # sample; the seeded random sample Sleuth now draws gave 0.744 / 0.921 / 0.996 at 18,432 for 32 / 64 / 128).
        DimensionCost(4096, 32, 0.856, 8.2, rotated=True),
        DimensionCost(4096, 64, 0.969, 7.1, rotated=True),
        DimensionCost(4096, 128, 0.999, 9.3, rotated=True),
        DimensionCost(4096, 256, 1.0, 10.2, rotated=True),
        DimensionCost(18432, 32, 0.745, 11.8, rotated=True),
        DimensionCost(18432, 64, 0.926, 12.9, rotated=True),
        DimensionCost(18432, 128, 0.994, 15.0, rotated=True),
        DimensionCost(18432, 256, 1.0, 16.5, rotated=True),
        DimensionCost(59144, 32, 0.664, 21.5, rotated=True),
        DimensionCost(59144, 64, 0.892, 31.3, rotated=True),
        DimensionCost(59144, 128, 0.991, 39.6, rotated=True),
        DimensionCost(59144, 256, 1.0, 37.3, rotated=True),
        DimensionCost(100000, 32, 0.666, 27.3, rotated=True),
        DimensionCost(100000, 64, 0.913, 35.6, rotated=True),
        DimensionCost(100000, 128, 0.996, 46.8, rotated=True),
        DimensionCost(100000, 256, 1.0, 46.4, rotated=True),
    ),
}


def dimension_cost(model: str, dim: int, passages: int) -> DimensionCost | None:
    """The measurement of ``dim`` dimensions of ``model`` (an alias, e.g. ``minilm-l6-v2``) made at the index size
    nearest ``passages`` (by ratio), turned or not as an index of that size is, or None where that model or
    dimension was not measured."""
    rows = [cost for cost in MEASURED_COSTS.get(model, ()) if cost.dim == dim]
    turned = passages >= ROTATION_MIN_ROWS
    rows = [cost for cost in rows if cost.rotated == turned] or rows  # the full dimension is never turned
    if not rows:
        return None
    size = max(1, passages)
    return min(rows, key=lambda cost: abs(math.log(size / cost.passages)))


def describe_cost(cost: DimensionCost, passages: int) -> str:
    """For the settings panel: "finds 92.9% of the full top 10, dense stage 21 ms (measured at 18,432 passages;
    yours: 20,000)"."""
    where = f"measured at {cost.passages:,} passages" + (f"; yours: {passages:,}" if passages else "")
    return f"finds {cost.kept:.1%} of the full top 10, dense stage {cost.ms:.0f} ms ({where})"
