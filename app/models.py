"""One small immutable dataclass per pipeline stage: Page -> Chunk -> Candidate -> Hit.

Stages never mutate what they receive; they build new objects (`dataclasses.replace`).
Page numbers are 1-based and None for files without pages (text, Markdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SECTION_SEPARATOR = " › "


@dataclass(frozen=True)
class Section:
    """Where a heading's section begins in a page's text: `path` is the headings above it, outermost first,
    joined with SECTION_SEPARATOR ("Policies › Leave"); it runs until the next Section of the document."""

    start: int
    path: str


@dataclass(frozen=True)
class Page:
    """The text of one page as the loader extracted it (a whole file for non-paged types).

    `sections` are the section starts on this page in text order; text before the first one belongs to
    the section the previous page ended in (the loader repeats that as a Section at 0 when there is one).
    """

    number: int | None
    text: str
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that is embedded, indexed and returned by search.

    A chunk never crosses a page break (`ingest.chunking`): `char_start` and `char_end` are offsets into
    the text of page `page`, or of the whole file for documents without pages. Nor does it cross a section
    start: `section` is the heading path it sits under ("" where the format has no headings).
    """

    chunk_id: str
    doc_id: str
    doc_name: str
    position: int
    text: str
    page: int | None = None
    char_start: int = 0
    char_end: int = 0
    section: str = ""

    @property
    def page_label(self) -> str:
        """'p. 3', or '' for documents without pages."""
        return "" if self.page is None else f"p. {self.page}"


@dataclass(frozen=True)
class Candidate:
    """A chunk found by recall, with the ranks that explain why (1-based, None where a list missed it).

    `fusion_weights` are the weights hybrid recall gave each list for this query, e.g.
    (("dense", 0.62), ("bm25", 0.15), ("feedback", 0.23)); empty for dense or BM25 recall alone.
    """

    chunk: Chunk
    recall_rank: int
    recall_score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    fusion_weights: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Hit:
    """A search result: the candidate plus its final rank and score.

    `score` is the rerank score (P(yes)) when `reranked`, otherwise the recall score.
    """

    candidate: Candidate
    rank: int
    score: float
    reranked: bool

    @property
    def chunk(self) -> Chunk:
        return self.candidate.chunk

    def as_json(self) -> dict:
        c = self.candidate
        return {
            "doc": c.chunk.doc_name,
            "page": c.chunk.page,
            "section": c.chunk.section,
            "text": c.chunk.text,
            "score": self.score,
            "rank": self.rank,
            "recall_rank": c.recall_rank,
            "dense_rank": c.dense_rank,
            "bm25_rank": c.bm25_rank,
            "fusion_weights": dict(c.fusion_weights),
            "reranked": self.reranked,
            "chunk_id": c.chunk.chunk_id,
            "doc_id": c.chunk.doc_id,
            "position": c.chunk.position,
            "char_start": c.chunk.char_start,
            "char_end": c.chunk.char_end,
        }


@dataclass(frozen=True)
class Document:
    """A stored document as the catalog records it."""

    doc_id: str
    name: str
    kb: str
    pages: int | None
    chunks: int
    size: int
    added_at: float
    status: str = "ready"
    generation: int = 0  # which chunk generation is visible (app/ids.py); 0 until a re-ingest


@dataclass(frozen=True)
class SearchResult:
    """What `search()` returns: the hits, the instruction in effect and why reranking was off, if it was.

    `recall_hits` are the first top-N candidates in recall order (what the hits were before reranking), so
    the Search page can show both orders from one recall. `timings` holds `recall_s` and, when reranked,
    `rerank_s`.
    """

    hits: list[Hit]
    instruction: str
    recall_mode: str
    reranked: bool
    rerank_note: str = ""
    recall_hits: list[Hit] = field(default_factory=list)
    waiting_for_reranker: bool = False  # in recall order only because the reranker is still loading
    timings: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        """What `POST /api/search` answers; `kb search --json` prints its "hits"."""
        return {"hits": [h.as_json() for h in self.hits], "rerank_note": self.rerank_note, "timings": self.timings}
