"""What a knowledge base is about, from its own text: its main language and its most distinctive terms.

Suggest fills its instruction templates with these (`app.workbench.candidates`). Terms are scored by
tf x idf over a sample of chunks, among words that occur in at least two chunks (a name that appears once
says little about the domain) and are not function words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from app.recall import is_cjk_query
from app.text import CJK_CHARS

# Words of four letters or more; CJK text has no spaces, so its runs are cut into two to four characters.
_WORD = re.compile(rf"[^\W\d_{CJK_CHARS}]{{4,}}|[{CJK_CHARS}]{{2,4}}")
# Frequent English words that say nothing about a domain (a short list: tf x idf demotes the rest).
_STOP = frozenset(
    "about above after again against also although among another because been before being below between both "
    "could does doing down during each either every from further have having here however into itself just "
    "least made make many more most much must never once only other over same should since some such than "
    "that their them then there these they this those through under until upon very were what when where "
    "whether which while will with within without would your page pages chapter section table figure note".split()
)


def main_language(texts: Sequence[str]) -> str:
    """"zh" when most of the sample's chunks are mostly CJK, else "en"."""
    if not texts:
        return "en"
    return "zh" if sum(is_cjk_query(t) for t in texts) * 2 > len(texts) else "en"


def distinctive_terms(texts: Sequence[str], n: int = 10) -> list[str]:
    """The `n` words with the highest tf x idf over `texts` (lower-cased; in >= 2 of them), best first.

    Example:
        >>> distinctive_terms(["Parental leave is paid.", "Leave requests go to HR.", "Paid overtime."], 2)
        ['leave', 'paid']
    """
    tf: Counter[str] = Counter()
    df: Counter[str] = Counter()
    for text in texts:
        words = [w.lower() for w in _WORD.findall(text)]
        words = [w for w in words if w not in _STOP]
        tf.update(words)
        df.update(set(words))
    total = len(texts)
    scored = {w: tf[w] * math.log(1 + total / df[w]) for w in tf if df[w] >= 2}
    return sorted(scored, key=lambda w: (-scored[w], w))[:n]
