"""Cut pages into chunks of whole sentences that fit the embedding model's token budget.

Text is split at paragraphs (blank lines), then at sentence ends: English `. ! ?` followed by
whitespace (not after abbreviations such as "e.g." or "Dr.", and "3.14" has no space), and CJK
`。！？；…` (no space follows them). Sentences are packed greedily into chunks of at most
`chunk_tokens` tokens; the next chunk starts with the trailing whole sentences of the previous one
that together have at most `overlap` tokens. A sentence longer than `chunk_tokens` is cut at token
boundaries, preferring word starts after whitespace.

Each page is tokenized once (without special tokens) and sentence lengths are read off the token
offsets. This is exact because the tokenizers we use (BERT WordPiece, BPE) pre-split at whitespace
and punctuation, which is where sentences end.

Chunks never cross a page break, so each result cites exactly one page (a sentence that runs over
a page break is split there), nor a section start (`Page.sections`: a heading begins a new chunk), so
each chunk carries the one heading path it sits under. A chunk's text is exactly
`page.text[char_start:char_end]`.
"""

from __future__ import annotations

import re
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from app.models import Chunk, Page, Section

# English sentence end: . ! ? (and closing quotes/brackets) followed by whitespace.
# CJK sentence end: 。！？；… (and closing quotes/brackets); no whitespace follows in CJK.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|[。！？；…]+[”’」』）》】\"')\]]*")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LAST_WORD = re.compile(r"(\S+)$")
# Words that end with a period without ending the sentence (lowercase, without the final period).
_ABBREVIATIONS = frozenset(
    "e.g i.e cf vs al approx dr mr mrs ms prof st sr jr fig figs no nos vol pp p ch sec eq ref resp".split()
)


@dataclass(frozen=True)
class _Piece:
    """A sentence (or part of a long one): `text[start:end]` of page number `page` (an index), in the
    page's section number `run` (-1: before the page's first section start)."""

    page: int
    start: int
    end: int
    tokens: int
    run: int = -1


class _PageTokens:
    """Token offsets of one page, for counting the tokens of any span by binary search."""

    def __init__(self, encoding) -> None:
        self._encoding = encoding
        self.starts = [s for s, _ in encoding.offsets]

    # Only long sentences need these: not built for every page.
    @cached_property
    def ends(self) -> list[int]:
        return [e for _, e in self._encoding.offsets]

    @cached_property
    def word_ids(self) -> list[int | None]:
        return self._encoding.word_ids

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Indexes [first, last) of the tokens that start inside text[start:end]."""
        return bisect_left(self.starts, start), bisect_left(self.starts, end)


def chunk_pages(
    pages: list[Page],
    *,
    doc_id: str,
    doc_name: str,
    tokenizer,
    chunk_tokens: int,
    overlap: int,
) -> list[Chunk]:
    """Split `pages` into overlapping chunks of whole sentences.

    Args:
        pages: the document's pages, in order (as `load_document` returns them).
        doc_id: stored on each chunk; chunk ids are f"{doc_id}:{position}".
        doc_name: stored on each chunk.
        tokenizer: a Hugging Face fast tokenizer (or a `tokenizers.Tokenizer`); its settings are not changed.
        chunk_tokens: the most tokens (without special tokens) a chunk may have.
        overlap: the most tokens of whole trailing sentences repeated at the start of the next chunk.

    Returns:
        Chunks in document order, never empty or whitespace-only.

    Example:
        >>> chunk_pages([Page(1, "One. Two. Three.")], doc_id="d", doc_name="a.pdf",
        ...             tokenizer=tok, chunk_tokens=4, overlap=2)  # doctest: +SKIP
        [Chunk(chunk_id='d:0', ..., text='One. Two.', page=1, char_start=0, char_end=9),
         Chunk(chunk_id='d:1', ..., text='Two. Three.', page=1, char_start=5, char_end=16)]
    """
    if chunk_tokens <= 0:
        raise ValueError(f"chunk_tokens must be positive (got {chunk_tokens})")
    if not 0 <= overlap < chunk_tokens:
        raise ValueError(f"overlap ({overlap}) must be >= 0 and less than chunk_tokens ({chunk_tokens})")
    texts = [page.text for page in pages]
    encodings = _backend(tokenizer).encode_batch(texts, add_special_tokens=False)
    pieces: list[_Piece] = []
    for index, (page, encoding) in enumerate(zip(pages, encodings, strict=True)):
        pieces.extend(_page_pieces(index, page.text, _PageTokens(encoding), chunk_tokens, page.sections))

    chunks: list[Chunk] = []
    for run_pieces in _by_run(pieces):
        for first, last in _pack(run_pieces, chunk_tokens, overlap):
            chunks.append(_make_chunk(pages, run_pieces[first:last], doc_id, doc_name, len(chunks)))
    return chunks


def _by_run(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Pieces grouped by page and section: a chunk never crosses a page break, so every result cites one
    page, nor a section start, so it has one heading path."""
    groups: dict[tuple[int, int], list[_Piece]] = {}
    for piece in pieces:
        groups.setdefault((piece.page, piece.run), []).append(piece)
    return list(groups.values())


# A private copy per tokenizer: the backend of a HF tokenizer carries truncation/padding state that
# the HF wrapper rewrites on every call (and tokenizer.json may preset it to 128 tokens); chunking
# must see whole pages and must not change state that the embedder uses from other threads.
_BACKENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _backend(tokenizer):
    backend = _BACKENDS.get(tokenizer)
    if backend is None:
        from tokenizers import Tokenizer

        source = getattr(tokenizer, "backend_tokenizer", tokenizer)
        backend = Tokenizer.from_str(source.to_str())
        backend.no_truncation()
        backend.no_padding()
        _BACKENDS[tokenizer] = backend
    return backend


def _page_pieces(
    index: int, text: str, tokens: _PageTokens, chunk_tokens: int, sections: tuple[Section, ...] = ()
) -> list[_Piece]:
    starts = [s.start for s in sections]
    pieces = []
    for start, end in _sentences(text, starts):
        run = bisect_right(starts, start) - 1
        first, last = tokens.span(start, end)
        if last - first <= chunk_tokens:
            pieces.append(_Piece(index, start, end, last - first, run))
        else:
            pieces.extend(_split_long(index, text, tokens, first, last, chunk_tokens, run))
    return pieces


def _sentences(text: str, breaks: Sequence[int] = ()):
    """(start, end) of each sentence, whitespace trimmed, never crossing a paragraph break or an offset
    in `breaks` (section starts, ascending)."""
    para_start = 0
    for brk in _PARAGRAPH_BREAK.finditer(text):
        yield from _split_at(text, para_start, brk.start(), breaks)
        para_start = brk.end()
    yield from _split_at(text, para_start, len(text), breaks)


def _split_at(text: str, start: int, end: int, breaks: Sequence[int]):
    for cut in breaks[bisect_right(breaks, start) : bisect_left(breaks, end)]:
        yield from _split_paragraph(text, start, cut)
        start = cut
    yield from _split_paragraph(text, start, end)


def _split_paragraph(text: str, start: int, end: int):
    cursor = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if m.group()[0] == "." and not _ends_sentence(text, m.start(), m.end(), end):
            continue
        yield from _trimmed(text, cursor, m.end())
        cursor = m.end()
    yield from _trimmed(text, cursor, end)


def _ends_sentence(text: str, dot: int, after: int, end: int) -> bool:
    """Whether the period at `dot` ends a sentence, judging by the word before it and the next letter."""
    word = _LAST_WORD.search(text, max(0, dot - 32), dot)
    if word:
        w = word.group(1).lower().lstrip("(\"'“‘[")
        if w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha()):
            return False
    while after < end and text[after].isspace():
        after += 1
    # "... in the U.S. and" -> a lowercase word continues the sentence.
    return not (after < end and text[after].islower())


def _trimmed(text: str, start: int, end: int):
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def _split_long(index: int, text: str, tokens: _PageTokens, first: int, last: int, chunk_tokens: int, run: int):
    """Cut tokens [first, last) into runs of at most chunk_tokens, preferring cuts before a word that
    follows whitespace, then before any word (same tokenization when re-tokenized), then anywhere."""
    while first < last:
        limit = first + chunk_tokens
        if limit >= last:
            cut = last
        else:
            cut = _best_cut(text, tokens, first, limit)
        start, end = tokens.starts[first], tokens.ends[cut - 1]
        yield _Piece(index, start, end, cut - first, run)
        first = cut


def _best_cut(text: str, tokens: _PageTokens, first: int, limit: int) -> int:
    """The largest cut in (first, limit] by preference; token `limit` is the first of the next piece."""
    words = tokens.word_ids
    after_space = None
    new_word = None
    for cut in range(limit, first, -1):
        if words[cut] != words[cut - 1]:
            if text[tokens.starts[cut] - 1 : tokens.starts[cut]].isspace():
                after_space = cut
                break
            if new_word is None:
                new_word = cut
    return after_space or new_word or limit


def _pack(pieces: list[_Piece], chunk_tokens: int, overlap: int):
    """(first, last) piece ranges of each chunk: greedy fill, then step back by up to `overlap` tokens."""
    first, n = 0, len(pieces)
    while first < n:
        last, total = first, 0
        while last < n and total + pieces[last].tokens <= chunk_tokens:
            total += pieces[last].tokens
            last += 1
        yield first, last
        if last == n:
            return
        nxt, shared = last, 0
        while nxt - 1 > first and shared + pieces[nxt - 1].tokens <= overlap:
            nxt -= 1
            shared += pieces[nxt].tokens
        # The repeated sentences must leave room for the next new one.
        while nxt < last and shared + pieces[last].tokens > chunk_tokens:
            shared -= pieces[nxt].tokens
            nxt += 1
        first = nxt


def _make_chunk(pages: list[Page], run: list[_Piece], doc_id: str, doc_name: str, position: int) -> Chunk:
    first, last = run[0], run[-1]
    page = pages[first.page]
    section = page.sections[first.run].path if first.run >= 0 else ""
    return Chunk(
        chunk_id=f"{doc_id}:{position}",
        doc_id=doc_id,
        doc_name=doc_name,
        position=position,
        text=page.text[first.start : last.end],
        page=page.number,
        char_start=first.start,
        char_end=last.end,
        section=section,
    )
