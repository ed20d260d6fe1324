"""DOCX: the paragraphs of word/document.xml in document order (tables and text boxes included)."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from app.errors import IngestError
from ingest.loaders.document import LoadedDocument, single_page

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def load_docx(data: bytes) -> LoadedDocument:
    """A DOCX file's text as one page.

    Raises:
        IngestError: not a zip archive, no word/document.xml, broken XML, or no text.
    """
    return single_page(docx_text(data))


def docx_text(data: bytes) -> str:
    """Paragraphs of word/document.xml in document order (tables included), separated by blank lines."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml")
        root = ElementTree.fromstring(xml)
    except zipfile.BadZipFile as exc:
        raise IngestError("not a readable DOCX: not a zip archive") from exc
    except KeyError as exc:
        raise IngestError("not a readable DOCX: word/document.xml is missing") from exc
    except ElementTree.ParseError as exc:
        raise IngestError(f"not a readable DOCX: broken XML ({exc})") from exc
    paragraphs: list[str] = []
    _collect_paragraphs(root, paragraphs)
    return "\n\n".join(paragraphs)


def _collect_paragraphs(element: ElementTree.Element, out: list[str]) -> None:
    for child in element:
        if child.tag == _W + "p":
            _add_paragraph(child, out)
        else:
            _collect_paragraphs(child, out)


def _add_paragraph(paragraph: ElementTree.Element, out: list[str]) -> None:
    nested: list[str] = []  # paragraphs of text boxes anchored in this one: they follow it
    out.append("".join(_run_text(paragraph, nested)))
    out.extend(nested)


def _run_text(element: ElementTree.Element, nested: list[str]):
    for child in element:
        tag = child.tag
        if tag == _W + "t":
            yield child.text or ""
        elif tag == _W + "tab":
            yield "\t"
        elif tag in (_W + "br", _W + "cr"):
            yield "\n"
        elif tag == _W + "p":
            _add_paragraph(child, nested)
        else:
            yield from _run_text(child, nested)
