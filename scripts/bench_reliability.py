"""Reliability: kill -9 at random moments, hostile files, a long-lived reader beside writers, small-file speed.

    python scripts/bench_reliability.py [--rounds 20] [--sections kills,hostile,reader] [--small-files 0]
                                        [--baseline-root DIR] [--json-out FILE]

- **kills**: `python -m app.cli ingest|delete|drop` killed with SIGKILL after a random delay (uniform over the
  command's own unkilled duration, measured first), `--rounds` times each. After each kill a fresh runtime
  checks what is visible (every listed document whole in both indexes, a half-dropped knowledge base listed
  nowhere, the documents that were there before still there), runs the same command again in-process, and
  lists strays (`testing.consistency.strays`) and parse workers left running.
- **hostile**: 40 hostile files and 7 paths that are not files (`testing.hostile`), each read and parsed on
  its own through the parse workers with the default limits (message, seconds, peak RSS of the worker),
  then all of them with 5 good files in one `kb ingest` batch (exit status, tracebacks, good files added).
- **reader**: `testing.reader_loop` searching while other processes ingest and delete (failed searches,
  listed documents missed by dense or BM25 search).
- `--small-files N`: `kb ingest` of N generated small text files, with this checkout and, with
  `--baseline-root`, with another one (e.g. the main branch) on the same files.

Targets: 0 partial, 0 lost, 0 strays; no file over 120 s or 2 GB RSS; no traceback; every good file added.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.display import one_line  # noqa: E402
from app.ids import version_key, version_of  # noqa: E402
from app.runtime import Runtime  # noqa: E402


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# KB_API_URL: a port nothing listens on, so `kb` works in-process instead of sending its work to an app
# someone else is running (the CLI goes through the running app's API when one answers).
ENV = {"KB_RERANK_BACKEND": "off", "TOKENIZERS_PARALLELISM": "false", "KB_API_URL": f"http://127.0.0.1:{_free_port()}"}


def cli(data_dir: Path, *args: str, root: Path = ROOT) -> subprocess.Popen:
    env = {**os.environ, **ENV, "KB_DATA_DIR": str(data_dir), "PYTHONPATH": str(root)}
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=root, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Bench:
    def __init__(self, work: Path):
        from app.embed import Embedder

        self.work = work
        self.embedder = Embedder(load_settings(env={}).embed_model)

    def runtime(self, data_dir: Path) -> Runtime:
        return Runtime(load_settings(data_dir=data_dir, rerank_backend="off"), embedder=self.embedder)


# ---- kills ------------------------------------------------------------------------------------------------


def whole(rt: Runtime, kb, doc) -> bool:
    """All of the document's visible chunks are in the vector store and its version in BM25."""
    visible = version_key(doc.doc_id, doc.generation)
    stored = sum(1 for c in rt.store.document_chunks(kb, doc.doc_id) if version_of(c.chunk_id) == visible)
    return stored == doc.chunks and visible in rt.lexical(kb).doc_ids()


# Each file is about three nouns of its own, so that its first sentence finds it by dense search as well as
# by BM25 (texts that differ only by a number look alike to an embedder).
NOUNS = (
    "heron otter marsh dune quarry ledger anchor beacon cedar delta ember fjord glacier harbour invoice "
    "jasmine kettle lantern meadow nectar orchard pylon quartz reef saddle tannery umbrella violin walnut "
    "yacht zeppelin bakery chimney dolphin falcon granary hammock igloo jukebox kayak lighthouse mosaic "
    "nutmeg observatory pretzel quiver rhubarb sundial"
).split()


def text_file(folder: Path, name: str, seed: int) -> Path:
    rng = random.Random(seed)
    a, b, c = rng.sample(NOUNS, 3)
    body = f"This note is about the {a}, the {b} and the {c}. " + " ".join(
        f"Entry {seed} notes the {rng.choice((a, b, c))} and the {rng.choice((a, b, c))}." for _ in range(60)
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body)
    return path


def kill_round(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL the command after `delay` s; True if it was still running (a real kill)."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, signal.SIGKILL)  # the command only: its parse workers must notice and go
    proc.communicate()
    return running


def workers_left(proc: subprocess.Popen, wait_s: float = 3.0) -> int:
    """Processes of the killed command's group still alive after `wait_s` (parse workers that outlived it)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.1)
    out = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in out:
        os.kill(int(pid), signal.SIGKILL)
    return len(out)


def run_kills(bench: Bench, op: str, rounds: int, rng: random.Random) -> dict:
    from app.errors import DocumentNotFound, KnowledgeBaseNotFound
    from app.service import documents, kbs
    from ingest.cleanup import recover_data_dir
    from ingest.pipeline import ingest_bytes
    from testing.consistency import strays, visible_problems

    data = bench.work / f"kills-{op}"
    rt = bench.runtime(data)
    base = rt.open_or_create_kb("base")
    keep = [ingest_bytes(rt, base, f"keep-{i}.txt", text_file(data / "src", f"keep-{i}.txt", i).read_bytes())
            for i in range(3)]
    result = {"op": op, "rounds": 0, "killed": 0, "partial_visible": 0, "lost": 0, "strays": 0,
              "workers_left": 0, "not_finished_by_rerun": 0, "notes": []}
    duration = None
    for r in range(rounds + 1):  # round 0 runs unkilled: it measures the command's duration
        folder = data / f"round-{r}"
        if op == "ingest":
            for i in range(6):
                text_file(folder, f"r{r}-{i}.txt", 1000 * (r + 1) + i)  # seeds of no other file
            argv = ["ingest", str(folder), "--kb", "base"]
        elif op == "delete":
            target = text_file(folder, f"target-{r}.txt", 5000 + r)
            assert ingest_bytes(rt, base, target.name, target.read_bytes()).ok
            argv = ["delete", target.name, "--kb", "base"]
        else:
            kb = rt.open_or_create_kb(f"drop-{r}")
            for i in range(2):
                data_i = text_file(folder, f"d{i}.txt", 9000 + 10 * r + i).read_bytes()
                assert ingest_bytes(rt, kb, f"d{i}.txt", data_i).ok
            argv = ["drop", "--kb", f"drop-{r}"]
        rt.close()
        started = time.monotonic()
        proc = cli(data, *argv)
        if duration is None:
            out, err = proc.communicate()
            result["unkilled_output"] = (out + err).strip().splitlines()[-8:]
            duration = time.monotonic() - started
            result["unkilled_s"] = round(duration, 2)
            killed = False
        else:
            killed = kill_round(proc, rng.uniform(0.2, duration * 1.1))
            result["rounds"] += 1
            result["killed"] += killed
        result["workers_left"] += workers_left(proc)

        rt = bench.runtime(data)  # "after restart"
        base = rt.open_kb("base")
        problems = visible_problems(rt)
        # every listed knowledge base (a half-dropped one included, if listed) has every listed document whole
        partial = [d.name for kb_ in rt.catalog.list_kbs() for d in rt.catalog.documents(kb_) if not whole(rt, kb_, d)]
        names = {d.name for d in rt.catalog.documents(base)}
        lost = [k.name for k in keep if k.name not in names]
        if problems or partial:
            result["partial_visible"] += 1
            result["notes"].append(f"round {r}: partial {problems + partial}")
        if lost:
            result["lost"] += 1
            result["notes"].append(f"round {r}: lost {lost}")
        # the same command again, in-process, must finish the job
        if op == "ingest":
            outcomes = list(documents.ingest_files(rt, "base", [folder]))
            listed = {d.name for d in rt.catalog.documents(base)}
            finished = all(o.ok for o in outcomes) and all(f"r{r}-{i}.txt" in listed for i in range(6))
        elif op == "delete":
            try:
                documents.delete(rt, "base", f"target-{r}.txt")
            except DocumentNotFound:
                pass
            finished = f"target-{r}.txt" not in {d.name for d in rt.catalog.documents(base)}
        else:
            try:
                kbs.drop(rt, f"drop-{r}")
            except KnowledgeBaseNotFound:
                with rt.lock.write():
                    recover_data_dir(rt)  # what the next writer of any kind does
            finished = f"drop-{r}" not in kbs.names(rt)
        result["not_finished_by_rerun"] += not finished
        if not finished:
            detail = [o.summary() for o in outcomes] if op == "ingest" else []
            result["notes"].append(f"round {r}: the command run again did not finish it {detail}")
        left = strays(rt)
        if left:
            result["strays"] += 1
            result["notes"].append(f"round {r}: strays {left}")
    rt.close()
    return result


# ---- hostile files -----------------------------------------------------------------------------------------


def run_hostile(bench: Bench) -> dict:
    from app.errors import IngestError
    from ingest.limits import read_file
    from ingest.parse import ParseFailure, ParseTask
    from ingest.pipeline import document_id
    from testing.hostile import write_good, write_hostile

    folder, outside = bench.work / "hostile", bench.work / "outside"
    cases = write_hostile(folder, outside)
    good = write_good(folder)
    settings = load_settings(data_dir=bench.work / "hostile-data", rerank_backend="off")
    rt = Runtime(settings, embedder=bench.embedder)
    rows = []
    for name, path in cases:
        started = time.monotonic()
        if path.is_symlink():  # `kb ingest` decides about links before reading: see its column
            rows.append({"file": name, "message": "(a symbolic link)", "seconds": 0.0, "peak_rss_mb": None})
            continue
        try:
            data = read_file(path, settings.max_file_mb * 2**20)
        except IngestError as exc:
            rows.append({"file": name, "message": str(exc), "seconds": round(time.monotonic() - started, 3),
                         "peak_rss_mb": None})
            continue
        [res] = rt.parser.parse_many([ParseTask(path.name, data, document_id(data))])
        message = res.message if isinstance(res, ParseFailure) else f"parsed: {len(res.chunks)} chunks"
        rows.append({"file": name, "message": message, "seconds": round(res.seconds, 2),
                     "peak_rss_mb": round(res.peak_rss / 2**20)})
    rt.close()
    # the same files, and the good ones, in one `kb ingest` batch
    started = time.monotonic()
    proc = cli(bench.work / "hostile-data", "ingest", str(folder), "/dev/zero", str(outside / "sparse-9gib.txt"),
               "--kb", "hostile")
    out, err = proc.communicate()
    lines = out.splitlines()
    by_name = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines if ": " in line}
    for row in rows:
        row["kb ingest"] = by_name.get(one_line(Path(row["file"]).name), "")
    return {
        "files": rows,
        "batch": {"exit_status": proc.returncode, "seconds": round(time.monotonic() - started, 1),
                  "lines": len(lines), "traceback": "Traceback" in out + err,
                  "good_added": sum(by_name.get(g, "").startswith("added") for g in good), "good": len(good),
                  "stderr_tail": err.strip().splitlines()[-3:]},
    }


# ---- a long-lived reader ------------------------------------------------------------------------------------


def run_reader(bench: Bench) -> dict:
    data = bench.work / "reader"
    for i in range(4):
        text_file(data / "seed", f"s{i:02d}.txt", 700 + i)
    assert cli(data, "ingest", str(data / "seed"), "--kb", "live").wait() == 0
    out, stop = data / "reader.json", data / "stop"
    env = {**os.environ, **ENV, "KB_DATA_DIR": str(data), "KB_READER_STOP": str(stop), "PYTHONPATH": str(ROOT)}
    reader = subprocess.Popen([sys.executable, "-m", "testing.reader_loop", "live", "900", str(out)], cwd=ROOT,
                              env=env)
    time.sleep(15)
    writes = 0
    started = time.monotonic()
    for r in range(4):
        for i in range(4):
            text_file(data / f"w{r}", f"w{r}-{i}.txt", 800 + 10 * r + i)
        writes += cli(data, "ingest", str(data / f"w{r}"), "--kb", "live").wait() == 0
        writes += cli(data, "delete", f"s{r:02d}.txt", "--kb", "live").wait() == 0
    stop.touch()
    reader.wait(timeout=300)
    counts = json.loads(out.read_text())
    counts.update(writer_commands=8, writer_commands_ok=writes, writing_s=round(time.monotonic() - started, 1))
    return counts


# ---- small files --------------------------------------------------------------------------------------------


def run_small(bench: Bench, n: int, baseline: Path | None) -> dict:
    folder = bench.work / "small"
    for i in range(n):
        text_file(folder, f"doc{i:04d}.txt", 20_000 + i)
    out = {}
    for label, root in [("this branch", ROOT), *([("baseline", baseline)] if baseline else [])]:
        data = bench.work / f"small-data-{label.replace(' ', '-')}"
        started = time.monotonic()
        proc = cli(data, "ingest", str(folder), "--kb", "small", root=root)
        stdout, _ = proc.communicate()
        seconds = time.monotonic() - started
        out[label] = {"root": str(root), "files": n, "seconds": round(seconds, 1),
                      "per_file_s": round(seconds / n, 3), "exit_status": proc.returncode,
                      "added": sum(": added" in line for line in stdout.splitlines())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sections", default="kills,hostile,reader")
    parser.add_argument("--small-files", type=int, default=0)
    parser.add_argument("--baseline-root", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    sections = set(args.sections.split(",")) if args.sections else set()
    rng = random.Random(args.seed)
    report: dict = {"rounds": args.rounds, "cpus": os.cpu_count()}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kb-reliability-") as tmp:
        bench = Bench(Path(tmp))
        if "kills" in sections:
            report["kills"] = [run_kills(bench, op, args.rounds, rng) for op in ("ingest", "delete", "drop")]
            print("\nkill -9 rounds")
            print(f"{'command':8} {'rounds':>6} {'killed':>6} {'partial':>7} {'lost':>4} {'strays':>6} "
                  f"{'workers left':>12} {'unfinished':>10} {'unkilled s':>10}")
            for k in report["kills"]:
                print(f"{k['op']:8} {k['rounds']:>6} {k['killed']:>6} {k['partial_visible']:>7} {k['lost']:>4} "
                      f"{k['strays']:>6} {k['workers_left']:>12} {k['not_finished_by_rerun']:>10} "
                      f"{k['unkilled_s']:>10}")
                for note in k["notes"][:5]:
                    print("   ", note)
        if "hostile" in sections:
            report["hostile"] = run_hostile(bench)
            print("\nhostile files (each alone through the parse workers; then all in one kb ingest batch)")
            for row in report["hostile"]["files"]:
                rss = "-" if row["peak_rss_mb"] is None else f"{row['peak_rss_mb']} MB"
                print(f"{row['file']!r:32} {row['seconds']:>7.2f} s {rss:>8}  {row['message']}")
            print("batch:", json.dumps(report["hostile"]["batch"]))
        if "reader" in sections:
            report["reader"] = run_reader(bench)
            print("\nlong-lived reader:", json.dumps(report["reader"]))
        if args.small_files:
            report["small_files"] = run_small(bench, args.small_files, args.baseline_root)
            print("\nsmall files:", json.dumps(report["small_files"]))
    report["seconds"] = round(time.monotonic() - started, 1)
    print(f"\ntotal {report['seconds']} s")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
