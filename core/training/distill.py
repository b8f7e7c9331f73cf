"""Distillation: a shallower embedder learns to give the vectors a deeper one (the teacher) gives.

The contrastive stage teaches with one positive per query and the rest of the batch as negatives, so a
cut-down model whose read-out starts from chance needs thousands of steps. Here every query and every
passage of a batch carries a target, the teacher's own vector for the same prompt, and the batch's whole
score matrix carries the teacher's ranking: the student matches the teacher's vectors (cosine, at every
Matryoshka size, so a truncated prefix stays as good as the teacher's) and the teacher's in-batch score
distribution (KL divergence, queries to passages and back). The student then lives in the teacher's
vector space at a fraction of its depth (issue: an embedder that stops after K layers, ``depth``).

Teacher vectors are computed once, before training, and kept in the run folder, so resuming a run and a
longer second run on the same pairs pay for them once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.embedding.llara import LlaraEmbedder, mean_last
from core.errors import ConfigError
from core.training.data import Pair
from core.training.objectives import MATRYOSHKA_DIMS, last_hidden, matryoshka_dims

#: Texts per teacher forward pass while the targets are computed.
TEACHER_BATCH = 16
#: Pairs whose vectors fit the student's read-out map to the teacher's before training (least squares).
FIT_PAIRS = 1024


def check_teacher(student: LlaraEmbedder, teacher: LlaraEmbedder) -> None:
    """A teacher must read the same prompts, with the same tokens, into vectors of the same size."""
    if teacher.dimension != student.dimension:
        raise ConfigError(
            f"The teacher's vectors have {teacher.dimension} dimensions and the student's {student.dimension}: "
            "distil from the same backbone."
        )
    if teacher.prompt_ids != student.prompt_ids or teacher.max_length != student.max_length:
        raise ConfigError("The teacher must read the same prompts, cut at the same length, as the student.")


class TeacherTargets:
    """The teacher's (query vectors, passage vectors) for ``pairs``, kept in ``cache``.

    The file is named by the teacher and the pairs, so a changed adapter or text computes them again.
    """

    def __init__(self, teacher: LlaraEmbedder, pairs: Sequence[Pair], cache: Path) -> None:
        digest = hashlib.sha256(f"{teacher.name}\0{teacher.max_length}\0".encode())
        for pair in pairs:
            digest.update(f"{pair.query}\0{pair.passage}\0".encode())
        self.path = cache / f"teacher-{digest.hexdigest()[:16]}.npz"
        self.teacher = teacher
        self.pairs = list(pairs)
        self.vectors: tuple[np.ndarray, np.ndarray] | None = None

    def load(self) -> bool:
        """True where the cache holds this teacher's vectors for these pairs."""
        try:
            with np.load(self.path) as stored:
                queries, passages = stored["queries"], stored["passages"]
        except (OSError, ValueError, KeyError):  # absent or damaged: compute them
            return False
        if not queries.shape[0] == passages.shape[0] == len(self.pairs):
            return False
        self.vectors = (queries, passages)
        return True

    def compute(self) -> Iterator[int]:
        """Embed every pair with the teacher, yielding how many are done; then keep them in the cache."""
        queries = np.empty((len(self.pairs), self.teacher.dimension), dtype=np.float32)
        passages = np.empty_like(queries)
        for start in range(0, len(self.pairs), TEACHER_BATCH):
            chunk = self.pairs[start : start + TEACHER_BATCH]
            queries[start : start + len(chunk)] = self.teacher.embed_queries([p.query for p in chunk])
            passages[start : start + len(chunk)] = self.teacher.embed_passages([p.passage for p in chunk])
            yield start + len(chunk)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.stem + ".partial.npz")
        np.savez(partial, queries=queries, passages=passages)
        partial.replace(self.path)
        self.vectors = (queries, passages)


@torch.no_grad()
def fit_projection(
    student: LlaraEmbedder, projection: torch.nn.Linear, pairs: Sequence[Pair], targets: tuple[np.ndarray, np.ndarray]
) -> None:
    """Start the read-out map at the ridge least-squares fit of the student's read-out to the teacher's vectors.

    A shallow exit reads a space unlike the full model's (cosine near 0 to the teacher's vectors); the
    fitted map starts the student near 0.65 (measured on 1,800 standard-library docstring vectors at 7 of
    30 layers), so training spends its steps on what a linear map cannot do.
    """
    rows = list(range(min(len(pairs), FIT_PAIRS)))
    inputs = [student.query_input_ids([pairs[i].query])[0] for i in rows]
    inputs += [student.passage_input_ids([pairs[i].passage])[0] for i in rows]
    batches = (inputs[start : start + TEACHER_BATCH] for start in range(0, len(inputs), TEACHER_BATCH))
    x = torch.cat([mean_last(last_hidden(student, batch)).cpu() for batch in batches]).double()
    x = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
    y = torch.from_numpy(np.concatenate([targets[0][rows], targets[1][rows]])).double()
    gram = x.T @ x
    ridge = 1e-3 * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
    solution = torch.linalg.solve(gram + ridge, x.T @ y)  # (dimension + 1, dimension)
    projection.weight.copy_(solution[:-1].T.to(projection.weight))
    projection.bias.copy_(solution[-1].to(projection.bias))


def distillation_loss(
    queries: torch.Tensor,
    passages: torch.Tensor,
    teacher_queries: torch.Tensor,
    teacher_passages: torch.Tensor,
    *,
    temperature: float = 0.05,
    dims: Sequence[int] = MATRYOSHKA_DIMS,
) -> tuple[torch.Tensor, dict[str, float]]:
    """(loss, parts): cosine distance to the teacher's vectors plus KL to its in-batch score distribution.

    Both are summed over the Matryoshka truncations (each re-normalised), as the contrastive loss is.
    """
    total = queries.new_zeros((), dtype=torch.float32)
    match_sum, rank_sum = 0.0, 0.0
    for dim in matryoshka_dims(queries.shape[1], dims):
        q, p = (F.normalize(x[:, :dim].float(), dim=-1) for x in (queries, passages))
        tq, tp = (F.normalize(x[:, :dim].float(), dim=-1) for x in (teacher_queries, teacher_passages))
        match = (1 - (q * tq).sum(-1)).mean() + (1 - (p * tp).sum(-1)).mean()
        scores, teacher_scores = q @ p.T / temperature, tq @ tp.T / temperature
        rank = (_kl(teacher_scores, scores) + _kl(teacher_scores.T, scores.T)) / 2
        total = total + match + rank
        match_sum += float(match.detach())
        rank_sum += float(rank.detach())
    return total, {"cosine": match_sum, "ranking": rank_sum}


def _kl(teacher_scores: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) of the row-wise softmax distributions, averaged over rows."""
    student, target = F.log_softmax(scores, dim=-1), F.log_softmax(teacher_scores, dim=-1)
    return F.kl_div(student, target, log_target=True, reduction="batchmean")
