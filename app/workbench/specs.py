"""Parse a configuration SPEC of `kb compare --config SPEC`.

A SPEC is `key=value` settings joined by `;`:

    rerank=on|off           rerank the recalled candidates (default on)
    preset=NAME             the instruction of a preset or saved instruction
    recall=dense|bm25|hybrid
    k=50                    chunks recalled (recall K)
    top=N                   results kept after reranking
    instruction=TEXT        the reranker instruction, typed out; it must come LAST and takes the rest
                            of the SPEC, `;` included, so any text can be given without escaping

Settings left out are None: the knowledge base's defaults apply (`ConfigSpec.resolved`). The empty
SPEC is the default configuration.

Example:
    >>> parse_spec("recall=hybrid;k=30;instruction=Given a question; retrieve the answer")
    ConfigSpec(rerank=True, instruction='Given a question; retrieve the answer', preset=None, recall_mode='hybrid',
    recall_k=30, top_n=None, spec='recall=hybrid;k=30;instruction=Given a question; retrieve the answer')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from app.config import RECALL_MODES
from app.errors import InvalidInput

KEYS = ("rerank", "instruction", "preset", "recall", "k", "top")
_ON = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class ConfigSpec:
    """One configuration to evaluate; None means "the knowledge base's default"."""

    rerank: bool = True
    instruction: str | None = None
    preset: str | None = None
    recall_mode: str | None = None
    recall_k: int | None = None
    top_n: int | None = None
    spec: str = ""  # the SPEC as given (stripped)

    @property
    def name(self) -> str:
        """A readable label: the SPEC itself, or "default" for the empty one."""
        return self.spec or "default"

    @property
    def recall_key(self) -> tuple[str | None, int | None]:
        """Configurations with equal keys can share one recall per query (resolve defaults first)."""
        return (self.recall_mode, self.recall_k)

    def resolved(self, recall_mode: str, recall_k: int, top_n: int | None = None) -> ConfigSpec:
        """This spec with the knowledge base's defaults filled in where it leaves a setting out."""
        return dataclasses.replace(
            self,
            recall_mode=self.recall_mode or recall_mode,
            recall_k=self.recall_k or recall_k,
            top_n=self.top_n if self.top_n is not None else top_n,
        )


def parse_spec(spec: str) -> ConfigSpec:
    """A ConfigSpec from SPEC text (see the module docstring).

    Raises:
        InvalidInput: an unknown key, a bad value, a key given twice, preset together with instruction,
            or an instruction or preset with rerank=off; the message says what to write instead.
    """
    text = spec.strip()
    values: dict[str, str] = {}
    rest = text
    while rest:
        part, _, tail = rest.partition(";")
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if key == "instruction" and eq:
            value, tail = rest.partition("=")[2], ""  # the rest of the SPEC, `;` included
        rest = tail
        if not key and not eq:
            continue  # an empty setting, e.g. a trailing `;`
        if not eq:
            raise InvalidInput(f"config setting {part.strip()!r} has no '=': write key=value, e.g. rerank=off")
        if key not in KEYS:
            raise InvalidInput(f"unknown config key {key!r} in {text!r}: use {', '.join(KEYS)}")
        if key in values:
            raise InvalidInput(f"config key {key!r} is given twice in {text!r}: keep one")
        values[key] = value.strip()

    rerank = True
    if "rerank" in values:
        choice = values["rerank"].lower()
        if choice not in _ON:
            raise InvalidInput(f"rerank={values['rerank']!r} is not valid: write rerank=on or rerank=off")
        rerank = _ON[choice]
    mode = values.get("recall")
    if mode is not None and mode.lower() not in RECALL_MODES:
        raise InvalidInput(f"recall={mode!r} is not valid: write recall={' or recall='.join(RECALL_MODES)}")
    for key, example in (("instruction", "Given a question, retrieve ..."), ("preset", "NAME")):
        if key in values and not values[key]:
            raise InvalidInput(f"{key}= needs a value: write {key}={example}")
    if "instruction" in values and "preset" in values:
        raise InvalidInput("give either preset=NAME or instruction=TEXT, not both")
    if not rerank and ("instruction" in values or "preset" in values):
        raise InvalidInput("rerank=off uses no instruction: drop the instruction/preset, or rerank=on")
    recall_k, top_n = _positive(values, "k"), _positive(values, "top")
    if recall_k is not None and top_n is not None and top_n > recall_k:
        raise InvalidInput(f"top={top_n} is more than the k={recall_k} chunks recalled: make top <= k")
    return ConfigSpec(
        rerank=rerank,
        instruction=values.get("instruction"),
        preset=values.get("preset"),
        recall_mode=mode.lower() if mode else None,
        recall_k=recall_k,
        top_n=top_n,
        spec=text,
    )


def _positive(values: dict[str, str], key: str) -> int | None:
    if key not in values:
        return None
    raw = values[key]
    if not raw.isdecimal() or int(raw) < 1:
        raise InvalidInput(f"{key}={raw!r} is not valid: write a positive whole number, e.g. {key}=50")
    return int(raw)
