"""Pseudo-relevance feedback math (app.feedback) against hand-computed values."""

from __future__ import annotations

import pytest

from app.feedback import rm3_terms


def test_rm3_mixes_the_query_with_the_feedback_term_distribution():
    feedback = [(["wing", "flutter", "flutter", "speed"], 1.0), (["flutter", "panel"], 0.5)]
    # P(t|R) before the cut: wing 1/4, flutter 2/4 + 0.5 * 1/2 = 3/4, speed 1/4, panel 0.5 * 1/2 = 1/4
    got = rm3_terms(["wing", "wing", "load"], feedback, n_terms=2, original_weight=0.6)
    # Cut to 2 terms (flutter 3/4, then the tie at 1/4 broken by term: panel), renormalized to 3/4, 1/4.
    want = {"wing": 0.6 * 2 / 3, "load": 0.6 / 3, "flutter": 0.4 * 0.75, "panel": 0.4 * 0.25}
    assert got.keys() == want.keys()
    assert got == pytest.approx(want)
    assert sum(got.values()) == pytest.approx(1.0)


def test_rm3_edge_cases():
    assert rm3_terms(["wing"], [(["flutter"], 1.0)], n_terms=5, original_weight=1.0) == {"wing": 1.0}
    assert rm3_terms(["wing"], [], n_terms=5, original_weight=0.5) == {"wing": 1.0}
    assert rm3_terms([], [(["flutter"], 1.0)], n_terms=5, original_weight=0.5) == {"flutter": 1.0}
    assert rm3_terms(["wing"], [(["flutter"], 1.0)], n_terms=0, original_weight=0.5) == {"wing": 1.0}
    assert rm3_terms(["wing"], [([], 1.0), (["flutter"], 0.0)], n_terms=5, original_weight=0.5) == {"wing": 1.0}
    with pytest.raises(ValueError, match="original_weight"):
        rm3_terms(["wing"], [], n_terms=5, original_weight=1.5)


def test_rm3_with_idf_prefers_the_feedback_s_distinctive_terms():
    feedback = [(["flow", "flow", "flow", "shock", "wave"], 1.0)]
    idf = {"flow": 0.2, "shock": 2.0, "wave": 0.5}
    plain = rm3_terms(["mach"], feedback, n_terms=1, original_weight=0.5)
    assert plain == {"mach": 0.5, "flow": 0.5}
    # P(t|R) x idf: flow 0.6 x 0.2 = 0.12, shock 0.2 x 2.0 = 0.4, wave 0.2 x 0.5 = 0.1; weights stay P(t|R).
    got = rm3_terms(["mach"], feedback, n_terms=2, original_weight=0.5, idf=idf)
    assert got == pytest.approx({"mach": 0.5, "shock": 0.5 * 0.2 / 0.8, "flow": 0.5 * 0.6 / 0.8})
    assert "wave" not in rm3_terms(["mach"], feedback, n_terms=5, original_weight=0.5, idf={"flow": 1.0})
