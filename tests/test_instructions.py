"""Built-in instruction presets and how saved ones join them."""

from app.config import DEFAULT_INSTRUCTION
from app.instructions import BUILTIN_PRESETS, all_presets, find_preset, matching_preset


def test_the_first_preset_is_the_official_default():
    assert BUILTIN_PRESETS[0].name == "General web search"
    assert BUILTIN_PRESETS[0].instruction == DEFAULT_INSTRUCTION


def test_every_domain_has_an_english_and_a_chinese_version():
    names = [p.name for p in BUILTIN_PRESETS]
    assert len(names) == len(set(names)) == 12
    english = names[0::2]
    chinese = names[1::2]
    assert english == [
        "General web search",
        "Company knowledge base (HR, finance policy)",
        "Legal clauses",
        "E-commerce product search",
        "Technical documentation and code",
        "Medical literature",
    ]
    for preset in BUILTIN_PRESETS[1::2]:
        assert preset.name.endswith("(中文)")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in preset.instruction)
    assert all(p.instruction.strip() and p.builtin for p in BUILTIN_PRESETS)
    assert len(chinese) == 6


def test_saved_presets_follow_the_builtins_in_name_order():
    presets = all_presets({"zeta": "Find Z", "alpha": "Find A"})
    assert [p.name for p in presets[-2:]] == ["alpha", "zeta"]
    assert not presets[-1].builtin
    assert find_preset(presets, "alpha").instruction == "Find A"
    assert find_preset(presets, "missing") is None


def test_a_saved_preset_cannot_replace_a_builtin():
    presets = all_presets({"Legal clauses": "something else"})
    assert find_preset(presets, "Legal clauses").builtin
    assert len(presets) == len(BUILTIN_PRESETS)


def test_matching_preset_finds_the_one_whose_text_is_in_the_box():
    presets = all_presets({"mine": "Find my things"})
    assert matching_preset(presets, f"  {DEFAULT_INSTRUCTION}\n") == "General web search"
    assert matching_preset(presets, "Find my things") == "mine"
    assert matching_preset(presets, "Find my things, edited") is None
