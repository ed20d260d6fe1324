"""`kb`: the command line. A thin layer: parse flags, call app/ and ingest/, print.

Domain errors become one-line messages here and nowhere else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

from app.config import RECALL_MODES, SECRET_SETTINGS, describe_settings, load_settings
from app.display import one_line
from app.errors import KBError
from app.evaluate import METHODS
from app.runtime import Runtime

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# held-out pairs on which `kb rerank-fp8` compares the fp8 model's scores with the original's
FP8_CHECK_PROMPTS = 64


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.run(args)
    except KBError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        from app import cli_backend

        cli_backend.close_runtimes()


def _quiet_libraries() -> None:
    """stdout is for results (`--json` is parsed by scripts): library logs go to stderr, warnings only."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # pypdf logs what it tolerates in a damaged file; the ingest summary line already says what failed.
    logging.getLogger("pypdf").setLevel(logging.ERROR)


def _runtime() -> Runtime:
    from app import cli_backend
    from app.rerank.service import keep_caches_in

    settings = load_settings()
    keep_caches_in(settings.data_dir)
    return cli_backend.runtime(settings)


def cmd_ingest(args) -> int:
    from app import cli_backend
    from app.progress import TerminalProgress

    failed = 0
    bars = TerminalProgress()
    outcomes = cli_backend.ingest(
        load_settings(), args.kb, [Path(p) for p in args.paths], bars.for_group, follow_symlinks=args.follow_symlinks
    )
    try:
        for outcome in outcomes:
            bars.close()
            print(outcome["summary"], flush=True)
            failed += outcome["status"] == "failed"
    finally:
        bars.close()
    return 1 if failed else 0


def cmd_search(args) -> int:
    from app import cli_backend

    result = cli_backend.search(
        load_settings(), args.kb, args.question, instruction=args.instruction, top=args.top, recall=args.recall,
        recall_mode=args.recall_mode, no_rerank=args.no_rerank,
    )  # the running app's answer, or this process's: the same JSON shape either way
    if result["rerank_note"]:
        print(f"note: {result['rerank_note']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result["hits"], ensure_ascii=False, indent=2))
        return 0
    if not result["hits"]:
        print("no results")
    for hit in result["hits"]:
        where = "" if hit["page"] is None else f"  p. {hit['page']}"
        moved = f"  (recall #{hit['recall_rank']})" if hit["reranked"] else ""
        print(f"{hit['rank']}. {hit['score']:.4f}  {hit['doc']}{where}{moved}")
        print(textwrap.indent(textwrap.fill(hit["text"], width=100), "   "))
        print()
    print(_timings(result["timings"]), file=sys.stderr)
    return 0


def _timings(timings: dict[str, float]) -> str:
    """'recall 0.024 s, rerank 0.310 s'."""
    return ", ".join(f"{stage.removesuffix('_s')} {seconds:.3f} s" for stage, seconds in timings.items())


def cmd_list(args) -> int:
    from app import cli_backend

    if args.kb:
        for d in cli_backend.documents(load_settings(), args.kb):
            pages = "-" if d["pages"] is None else d["pages"]
            print(f"{one_line(d['name'])}\tpages={pages}\tchunks={d['chunks']}\tbytes={d['size']}\t"
                  f"id={d['doc_id'][:12]}")
        return 0
    summaries = cli_backend.kb_summaries(load_settings())
    if not summaries:
        print("no knowledge bases yet: `kb ingest PATH --kb NAME` creates one")
    for kb in summaries:
        model = f"{kb['embed_model']} ({kb['embed_dim']}-d)"
        print(f"{one_line(kb['name'])}\tdocuments={kb['documents']}\tchunks={kb['chunks']}\tmodel={model}")
    return 0


def cmd_delete(args) -> int:
    from app import cli_backend

    doc = cli_backend.delete(load_settings(), args.kb, args.doc)
    print(one_line(f"deleted {doc['name']} ({doc['chunks']} chunks) from {args.kb}"))
    return 0


def cmd_drop(args) -> int:
    from app.service import kbs

    kbs.drop(_runtime(), args.kb)
    print(one_line(f"dropped knowledge base {args.kb}"))
    return 0


def cmd_reindex(args) -> int:
    from app.service import kbs

    rt = _runtime()
    failed = 0
    for outcome in kbs.reindex(rt, args.kb):
        print(outcome.summary(), flush=True)
        failed += not outcome.ok
    print(f"re-indexed {args.kb} with {rt.settings.embed_model}")
    return 1 if failed else 0


def cmd_eval(args) -> int:
    from app.evaluate import evaluate

    rt = _runtime()
    report = evaluate(rt, Path(args.dir), [args.method], k=args.k, progress=_stderr_progress)[0]
    if args.json:
        print(json.dumps(report.as_json()))
        return 0
    print(f"{Path(args.dir).name}  method={report.method}  queries={report.queries}")
    print(f"nDCG@10 {report.ndcg_at_10:.4f}  Recall@100 {report.recall_at_100:.4f}  MRR@10 {report.mrr_at_10:.4f}")
    timing = f"ingest {report.ingest_seconds:.1f} s, queries {report.seconds:.1f} s"
    print(f"{report.queries_per_s:.1f} queries/s  ({timing})")
    return 0


def cmd_rerank_fp8(args) -> int:
    from transformers import AutoTokenizer

    from app.errors import InvalidInput
    from app.rerank.fp8_static import calibration_pairs, pair_prompts, quantize_fp8_static
    from app.rerank.service import default_model, locate_model
    from app.service import kbs

    rt = _runtime()
    texts, instructions = kbs.calibration_inputs(rt, args.kb)
    if len(texts) < 2:
        raise InvalidInput(f"{args.kb} has {len(texts)} chunks: ingest documents to calibrate on first")
    out = Path(args.out)
    if out.exists():
        raise InvalidInput(f"{out} already exists; choose a new directory")
    model = locate_model(args.model or rt.settings.rerank_model or default_model())
    pairs = calibration_pairs(texts, args.prompts + FP8_CHECK_PROMPTS, seed=0)
    prompts = pair_prompts(AutoTokenizer.from_pretrained(model), pairs, rt.settings.max_doc_tokens, instructions)
    held_out = min(FP8_CHECK_PROMPTS, len(prompts) // 5)
    print(f"calibrating {model} on {len(prompts) - held_out} pairs from {args.kb}", file=sys.stderr)
    report = quantize_fp8_static(Path(model), out, prompts[held_out:], prompts[:held_out])
    if report.spearman is not None:
        print(
            f"agreement with the original on {report.check_prompts} held-out pairs (fp8 emulated): "
            f"Spearman {report.spearman:.4f}, largest score change {report.max_abs_diff:.4f}"
        )
    print(f"wrote {out}; use it with KB_RERANK_MODEL={out.resolve()} (needs an NVIDIA GPU, Ada or Hopper)")
    return 0


def cmd_queries_list(args) -> int:
    from app.service import queries

    sets = queries.sets(_runtime(), args.kb)
    if args.json:
        print(json.dumps([vars(s) for s in sets], ensure_ascii=False))
        return 0
    if not sets:
        print(f"no query sets in {args.kb}: `kb queries import FILE --kb {args.kb} --set NAME` makes one")
    for s in sets:
        print(f"{s.name}\tqueries={s.queries}\tlabels={s.labels}")
    return 0


def cmd_queries_import(args) -> int:
    from app.service import queries

    n = queries.import_path(_runtime(), args.kb, args.set, Path(args.file))
    print(f"imported {n} labels into {args.set} ({args.kb})")
    return 0


def cmd_queries_export(args) -> int:
    from app.service import queries

    text = queries.export(_runtime(), args.kb, args.set, args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_compare(args) -> int:
    from app.service.evaluation import compare_configs
    from app.workbench.specs import parse_spec

    specs = [parse_spec(s) for s in (args.config or ["rerank=off", ""])]
    result = compare_configs(_runtime(), args.kb, args.set, specs, progress=_stderr_progress)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
        return 0
    report = result.report
    print(f"{args.set}: {len(report.queries)} queries, saved as run {result.run_id}")
    for c in report.configs:
        cells = "  ".join(f"{m} {c.mean[m]:.4f} [{c.ci[m][0]:.3f}, {c.ci[m][1]:.3f}]" for m in c.mean)
        print(f"{c.name or 'default'}: {cells}")
    for cmp in report.comparisons:
        print(
            f"{cmp.config} vs {cmp.baseline}: nDCG@10 {cmp.delta['ndcg@10']:+.4f}, p = {cmp.p_value:.4f}, "
            f"wins/ties/losses {cmp.wins}/{cmp.ties}/{cmp.losses}"
        )
    return 0


def cmd_tune(args) -> int:
    from app.service import tuning

    rt = _runtime()
    the_plan = tuning.plan(rt, args.kb, args.set)
    eta = "unknown until the reranker has scored" if the_plan.estimated_s is None else f"~{the_plan.estimated_s:.0f} s"
    print(
        f"{len(the_plan.candidates)} candidate instructions on {len(the_plan.tune_queries)} tuning and "
        f"{len(the_plan.held_out_queries)} held-out queries: up to {the_plan.reranker_pairs} reranker pairs, {eta}",
        file=sys.stderr,
    )
    result = tuning.tune(rt, args.kb, the_plan, progress=_stderr_progress)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
        return 0
    for candidate, ndcg in result.tuning[:10]:
        print(f"{ndcg:.4f}  {candidate.label}: {candidate.instruction}")
    print(result.verdict)
    return 0


def _stderr_progress(stage: str, done: int, total: int) -> None:
    end = "\n" if done == total else ""
    print(f"\r{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)


def cmd_config(args) -> int:
    settings = load_settings()
    for var, default, doc in describe_settings():
        value = os.environ.get(var, "")
        value = "(set)" if value and var in SECRET_SETTINGS else value
        print(f"{var}={value!s:<20} default={default:<40} {doc}")
    print(f"# data dir in effect: {settings.data_dir.resolve()}")
    return 0


def cmd_serve(args) -> int:
    # Validated here, so an exposed API without KB_API_TOKEN refuses to start before anything runs.
    from app import signin

    settings = load_settings(api_host=args.api_address, api_port=args.api_port)
    # Beyond loopback only with sign-in (or --no-auth): checked on the very file Streamlit is told to read.
    secrets = Path(args.secrets or signin.default_secrets(PROJECT_ROOT)).resolve()
    signed_in = signin.check_exposure(args.address, secrets, args.no_auth)
    env = dict(os.environ, KB_DATA_DIR=str(settings.data_dir.resolve()))
    env.update(KB_API_HOST=settings.api_host, KB_API_PORT=str(settings.api_port))
    if args.no_auth and not signed_in:
        env[signin.NO_AUTH_ENV] = "1"  # every page shows a warning banner
    elif args.no_auth:
        print(f"note: sign-in is configured in {secrets}, so --no-auth changes nothing", file=sys.stderr)
    # app/serve.py: the pages of app/main.py, plus the REST API started with the server (see its docstring).
    command = [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "app" / "serve.py")]
    command += ["--server.port", str(args.port), "--server.address", args.address, "--secrets.files", str(secrets)]
    # Streamlit reads .streamlit/config.toml from the working directory: run it from the project root.
    # exec, not a child process: signals sent to `kb serve` (Ctrl-C, SIGTERM) reach Streamlit itself.
    os.chdir(PROJECT_ROOT)
    os.execve(sys.executable, command, env)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description="Knowledge-base search: ingest files, ask questions.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="add files and folders (recursively) to a knowledge base")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--kb", required=True, help="knowledge base name (created if missing)")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="in folders, follow links that lead outside them too (default: skip and report them)")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("search", help="ask a question")
    p.add_argument("question")
    p.add_argument("--kb", required=True)
    p.add_argument("--instruction", help="reranker instruction (default: general web search)")
    p.add_argument("--top", type=_positive, help="results to show (default KB_TOP_N)")
    p.add_argument("--recall", type=_positive, help="candidates to rerank (default KB_RECALL_K)")
    p.add_argument("--recall-mode", choices=RECALL_MODES, help="default KB_RECALL_MODE")
    p.add_argument("--no-rerank", action="store_true", help="recall order only")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=cmd_search)

    p = sub.add_parser("list", help="list knowledge bases, or the documents of one")
    p.add_argument("--kb")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("delete", help="delete a document (by file name or id)")
    p.add_argument("doc")
    p.add_argument("--kb", required=True)
    p.set_defaults(run=cmd_delete)

    p = sub.add_parser("drop", help="delete a whole knowledge base")
    p.add_argument("--kb", required=True)
    p.set_defaults(run=cmd_drop)

    p = sub.add_parser("reindex", help="re-embed a knowledge base with the configured KB_EMBED_MODEL")
    p.add_argument("--kb", required=True)
    p.set_defaults(run=cmd_reindex)

    p = sub.add_parser("eval", help="measure retrieval on a BEIR-format folder")
    p.add_argument("dir", help="folder with corpus.jsonl, queries.jsonl and qrels.tsv")
    p.add_argument("--method", choices=METHODS, default="hybrid")
    p.add_argument("--k", type=_positive, default=100, help="documents scored per query")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("queries", help="query sets with graded labels, for kb compare and kb tune")
    queries = p.add_subparsers(required=True, metavar="ACTION")
    q = queries.add_parser("list", help="the query sets of a knowledge base")
    q.add_argument("--kb", required=True)
    q.add_argument("--json", action="store_true")
    q.set_defaults(run=cmd_queries_list)
    q = queries.add_parser("import", help="labels from a CSV or JSONL file, or a BEIR folder")
    q.add_argument("file", help="CSV/JSONL with query, doc, grade (and page, quote), or a BEIR folder")
    q.add_argument("--kb", required=True)
    q.add_argument("--set", required=True, help="query set (created if missing)")
    q.set_defaults(run=cmd_queries_import)
    q = queries.add_parser("export", help="a query set as CSV or JSONL")
    q.add_argument("--kb", required=True)
    q.add_argument("--set", required=True)
    q.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    q.add_argument("--out", help="file to write (default: standard output)")
    q.set_defaults(run=cmd_queries_export)

    p = sub.add_parser("compare", help="compare configurations on a labelled query set")
    p.add_argument("--kb", required=True)
    p.add_argument("--set", required=True)
    p.add_argument(
        "--config", action="append", metavar="SPEC",
        help="e.g. 'recall=hybrid;rerank=off' or 'preset=HR handbook' (keys: rerank, preset, instruction (last), "
        "recall, k, top); repeat it; the first is the baseline (default: rerank=off against the KB default)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("tune", help="suggest an instruction: evaluate candidates, check the best on held-out queries")
    p.add_argument("--kb", required=True)
    p.add_argument("--set", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("rerank-fp8", help="write an fp8 copy of the reranker calibrated on a knowledge base")
    p.add_argument("out", help="new directory for the fp8 checkpoint")
    p.add_argument("--kb", required=True, help="knowledge base whose chunks calibrate the activation scales")
    p.add_argument("--model", help="reranker to convert (default KB_RERANK_MODEL)")
    p.add_argument("--prompts", type=_positive, default=256, help="calibration pairs (default 256)")
    p.set_defaults(run=cmd_rerank_fp8)

    p = sub.add_parser("config", help="show the settings and their environment variables")
    p.set_defaults(run=cmd_config)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--api-port", type=int, help="REST API port (default KB_API_PORT)")
    p.add_argument("--api-address", help="REST API address (default KB_API_HOST; beyond loopback needs KB_API_TOKEN)")
    p.add_argument("--secrets", help="Streamlit secrets file with the [auth] sign-in table "
                   "(default .streamlit/secrets.toml in the project)")
    p.add_argument("--no-auth", action="store_true",
                   help="allow a non-loopback --address without sign-in (every page then shows a warning)")
    p.set_defaults(run=cmd_serve)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


if __name__ == "__main__":
    sys.exit(main())
