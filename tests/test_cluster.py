"""The compressed dense index (IVF-PQ: recall, updates by id, on disk) and index building on a Ray cluster.

The IVF-PQ tests use small synthetic data and run in the default suite. The Ray tests start a local cluster
and load the real embedding model: marked `cluster` and `integration`, skipped when Ray is not installed
(`pip install -e ".[cluster]"`), except under CI, where a missing Ray is an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from conftest import SEED_QUESTIONS, free_port

from rag import dense
from rag.chunking import ChunkSettings
from rag.dense import DenseInfo, build_dense, update_dense
from rag.index import load_index, update_index

DIM = 64


def clustered(n: int, rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
    """Unit vectors scattered around topic centres, like sentence embeddings of related stories."""
    x = topics[rng.integers(0, len(topics), n)] + rng.standard_normal((n, DIM), dtype=np.float32) * 0.12
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(autouse=True)
def small_ivfpq(monkeypatch):
    """IVF-PQ sized for small data (64 lists, 16-byte codes), trained on one thread: OpenMP threads
    spinning on a busy machine made training 6x slower."""
    import faiss

    monkeypatch.setattr(dense, "nlist_for", lambda n: 64)
    monkeypatch.setattr(dense, "PQ_BYTES", 16)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


@pytest.fixture
def small_threshold(monkeypatch):
    """IVF-PQ from 1,000 vectors on, so small data exercises it."""
    monkeypatch.setattr(dense, "IVFPQ_THRESHOLD", 1_000)
    monkeypatch.setattr(dense, "SHARD_SIZE", 1_500)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    topics = rng.standard_normal((50, DIM), dtype=np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    return clustered(4_000, rng, topics), clustered(50, rng, topics), clustered(300, rng, topics)


def top_rows(index, queries, k=10):
    return [[row for row, _ in index.search(q, k)] for q in queries]


def exact_rows(vectors, queries, k=10):
    return [list(np.argsort(-(vectors @ q), kind="stable")[:k]) for q in queries]


def recall(found, truth):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)])


def test_below_the_threshold_search_is_exact(data):
    vectors, queries, _ = data
    index = build_dense(vectors, np.arange(len(vectors)) + 100, len(vectors) + 100)
    assert index.info.kind == "flat"
    assert top_rows(index, queries) == exact_rows(vectors, queries)


def test_ivfpq_is_compact_and_finds_the_exact_neighbours(data, small_threshold):
    import faiss

    vectors, queries, _ = data
    index = build_dense(vectors, np.arange(len(vectors)), len(vectors))
    assert index.info.kind == "ivfpq" and type(index.faiss_index).__name__ == "IndexIVFPQ"
    assert [s.vectors for s in index.info.shards] == [1_500, 1_500, 1_000]  # encoded in shards, merged
    codes = faiss.extract_index_ivf(index.faiss_index).code_size
    assert codes == dense.PQ_BYTES < vectors.shape[1] * 4
    assert recall(top_rows(index, queries), exact_rows(vectors, queries)) >= 0.95
    row, score = index.search(vectors[123], 1)[0]
    assert row == 123 and score == pytest.approx(1.0, abs=1e-5)  # re-ranked with the exact vectors


def test_ivfpq_update_removes_and_appends_by_id_without_retraining(data, small_threshold):
    vectors, queries, extra = data
    first = build_dense(vectors, np.arange(len(vectors)), len(vectors))
    trained = first.faiss_index
    keep = np.ones(len(vectors), bool)
    keep[:200] = False  # an article removed: its chunks' ids go
    new_vectors = np.concatenate([vectors[keep], extra])
    new_ids = np.concatenate([np.arange(len(vectors))[keep], np.arange(len(vectors), len(vectors) + len(extra))])
    second = update_dense(first, new_vectors, new_ids, int(new_ids.max()) + 1)
    assert second.faiss_index is trained and second.info.trained_on == first.info.trained_on  # not rebuilt
    assert second.ntotal == len(new_vectors)
    assert second.info.shards[0].vectors == 1_300 and second.info.shards[-1] == dense.Shard(4_000, 4_300, 300)
    for q in vectors[:5]:  # a removed chunk is never found again
        assert all(new_ids[row] >= 200 for row, _ in second.search(q, 10))
    for i in (0, 150, 299):  # an added chunk is found first for its own vector
        assert second.search(extra[i], 1)[0][0] == len(vectors[keep]) + i
    assert recall(top_rows(second, queries), exact_rows(new_vectors, queries)) >= 0.95


def test_ivfpq_is_rebuilt_when_the_index_shrinks_below_the_threshold(data, small_threshold):
    vectors, _, _ = data
    first = build_dense(vectors, np.arange(len(vectors)), len(vectors))
    second = update_dense(first, vectors[:500], np.arange(500), len(vectors))
    assert second.info.kind == "flat" and second.info.next_id == len(vectors)


def write_articles(folder, count, start=0):
    folder.mkdir(exist_ok=True)
    words = "harbour budget council river school market bridge vaccine election storm".split()
    for n in range(start, start + count):
        sentences = [
            f"The {words[n % 10]} report number {n} names {words[(n + i) % 10]} figures for week {i} of the year."
            for i in range(8)
        ]
        (folder / f"{n:04d}.txt").write_text("\n\n".join(sentences) + "\n", encoding="utf-8")


def test_an_index_above_the_threshold_is_updated_in_place_and_read_back(tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(dense, "IVFPQ_THRESHOLD", 300)
    settings = ChunkSettings(max_chars=150)
    corpus = tmp_path / "corpus"
    write_articles(corpus, 90)
    first = update_index(corpus, tmp_path / "index", fake_embedder, settings=settings).index
    assert first.manifest.faiss_index == "IndexIVFPQ" and len(first.chunks) >= 300
    assert isinstance(first.vectors, np.memmap)  # exact vectors for re-ranking stay on disk
    (corpus / "0003.txt").unlink()
    write_articles(corpus, 2, start=90)
    report = update_index(corpus, tmp_path / "index", fake_embedder, settings=settings)
    second = load_index(tmp_path / "index")
    assert report.embedded == ["0090.txt", "0091.txt"] and report.removed == ["0003.txt"]
    info = DenseInfo.from_dict(second.manifest.dense)
    assert info.trained_on == first.dense.info.trained_on and len(info.shards) == 2  # appended, not retrained
    assert info.shards[1].vectors == sum(c.source in ("0090.txt", "0091.txt") for c in second.chunks)
    assert sum(s.vectors for s in info.shards) == len(second.chunks) == second.dense.ntotal
    unchanged = {c.id: i for i, c in enumerate(first.chunks)}
    for i, chunk in enumerate(second.chunks):  # unchanged chunks keep their ids and vectors
        if chunk.id in unchanged:
            assert second.dense.ids[i] == first.dense.ids[unchanged[chunk.id]]
    added = next(c for c in second.chunks if c.source == "0091.txt")
    query = fake_embedder.embed([added.text])[0]
    assert second.chunks[second.search_dense(query, 1)[0][0]] == added
    removed = next(c for c in first.chunks if c.source == "0003.txt")
    query = fake_embedder.embed([removed.text])[0]
    assert all(second.chunks[row].source != "0003.txt" for row, _ in second.search_dense(query, 50))


# --- on a Ray cluster -------------------------------------------------------------------------------


def test_without_ray_the_cluster_build_says_how_to_install_it(seed_corpus, tmp_path, monkeypatch):
    from rag.cluster import build_index_on_ray
    from rag.errors import ClusterError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ClusterError, match=r'^Ray is not installed: run `pip install -e "\.\[cluster\]"`'):
        build_index_on_ray(seed_corpus, tmp_path / "index", address="auto")
    assert not (tmp_path / "index").exists()


def require_ray():
    if os.environ.get("CI"):
        import ray  # CI installs the cluster extra: a missing Ray must fail there, not skip
    else:
        ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[cluster]")')
    return ray


@pytest.fixture(scope="module")
def local_cluster():
    ray = require_ray()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.mark.cluster
def test_a_ray_build_equals_the_local_build(local_cluster, seed_corpus, tmp_path, real_embedder):
    from rag.answer import Pipeline
    from rag.cluster import build_index_on_ray

    corpus = seed_corpus
    on_ray = build_index_on_ray(corpus, tmp_path / "ray", progress=True)
    local = update_index(corpus, tmp_path / "local", real_embedder)
    a, b = on_ray.index, local.index
    assert on_ray.embedded == local.embedded and on_ray.skipped == local.skipped
    assert a.chunks == b.chunks  # same text, ids and offsets
    assert np.allclose(a.vectors, b.vectors, atol=1e-5) and np.array_equal(a.dense.ids, b.dense.ids)
    assert a.documents == b.documents  # same metadata and near-duplicate groups
    ignored = {"built_at", "artifacts"}

    def recorded(manifest):
        """The manifest but for when things were written: the build time, and the time its ONNX export
        was written (each build exports its own; the export's hash and size are compared)."""
        kept = {k: v for k, v in vars(manifest).items() if k not in ignored}
        return {**kept, "embedder": {k: v for k, v in manifest.embedder.items() if k != "mtime_ns"}}

    assert recorded(a.manifest) == recorded(b.manifest)
    assert a.manifest.embedder["runtime"] == "onnxruntime"  # questions on a Ray-built index need no torch
    for question in SEED_QUESTIONS:
        answers = [
            Pipeline(corpus, tmp_path / name, embedder=real_embedder, generator=None).ask(question)
            for name in ("ray", "local")
        ]
        assert answers[0].text == answers[1].text
        assert [c.source for c in answers[0].citations] == [c.source for c in answers[1].citations]
    # An update through the cluster embeds only what changed.
    changed = corpus / sorted(p.name for p in corpus.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nA closing paragraph was added to this story today.\n")
    again = build_index_on_ray(corpus, tmp_path / "ray")
    assert again.embedded == [changed.name] and len(again.reused) == len(b.documents) - 1


@pytest.mark.cluster
def test_rag_index_takes_the_address_of_a_cluster_started_with_ray_start(seed_corpus, tmp_path, rag_command):
    require_ray()
    port = free_port()
    # The `ray` command of the Python running the tests (another one on PATH may be another Ray version).
    ray_bin = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    assert ray_bin, "Ray is importable but its `ray` command is on neither this Python's bin nor PATH"
    # Its own temporary directory (short: Ray's socket paths must fit 107 characters), so the address
    # file `ray start` leaves behind never points another test's ray.init() at this cluster.
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    # Token authentication off: a throwaway cluster on 127.0.0.1 whose token would be another file to share.
    env = {**os.environ, "RAY_TMPDIR": ray_tmp, "RAY_AUTH_MODE": "disabled"}
    head = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    try:
        command = ["index", "--json", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index")]
        deadline = time.monotonic() + 120
        while True:  # the head takes a few seconds to accept drivers
            result = rag_command(*command, "--ray", f"127.0.0.1:{port}", env=env)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert result.returncode == 0, result.stderr[-3000:]
        assert '"embedded": [' in result.stdout
        assert load_index(tmp_path / "index").manifest.chunks > 0
    finally:
        os.killpg(head.pid, 15)  # the head's own process group: the processes `ray start` started
        head.wait(timeout=60)
        shutil.rmtree(ray_tmp, ignore_errors=True)
