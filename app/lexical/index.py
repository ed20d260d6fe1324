"""A persistent BM25 index per knowledge base, stored by tantivy (PyPI `tantivy`, MIT licence: the official
Python bindings of the Rust search library behind Quickwit).

Analysis stays the project's own (`app.lexical.tokenize`): a chunk is indexed as its tokens joined by spaces, in
a field that tantivy splits on whitespace and nothing else, and queries are term queries on the same tokens, so
tantivy never stems, lowercases or drops a word of its own.

Scores are tantivy's BM25, which is Lucene's: k1 = 1.2, b = 0.75, idf = log(1 + (N - df + 0.5) / (df + 0.5)),
the (k1 + 1) factor, and each chunk's length kept in one byte (exact up to 40 tokens, at most 1/8 short above).
As in Lucene, a removed chunk still counts in N, df and the average length until tantivy merges its segment,
or drops it once every chunk in it is removed.

Layout of `dir`: tantivy's files (immutable segments, and meta.json listing the committed ones, replaced
atomically by each commit), `lexical.json` ({"cjk": ...}, written before the index) and `lock`.

Writes: one `add_many()` or `remove()` is one tantivy commit, durable and all-or-nothing when it returns; a writer
killed midway leaves the last commit intact, and the next commit garbage-collects the files it left. Writers of
every instance and process take the flock of `lock` first, so tantivy's own writer lock is always free when a
writer asks for it. That one (`.tantivy-writer.lock`) is an flock too: the kernel releases it when its holder
dies, and the file left behind is harmless. It is never deleted, since deleting a held lock file would let a
second writer in. Reads: each read compares meta.json with the copy last loaded and reloads tantivy's reader when
another instance or process has committed since; a searcher is a snapshot, so no read sees half a write.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import tantivy

from app.errors import LexicalIndexOutdated
from app.lexical.tokenize import DEFAULT_CJK_METHOD, tokenize

_SETTINGS = "lexical.json"
_META = "meta.json"  # tantivy's list of committed segments
_OLD_FORMAT = "manifest.json"  # written by the bm25s index this one replaced
# Indexing memory of one write: tantivy flushes a segment each time it fills (its floor is 15 MB a thread).
WRITER_HEAP = 64_000_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # Term frequencies and lengths are all BM25 needs: no positions (no phrase queries).
    builder.add_text_field("text", tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("doc_id", tokenizer_name="raw", index_option="basic")
    return builder.build()


class LexicalIndex:
    """BM25 over the chunks of one knowledge base, persisted in `dir`.

    Args:
        dir: folder of this index (created on first write).
        cjk: CJK tokenizer for a new index ("bigram" or "jieba"); an existing index keeps the one it was built with.

    Example:
        >>> ix = LexicalIndex(tmp_path / "bm25")
        >>> ix.add("doc1", ["doc1:0", "doc1:1"], ["Cats purr.", "Dogs bark loudly."])
        >>> ix.search("barking dog", k=5)
        [('doc1:1', 1.2814...)]
    """

    def __init__(self, dir: Path, *, cjk: str = DEFAULT_CJK_METHOD) -> None:
        self.dir = Path(dir)
        if (self.dir / _OLD_FORMAT).exists():
            raise LexicalIndexOutdated(
                f"The BM25 index in {self.dir} was written by an earlier version of kb (bm25s segments) and "
                "cannot be read any more; rebuild it with `kb reindex --kb <name>`."
            )
        # An existing index keeps its tokenizer: queries must be tokenized like the chunks were.
        self.cjk = self._stored_cjk() or cjk
        self._schema = _schema()
        self._lock = threading.Lock()  # guards the two fields below
        self._index: tantivy.Index | None = None
        self._meta: bytes | None = None  # meta.json as last loaded into the reader

    # ---- reading -------------------------------------------------------------------------------------------

    def search(self, query: str, k: int, exclude_doc_ids: Collection[str] = ()) -> list[tuple[str, float]]:
        """The `k` best chunks for `query` as (chunk_id, score), best first, only scores > 0.

        Ties are broken by chunk id, so results are deterministic.
        """
        return self.search_terms(Counter(self.analyze(query)), k, exclude_doc_ids)

    def search_terms(
        self, terms: Mapping[str, float], k: int, exclude_doc_ids: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """Like `search`, for a weighted query: each term's BM25 contribution is multiplied by its weight.

        `search(q)` is `search_terms(Counter(analyze(q)))`; a query expanded by pseudo-relevance feedback
        gives its added terms smaller weights. Terms must come from `analyze` (stemmed, lower-cased).
        """
        clauses = [
            (tantivy.Occur.Should, tantivy.Query.boost_query(self._term(term), float(weight)))
            for term, weight in terms.items()
            if weight > 0
        ]
        searcher = self._searcher()
        if searcher is None or not clauses or k <= 0:
            return []
        if exclude_doc_ids:
            excluded = tantivy.Query.term_set_query(self._schema, "doc_id", list(exclude_doc_ids))
            clauses.append((tantivy.Occur.MustNot, excluded))
        hits = _top_with_ties(searcher, tantivy.Query.boolean_query(clauses), k)
        found = [(searcher.doc(address).get_first("chunk_id"), score) for score, address in hits if score > 0]
        found.sort(key=lambda h: (-h[1], h[0]))
        return found[:k]

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each term (terms in no chunk are left out).

        N is the number of live chunks; df is tantivy's, which counts a removed chunk until its segment is merged.
        """
        searcher = self._searcher()
        if searcher is None:
            return {}
        n = searcher.num_docs
        out = {}
        for term in set(terms):
            df = min(searcher.doc_freq("text", term), n)
            if df > 0:
                out[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def analyze(self, text: str) -> list[str]:
        """`text` as this index's tokens (the tokenizer it was built with), duplicates kept."""
        return tokenize(text, self.cjk)

    def doc_ids(self) -> set[str]:
        """Ids of the documents that have chunks in the index (to reconcile with the catalog after a crash)."""
        searcher = self._searcher()
        if searcher is None:
            return set()
        # Counted over live chunks only (the filter), so a removed document's id, still in the dictionary, is not.
        live = searcher.terms_with_prefix("doc_id", "", filter_query=tantivy.Query.all_query())
        return {doc_id for doc_id, _ in live}

    def __len__(self) -> int:
        """Number of live chunks."""
        searcher = self._searcher()
        return searcher.num_docs if searcher is not None else 0

    def _term(self, token: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, "text", token, index_option="freq")

    def _searcher(self) -> tantivy.Searcher | None:
        """A snapshot of the last commit of any instance or process; None while no index exists."""
        try:
            meta = (self.dir / _META).read_bytes()  # replaced atomically: the old or the new one, whole
        except FileNotFoundError:
            return None
        with self._lock:
            if self._index is None:
                self._index = self._open()
            if meta != self._meta:
                # Read before reloading: a commit landing in between is loaded now and reloaded once more later.
                self._index.reload()
                self._meta = meta
            return self._index.searcher()

    def _open(self) -> tantivy.Index:
        """The index in `dir`, created if absent (only writers call this without a meta.json)."""
        index = tantivy.Index(self._schema, path=str(self.dir), reuse=True)
        # Reloaded by _searcher() on every read, not by tantivy's file watcher (polls every 500 ms), so that the
        # next read after a commit sees it, in every instance and process.
        index.config_reader(reload_policy="manual")
        self.cjk = self._stored_cjk() or self.cjk
        return index

    def _stored_cjk(self) -> str | None:
        try:
            return json.loads((self.dir / _SETTINGS).read_text(encoding="utf-8"))["cjk"]
        except FileNotFoundError:
            return None

    # ---- writing -------------------------------------------------------------------------------------------

    def add(self, doc_id: str, chunk_ids: list[str], texts: list[str]) -> None:
        """Index one document's chunks, replacing any chunks already indexed under `doc_id`.

        Durable when it returns (one tantivy commit).
        """
        self.add_many([(doc_id, chunk_ids, texts)])

    def add_many(self, docs: Iterable[tuple[str, list[str], list[str]]]) -> None:
        """`add()` for several documents (doc_id, chunk_ids, texts), in one commit: all of them or none."""
        batch = []
        for doc_id, chunk_ids, texts in docs:
            if len(chunk_ids) != len(texts):
                raise ValueError(
                    f"add({doc_id!r}): {len(chunk_ids)} chunk ids but {len(texts)} texts; pass one per chunk."
                )
            # The project's tokens, joined for tantivy's whitespace tokenizer (a token never holds a space).
            joined = [" ".join(tokenize(t, self.cjk)) for t in texts]
            batch.append((doc_id, list(zip(chunk_ids, joined, strict=True))))
        if not batch:
            return
        with self._writing() as writer:
            for doc_id, chunks in batch:
                # A delete applies to the chunks added before it, so the ones added next replace the old ones.
                writer.delete_documents_by_term("doc_id", doc_id)
                for chunk_id, text in chunks:
                    writer.add_document(tantivy.Document(text=text, chunk_id=chunk_id, doc_id=doc_id))

    def remove(self, doc_id: str) -> None:
        """Remove every chunk of `doc_id` (a no-op if it has none). Durable when it returns."""
        with self._writing() as writer:
            writer.delete_documents_by_term("doc_id", doc_id)

    @contextmanager
    def _writing(self) -> Iterator[tantivy.IndexWriter]:
        """A tantivy writer whose operations are committed together when the block ends without an error."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # across instances and processes; released when the file closes
            with self._lock:
                if self._index is None:
                    if self._stored_cjk() is None:
                        _write_atomic(self.dir / _SETTINGS, json.dumps({"cjk": self.cjk}).encode())
                    self._index = self._open()
                index = self._index
            writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)
            try:
                yield writer
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                # Consumes the writer, releasing tantivy's writer lock before ours, after the merges the commit
                # started (a writer dropped mid-merge drops the merge, and segments would pile up).
                writer.wait_merging_threads()


def _top_with_ties(searcher: tantivy.Searcher, query: tantivy.Query, k: int) -> list[tuple[float, tantivy.DocAddress]]:
    """The top `k` hits plus every hit tied with the k-th, so that the chunk-id tie-break sees all candidates
    (tantivy breaks ties by its internal document order)."""
    limit = k + 1
    while True:
        hits = searcher.search(query, limit, count=False).hits
        if len(hits) < limit or hits[-1][0] < hits[k - 1][0]:
            return hits
        limit *= 2


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
