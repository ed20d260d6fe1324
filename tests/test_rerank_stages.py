"""Engine start stages read from vLLM's log lines, and the vLLM warnings that do not apply kept off the terminal."""

from __future__ import annotations

import logging

from app.rerank.stages import IrrelevantWarnings, stage_of


def test_log_lines_of_a_start_map_to_stages_in_order():
    lines = [
        "Starting to load model /models/rr...",
        "Model loading took 7.56 GiB memory and 2.2 seconds",
        "torch.compile took 34.33 s in total",
        "Available KV cache memory: 106.1 GiB",
        "init engine (profile, create kv cache, warmup model) took 43.03 s",
    ]
    assert [stage_of(line) for line in lines] == [
        "loading weights", "compiling (torch.compile)", "profiling memory", "capturing CUDA graphs", "warming up",
    ]
    assert stage_of("Resolved architecture: Qwen3ForSequenceClassification") is None


def test_warnings_that_do_not_apply_are_filtered_and_others_pass():
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("vllm.x", logging.WARNING, __file__, 1, message, None, None)

    keep = IrrelevantWarnings()
    assert not keep.filter(record("Serving an original Qwen3 reranker (/m) without a --chat-template. The model"))
    # seen on every GPU start (H200, vLLM 0.24): the engine's own choices, not faults
    assert not keep.filter(record("The global random seed is set to 0. Since VLLM_ENABLE_V1_MULTIPROCESSING is "
                                  "set to False, this may affect the random state of the Python process"))
    assert not keep.filter(record("Skipping CUDA graph capture. To turn on CUDA graph capture, ensure "
                                  "`cudagraph_mode` was not manually set to `NONE`"))
    assert not keep.filter(record("Triton kernel JIT compilation during inference: _compute_slot_mapping_kernel."))
    assert keep.filter(record("CUDA out of memory while profiling"))
