import pytest

from app.catalog import DELETING, PENDING, READY, Catalog
from app.errors import DocumentNotFound, InvalidInput, KnowledgeBaseExists, KnowledgeBaseNotFound


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "catalog.sqlite")


def test_kb_lifecycle(catalog):
    kb = catalog.create_kb("hr", "m", 384)
    assert [k.name for k in catalog.list_kbs()] == ["hr"]
    with pytest.raises(KnowledgeBaseExists):
        catalog.create_kb("hr", "m", 384)
    renamed = catalog.rename_kb("hr", "people")
    assert renamed.key == kb.key and renamed.collection == kb.collection
    with pytest.raises(KnowledgeBaseNotFound, match="kb list"):
        catalog.get_kb("hr")
    catalog.delete_kb(renamed)
    assert catalog.list_kbs() == []


@pytest.mark.parametrize("name", ["", "a/b", "x" * 65])
def test_bad_kb_names_are_refused(catalog, name):
    with pytest.raises(InvalidInput):
        catalog.create_kb(name, "m", 384)


def test_pending_documents_are_hidden_until_committed(catalog):
    kb = catalog.create_kb("kb", "m", 384)
    catalog.begin_document(kb, "old", "a.pdf", 10)
    catalog.commit_document(kb, "old", 2, 5, replaces=[])
    catalog.begin_document(kb, "new", "a.pdf", 12)
    assert catalog.hidden_doc_ids(kb) == ["new"]
    assert [d.doc_id for d in catalog.documents(kb)] == ["old"]

    catalog.commit_document(kb, "new", 3, 7, replaces=["old"])
    assert catalog.get_document(kb, "old").status == DELETING
    assert catalog.get_document(kb, "new").status == READY
    assert catalog.hidden_doc_ids(kb) == ["old"]
    assert catalog.documents(kb, status=PENDING) == []


def test_find_document_by_name_id_and_prefix(catalog):
    kb = catalog.create_kb("kb", "m", 384)
    for doc_id, name in [("abcdef0123456789", "a.txt"), ("abcdef0199999999", "b.txt")]:
        catalog.begin_document(kb, doc_id, name, 1)
        catalog.commit_document(kb, doc_id, None, 1, replaces=[])
    assert catalog.find_document(kb, "b.txt").doc_id == "abcdef0199999999"
    assert catalog.find_document(kb, "abcdef012").name == "a.txt"
    with pytest.raises(DocumentNotFound, match="several"):
        catalog.find_document(kb, "abcdef01")
    with pytest.raises(DocumentNotFound, match="No document"):
        catalog.find_document(kb, "abcdef")  # shorter than 8 characters: no prefix match


def test_presets_persist_per_kb(tmp_path):
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    kb = catalog.create_kb("kb", "m", 384)
    catalog.save_preset(kb, "legal", "Find the clause")
    assert Catalog(path).presets(kb) == {"legal": "Find the clause"}
