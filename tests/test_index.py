"""The index: what goes in, incremental rebuilds, and every state a user can leave an index directory
in: stale, missing, killed mid-build, damaged on disk, built by another embedding model, on a read-only
disk. The index in use is never lost: each case is rebuilt, or refused with a message saying what to do."""

import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import bm25s
import faiss
import numpy as np
import pytest
from conftest import SEEDS, FakeEmbedder

import rag.answer
from rag.annotate import annotate
from rag.answer import Pipeline
from rag.chunking import split_sentences
from rag.cli import main
from rag.errors import CorpusError, IndexStateError
from rag.index import CORPUS_TABLE, load_index, open_index, read_manifest, update_index
from rag.retrieval import retrieve

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
    assert set(manifest.corpus.sources) == {p.name for p in seed_corpus.iterdir()}
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


def test_every_chunk_keeps_the_reading_annotation_it_was_built_with(seed_corpus, tmp_path, fake_embedder):
    first = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    assert [first.sentences(i) for i in range(len(first.chunks))] == [
        tuple(found) for found in annotate([c.text for c in first.chunks])
    ]
    changed = seed_corpus / "001_25f5c16d28b27090.txt"
    changed.write_text(changed.read_text().replace("more than 30 officials", "more than 40 officials"))
    second = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    before = {c.id: first.sentences(i) for i, c in enumerate(first.chunks)}
    for i, chunk in enumerate(second.chunks):
        sentences = second.sentences(i)
        assert "".join(s.text for s in sentences) == "".join(s.text for s in split_sentences(chunk.text))
        if chunk.source != changed.name:
            assert sentences == before[chunk.id], "a reused chunk keeps its annotation"
    passages = retrieve(second, fake_embedder, "How many officials attended?")
    assert passages and all(p.sentences == tuple(annotate([p.text])[0]) for p in passages)


def test_a_build_embeds_on_a_single_threaded_copy_beside_the_annotation(seed_corpus, tmp_path):
    """Annotation takes one core: the chunks are embedded meanwhile on another thread, by the embedder's
    single-threaded copy where it has one (ONNX Runtime's), with the same vectors."""

    class Copy(FakeEmbedder):
        def embed(self, texts, *, progress=False):
            self.thread = threading.current_thread()
            return super().embed(texts, progress=progress)

    class WithCopy(FakeEmbedder):
        single = Copy()

        def single_threaded(self):
            return self.single

    embedder = WithCopy()
    index = update_index(seed_corpus, tmp_path / "index", embedder).index
    assert embedder.calls == [] and embedder.single.calls == [len(index.chunks)]
    assert embedder.single.thread is not threading.main_thread()
    assert np.array_equal(index.vectors, FakeEmbedder().embed([c.text for c in index.chunks]))


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


def test_a_damaged_manifest_is_refused_clearly(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    (tmp_path / "index" / "current" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexStateError, match="manifest .* is damaged"):
        load_index(tmp_path / "index")
    assert open_index(seed_corpus, tmp_path / "index", fake_embedder).chunks


CAP = "How many barrels of refined oil may North Korea import per year under the U.N. cap?"
CHANGED = "001_25f5c16d28b27090.txt"


def change_corpus(corpus: Path) -> None:
    (corpus / CHANGED).write_text(
        "A harbour article that replaces the UPI page, written for this test, ends here.\n" * 3
    )


# --- missing ------------------------------------------------------------------------------------


def no_directory(index: Path) -> None:
    pass


def empty_directory(index: Path) -> None:
    index.mkdir()


def generation_deleted(index: Path) -> None:
    """`current` points at a generation someone deleted by hand."""
    shutil.rmtree(update_index(SEEDS, index, FakeEmbedder()).index.directory)


@pytest.mark.parametrize("make", [no_directory, empty_directory, generation_deleted])
def test_a_missing_index_is_refused_clearly_or_built(seed_corpus, tmp_path, fake_embedder, make):
    index = tmp_path / "index"
    make(index)
    with pytest.raises(IndexStateError, match=f"no index in {index}: run `rag index` to build it"):
        load_index(index)
    with pytest.raises(IndexStateError, match=r"out of date \(no index built yet\); run `rag index`"):
        open_index(seed_corpus, index, fake_embedder, rebuild=False)
    assert open_index(seed_corpus, index, fake_embedder).chunks


# --- killed mid-build ---------------------------------------------------------------------------

STEPS = {
    "numpy.save": (np, "save"),
    "faiss.write_index": (faiss, "write_index"),
    "bm25s.BM25.save": (bm25s.BM25, "save"),
}
STEPS |= {"os.symlink": (os, "symlink"), "os.replace": (os, "replace")}


def build_killed_at(step: str, corpus: Path, index: Path) -> int:
    """Run a build in a forked copy of this process that the kernel kills (SIGKILL: no `finally`, no
    cleanup) while it writes one of its files or switches `current`; returns the child's wait status."""
    child = os.fork()
    if child == 0:
        try:
            target, name = STEPS[step]
            real = getattr(target, name)

            def die(*args, **kwargs):
                if step == "os.replace" and "current" not in str(args[-1]):
                    return real(*args, **kwargs)
                os.kill(os.getpid(), signal.SIGKILL)

            setattr(target, name, die)
            update_index(corpus, index, FakeEmbedder())
        finally:
            os._exit(1)  # the build never reached the step
    deadline = time.monotonic() + 120
    while (waited := os.waitpid(child, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail(f"the build to be killed at {step} hung")
        time.sleep(0.01)
    return waited[1]


@pytest.mark.parametrize("step", list(STEPS))
def test_a_build_killed_at_any_step_leaves_the_previous_index_usable(seed_corpus, tmp_path, fake_embedder, step):
    index = tmp_path / "index"
    before = update_index(seed_corpus, index, fake_embedder).index
    change_corpus(seed_corpus)
    status = build_killed_at(step, seed_corpus, index)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    survivor = load_index(index)
    assert survivor.directory == before.directory and [c.text for c in survivor.chunks] == [
        c.text for c in before.chunks
    ]
    assert len(list(index.glob("gen-*"))) == 2, "the killed build left its partial generation behind"
    rebuilt = open_index(seed_corpus, index, fake_embedder)
    assert any("harbour article" in c.text for c in rebuilt.chunks)
    assert list(index.glob("gen-*")) == [rebuilt.directory], "the next build removes the partial generation"


# --- damaged on disk ----------------------------------------------------------------------------


def test_the_manifest_hashes_every_file_of_the_index(seed_corpus, tmp_path, fake_embedder):
    index = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    written = {p.relative_to(index.directory).as_posix() for p in index.directory.rglob("*") if p.is_file()} - {
        "manifest.json",
        CORPUS_TABLE,  # the manifest's own columns
    }
    assert set(index.manifest.artifacts) == written
    assert any(name.startswith("bm25/") for name in written)


def flip_a_byte(path: Path) -> None:
    """Silent damage: the file still parses, one value in it is wrong."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("7") if data[middle] != ord("7") else ord("8")
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    """A write cut short (disk full, power loss)."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [flip_a_byte, truncate])
@pytest.mark.parametrize(
    "name",
    ["documents.json", "chunks.json", "vectors.npy", "dense.faiss", "bm25/vocab.index.json", "bm25/data.csc.index.npy"],
)
def test_a_damaged_index_file_is_refused_clearly_and_rebuilt(seed_corpus, tmp_path, fake_embedder, name, damage):
    before = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    damage(before.directory / name)
    with pytest.raises(
        IndexStateError, match=f"the index file .*{name} is missing or damaged; run `rag index` to rebuild it"
    ):
        load_index(tmp_path / "index")
    with pytest.raises(
        IndexStateError, match=f"^the index file .*{name} is missing or damaged; run `rag index` to rebuild it$"
    ):
        Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=None, rebuild=False).ask(CAP)
    rebuilt = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=None)
    assert [c.text for c in rebuilt.index.chunks] == [c.text for c in before.chunks]
    assert np.array_equal(rebuilt.index.vectors, before.vectors)
    assert "500,000" in rebuilt.ask(CAP).text


# --- another embedding model ----------------------------------------------------------------------


class OtherEmbedder(FakeEmbedder):
    """Another model: another name, other vectors of another size."""

    name = "other-model"
    dim = 64


def test_an_index_built_with_another_embedding_model_is_fully_rebuilt(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    other = OtherEmbedder()
    with pytest.raises(IndexStateError, match="built with embedding model fake-bow, now other-model"):
        open_index(seed_corpus, tmp_path / "index", other, rebuild=False)
    index = open_index(seed_corpus, tmp_path / "index", other)
    assert index.manifest.embedding_model == "other-model" and index.vectors.shape == (len(index.chunks), 64)
    assert sum(other.calls) == len(index.chunks), "no vector of the other model is reused"
    assert "500,000" in Pipeline(seed_corpus, tmp_path / "index", embedder=other, generator=None).ask(CAP).text


# --- another corpus -------------------------------------------------------------------------------


def other_corpus(root: Path) -> Path:
    root.mkdir()
    (root / "harbour.txt").write_text(
        "Harbour workers ended their strike on Tuesday, the port authority said, written for this test.\n" * 3
    )
    return root


def test_another_corpus_is_refused_and_the_index_keeps_its_articles(
    seed_corpus, tmp_path, fake_embedder, capsys, monkeypatch
):
    monkeypatch.setattr(rag.answer, "_embedder", fake_embedder)  # the CLI's embedding model, faked
    index = tmp_path / "index"
    before = update_index(seed_corpus, index, fake_embedder).index
    other = other_corpus(tmp_path / "other")
    refusal = rf"^the index in {index} was built from the corpus {seed_corpus}, not {other}, and would lose"
    with pytest.raises(IndexStateError, match=refusal):
        update_index(other, index, fake_embedder)
    with pytest.raises(IndexStateError, match=refusal):
        open_index(other, index, fake_embedder)
    with pytest.raises(IndexStateError, match=refusal):
        Pipeline(other, index, embedder=fake_embedder, generator=None)
    (tmp_path / "questions.jsonl").write_text(json.dumps({"question": CAP, "answer": "500,000"}) + "\n")
    for command in (["index"], ["ask", CAP], ["eval", str(tmp_path / "questions.jsonl")]):
        assert main([*command, "--corpus", str(other), "--index", str(index)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: the index in {index} was built from the corpus {seed_corpus}, not {other}")
        assert f"leave out --corpus to use {seed_corpus}" in err and len(err.strip().splitlines()) == 1
    # a corpus named by mistake that is not there is reported as such, not as another corpus
    assert main(["ask", CAP, "--corpus", str(tmp_path / "missing"), "--index", str(index)]) == 2
    assert capsys.readouterr().err.startswith(f"error: corpus directory not found: {tmp_path / 'missing'}")
    after = load_index(index)
    assert after.directory == before.directory and after.documents == before.documents
    assert update_index(other, tmp_path / "index-of-other", fake_embedder).index.documents.keys() == {"harbour.txt"}


def test_without_a_corpus_the_index_reads_the_one_it_was_built_from(seed_corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    built = update_index(seed_corpus, index, fake_embedder).index
    assert open_index(None, index, fake_embedder).directory == built.directory  # fresh: not rebuilt
    pipeline = Pipeline(None, index, embedder=fake_embedder, generator=None)
    assert pipeline.corpus_dir == seed_corpus and "500,000" in pipeline.ask(CAP).text
    change_corpus(seed_corpus)
    assert any("harbour article" in c.text for c in pipeline.index.chunks)  # the update read the recorded corpus
    report = update_index(None, index, fake_embedder)
    assert report.embedded == [] and len(report.reused) == len(list(seed_corpus.iterdir()))


def test_a_new_index_without_a_corpus_is_built_from_the_bundled_seeds(tmp_path, fake_embedder, monkeypatch):
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    index = open_index(None, "index", fake_embedder)
    assert sorted(index.documents) == sorted(p.name for p in SEEDS.iterdir())
    assert read_manifest("index").corpus_dir == "../seeds"


def test_a_moved_corpus_is_found_or_taken_without_embedding_again(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.move(tmp_path, moved)  # the corpus and the index together, as a moved clone
    try:
        built = load_index(moved / "index")
        assert open_index(None, moved / "index", fake_embedder).directory == built.directory
        (moved / "corpus").rename(moved / "articles")  # the corpus alone
        with pytest.raises(CorpusError, match=r"built from the corpus .*corpus, which is no longer there; name"):
            open_index(None, moved / "index", fake_embedder)
        report = update_index(moved / "articles", moved / "index", fake_embedder)
        assert report.embedded == [] and report.removed == []
        assert open_index(None, moved / "index", fake_embedder).directory == report.index.directory
    finally:
        shutil.move(moved, tmp_path)


def test_an_index_of_an_older_build_is_refused_a_corpus_that_holds_none_of_its_files(
    seed_corpus, tmp_path, fake_embedder, monkeypatch
):
    index = tmp_path / "index"
    built = update_index(other_corpus(tmp_path / "other"), index, fake_embedder).index
    manifest = index / "current" / "manifest.json"
    manifest.write_text(json.dumps({k: v for k, v in json.loads(manifest.read_text()).items() if k != "corpus_dir"}))
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    for corpus in (None, seed_corpus):
        refusal = rf"holds none of the files of {corpus or 'seeds'}, and \(built by an older rag\) does not record"
        with pytest.raises(IndexStateError, match=refusal):
            open_index(corpus, index, fake_embedder)
    assert load_index(index).directory == built.directory
    report = update_index(tmp_path / "other", index, fake_embedder)  # named once: recorded, nothing embedded again
    assert report.embedded == [] and read_manifest(index).corpus_dir == "../other"
    assert open_index(None, index, fake_embedder).documents.keys() == {"harbour.txt"}


def test_without_a_corpus_a_damaged_manifest_is_refused_not_rebuilt_from_the_seeds(
    seed_corpus, tmp_path, fake_embedder
):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    (tmp_path / "index" / "current" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexStateError, match=r"so the corpus it was built from is not known; rebuild it naming"):
        open_index(None, tmp_path / "index", fake_embedder)
    assert open_index(seed_corpus, tmp_path / "index", fake_embedder).documents.keys() == {
        p.name for p in seed_corpus.iterdir()
    }


# --- read-only ------------------------------------------------------------------------------------

_read_only: set[str] = set()
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CHANGING = {
    "os.mkdir": (0,),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.symlink": (1,),
    "os.link": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
}


def _refuse_writes(event: str, args: tuple) -> None:
    """Audit hook: what a read-only mount does, for every write Python makes (open for writing, mkdir,
    rename, symlink, unlink ...) under a directory in `_read_only`."""
    if not _read_only:
        return
    if event == "open":
        paths = [args[0]] if args[2] & _WRITING else []
    else:
        paths = [args[i] for i in _CHANGING.get(event, ())]
    for path in paths:
        if isinstance(path, (str, bytes, os.PathLike)) and any(
            os.path.abspath(os.fsdecode(path)).startswith(d) for d in _read_only
        ):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))


sys.addaudithook(_refuse_writes)  # hooks cannot be removed; it does nothing while `_read_only` is empty


@contextlib.contextmanager
def read_only(directory: Path):
    _read_only.add(str(directory.resolve()) + os.sep)
    try:
        yield
    finally:
        _read_only.clear()


def test_a_fresh_index_on_a_read_only_disk_answers_without_writing(seed_corpus, tmp_path, fake_embedder):
    update_index(seed_corpus, tmp_path / "index", fake_embedder)
    with read_only(tmp_path / "index"):
        with pytest.raises(OSError, match="Read-only"):
            (tmp_path / "index" / "probe").write_text("the simulation refuses writes")
        for rebuild in (False, True):
            assert (
                "500,000"
                in Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=None, rebuild=rebuild)
                .ask(CAP)
                .text
            )


def read_only_index_directory(index: Path, monkeypatch) -> tuple[contextlib.AbstractContextManager, str]:
    """The whole index directory is on a read-only disk: not even the build's lock file can be written."""
    return read_only(index), "pass --index with a writable directory"


def read_only_new_generation(index: Path, monkeypatch) -> tuple[contextlib.AbstractContextManager, str]:
    """The build's lock is taken, then writing the new generation fails."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("rag.index.tempfile.mkdtemp", refuse)
    return contextlib.nullcontext(), "the previous index is unchanged"


@pytest.mark.parametrize("where", [read_only_index_directory, read_only_new_generation])
def test_a_stale_index_on_a_read_only_disk_is_refused_in_one_line_and_kept(
    seed_corpus, tmp_path, fake_embedder, capsys, monkeypatch, where
):
    monkeypatch.setattr(rag.answer, "_embedder", fake_embedder)  # the CLI's embedding model, faked
    before = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    change_corpus(seed_corpus)
    disk, advice = where(tmp_path / "index", monkeypatch)
    with disk:
        with pytest.raises(
            IndexStateError, match=rf"^cannot write the index in .*index \(Read-only file system\); {advice}$"
        ):
            Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=None).ask(CAP)
        assert main(["index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the index") and f"(Read-only file system); {advice}" in err
    assert len(err.strip().splitlines()) == 1
    after = load_index(tmp_path / "index")
    assert after.directory == before.directory and [c.text for c in after.chunks] == [c.text for c in before.chunks]
