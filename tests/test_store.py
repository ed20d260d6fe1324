"""The Chroma store on disk with the real bundled embedder."""

from app.models import Chunk
from tests.conftest import stored_chunks, stored_doc_ids


def _chunks(doc_id: str, texts: list[str], page: int | None = 1) -> list[Chunk]:
    return [
        Chunk(f"{doc_id}:{i}", doc_id, f"{doc_id}.pdf", i, t, page=page, char_end=len(t))
        for i, t in enumerate(texts)
    ]


def test_add_query_exclude_delete(runtime):
    rt = runtime
    kb = rt.open_or_create_kb("kb")
    cats = _chunks("cats", ["Cats purr when they are content.", "A kitten sleeps most of the day."])
    cars = _chunks("cars", ["The engine needs new spark plugs.", "Change the oil every 10,000 km."], page=None)
    for chunks in (cats, cars):
        rt.store.add(kb, chunks, rt.embedder.encode_documents([c.text for c in chunks]))
    assert stored_chunks(rt, kb) == 4

    query = rt.embedder.encode_query("why do cats purr")
    top = rt.store.query(kb, query, k=4)
    assert top[0][0] == cats[0]  # round-trips every field, page included
    assert top[0][1] > top[-1][1] and -1.0 <= top[-1][1] <= 1.0
    assert rt.store.query(kb, query, k=2, exclude_doc_ids=["cats"])[0][0].doc_id == "cars"

    oil = rt.store.get(kb, ["cars:1", "missing", "cats:0"])
    assert [c.chunk_id for c in oil] == ["cars:1", "cats:0"] and oil[0].page is None
    assert [c.position for c in rt.store.document_chunks(kb, "cats")] == [0, 1]

    rt.store.delete_document(kb, "cats")
    assert stored_doc_ids(rt, kb) == {"cars"}
    rt.store.drop(kb)
    rt.store.drop(kb)  # dropping twice is not an error
