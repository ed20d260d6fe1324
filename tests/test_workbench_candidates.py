"""Candidate instructions from templates and a knowledge base's domain."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.workbench.candidates import TEMPLATES, candidate_instructions

TERMS = ["parental leave", "expenses", "overtime", "per diem", "  Parental   Leave ", "payroll", "pension"]
TITLES = ["HR_handbook_2024.pdf", "Travel policy.docx", "hr handbook 2024.txt"]


def test_candidates_fill_every_template_and_are_deterministic():
    out = candidate_instructions(TERMS, TITLES, limit=100)
    assert out == candidate_instructions(TERMS, TITLES, limit=100)
    assert out[0] == (
        "Given a question about parental leave, expenses and overtime, retrieve the passages that answer it"
    )
    assert out[1] == "Given a question, retrieve the passages from HR handbook 2024 that answer it"
    # The first round uses each template once, in order.
    assert len(out) > len(TEMPLATES["en"])
    assert [o.split(" ")[0] for o in out[: len(TEMPLATES["en"])]] == [t.split(" ")[0] for t in TEMPLATES["en"]]
    assert "Given a question, retrieve the passages from HR handbook 2024 and Travel policy that answer it" in out
    assert any("parental leave, expenses, overtime, per diem and payroll" in o for o in out)  # five terms


def test_candidates_are_distinct_bounded_and_clean():
    out = candidate_instructions(TERMS, TITLES, limit=100)
    assert len({o.casefold() for o in out}) == len(out)
    assert not any("Parental   Leave" in o or ".pdf" in o or "_" in o or "{" in o for o in out)
    assert candidate_instructions(TERMS, TITLES, limit=3) == out[:3]
    assert candidate_instructions(TERMS, TITLES, limit=0) == []


def test_only_the_templates_the_domain_can_fill():
    only_titles = candidate_instructions([], ["Contract.pdf"])
    assert only_titles == ["Given a question, retrieve the passages from Contract that answer it"]
    assert all("from documents such as" not in o for o in candidate_instructions(["tax"], []))
    assert candidate_instructions([], []) == []
    assert candidate_instructions(["x" * 41], []) == []  # overlong "terms" are noise, not a domain


def test_chinese_templates_and_unknown_languages():
    out = candidate_instructions(["年假", "报销"], ["员工手册.pdf"], language="zh")
    assert out[0] == "给定一个关于年假和报销的问题，检索能够回答该问题的段落"
    assert "给定一个问题，从员工手册中检索能够回答该问题的段落" in out
    with pytest.raises(InvalidInput, match="use one of en, zh"):
        candidate_instructions(["x"], [], language="fr")
