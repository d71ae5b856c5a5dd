"""Freshness check on a large unchanged corpus: what a question does before it loads the index (read the
manifest, list the corpus with one `stat` per file, hash only the files whose size or modification time
changed, compare). The files are small synthetic articles; the manifest is written as a build records it.

    python -m bench.freshness [--files 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from statistics import median

from bench.common import Figure, print_table, scratch, timed

FILES = 100_000
ROUNDS = 3
GOAL_SECONDS = 0.3


class _NamedOnly:
    """The freshness check reads only the embedder's name."""

    name = "bench-embedder"
    dim = 1


def check(corpus, index_dir) -> list[str]:
    from rag.chunking import ChunkSettings
    from rag.index import current_corpus, read_manifest, stale_reasons

    manifest = read_manifest(index_dir)
    return stale_reasons(manifest, current_corpus(corpus, manifest), _NamedOnly(), ChunkSettings())


def run(files: int = FILES, rounds: int = ROUNDS) -> list[Figure]:
    from dataclasses import asdict

    from rag.chunking import ChunkSettings
    from rag.index import Manifest, corpus_table, list_corpus, write_manifest

    with scratch() as tmp:
        corpus = tmp / "corpus"
        for n in range(files):
            folder = corpus / f"{n // 1000:03d}"
            if n % 1000 == 0:
                folder.mkdir(parents=True)
            (folder / f"{n:06d}.txt").write_text(f"Article {n}. A sentence of news about item {n}.\n")
        hash_seconds, table = timed(corpus_table, list_corpus(corpus), None)
        manifest = Manifest("bench-embedder", 1, asdict(ChunkSettings()), table)
        (tmp / "index" / "current").mkdir(parents=True)
        write_manifest(tmp / "index" / "current", manifest)
        seconds, cpu_seconds = [], []
        for _ in range(rounds):
            cpu = time.process_time()
            elapsed, reasons = timed(check, corpus, tmp / "index")
            cpu_seconds.append(time.process_time() - cpu)
            assert not reasons, reasons
            seconds.append(elapsed)
    return [
        Figure("freshness", "unchanged corpus files", files),
        Figure("freshness", "hashing every file (what `rag index` does)", hash_seconds, "s"),
        Figure("freshness", f"check by stat, wall (median of {rounds})", median(seconds), "s", ("<=", GOAL_SECONDS)),
        Figure("freshness", f"check by stat, CPU (median of {rounds})", median(cpu_seconds), "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print_table(run(args.files, args.rounds))


if __name__ == "__main__":
    main()
