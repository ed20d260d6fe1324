"""LexicalIndex on real tantivy: scores against a from-scratch BM25, persistence, incremental updates, several
instances and processes, and writers killed with SIGKILL."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from app.errors import LexicalIndexOutdated
from app.lexical import LexicalIndex, tokenize

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "river bank money loan water fish boat bridge city tower train station ticket price market stock bond "
    "rate interest growth storm rain cloud wind solar energy power grid battery engine motor wheel road"
).split()
QUERIES = ["river bank", "money loan interest", "storm wind rain", "solar battery power", "train ticket price",
           "bridge", "engine motor wheel road", "fish", "数据 检索", "银行 利率 money"]
K1, B = 1.2, 0.75  # tantivy's BM25 (Lucene's)


def make_docs(n_docs: int, seed: int = 0, prefix: str = "doc") -> dict[str, list[str]]:
    """Documents of 1-4 chunks of random words (some Chinese), with skewed frequencies like real text; some chunks
    are longer than 40 tokens, where tantivy's one-byte lengths start to round."""
    rng = random.Random(seed)
    vocab = WORDS + ["数据检索", "银行利率", "北京"]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    return {
        f"{prefix}{d}": [" ".join(rng.choices(vocab, weights, k=rng.randint(3, 60))) for _ in range(rng.randint(1, 4))]
        for d in range(n_docs)
    }


def add_all(ix: LexicalIndex, docs: dict[str, list[str]]) -> None:
    """One add (one commit) per document."""
    for doc_id, texts in docs.items():
        ix.add(doc_id, [f"{doc_id}:{i}" for i in range(len(texts))], texts)


def as_batch(docs: dict[str, list[str]]) -> list[tuple[str, list[str], list[str]]]:
    return [(d, [f"{d}:{i}" for i in range(len(texts))], texts) for d, texts in docs.items()]


def _byte4_to_int(b: int) -> int:
    """Lucene's SmallFloat.byte4ToInt, the table tantivy stores chunk lengths with (fieldnorm codes)."""
    if b < 24:
        return b
    mantissa, shift = (b - 24) & 7, ((b - 24) >> 3) - 1
    return 24 + (mantissa if shift < 0 else (mantissa | 8) << shift)


STORED_LENGTHS = [_byte4_to_int(b) for b in range(256)]


def stored_length(n: int) -> int:
    """A chunk's length as the index keeps it: the largest of the 256 codes not above it."""
    return STORED_LENGTHS[bisect_right(STORED_LENGTHS, n) - 1]


def reference_scores(
    docs: dict[str, list[str]], terms: Mapping[str, float] | str, removed: dict[str, list[str]] | None = None
) -> dict[str, float]:
    """BM25 computed from scratch on the tokens of `docs`, the way Lucene and tantivy define it. `removed`: chunks
    that count in the statistics (N, df, average length) without being returned, as removed chunks do until
    tantivy merges their segment."""
    if isinstance(terms, str):
        terms = Counter(tokenize(terms))
    live = {f"{d}:{i}": tokenize(t) for d, texts in docs.items() for i, t in enumerate(texts)}
    counted = list(live.values()) + [tokenize(t) for texts in (removed or {}).values() for t in texts]
    n = len(counted)
    avglen = sum(map(len, counted)) / n
    scores: dict[str, float] = {}
    for term, weight in terms.items():
        df = sum(term in c for c in counted)
        if df == 0 or weight <= 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for cid, tokens in live.items():
            tf = tokens.count(term)
            if tf:
                norm = K1 * (1 - B + B * stored_length(len(tokens)) / avglen)
                scores[cid] = scores.get(cid, 0.0) + weight * idf * (K1 + 1) * tf / (tf + norm)
    return scores


def assert_matches_reference(ix: LexicalIndex, docs: dict[str, list[str]], removed=None) -> None:
    for q in QUERIES:
        got = dict(ix.search(q, k=10_000))
        want = reference_scores(docs, q, removed)
        assert got.keys() == want.keys(), q
        np.testing.assert_allclose([got[c] for c in want], list(want.values()), rtol=1e-5, err_msg=q)


def segment_files_are_committed_ones(index_dir: Path) -> bool:
    """Every segment file on disk belongs to a segment of the last commit (nothing a crash left behind stays)."""
    meta = json.loads((index_dir / "meta.json").read_text())
    live = {s["segment_id"].replace("-", "") for s in meta["segments"]}
    on_disk = {p.name.split(".")[0] for p in index_dir.iterdir() if not p.name.startswith(".") and "." in p.name}
    return on_disk - {"meta", "lexical"} <= live


def run_python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    """`code` in a fresh Python process that imports this checkout, `args` as its sys.argv[1:]."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **kwargs)


def test_search_returns_best_chunks_first_with_positive_scores(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add("d1", ["d1:0", "d1:1"], ["Cats purr on the sofa.", "Dogs bark loudly at night."])
    ix.add("d2", ["d2:0"], ["A barking dog and a sleeping dog."])
    hits = ix.search("barking dogs", k=5)
    assert [c for c, _ in hits] == ["d2:0", "d1:1"]
    assert hits[0][1] > hits[1][1] > 0
    assert ix.search("barking dogs", k=1) == hits[:1]
    assert ix.search("quantum chromodynamics", k=5) == []
    assert ix.search("the of", k=5) == []  # stopwords only
    assert ix.search("dog", k=0) == []
    assert [c for c, _ in ix.search("dog", k=5, exclude_doc_ids={"d2"})] == ["d1:1"]
    assert ix.search("dog", k=5, exclude_doc_ids={"d1", "d2"}) == []
    assert len(ix) == 3 and ix.doc_ids() == {"d1", "d2"}


def test_empty_index_searches_without_creating_files(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    assert ix.search("anything", k=5) == [] and len(ix) == 0 and ix.doc_ids() == set() and ix.idf(["x"]) == {}
    assert not (tmp_path / "bm25").exists()


def test_incremental_adds_match_a_from_scratch_bm25(tmp_path):
    docs = make_docs(90)
    ix = LexicalIndex(tmp_path / "bm25")
    first = dict(list(docs.items())[:70])
    ix.add_many(as_batch(first))  # one commit
    add_all(ix, {d: t for d, t in docs.items() if d not in first})  # twenty more, which tantivy merges 8 by 8
    assert_matches_reference(ix, docs)
    assert len(ix) == sum(len(t) for t in docs.values()) and ix.doc_ids() == set(docs)
    assert_matches_reference(LexicalIndex(tmp_path / "bm25"), docs)
    assert segment_files_are_committed_ones(tmp_path / "bm25")


def test_removed_chunks_count_in_statistics_until_their_segment_goes(tmp_path):
    """Lucene's semantics, exactly: removed chunks are never returned, but N, df and the average length include
    them while their segment stands (three segments here: tantivy merges from eight), and stop counting once
    every chunk of the segment is removed, which drops it."""
    a, b = make_docs(20, seed=1, prefix="a"), make_docs(20, seed=2, prefix="b")
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add_many(as_batch(a))
    ix.add_many(as_batch(b))
    removed = {"a3": a.pop("a3"), "b1": b["b1"]}
    ix.remove("a3")
    b["b1"] = ["river bank river bank", "北京 数据检索"]
    ix.add("b1", ["b1:0", "b1:1"], b["b1"])  # replaces b1's chunks
    live = {**a, **b}
    assert_matches_reference(ix, live, removed)
    assert len(ix) == sum(len(t) for t in live.values()) and ix.doc_ids() == set(live)

    for doc_id in a:
        ix.remove(doc_id)
    assert_matches_reference(ix, b, {"b1": removed["b1"]})
    assert ix.doc_ids() == set(b) and segment_files_are_committed_ones(tmp_path / "bm25")


def test_remove_hides_every_chunk_of_a_document(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add("a", ["a:0", "a:1"], ["solar power", "solar battery"])
    ix.add("b", ["b:0"], ["wind power"])
    ix.add_many([("c", ["c:0"], ["solar wind"]), ("a", ["a:0"], ["solar energy"]), ("a", ["a:0"], ["solar grid"])])
    assert [c for c, _ in ix.search("solar", k=10)] == ["a:0", "c:0"]  # the last add of a document wins
    assert [c for c, _ in ix.search("grid", k=10)] == ["a:0"] and ix.search("energy", k=10) == []
    ix.remove("a")
    ix.remove("c")
    assert [c for c, _ in ix.search("solar power", k=10)] == ["b:0"]
    assert ix.doc_ids() == {"b"} and len(ix) == 1
    ix.remove("never-added")  # no-op
    assert len(ix) == 1


def test_reopening_from_disk_gives_the_same_results(tmp_path):
    docs = make_docs(40)
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add_many(as_batch(dict(list(docs.items())[:30])))
    add_all(ix, dict(list(docs.items())[30:]))
    ix.remove("doc1")
    before = {q: ix.search(q, k=20) for q in QUERIES}
    again = LexicalIndex(tmp_path / "bm25")
    assert {q: again.search(q, k=20) for q in QUERIES} == before
    assert again.doc_ids() == ix.doc_ids() and len(again) == len(ix)


def test_an_emptied_index(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add("a", ["a:0"], ["river bank"])
    ix.remove("a")
    assert len(ix) == 0 and ix.search("river", k=3) == [] and ix.idf(["river"]) == {}
    assert LexicalIndex(tmp_path / "bm25").doc_ids() == set()
    ix.add("b", ["b:0"], ["river"])
    assert [c for c, _ in LexicalIndex(tmp_path / "bm25").search("river", k=3)] == ["b:0"]


def test_a_reader_instance_sees_changes_of_a_writer_instance(tmp_path):
    writer = LexicalIndex(tmp_path / "bm25")
    reader = LexicalIndex(tmp_path / "bm25")
    writer.add("a", ["a:0"], ["river bank"])
    assert [c for c, _ in reader.search("river", k=3)] == ["a:0"]
    writer.add("b", ["b:0"], ["river boat"])
    writer.add("c", ["c:0", "c:1"], ["river fish", "fish market"])
    assert {c for c, _ in reader.search("river", k=10)} == {"a:0", "b:0", "c:0"}
    reader.remove("b")  # the reader writes too
    writer.add("d", ["d:0"], ["river"])
    assert writer.doc_ids() == reader.doc_ids() == {"a", "c", "d"}
    assert reader.search("river fish", k=10) == writer.search("river fish", k=10)


def test_a_long_lived_reader_sees_another_process_commits_at_once(tmp_path):
    docs = make_docs(30, seed=5)
    reader = LexicalIndex(tmp_path / "bm25")
    reader.add_many(as_batch(docs))
    assert_matches_reference(reader, docs)
    # Another process writes; this instance, open all along, sees it on its next search.
    extra = {"x": ["solar solar river", "北京 北京"]}
    code = f"from app.lexical import LexicalIndex; LexicalIndex({str(tmp_path / 'bm25')!r}).add_many({as_batch(extra)})"
    assert run_python(code).wait(timeout=60) == 0
    assert_matches_reference(reader, {**docs, **extra})

    # And the other way: a process with an open instance sees this one's commit.
    child = run_python(
        f"from app.lexical import LexicalIndex\nix = LexicalIndex({str(tmp_path / 'bm25')!r})\n"
        "print(sorted(ix.doc_ids()) == sorted(" + repr(sorted({*docs, *extra})) + "), flush=True)\n"
        "input()\nprint([c for c, _ in ix.search('zebra', 5)], flush=True)\n",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert child.stdout.readline().strip() == "True"
    reader.add("z", ["z:0"], ["zebra"])
    out, _ = child.communicate("\n", timeout=60)
    assert out.strip() == "['z:0']"


def test_writers_in_two_processes_take_turns(tmp_path):
    a, b = make_docs(12, seed=6, prefix="a"), make_docs(12, seed=7, prefix="b")
    code = (
        "from app.lexical import LexicalIndex\n"
        f"ix = LexicalIndex({str(tmp_path / 'bm25')!r})\n"
        "for doc_id, ids, texts in {batch!r}:\n    ix.add(doc_id, ids, texts)\n"
    )
    children = [run_python(code.format(batch=as_batch(docs))) for docs in (a, b)]
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    ix = LexicalIndex(tmp_path / "bm25")
    assert ix.doc_ids() == {*a, *b}
    assert_matches_reference(ix, {**a, **b})


KILLED_WRITER = """
import sys, time
import app.lexical.index as index
from app.lexical import LexicalIndex
index.tokenize = lambda text, cjk: text.split()  # cheap: the time goes to tantivy's writing, where the kill lands
ix, mode, prefix = LexicalIndex(sys.argv[1]), sys.argv[2], sys.argv[3]
words = [f"w{i}" for i in range(3000)]
if mode == "inside":  # killed holding the writer (and both locks), with chunks added but not committed
    with ix._writing() as writer:
        for i in range(2000):
            writer.add_document(index.tantivy.Document(text="river " + words[i], chunk_id=f"u:{i}", doc_id="u"))
        print("inside", flush=True)
        time.sleep(60)
print("writing", flush=True)
for n in range(1000):  # killed at some moment of a stream of writes: batches, commits, merges
    batch = [(f"{prefix}_{n}-{d}", [f"{prefix}_{n}-{d}:{c}" for c in range(4)],
              [" ".join(words[(d * 7 + c) % 2900:][:90]) for c in range(4)]) for d in range(1500)]
    ix.add_many(batch)
    print("committed", flush=True)
"""


def test_a_writer_killed_with_sigkill_leaves_an_index_that_opens_searches_and_takes_writes(tmp_path):
    index_dir = tmp_path / "bm25"
    LexicalIndex(index_dir).add("base", ["base:0"], ["river bank"])
    kills = [("inside", 0.0), ("stream", 0.5), ("stream", 1.3), ("stream", 2.2)]
    for round, (mode, delay) in enumerate(kills):
        child = run_python(KILLED_WRITER, str(index_dir), mode, f"k{round}", stdout=subprocess.PIPE)
        assert child.stdout.readline().strip() in ("inside", "writing")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        committed = child.stdout.read().split().count("committed")
        child.wait(timeout=30)
        assert (index_dir / ".tantivy-writer.lock").exists()  # left behind, and harmless

        ix = LexicalIndex(index_dir)
        docs = ix.doc_ids()
        killed = {d for d in docs if d.startswith("k")}
        assert docs == {"base", *(f"after{r}" for r in range(round)), *killed}  # "u" was never committed
        # All or nothing: whole batches of 1,500 documents of 4 chunks, each one the writer saw committed, plus
        # perhaps the one whose commit returned just before the kill.
        assert len(ix) == 1 + round + 4 * len(killed)
        batches = Counter(d.split("-")[0] for d in killed)
        assert set(batches.values()) <= {1500}
        assert sum(b.startswith(f"k{round}_") for b in batches) in (committed, committed + 1)
        assert [c for c, _ in ix.search("bank", k=5)] == ["base:0"]
        ix.add(f"after{round}", [f"after{round}:0"], ["quay"])
        assert {c for c, _ in LexicalIndex(index_dir).search("quay", k=5)} == {f"after{r}:0" for r in range(round + 1)}
        assert segment_files_are_committed_ones(index_dir)


def test_concurrent_searches_during_writes_see_consistent_snapshots(tmp_path):
    docs = make_docs(25, seed=1)
    ix = LexicalIndex(tmp_path / "bm25")
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop():
        try:
            while not stop.is_set():
                for q in QUERIES:
                    hits = ix.search(q, k=10)
                    assert all(s > 0 for _, s in hits) and hits == sorted(hits, key=lambda h: (-h[1], h[0]))
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=search_loop) for _ in range(2)]
    for t in threads:
        t.start()
    add_all(ix, docs)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert_matches_reference(ix, docs)


def test_add_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="one per chunk"):
        LexicalIndex(tmp_path / "bm25").add("a", ["a:0", "a:1"], ["only one"])


def test_an_existing_index_keeps_its_cjk_tokenizer(tmp_path):
    LexicalIndex(tmp_path / "bm25", cjk="jieba").add("a", ["a:0"], ["我在北京大学读书"])
    reopened = LexicalIndex(tmp_path / "bm25", cjk="bigram")
    assert reopened.cjk == "jieba"
    assert [c for c, _ in reopened.search("北京", k=3)] == ["a:0"]
    assert reopened.search("京大", k=3) == []  # a bigram that jieba never produces


def test_an_index_of_the_old_format_is_refused_with_the_fix(tmp_path):
    (tmp_path / "bm25").mkdir()
    (tmp_path / "bm25" / "manifest.json").write_text('{"generation": 0, "base": null, "cjk": "bigram"}')
    with pytest.raises(LexicalIndexOutdated, match="kb reindex --kb"):
        LexicalIndex(tmp_path / "bm25")


def test_ties_are_broken_by_chunk_id(tmp_path):
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add_many([(d, [f"{d}:0"], ["same words here"]) for d in ("c", "a", "d", "b")])  # tantivy's order: c a d b
    assert [c for c, _ in ix.search("words", k=2)] == ["a:0", "b:0"]
    assert [c for c, _ in ix.search("words", k=3)] == ["a:0", "b:0", "c:0"]


def test_weighted_query_is_the_weighted_sum_of_its_terms_reference_scores(tmp_path):
    docs = make_docs(60, seed=3)
    ix = LexicalIndex(tmp_path / "bm25")
    for start in range(0, 60, 20):  # three segments, scored together
        ix.add_many(as_batch(dict(list(docs.items())[start : start + 20])))
    terms = {"river": 1.0, "bank": 0.25, "storm": 0.6, "solar": 2.0, "unknownword": 5.0, "rain": 0.0}
    want = reference_scores(docs, terms)
    got = dict(ix.search_terms(terms, k=10_000))
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[c] for c in want], list(want.values()), rtol=1e-5)
    # An unweighted query is the query's tokens counted.
    assert ix.search_terms({"river": 2.0, "bank": 1.0}, k=20) == ix.search("river bank river", k=20)
    assert ix.analyze("The Rivers") == ["river"]


def test_idf_is_bm25s_over_the_chunks(tmp_path):
    docs = make_docs(60, seed=4)
    ix = LexicalIndex(tmp_path / "bm25")
    ix.add_many(as_batch(docs))
    ix.add("gone", ["gone:0"], ["北京 river"])
    ix.remove("gone")  # alone in its segment, which goes with it: it no longer counts
    chunks = [set(tokenize(t)) for texts in docs.values() for t in texts]
    terms = ["river", "solar", "北京", "unknownword"]
    got = ix.idf(terms)
    n = len(chunks)
    want = {}
    for t in terms:
        df = sum(t in c for c in chunks)
        if df:
            want[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    assert got.keys() == want.keys() == {"river", "solar", "北京"}
    assert got == pytest.approx(want)
