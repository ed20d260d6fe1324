"""Split a query set into a tuning part and a held-out part, the same way every time.

Suggest ranks candidate instructions on the tuning part and reports the best on the held-out part,
so that a winner picked among many is not also judged by the queries it was picked on.

Example:
    >>> split_queries(["q1", "q2", "q3", "q4"], seed=0)
    QuerySplit(tune=['q1', 'q3'], held_out=['q2', 'q4'])
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import InvalidInput

DEFAULT_SEED = 20240611


@dataclass(frozen=True)
class QuerySplit:
    tune: list[str]
    held_out: list[str]


def split_queries(query_ids: Iterable[str], *, tune_fraction: float = 0.5, seed: int = DEFAULT_SEED) -> QuerySplit:
    """Shuffle the sorted, distinct ids with `random.Random(seed)`; the first `tune_fraction` tune.

    The input order does not matter. With two or more queries both parts have at least one.

    Raises:
        InvalidInput: fewer than two queries, or a fraction outside (0, 1).
    """
    if not 0.0 < tune_fraction < 1.0:
        raise InvalidInput(f"tune_fraction must be between 0 and 1, exclusive (got {tune_fraction})")
    ids = sorted(set(query_ids))
    if len(ids) < 2:
        raise InvalidInput(f"a split needs at least 2 labelled queries (got {len(ids)}): label more queries")
    random.Random(seed).shuffle(ids)
    n_tune = min(len(ids) - 1, max(1, round(len(ids) * tune_fraction)))
    return QuerySplit(tune=sorted(ids[:n_tune]), held_out=sorted(ids[n_tune:]))
