"""The documents of a knowledge base: list, upload (many files at once), delete."""

from __future__ import annotations

from pathlib import PureWindowsPath
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, Field

from app.api.deps import RuntimeDep
from app.errors import InvalidInput
from app.models import Document
from app.service import documents
from ingest.pipeline import IngestOutcome

router = APIRouter(tags=["documents"])


class DocumentList(BaseModel):
    kb: str
    documents: list[Document]


class Outcome(BaseModel):
    summary: str = Field(description="The line `kb ingest` prints, e.g. 'manual.pdf: added, 3 pages, 3 chunks'")
    name: str
    status: str = Field(description="added | unchanged | replaced | failed")
    ocr_pages: int = Field(0, description="Pages whose text was recognised by OCR")
    doc_id: str | None
    pages: int | None
    chunks: int
    message: str = Field(description="Why it failed, or warnings")

    @classmethod
    def of(cls, outcome: IngestOutcome) -> Outcome:
        return cls(summary=outcome.summary(), **outcome.as_json())


class IngestReply(BaseModel):
    kb: str
    outcomes: list[Outcome] = Field(description="One per file, in the order sent")


@router.get("/api/kbs/{kb}/documents", response_model=DocumentList, summary="List the documents of a knowledge base")
def list_documents(kb: str, rt: RuntimeDep) -> DocumentList:
    return DocumentList(kb=kb, documents=documents.listing(rt, kb))


@router.post(
    "/api/kbs/{kb}/documents",
    response_model=IngestReply,
    summary="Upload files (the knowledge base is created if missing)",
)
def upload(
    kb: str,
    files: Annotated[list[UploadFile], File(description="One or more files: PDF, DOCX, HTML, Markdown, text")],
    rt: RuntimeDep,
) -> IngestReply:
    """A bad file is one failed outcome with its reason; the others are ingested."""
    named = [(_file_name(f), f.file.read()) for f in files]
    return IngestReply(kb=kb, outcomes=[Outcome.of(o) for o in documents.ingest_uploads(rt, kb, named)])


@router.delete("/api/kbs/{kb}/documents/{doc}", response_model=Document, summary="Delete a document by name or id")
def delete(kb: str, doc: str, rt: RuntimeDep) -> Document:
    """Returns the document that was deleted."""
    return documents.delete(rt, kb, doc)


def _file_name(upload: UploadFile) -> str:
    # A client may send a path ("C:\\docs\\a.pdf", "../a.pdf"): only the last part names the document.
    name = PureWindowsPath(upload.filename or "").name
    if not name:
        raise InvalidInput("Every uploaded file needs a file name (the multipart part's filename).")
    return name
