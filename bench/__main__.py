"""Run the benchmark parts in one process and print one table of figures, ratios and goals.

`python -m bench train-reader [--write] ...` instead retrains the reader's ranker (bench/train_reader.py), and
`python -m bench model-vote --model NAME [--write]` learns how much a model's vote weighs (bench/model_vote.py)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench import (
    ask,
    cluster,
    coldstart,
    embedding,
    freshness,
    guard_pairs,
    model_vote,
    retrieval,
    scoring,
    train_reader,
)
from bench.common import Figure, format_table, machine, peak_rss_mib

# Cheapest first; retrieval and cluster last: they hold millions of vectors.
PARTS = {
    "coldstart": coldstart.run,
    "freshness": freshness.run,
    "embedding": embedding.run,
    "scoring": scoring.run,
    "ask": ask.run,
    "guard-pairs": guard_pairs.run,
    "retrieval": retrieval.run,
    "cluster": cluster.run,
}


def main() -> None:
    if sys.argv[1:2] == ["train-reader"]:
        print(format_table(train_reader.run(sys.argv[2:])))
        return
    if sys.argv[1:2] == ["model-vote"]:
        print(format_table(model_vote.run(sys.argv[2:])))
        return
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PARTS)}; default: all")
    parser.add_argument(
        "--markdown", action="store_true", help="print the final table as markdown (for bench/RESULTS.md)"
    )
    args = parser.parse_args()
    if unknown := sorted(set(args.parts) - set(PARTS)):
        parser.error(f"unknown part {', '.join(unknown)}: choose from {', '.join(PARTS)}")
    print(" | ".join(f"{key}: {value}" for key, value in machine().items()), flush=True)
    began = time.perf_counter()
    figures: list[Figure] = []
    for name in args.parts or PARTS:
        print(f"== {name}", flush=True)
        mark = time.perf_counter()
        found = PARTS[name]()
        print(format_table(found), flush=True)
        figures += found + [Figure(name, "part took", time.perf_counter() - mark, "s")]
    figures += [
        Figure("bench", "peak RSS of this process", peak_rss_mib(), "MiB"),
        Figure("bench", "total time", time.perf_counter() - began, "s"),
    ]
    print("\n== all parts, load average now " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(format_table(figures, markdown=args.markdown))


if __name__ == "__main__":
    main()
