"""Exact dense retrieval at 10k, 100k and 1M chunks: where flat search passes the latency budget, which
sets `rag.dense.IVFPQ_THRESHOLD` (the compressed index above it is measured by `python -m bench cluster`).

The vectors are synthetic, shaped like sentence embeddings rather than uniform noise: unit vectors
scattered around one topic centre per hundred chunks (a story and its copies), noise as large as the
centre, so same-topic neighbours have a cosine near 0.5 and other topics near 0. Queries are fresh
draws from the same topics. Latency is one query at a time, as `ask` searches.

    python -m bench.retrieval [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.common import Figure, percentile, print_table, timed

SIZES = (10_000, 100_000, 1_000_000)
DIM = 384  # all-MiniLM-L6-v2
QUERIES = 100
K = 10
CHUNKS_PER_TOPIC = 100
NOISE = 1.0
BUDGET_MS = 50.0  # the goal for a search at 1M chunks


def synthetic(n: int, topics: np.ndarray, rng: np.random.Generator, block: int = 100_000) -> np.ndarray:
    """n unit vectors around randomly chosen topic centres, built in blocks to bound the scratch memory."""
    out = np.empty((n, topics.shape[1]), dtype=np.float32)
    for start in range(0, n, block):
        rows = min(block, n - start)
        noise = rng.standard_normal((rows, topics.shape[1]), dtype=np.float32) * (NOISE / np.sqrt(topics.shape[1]))
        x = topics[rng.integers(0, len(topics), rows)] + noise
        out[start : start + rows] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_index(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def search_times(index, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Per-query latency in ms and the ids found, one query per call."""
    latencies, found = [], np.empty((len(queries), K), dtype=np.int64)
    for row, query in enumerate(queries):
        seconds, (_, ids) = timed(index.search, query.reshape(1, -1), K)
        latencies.append(seconds * 1000)
        found[row] = ids[0]
    return latencies, found


def index_mib(index) -> float:
    import faiss

    return faiss.serialize_index(index).nbytes / 2**20


def measure(n: int, rng: np.random.Generator) -> dict:
    topics = rng.standard_normal((max(1, n // CHUNKS_PER_TOPIC), DIM), dtype=np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    vectors, queries = synthetic(n, topics, rng), synthetic(QUERIES, topics, rng)
    build_s, index = timed(exact_index, vectors)
    latencies, _ = search_times(index, queries)
    result = {
        "n": n,
        "build_s": build_s,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "mib": index_mib(index),
    }
    print(f"  {n:>9,} exact built in {build_s:6.1f} s, p50 {result['p50_ms']:7.2f} ms", flush=True)
    return result


def crossover(results: list[dict]) -> float:
    """Chunks at which exact search reaches the latency budget: a least-squares line through the
    measured p50s (flat search reads every vector, so its time grows linearly)."""
    sizes = np.array([r["n"] for r in results], dtype=float)
    p50 = np.array([r["p50_ms"] for r in results])
    slope, intercept = np.polyfit(sizes, p50, 1) if len(sizes) > 1 else (p50[0] / sizes[0], 0.0)
    return (BUDGET_MS - intercept) / slope


def run(sizes=SIZES, seed: int = 0) -> list[Figure]:
    from rag.dense import IVFPQ_THRESHOLD

    rng = np.random.default_rng(seed)
    figures = []
    results = []
    for n in sizes:
        r = measure(n, rng)
        results.append(r)
        at = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        figures += [
            Figure("retrieval", f"{at} exact (IndexFlatIP) build", r["build_s"], "s"),
            Figure("retrieval", f"{at} exact p50", r["p50_ms"], "ms"),
            Figure("retrieval", f"{at} exact p95", r["p95_ms"], "ms"),
            Figure("retrieval", f"{at} exact index memory", r["mib"], "MiB"),
            Figure("retrieval", f"{at} automatic choice", "ivfpq" if n >= IVFPQ_THRESHOLD else "exact"),
        ]
    figures.append(Figure("retrieval", f"exact search reaches {BUDGET_MS:g} ms at", crossover(results), "chunks"))
    figures.append(Figure("retrieval", "IVFPQ_THRESHOLD in rag/dense.py", IVFPQ_THRESHOLD, "chunks"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    print_table(run(tuple(parser.parse_args().sizes)))


if __name__ == "__main__":
    main()
