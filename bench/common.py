"""What every benchmark part shares: figures with their goals, timing and memory readings, the machine,
and scratch copies of the seed corpus (benchmarks never write into the repository's index/)."""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from rag.text import format_table as text_table

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QA = ROOT / "eval" / "seed_qa.jsonl"
# Header lines of a seed article (site furniture, date, title, byline) that variants keep in place,
# so the outlet and date are still found; the paragraphs after them are shuffled.
HEADER_LINES = 8


@dataclass(frozen=True)
class Figure:
    """One measured figure; `goal` is (">=" or "<=", bound) when the issue sets one."""

    part: str
    name: str
    value: float | str | None
    unit: str = ""
    goal: tuple[str, float] | None = None

    @property
    def met(self) -> str:
        if self.goal is None or not isinstance(self.value, (int, float)):
            return ""
        op, bound = self.goal
        return "yes" if (self.value >= bound if op == ">=" else self.value <= bound) else "NO"

    def cells(self) -> list[str]:
        value = (
            self.value
            if not isinstance(self.value, float)
            else f"{self.value:.4g}"
            if abs(self.value) < 1e5
            else f"{self.value:,.0f}"
        )
        goal = f"{self.goal[0]} {self.goal[1]:g}" if self.goal else ""
        return [self.part, self.name, f"{'-' if value is None else value} {self.unit}".strip(), goal, self.met]


def format_table(figures: list[Figure], *, markdown: bool = False) -> str:
    """Aligned columns for a terminal, or a markdown table for bench/RESULTS.md."""
    rows = [["part", "figure", "value", "goal", "met"]] + [f.cells() for f in figures]
    if markdown:
        return "\n".join("| " + " | ".join(row) + " |" for row in rows[:1] + [["---"] * 5] + rows[1:])
    return "\n".join(text_table(rows, rule=True))


def print_table(figures: list[Figure]) -> None:
    print(format_table(figures))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def rate(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def timed(function: Callable, *args, **kwargs) -> tuple[float, object]:
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - began, result


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (VmHWM)."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def machine() -> dict:
    """Cores, CPU model, load and library versions: what the figures depend on."""
    with open("/proc/cpuinfo") as handle:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), platform.processor()
        )
    versions = {}
    for package in ("faiss-cpu", "torch", "sentence-transformers", "llama-cpp-python", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **versions,
    }


def seed_questions() -> list[dict]:
    return [json.loads(line) for line in SEED_QA.read_text(encoding="utf-8").splitlines() if line.strip()]


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary directory removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def copy_seeds(target: Path) -> Path:
    shutil.copytree(SEEDS, target)
    return target


def variant_corpus(target: Path, articles: int, seed: int = 0) -> Path:
    """`articles` distinct files made from the seed articles by shuffling their paragraphs: a corpus
    big enough to time embedding, whose chunks read like the real ones."""
    rng = random.Random(seed)
    originals = sorted(SEEDS.iterdir())
    target.mkdir(parents=True)
    for n in range(articles):
        lines = originals[n % len(originals)].read_text(encoding="utf-8").splitlines()
        header, paragraphs = (
            lines[:HEADER_LINES],
            [p for p in "\n".join(lines[HEADER_LINES:]).split("\n\n") if p.strip()],
        )
        rng.shuffle(paragraphs)
        (target / f"{n:05d}_variant.txt").write_text(
            "\n".join(header) + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8"
        )
    return target
