"""The reranker self-test's verdicts on given scores, and `run_selftest` against stand-in scorers (what it sends,
what it flags). Its run against a real engine, through the app's service and the Status page, is in
test_app_rerank.py (slow: it starts the tiny vLLM engine)."""

import pytest

from app.selftest import PAIRS, run_selftest, verdict


def test_good_scores_pass():
    v = verdict([(0.98, 0.01), (0.91, 0.02), (0.87, 0.05)])
    assert v.ok and v.status == "ok"


def test_constant_scores_are_flagged():
    v = verdict([(0.5, 0.5), (0.5, 0.5002), (0.5001, 0.5)])
    assert not v.ok and v.status == "constant"
    assert "0.5" in v.message


def test_inverted_scores_are_flagged():
    v = verdict([(0.01, 0.97), (0.02, 0.88), (0.10, 0.60)])
    assert not v.ok and v.status == "inverted"
    assert verdict([(0.01, 0.97), (0.02, 0.88), (0.9, 0.1)]).status == "inverted"


def test_one_wrong_pair_is_inconsistent():
    v = verdict([(0.9, 0.1), (0.8, 0.2), (0.3, 0.4)])
    assert not v.ok and v.status == "inconsistent"


def test_run_selftest_sends_each_pair_relevant_first():
    seen = []

    def score(query, documents, instruction):
        seen.append((query, documents, instruction))
        return [0.9, 0.1]

    v = run_selftest(score, "Find it")
    assert v.ok
    assert seen == [(q, [rel, irr], "Find it") for q, rel, irr in PAIRS]


@pytest.mark.parametrize("scores", [[0.3, 0.3], [0.1, 0.8]])
def test_run_selftest_flags_broken_scorers(scores):
    assert not run_selftest(lambda q, d, i: scores).ok
