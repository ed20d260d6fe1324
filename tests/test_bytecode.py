"""app.bytecode: bytecode goes to the data dir only when the install keeps none and Python may not write it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _start(tmp_path: Path, *, no_bytecode_env: bool) -> str:
    """A fresh interpreter that calls keep_bytecode_in for a probe package, then imports it."""
    env = {"PYTHONPATH": f"{tmp_path / 'site'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    if no_bytecode_env:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    code = (
        "import sys; from app.bytecode import keep_bytecode_in; "
        f"print(keep_bytecode_in({str(tmp_path / 'data')!r}, probes=('probe_pkg',))); import probe_pkg"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def _probe(tmp_path: Path) -> Path:
    package = tmp_path / "site" / "probe_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    return package


def test_no_bytecode_allowed_next_to_source_goes_to_the_data_dir(tmp_path):
    package = _probe(tmp_path)
    assert _start(tmp_path, no_bytecode_env=True).strip() == "True"
    assert not (package / "__pycache__").exists()
    cached = list((tmp_path / "data" / "pycache").rglob("probe_pkg/__init__.*.pyc"))
    assert len(cached) == 1
    # the next start finds it there and writes nothing new
    before = cached[0].stat().st_mtime_ns
    assert _start(tmp_path, no_bytecode_env=True).strip() == "True"
    assert cached[0].stat().st_mtime_ns == before


def test_an_install_that_can_keep_bytecode_is_left_alone(tmp_path):
    package = _probe(tmp_path)
    assert _start(tmp_path, no_bytecode_env=False).strip() == "False"  # Python writes it next to the source
    assert list((package / "__pycache__").glob("__init__.*.pyc"))
    assert _start(tmp_path, no_bytecode_env=True).strip() == "False"  # and it is there now
    assert not (tmp_path / "data").exists()
