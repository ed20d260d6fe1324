"""Token-aware chunking with the real MiniLM tokenizer: sizes, sentence boundaries, overlap, offsets."""

from __future__ import annotations

import pytest

from app.models import Chunk, Page
from ingest.chunking import chunk_pages
from tests.fixtures_docs import CHINESE_TEXT, ENGLISH_SENTENCES, load_minilm_tokenizer


def chunk(pages, tokenizer, chunk_tokens=64, overlap=0):
    return chunk_pages(
        pages, doc_id="doc", doc_name="a.pdf", tokenizer=tokenizer, chunk_tokens=chunk_tokens, overlap=overlap
    )


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def source_of(pages: list[Page], c: Chunk) -> str:
    """The chunk's text rebuilt from its offsets into its page."""
    page = next(p for p in pages if p.number == c.page)
    return page.text[c.char_start : c.char_end]


def check_invariants(pages, chunks, tokenizer, chunk_tokens):
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert [c.chunk_id for c in chunks] == [f"doc:{i}" for i in range(len(chunks))]
    for c in chunks:
        assert c.text.strip() == c.text and c.text
        assert source_of(pages, c) == c.text
        assert n_tokens(tokenizer, c.text) <= chunk_tokens


def test_sentences_are_packed_whole_without_splitting_abbreviations_or_decimals(minilm_tokenizer):
    text = " ".join(ENGLISH_SENTENCES)
    pages = [Page(None, text)]
    # Room for exactly one sentence of these: every chunk must be one whole sentence.
    longest = max(n_tokens(minilm_tokenizer, s) for s in ENGLISH_SENTENCES)
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=longest)
    assert [c.text for c in chunks] == list(ENGLISH_SENTENCES)
    assert all(c.page is None for c in chunks)
    check_invariants(pages, chunks, minilm_tokenizer, longest)
    # With room for everything it is one chunk.
    assert [c.text for c in chunk(pages, minilm_tokenizer, chunk_tokens=200)] == [text]


def test_chinese_splits_at_full_stops_and_keeps_offsets(minilm_tokenizer):
    pages = [Page(1, CHINESE_TEXT)]
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=16)
    assert [c.text for c in chunks] == [
        "知识库搜索系统把文档切成小块。",
        "每一块都会被转换成向量！",
        "用户提问时，系统先召回候选段落？",
        "然后用重排序模型打分；",
        "最后返回最相关的结果…",
        "第二段讲的是页码。",
        # 24 tokens (one per character) do not fit: cut at a token boundary, nothing lost.
        "每个结果都带着页码和字符偏移，方",
        "便用户核对原文。",
    ]
    check_invariants(pages, chunks, minilm_tokenizer, 16)
    # With room for two sentences they are packed, and the paragraph break stays inside the chunk.
    packed = chunk(pages, minilm_tokenizer, chunk_tokens=20)
    assert "最后返回最相关的结果…\n\n第二段讲的是页码。" in [c.text for c in packed]
    check_invariants(pages, packed, minilm_tokenizer, 20)


def test_paragraph_break_ends_a_sentence(minilm_tokenizer):
    pages = [Page(None, "A heading without a period\n\nThe body text follows here. More body.")]
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=8)
    assert [c.text for c in chunks] == ["A heading without a period", "The body text follows here.", "More body."]


def test_overlap_repeats_trailing_whole_sentences(minilm_tokenizer):
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(30)]
    pages = [Page(1, " ".join(sentences))]
    per_sentence = n_tokens(minilm_tokenizer, sentences[10])
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=4 * per_sentence, overlap=per_sentence)
    check_invariants(pages, chunks, minilm_tokenizer, 4 * per_sentence)
    assert chunks[0].text == " ".join(sentences[:4])
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        # The next chunk starts with the last sentence of the previous one, and then moves on.
        last_sentence = prev.text.rsplit(". ", 1)[-1]
        assert nxt.text.startswith(last_sentence + " ")
        assert nxt.char_start == prev.char_end - len(last_sentence)
    assert chunks[-1].text.endswith(sentences[-1])
    # Without overlap the chunks tile the text.
    plain = chunk(pages, minilm_tokenizer, chunk_tokens=4 * per_sentence, overlap=0)
    assert " ".join(c.text for c in plain) == pages[0].text


def test_overlap_never_exceeds_its_budget(minilm_tokenizer):
    pages = [Page(1, " ".join(f"Short {i}. A much longer sentence with many more words in it {i}." for i in range(8)))]
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=40, overlap=5)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        shared = prev.char_end - nxt.char_start
        if shared > 0:
            assert n_tokens(minilm_tokenizer, pages[0].text[nxt.char_start : prev.char_end]) <= 5


def test_long_sentence_is_cut_at_word_boundaries(minilm_tokenizer):
    words = [f"word{i}" for i in range(400)] + ["unbelievably", "tokenization"]
    sentence = " ".join(words) + "."
    pages = [Page(3, "Intro. " + sentence + " Outro.")]
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=50)
    check_invariants(pages, chunks, minilm_tokenizer, 50)
    assert len(chunks) > 10
    rebuilt = " ".join(c.text for c in chunks)
    assert rebuilt == pages[0].text  # nothing lost, nothing cut inside a word
    assert all(c.page == 3 for c in chunks)


def test_single_word_longer_than_a_chunk_is_cut_at_token_boundaries(minilm_tokenizer):
    # "internationalization" is several WordPiece tokens; repeated with hyphens it is one long run.
    blob = "-".join(["internationalization"] * 30)
    pages = [Page(None, blob)]
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=16)
    check_invariants(pages, chunks, minilm_tokenizer, 16)
    assert "".join(c.text for c in chunks) == blob


def test_chunks_stop_at_page_breaks_so_each_cites_one_page(minilm_tokenizer):
    pages = [
        Page(1, "First page opens. It ends in the middle of a"),
        Page(2, "thought that continues here. Short."),
        Page(3, "Third page."),
    ]
    chunks = chunk(pages, minilm_tokenizer, chunk_tokens=200)
    check_invariants(pages, chunks, minilm_tokenizer, 200)
    assert [(c.page, c.text) for c in chunks] == [(p.number, p.text) for p in pages]
    assert [c.page_label for c in chunks] == ["p. 1", "p. 2", "p. 3"]
    small = chunk(pages, minilm_tokenizer, chunk_tokens=8, overlap=4)
    check_invariants(pages, small, minilm_tokenizer, 8)
    assert [(c.page, c.text) for c in small] == [
        (1, "First page opens."),
        (1, "It ends in the middle of a"),
        (2, "thought that continues here. Short."),
        (3, "Third page."),
    ]


def test_pages_longer_than_the_model_limit_are_chunked_whole():
    """tokenizer.json presets truncation to 128 tokens (the HF wrapper resets it on each call, hence a
    fresh tokenizer); chunking must see every page to its end and leave the tokenizer's settings alone."""
    tokenizer = load_minilm_tokenizer()
    backend = tokenizer.backend_tokenizer
    before = (backend.truncation, backend.padding)
    assert before[0] is not None and before[0]["max_length"] == 128
    pages = [Page(n, " ".join(f"Page {n} sentence {i} is here." for i in range(150))) for n in (1, 2)]
    chunks = chunk(pages, tokenizer, chunk_tokens=256, overlap=32)
    assert (backend.truncation, backend.padding) == before
    assert chunks[-1].text.endswith("Page 2 sentence 149 is here.")
    check_invariants(pages, chunks, tokenizer, 256)


def test_no_chunks_from_nothing(minilm_tokenizer):
    assert chunk([], minilm_tokenizer) == []
    assert chunk([Page(1, "  \n\n \t")], minilm_tokenizer) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_sizes(minilm_tokenizer, size, overlap):
    with pytest.raises(ValueError, match="chunk_tokens"):
        chunk([Page(1, "x.")], minilm_tokenizer, chunk_tokens=size, overlap=overlap)
