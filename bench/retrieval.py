"""Dense retrieval at 10k, 100k and 1M chunks: exact flat search against the HNSW index that
`rag.index.make_dense_index` builds above `HNSW_THRESHOLD`, with HNSW's recall@10 against exact.

The vectors are synthetic, shaped like sentence embeddings rather than uniform noise: unit vectors
scattered around one topic centre per hundred chunks (a story and its copies), noise as large as the
centre, so same-topic neighbours have a cosine near 0.5 and other topics near 0. Queries are fresh
draws from the same topics. Latency is one query at a time, as `ask` searches.

    python -m bench.retrieval [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import gc
from unittest import mock

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


def dense_index(vectors: np.ndarray, *, approximate: bool):
    """The index `make_dense_index` builds, with the size threshold moved to force one kind or the other."""
    from rag import index

    with mock.patch.object(index, "HNSW_THRESHOLD", 0 if approximate else len(vectors) + 1):
        return index.make_dense_index(vectors)


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


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact)]))


def measure(n: int, rng: np.random.Generator) -> dict:
    topics = rng.standard_normal((max(1, n // CHUNKS_PER_TOPIC), DIM), dtype=np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    vectors, queries = synthetic(n, topics, rng), synthetic(QUERIES, topics, rng)
    result = {"n": n}
    for kind, approximate in (("exact", False), ("hnsw", True)):
        build_s, index = timed(dense_index, vectors, approximate=approximate)
        latencies, found = search_times(index, queries)
        result[kind] = {
            "type": type(index).__name__,
            "build_s": build_s,
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "mib": index_mib(index),
            "found": found,
        }
        del index
        gc.collect()
        print(f"  {n:>9,} {kind:<5} built in {build_s:6.1f} s, p50 {result[kind]['p50_ms']:7.2f} ms", flush=True)
    result["recall_at_10"] = recall(result["hnsw"]["found"], result["exact"]["found"])
    return result


def crossover(results: list[dict]) -> float:
    """Chunks at which exact search reaches the latency budget: a least-squares line through the
    measured p50s (flat search reads every vector, so its time grows linearly)."""
    sizes = np.array([r["n"] for r in results], dtype=float)
    p50 = np.array([r["exact"]["p50_ms"] for r in results])
    slope, intercept = np.polyfit(sizes, p50, 1) if len(sizes) > 1 else (p50[0] / sizes[0], 0.0)
    return (BUDGET_MS - intercept) / slope


def run(sizes=SIZES, seed: int = 0) -> list[Figure]:
    from rag.index import HNSW_THRESHOLD

    rng = np.random.default_rng(seed)
    figures = []
    results = []
    for n in sizes:
        r = measure(n, rng)
        results.append(r)
        at = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        largest = n == max(sizes)
        for kind in ("exact", "hnsw"):
            m = r[kind]
            figures += [
                Figure("retrieval", f"{at} {kind} ({m['type']}) build", m["build_s"], "s"),
                Figure(
                    "retrieval",
                    f"{at} {kind} p50",
                    m["p50_ms"],
                    "ms",
                    ("<=", BUDGET_MS) if largest and kind == "hnsw" else None,
                ),
                Figure("retrieval", f"{at} {kind} p95", m["p95_ms"], "ms"),
                Figure("retrieval", f"{at} {kind} index memory", m["mib"], "MiB"),
            ]
        figures.append(
            Figure(
                "retrieval", f"{at} hnsw recall@10 vs exact", r["recall_at_10"], "", (">=", 0.95) if largest else None
            )
        )
        figures.append(Figure("retrieval", f"{at} automatic choice", "hnsw" if n >= HNSW_THRESHOLD else "exact"))
    figures.append(Figure("retrieval", f"exact search reaches {BUDGET_MS:g} ms at", crossover(results), "chunks"))
    figures.append(Figure("retrieval", "HNSW_THRESHOLD in rag/index.py", HNSW_THRESHOLD, "chunks"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    print_table(run(tuple(parser.parse_args().sizes)))


if __name__ == "__main__":
    main()
