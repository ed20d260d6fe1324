"""The embedding model's transformer run by ONNX Runtime on CPU: the same vectors as torch, several times faster
for one short query.

On 2 cores, `SentenceTransformer.encode` of a 9-token query took 15 ms, most of it torch's per-operator cost on
tiny matrices; ONNX Runtime ran the same exported graph in 5.5 ms (docs/EVAL.md, "Speed"). Only the first module
(the transformer) is exported; tokenizing, pooling and normalizing stay the sentence-transformers modules the
model ships, so the pooling mode and query prompts are the model's own.

The export (torch.onnx, a few seconds for MiniLM) is cached on disk under a key made of the weights' fingerprint
and the versions that shape the graph. A graph is used only after it reproduced torch's vectors on probe
sentences (`verified`); a model that does not export, or does not match, stays on torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

# Bumped when the export below changes, so that older cached graphs are not reused.
EXPORT_FORMAT = 1
OPSET = 17
# Probe sentences of different lengths (one longer than a typical query) for `verified`.
PROBES = ("how do pumps fail", "The contract ends on 31 March unless either party renews it in writing.")
# The largest difference allowed from torch's normalized vector (float32 reorderings are ~1e-7).
TOLERANCE = 1e-4


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kb-search" / "embed-onnx"


class OnnxTransformer:
    """The first module of a SentenceTransformer as an ONNX Runtime session.

    `token_embeddings(features)` takes what `model.preprocess` returns and gives what the module would have put
    under its output name (token embeddings for a text model); the caller runs the model's later modules.
    """

    def __init__(self, model, graph: bytes, input_names: list[str]) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Threads that spin after a run would take the cores from the BM25 and Chroma work that follows a query.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_names = input_names
        self.output_name = model[0].module_output_name

    def token_embeddings(self, features: dict) -> torch.Tensor:
        inputs = {name: features[name].numpy() for name in self.input_names}
        (out,) = self._session.run(None, inputs)
        return torch.from_numpy(out)


def load(model, cache_dir: Path | None = None) -> OnnxTransformer | None:
    """An ONNX Runtime copy of `model`'s transformer that reproduces it, or None (logged) where none can be
    built: onnx or onnxruntime missing, a module that does not export, or a graph that does not match."""
    try:
        import onnxruntime  # noqa: F401  (the `onnx` package is needed only to export: `_export`)
    except ImportError as e:
        log.info("embedding with torch: %s", e)
        return None
    cache_dir = cache_dir or default_cache_dir()
    try:
        input_names = _input_names(model)
        path = cache_dir / f"{_fingerprint(model, input_names)}.onnx"
        graph = path.read_bytes() if path.exists() else _export(model, input_names, path)
        onnx_model = OnnxTransformer(model, graph, input_names)
    except Exception as e:  # an architecture the exporter or ONNX Runtime does not handle
        log.warning("embedding with torch: the model did not export to ONNX (%s: %s)", type(e).__name__, e)
        return None
    mismatch = _mismatch(model, onnx_model)
    if mismatch > TOLERANCE:
        log.warning("embedding with torch: the ONNX graph differs from torch by %.2g", mismatch)
        return None
    return onnx_model


def _input_names(model) -> list[str]:
    """The tensors `model.preprocess` gives the first module (input_ids, attention_mask, ...)."""
    features = model.preprocess([PROBES[0]])
    return [name for name, value in features.items() if isinstance(value, torch.Tensor)]


def _fingerprint(model, input_names: list[str]) -> str:
    """A key for the exported graph: the versions that shape it, the inputs, and each weight tensor's name, shape,
    dtype, sum and first and last values (a different checkpoint differs in all of them; hashing every byte of a
    large model would cost seconds at each start)."""
    import onnxruntime
    import transformers

    h = hashlib.sha256()
    versions = (EXPORT_FORMAT, OPSET, torch.__version__, transformers.__version__, onnxruntime.__version__)
    h.update(repr(versions).encode())
    h.update(" ".join(input_names).encode())
    h.update(type(model[0]).__qualname__.encode())
    with torch.inference_mode():
        for name, tensor in model[0].state_dict().items():
            flat = tensor.detach().reshape(-1).float()
            h.update(f"{name} {tuple(tensor.shape)} {tensor.dtype} {float(flat.double().sum())!r}".encode())
            h.update(flat[:256].numpy().tobytes() + flat[-256:].numpy().tobytes())
    return h.hexdigest()[:32]


class _FirstModule(torch.nn.Module):
    """The first module with positional tensor inputs, as torch.onnx traces it."""

    def __init__(self, module, input_names: list[str]) -> None:
        super().__init__()
        self.module = module
        self.input_names = input_names

    def forward(self, *tensors):
        return self.module(dict(zip(self.input_names, tensors, strict=True)))[self.module.module_output_name]


def _export(model, input_names: list[str], path: Path) -> bytes:
    """Export the first module, cache it at `path` (atomically: another process may read it at any time) and
    return it. A cache folder that cannot be written only costs the next process the export again."""
    features = model.preprocess(list(PROBES))
    dynamic = {name: {0: "batch", 1: "tokens"} for name in [*input_names, "out"]}
    with tempfile.TemporaryDirectory() as tmp_dir:
        exported = Path(tmp_dir) / path.name
        # The tracer warns of shape checks it records as constants; `_mismatch` checks the graph on other shapes.
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _FirstModule(model[0], input_names).eval(),
                tuple(features[name] for name in input_names),
                str(exported),
                input_names=input_names,
                output_names=["out"],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, and it handles the HF encoders
            )
        graph = exported.read_bytes()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(graph)
        os.replace(tmp, path)
    except OSError as e:
        log.info("ONNX graph not cached in %s: %s", path.parent, e)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return graph


def _mismatch(model, onnx_model: OnnxTransformer) -> float:
    """The largest difference between torch's and ONNX Runtime's normalized vectors of the probe sentences, one at
    a time and as one padded batch, with the model's query prompt where it has one."""
    prompts = [None, *(model.prompts or {}).values()]
    worst = 0.0
    for prompt in prompts:
        for batch in ([PROBES[0]], list(PROBES)):
            expected = model.encode(batch, prompt=prompt, normalize_embeddings=True, convert_to_numpy=True)
            got = encode(model, onnx_model, batch, prompt)
            worst = max(worst, float(np.abs(expected - got).max()))
    return worst


def encode(model, onnx_model: OnnxTransformer, texts: list[str], prompt: str | None) -> np.ndarray:
    """Normalized embeddings of one batch: the model's preprocessing, the ONNX transformer, the model's later
    modules (pooling, dense layers, normalize)."""
    with torch.inference_mode():
        features = model.preprocess(texts, prompt=prompt)
        features[onnx_model.output_name] = onnx_model.token_embeddings(features)
        for module in list(model)[1:]:
            features = module(features)
        vectors = torch.nn.functional.normalize(features["sentence_embedding"], p=2, dim=1)
    return vectors.numpy().astype(np.float32, copy=False)
