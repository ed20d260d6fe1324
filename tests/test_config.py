from pathlib import Path

import pytest

from app.config import DEFAULT_INSTRUCTION, describe_settings, load_settings
from app.errors import ConfigError


def test_defaults_without_environment():
    s = load_settings(env={})
    assert s.data_dir == Path("./data")
    assert s.rerank_backend == "vllm"
    assert s.recall_mode == "hybrid"
    assert s.recall_k == 50 and s.top_n == 5
    assert s.prf_docs == 3
    assert s.ocr == "on"
    assert DEFAULT_INSTRUCTION.startswith("Given a web search query")


def test_environment_is_parsed_and_typed():
    s = load_settings(env={"KB_DATA_DIR": "/tmp/x", "KB_RECALL_K": "80", "KB_RERANK_BACKEND": "off"})
    assert s.data_dir == Path("/tmp/x") and s.recall_k == 80 and s.rerank_backend == "off"


@pytest.mark.parametrize(
    "env, fix",
    [
        ({"KB_RERANK_BACKEND": "gpu"}, "use one of: vllm, remote, off"),
        ({"KB_OCR": "yes"}, "KB_OCR='yes' is not supported; use one of: on, tesseract, off."),
        ({"KB_RECALL_K": "many"}, "KB_RECALL_K='many' is not a valid int"),
        ({"KB_CHUNK_OVERLAP": "300"}, "KB_CHUNK_OVERLAP (300) must be at least 0 and less than KB_CHUNK_TOKENS"),
        ({"KB_TOP_N": "0"}, "KB_TOP_N must be positive"),
        ({"KB_PRF_DOCS": "-1"}, "KB_PRF_DOCS must be at least 0 (0 turns pseudo-relevance feedback off)"),
        ({"KB_RERANK_BACKEND": "remote", "KB_RERANK_URL": "localhost:8000"}, "must start with http://"),
    ],
)
def test_invalid_values_name_the_fix(env, fix):
    with pytest.raises(ConfigError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env=env)


def test_every_setting_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for var, _default, doc in describe_settings():
        assert var.startswith("KB_") and doc
        assert f"`{var}`" in readme, f"{var} is missing from the README"
