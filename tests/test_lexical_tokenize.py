"""The BM25 tokenizer: English stemming and stopwords, Chinese words or bigrams, mixed scripts."""

from __future__ import annotations

import pytest

from app.lexical.tokenize import CJK_METHODS, tokenize


def test_english_is_lowercased_stemmed_and_drops_stopwords():
    assert tokenize("The Runners are RUNNING in the hills!") == ["runner", "run", "hill"]


def test_english_splits_on_punctuation_and_underscores():
    assert tokenize("Super_Bowl_50: e-mail, v2.0") == ["super", "bowl", "50", "e", "mail", "v2", "0"]


def test_chinese_bigrams_are_characters_and_adjacent_pairs():
    assert tokenize("北京大学", cjk="bigram") == ["北", "北京", "京", "京大", "大", "大学", "学"]


def test_chinese_jieba_finds_words_and_their_subwords():
    tokens = tokenize("我在北京大学读书", cjk="jieba")
    assert {"北京", "大学", "北京大学"} <= set(tokens)
    assert "京大" not in tokens


@pytest.mark.parametrize("cjk", CJK_METHODS)
def test_mixed_text_sends_each_run_to_its_tokenizer_in_order(cjk):
    tokens = tokenize("2024年iPhones销量，Apple公司", cjk=cjk)
    latin = [t for t in tokens if t.isascii()]
    assert latin == ["2024", "iphon", "appl"]  # stemmed like English text
    assert "销" in tokens or "销量" in tokens
    assert tokens.index("2024") < tokens.index("iphon") < tokens.index("appl")
    assert tokens[-1] in ("司", "公司")


def test_japanese_kana_is_tokenized_as_cjk():
    assert tokenize("東京タワー") == ["東", "東京", "京", "京タ", "タ", "タワ", "ワ", "ワー", "ー"]


def test_punctuation_only_gives_no_tokens():
    assert tokenize("，。！?-- the a") == []


def test_unknown_cjk_method_names_the_choices():
    with pytest.raises(ValueError, match="bigram, jieba"):
        tokenize("x", cjk="mecab")


def test_korean_is_tokenized_as_words_not_bigrams():
    # Hangul is not in app.text.CJK_CHARS: Korean separates words with spaces (see the comment there).
    assert tokenize("서울 지하철 노선도") == ["서울", "지하철", "노선도"]
