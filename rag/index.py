"""Index stage: FAISS over the chunk embeddings, a BM25 keyword index, the chunk store and a manifest.

Layout of an index directory: `current` is a symlink to one complete generation (`gen-…/`). A build
writes a new generation beside it and swaps the link in one atomic rename, so a crash mid-build leaves
the previous index usable. The manifest records what the index was built from (corpus file hashes,
embedding model, chunker settings, package version) and the hash of every file it wrote, so a stale
or damaged index is detected instead of silently answering from the wrong data.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from .chunking import Chunk, ChunkSettings, chunk_document
from .corpus import CorpusFile, Document, group_near_duplicates, list_corpus, read_document
from .embedding import (
    EMBEDDING_MODEL,
    Embedder,
    OnnxEmbedder,
)
from .errors import CorpusError, IndexStateError

log = logging.getLogger("rag")

# 2: documents carry the date, outlet and title read from the page header (the title is no longer body text).
FORMAT_VERSION = 2
# Exact search reads every vector: p50 17-40 ms at 100k chunks, 150-320 ms at 1M on 2 cores (bench/RESULTS.md),
# so it passes a 50 ms budget between 180k and 270k. HNSW answers in under 1 ms but is rebuilt whole on every
# index update (35 s at 100k, 640-755 s at 1M) and is approximate: it is used only where exact search is too slow.
HNSW_THRESHOLD = 150_000
# The ONNX export of the embedding model lives beside the generations, so a rebuild does not export it again.
ONNX_EXPORT = Path("embedder") / f"{EMBEDDING_MODEL}.onnx"


def package_version() -> str:
    try:
        return version("rag")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class Manifest:
    embedding_model: str
    dim: int
    chunker: dict
    files: dict[str, str]  # corpus file -> sha256 of its bytes
    package_version: str = field(default_factory=package_version)
    format_version: int = FORMAT_VERSION
    built_at: str = ""
    faiss_index: str = ""
    documents: int = 0
    chunks: int = 0
    artifacts: dict[str, str] = field(default_factory=dict)  # written file -> sha256
    stats: dict[str, list[int]] = field(default_factory=dict)  # corpus file -> [size, mtime_ns] when hashed
    embedder: dict = field(default_factory=dict)  # the runtime that embedded; for ONNX, its file and sha256


@dataclass
class BuildReport:
    """What a build did: which files it embedded, reused or dropped."""

    index: Index
    embedded: list[str]
    reused: list[str]
    removed: list[str]
    skipped: list[str]
    seconds: float


class Index:
    """A loaded index generation: documents, chunks, their vectors and both search structures."""

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        documents: dict[str, Document],
        chunks: list[Chunk],
        vectors: np.ndarray,
        dense,
        bm25,
    ):
        self.directory = directory
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.vectors = vectors
        self.dense = dense
        self.bm25 = bm25
        # Each chunk's publication day (date ordinal), 0 when its document is undated.
        self.days = np.array(
            [
                date.fromisoformat(documents[c.source].date).toordinal() if documents[c.source].date else 0
                for c in chunks
            ],
            dtype=np.int64,
        )

    def dated(self, until: date, since: date | None = None) -> np.ndarray:
        """Which chunks come from documents published by `until`: undated ones included when `since`
        is None, only those dated from `since` on otherwise."""
        published = (self.days > 0) & (self.days <= until.toordinal())
        return published & (self.days >= since.toordinal()) if since else published | (self.days == 0)

    def search_dense(
        self, query_vector: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The n chunks nearest the query, among the `allowed` ones (a mask over chunks; None: all)."""
        import faiss

        if not self.chunks or (allowed is not None and not allowed.any()):
            return []
        params = None
        if allowed is not None and not allowed.all():
            selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64))
            hnsw = getattr(self.dense, "hnsw", None)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=hnsw.efSearch)
                if hnsw is not None
                else faiss.SearchParameters(sel=selector)
            )
        query = query_vector.reshape(1, -1).astype(np.float32)
        scores, ids = self.dense.search(query, min(n, len(self.chunks)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def search_keywords(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The n chunks that best match the query's words (BM25), among the `allowed` ones."""
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not self.chunks or not tokens.vocab or (allowed is not None and not allowed.any()):
            return []
        mask = allowed.astype(np.float32) if allowed is not None and not allowed.all() else None
        ids, scores = self.bm25.retrieve(
            tokens, k=min(n, len(self.chunks)), show_progress=False, n_threads=1, weight_mask=mask
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]

    def status(self) -> dict:
        """A summary for the UI and the CLI."""
        m = self.manifest
        return {
            "documents": m.documents,
            "chunks": m.chunks,
            "embedding_model": m.embedding_model,
            "faiss_index": m.faiss_index,
            "built_at": m.built_at,
            "directory": str(self.directory.parent),
        }


# --- freshness ---------------------------------------------------------------------------------


def stale_reasons(
    manifest: Manifest, corpus_files: dict[str, str], embedder: Embedder, settings: ChunkSettings
) -> list[str]:
    """Why an index no longer matches the corpus or the model; empty when it is fresh."""
    reasons = []
    if manifest.format_version != FORMAT_VERSION or manifest.package_version != package_version():
        reasons.append(
            f"built by rag {manifest.package_version} (format {manifest.format_version}), this is {package_version()}"
        )
    if manifest.embedding_model != embedder.name:
        reasons.append(f"built with embedding model {manifest.embedding_model}, now {embedder.name}")
    if manifest.chunker != asdict(settings):
        reasons.append(f"built with chunker settings {manifest.chunker}, now {asdict(settings)}")
    if corpus_files == manifest.files:  # one comparison in C: most questions find the corpus unchanged
        return reasons
    added = sorted(set(corpus_files) - set(manifest.files))
    removed = sorted(set(manifest.files) - set(corpus_files))
    changed = sorted(s for s in set(corpus_files) & set(manifest.files) if corpus_files[s] != manifest.files[s])
    for label, names in (("added", added), ("removed", removed), ("changed", changed)):
        if names:
            reasons.append(
                f"corpus files {label} since the build: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}"
            )
    return reasons


def corpus_hashes(files: list[CorpusFile], manifest: Manifest | None) -> dict[str, str]:
    """Each readable file's sha256: the recorded one when its size and modification time are those the
    manifest recorded, else read now. `rag index` passes no manifest, so a change that kept both is caught."""
    known = manifest.files if manifest else {}
    stats = manifest.stats if manifest else {}
    hashes = {}
    for file in files:
        if file.source in known and stats.get(file.source) == [file.size, file.mtime_ns]:
            hashes[file.source] = known[file.source]
            continue
        try:
            hashes[file.source] = file.sha256
        except OSError as exc:  # removed or locked since the directory was listed
            log.warning("skipping %s: cannot read it (%s)", file.source, exc.strerror or exc)
    return hashes


# --- the embedder ------------------------------------------------------------------------------


def index_embedder(index_dir: str | Path) -> Embedder:
    """The embedder for an index: ONNX Runtime over the index's own export of the model, made from the
    installed model on first use when it is missing or damaged (nothing is imported before then)."""
    path = Path(index_dir) / ONNX_EXPORT
    manifest = None
    with contextlib.suppress(IndexStateError):  # a damaged manifest is rebuilt; the export is checked alone
        manifest = read_manifest(index_dir)
    recorded = manifest.embedder if manifest else {}
    return OnnxEmbedder(path, export=not (path.is_file() and _intact(path, recorded)))


def _intact(path: Path, recorded: dict) -> bool:
    """Whether the ONNX export is the one the manifest recorded: by size and time, then by hash. An export
    that no build has recorded yet was renamed into place whole, so it is taken as it is."""
    if recorded.get("file") != ONNX_EXPORT.as_posix():
        return True
    stat = path.stat()
    if [stat.st_size, stat.st_mtime_ns] == [recorded.get("size"), recorded.get("mtime_ns")]:
        return True
    return _sha256(path) == recorded.get("sha256")


def _embedder_record(index_dir: Path, embedder: Embedder, previous: dict) -> dict:
    """What the manifest keeps about the embedder: the runtime, and for ONNX the export's hash and stat. An
    embedder shared with another index (one per process) leaves a copy of its export in this one."""
    if not isinstance(embedder, OnnxEmbedder):
        return {"runtime": type(embedder).__name__}
    if not embedder.model_file.is_file():  # nothing was embedded: the export was never needed
        return previous
    path = index_dir / ONNX_EXPORT
    if not path.is_file() or not path.samefile(embedder.model_file):
        _place_copy(embedder.model_file, path)
        previous = {}
    stat = path.stat()
    same = [stat.st_size, stat.st_mtime_ns] == [previous.get("size"), previous.get("mtime_ns")]
    return {
        "runtime": "onnxruntime",
        "file": ONNX_EXPORT.as_posix(),
        "sha256": previous["sha256"] if same and previous.get("sha256") else _sha256(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _place_copy(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source` (a hard link where it can), renamed into place whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{os.getpid()}")
    staged.unlink(missing_ok=True)
    try:
        os.link(source, staged)
    except OSError:
        shutil.copyfile(source, staged)
    os.replace(staged, target)


# --- loading -----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(index_dir: str | Path) -> Manifest | None:
    """The manifest of the current generation; None when there is no index yet."""
    path = Path(index_dir) / "current" / "manifest.json"
    if not path.exists():
        return None
    try:
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise IndexStateError(f"the index manifest {path} is damaged ({exc}); run `rag index` to rebuild it") from None


def load_index(index_dir: str | Path) -> Index:
    """Load the current generation, checking every file against the hash the manifest recorded."""
    import bm25s
    import faiss

    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexStateError(f"no index in {index_dir}: run `rag index` to build it")
    directory = (Path(index_dir) / "current").resolve()
    for name, digest in manifest.artifacts.items():
        path = directory / name
        if not path.exists() or (path.is_file() and _sha256(path) != digest):
            raise IndexStateError(f"the index file {path} is missing or damaged; run `rag index` to rebuild it")
    try:
        documents = {
            d["source"]: Document(**d) for d in json.loads((directory / "documents.json").read_text(encoding="utf-8"))
        }
        chunks = [Chunk(**c) for c in json.loads((directory / "chunks.json").read_text(encoding="utf-8"))]
        vectors = np.load(directory / "vectors.npy")
        dense = faiss.read_index(str(directory / "dense.faiss"))
        bm25 = bm25s.BM25.load(str(directory / "bm25"), load_corpus=False) if chunks else None
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexStateError(
            f"the index in {directory} cannot be read ({exc}); run `rag index` to rebuild it"
        ) from None
    if len(chunks) != vectors.shape[0] or dense.ntotal != len(chunks):
        raise IndexStateError(
            f"the index in {directory} is inconsistent (chunks and vectors differ in count); run `rag index` to rebuild it"
        )
    return Index(directory, manifest, documents, chunks, vectors, dense, bm25)


# --- building ----------------------------------------------------------------------------------


def make_dense_index(vectors: np.ndarray):
    """Exact inner-product search for small corpora, HNSW above the measured threshold."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) >= HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


@contextlib.contextmanager
def _build_lock(index_dir: Path):
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "a")
    except OSError as exc:
        raise IndexStateError(
            f"cannot write the index in {index_dir} ({exc.strerror or exc}); pass --index with a writable directory"
        ) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one builder at a time; readers never wait
        yield


def _previous(index_dir: Path, embedder: Embedder, settings: ChunkSettings) -> Index | None:
    """The last good index, if its vectors can be reused (same model, chunker and format)."""
    try:
        manifest = read_manifest(index_dir)
        if (
            manifest is None
            or manifest.embedding_model != embedder.name
            or manifest.chunker != asdict(settings)
            or manifest.format_version != FORMAT_VERSION
            or manifest.package_version != package_version()
        ):
            return None
        return load_index(index_dir)
    except IndexStateError as exc:
        log.warning("rebuilding from scratch: %s", exc)
        return None


def update_index(
    corpus_dir: str | Path,
    index_dir: str | Path,
    embedder: Embedder,
    *,
    settings: ChunkSettings = ChunkSettings(),
    progress: bool = False,
) -> BuildReport:
    """Build or update the index: only files that are new or changed are chunked and embedded."""
    began = time.perf_counter()
    index_dir = Path(index_dir)
    files = list_corpus(corpus_dir)
    with _build_lock(index_dir):
        hashes = corpus_hashes(files, None)  # every file read: a change that kept size and time is caught too
        previous = _previous(index_dir, embedder, settings)
        plan = _plan(files, hashes, previous)
        if not plan.documents:
            raise CorpusError(f"no readable article in {corpus_dir}: every file was empty, binary or furniture only")
        documents = group_near_duplicates(plan.documents)
        chunks, vectors = _chunks_and_vectors(documents, plan.to_embed, previous, embedder, settings, progress)
        manifest = Manifest(
            embedding_model=embedder.name,
            dim=int(vectors.shape[1]) if len(vectors) else embedder.dim,
            chunker=asdict(settings),
            files=hashes,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            documents=len(documents),
            chunks=len(chunks),
            stats={f.source: [f.size, f.mtime_ns] for f in files if f.source in hashes},
            embedder=_embedder_record(index_dir, embedder, previous.manifest.embedder if previous else {}),
        )
        _write_generation(index_dir, manifest, documents, chunks, vectors)
        removed = sorted(set(previous.documents if previous else ()) - {d.source for d in documents})
        index = load_index(index_dir)
    return BuildReport(
        index, [d.source for d in plan.to_embed], plan.reused, removed, plan.skipped, time.perf_counter() - began
    )


@dataclass
class _Plan:
    """What a build does with each corpus file: reuse its chunks, read and embed it, or skip it."""

    documents: list[Document] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    to_embed: list[Document] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _plan(files: list[CorpusFile], hashes: dict[str, str], previous: Index | None) -> _Plan:
    plan = _Plan()
    old_docs = previous.documents if previous else {}
    for file in files:
        old = old_docs.get(file.source)
        if file.source not in hashes:  # unreadable: corpus_hashes said why
            plan.skipped.append(file.source)
        elif old is not None and old.sha256 == hashes[file.source]:
            plan.documents.append(old)
            plan.reused.append(file.source)
        elif doc := read_document(file):
            plan.documents.append(doc)
            plan.to_embed.append(doc)
        else:
            plan.skipped.append(file.source)
    return plan


def _chunks_and_vectors(
    documents: list[Document],
    to_embed: list[Document],
    previous: Index | None,
    embedder: Embedder,
    settings: ChunkSettings,
    progress: bool,
) -> tuple[list[Chunk], np.ndarray]:
    """Every document's chunks and vectors in corpus order: new documents chunked and embedded in one
    batch, the others' rows taken from the previous index."""
    new_chunks = {doc.source: chunk_document(doc, settings) for doc in to_embed}
    flat_new = [c for doc in to_embed for c in new_chunks[doc.source]]
    new_vectors = (
        embedder.embed([c.text for c in flat_new], progress=progress)
        if flat_new
        else np.zeros((0, embedder.dim), np.float32)
    )
    old_rows: dict[str, list[int]] = {}
    for i, chunk in enumerate(previous.chunks if previous else ()):
        old_rows.setdefault(chunk.source, []).append(i)
    chunks: list[Chunk] = []
    rows: list[np.ndarray] = []
    position = 0
    for doc in documents:
        if doc.source in new_chunks:
            count = len(new_chunks[doc.source])
            chunks.extend(new_chunks[doc.source])
            rows.append(new_vectors[position : position + count])
            position += count
        else:
            kept = old_rows.get(doc.source, [])
            chunks.extend(previous.chunks[i] for i in kept)
            rows.append(previous.vectors[kept])
    vectors = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, embedder.dim), np.float32)
    return chunks, vectors


def _write_generation(
    index_dir: Path, manifest: Manifest, documents: list[Document], chunks: list[Chunk], vectors: np.ndarray
) -> None:
    """Write a complete new generation beside the current one and switch to it; on failure the
    previous index stays in place."""
    import bm25s
    import faiss

    dense = make_dense_index(vectors)
    manifest.faiss_index = type(dense).__name__
    generation = None
    try:
        generation = Path(tempfile.mkdtemp(prefix="gen-", dir=index_dir))
        (generation / "documents.json").write_text(
            json.dumps([asdict(d) for d in documents], ensure_ascii=False), encoding="utf-8"
        )
        (generation / "chunks.json").write_text(
            json.dumps([asdict(c) for c in chunks], ensure_ascii=False), encoding="utf-8"
        )
        np.save(generation / "vectors.npy", vectors)
        faiss.write_index(dense, str(generation / "dense.faiss"))
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index(
                bm25s.tokenize([c.text for c in chunks], stopwords="en", show_progress=False), show_progress=False
            )
            bm25.save(str(generation / "bm25"))
        # Every file, BM25's too: a damaged one must fail the hash check on load, not answer wrongly.
        manifest.artifacts = {
            path.relative_to(generation).as_posix(): _sha256(path)
            for path in sorted(generation.rglob("*"))
            if path.is_file()
        }
        (generation / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        _publish(index_dir, generation)
    except OSError as exc:
        if generation is not None:
            shutil.rmtree(generation, ignore_errors=True)
        raise IndexStateError(
            f"cannot write the index in {index_dir} ({exc.strerror or exc}); the previous index is unchanged"
        ) from None


def _publish(index_dir: Path, generation: Path) -> None:
    """Point `current` at the new generation atomically, then remove older generations."""
    link = index_dir / f".current-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(generation.name)
    os.replace(link, index_dir / "current")
    for old in index_dir.glob("gen-*"):
        if old != generation:
            shutil.rmtree(old, ignore_errors=True)


def open_index(
    corpus_dir: str | Path,
    index_dir: str | Path,
    embedder: Embedder,
    *,
    rebuild: bool = True,
    progress: bool = False,
    settings: ChunkSettings = ChunkSettings(),
    current: Index | None = None,
) -> Index:
    """The index for this corpus and model: `current` or the one on disk when fresh, else rebuilt
    (or refused when rebuild is off)."""
    manifest = None
    with contextlib.suppress(IndexStateError):
        manifest = read_manifest(index_dir)
    corpus = corpus_hashes(list_corpus(corpus_dir), manifest)
    reasons = stale_reasons(manifest, corpus, embedder, settings) if manifest else ["no index built yet"]
    if (
        not reasons
        and current is not None
        and current.manifest.built_at == manifest.built_at
        and current.manifest.artifacts == manifest.artifacts
    ):
        return current
    if not reasons:
        try:
            return load_index(index_dir)
        except IndexStateError as exc:
            if not rebuild:
                raise  # damaged, not out of date: its own message says which file and what to do
            reasons = [str(exc)]
    if not rebuild:
        raise IndexStateError(
            f"the index in {index_dir} is out of date ({'; '.join(reasons)}); run `rag index` to rebuild it"
        )
    log.info("updating the index in %s: %s", index_dir, "; ".join(reasons))
    return update_index(corpus_dir, index_dir, embedder, settings=settings, progress=progress).index
