"""What parsing learnt about a document, kept beside its original for the Library to show.

The loaders report it on the `LoadedDocument` (encoding, pages read by OCR, running headers and footers,
tables); the parse worker sends it back as a `DocumentDetails` (`ingest.parse`), and the pipeline writes
it as `<doc id>.details.json` next to the kept original when the document is stored (again after a
re-ingest, which may read it differently, e.g. with OCR turned on), and removes it with the document.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ingest.loaders.document import LoadedDocument


@dataclass(frozen=True)
class DocumentDetails:
    """Parse metadata of one document (empty values where the format has none)."""

    encoding: str = ""
    ocr_pages: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()
    footers: tuple[str, ...] = ()
    tables: int = 0
    sections: tuple[str, ...] = ()  # the heading paths, in document order, each once
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, loaded: LoadedDocument) -> DocumentDetails:
        paths = dict.fromkeys(s.path for page in loaded.pages for s in page.sections if s.path)
        return cls(
            encoding=loaded.encoding,
            ocr_pages=tuple(loaded.ocr_pages),
            headers=tuple(loaded.headers),
            footers=tuple(loaded.footers),
            tables=loaded.tables,
            sections=tuple(paths),
            warnings=tuple(loaded.warnings),
        )


def details_path(source: Path) -> Path:
    """Where the details of the document kept at `source` (files/<doc id>.<ext>) are written."""
    return source.with_name(f"{source.stem}.details.json")


def write_details(source: Path, details: DocumentDetails) -> None:
    text = json.dumps(asdict(details), ensure_ascii=False)
    path = details_path(source)
    temporary = path.with_name(path.name + ".tmp")  # a re-ingest rewrites it: never leave half a file
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def read_details(source: Path) -> DocumentDetails | None:
    """The details written for the original at `source`; None for documents stored before they existed."""
    try:
        raw = json.loads(details_path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    known = {f.name for f in fields(DocumentDetails)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    return DocumentDetails(**values)
