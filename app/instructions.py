"""Built-in reranker instructions: a starting point the user edits in the sidebar.

Qwen3-Reranker reads a one-sentence task description ("Given a ..., retrieve ...") before the query;
a domain-specific one usually ranks better than the generic web-search default. Each preset has an
English and a Chinese version (the model card recommends English instructions even for other
languages, so the English one comes first).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config import DEFAULT_INSTRUCTION


@dataclass(frozen=True)
class Preset:
    name: str
    instruction: str
    builtin: bool = True


_PRESETS_EN_ZH: tuple[tuple[str, str, str, str], ...] = (
    (
        "General web search",
        DEFAULT_INSTRUCTION,
        "通用网页搜索",
        "给定一个网页搜索查询，检索能够回答该查询的相关段落",
    ),
    (
        "Company knowledge base (HR, finance policy)",
        "Given an employee's question about company policy, retrieve the HR or finance policy passages "
        "that answer it",
        "企业知识库（人事、财务制度）",
        "给定员工关于公司制度的问题，检索能够回答该问题的人事或财务制度条款",
    ),
    (
        "Legal clauses",
        "Given a legal question, retrieve the contract or statute clauses that govern the situation",
        "法律条款",
        "给定一个法律问题，检索适用于该情形的合同或法规条款",
    ),
    (
        "E-commerce product search",
        "Given a shopper's product search query, retrieve product descriptions that match the "
        "requested item and its attributes",
        "电商商品搜索",
        "给定购物者的商品搜索查询，检索与所需商品及其属性相匹配的商品描述",
    ),
    (
        "Technical documentation and code",
        "Given a developer's technical question, retrieve documentation passages or code that answer it",
        "技术文档与代码",
        "给定开发者的技术问题，检索能够回答该问题的技术文档段落或代码",
    ),
    (
        "Medical literature",
        "Given a medical question, retrieve passages from medical literature that answer it",
        "医学文献",
        "给定一个医学问题，检索能够回答该问题的医学文献段落",
    ),
)

BUILTIN_PRESETS: tuple[Preset, ...] = tuple(
    Preset(name, text)
    for en_name, en_text, zh_name, zh_text in _PRESETS_EN_ZH
    for name, text in ((en_name, en_text), (f"{zh_name} (中文)", zh_text))
)


def all_presets(saved: dict[str, str]) -> list[Preset]:
    """Built-in presets first, then the user's saved ones (name -> instruction) by name.

    A saved preset cannot take a built-in's name (the sidebar refuses it); one that has is left out.
    """
    builtin_names = {p.name for p in BUILTIN_PRESETS}
    user = [Preset(name, text, builtin=False) for name, text in sorted(saved.items()) if name not in builtin_names]
    return [*BUILTIN_PRESETS, *user]


def find_preset(presets: list[Preset], name: str) -> Preset | None:
    return next((p for p in presets if p.name == name), None)


def matching_preset(presets: list[Preset], instruction: str) -> str | None:
    """The name of the preset whose text is `instruction` (ignoring outer spaces), if any."""
    text = instruction.strip()
    return next((p.name for p in presets if p.instruction.strip() == text), None)
