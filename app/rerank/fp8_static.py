"""An fp8 reranker checkpoint with calibrated static activation scales, which vLLM loads as it is.

`KB_RERANK_QUANTIZATION=fp8` quantizes the weights on load and every activation per token at run time:
a max over each token's row before every matmul, fused into the norm and SiLU kernels, which makes those
kernels about twice as slow (docs/BENCHMARKS.md). With one fixed scale per layer, measured once on
sample prompts, that quantization is a plain multiply.

The checkpoint is the original one with every linear layer of the decoder stored as fp8 (e4m3) weights
with a per-tensor `weight_scale` and a per-tensor `input_scale` (the largest |input| seen in calibration
/ 448), and `quantization_config = {"quant_method": "fp8", "activation_scheme": "static"}` in its
config: the format vLLM reads for static fp8. Embeddings, norms and the LM head keep their dtype.
Inputs larger than the calibrated range are clipped at run time, so calibrate on prompts like the ones
the reranker will see: `kb rerank-fp8` uses the knowledge base's own chunks, and reports how well the
quantized model's scores agree with the original's on held-out prompts.

Needs torch, transformers and safetensors only (it runs where the GPU is, without the app).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.rerank import prompt

QUANTIZATION_CONFIG = {"quant_method": "fp8", "activation_scheme": "static"}
CALIBRATION_FILE = "kb_calibration.json"
# vLLM runs each group as one matmul with one weight scale; sharing it here keeps the checkpoint's
# numbers exactly the ones vLLM computes with (it would requantize to the group's largest scale).
FUSED_GROUPS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))
_WEIGHT_FILES = (".safetensors", ".bin", ".pt", ".pth")
_WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class Fp8Report:
    """What `quantize_fp8_static` wrote and how well the result agrees with the original model.

    `spearman` and `max_abs_diff` compare P(yes) on the held-out prompts, with the fp8 arithmetic
    emulated in PyTorch (dequantized weights, inputs rounded through fp8 at their static scale).
    """

    out_dir: Path
    calibration_prompts: int
    check_prompts: int
    spearman: float | None
    max_abs_diff: float | None

    def as_json(self) -> dict:
        return {**self.__dict__, "out_dir": str(self.out_dir)}


def calibration_pairs(texts: list[str], n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Up to `n` (query, document) pairs from a collection's own texts: each document is a sampled text,
    its query the opening words of another one, as a question (realistic lengths and vocabulary)."""
    rng = random.Random(seed)
    texts = [t for t in texts if t.strip()]
    if len(texts) < 2:
        raise ValueError("calibration needs at least two texts")
    documents = rng.sample(texts, min(n, len(texts)))
    return [(" ".join(rng.choice(texts).split()[:12]).rstrip("?.") + "?", doc) for doc in documents]


def pair_prompts(
    tokenizer, pairs: list[tuple[str, str]], max_doc_tokens: int, instructions: list[str | None]
) -> list[list[int]]:
    """Token-id prompts for `pairs`, the instructions taken in turn (None uses the default one)."""
    return [
        prompt.build_prompts(tokenizer, query, [doc], max_doc_tokens, instructions[i % len(instructions)])[0]
        for i, (query, doc) in enumerate(pairs)
    ]


def quantize_fp8_static(
    model_dir: Path,
    out_dir: Path,
    prompts: list[list[int]],
    check_prompts: list[list[int]] = (),
    device: str | None = None,
) -> Fp8Report:
    """Write `out_dir`: the checkpoint in `model_dir` with fp8 weights and calibrated activation scales.

    Args:
        model_dir: a Qwen3-Reranker checkpoint (bf16 or fp32) with its tokenizer files.
        out_dir: where to write; must not exist yet. It appears only when complete.
        prompts: calibration prompts as token ids (see `pair_prompts`), one forward pass each.
        check_prompts: held-out prompts on which the report compares scores with the original model.
        device: where to run; default CUDA when present, else CPU.

    Returns:
        The report; `out_dir` is loadable by vLLM (`KB_RERANK_MODEL=out_dir`).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new directory")
    if not prompts:
        raise ValueError("calibration needs at least one prompt")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").to(device).eval()
    linears = {
        f"model.layers.{name}": module
        for name, module in model.model.layers.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    fp8_max = torch.finfo(torch.float8_e4m3fn).max
    input_scales = {name: m.clamp(min=1e-12) / fp8_max for name, m in calibrate(model, linears, prompts).items()}
    weight_scales = _weight_scales(linears, fp8_max)

    tensors = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tie_word_embeddings:
            continue  # stored once, as the embedding
        layer = name.removesuffix(".weight")
        if layer in linears:
            tensors[name] = _to_fp8(tensor, weight_scales[layer], fp8_max).cpu()
            tensors[f"{layer}.weight_scale"] = weight_scales[layer].cpu().clone()  # shared within a group
            tensors[f"{layer}.input_scale"] = input_scales[layer].cpu()
        else:
            tensors[name] = tensor.contiguous().cpu()

    spearman = max_abs_diff = None
    if check_prompts:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        yes_no = tokenizer.convert_tokens_to_ids([prompt.YES_TOKEN, prompt.NO_TOKEN])
        original = _p_yes(model, check_prompts, yes_no)
        with _emulated_fp8(linears, weight_scales, input_scales, fp8_max):
            quantized = _p_yes(model, check_prompts, yes_no)
        spearman = _spearman(original, quantized)
        max_abs_diff = float((original - quantized).abs().max())

    _write_checkpoint(model_dir, out_dir, tensors, len(prompts))
    return Fp8Report(out_dir, len(prompts), len(check_prompts), spearman, max_abs_diff)


def calibrate(model, linears: dict, prompts: list[list[int]]) -> dict:
    """The largest |input| each of `linears` (name -> module of `model`) sees over `prompts`, as tensors."""
    import torch

    seen: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def hook(_module, inputs):
            value = inputs[0].detach().abs().max().float()
            seen[name] = torch.maximum(seen[name], value) if name in seen else value

        return hook

    handles = [module.register_forward_pre_hook(recorder(name)) for name, module in linears.items()]
    try:
        with torch.inference_mode():
            for ids in prompts:  # one at a time: padding would add activations no real prompt has
                model.model(torch.tensor([ids], device=model.device))  # the decoder only: no LM head
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _weight_scales(linears: dict, fp8_max: float) -> dict:
    """Per-tensor weight scales, one per fused group (see FUSED_GROUPS)."""
    scales = {name: m.weight.detach().abs().max().float().clamp(min=1e-12) / fp8_max for name, m in linears.items()}
    for name in linears:
        parent, _, leaf = name.rpartition(".")
        for group in FUSED_GROUPS:
            if leaf in group:
                scales[name] = max(scales[f"{parent}.{member}"] for member in group)
    return scales


def _to_fp8(tensor, scale, fp8_max: float):
    import torch

    return (tensor.float() / scale).clamp(-fp8_max, fp8_max).to(torch.float8_e4m3fn)


class _emulated_fp8:
    """Within the block, `linears` compute as vLLM's static fp8 matmuls do: weights and inputs rounded
    through fp8 at their scales, clipped at the calibrated range."""

    def __init__(self, linears: dict, weight_scales: dict, input_scales: dict, fp8_max: float):
        self._linears, self._ws, self._xs, self._max = linears, weight_scales, input_scales, fp8_max
        self._saved, self._handles = {}, []

    def __enter__(self):
        for name, module in self._linears.items():
            weight = module.weight.data
            self._saved[name] = weight.clone()
            weight.copy_((_to_fp8(weight, self._ws[name], self._max).float() * self._ws[name]).to(weight.dtype))
            scale = self._xs[name]

            def hook(_module, inputs, scale=scale):
                x = inputs[0]
                return ((_to_fp8(x, scale, self._max).float() * scale).to(x.dtype),) + inputs[1:]

            self._handles.append(module.register_forward_pre_hook(hook))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        for name, module in self._linears.items():
            module.weight.data.copy_(self._saved[name])


def _p_yes(model, prompts: list[list[int]], yes_no: list[int]):
    """P(yes) of the last token for each prompt (the model card's softmax over "yes" and "no")."""
    import torch

    out = []
    with torch.inference_mode():
        for ids in prompts:
            hidden = model.model(torch.tensor([ids], device=model.device)).last_hidden_state[:, -1]
            logits = model.lm_head(hidden)[0, yes_no].float()
            out.append(torch.softmax(logits, dim=0)[0])
    return torch.stack(out).cpu()


def _spearman(a, b) -> float:
    """Rank correlation of two score vectors (ties are negligible for continuous scores)."""
    import torch

    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def _write_checkpoint(model_dir: Path, out_dir: Path, tensors: dict, n_prompts: int) -> None:
    from safetensors.torch import save_file

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        save_file(tensors, staging / "model.safetensors", metadata={"format": "pt"})
        config = json.loads((model_dir / "config.json").read_text())
        config["quantization_config"] = QUANTIZATION_CONFIG
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        (staging / CALIBRATION_FILE).write_text(json.dumps({"source": str(model_dir), "prompts": n_prompts}))
        for path in model_dir.iterdir():  # tokenizer and generation files
            if path.is_file() and path.name != "config.json" and not _is_weights(path.name):
                shutil.copy(path, staging / path.name)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _is_weights(name: str) -> bool:
    return name.endswith(_WEIGHT_FILES) or name in _WEIGHT_INDEXES
