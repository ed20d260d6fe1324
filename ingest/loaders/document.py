"""What every loader returns: a file's non-empty pages and the problems that did not stop it."""

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
    """

    pages: list[Page]
    warnings: list[str] = field(default_factory=list)
    page_count: int | None = None

    @property
    def paged(self) -> bool:
        """True for paged formats (PDF), whose pages carry 1-based numbers."""
        return self.page_count is not None


def single_page(text: str) -> LoadedDocument:
    """A non-paged file's extracted text as one normalized page (number None).

    Raises:
        IngestError: nothing is left after normalization.
    """
    text = normalize_text(text)
    if not text:
        raise IngestError(EMPTY)
    return LoadedDocument([Page(None, text)])
