"""Query-term highlighting: escaped document text, <mark> around matches only."""

from app.ui.highlight import highlight_html, match_spans, query_terms


def test_markup_in_documents_comes_out_as_text():
    text = '<script>window.pwned=1</script> and <img src=x onerror="window.pwned=2"> pump'
    out = highlight_html(text, "pump onerror script")
    assert "<script" not in out and "<img" not in out
    assert "&lt;<mark>script</mark>&gt;window.pwned=1&lt;/<mark>script</mark>&gt;" in out
    assert "&lt;img src=x <mark>onerror</mark>=&quot;window.pwned=2&quot;&gt;" in out
    # The only tags left are ours.
    assert out.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_terms_match_case_insensitively_and_keep_the_text_case():
    assert highlight_html("The PUMP overheats. Pumps fail.", "pump") == (
        "The <mark>PUMP</mark> overheats. <mark>Pumps</mark> fail."
    )


def test_plural_query_terms_match_the_singular_but_not_inside_words():
    assert highlight_html("Clean the filter; a prefilter too.", "filters") == (
        "Clean the <mark>filter</mark>; a prefilter too."
    )


def test_stop_words_and_single_letters_are_not_marked():
    assert query_terms("What is the a port of it?") == ["port"]
    assert highlight_html("the port", "the port") == "the <mark>port</mark>"


def test_chinese_terms_match_inside_unsegmented_text():
    text = "用户提问时，系统先召回候选段落，然后用重排序模型打分。"
    out = highlight_html(text, "召回候选")
    assert out == "用户提问时，系统先<mark>召回候选</mark>段落，然后用重排序模型打分。"
    # A partial match still marks the characters it shares with the query.
    assert highlight_html("系统先召回", "召回结果") == "系统先<mark>召回</mark>"


def test_mixed_chinese_and_english_query():
    out = highlight_html("向量 embedding 模型 MiniLM", "MiniLM 向量")
    assert out == "<mark>向量</mark> embedding 模型 <mark>MiniLM</mark>"


def test_overlapping_and_adjacent_terms_merge_into_one_mark():
    assert match_spans("overheating", ["overheat", "over"]) == [(0, 11)]
    assert highlight_html("intake filter", "intake intake filter") == "<mark>intake</mark> <mark>filter</mark>"
    # Overlapping CJK pairs become one span, not nested marks.
    assert highlight_html("重排序模型", "重排序") == "<mark>重排序</mark>模型"


def test_regex_characters_in_the_query_are_literal():
    assert highlight_html("a+b (c)", "a+b (c) .*") == "a+b (c)"
    assert highlight_html("price 3.14 USD", "3.14") == "price <mark>3</mark>.<mark>14</mark> USD"


def test_no_terms_leaves_escaped_text():
    assert highlight_html("x < y & z", "") == "x &lt; y &amp; z"
