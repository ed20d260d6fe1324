"""What a data dir holds beyond what its catalog accounts for: the checks of the crash tests and of
scripts/bench_reliability.py. (Unlike the rest of testing/, this imports the app: chromadb and all.)

`strays(rt)` lists every leftover, in words: a knowledge base left `dropping`, a `kbs/<key>` folder or a
vector collection without a catalog row, a document left `pending`/`deleting`, a hidden chunk generation,
vectors or BM25 entries of no visible document version, a kept file of no document. After any command
that recovers (every writing command does), it must be empty. `visible_problems(rt)` checks what search
shows instead: a ready document whose chunks are missing from either index, or chunks of two versions.
"""

from __future__ import annotations

from app.catalog import KB_READY
from app.ids import version_of
from app.runtime import Runtime


def strays(rt: Runtime) -> list[str]:
    out = []
    kbs = rt.catalog.list_kbs(include_dropping=True)
    keys = {kb.key for kb in kbs}
    out += [f"knowledge base {kb.name!r} left {kb.state}" for kb in kbs if kb.state != KB_READY]
    kbs_dir = rt.settings.data_dir / "kbs"
    if kbs_dir.is_dir():
        out += [f"folder kbs/{p.name} of no knowledge base" for p in kbs_dir.iterdir() if p.name not in keys]
    if rt.settings.chroma_dir.exists():
        out += [f"vector collection kb_{k} of no knowledge base" for k in rt.store.collection_keys() - keys]
    for kb in kbs:
        if kb.state != KB_READY:
            continue
        rows = rt.catalog.documents(kb, status=None)
        out += [f"{kb.name}: document {d.name!r} left {d.status}" for d in rows if d.status != "ready"]
        out += [f"{kb.name}: hidden generation {g} of {d[:12]}" for d, g in rt.catalog.hidden_generations(kb)]
        visible = rt.catalog.visible_versions(kb)
        stored = {version_of(c.chunk_id) for c in rt.store.iter_chunks(kb)}
        out += [f"{kb.name}: vectors of {v[:16]}, no visible document" for v in sorted(stored - visible)]
        out += [f"{kb.name}: BM25 entries of {v[:16]}, no visible document" for v in
                sorted(rt.lexical(kb).doc_ids() - visible)]
        files = rt.settings.kb_dir(kb.key) / "files"
        known = {d.doc_id for d in rows}
        if files.is_dir():
            out += [f"{kb.name}: kept file {p.name[:16]} of no document" for p in files.iterdir()
                    if p.name.split(".", 1)[0] not in known]
    return out


def visible_problems(rt: Runtime) -> list[str]:
    """What search would get wrong now: ready documents missing from an index, or shown twice over."""
    out = []
    for kb in rt.catalog.list_kbs():
        hidden = set(rt.catalog.hidden(kb).versions)
        visible = rt.catalog.visible_versions(kb)
        stored = {version_of(c.chunk_id) for c in rt.store.iter_chunks(kb)} - hidden
        lexical = rt.lexical(kb).doc_ids() - hidden
        out += [f"{kb.name}: {v[:16]} ready but has no vectors" for v in sorted(visible - stored)]
        out += [f"{kb.name}: {v[:16]} ready but not in BM25" for v in sorted(visible - lexical)]
        out += [f"{kb.name}: vectors of {v[:16]} visible, not a ready version" for v in sorted(stored - visible)]
        out += [f"{kb.name}: BM25 entries of {v[:16]} visible, not a ready version" for v in sorted(lexical - visible)]
    return out
