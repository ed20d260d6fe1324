"""Instruction presets: the built-in ones plus those saved for a knowledge base."""

from __future__ import annotations

from app.errors import InvalidInput
from app.instructions import BUILTIN_PRESETS, Preset, all_presets
from app.runtime import Runtime


def available(rt: Runtime, kb_name: str | None) -> list[Preset]:
    """Built-in presets first, then the knowledge base's saved ones (none without a knowledge base)."""
    return all_presets(rt.catalog.presets(rt.catalog.get_kb(kb_name)) if kb_name else {})


def save(rt: Runtime, kb_name: str, name: str, instruction: str) -> None:
    name = name.strip()
    if name in {p.name for p in BUILTIN_PRESETS}:
        raise InvalidInput(f"{name!r} is a built-in preset; pick another name.")
    rt.catalog.save_preset(rt.catalog.get_kb(kb_name), name, instruction)


def delete(rt: Runtime, kb_name: str, name: str) -> None:
    rt.catalog.delete_preset(rt.catalog.get_kb(kb_name), name)
