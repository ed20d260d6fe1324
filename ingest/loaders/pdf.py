"""PDF: the text layer of each page, read with pypdf; pages without text are skipped with a warning."""

from __future__ import annotations

import io

from app.errors import IngestError
from app.models import Page
from ingest.loaders.document import EMPTY, LoadedDocument
from ingest.normalize import normalize_text

PASSWORD_PROTECTED = "the PDF is password-protected"
NO_TEXT_LAYER = "no text layer (scanned/image-only PDF?): OCR is not supported"


def load_pdf(data: bytes) -> LoadedDocument:
    """The PDF's pages that have text, numbered from 1, and a warning naming the skipped ones.

    Raises:
        IngestError: unreadable, password-protected or undecryptable, or no page has a text layer.
    """
    # Imported here so that importing the loaders stays cheap for code that never sees a PDF.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # A PDF with an empty user password opens without asking; anything else needs the password.
            raise IngestError(PASSWORD_PROTECTED)
        texts = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except DependencyError as exc:
        # E.g. AES without the `cryptography` package: the file may be fine, this install cannot read it.
        raise IngestError(f"cannot decrypt the PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many types on malformed input, lazily while reading pages too
        raise IngestError(f"not a readable PDF: {_short_reason(exc)}") from exc

    if not texts:
        raise IngestError(EMPTY)
    pages, skipped = [], []
    for number, raw in enumerate(texts, start=1):
        text = normalize_text(raw)
        if text:
            pages.append(Page(number, text))
        else:
            skipped.append(number)
    if not pages:
        raise IngestError(NO_TEXT_LAYER)
    warnings = []
    if skipped:
        listed = ", ".join(map(str, skipped))
        noun, verb = ("page", "has") if len(skipped) == 1 else ("pages", "have")
        warnings.append(f"{noun} {listed} {verb} no text layer (skipped)")
    return LoadedDocument(pages, warnings, page_count=len(texts))


def _short_reason(exc: Exception) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return reason if len(reason) <= 120 else reason[:117] + "..."
