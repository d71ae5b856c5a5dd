"""The `rag` command: a thin layer over the Python API. User mistakes print one line, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap

from . import answer as api
from .errors import RagError
from .index import DEFAULT_CORPUS
from .text import format_table

# --corpus, here and in app.py: a corpus other than the index's is refused (`rag.index.built_from`).
CORPUS_HELP = f"article files (.txt, .md, .html); default: the index's own, {DEFAULT_CORPUS} for a new index"


def _add_common(parser: argparse.ArgumentParser, *, model: bool = True, evaluate: bool = False) -> None:
    parser.add_argument(
        "--corpus",
        default=None,
        metavar="DIR",
        help=CORPUS_HELP,
    )
    parser.add_argument(
        "--index", default=api.DEFAULT_INDEX, metavar="DIR", help="index directory; default: %(default)s"
    )
    if model:
        parser.add_argument(
            "--k", type=int, default=api.DEFAULT_K, metavar="N", help="passages to retrieve; default: %(default)s"
        )
        parser.add_argument(
            "--model",
            default=None,
            metavar="NAME|PATH",
            help="a model that scores the candidate answers: smollm2, gemma3-270m, extractive (none), or a .gguf file",
        )
        parser.add_argument(
            "--as-of",
            default=None,
            metavar="YYYY-MM-DD",
            help="the day the question is asked: later articles are left out, and 'this week' means the week "
            "before it; default: today" + (" (for lines without an `as_of` field)" if evaluate else ""),
        )
    parser.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Offline question answering over news articles, with cited passages and a numeric guard.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="build or update the index of the corpus")
    index.add_argument(
        "--ray",
        default=os.environ.get("RAG_RAY_ADDRESS"),
        metavar="ADDRESS",
        help='read, chunk and embed on a Ray cluster: "auto" joins the one this machine belongs to, HOST:PORT '
        'another, "local" starts one here (needs pip install -e ".[cluster]"); default: $RAG_RAY_ADDRESS',
    )
    _add_common(index, model=False)
    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    _add_common(ask)
    evaluate = commands.add_parser("eval", help="score the system on a question set (JSON lines)")
    evaluate.add_argument("file", metavar="FILE.jsonl")
    _add_common(evaluate, evaluate=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    log = logging.getLogger("rag")
    log.addHandler(handler)  # our warnings only; libraries' chatter stays quiet
    try:
        return {"index": run_index, "ask": run_ask, "eval": run_eval}[args.command](args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output left (`rag ask … | head -1`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush stays quiet too
        return 0
    finally:
        log.removeHandler(handler)  # called again in one process (tests, scripts): warn once, to today's stderr


def run_index(args) -> int:
    report = api.build_index(
        args.corpus, args.index, progress=not args.json and sys.stderr.isatty(), ray_address=args.ray
    )
    summary = {
        "index": str(report.index.directory),
        **report.index.status(),
        "embedded": report.embedded,
        "reused": report.reused,
        "removed": report.removed,
        "skipped": report.skipped,
        "seconds": round(report.seconds, 3),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"indexed {summary['documents']} documents of {summary['corpus']} as {summary['chunks']} chunks in {args.index} "
            f"(embedded {len(report.embedded)}, reused {len(report.reused)}, removed {len(report.removed)}, skipped {len(report.skipped)}) "
            f"in {report.seconds:.1f} s"
        )
    return 0


def run_ask(args) -> int:
    result = api.ask(
        args.question, k=args.k, model=args.model, index_dir=args.index, corpus_dir=args.corpus, as_of=args.as_of
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_answer(result))
    return 0


def run_eval(args) -> int:
    from .evaluation import evaluate, format_report

    report = evaluate(
        args.file, k=args.k, model=args.model, index_dir=args.index, corpus_dir=args.corpus, as_of=args.as_of
    )
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0


def format_answer(result: api.Answer) -> str:
    """The short answer, the answer with its quote, the guard's table when sources disagree, and the
    numbered sources with their quotes."""
    lines = ([f"Answer: {result.headline}", ""] if result.short else []) + [
        textwrap.fill(paragraph, 100) for paragraph in result.text.split("\n\n")
    ]
    guard = result.guard
    if guard.conflicts:
        lines += ["", "Sources disagree:"]
        rows = [("value", "outlet", "cite", "source file")] + [
            (row.text, row.outlet or "?", f"[{row.n}]" if row.n else "-", row.source) for row in guard.values
        ]
        lines += format_table(rows, indent="  ")
        lines += [f"  {c.description}" for c in guard.conflicts]
    if guard.unsupported:
        lines += ["", f"Guard: the answer states {', '.join(guard.unsupported)}, which no cited passage says."]
    if result.citations:
        lines += ["", "Sources:"]
        for c in result.citations:
            lines.append(
                f"  [{c.n}] {c.label}, {c.date or 'undated'}: {c.title or c.source} ({c.source}, characters {c.start}-{c.end})"
            )
            lines.append(textwrap.fill(f'"{c.quote}"', 100, initial_indent="      ", subsequent_indent="      "))
    elif result.abstained and result.passages:
        lines += ["", "Closest passages (none answers the question):"]
        lines += [
            f"  - {p.label}, {p.date or 'undated'} ({p.source}): {textwrap.shorten(p.text, 90)}"
            for p in result.passages[:3]
        ]
    lines += [
        "",
        f"[guard: {guard.status} | answer: {result.mode} | model: {result.models['generator']} | "
        f"as of {result.as_of} | {result.timings['total_s']:.2f} s]",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
