"""Dense search over chunk vectors: exact below a measured size, compressed (IVF-PQ) above it.

Every chunk has a stable integer id (`ids.npy`, one per row of `vectors.npy`): ids of unchanged articles
survive an update, new chunks get fresh ones. The FAISS index holds ids, not row numbers, so an update of
a large index removes the ids of removed or changed articles from the inverted lists and appends the new
ones, without retraining or rebuilding (`update_dense`).

Above `IVFPQ_THRESHOLD` the index keeps, per vector, a product-quantised code of `PQ_BYTES` bytes and its
8-byte id: ~47 bytes with the lists' centroids at 1M vectors, instead of 1,536 for 384 floats. The codes only shortlist candidates: the best
`RERANK` are scored again against the exact vectors, memory-mapped from disk, so the ranking a question
sees uses exact scores. The coarse quantiser and the codebooks are trained once, on a sample, and the
vectors are added in shards that are merged into one index (on a cluster, each shard can be encoded on a
worker). `DenseInfo` (kept in the manifest) records the parameters and which ids each shard holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

# Exact search reads every vector: p50 17-40 ms at 100k chunks, 150-320 ms at 1M on 2 cores (bench/RESULTS.md),
# so it passes a 50 ms budget between 180k and 270k chunks. Below this it stays exact: no training, no recall
# loss, and a rebuild is cheap; above it IVF-PQ answers in a few ms (`python -m bench cluster`).
IVFPQ_THRESHOLD = 150_000
PQ_BYTES = 32  # 384 dims in 32 sub-vectors of 12 dims, one byte each
NPROBE = 64  # inverted lists scanned per question
# Shortlisted candidates re-scored with their exact vectors. At 1M vectors drawn from real chunk embeddings,
# recall@10 against exact search was 0.53 / 0.87 / 0.99 with 50 / 200 / 1,000, at any nprobe from 16 to 128
# (p50 2.6 ms with 1,000): the 32-byte codes, not the lists probed, limit recall (`python -m bench cluster`).
RERANK = 1_000
SHARD_SIZE = 250_000  # vectors encoded per shard before merging
TRAINING_POINTS_PER_LIST = 40  # k-means sample per list (FAISS warns below 39)


@dataclass
class Shard:
    """A batch of vectors added together: ids in [first_id, end_id), `vectors` of them still present."""

    first_id: int
    end_id: int
    vectors: int


@dataclass
class DenseInfo:
    kind: Literal["flat", "ivfpq"] = "flat"  # exact, or IVF-PQ re-ranked with the exact vectors
    next_id: int = 0  # the id the next new chunk gets
    nlist: int = 0
    pq_bytes: int = 0
    nprobe: int = 0
    trained_on: int = 0
    shards: list[Shard] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> DenseInfo:
        return cls(**{**data, "shards": [Shard(**s) for s in data.get("shards", [])]})

    def to_dict(self) -> dict:
        return asdict(self)


class DenseIndex:
    """A FAISS index over chunk ids, the exact vectors (row order of the chunk store) and their ids."""

    def __init__(self, faiss_index, vectors: np.ndarray, ids: np.ndarray, info: DenseInfo):
        self.faiss_index = faiss_index
        self.vectors = vectors
        self.ids = ids
        self.info = info
        self._order = np.argsort(ids, kind="stable")  # id -> row through a sorted search
        self._sorted_ids = ids[self._order]

    @property
    def ntotal(self) -> int:
        return int(self.faiss_index.ntotal)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row numbers of chunk ids (every id must be in the index)."""
        return self._order[np.searchsorted(self._sorted_ids, ids)]

    def search(
        self, query: np.ndarray, n: int, *, allowed: np.ndarray | None = None, rerank: int = RERANK
    ) -> list[tuple[int, float]]:
        """The n best rows for one unit query vector, best first, with inner-product scores, among the
        `allowed` rows (a mask; None: all). IVF-PQ: the best `rerank` by their codes, re-scored with
        their exact vectors."""
        import faiss

        n = min(n, self.ntotal)
        if n <= 0 or (allowed is not None and not allowed.any()):
            return []
        params = None
        if allowed is not None and not allowed.all():
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(self.ids[allowed], dtype=np.int64))
            params = (
                faiss.SearchParameters(sel=selector)
                if self.info.kind == "flat"
                else faiss.SearchParametersIVF(sel=selector, nprobe=self.faiss_index.nprobe)
            )
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        shortlist = n if self.info.kind == "flat" else min(max(n, rerank), self.ntotal)
        scores, ids = self.faiss_index.search(query, shortlist, params=params)
        keep = ids[0] >= 0
        rows, scores = self.rows(ids[0][keep]), scores[0][keep]
        if self.info.kind != "flat":
            rows = np.sort(rows)  # in file order: the memory-mapped pages are read front to back
            scores = np.asarray(self.vectors[rows], dtype=np.float32) @ query[0]
            best = np.argsort(-scores, kind="stable")[:n]
            rows, scores = rows[best], scores[best]
        return [(int(r), float(s)) for r, s in zip(rows, scores)]


def nlist_for(n: int) -> int:
    """Inverted lists for n vectors: a power of two near 4·sqrt(n) (1M -> 4,096, 17M -> 16,384)."""
    return int(2 ** round(math.log2(max(256, 4 * math.sqrt(n)))))


def train_ivfpq(vectors: np.ndarray, *, seed: int = 0):
    """An empty IVF-PQ index trained on a random sample of the vectors, and the sample's size."""
    import faiss

    dim = vectors.shape[1]
    nlist = nlist_for(len(vectors))
    sample = min(len(vectors), TRAINING_POINTS_PER_LIST * nlist)
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), sample, replace=False))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, nlist, PQ_BYTES, 8, faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    index.nprobe = NPROBE
    return index, sample


def encode_shard(trained, vectors: np.ndarray, ids: np.ndarray):
    """A copy of the trained, empty index holding one shard of vectors under their ids."""
    import faiss

    shard = faiss.clone_index(trained)
    shard.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
    return shard


def encode_locally(trained, vectors: np.ndarray, ids: np.ndarray, parts: list[slice]) -> Iterator:
    """The shards one after the other in this process (cluster.py encodes them on the workers)."""
    for part in parts:
        yield encode_shard(trained, vectors[part], ids[part])


def build_dense(
    vectors: np.ndarray, ids: np.ndarray, next_id: int, *, encode: Callable = encode_locally, seed: int = 0
) -> DenseIndex:
    """A new index over all vectors: exact below the threshold, else IVF-PQ trained on a sample,
    encoded in shards of `SHARD_SIZE` vectors (by `encode`) and merged."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) < IVFPQ_THRESHOLD:
        index = faiss.IndexIDMap(faiss.IndexFlatIP(dim))
        if len(vectors):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        return DenseIndex(index, vectors, ids, DenseInfo(kind="flat", next_id=next_id))
    trained, sample = train_ivfpq(vectors, seed=seed)
    info = DenseInfo("ivfpq", next_id, trained.nlist, PQ_BYTES, NPROBE, sample)
    index = faiss.clone_index(trained)
    parts = [slice(start, start + SHARD_SIZE) for start in range(0, len(vectors), SHARD_SIZE)]
    for part, shard in zip(parts, encode(trained, vectors, ids, parts)):
        index.merge_from(shard, 0)
        info.shards.append(_shard_of(ids[part]))
    return DenseIndex(index, vectors, ids, info)


def _shard_of(ids: np.ndarray) -> Shard:
    return Shard(int(ids.min()), int(ids.max()) + 1, len(ids))


def update_dense(
    previous: DenseIndex | None,
    vectors: np.ndarray,
    ids: np.ndarray,
    next_id: int,
    *,
    encode: Callable = encode_locally,
) -> DenseIndex:
    """The index for a new generation. An IVF-PQ index whose training still fits (the new size is above
    the threshold and would not call for more than twice its inverted lists) is updated in place: ids
    that are gone are removed from the inverted lists, new ids appended as one shard, nothing retrained.
    Anything else is built anew."""
    if (
        previous is None
        or previous.info.kind != "ivfpq"
        or len(vectors) < IVFPQ_THRESHOLD
        or previous.faiss_index.d != vectors.shape[1]
        or nlist_for(len(vectors)) > 2 * previous.info.nlist
    ):
        return build_dense(vectors, ids, next_id, encode=encode)
    index = previous.faiss_index
    info = DenseInfo.from_dict(previous.info.to_dict())
    info.next_id = next_id
    gone = previous.ids[np.isin(previous.ids, ids, invert=True)]  # not setdiff1d: 7 s against 0.02 s at 1M
    if len(gone):
        index.remove_ids(gone.astype(np.int64))
        for shard in info.shards:
            shard.vectors -= int(np.count_nonzero((gone >= shard.first_id) & (gone < shard.end_id)))
        info.shards = [s for s in info.shards if s.vectors > 0]
    added = np.isin(ids, previous.ids, invert=True)
    if added.any():
        index.add_with_ids(np.ascontiguousarray(vectors[added], dtype=np.float32), ids[added].astype(np.int64))
        info.shards.append(_shard_of(ids[added]))
    return DenseIndex(index, vectors, ids, info)
