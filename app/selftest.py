"""Reranker self-test: score obviously relevant and irrelevant passages and judge the scores.

A reranker that is broken in a way that does not raise (random or wrong weights, a prompt format that
does not match the model, a "yes"/"no" token mix-up) still returns numbers. These pairs catch the
common failures: every score the same (constant) or irrelevant passages above relevant ones (inverted).

Example:
    >>> verdict([(0.98, 0.01), (0.91, 0.02), (0.87, 0.05)]).status
    'ok'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (query, relevant passage, irrelevant passage)
PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "What is the capital of France?",
        "Paris is the capital and largest city of France.",
        "The mitochondria is the powerhouse of the cell, producing energy through respiration.",
    ),
    (
        "How many vacation days do employees get per year?",
        "Full-time employees are entitled to 25 days of paid vacation per calendar year.",
        "Preheat the oven to 180 degrees and bake the bread for 40 minutes until golden.",
    ),
    (
        "How do I reverse a list in Python?",
        "In Python, call my_list.reverse() to reverse a list in place, or use my_list[::-1] for a copy.",
        "The Great Barrier Reef is the world's largest coral reef system, off the coast of Australia.",
    ),
)

# Scores closer than this are "the same": a reranker must separate these pairs by far more.
CONSTANT_SPREAD = 1e-3


@dataclass(frozen=True)
class Verdict:
    status: str  # ok | constant | inverted | inconsistent
    message: str
    pair_scores: tuple[tuple[float, float], ...]

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def verdict(pair_scores: list[tuple[float, float]]) -> Verdict:
    """Judge (relevant score, irrelevant score) per pair.

    Returns:
        `ok` when every relevant passage outscores its irrelevant one; `constant` when all scores are
        (nearly) equal; `inverted` when most irrelevant passages win; `inconsistent` otherwise.
    """
    scores = tuple((float(r), float(i)) for r, i in pair_scores)
    flat = [s for pair in scores for s in pair]
    wins = sum(r > i for r, i in scores)
    if max(flat) - min(flat) < CONSTANT_SPREAD:
        return Verdict(
            "constant",
            f"every score is about {flat[0]:.4f}: the reranker does not look at the text "
            "(wrong weights or prompt format?)",
            scores,
        )
    if wins == len(scores):
        return Verdict("ok", f"relevant passages win all {len(scores)} pairs", scores)
    if wins * 2 < len(scores):
        return Verdict(
            "inverted",
            f"irrelevant passages win {len(scores) - wins} of {len(scores)} pairs: scores look inverted "
            "(yes/no tokens swapped?)",
            scores,
        )
    return Verdict(
        "inconsistent", f"relevant passages win only {wins} of {len(scores)} pairs", scores
    )


def run_selftest(score: Callable[[str, list[str], str | None], list[float]], instruction: str | None = None) -> Verdict:
    """Score the built-in pairs with `score(query, documents, instruction)` and judge the result."""
    pair_scores = []
    for query, relevant, irrelevant in PAIRS:
        rel, irr = score(query, [relevant, irrelevant], instruction)
        pair_scores.append((rel, irr))
    return verdict(pair_scores)
