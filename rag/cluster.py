"""Index building on a Ray cluster: the same index a local build writes, read, chunked and embedded by the
cluster's workers (`pip install -e ".[cluster]"`).

Ray Data streams the corpus files through two `map_batches` steps: tasks read, clean and chunk a batch of
articles; a pool of actors, each loading the embedding model once, embeds their chunks. The driver collects
the results and hands them to `index.update_index`, which does everything that needs all documents at once
(near-duplicate groups, the dense and keyword indexes, the manifest, the atomic switch to the new generation)
exactly as a local build does. Ray retries a failed task and restarts a lost actor; a build that fails
anyway leaves the previous generation in place. Above the IVF-PQ threshold, the dense index's shards are
encoded by Ray tasks and merged on the driver.

Every node needs the same environment (this package and the embedding model installed) and the corpus at
the same path (shared storage). Ray is imported only inside the functions below.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .chunking import Chunk, ChunkSettings, chunk_document
from .corpus import CorpusFile, Document, read_document
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import ClusterError
from .index import BuildReport, Processed, annotate_chunks, index_embedder, update_index

ADDRESS_ENV = "RAG_RAY_ADDRESS"
# Articles per Ray batch: ~17 chunks each, so an embedding call sees a few hundred chunks.
ARTICLES_PER_BATCH = 16


def build_index_on_ray(
    corpus_dir: str | Path,
    index_dir: str | Path,
    make_embedder: Callable[[], Embedder] | None = None,
    *,
    address: str | None = None,
    settings: ChunkSettings = ChunkSettings(),
    workers: int | None = None,
    progress: bool = False,
) -> BuildReport:
    """Build or update the index with a Ray cluster doing the reading, chunking and embedding.

    Args:
        address: the cluster, as `ray.init` takes it: "auto" joins the cluster this machine belongs to,
            "HOST:PORT" or "ray://HOST:PORT" another one, "local" starts one in this process. None uses
            the Ray session already started in this process, else $RAG_RAY_ADDRESS, else "auto".
        make_embedder: builds the embedder; called once on the driver (for its name) and once per
            embedding worker, which loads the model on first use. None: the workers embed with
            sentence-transformers (the reference) and the driver gives the index the same ONNX export
            for questions that a local build gives it, so both builds write the same manifest.
        workers: most embedding actors at once; default one per CPU of the cluster.
    """
    started = _connect(address)
    try:
        if make_embedder is None:
            make_embedder = SentenceTransformerEmbedder
            driver = index_embedder(index_dir)
            driver.load()
        else:
            driver = make_embedder()
        return update_index(
            corpus_dir,
            index_dir,
            driver,
            settings=settings,
            progress=progress,
            process=lambda files: process_on_ray(files, make_embedder, settings, workers=workers, progress=progress),
            encode=encode_on_ray,
        )
    finally:
        if started:
            import ray

            ray.shutdown()


def _connect(address: str | None) -> bool:
    """Join (or start) the cluster; True when this call started the Ray session."""
    try:
        import ray
    except ImportError:
        raise ClusterError('Ray is not installed: run `pip install -e ".[cluster]"` to build on a cluster') from None
    if address is None and ray.is_initialized():
        return False
    address = address or os.environ.get(ADDRESS_ENV) or "auto"
    try:
        ray.init(
            address=address,  # "local" always starts a new one, even beside a `ray start` cluster
            include_dashboard=False,
            logging_level="WARNING",
            configure_logging=True,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        hint = "start one with `ray start --head`, or pass --ray local" if address == "auto" else "check the address"
        raise ClusterError(f"cannot reach the Ray cluster at {address!r} ({exc}); {hint}") from None
    return True


def process_on_ray(
    files: list[CorpusFile],
    make_embedder: Callable[[], Embedder],
    settings: ChunkSettings,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> Processed:
    """Read, clean, chunk and embed the files on the cluster; the results, collected on the driver."""
    processed = Processed()
    bar = _progress(len(files)) if progress and files else None
    chunks_done = 0
    for source, document, chunks, vectors, lines in stream_on_ray(files, make_embedder, settings, workers=workers):
        processed.documents[source] = document
        if document is not None:
            processed.chunks[source] = chunks
            processed.vectors[source] = vectors
            processed.annotations[source] = lines
            chunks_done += len(chunks)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(chunks=chunks_done, refresh=False)
    if bar is not None:
        bar.close()
    return processed


def stream_on_ray(
    files: list[CorpusFile],
    make_embedder: Callable[[], Embedder],
    settings: ChunkSettings,
    *,
    workers: int | None = None,
) -> Iterator[tuple[str, Document | None, list[Chunk], np.ndarray, list[bytes]]]:
    """Each file's document (None when it holds no article), chunks, vectors and chunk annotations (the
    index's lines), as the cluster finishes them (in no fixed order)."""
    import ray

    if not files:
        return
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # our bar counts articles and chunks; Ray's count blocks per step
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # no line per dataset started, none for our own bar
    workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    dataset = (
        ray.data.from_items(
            [{"source": f.source, "root": str(f.root), "size": f.size, "mtime_ns": f.mtime_ns} for f in files],
            override_num_blocks=max(1, min(len(files) // ARTICLES_PER_BATCH, 64 * workers)),
        )
        .map_batches(_read_and_chunk, fn_kwargs={"settings": settings}, batch_size=ARTICLES_PER_BATCH)
        .map_batches(
            _Embed,
            fn_constructor_kwargs={"make_embedder": make_embedder},
            batch_size=ARTICLES_PER_BATCH,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
            num_cpus=1,
        )
    )
    for batch in dataset.iter_batches(batch_size=None):
        for source, document, chunks, vectors, annotated in zip(
            batch["source"], batch["document"], batch["chunks"], batch["vectors"], batch["annotations"]
        ):
            if not document:
                yield str(source), None, [], np.zeros((0, 0), np.float32), []
                continue
            article_chunks = [Chunk(**c) for c in json.loads(chunks)]
            rows = np.frombuffer(vectors, dtype=np.float32).reshape(len(article_chunks), -1)
            lines = bytes(annotated).splitlines(keepends=True)
            yield str(source), Document(**json.loads(document)), article_chunks, rows, lines


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="article", desc="cluster: read, chunk, embed")


def _read_and_chunk(batch: dict, settings: ChunkSettings) -> dict:
    """A Ray task: clean, chunk and annotate a batch of corpus files ("" for a file that holds no article)."""
    documents, chunks, annotations = [], [], []
    for source, root, size, mtime_ns in zip(batch["source"], batch["root"], batch["size"], batch["mtime_ns"]):
        document = read_document(CorpusFile(str(source), Path(str(root)), int(size), int(mtime_ns)))
        article_chunks = chunk_document(document, settings) if document else []
        documents.append(json.dumps(asdict(document), ensure_ascii=False) if document else "")
        chunks.append(json.dumps([asdict(c) for c in article_chunks], ensure_ascii=False) if document else "")
        annotations.append(b"".join(annotate_chunks(article_chunks)))
    return {"source": list(batch["source"]), "document": documents, "chunks": chunks, "annotations": annotations}


class _Embed:
    """A Ray actor: builds the embedder once, then embeds the chunks of one batch of articles per call."""

    def __init__(self, make_embedder: Callable[[], Embedder]):
        self.embedder = make_embedder()

    def __call__(self, batch: dict) -> dict:
        per_article = [[c["text"] for c in json.loads(chunks)] if chunks else [] for chunks in batch["chunks"]]
        texts = [text for article in per_article for text in article]
        vectors = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dim), np.float32)
        rows, position = [], 0
        for article in per_article:
            rows.append(np.ascontiguousarray(vectors[position : position + len(article)], dtype=np.float32).tobytes())
            position += len(article)
        return {**batch, "vectors": rows}


def encode_on_ray(trained, vectors: np.ndarray, ids: np.ndarray, parts: list[slice]) -> Iterator:
    """IVF-PQ shards encoded by Ray tasks, yielded in order for the driver to merge."""
    import faiss
    import ray

    from .dense import encode_shard

    @ray.remote
    def encode(trained_bytes: np.ndarray, shard_vectors: np.ndarray, shard_ids: np.ndarray) -> np.ndarray:
        shard = encode_shard(faiss.deserialize_index(trained_bytes), shard_vectors, shard_ids)
        return faiss.serialize_index(shard)

    trained_ref = ray.put(faiss.serialize_index(trained))
    pending = [encode.remote(trained_ref, vectors[part], ids[part]) for part in parts]
    for ref in pending:
        yield faiss.deserialize_index(ray.get(ref))
