"""An archive past one machine: index building through Ray against a local build (same run, same corpus),
and the compressed dense index (IVF-PQ + exact re-ranking, rag/dense.py) at 1M vectors.

Ingestion: a copy of the seed corpus made of shuffled-paragraph variants, indexed once locally
(`update_index`) and once through a local Ray cluster of 2 workers (`build_index_on_ray`); chunks/s of
each, Ray's start-up apart, and the projected time for 1M articles (~17M chunks) on N workers from the
measured rate per worker.

Compressed index: 1M vectors drawn to look like real chunk embeddings: real chunk vectors of a built index
(`--real-index`, e.g. an index of the RealTimeQA dev corpus), each moved part of the way towards one of
its real neighbours and by Gaussian noise, normalised: the real vectors' directions and spread. The queries are held-out real
questions (`--questions`, a qa.jsonl), embedded with the bundled model. Recall@10 is against exact
search over the same 1M vectors; latency is one question at a time, as `ask` searches; memory is the
serialised FAISS index (codes, ids, centroids, codebooks) per vector; the exact vectors stay on disk,
memory-mapped. Then 1,000 new chunks are added to the 1M index, and 1,000 removed, in place.

    python -m bench.cluster [--articles 160] [--size 1000000] [--real-index DIR] [--questions FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from bench.common import Figure, percentile, print_table, rate, scratch, timed, variant_corpus

ARTICLES = 160  # about 500 chunks: 5 rounds of batches on 2 workers, a few minutes on 2 busy cores
RAY_WORKERS = 2
SIZE = 1_000_000
QUESTIONS = 50
K = 10
ADDED = 1_000
NPROBES = (16, 32, 64, 128)  # searched again on the built index: what recall each setting buys
RERANKS = (50, 200, 1000)
NOISE = 0.6  # per-vector noise norm: a copy keeps a cosine of ~0.86 with the real vector it came from
ARCHIVE_CHUNKS = 17_000_000  # 1M articles at ~17 chunks each (RealTimeQA dev: 9,367 chunks, 552 articles)
REAL_INDEX = os.environ.get("RAG_BENCH_REAL_INDEX")
QUESTIONS_FILE = os.environ.get("RAG_BENCH_QUESTIONS", str(Path.home() / ".cache/rtqa-dev/qa.jsonl"))


def ingestion(articles: int = ARTICLES) -> list[Figure]:
    import ray

    from rag.answer import shared_embedder
    from rag.chunking import ChunkSettings
    from rag.cluster import ARTICLES_PER_BATCH, encode_on_ray, stream_on_ray
    from rag.embedding import SentenceTransformerEmbedder
    from rag.index import Processed, update_index

    arrivals: list[tuple[float, int]] = []  # when each article came back from the cluster, its chunks

    def on_ray(files):
        processed = Processed()
        for source, document, chunks, vectors, lines in stream_on_ray(
            files, SentenceTransformerEmbedder, ChunkSettings(), workers=RAY_WORKERS
        ):
            arrivals.append((time.perf_counter(), len(chunks)))
            processed.documents[source], processed.chunks[source] = document, chunks
            processed.vectors[source], processed.annotations[source] = vectors, lines
        return processed

    embedder = shared_embedder()
    embedder.embed(["warm-up"])
    with scratch() as tmp:
        corpus = variant_corpus(tmp / "corpus", articles)
        local_s, local = timed(update_index, corpus, tmp / "local", embedder)
        start_s, _ = timed(
            ray.init, address="local", num_cpus=RAY_WORKERS, include_dashboard=False, logging_level="WARNING"
        )
        try:
            ray_s, on_ray_report = timed(
                update_index, corpus, tmp / "ray", embedder, process=on_ray, encode=encode_on_ray
            )
        finally:
            ray.shutdown()
        chunks = len(local.index.chunks)
        same = on_ray_report.index.chunks == local.index.chunks and np.allclose(
            on_ray_report.index.vectors, local.index.vectors, atol=1e-5
        )
    # Once the first round of batches (one per worker) is back, every worker has loaded its model: the
    # rate from there on is the steady rate a long build runs at.
    arrivals.sort()
    first_round = min(len(arrivals) - 1, RAY_WORKERS * ARTICLES_PER_BATCH) - 1
    later = arrivals[first_round + 1 :]
    steady = rate(sum(n for _, n in later), later[-1][0] - arrivals[first_round][0]) if first_round >= 0 else None
    per_worker = (steady or rate(chunks, ray_s)) / RAY_WORKERS
    figures = [
        Figure("cluster ingest", "corpus", f"{articles} articles, {chunks} chunks"),
        Figure("cluster ingest", "local update_index", rate(chunks, local_s), "chunks/s"),
        Figure("cluster ingest", f"Ray start (local cluster, {RAY_WORKERS} CPUs)", start_s, "s"),
        Figure("cluster ingest", f"Ray build, {RAY_WORKERS} workers, end to end", rate(chunks, ray_s), "chunks/s"),
        Figure("cluster ingest", f"Ray build, {RAY_WORKERS} workers, after model load", steady, "chunks/s"),
        Figure("cluster ingest", "Ray rate per worker (after model load)", per_worker, "chunks/s"),
        Figure("cluster ingest", "same chunks, vectors within 1e-5", "yes" if same else "NO"),
    ]
    for workers in (16, 64, 256):
        hours = ARCHIVE_CHUNKS / (per_worker * workers) / 3600
        figures.append(Figure("cluster ingest", f"projected 1M articles on {workers} workers", hours, "h"))
    return figures


def draw_like(
    real: np.ndarray, neighbours: np.ndarray, n: int, rng: np.random.Generator, out: np.ndarray, block: int = 100_000
) -> None:
    """n unit vectors into `out`, each a random real vector moved part of the way towards one of its real
    neighbours and then by Gaussian noise of norm ~NOISE: the real vectors' directions and spread, without
    hundreds of copies of one vector tied at the same distance from every question."""
    dim = real.shape[1]
    for start in range(0, n, block):
        rows = min(block, n - start)
        picked = rng.integers(0, len(real), rows)
        towards = neighbours[picked, rng.integers(0, neighbours.shape[1], rows)]
        share = rng.random((rows, 1), dtype=np.float32) * 0.5
        x = real[picked] + share * (real[towards] - real[picked])
        x += rng.standard_normal((rows, dim), dtype=np.float32) * (NOISE / np.sqrt(dim))
        out[start : start + rows] = x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, queries: np.ndarray, block: int = 200_000) -> np.ndarray:
    """Exact top-K rows per query, block by block (no second copy of the vectors)."""
    best_scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), K), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ np.asarray(vectors[start : start + block]).T
        scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.concatenate(
            [best_rows, np.arange(start, start + scores.shape[1] - K)[None].repeat(len(queries), 0)], 1
        )
        top = np.argsort(-scores, axis=1)[:, :K]
        best_scores, best_rows = np.take_along_axis(scores, top, 1), np.take_along_axis(rows, top, 1)
    return best_rows


def search_quality(index, queries: np.ndarray, truth: np.ndarray, rerank: int) -> tuple[float, list[float]]:
    """Recall@K against exact search, and each question's search time in ms."""
    latencies, found = [], []
    for query in queries:
        seconds, hits = timed(index.search, query, K, rerank=rerank)
        latencies.append(seconds * 1000)
        found.append([row for row, _ in hits])
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)])), latencies


def nearest_other_cosine(vectors: np.ndarray, sample: int, rng: np.random.Generator) -> float:
    """Median cosine between a vector and its nearest other vector: how tightly the data clusters."""
    picked = np.asarray(vectors[rng.choice(len(vectors), min(sample, len(vectors)), replace=False)])
    nearest_other = exact_top(vectors, picked)[:, 1]  # the first is the vector itself
    return float(np.median(np.einsum("ij,ij->i", picked, np.asarray(vectors[nearest_other]))))


def compressed(real_index: str | None, questions_file: str, size: int = SIZE, seed: int = 0) -> list[Figure]:
    import faiss

    from rag.answer import shared_embedder
    from rag.dense import RERANK, build_dense, update_dense

    part = "cluster IVF-PQ"
    vectors_file = Path(real_index or "", "current", "vectors.npy")
    if not real_index or not vectors_file.exists() or not Path(questions_file).exists():
        return [Figure(part, "skipped", "needs --real-index (a built index) and --questions (a qa.jsonl)")]
    rng = np.random.default_rng(seed)
    real = np.load(vectors_file).astype(np.float32)
    lines = [json.loads(line) for line in Path(questions_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = shared_embedder().embed([q["question"] for q in lines[:QUESTIONS]])
    at = f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"
    with scratch() as tmp:
        vectors = np.lib.format.open_memmap(
            tmp / "vectors.npy", mode="w+", dtype=np.float32, shape=(size, real.shape[1])
        )
        neighbours = exact_top(real, real)[:, 1:]  # each real vector's nearest real vectors
        draw_like(real, neighbours, size, rng, vectors)
        vectors.flush()
        del vectors
        vectors = np.load(tmp / "vectors.npy", mmap_mode="r")  # as load_index maps them beside IVF-PQ
        truth = exact_top(vectors, queries)
        ids = np.arange(size, dtype=np.int64)
        build_s, index = timed(build_dense, vectors, ids, size)
        index_bytes = faiss.serialize_index(index.faiss_index).nbytes
        for query in queries:
            index.search(query, K, rerank=max(RERANKS))  # first touch of the mapped pages
        sweep = {}
        for nprobe in NPROBES if index.info.kind == "ivfpq" else ():
            index.faiss_index.nprobe = nprobe
            for rerank in RERANKS:
                sweep[nprobe, rerank] = search_quality(index, queries, truth, rerank)
            index.faiss_index.nprobe = index.info.nprobe
        recall, latencies = search_quality(index, queries, truth, RERANK)
        new = np.empty((ADDED, real.shape[1]), dtype=np.float32)
        draw_like(real, neighbours, ADDED, rng, new)
        grown_vectors = np.concatenate([vectors, new])
        grown_ids = np.arange(size + ADDED, dtype=np.int64)
        add_s, grown = timed(update_dense, index, grown_vectors, grown_ids, size + ADDED)
        add_found = grown.search(new[0], 1)[0][0] == size
        remove_s, _ = timed(update_dense, grown, grown_vectors[ADDED:], grown_ids[ADDED:], size + ADDED)
        real_nn = nearest_other_cosine(real, 500, rng)
        synth_nn = nearest_other_cosine(vectors, 100, rng)
    info = index.info
    return [
        Figure(part, "vectors", f"{size:,} drawn from {len(real):,} real chunk vectors; {len(queries)} real questions"),
        Figure(part, "median cosine to nearest other vector: real / drawn", f"{real_nn:.3f} / {synth_nn:.3f}"),
        Figure(
            part,
            "index",
            f"nlist {info.nlist}, {info.pq_bytes}-byte codes, nprobe {info.nprobe}, trained on {info.trained_on:,}",
        ),
        Figure(part, f"{at} build (train, encode {len(info.shards)} shards, merge)", build_s, "s"),
        Figure(part, f"{at} index memory", index_bytes / size, "bytes/vector", ("<=", 64)),
        Figure(part, f"{at} index memory (whole)", index_bytes / 2**20, "MiB"),
        Figure(part, f"{at} exact vectors on disk, memory-mapped", size * real.shape[1] * 4 / 2**20, "MiB"),
        Figure(part, f"{at} recall@10 vs exact", recall, "", (">=", 0.95)),
        Figure(part, f"{at} search p50 (re-ranked)", percentile(latencies, 50), "ms", ("<=", 20)),
        Figure(part, f"{at} search p95 (re-ranked)", percentile(latencies, 95), "ms"),
        *[
            Figure(
                part,
                f"{at} nprobe {nprobe}, re-rank {rerank}: recall@10 / p50",
                f"{r:.3f} / {percentile(t, 50):.2f} ms",
            )
            for (nprobe, rerank), (r, t) in sweep.items()
        ],
        Figure(part, f"add {ADDED:,} chunks to {at} in place", add_s, "s"),
        Figure(part, "added chunk found first for its own vector", "yes" if add_found else "NO"),
        Figure(part, f"remove {ADDED:,} chunks from {at} in place", remove_s, "s"),
    ]


def run(
    articles: int = ARTICLES, size: int = SIZE, real_index: str | None = REAL_INDEX, questions: str = QUESTIONS_FILE
) -> list[Figure]:
    return ingestion(articles) + compressed(real_index, questions, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--real-index", default=REAL_INDEX, help="an index directory whose vectors are drawn from")
    parser.add_argument("--questions", default=QUESTIONS_FILE, help="a qa.jsonl whose questions are the queries")
    parser.add_argument("--skip-ingest", action="store_true", help="only the compressed index")
    parser.add_argument("--faiss-threads", type=int, default=None, help="OpenMP threads for FAISS; default: all")
    args = parser.parse_args()
    if args.faiss_threads:
        import faiss

        faiss.omp_set_num_threads(args.faiss_threads)  # on a busy machine, idle OpenMP threads spin
    figures = [] if args.skip_ingest else ingestion(args.articles)
    print_table(figures + compressed(args.real_index, args.questions, args.size))


if __name__ == "__main__":
    main()
