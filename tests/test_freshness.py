"""Freshness by stat: a question reads only the corpus files whose size or modification time changed;
`rag index` reads them all, so a change that kept both is caught there."""

from __future__ import annotations

import os

from rag.corpus import CorpusFile, list_corpus
from rag.index import corpus_hashes, open_index, read_manifest, update_index

UPI = "001_25f5c16d28b27090.txt"


def hashed_files(monkeypatch) -> list[str]:
    """Record which files get hashed from now on."""
    hashed: list[str] = []
    digest = CorpusFile.sha256.func

    def recording(self):
        hashed.append(self.source)
        return digest(self)

    monkeypatch.setattr(CorpusFile, "sha256", property(recording))
    return hashed


def test_the_manifest_records_size_and_time_of_every_file(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    manifest = read_manifest(tmp_path / "index")
    assert manifest.stats == {f.source: [f.size, f.mtime_ns] for f in list_corpus(seed_corpus)}
    assert set(manifest.files) == set(manifest.stats)


def test_a_question_hashes_only_files_whose_stat_changed(seed_corpus, tmp_path, fake_embedder, monkeypatch):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    hashed = hashed_files(monkeypatch)
    open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False)
    assert hashed == []
    os.utime(seed_corpus / UPI)  # touched, not changed: hashed, found equal, nothing rebuilt
    index = open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False)
    assert hashed == [UPI] and index.manifest.chunks > 0


def test_rag_index_catches_a_change_that_kept_size_and_time(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    path = seed_corpus / UPI
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    changed = text.replace("500,000", "600,000", 1)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    manifest = read_manifest(tmp_path / "index")
    assert corpus_hashes(list_corpus(seed_corpus), manifest)[UPI] == manifest.files[UPI], "a question trusts stat"
    report = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert report.embedded == [UPI]
    assert "600,000" in "".join(c.text for c in report.index.chunks if c.source == UPI)
