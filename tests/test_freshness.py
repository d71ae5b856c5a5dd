"""Freshness by stat: a question reads only the corpus files whose size or modification time changed;
`rag index` reads them all, so a change that kept both is caught there."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import pytest

from rag.corpus import CorpusFile, Listing, list_corpus, scan_corpus
from rag.errors import IndexStateError
from rag.index import CORPUS_TABLE, FileTable, current_corpus, open_index, read_manifest, update_index

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
    """Format 5 kept the corpus columns in the manifest's JSON, not packed beside it."""
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    path = tmp_path / "index" / "current" / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data |= {"format_version": 5, "corpus": asdict(read_manifest(tmp_path / "index").corpus)}
    (path.parent / CORPUS_TABLE).unlink()
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexStateError, match=r"out of date \(built by rag .* \(format 5\)"):
        open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False)
    index = open_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert index.manifest.corpus.sources == sorted(p.name for p in seed_corpus.iterdir())


# --- the listing and the recorded table ------------------------------------------------------------


def test_the_listing_is_in_path_order_without_hidden_files_or_links_to_folders(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    for name in ["a.txt", "b/c.md", "b/d/e.html", "b.txt", "folder.txt/f.txt", "g.TXT", ".hidden.txt", ".git/h.txt"]:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(f"{name}\n")
    (corpus / "notes.pdf").write_bytes(b"%PDF")
    (corpus / "alias.txt").symlink_to(corpus / "a.txt")  # a link to a file is read as the file
    (corpus / "link").symlink_to(corpus / "b", target_is_directory=True)  # a link to a folder is not followed
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    expected = ["a.txt", "alias.txt", "b/c.md", "b/d/e.html", "b.txt", "folder.txt/f.txt", "g.TXT"]
    listing = scan_corpus(corpus)
    assert listing.sources == expected and "dangling.txt" in caplog.text
    assert list(listing.sizes) == [(corpus / name).stat().st_size for name in expected]


def test_the_recorded_table_keeps_any_file_name(tmp_path):
    names = ["plain.txt", "línea\nnueva.txt", "日本.md", os.fsdecode(b"latin1-\xe9.txt")]
    table = FileTable(names, [1, 2, 3, 4], [10**18, 2, 3, 4], ["ab" * 32, "cd" * 32, "ef" * 32, "01" * 32])
    table.save(tmp_path / CORPUS_TABLE)
    loaded = FileTable.load(tmp_path / CORPUS_TABLE)
    assert loaded.stats_match(Listing(tmp_path, names, [1, 2, 3, 4], [10**18, 2, 3, 4]))
    assert not loaded.stats_match(Listing(tmp_path, names, [1, 2, 3, 5], [10**18, 2, 3, 4]))
    assert not loaded.stats_match(Listing(tmp_path, names[:3], [1, 2, 3], [10**18, 2, 3]))
    assert loaded == table
    FileTable().save(tmp_path / "empty.npz")
    assert FileTable.load(tmp_path / "empty.npz") == FileTable() != table


def test_a_damaged_corpus_table_is_rebuilt(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    table = tmp_path / "index" / "current" / CORPUS_TABLE
    table.write_bytes(table.read_bytes()[:100])
    with pytest.raises(IndexStateError, match="damaged"):
        read_manifest(tmp_path / "index")
    index = open_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert index.manifest.corpus.sources == sorted(p.name for p in seed_corpus.iterdir())
