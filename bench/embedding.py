"""Index build throughput: `rag.index.update_index` (read, clean, chunk, embed, FAISS, BM25, write)
in chunks per second, against plain sentence-transformers `encode` of the very same chunk texts with
the same model, in the same process. Both models are warmed up first. Each round builds a fresh index
and then encodes its chunks; the ratio is the median over rounds, each a pair of runs made one after
the other under the same machine load.

    python -m bench.embedding [--articles 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
from statistics import median

import numpy as np

from bench.common import Figure, print_table, rate, scratch, timed, variant_corpus

ARTICLES = 150  # about 460 chunks
ROUNDS = 3


def run(articles: int = ARTICLES, rounds: int = ROUNDS) -> list[Figure]:
    from sentence_transformers import SentenceTransformer

    from rag.answer import shared_embedder
    from rag.index import update_index
    from rag.models import embedding_model_dir

    embedder = shared_embedder()
    plain = SentenceTransformer(str(embedding_model_dir()), device="cpu", local_files_only=True)
    embedder.embed(["warm-up"])
    plain.encode(["warm-up"])
    rates = []  # (ours, plain) in chunks/s
    with scratch() as tmp:
        corpus = variant_corpus(tmp / "corpus", articles)
        for n in range(rounds):
            seconds, report = timed(update_index, corpus, tmp / f"index-{n}", embedder)
            texts = [chunk.text for chunk in report.index.chunks]
            plain_seconds, vectors = timed(plain.encode, texts, normalize_embeddings=True, convert_to_numpy=True)
            rates.append((rate(len(texts), seconds), rate(len(texts), plain_seconds)))
        same = bool(np.allclose(report.index.vectors, vectors, atol=1e-4))
    return [
        Figure("index build", "corpus", f"{articles} articles, {len(texts)} chunks, {rounds} rounds"),
        Figure("index build", "rag update_index (median)", median(a for a, _ in rates), "chunks/s"),
        Figure("index build", "plain SentenceTransformer.encode (median)", median(b for _, b in rates), "chunks/s"),
        Figure("index build", "ratio rag / plain (median of rounds)", median(a / b for a, b in rates), "", (">=", 0.9)),
        Figure("index build", "same vectors as plain encode", "yes" if same else "NO"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print_table(run(args.articles, args.rounds))


if __name__ == "__main__":
    main()
