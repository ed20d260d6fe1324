"""Instruction presets: the built-in ones plus those saved for a knowledge base."""

from __future__ import annotations

from app.config import DEFAULT_INSTRUCTION
from app.errors import InvalidInput
from app.instructions import BUILTIN_PRESETS, Preset, all_presets, matching_preset
from app.runtime import Runtime
from app.service import access
from app.workbench import records
from app.workbench.records import PresetVersion

DEFAULT_LABEL = BUILTIN_PRESETS[0].name  # the official default instruction's preset


def available(rt: Runtime, kb_name: str | None) -> list[Preset]:
    """Built-in presets first, then the knowledge base's saved ones (none without a knowledge base)."""
    if kb_name:
        access.require(rt, kb_name, access.VIEWER, "see its presets")
    return all_presets(rt.catalog.presets(rt.catalog.get_kb(kb_name)) if kb_name else {})


def save(rt: Runtime, kb_name: str, name: str, instruction: str) -> None:
    access.require(rt, kb_name, access.EDITOR, "save presets")
    name = name.strip()
    if name in {p.name for p in BUILTIN_PRESETS}:
        raise InvalidInput(f"{name!r} is a built-in preset; pick another name.")
    kb = rt.catalog.get_kb(kb_name)
    rt.catalog.save_preset(kb, name, instruction)
    version = max(v.version for v in records.versions(rt.catalog, kb) if v.name == name)
    access.note_author(rt, kb_name, "preset", [f"{name}@{version}"], replace=False)
    access.record(rt, "preset save", kb_name, detail=f"{name}: {instruction.strip()}")


def delete(rt: Runtime, kb_name: str, name: str) -> None:
    access.require(rt, kb_name, access.EDITOR, "delete presets")
    rt.catalog.delete_preset(rt.catalog.get_kb(kb_name), name)
    for item in rt.access.authors(kb_name, "preset"):
        if item.rpartition("@")[0] == name:
            rt.access.forget_author(kb_name, "preset", item)
    access.record(rt, "preset delete", kb_name, detail=name)


def versions(rt: Runtime, kb_name: str) -> list[PresetVersion]:
    """Every saved version of the knowledge base's presets (name, then oldest first), with the last
    evaluation figures of each on every query set it was measured on."""
    access.require(rt, kb_name, access.VIEWER, "see its presets")
    return records.versions(rt.catalog, rt.catalog.get_kb(kb_name))


def default_instruction(rt: Runtime, kb_name: str | None) -> tuple[str, str]:
    """(label, text) the knowledge base's searches start from: its chosen default, else the official one."""
    if kb_name:
        access.require(rt, kb_name, access.VIEWER, "see its default instruction")
    chosen = records.default(rt.catalog, rt.catalog.get_kb(kb_name)) if kb_name else None
    return chosen or (DEFAULT_LABEL, DEFAULT_INSTRUCTION)


def set_default(rt: Runtime, kb_name: str, instruction: str, label: str | None = None) -> None:
    """Make `instruction` the knowledge base's default (the sidebar and `kb search` start from it);
    `label` names it, e.g. 'HR handbook v2' (default: the preset with this text, or 'custom')."""
    access.require(rt, kb_name, access.EDITOR, "change its default instruction")
    kb = rt.catalog.get_kb(kb_name)
    label = label or matching_preset(available(rt, kb_name), instruction) or "custom"
    records.set_default(rt.catalog, kb, label, instruction)
    access.record(rt, "default set", kb_name, detail=f"{label}: {instruction}")
