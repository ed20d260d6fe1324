"""Instruction presets: the built-in ones plus those saved for a knowledge base."""

from __future__ import annotations

from app.config import DEFAULT_INSTRUCTION
from app.errors import InvalidInput
from app.instructions import BUILTIN_PRESETS, Preset, all_presets, matching_preset
from app.runtime import Runtime
from app.workbench import records
from app.workbench.records import PresetVersion

DEFAULT_LABEL = BUILTIN_PRESETS[0].name  # the official default instruction's preset


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


def versions(rt: Runtime, kb_name: str) -> list[PresetVersion]:
    """Every saved version of the knowledge base's presets (name, then oldest first), with the last
    evaluation figures of each on every query set it was measured on."""
    return records.versions(rt.catalog, rt.catalog.get_kb(kb_name))


def default_instruction(rt: Runtime, kb_name: str | None) -> tuple[str, str]:
    """(label, text) the knowledge base's searches start from: its chosen default, else the official one."""
    chosen = records.default(rt.catalog, rt.catalog.get_kb(kb_name)) if kb_name else None
    return chosen or (DEFAULT_LABEL, DEFAULT_INSTRUCTION)


def set_default(rt: Runtime, kb_name: str, instruction: str, label: str | None = None) -> None:
    """Make `instruction` the knowledge base's default (the sidebar and `kb search` start from it);
    `label` names it, e.g. 'HR handbook v2' (default: the preset with this text, or 'custom')."""
    kb = rt.catalog.get_kb(kb_name)
    label = label or matching_preset(available(rt, kb_name), instruction) or "custom"
    records.set_default(rt.catalog, kb, label, instruction)
