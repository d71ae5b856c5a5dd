"""Cold start: a new process that answers one question (`rag ask`) on an index built beforehand,
for each model: wall time from spawn to exit, and the process's peak resident memory.

    python -m bench.coldstart [--models extractive smollm2 gemma3-270m]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench.common import ROOT, Figure, copy_seeds, print_table, scratch, seed_questions

MODELS = ("extractive", "smollm2", "gemma3-270m")


def spawn(arguments: list[str], log: Path) -> tuple[float, float, int]:
    """Run `python -m rag.cli ARGUMENTS` to the end: (seconds, peak RSS in MiB, exit code)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    output = [(os.POSIX_SPAWN_OPEN, fd, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for fd in (1, 2)]
    began = time.perf_counter()
    pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "rag.cli", *arguments], env, file_actions=output)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - began, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def outcome(part: str, name: str, seconds: float, code: int, log: Path) -> Figure:
    """The time taken, or the last line the process wrote when it failed."""
    if code == 0:
        return Figure(part, name, seconds, "s")
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return Figure(part, name, "failed: " + (lines[-1] if lines else f"exit code {code}"))


def run(models=MODELS) -> list[Figure]:
    from rag.models import DEFAULT_GENERATOR

    question = seed_questions()[0]["question"]
    figures = []
    with scratch() as tmp:
        where = ["--corpus", str(copy_seeds(tmp / "corpus")), "--index", str(tmp / "index")]
        log = tmp / "log.txt"
        seconds, _, code = spawn(["index", *where], log)
        figures.append(outcome("cold start", "rag index (seed corpus, new process)", seconds, code, log))
        for model in models:
            seconds, peak, code = spawn(["ask", question, "--model", model, "--json", *where], log)
            part = f"cold start {model}{' (default)' if model == DEFAULT_GENERATOR else ''}"
            figures.append(outcome(part, "new process to first answer", seconds, code, log))
            if code == 0:
                figures.append(Figure(part, "peak RSS", peak, "MiB"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    print_table(run(parser.parse_args().models))


if __name__ == "__main__":
    main()
