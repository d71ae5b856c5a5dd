"""Cold start: new processes that answer one question each (`rag ask`) on an index built beforehand, for
each model: median wall time from spawn to exit and the largest peak resident memory; the import time of
`rag.cli` in a new process; the CPU time (user + system) of each, which a loaded machine does not inflate.

    python -m bench.coldstart [--models extractive smollm2 gemma3-270m] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import median

from bench.common import ROOT, Figure, copy_seeds, print_table, scratch, seed_questions

MODELS = ("extractive", "smollm2", "gemma3-270m")
RUNS = 5
# The goals for a new-process `rag ask`: seconds (median) per model, and MiB on the default path.
GOAL_SECONDS = {"extractive": 1.5, "smollm2": 3.0}
GOAL_RSS_MIB = 600


def spawn(arguments: list[str], log: Path) -> tuple[float, float, int, float]:
    """Run `python ARGUMENTS` to the end: (seconds, peak RSS in MiB, exit code, CPU seconds)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    output = [(os.POSIX_SPAWN_OPEN, fd, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for fd in (1, 2)]
    began = time.perf_counter()
    pid = os.posix_spawn(sys.executable, [sys.executable, *arguments], env, file_actions=output)
    _, status, usage = os.wait4(pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - began, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), cpu


def failure(part: str, name: str, code: int, log: Path) -> Figure:
    """The last line the process wrote when it failed."""
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return Figure(part, name, "failed: " + (lines[-1] if lines else f"exit code {code}"))


def repeated(part: str, arguments: list[str], log: Path, runs: int, goal: float | None) -> list[Figure]:
    """Median wall and CPU time of `runs` new processes and their largest peak RSS."""
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        seconds, peak, code, cpu = spawn(arguments, log)
        if code != 0:
            return [failure(part, "new process", code, log)]
        walls.append(seconds)
        cpus.append(cpu)
        peaks.append(peak)
    return [
        Figure(part, f"new process, wall (median of {runs})", median(walls), "s", ("<=", goal) if goal else None),
        Figure(part, f"new process, CPU user+sys (median of {runs})", median(cpus), "s"),
        Figure(part, "peak RSS (largest)", max(peaks), "MiB"),
    ]


def run(models=MODELS, runs: int = RUNS) -> list[Figure]:
    from rag.models import DEFAULT_GENERATOR

    question = seed_questions()[0]["question"]
    figures = repeated("import rag.cli", ["-c", "import rag.cli"], Path(os.devnull), runs, None)
    with scratch() as tmp:
        where = ["--corpus", str(copy_seeds(tmp / "corpus")), "--index", str(tmp / "index")]
        log = tmp / "log.txt"
        seconds, _, code, _ = spawn(["-m", "rag.cli", "index", *where], log)
        name = "rag index, seed corpus, new process (exports the embedder to ONNX once)"
        figures.append(
            Figure("cold start", name, seconds, "s") if code == 0 else failure("cold start", name, code, log)
        )
        for model in models:
            default = model == DEFAULT_GENERATOR
            part = f"cold start {model}{' (default)' if default else ''}"
            found = repeated(
                part,
                ["-m", "rag.cli", "ask", question, "--model", model, "--json", *where],
                log,
                runs,
                GOAL_SECONDS.get(model),
            )
            if default and len(found) == 3:
                found[2] = Figure(part, found[2].name, found[2].value, "MiB", ("<=", GOAL_RSS_MIB))
            figures += found
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    print_table(run(args.models, args.runs))


if __name__ == "__main__":
    main()
