"""Index stage: FAISS over the chunk embeddings, a BM25 keyword index, the chunk store and a manifest.

Layout of an index directory: `current` is a symlink to one complete generation (`gen-…/`). A build
writes a new generation beside it and swaps the link in one atomic rename, so a crash mid-build leaves
the previous index usable. The manifest records what the index was built from (the corpus directory and its
file hashes, embedding model, chunker settings, package version) and the hash of every file it wrote, so
a stale or damaged index is detected instead of silently answering from the wrong data, and another
corpus is refused instead of replacing the articles it holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import mmap
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from .annotate import AnnotatedSentence, annotate, from_record, to_record
from .chunking import Chunk, ChunkSettings, chunk_document
from .corpus import (
    CorpusFile,
    Document,
    Listing,
    corpus_root,
    file_sha256,
    group_near_duplicates,
    list_corpus,
    read_document,
    scan_corpus,
)
from .dense import DenseIndex, DenseInfo, encode_locally, update_dense
from .embedding import EMBEDDING_MODEL, Embedder, OnnxEmbedder
from .errors import CorpusError, IndexStateError

log = logging.getLogger("rag")

# The bundled articles: the corpus of an index that has none recorded yet.
DEFAULT_CORPUS = "seeds"

# 2: documents carry the date, outlet and title read from the page header (the title is no longer body text).
# 3: stable chunk ids (ids.npy), exact or IVF-PQ dense index (rag/dense.py).
# 4: the manifest keeps the corpus files as columns (FileTable), so a question reads and compares them fast.
# 5: every chunk's reading annotation (sentences, mentions, words) is stored with it (annotations.jsonl).
# 6: the corpus files' columns are packed beside the manifest (corpus.npz), not in its JSON.
# 7: a mention's governing word is found through prepositions and coordinations ("visit" for "Taiwan" in
#    "a visit to Taiwan"), no longer the preposition itself.
# 8: runs of proper nouns are mentions ("Cleveland Browns"), and figures with the unit they are a rate of
#    ("$4 per gallon"); a mention ends before a possessive ("Popp" for "Popp's").
# 9: a name keeps a possessive ending that owns nothing ("McDonald's announced"); coordinations ("Shell and BP"),
#    a place in its larger place ("Bergen, Norway"), short quoted spans (titles) and a noun phrase with the one
#    its "of" governs ("assassination of John F. Kennedy") are mentions.
FORMAT_VERSION = 9
# The manifest's corpus columns, packed: a question reads 100,000 files' in milliseconds (as JSON: 50 ms).
CORPUS_TABLE = "corpus.npz"
# One line of JSON per chunk (`annotate.to_record`), and the byte offset where each line starts (and the end).
ANNOTATIONS = "annotations.jsonl"
ANNOTATION_OFFSETS = "annotations.npy"
# The ONNX export of the embedding model lives beside the generations, so a rebuild does not export it again.
ONNX_EXPORT = Path("embedder") / f"{EMBEDDING_MODEL}.onnx"


def package_version() -> str:
    try:
        return version("rag")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(eq=False)
class FileTable:
    """The corpus files a build read, in listing order, with the size and modification time they had when
    hashed and the sha256 of their bytes. Columns, not a record per file: a question finds an unchanged
    corpus of 100,000 files by comparing three columns with a new listing's, in milliseconds."""

    sources: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    mtimes_ns: list[int] = field(default_factory=list)
    sha256: list[str] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:  # a table read packed equals the one that was written
        return isinstance(other, FileTable) and all(getattr(self, c) == getattr(other, c) for c in _COLUMNS)

    def hashes(self) -> dict[str, str]:
        """Corpus file -> sha256 of its bytes."""
        return dict(zip(self.sources, self.sha256))

    def stats_match(self, listing: Listing) -> bool:
        """Whether `listing` holds exactly these files, each with the size and time recorded here."""
        return (
            self.mtimes_ns == listing.mtimes_ns.tolist()
            and self.sizes == listing.sizes.tolist()
            and self.sources == listing.sources
        )

    def save(self, path: Path) -> None:
        """The columns packed: names joined by NUL (which no file name holds), digests by newlines."""
        np.savez(
            path,
            sources=np.frombuffer(_joined(self.sources), np.uint8),
            sizes=np.array(self.sizes, np.int64),
            mtimes_ns=np.array(self.mtimes_ns, np.int64),
            sha256=np.frombuffer("\n".join(self.sha256).encode("ascii"), np.uint8),
        )

    @staticmethod
    def load(path: Path) -> FileTable:
        with np.load(path) as packed:
            return _PackedFileTable({name: packed[name] for name in _COLUMNS})


_COLUMNS = ("sources", "sizes", "mtimes_ns", "sha256")


def _joined(sources: list[str]) -> bytes:
    return "\0".join(sources).encode("utf-8", "surrogateescape")


class _PackedFileTable(FileTable):
    """A recorded table as read from its packed file: a column becomes a list on first use, and a question
    that finds every file with its recorded stat compares the packed columns and makes no list at all."""

    def __init__(self, packed: dict[str, np.ndarray]):  # the dataclass's fields are made on first use
        self._packed = packed

    def __getattr__(self, name: str):
        if name not in _COLUMNS or "_packed" not in self.__dict__:
            raise AttributeError(name)
        data = self._packed[name]
        if name in ("sources", "sha256"):
            text = data.tobytes().decode("utf-8", "surrogateescape")
            column = text.split("\0" if name == "sources" else "\n") if text else []
        else:
            column = data.tolist()
        setattr(self, name, column)
        return column

    def stats_match(self, listing: Listing) -> bool:
        packed = self._packed
        return (
            len(listing.sizes) == len(packed["sizes"])
            and np.array_equal(packed["mtimes_ns"], np.frombuffer(listing.mtimes_ns, np.int64))
            and np.array_equal(packed["sizes"], np.frombuffer(listing.sizes, np.int64))
            and packed["sources"].tobytes() == _joined(listing.sources)
        )


@dataclass
class Manifest:
    embedding_model: str
    dim: int
    chunker: dict
    corpus: FileTable = field(default_factory=FileTable)  # the corpus files it was built from
    corpus_dir: str = ""  # their directory, relative to the index's; "": not recorded (older builds)
    package_version: str = field(default_factory=package_version)
    format_version: int = FORMAT_VERSION
    built_at: str = ""
    faiss_index: str = ""
    documents: int = 0
    chunks: int = 0
    artifacts: dict[str, str] = field(default_factory=dict)  # written file -> sha256
    dense: dict = field(default_factory=dict)  # DenseInfo: kind, parameters, next chunk id, shards
    embedder: dict = field(default_factory=dict)  # the runtime that embedded; for ONNX, its file and sha256

    def corpus_path(self, index_dir: str | Path) -> Path | None:
        """The corpus directory it was built from, for an index in `index_dir`; None when not recorded."""
        return (Path(index_dir) / self.corpus_dir).resolve() if self.corpus_dir else None


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
    """A loaded index generation: documents, chunks, their vectors (memory-mapped beside IVF-PQ), both searches."""

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        documents: dict[str, Document],
        chunks: list[Chunk],
        dense: DenseIndex,
        bm25,
        annotations,
        annotation_offsets: np.ndarray,
    ):
        self.directory = directory
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.vectors = dense.vectors
        self.dense = dense
        self.bm25 = bm25
        # Mapped from the load on: a rebuild that removes this generation leaves a question in flight its file.
        self.annotations = annotations
        self.annotation_offsets = annotation_offsets
        # Each chunk's publication day (date ordinal), 0 when its document is undated.
        self.days = np.array(
            [
                date.fromisoformat(documents[c.source].date).toordinal() if documents[c.source].date else 0
                for c in chunks
            ],
            dtype=np.int64,
        )

    def annotation_lines(self, rows: list[int]) -> list[bytes]:
        """The stored annotation of each chunk row, as its line of JSON (read from disk, not kept in memory)."""
        offsets = self.annotation_offsets
        return [self.annotations[offsets[row] : offsets[row + 1]] for row in rows]

    def sentences(self, row: int) -> tuple[AnnotatedSentence, ...]:
        """A chunk's sentences with the mentions and words the build annotated."""
        (line,) = self.annotation_lines([row])
        try:
            return from_record(self.chunks[row].text, json.loads(line))
        except (ValueError, TypeError) as exc:
            raise IndexStateError(
                f"the annotations of {self.chunks[row].id} in {self.directory} cannot be read ({exc}); "
                "run `rag index` to rebuild the index"
            ) from None

    def dated(self, until: date, since: date | None = None) -> np.ndarray:
        """Which chunks come from documents published by `until`: undated ones included when `since`
        is None, only those dated from `since` on otherwise."""
        published = (self.days > 0) & (self.days <= until.toordinal())
        return published & (self.days >= since.toordinal()) if since else published | (self.days == 0)

    def search_dense(
        self, query_vector: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Rows of the n chunks nearest the query, best first, with their inner-product scores, among
        the `allowed` ones (a mask over chunks; None: all)."""
        return self.dense.search(query_vector, n, allowed=allowed) if self.chunks else []

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
            "corpus": str(corpus) if (corpus := m.corpus_path(self.directory.parent)) else None,
            "documents": m.documents,
            "chunks": m.chunks,
            "embedding_model": m.embedding_model,
            "faiss_index": m.faiss_index,
            "built_at": m.built_at,
            "directory": str(self.directory.parent),
        }


# --- freshness ---------------------------------------------------------------------------------


def stale_reasons(manifest: Manifest, corpus: FileTable, embedder: Embedder, settings: ChunkSettings) -> list[str]:
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
    built = manifest.corpus
    # Most questions find the corpus unchanged: `current_corpus` gave back the recorded table itself.
    if corpus is built or (corpus.sha256 == built.sha256 and corpus.sources == built.sources):
        return reasons
    now, then = corpus.hashes(), built.hashes()
    added = sorted(now.keys() - then.keys())
    removed = sorted(then.keys() - now.keys())
    changed = sorted(s for s in now.keys() & then.keys() if now[s] != then[s])
    for label, names in (("added", added), ("removed", removed), ("changed", changed)):
        if names:
            reasons.append(
                f"corpus files {label} since the build: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}"
            )
    return reasons


def built_from(corpus_dir: str | Path | None, index_dir: str | Path) -> tuple[Path, Manifest | None]:
    """The corpus directory an index reads, with its manifest (None: no index yet, or a damaged one).

    `corpus_dir` None is the corpus the index was built from, or `DEFAULT_CORPUS` for a new index. A
    directory other than the recorded one is refused while that one still exists: updating the index
    to it would drop every article of the other. One that replaces a corpus no longer there (moved,
    renamed) is taken, and recorded at the next build."""
    try:
        manifest = read_manifest(index_dir)
    except IndexStateError:
        if corpus_dir is None:
            raise IndexStateError(
                f"the index manifest in {index_dir} is damaged, so the corpus it was built from is not known; "
                f"rebuild it naming its corpus: `rag index --corpus DIR --index {index_dir}`"
            ) from None
        return Path(corpus_dir), None
    recorded = manifest.corpus_path(index_dir) if manifest else None
    if recorded is None:  # no index yet, or one of an older build (`update_index` checks its files)
        return Path(DEFAULT_CORPUS if corpus_dir is None else corpus_dir), manifest
    if corpus_dir is None:
        if not recorded.is_dir():
            raise CorpusError(
                f"the index in {index_dir} was built from the corpus {recorded}, which is no longer there; "
                "name the directory of its articles (--corpus DIR)"
            )
        return recorded, manifest
    if recorded.is_dir() and Path(corpus_dir).resolve() != recorded:
        corpus_root(corpus_dir)  # a named directory that is not there is the mistake to report, not the other corpus
        raise IndexStateError(
            f"the index in {index_dir} was built from the corpus {recorded}, not {corpus_dir}, and would lose "
            f"its articles to this one; leave out --corpus to use {recorded}, or give {corpus_dir} an index "
            f"directory of its own (--index DIR)"
        )
    return Path(corpus_dir), manifest


def current_corpus(corpus_dir: str | Path, manifest: Manifest | None) -> FileTable:
    """The corpus files with their hashes as a question sees them: the manifest's own table when every file
    has the size and time it recorded (most questions: no file is read), else `corpus_table` of the files."""
    listing = scan_corpus(corpus_dir)
    if manifest is not None and manifest.corpus.stats_match(listing):
        return manifest.corpus
    return corpus_table(listing.files(), manifest)


def corpus_table(files: list[CorpusFile], manifest: Manifest | None) -> FileTable:
    """The readable files with their sha256: the recorded one when a file's size and modification time are
    those the manifest recorded, else read now. `rag index` passes no manifest, so a change that kept both is
    caught."""
    built = manifest.corpus if manifest else FileTable()
    recorded = {row[0]: row[1:] for row in zip(built.sources, built.sizes, built.mtimes_ns, built.sha256)}
    table = FileTable()
    for file in files:
        size, mtime_ns, sha256 = recorded.get(file.source, (None, None, None))
        if (size, mtime_ns) != (file.size, file.mtime_ns):
            try:
                sha256 = file.sha256
            except OSError as exc:  # removed or locked since the directory was listed
                log.warning("skipping %s: cannot read it (%s)", file.source, exc.strerror or exc)
                continue
        table.sources.append(file.source)
        table.sizes.append(file.size)
        table.mtimes_ns.append(file.mtime_ns)
        table.sha256.append(sha256)
    return table


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
    return file_sha256(path) == recorded.get("sha256")


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
        "sha256": previous["sha256"] if same and previous.get("sha256") else file_sha256(path),
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


def read_manifest(index_dir: str | Path) -> Manifest | None:
    """The manifest of the current generation; None when there is no index yet."""
    path = Path(index_dir) / "current" / "manifest.json"
    if not path.exists():
        return None
    try:
        # Fields of other format versions are left out, so an older index is reported as such and rebuilt.
        data = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if k in _MANIFEST_FIELDS}
        table = data.get("corpus")
        corpus = FileTable.load(path.parent / table) if isinstance(table, str) else FileTable()
        return Manifest(**{**data, "corpus": corpus})
    except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError, zipfile.BadZipFile) as exc:
        raise IndexStateError(f"the index manifest {path} is damaged ({exc}); run `rag index` to rebuild it") from None


_MANIFEST_FIELDS = {f.name for f in fields(Manifest)}


def write_manifest(generation: Path, manifest: Manifest) -> None:
    """The manifest's JSON, with its corpus columns packed beside it."""
    manifest.corpus.save(generation / CORPUS_TABLE)
    recorded = asdict(replace(manifest, corpus=FileTable())) | {"corpus": CORPUS_TABLE}
    (generation / "manifest.json").write_text(json.dumps(recorded, indent=2), encoding="utf-8")


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
        if not path.exists() or (path.is_file() and file_sha256(path) != digest):
            raise IndexStateError(f"the index file {path} is missing or damaged; run `rag index` to rebuild it")
    try:
        documents = {
            d["source"]: Document(**d) for d in json.loads((directory / "documents.json").read_text(encoding="utf-8"))
        }
        chunks = [Chunk(**c) for c in json.loads((directory / "chunks.json").read_text(encoding="utf-8"))]
        info = DenseInfo.from_dict(manifest.dense)
        # Beside a compressed index the exact vectors stay on disk, memory-mapped: a question reads only
        # the rows it re-ranks. An exact index holds its own copy, and the rows are small enough to read.
        vectors = np.load(directory / "vectors.npy", mmap_mode="r" if info.kind == "ivfpq" else None)
        ids = np.load(directory / "ids.npy")
        dense = DenseIndex(faiss.read_index(str(directory / "dense.faiss")), vectors, ids, info)
        bm25 = bm25s.BM25.load(str(directory / "bm25"), load_corpus=False) if chunks else None
        annotation_offsets = np.load(directory / ANNOTATION_OFFSETS)
        annotations = _mapped(directory / ANNOTATIONS)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexStateError(
            f"the index in {directory} cannot be read ({exc}); run `rag index` to rebuild it"
        ) from None
    if not len(chunks) == vectors.shape[0] == len(ids) == dense.ntotal == len(annotation_offsets) - 1:
        raise IndexStateError(
            f"the index in {directory} is inconsistent (chunks and vectors differ in count); run `rag index` to rebuild it"
        )
    return Index(directory, manifest, documents, chunks, dense, bm25, annotations, annotation_offsets)


def _mapped(path: Path) -> mmap.mmap | bytes:
    """A file's bytes, memory-mapped (read as they are used); an empty file is b""."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


# --- building ----------------------------------------------------------------------------------


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


@dataclass
class Processed:
    """Corpus files read, cleaned, chunked, annotated and embedded: by this process, or by a cluster
    (rag/cluster.py)."""

    documents: dict[str, Document | None] = field(default_factory=dict)  # source -> cleaned document; None:
    # it holds no article
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)  # source -> its chunks
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # source -> one row per chunk
    annotations: dict[str, list[bytes]] = field(default_factory=dict)  # source -> a line per chunk


def annotate_chunks(chunks: list[Chunk], progress: bool = False) -> list[bytes]:
    """Each chunk's reading annotation as the line of JSON the index stores."""
    annotated = annotate([c.text for c in chunks], progress=progress)
    return [json.dumps(to_record(a), ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for a in annotated]


def process_locally(
    files: list[CorpusFile], embedder: Embedder, settings: ChunkSettings, progress: bool = False
) -> Processed:
    """Read and chunk the files here, annotate their chunks for reading and embed them all in one batch."""
    documents = {file.source: read_document(file) for file in files}
    chunks = {source: chunk_document(doc, settings) for source, doc in documents.items() if doc}
    flat = [c for doc_chunks in chunks.values() for c in doc_chunks]
    lines, vectors = [], np.zeros((0, embedder.dim), np.float32)
    if flat:
        # Annotation (spaCy, one core) and embedding run at the same time, each on a core: ONNX Runtime leaves
        # the interpreter to the annotation while it computes (bench/RESULTS.md, issue 13).
        alongside = getattr(embedder, "single_threaded", None)
        with ThreadPoolExecutor(1, thread_name_prefix="embed") as pool:
            texts = [c.text for c in flat]
            embedding = pool.submit((alongside() if alongside else embedder).embed, texts, progress=progress)
            lines = annotate_chunks(flat, progress=progress)
            vectors = embedding.result()
    processed, position = Processed(documents, chunks), 0
    for source, doc_chunks in chunks.items():
        processed.vectors[source] = vectors[position : position + len(doc_chunks)]
        processed.annotations[source] = lines[position : position + len(doc_chunks)]
        position += len(doc_chunks)
    return processed


def update_index(
    corpus_dir: str | Path | None,
    index_dir: str | Path,
    embedder: Embedder,
    *,
    settings: ChunkSettings = ChunkSettings(),
    progress: bool = False,
    process: Callable[[list[CorpusFile]], Processed] | None = None,
    encode: Callable = encode_locally,
) -> BuildReport:
    """Build or update the index of `corpus_dir` (None: the one it was built from, see `built_from`): only
    files that are new or changed are chunked and embedded (by
    `process`, here by default), and a large dense index gets their vectors added in place (shards
    encoded by `encode`). An index of an older build, which records no corpus directory, is refused a
    corpus that holds none of its files."""
    began = time.perf_counter()
    index_dir = Path(index_dir)
    process = process or (lambda pending: process_locally(pending, embedder, settings, progress))
    with _build_lock(index_dir):
        corpus_dir, manifest = built_from(corpus_dir, index_dir)
        files = list_corpus(corpus_dir)
        held = set(manifest.corpus.sources) if manifest and not manifest.corpus_dir else set()
        if held and held.isdisjoint(f.source for f in files):
            raise IndexStateError(
                f"the index in {index_dir} holds none of the files of {corpus_dir}, and (built by an older rag) "
                f"does not record the corpus it was built from; name that corpus once (--corpus DIR), or give "
                f"{corpus_dir} an index directory of its own (--index DIR)"
            )
        table = corpus_table(files, None)  # every file read: a change that kept size and time is caught too
        previous = _previous(index_dir, embedder, settings)
        plan = _plan(files, table.hashes(), previous, process)
        if not plan.documents:
            raise CorpusError(f"no readable article in {corpus_dir}: every file was empty, binary or furniture only")
        documents = group_near_duplicates(plan.documents)
        chunks, vectors, ids, next_id, annotations = _chunks_and_vectors(
            documents, plan.processed, previous, embedder.dim
        )
        dense = update_dense(previous.dense if previous else None, vectors, ids, next_id, encode=encode)
        manifest = Manifest(
            embedding_model=embedder.name,
            dim=int(vectors.shape[1]) if len(vectors) else embedder.dim,
            chunker=asdict(settings),
            corpus=table,
            corpus_dir=_relative_to(corpus_dir, index_dir),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            documents=len(documents),
            chunks=len(chunks),
            embedder=_embedder_record(index_dir, embedder, previous.manifest.embedder if previous else {}),
        )
        _write_generation(index_dir, manifest, documents, chunks, dense, annotations)
        removed = sorted(set(previous.documents if previous else ()) - {d.source for d in documents})
        index = load_index(index_dir)
    return BuildReport(
        index, [d.source for d in plan.to_embed], plan.reused, removed, plan.skipped, time.perf_counter() - began
    )


def _relative_to(corpus_dir: Path, index_dir: Path) -> str:
    """The corpus directory as the manifest records it: relative to the index directory, so both can move
    together (a clone moved elsewhere)."""
    return os.path.relpath(corpus_dir.resolve(), index_dir.resolve())


@dataclass
class _Plan:
    """What a build does with each corpus file: reuse its chunks, read and embed it, or skip it."""

    documents: list[Document] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    to_embed: list[Document] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    processed: Processed = field(default_factory=Processed)


def _plan(
    files: list[CorpusFile],
    hashes: dict[str, str],
    previous: Index | None,
    process: Callable[[list[CorpusFile]], Processed],
) -> _Plan:
    old_docs = previous.documents if previous else {}
    readable = [f for f in files if f.source in hashes]  # the others are skipped: corpus_table said why
    unchanged = {
        f.source for f in readable if (old := old_docs.get(f.source)) is not None and old.sha256 == hashes[f.source]
    }
    plan = _Plan(processed=process([f for f in readable if f.source not in unchanged]))
    for file in files:
        if file.source in unchanged:
            plan.documents.append(old_docs[file.source])
            plan.reused.append(file.source)
        elif doc := plan.processed.documents.get(file.source):
            plan.documents.append(doc)
            plan.to_embed.append(doc)
        else:
            plan.skipped.append(file.source)
    return plan


def _chunks_and_vectors(
    documents: list[Document], processed: Processed, previous: Index | None, dim: int
) -> tuple[list[Chunk], np.ndarray, np.ndarray, int, list[bytes]]:
    """Every document's chunks, vectors, chunk ids and annotations in corpus order, and the next free id:
    new documents' from `processed` with fresh ids, the others' rows (and ids) taken from the previous index."""
    old_rows: dict[str, list[int]] = {}
    for i, chunk in enumerate(previous.chunks if previous else ()):
        old_rows.setdefault(chunk.source, []).append(i)
    next_id = previous.dense.info.next_id if previous else 0
    chunks: list[Chunk] = []
    rows: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    annotations: list[bytes] = []
    for doc in documents:
        if doc.source in processed.chunks:
            count = len(processed.chunks[doc.source])
            chunks.extend(processed.chunks[doc.source])
            rows.append(processed.vectors[doc.source])
            ids.append(np.arange(next_id, next_id + count, dtype=np.int64))
            annotations.extend(processed.annotations[doc.source])
            next_id += count
        else:
            kept = old_rows.get(doc.source, [])
            chunks.extend(previous.chunks[i] for i in kept)
            rows.append(previous.vectors[kept])
            ids.append(previous.dense.ids[kept])
            annotations.extend(previous.annotation_lines(kept))
    if not chunks:
        return chunks, np.zeros((0, dim), np.float32), np.zeros(0, np.int64), next_id, annotations
    return chunks, np.concatenate(rows).astype(np.float32), np.concatenate(ids), next_id, annotations


def _write_generation(
    index_dir: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks: list[Chunk],
    dense: DenseIndex,
    annotations: list[bytes],
) -> None:
    """Write a complete new generation beside the current one and switch to it; on failure the
    previous index stays in place."""
    import bm25s
    import faiss

    manifest.faiss_index = type(dense.faiss_index).__name__
    manifest.dense = dense.info.to_dict()
    generation = None
    try:
        generation = Path(tempfile.mkdtemp(prefix="gen-", dir=index_dir))
        (generation / "documents.json").write_text(
            json.dumps([asdict(d) for d in documents], ensure_ascii=False), encoding="utf-8"
        )
        (generation / "chunks.json").write_text(
            json.dumps([asdict(c) for c in chunks], ensure_ascii=False), encoding="utf-8"
        )
        (generation / ANNOTATIONS).write_bytes(b"".join(annotations))
        np.save(generation / ANNOTATION_OFFSETS, np.cumsum([0] + [len(line) for line in annotations], dtype=np.int64))
        np.save(generation / "vectors.npy", dense.vectors)
        np.save(generation / "ids.npy", dense.ids)
        faiss.write_index(dense.faiss_index, str(generation / "dense.faiss"))
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index(
                bm25s.tokenize([c.text for c in chunks], stopwords="en", show_progress=False), show_progress=False
            )
            bm25.save(str(generation / "bm25"))
        # Every file, BM25's too: a damaged one must fail the hash check on load, not answer wrongly.
        manifest.artifacts = {
            path.relative_to(generation).as_posix(): file_sha256(path)
            for path in sorted(generation.rglob("*"))
            if path.is_file()
        }
        write_manifest(generation, manifest)
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
    corpus_dir: str | Path | None,
    index_dir: str | Path,
    embedder: Embedder,
    *,
    rebuild: bool = True,
    progress: bool = False,
    settings: ChunkSettings = ChunkSettings(),
    current: Index | None = None,
) -> Index:
    """The index for this corpus (None: the one it was built from, see `built_from`) and model: `current`
    or the one on disk when fresh, else rebuilt (or refused when rebuild is off)."""
    corpus_dir, manifest = built_from(corpus_dir, index_dir)
    corpus = current_corpus(corpus_dir, manifest)
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
