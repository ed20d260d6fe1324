"""A persistent BM25 index per knowledge base: a bm25s base segment on disk, a small delta, tombstones.

Layout of `dir` (generation g):
    manifest.json        {"generation": g, "base": "base-g" | null, "cjk": ...}; replaced atomically
    base-g/              bm25s index (memory-mapped) + rows.json (chunk and doc id per row) + lens.npy
    log-g.jsonl          append-only log since the base was built: {"add": doc, "chunks": [[id, tokens]]}
                         and {"remove": doc}; each line fsynced before add()/remove() return
    lock                 flock'ed by writers, so the CLI and the app can both write

Scores are exact: equal (to float rounding) to a bm25s index built from scratch on the live chunks.
BM25 needs corpus statistics (N, document frequency, average length) over *all* live chunks, and bm25s bakes
base-only statistics into the scores it stores (idf * tf / (tf + k1 * (1 - b + b * len / avglen))). Because idf
and lengths of the base are known, the stored value is inverted back to the integer term frequency (rounded, so
float32 noise vanishes) for the postings of the query's terms only, and rescored with the statistics of
base-minus-tombstones plus delta. Query cost stays that of the query terms' postings; the delta may grow
without hurting accuracy, only speed, so merging (`merge()`, automatic past `merge_at` delta chunks or
`merge_ratio` of the base) is a matter of speed and disk space.

Processes: writers serialize on the lock file and first catch up with the log; readers check the manifest
and log sizes on every search (two stat calls) and apply what another process appended. Threads: one RLock
guards the in-memory state, so searches see a consistent snapshot; a merge builds the new base outside it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from app.lexical.tokenize import DEFAULT_CJK_METHOD, tokenize

K1 = 1.5
B = 0.75
_MANIFEST = "manifest.json"


def _idf(df: np.ndarray | int, n: int):
    """Lucene IDF, bm25s's default: always positive."""
    return np.log(1 + (n - df + 0.5) / (df + 0.5))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class _Base:
    """The read-only bm25s segment plus the row -> (chunk, doc) map and chunk lengths bm25s doesn't keep."""

    model: bm25s.BM25
    chunk_ids: list[str]
    doc_ids: list[str]
    lens: np.ndarray
    doc_rows: dict[str, np.ndarray]
    total_len: int = 0
    avglen: float = 0.0

    def __post_init__(self) -> None:
        self.total_len = int(np.asarray(self.lens, dtype=np.int64).sum())
        self.avglen = float(np.asarray(self.lens).mean())  # bm25s's own formula, so the inversion is exact

    @classmethod
    def load(cls, path: Path) -> _Base:
        model = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
        rows = json.loads((path / "rows.json").read_text(encoding="utf-8"))
        lens = np.load(path / "lens.npy", mmap_mode="r")
        by_doc: dict[str, list[int]] = {}
        for i, d in enumerate(rows["doc_ids"]):
            by_doc.setdefault(d, []).append(i)
        doc_rows = {d: np.asarray(r, dtype=np.int64) for d, r in by_doc.items()}
        return cls(model, rows["chunk_ids"], rows["doc_ids"], lens, doc_rows)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, term frequencies) of `token` over all base rows, tombstoned ones included."""
        start, end = self._span(token)
        s = self.model.scores
        rows = np.asarray(s["indices"][start:end], dtype=np.int64)
        return rows, self._term_freqs(np.asarray(s["data"][start:end], dtype=np.float64), end - start, rows)

    def rows(self, token: str) -> np.ndarray:
        """The base rows holding `token`, tombstoned ones included (no term frequencies: cheaper)."""
        start, end = self._span(token)
        return np.asarray(self.model.scores["indices"][start:end], dtype=np.int64)

    def _span(self, token: str) -> tuple[int, int]:
        """Where `token`'s postings sit in the CSC arrays; (0, 0) for a token not in the vocabulary."""
        tid = self.model.vocab_dict.get(token)
        if tid is None:
            return 0, 0
        indptr = self.model.scores["indptr"]
        return int(indptr[tid]), int(indptr[tid + 1])

    def _term_freqs(self, stored: np.ndarray, df, rows: np.ndarray) -> np.ndarray:
        # stored = idf * tf / (tf + k1 * norm)  =>  tf = k1 * norm * u / (1 - u), with u = stored / idf
        m = self.model
        u = stored / _idf(np.asarray(df, dtype=np.float64), len(self))
        norm = 1 - m.b + m.b * np.asarray(self.lens[rows], dtype=np.float64) / self.avglen
        return np.rint(m.k1 * norm * u / (1 - u))

    def rows_as_token_ids(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(row, token ids, term frequencies) for every row, decoded from the stored scores (used by merge)."""
        s = self.model.scores
        indptr = np.asarray(s["indptr"])
        df = np.diff(indptr)
        token_of = np.repeat(np.arange(len(df)), df)
        rows = np.asarray(s["indices"], dtype=np.int64)
        tf = self._term_freqs(np.asarray(s["data"], dtype=np.float64), df[token_of], rows)
        order = np.argsort(rows, kind="stable")
        bounds = np.searchsorted(rows[order], np.arange(len(self) + 1))
        for r in range(len(self)):
            sel = order[bounds[r] : bounds[r + 1]]
            yield r, token_of[sel], tf[sel]


@dataclass
class _Delta:
    """Chunks added since the base was built, with an in-memory inverted index updated per add/remove."""

    chunks: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # seq -> chunk_id, doc_id, length
    tfs: dict[int, Counter] = field(default_factory=dict)
    docs: dict[str, list[int]] = field(default_factory=dict)
    postings: dict[str, dict[int, int]] = field(default_factory=dict)
    total_len: int = 0
    next_seq: int = 0

    def add(self, doc_id: str, chunk_id: str, tokens: list[str]) -> None:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        tf = Counter(map(sys.intern, tokens))  # one string object per distinct token across the delta
        self.chunks[seq] = (chunk_id, doc_id, len(tokens))
        self.tfs[seq] = tf
        self.docs.setdefault(doc_id, []).append(seq)
        self.total_len += len(tokens)
        for tok, n in tf.items():
            self.postings.setdefault(tok, {})[seq] = n

    def remove(self, doc_id: str) -> None:
        for seq in self.docs.pop(doc_id, []):
            self.total_len -= self.chunks.pop(seq)[2]
            for tok in self.tfs.pop(seq):
                plist = self.postings[tok]
                del plist[seq]
                if not plist:
                    del self.postings[tok]


def _live_corpus(base: _Base | None, dead: np.ndarray, delta_items: list[tuple[str, str, Counter]]):
    """Token-id lists (bags of words: order is irrelevant to BM25), vocabulary, chunk ids and doc ids of the
    live chunks, ready for bm25s; base rows are decoded from the stored scores, not re-tokenized."""
    vocab = dict(base.model.vocab_dict) if base else {}
    bags: list[np.ndarray] = []
    chunk_ids: list[str] = []
    doc_ids: list[str] = []
    if base:
        for row, tids, tfs in base.rows_as_token_ids():
            if not dead[row]:
                bags.append(np.repeat(tids, tfs.astype(np.int64)))
                chunk_ids.append(base.chunk_ids[row])
                doc_ids.append(base.doc_ids[row])
    for chunk_id, doc_id, tf in delta_items:
        tids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tf), dtype=np.int64, count=len(tf))
        bags.append(np.repeat(tids, np.fromiter(tf.values(), dtype=np.int64, count=len(tf))))
        chunk_ids.append(chunk_id)
        doc_ids.append(doc_id)
    # Drop tokens that only deleted chunks had, so the vocabulary does not grow with every replace.
    used = np.zeros(len(vocab), dtype=bool)
    for bag in bags:
        used[bag] = True
    remap = np.cumsum(used) - 1
    vocab = {t: int(remap[i]) for t, i in vocab.items() if used[i]}
    # Python ints: bm25s hashes tokens chunk by chunk, several times faster than with numpy scalars.
    return [remap[bag].tolist() for bag in bags], vocab, chunk_ids, doc_ids


class LexicalIndex:
    """BM25 over the chunks of one knowledge base, persisted in `dir`.

    Args:
        dir: folder of this index (created on first write).
        cjk: CJK tokenizer for a new index ("bigram" or "jieba"); an existing index keeps the one it was built with.
        merge_at: merge the delta into a new base once it holds this many chunks ...
        merge_ratio: ... or this fraction of the base, whichever is smaller (but at least `merge_min`).
        merge_min: never merge a delta smaller than this.

    Example:
        >>> ix = LexicalIndex(tmp_path / "bm25")
        >>> ix.add("doc1", ["doc1:0", "doc1:1"], ["Cats purr.", "Dogs bark loudly."])
        >>> ix.search("barking dog", k=5)
        [('doc1:1', 0.5087...)]
    """

    def __init__(
        self,
        dir: Path,
        *,
        cjk: str = DEFAULT_CJK_METHOD,
        merge_at: int = 20_000,
        merge_ratio: float = 0.1,
        merge_min: int = 1_000,
    ) -> None:
        self.dir = Path(dir)
        try:  # an existing index keeps its tokenizer: queries must be tokenized like the chunks were
            self.cjk = json.loads((self.dir / _MANIFEST).read_text())["cjk"]
        except FileNotFoundError:
            self.cjk = cjk
        self.merge_at, self.merge_ratio, self.merge_min = merge_at, merge_ratio, merge_min
        self._lock = threading.RLock()
        self._generation = -1
        self._manifest_stamp: tuple | None = None
        self._base: _Base | None = None
        self._dead = np.zeros(0, dtype=bool)  # tombstoned base rows
        self._dead_len = 0
        self._n_dead = 0
        self._base_removed: set[str] = set()
        self._delta = _Delta()
        self._log_offset = 0

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
        with self._lock:
            self._refresh()
            return self._search(terms, k, exclude_doc_ids)

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each term over the live chunks (terms in none are left out)."""
        with self._lock:
            self._refresh()
            n = self._live_count()
            out = {}
            for term in set(terms):
                df = len(self._delta.postings.get(term, ()))
                if self._base:
                    rows = self._base.rows(term)
                    df += len(rows) - (int(self._dead[rows].sum()) if self._n_dead else 0)
                if df > 0:
                    out[term] = float(_idf(df, n))
            return out

    def analyze(self, text: str) -> list[str]:
        """`text` as this index's tokens (the tokenizer it was built with), duplicates kept."""
        return tokenize(text, self.cjk)

    def _search(self, terms: Mapping[str, float], k: int, exclude: Collection[str]) -> list[tuple[str, float]]:
        base, delta = self._base, self._delta
        n_base = len(base) if base else 0
        n = self._live_count()
        if n == 0 or not terms or k <= 0:
            return []
        avglen = ((base.total_len if base else 0) - self._dead_len + delta.total_len) / n
        base_scores = np.zeros(n_base)
        delta_scores: Counter = Counter()
        for token, weight in terms.items():  # a query term repeated n times has weight n, as in bm25s
            if weight <= 0:
                continue
            rows, tf = base.postings(token) if base else (np.empty(0, np.int64), np.empty(0))
            live = ~self._dead[rows]
            rows, tf = rows[live], tf[live]
            dpost = delta.postings.get(token, {})
            df = len(rows) + len(dpost)
            if df == 0:
                continue
            idf = weight * math.log(1 + (n - df + 0.5) / (df + 0.5))
            if len(rows):
                norm = K1 * (1 - B + B * np.asarray(base.lens[rows], dtype=np.float64) / avglen)
                base_scores[rows] += idf * tf / (tf + norm)
            for seq, f in dpost.items():
                norm = K1 * (1 - B + B * delta.chunks[seq][2] / avglen)
                delta_scores[seq] += idf * f / (f + norm)
        for d in exclude:
            if base and d in base.doc_rows:
                base_scores[base.doc_rows[d]] = 0.0
        hits = []
        if base:
            top = np.flatnonzero(base_scores > 0)
            if len(top) > k:  # keep everything tied with the k-th score, so the id tie-break below is exact
                kth = np.partition(base_scores[top], len(top) - k)[len(top) - k]
                top = top[base_scores[top] >= kth]
            hits = [(base.chunk_ids[r], float(base_scores[r])) for r in top]
        exclude = set(exclude)
        hits += [
            (delta.chunks[s][0], score) for s, score in delta_scores.items() if delta.chunks[s][1] not in exclude
        ]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def doc_ids(self) -> set[str]:
        """Ids of the documents that have chunks in the index (to reconcile with the catalog after a crash)."""
        with self._lock:
            self._refresh()
            base_docs = set(self._base.doc_rows) - self._base_removed if self._base else set()
            return base_docs | set(self._delta.docs)

    def __len__(self) -> int:
        """Number of live chunks."""
        with self._lock:
            self._refresh()
            return self._live_count()

    def _live_count(self) -> int:
        """Live chunks: base rows not tombstoned, plus the delta's (the caller holds the lock)."""
        return (len(self._base) if self._base else 0) - self._n_dead + len(self._delta.chunks)

    def memory_bytes(self) -> int:
        """Approximate resident size: the memory-mapped arrays (as if fully paged in) plus Python structures.

        Walks every structure, so it costs O(size): for benchmarks and diagnostics, not per query.
        """
        def strings(xs) -> int:
            return sys.getsizeof(xs) + sum(sys.getsizeof(x) for x in xs)

        with self._lock:
            total = self._dead.nbytes
            if self._base:
                b = self._base
                total += sum(b.model.scores[a].nbytes for a in ("data", "indices", "indptr")) + b.lens.nbytes
                total += strings(b.chunk_ids) + strings(b.doc_ids) + strings(b.model.vocab_dict)
                total += sys.getsizeof(b.model.unique_token_ids_set)
                total += sys.getsizeof(b.doc_rows) + sum(a.nbytes + 112 for a in b.doc_rows.values())
            d = self._delta
            total += sum(sys.getsizeof(c) for c in d.tfs.values())
            total += sum(sys.getsizeof(p) for p in d.postings.values()) + strings(d.postings)
            total += 200 * len(d.chunks)  # chunk tuples and their id strings
            return total

    # ---- writing -------------------------------------------------------------------------------------------

    def add(self, doc_id: str, chunk_ids: list[str], texts: list[str]) -> None:
        """Index one document's chunks, replacing any chunks already indexed under `doc_id`.

        Durable when it returns (the log line is fsynced). May then merge the delta into a new base
        (seconds for a large index; see the class arguments).
        """
        self.add_many([(doc_id, chunk_ids, texts)])

    def add_many(self, docs: Iterable[tuple[str, list[str], list[str]]]) -> None:
        """`add()` for several documents (doc_id, chunk_ids, texts) with one fsync and at most one merge."""
        records = []
        for doc_id, chunk_ids, texts in docs:
            if len(chunk_ids) != len(texts):
                raise ValueError(
                    f"add({doc_id!r}): {len(chunk_ids)} chunk ids but {len(texts)} texts; pass one per chunk."
                )
            chunks = [[c, tokenize(t, self.cjk)] for c, t in zip(chunk_ids, texts, strict=True)]
            records.append({"add": doc_id, "chunks": chunks})
        if not records:
            return
        with self._writing():
            self._append(records)
            if self._delta_too_big():
                self._merge_locked()

    def remove(self, doc_id: str) -> None:
        """Remove every chunk of `doc_id` (a no-op if it has none). Durable when it returns."""
        with self._writing():
            self._append([{"remove": doc_id}])

    def merge(self) -> None:
        """Fold the delta and the tombstones into a new base segment (also done automatically by add())."""
        with self._writing():
            self._merge_locked()

    @contextmanager
    def _writing(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # across processes; released when the file closes
            with self._lock:
                self._refresh(writer=True)
                if self._manifest_stamp is None:
                    self._write_manifest(0, None)
                    self._refresh(writer=True)
            yield

    def _append(self, records: list[dict]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        with self._lock:
            with open(self._log_path(self._generation), "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            for record in records:
                self._apply(record)
            self._log_offset += len(data)

    def _delta_too_big(self) -> bool:
        n_base = len(self._base) if self._base else 0
        changed = len(self._delta.chunks) + self._n_dead
        return changed >= max(self.merge_min, min(self.merge_at, self.merge_ratio * n_base))

    def _merge_locked(self) -> None:
        with self._lock:  # snapshot; this thread is the only writer (flock held), so the state cannot change
            base, dead, delta, gen = self._base, self._dead.copy(), self._delta, self._generation
            delta_items = [(c, d, delta.tfs[s]) for s, (c, d, _) in delta.chunks.items()]
        corpus, vocab, chunk_ids, doc_ids = _live_corpus(base, dead, delta_items)
        lens = [len(c) for c in corpus]

        new_base = None
        if corpus:
            new_base = f"base-{gen + 1}"
            tmp = self.dir / (new_base + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            model = bm25s.BM25(k1=K1, b=B)
            model.index((corpus, vocab), show_progress=False)
            model.save(str(tmp), show_progress=False)
            (tmp / "rows.json").write_text(json.dumps({"chunk_ids": chunk_ids, "doc_ids": doc_ids}), "utf-8")
            np.save(tmp / "lens.npy", np.asarray(lens, dtype=np.int32))
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, self.dir / new_base)
        self._write_manifest(gen + 1, new_base)
        with self._lock:
            self._refresh(writer=True)
        self._drop_generations_before(gen)  # keep the previous one: a reader may be loading it right now

    # ---- persistence ---------------------------------------------------------------------------------------

    def _log_path(self, generation: int) -> Path:
        return self.dir / f"log-{generation}.jsonl"

    def _write_manifest(self, generation: int, base: str | None) -> None:
        log = self._log_path(generation)
        with open(log, "ab") as f:
            os.fsync(f.fileno())
        manifest = {"generation": generation, "base": base, "cjk": self.cjk}
        _write_atomic(self.dir / _MANIFEST, json.dumps(manifest).encode())

    def _drop_generations_before(self, generation: int) -> None:
        for p in self.dir.iterdir():
            stem = p.name.split(".")[0]
            prefix, _, num = stem.partition("-")
            if prefix in ("base", "log") and num.isdigit() and int(num) < generation:
                shutil.rmtree(p) if p.is_dir() else p.unlink()

    def _refresh(self, writer: bool = False) -> None:
        """Pick up changes made by other processes (a new generation, or lines appended to the log)."""
        for attempt in range(3):
            try:
                st = os.stat(self.dir / _MANIFEST)
            except FileNotFoundError:
                return
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            try:
                if stamp != self._manifest_stamp:
                    self._load(json.loads((self.dir / _MANIFEST).read_text()), stamp)
                self._read_log(writer)
                return
            except FileNotFoundError:  # a merge in another process removed what we were loading: retry
                if attempt == 2:
                    raise

    def _load(self, manifest: dict, stamp: tuple) -> None:
        gen = manifest["generation"]
        if gen == self._generation:
            self._manifest_stamp = stamp
            return
        base = _Base.load(self.dir / manifest["base"]) if manifest["base"] else None
        self.cjk = manifest["cjk"]
        self._base, self._generation, self._manifest_stamp = base, gen, stamp
        self._dead = np.zeros(len(base) if base else 0, dtype=bool)
        self._dead_len = 0
        self._n_dead = 0
        self._base_removed = set()
        self._delta = _Delta()
        self._log_offset = 0

    def _read_log(self, writer: bool) -> None:
        path = self._log_path(self._generation)
        if os.stat(path).st_size == self._log_offset:
            return
        with open(path, "rb") as f:
            f.seek(self._log_offset)
            tail = f.read()
        end = tail.rfind(b"\n") + 1
        for line in tail[:end].splitlines():
            self._apply(json.loads(line))
        self._log_offset += end
        if writer and end < len(tail):  # a torn line from a crashed writer: cut it so appends stay parseable
            os.truncate(path, self._log_offset)

    def _apply(self, record: dict) -> None:
        doc_id = record["add"] if "add" in record else record["remove"]
        self._delta.remove(doc_id)
        base = self._base
        if base and doc_id in base.doc_rows and doc_id not in self._base_removed:
            rows = base.doc_rows[doc_id]
            self._dead[rows] = True
            self._dead_len += int(np.asarray(base.lens[rows]).sum())
            self._n_dead += len(rows)
            self._base_removed.add(doc_id)
        for chunk_id, tokens in record.get("chunks", []):
            self._delta.add(doc_id, chunk_id, tokens)
