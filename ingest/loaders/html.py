"""HTML: the visible text, block elements as paragraph breaks; scripts, styles and the title left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.loaders.document import LoadedDocument, single_page
from ingest.loaders.text import decode_text

_WHITESPACE = re.compile(r"\s+")
# Not "head": browsers close it implicitly, so an unclosed one would hide the page; its text is the title.
_SKIPPED_TAGS = frozenset({"script", "style", "template", "title", "noscript", "svg"})
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd details div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th tr ul".split()
)


def load_html(data: bytes) -> LoadedDocument:
    """An HTML file's visible text as one page (charset guessed as for plain text).

    Raises:
        IngestError: undecodable, or no visible text.
    """
    return single_page(html_text(decode_text(data)))


def html_text(html: str) -> str:
    """The visible text of `html`, before normalization."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become paragraph breaks (normalize_text collapses them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            # Whitespace inside HTML text is insignificant: a source line break is a space.
            self.parts.append(_WHITESPACE.sub(" ", data))
