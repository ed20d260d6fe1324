"""Config SPEC parsing for `kb compare --config`."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.workbench.specs import ConfigSpec, parse_spec


def test_each_key():
    assert parse_spec("") == ConfigSpec() and parse_spec("").name == "default"
    assert parse_spec("rerank=off") == ConfigSpec(rerank=False, spec="rerank=off")
    assert parse_spec(" recall = BM25 ; k=30; top=5 ") == ConfigSpec(
        recall_mode="bm25", recall_k=30, top_n=5, spec="recall = BM25 ; k=30; top=5"
    )
    spec = parse_spec("preset=HR handbook;recall=hybrid")
    assert (spec.preset, spec.recall_mode, spec.rerank, spec.name) == (
        "HR handbook",
        "hybrid",
        True,
        "preset=HR handbook;recall=hybrid",
    )
    assert parse_spec("rerank=on;").rerank is True


def test_instruction_comes_last_and_takes_the_rest_semicolons_included():
    spec = parse_spec("recall=dense;instruction=Given a question; retrieve the clause=answer")
    assert spec.instruction == "Given a question; retrieve the clause=answer" and spec.recall_mode == "dense"
    # A key after instruction= is part of the text, as documented.
    assert parse_spec("instruction=Find it;rerank=off").instruction == "Find it;rerank=off"


def test_recall_key_groups_configs_that_can_share_recall():
    a = parse_spec("recall=hybrid;k=50;rerank=off")
    b = parse_spec("k=50;recall=hybrid;preset=Legal clauses")
    c = parse_spec("recall=hybrid")
    assert a.recall_key == b.recall_key == ("hybrid", 50) != c.recall_key
    assert c.resolved("dense", 50).recall_key == a.recall_key
    assert parse_spec("").resolved("bm25", 40, top_n=5) == ConfigSpec(recall_mode="bm25", recall_k=40, top_n=5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rerank=maybe", "write rerank=on or rerank=off"),
        ("recall=sparse", "write recall=dense or recall=bm25 or recall=hybrid"),
        ("k=0", "k='0' is not valid: write a positive whole number, e.g. k=50"),
        ("top=-3", "write a positive whole number, e.g. top=50"),
        ("k=ten", "write a positive whole number"),
        ("k=10;top=20", "make top <= k"),
        ("model=big", "unknown config key 'model' in 'model=big': use rerank, instruction, preset, recall, k, top"),
        ("rerank", "has no '=': write key=value, e.g. rerank=off"),
        ("k=5;k=6", "config key 'k' is given twice"),
        ("preset=Legal;instruction=Judge it", "give either preset=NAME or instruction=TEXT, not both"),
        ("rerank=off;preset=Legal", "rerank=off uses no instruction"),
        ("instruction=  ", "instruction= needs a value"),
        ("preset=", "preset= needs a value: write preset=NAME"),
    ],
)
def test_errors_name_the_fix(spec, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(spec)
