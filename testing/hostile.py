"""Hostile and broken inputs for scripts/bench_reliability.py: files written into a folder, plus paths that
are not files at all (a FIFO, /dev/zero, a sparse 9 GiB file, links out of the folder).

`write_hostile(folder)` returns (name, path) for each case; the good files (`write_good`) go into the same
folder, so one `kb ingest` batch mixes them. PDFs are written by hand (a few objects and an xref), so that
nesting, loops and flate bombs are exact; well-formed PDFs come from fpdf2 (tests/fixtures_docs.py).
"""

from __future__ import annotations

import io
import os
import random
import zipfile
import zlib
from pathlib import Path

MB = 2**20
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of these objects (numbered from 1) with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref))
    return out.getvalue()


def _stream(data: bytes, flate: bool = True) -> bytes:
    body = zlib.compress(data, 9) if flate else data
    header = b"<< /Length %d%s >>" % (len(body), b" /Filter /FlateDecode" if flate else b"")
    return header + b"\nstream\n" + body + b"\nendstream"


def flate_bomb_pdf(streams: int = 40, inflated: int = 70 * MB) -> bytes:
    """The issue's case: `streams` pages whose content streams each inflate to `inflated` bytes."""
    stream = _stream(b"BT /F1 12 Tf 72 720 Td (x) Tj ET\n" + b" " * (inflated - 40))  # compressed once
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(streams))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, streams),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i in range(streams):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objects.append(stream)
    return raw_pdf(objects)


def nested_pdf(depth: int = 100_000) -> bytes:
    """A page whose /Annots is an array nested `depth` deep."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots "
               + b"[" * depth + b"]" * depth + b" >>", _stream(b"BT /F1 12 Tf 72 720 Td (deep) Tj ET")]
    return raw_pdf(objects)


def loop_pdf() -> bytes:
    """A page tree whose Pages node lists itself as its own kid."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])


def docx(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buf.getvalue()


def _declared_huge_docx() -> bytes:
    """A tiny DOCX whose directory claims its document.xml inflates to 4 GiB (the OverflowError case)."""
    data = bytearray(docx(b"<w:document %s/>" % _W.encode()))
    start = data.find(b"PK\x01\x02")
    while start >= 0:  # central directory records: the uncompressed size is at offset 24
        name_len = int.from_bytes(data[start + 28 : start + 30], "little")
        if data[start + 46 : start + 46 + name_len] == b"word/document.xml":
            data[start + 24 : start + 28] = (0xFFFFFFFE).to_bytes(4, "little")
        start = data.find(b"PK\x01\x02", start + 4)
    return bytes(data)


def hostile_files() -> dict[str, bytes]:
    """name -> bytes of every hostile case that is a plain file."""
    from tests.fixtures_docs import image_only_pdf, make_pdf, truncated_pdf

    rng = random.Random(0)
    text = "The pump moves water through the intake filter. " * 40
    deep_body = b"<x>" * 100_000 + b"</x>" * 100_000
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "' + b"lol" * 10 + b'">'
              + b"".join(b'<!ENTITY %s "%s">' % (chr(98 + i).encode(), (b"&" + chr(97 + i).encode() + b";") * 10)
                         for i in range(8))
              + b"]><w:document " + _W.encode()
              + b"><w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body></w:document>")
    return {
        "empty.txt": b"",
        "empty.pdf": b"",
        "corrupt.pdf": b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(20_000)),
        "truncated.pdf": truncated_pdf(),
        "encrypted.pdf": make_pdf(["Secret text."], encrypt_password="hunter2"),
        "image-only.pdf": image_only_pdf(),
        "pdf-named.txt": make_pdf(["A PDF with the wrong extension."]),
        "text-named.pdf": text.encode(),
        "zip-without-document.docx": zip_of({"hello.txt": b"hi"}),
        "text-named.docx": text.encode(),
        "byte-soup.txt": bytes(rng.randrange(256) for _ in range(50_000)),
        "latin-1.txt": ("Café crème, déjà vu, naïve façade. " * 30).encode("latin-1"),
        "cp1252.txt": ("\u201cSmart quotes\u201d \u2013 and a \u20ac sign. " * 30).encode("cp1252"),
        "one-bad-byte.txt": text.encode()[:500] + b"\xff" + text.encode()[500:],
        "utf16-no-bom.txt": text.encode("utf-16-le"),
        "nul-sprinkled.txt": b"\x00".join(text.encode()[i : i + 7] for i in range(0, len(text), 7)),
        "binary.md": bytes(range(256)) * 200,
        "word-10mb.txt": b"a" * (10 * MB),
        "word-2mb.txt": b"b" * (2 * MB),
        "text-20mb.txt": ("Field note: the heron waded through the marsh at dawn. " * (20 * MB // 56)).encode(),
        "zip-bomb.docx": docx(b"<w:document " + _W.encode() + b"><w:body><w:p><w:r><w:t>"
                              + b" " * (600 * MB) + b"</w:t></w:r></w:p></w:body></w:document>"),
        "20k-entries.docx": docx(b"<w:document %s/>" % _W.encode(),
                                 {f"word/media/{i}.bin": b"" for i in range(20_000)}),
        "declared-4gib.docx": _declared_huge_docx(),
        "deep-nesting.docx": docx(b"<w:document " + _W.encode() + b"><w:body>" + deep_body + b"</w:body></w:document>"),
        "billion-laughs.docx": docx(laughs),
        "broken-xml.docx": docx(b"<w:document " + _W.encode() + b"><w:body><w:p>"),
        "deep-nesting.pdf": nested_pdf(),
        "page-tree-loop.pdf": loop_pdf(),
        "flate-bomb-40x70mb.pdf": flate_bomb_pdf(),
        "flate-bomb-1x200mb.pdf": flate_bomb_pdf(streams=1, inflated=200 * MB),
        "unclosed-script.html": b"<html><body><script>var x = 1;" + b" " * 1000,
        "deep-divs.html": b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"</body></html>",
        "huge-attribute.html": b'<html><body><p title="' + b"x" * (5 * MB) + b'">Text after.</p></body></html>',
        "brackets.md": b"[" * 1_000_000 + b"text" + b"]" * 1_000_000,
        "blank-lines.txt": b"word\n" + b"\n" * 2_000_000 + b"end",
        "controls.txt": bytes(range(1, 32)) * 1000,
        "gzip-named.txt": zlib.compress(text.encode() * 100),
        "program.exe": b"MZ" + bytes(1000),
        "new\nline.txt": b"A file whose name has a newline.",
        "\u202etxt.exe.txt": b"A file whose name has a right-to-left override.",
    }


def zip_of(entries: dict[str, bytes]) -> bytes:
    """A deflated zip archive of `entries` (name -> bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


def write_hostile(folder: Path, outside: Path) -> list[tuple[str, Path]]:
    """Write every hostile case; returns (case, path), the non-files included. `outside` is a folder
    outside `folder` for link targets."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, data in hostile_files().items():
        path = folder / name
        path.write_bytes(data)
        cases.append((name, path))
    fifo = folder / "fifo.txt"
    os.mkfifo(fifo)
    (folder / "a-folder.txt").mkdir()
    outside.mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.txt"
    secret.write_text("Outside the folder: must not be ingested without --follow-symlinks.")
    (folder / "link-out.txt").symlink_to(secret)
    (folder / "link-passwd.txt").symlink_to("/etc/passwd")
    (folder / "broken-link.txt").symlink_to(outside / "missing.txt")
    sparse = outside / "sparse-9gib.txt"
    with open(sparse, "wb") as f:
        f.truncate(9 * 2**30)
    cases += [("fifo.txt", fifo), ("a-folder.txt", folder / "a-folder.txt"), ("link-out.txt", folder / "link-out.txt"),
              ("link-passwd.txt", folder / "link-passwd.txt"), ("broken-link.txt", folder / "broken-link.txt"),
              ("/dev/zero", Path("/dev/zero")), ("sparse-9gib.txt", sparse)]
    return cases


def write_good(folder: Path, n: int = 5) -> list[str]:
    from tests.fixtures_docs import make_docx, make_pdf

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        kind = ("txt", "md", "pdf", "docx", "html")[i % 5]
        name = f"good-{i}.{kind}"
        sentence = f"Good file {i} describes the lighthouse keeper's log of storm number {i}."
        data = {"txt": sentence.encode(), "md": f"# Log {i}\n\n{sentence}".encode(), "pdf": make_pdf([sentence]),
                "docx": make_docx([sentence]), "html": f"<html><body><p>{sentence}</p></body></html>".encode()}[kind]
        (folder / name).write_bytes(data)
        names.append(name)
    return names
