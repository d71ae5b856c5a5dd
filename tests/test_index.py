"""The index: what goes in, incremental rebuilds, stale and damaged indexes, crash safety."""

import errno

import numpy as np
import pytest

from rag.errors import IndexStateError
from rag.index import load_index, open_index, read_manifest, update_index

FURNITURE = [
    "subscribe",
    "newsletter",
    "Advertisement",
    "Powerball",
    "indicates required",
    "News Feed",
    "Latest Headlines",
]


def test_index_holds_only_article_text_and_groups_copies(seed_corpus, tmp_path, fake_embedder):
    report = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    index = report.index
    assert sorted(report.embedded) == sorted(p.name for p in seed_corpus.iterdir())
    for chunk in index.chunks:
        for phrase in FURNITURE:
            assert phrase.lower() not in chunk.text.lower(), (chunk.id, phrase)
    groups = {source[:3]: doc.group for source, doc in index.documents.items()}
    assert groups["000"] == groups["002"] != groups["001"]
    manifest = read_manifest(tmp_path / "index")
    assert manifest.embedding_model == "fake-bow" and manifest.dim == 256 and manifest.chunks == len(index.chunks)
    assert set(manifest.files) == {p.name for p in seed_corpus.iterdir()}
    assert index.vectors.shape == (len(index.chunks), 256)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)


def test_changing_one_file_re_embeds_only_that_file(seed_corpus, tmp_path, fake_embedder):
    first = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    changed = seed_corpus / "001_25f5c16d28b27090.txt"
    changed.write_text(changed.read_text().replace("more than 30 officials", "more than 40 officials"))
    fake_embedder.calls.clear()
    second = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert second.embedded == [changed.name]
    assert sorted(second.reused) == sorted(n for n in first.embedded if n != changed.name)
    assert fake_embedder.calls == [sum(c.source == changed.name for c in second.index.chunks)]
    assert any("more than 40 officials" in c.text for c in second.index.chunks)


def test_removed_and_added_files_are_reflected(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    (seed_corpus / "002_210643d04bf0a157.txt").unlink()
    report = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert report.removed == ["002_210643d04bf0a157.txt"] and report.embedded == []
    assert {c.source for c in report.index.chunks} == {"000_c86ae2c1829589a0.txt", "001_25f5c16d28b27090.txt"}


def test_a_stale_manifest_is_detected(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    (seed_corpus / "000_c86ae2c1829589a0.txt").write_text(
        "A different article about the harbour, written for this test, ends here.\n" * 3
    )
    with pytest.raises(IndexStateError, match="changed since the build: 000_c86ae2c1829589a0.txt"):
        open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False)
    fresh = open_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert any("harbour" in c.text for c in fresh.chunks)


def test_another_embedding_model_is_detected(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    fake_embedder.name = "another-model"
    with pytest.raises(IndexStateError, match="embedding model fake-bow, now another-model"):
        open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False)


def test_a_crash_mid_build_leaves_the_previous_index_usable(seed_corpus, tmp_path, fake_embedder, monkeypatch):
    before = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    (seed_corpus / "001_25f5c16d28b27090.txt").write_text(
        "Replacement text that should never be published by a crashed build.\n" * 3
    )

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash while writing vectors")

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        update_index(seed_corpus, tmp_path / "index", fake_embedder)
    monkeypatch.undo()
    after = load_index(tmp_path / "index")
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]


def test_a_damaged_file_is_detected_and_rebuilt(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    faiss_file = tmp_path / "index" / "current" / "dense.faiss"
    faiss_file.write_bytes(b"garbage" + faiss_file.read_bytes()[7:])
    with pytest.raises(IndexStateError, match="missing or damaged"):
        load_index(tmp_path / "index")
    rebuilt = open_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert rebuilt.dense.ntotal == len(rebuilt.chunks) > 0


def test_a_damaged_manifest_is_refused_clearly(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    (tmp_path / "index" / "current" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexStateError, match="manifest .* is damaged"):
        load_index(tmp_path / "index")
    assert open_index(seed_corpus, tmp_path / "index", fake_embedder).chunks


def test_a_read_only_index_directory_is_refused_clearly(seed_corpus, tmp_path, fake_embedder, monkeypatch):
    before = update_index(seed_corpus, tmp_path / "index", fake_embedder).index

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("rag.index.tempfile.mkdtemp", read_only)
    (seed_corpus / "002_210643d04bf0a157.txt").unlink()
    with pytest.raises(
        IndexStateError, match="cannot write the index .*Read-only file system.*previous index is unchanged"
    ):
        update_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert len(load_index(tmp_path / "index").chunks) == len(before.chunks)
