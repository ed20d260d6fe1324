"""What every loader returns: a file's non-empty pages, what was learnt while reading it, and the problems
that did not stop it."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import IngestError
from app.models import Page
from ingest.normalize import normalize_text

EMPTY = "the file is empty"


@dataclass(frozen=True)
class LoadedDocument:
    """The non-empty pages of a file and the problems worth telling the user that did not stop it.

    `page_count` is the number of pages in the file, skipped ones included; None for non-paged types.
    The rest is document metadata the Library shows (`ingest.details`):

    - `encoding`: how a text file (text, Markdown, HTML) was decoded: "utf-8", "cp1252", "gb18030", ...
    - `ocr_pages`: the numbers of the pages whose text was recognised by OCR (no text layer).
    - `headers`, `footers`: the running headers and footers taken out of the pages' text (their first
      occurrence; "Page 1 of 12" stands for every page number), or a DOCX's header and footer text.
    - `tables`: how many tables were turned into one line per row.
    """

    pages: list[Page]
    warnings: list[str] = field(default_factory=list)
    page_count: int | None = None
    encoding: str = ""
    ocr_pages: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()
    footers: tuple[str, ...] = ()
    tables: int = 0

    @property
    def paged(self) -> bool:
        """True for paged formats (PDF), whose pages carry 1-based numbers."""
        return self.page_count is not None


def single_page(text: str, encoding: str = "") -> LoadedDocument:
    """A non-paged file's extracted text as one normalized page (number None).

    Raises:
        IngestError: nothing is left after normalization.
    """
    text = normalize_text(text)
    if not text:
        raise IngestError(EMPTY)
    return LoadedDocument([Page(None, text)], encoding=encoding)


def require_pages(pages: list[Page]) -> list[Page]:
    """`pages` if any; a file whose blocks normalize to nothing is empty.

    Raises:
        IngestError: no page.
    """
    if not pages:
        raise IngestError(EMPTY)
    return pages
