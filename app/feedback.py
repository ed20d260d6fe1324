"""Pseudo-relevance feedback: expand a query from the top hits of a first retrieval round (pure functions).

`rm3_terms` is relevance model 3 (Lavrenko & Croft, SIGIR 2001; Abdul-Jaleel et al., TREC 2004), as Anserini
and Pyserini implement it for BM25: a term distribution estimated from the feedback texts, its best terms mixed
with the original query's own distribution. (Rocchio on the query embedding was measured too and not kept:
docs/EVAL.md; it is in research/eval_prf.py.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence


def rm3_terms(
    query_terms: Sequence[str],
    feedback: Sequence[tuple[Sequence[str], float]],
    n_terms: int,
    original_weight: float,
    idf: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Weighted query terms: `original_weight` x P(t|query) + (1 - `original_weight`) x P(t|feedback).

    P(t|feedback) = sum over feedback texts d of weight(d) x tf(t, d) / |d|, cut to its `n_terms` most likely
    terms and renormalized to sum 1. P(t|query) is the term's share of the query's tokens.

    Args:
        query_terms: the query's tokens (the index's analyzer; repeats count).
        feedback: (tokens, weight) per feedback text, e.g. the first round's top hits and their scores.
        n_terms: expansion terms kept (RM3's fbTerms).
        original_weight: the original query's share, in [0, 1] (RM3's originalQueryWeight; 1 = no expansion).
        idf: when given, the expansion terms are the `n_terms` with the highest P(t|feedback) x idf(t), so that
            terms frequent everywhere give way to the feedback's distinctive ones (a term missing from `idf`
            is not chosen); their weights stay P(t|feedback).

    Returns:
        term -> weight, summing to 1 (empty for an empty query without usable feedback).

    Example:
        >>> rm3_terms(["wing"], [(["wing", "flutter", "flutter"], 1.0)], n_terms=1, original_weight=0.5)
        {'wing': 0.5, 'flutter': 0.5}
    """
    if not 0 <= original_weight <= 1:
        raise ValueError(f"original_weight must be in [0, 1] (got {original_weight}).")
    if n_terms < 0:
        raise ValueError(f"n_terms must be >= 0 (got {n_terms}).")
    relevance: Counter = Counter()
    for tokens, weight in feedback:
        if tokens and weight > 0:
            for term, tf in Counter(tokens).items():
                relevance[term] += weight * tf / len(tokens)
    priority = {t: p * (idf.get(t, 0.0) if idf is not None else 1.0) for t, p in relevance.items()}
    # Ties broken by term, so the expansion does not depend on the order the feedback texts were read in.
    chosen = sorted((t for t, v in priority.items() if v > 0), key=lambda t: (-priority[t], t))[:n_terms]
    expansion = _normalized({t: relevance[t] for t in chosen})
    original = _normalized(Counter(query_terms))
    if not original:
        return expansion
    if not expansion:
        return original
    mixed = {t: original_weight * w for t, w in original.items()}
    for term, w in expansion.items():
        mixed[term] = mixed.get(term, 0.0) + (1 - original_weight) * w
    return {t: w for t, w in mixed.items() if w > 0}


def _normalized(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()} if total > 0 else {}
