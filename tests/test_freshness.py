"""Freshness by stat: a question reads only the corpus files whose size or modification time changed;
`rag index` reads them all, so a change that kept both is caught there."""

from __future__ import annotations

import json
import os

import pytest

from rag.corpus import CorpusFile, list_corpus
from rag.errors import IndexStateError
from rag.index import current_corpus, open_index, read_manifest, update_index

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
    listing = [(f.source, f.size, f.mtime_ns) for f in list_corpus(seed_corpus)]
    table = manifest.corpus
    assert list(zip(table.sources, table.sizes, table.mtimes_ns)) == listing
    assert len(table.sha256) == len(listing)


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
    assert current_corpus(seed_corpus, manifest) is manifest.corpus, "a question trusts stat"
    report = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert report.embedded == [UPI]
    assert "600,000" in "".join(c.text for c in report.index.chunks if c.source == UPI)


def test_an_index_of_the_previous_format_is_reported_as_such_and_rebuilt(seed_corpus, tmp_path, fake_embedder):
    """Format 3 kept the corpus as two maps, file -> sha256 and file -> [size, mtime_ns]."""
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    path = tmp_path / "index" / "current" / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    corpus = data.pop("corpus")
    data |= {
        "format_version": 3,
        "files": dict(zip(corpus["sources"], corpus["sha256"])),
        "stats": {s: [size, t] for s, size, t in zip(corpus["sources"], corpus["sizes"], corpus["mtimes_ns"])},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexStateError, match=r"out of date \(built by rag .* \(format 3\)"):
        open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False)
    index = open_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert index.manifest.corpus.sources == sorted(p.name for p in seed_corpus.iterdir())
