"""Index build throughput: `rag.index.update_index` (read, clean, chunk, embed with ONNX Runtime, FAISS,
BM25, write) in chunks per second, against plain sentence-transformers `encode` of the very same chunk
texts with the same model, in the same process. Both models are warmed up first (the warm-up makes the
ONNX export). Each round builds a fresh index and then encodes its chunks; the ratio is the median over
rounds, each a pair of runs made one after the other under the same machine load. The vectors of both
are compared by cosine.

The build annotates every chunk for reading (spaCy), and repeated texts are annotated once per process,
so each round builds from articles no other round used: with `--corpus DIR`, the next `--articles` files
of a real corpus (e.g. the RealTimeQA dev articles); without it, paragraphs of the seed articles shuffled
anew (three articles' paragraphs repeat, so this understates the annotation a real corpus costs).

    python -m bench.embedding [--articles 150] [--rounds 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from statistics import median

from bench.common import Figure, print_table, rate, scratch, timed, variant_corpus

ARTICLES = 150  # about 460 chunks
ROUNDS = 3


def run(articles: int = ARTICLES, rounds: int = ROUNDS, corpus_dir: Path | None = None) -> list[Figure]:
    from sentence_transformers import SentenceTransformer

    from rag.embedding import embedding_model_dir
    from rag.index import index_embedder, update_index

    plain = SentenceTransformer(str(embedding_model_dir()), device="cpu", local_files_only=True)
    plain.encode(["warm-up"])
    rates = []  # (ours, plain) in chunks/s
    with scratch() as tmp:
        embedder = index_embedder(tmp / "export")
        export_seconds, _ = timed(embedder.embed, ["warm-up"])
        files = sorted(p for p in corpus_dir.iterdir() if p.is_file()) if corpus_dir else []
        if corpus_dir and len(files) < articles * rounds:
            raise SystemExit(f"{corpus_dir} holds {len(files)} files: {rounds} rounds of {articles} need more")
        for n in range(rounds):
            corpus = tmp / f"corpus-{n}"
            if corpus_dir:
                corpus.mkdir()
                for file in files[n * articles : (n + 1) * articles]:
                    shutil.copy2(file, corpus / file.name)
            else:
                variant_corpus(corpus, articles, seed=n)
            seconds, report = timed(update_index, corpus, tmp / f"index-{n}", embedder)
            texts = [chunk.text for chunk in report.index.chunks]
            plain_seconds, vectors = timed(plain.encode, texts, normalize_embeddings=True, convert_to_numpy=True)
            rates.append((rate(len(texts), seconds), rate(len(texts), plain_seconds)))
        cosine = float((report.index.vectors * vectors).sum(axis=1).min())
    return [
        Figure(
            "index build",
            "corpus",
            f"{articles} articles of {corpus_dir or 'shuffled seeds'} per round, {len(texts)} chunks, {rounds} rounds",
        ),
        Figure("index build", "ONNX export of the model (once per index directory)", export_seconds, "s"),
        Figure("index build", "rag update_index (median)", median(a for a, _ in rates), "chunks/s"),
        Figure("index build", "plain SentenceTransformer.encode (median)", median(b for _, b in rates), "chunks/s"),
        Figure("index build", "ratio rag / plain (median of rounds)", median(a / b for a, b in rates), "", (">=", 1.5)),
        Figure("index build", "lowest cosine, rag vs plain encode vectors", cosine, "", (">=", 0.999)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--corpus", type=Path, help="a real corpus to take each round's articles from")
    args = parser.parse_args()
    print_table(run(args.articles, args.rounds, args.corpus))


if __name__ == "__main__":
    main()
