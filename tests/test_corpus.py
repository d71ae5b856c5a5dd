"""Reading a corpus: cleaning, metadata and near-duplicate grouping on the seed pages and on small
made-up pages, and corpus folders as users really have them: stray binaries, old encodings, empty and
huge files, copies, files that vanish. Each unusable file is skipped with a warning naming it, and the
index holds exactly the readable files; a folder with nothing readable is refused in one line and the
previous index is left as it was."""

import json
import logging

import pytest
from conftest import SEEDS, read_corpus

from rag.answer import Pipeline
from rag.cli import main
from rag.corpus import clean_text, group_near_duplicates, list_corpus
from rag.errors import CorpusError, IndexStateError
from rag.index import load_index, open_index, read_manifest, update_index

FURNITURE = [
    "Subscribe",
    "newsletter",
    "indicates required",
    "Advertisement",
    "Powerball",
    "News Feed",
    "Latest Headlines",
    "Trending",
    "License Photo",
    "Photo for illustrative purposes",
    "Zelensky meets",
    "Suicide attack",
    "war effort may not be as formidable",
]


@pytest.fixture(scope="module")
def seed_documents():
    return {d.source[:3]: d for d in read_corpus(SEEDS)}


def test_furniture_is_removed_and_the_article_kept(seed_documents):
    for doc in seed_documents.values():
        for phrase in FURNITURE:
            assert phrase not in doc.text, (doc.source, phrase)
    assert "more than 1.5 million barrels of refined oil" in seed_documents["001"].text
    assert "more than 1.5 billion barrels of refined oil" in seed_documents["000"].text
    assert seed_documents["000"].text.startswith("The U.S. and South Korea held their first joint meeting")
    assert seed_documents["000"].text.endswith("officially confirmed in the attack on Kharkiv on Jan. 2.")


def test_metadata_is_read_from_the_page(seed_documents):
    kyiv, upi = seed_documents["000"], seed_documents["001"]
    assert (kyiv.outlet, kyiv.date, kyiv.byline) == (
        "Kyiv Independent",
        "2024-03-27",
        "Nate Ostiller and The Kyiv Independent news desk",
    )
    assert kyiv.title == "US, South Korea launch task force to combat illegal shipment of oil to North Korea"
    assert (upi.outlet, upi.date, upi.byline) == ("UPI", "2024-03-27", "Thomas Maresca")
    assert upi.title == "U.S., South Korea launch task force to thwart North Korean oil smuggling"


def test_a_bare_copy_joins_its_story_and_borrows_its_metadata(seed_documents):
    assert seed_documents["002"].group == seed_documents["000"].group != seed_documents["001"].group
    assert seed_documents["002"].outlet == "Kyiv Independent"
    assert seed_documents["002"].text == seed_documents["000"].text


def test_copies_with_a_changed_figure_stay_separate_documents_in_one_group(seed_documents):
    edited = clean_text(
        seed_documents["001"].text.replace("7,000 containers", "70,000 containers"), source="edited.txt"
    )
    grouped = group_near_duplicates([seed_documents["001"], edited])
    assert grouped[0].group == grouped[1].group
    assert "70,000 containers" in grouped[1].text and "70,000" not in grouped[0].text


def test_unrelated_stories_are_not_grouped():
    a = clean_text(
        "Officials said the new bridge across the river will open to traffic next spring after delays.", source="a.txt"
    )
    b = clean_text(
        "The football club announced that its coach signed a new contract running until the end of 2027.",
        source="b.txt",
    )
    assert {d.group for d in group_near_duplicates([a, b])} == {"a.txt", "b.txt"}


def test_corpus_errors_say_what_to_do(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        list_corpus(tmp_path / "missing")
    with pytest.raises(CorpusError, match="no article files"):
        list_corpus(tmp_path)


def test_html_and_markdown_are_read(tmp_path):
    body = " ".join(["The council approved a budget of 12 million euros for the new library on Monday."] * 3)
    (tmp_path / "a.html").write_text(
        f"<html><head><title>Library budget approved</title></head><body><nav>Subscribe to our newsletter</nav><article><h1>Library budget approved</h1><p>{body}</p></article></body></html>"
    )
    (tmp_path / "b.md").write_text(
        f"# Council backs [library](http://x) plan\n\n{body.replace('12 million', '12.5 million')}\n"
    )
    docs = {d.source: d for d in read_corpus(tmp_path)}
    assert "12 million euros" in docs["a.html"].text and "newsletter" not in docs["a.html"].text
    assert "12.5 million euros" in docs["b.md"].text and "](" not in docs["b.md"].text


# --- messy folders --------------------------------------------------------------------------------

SEED_FILES = {"000_c86ae2c1829589a0.txt", "001_25f5c16d28b27090.txt", "002_210643d04bf0a157.txt"}
UPI = "001_25f5c16d28b27090.txt"
IMPORTS = "How much refined oil did North Korea import in the first nine months of 2023?"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 40
FIFTY_MB = 50 * 2**20
# One paragraph the cleaner keeps (8+ words, ends a sentence), in characters Windows-1252 can encode.
ACCENTED = "The café owner in Málaga said the new terrace cost €12,000 — twice the council’s estimate."


def warnings_about(caplog, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "rag" and r.levelno == logging.WARNING and name in r.getMessage()
    ]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("photo.txt", lambda: PNG, "skipping photo.txt: it is a binary file, not text"),
        ("empty.txt", lambda: b"", "skipping empty.txt: the file is empty"),
        ("blank.md", lambda: b" \n\t\r\n", "skipping blank.md: the file is empty"),
        (
            "menu.html",
            lambda: b"<html><body><nav>Home | World | Sport</nav></body></html>",
            "skipping menu.html: no article text left",
        ),
        (
            "dump.txt",
            lambda: b"A line of a database dump that is not an article.\n" * (FIFTY_MB // 50),
            "skipping dump.txt: 50.0 MB is too large for an article (limit 20 MB)",
        ),
    ],
    ids=["binary", "empty", "whitespace-only", "furniture-only", "50-MB"],
)
def test_an_unusable_file_is_skipped_with_a_warning_naming_it(
    seed_corpus, tmp_path, fake_embedder, caplog, name, content, reason
):
    (seed_corpus / name).write_bytes(content())
    report = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert report.skipped == [name]
    assert [message for message in warnings_about(caplog, name) if message.startswith(reason)], caplog.text
    assert set(report.index.documents) == {c.source for c in report.index.chunks} == SEED_FILES
    # The skipped file is recorded as seen, so it does not make the index look stale on every question.
    assert name in read_manifest(tmp_path / "index").corpus.sources
    assert (
        open_index(seed_corpus, tmp_path / "index", fake_embedder, rebuild=False).manifest.built_at
        == report.index.manifest.built_at
    )


@pytest.mark.parametrize(
    "encoding, warned", [("cp1252", True), ("utf-16", False)], ids=["windows-1252", "utf-16-with-bom"]
)
def test_a_non_utf8_file_is_decoded_not_garbled(seed_corpus, tmp_path, fake_embedder, caplog, encoding, warned):
    """Windows-1252 is a guess, so it is reported by name; UTF-16 says what it is in its byte-order mark."""
    (seed_corpus / "malaga.txt").write_bytes(f"{ACCENTED}\n".encode(encoding))
    index = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    assert index.documents["malaga.txt"].text == ACCENTED
    assert bool(warnings_about(caplog, "malaga.txt")) == warned
    if warned:
        assert "malaga.txt is not UTF-8; read it as Windows-1252" in warnings_about(caplog, "malaga.txt")[0]
    hits = index.search_keywords("café Málaga terrace", 3)
    assert index.chunks[hits[0][0]].source == "malaga.txt"


def test_identical_files_count_as_one_source(seed_corpus, tmp_path, real_embedder):
    """A second download of the UPI page must not look like a second outlet confirming its figures."""
    clean = Pipeline(SEEDS, tmp_path / "clean-index", embedder=real_embedder, generator=None).ask(IMPORTS)
    (seed_corpus / "001_copy.txt").write_bytes((seed_corpus / UPI).read_bytes())
    pipeline = Pipeline(seed_corpus, tmp_path / "index", embedder=real_embedder, generator=None)
    documents = pipeline.index.documents
    assert (
        documents["001_copy.txt"].group == documents[UPI].group
        and documents["001_copy.txt"].text == documents[UPI].text
    )
    answer = pipeline.ask(IMPORTS)
    texts = [p.text for p in answer.passages]
    assert len(texts) == len(set(texts)), "a copy of a chosen passage is folded into it"
    assert any({p.source, *p.also_in} == {UPI, "001_copy.txt"} for p in answer.passages)
    assert answer.guard.status == clean.guard.status == "conflict"
    assert sorted((row.text, row.outlet) for row in answer.guard.values) == sorted(
        (row.text, row.outlet) for row in clean.guard.values
    )


def test_a_file_removed_while_the_index_is_built_is_skipped_then_dropped(
    seed_corpus, tmp_path, fake_embedder, caplog, monkeypatch
):
    import rag.index

    vanishing = seed_corpus / UPI
    listed = rag.index.list_corpus

    def list_then_remove(corpus_dir):
        files = listed(corpus_dir)
        vanishing.unlink()  # the user tidies the folder while the build runs
        return files

    monkeypatch.setattr(rag.index, "list_corpus", list_then_remove)
    report = update_index(seed_corpus, tmp_path / "index", fake_embedder)
    monkeypatch.undo()
    assert report.skipped == [UPI]
    assert warnings_about(caplog, UPI) == [f"skipping {UPI}: cannot read it (No such file or directory)"]
    assert set(report.index.documents) == {c.source for c in report.index.chunks} == SEED_FILES - {UPI}
    refreshed = open_index(seed_corpus, tmp_path / "index", fake_embedder)
    assert set(refreshed.documents) == set(refreshed.manifest.corpus.sources) == SEED_FILES - {UPI}


def test_a_file_removed_between_questions_is_no_longer_cited(seed_corpus, tmp_path, fake_embedder):
    pipeline = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=None)
    assert UPI in {p.source for p in pipeline.ask(IMPORTS).passages}
    (seed_corpus / UPI).unlink()
    with pytest.raises(IndexStateError, match=rf"removed since the build: {UPI}\); run `rag index`"):
        Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=None, rebuild=False).ask(IMPORTS)
    answer = pipeline.ask(IMPORTS)
    assert UPI not in {p.source for p in answer.passages} | {c.source for c in answer.citations}
    assert "1.5 million" not in answer.text


@pytest.mark.parametrize(
    "files, warnings, error",
    [
        ({}, [], "no article files in {corpus}: add .txt, .md or .html files"),
        ({"report.pdf": b"%PDF-1.7\n", "notes.docx": b"PK\x03\x04"}, [], "no article files in {corpus}"),
        (
            {"empty.txt": b"", "photo.txt": PNG},
            ["skipping empty.txt: the file is empty", "skipping photo.txt: it is a binary file, not text"],
            "no readable article in {corpus}: every file was empty, binary or furniture only",
        ),
    ],
    ids=["empty-folder", "no-supported-files", "nothing-readable"],
)
def test_a_corpus_with_nothing_to_index_is_refused_and_the_old_index_kept(
    seed_corpus, tmp_path, fake_embedder, capsys, files, warnings, error
):
    before = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    corpus = seed_corpus
    for article in corpus.iterdir():  # every article goes from the corpus the index was built from
        article.unlink()
    for name, content in files.items():
        (corpus / name).write_bytes(content)
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")]) == 2
    *shown, last = capsys.readouterr().err.strip().splitlines()
    assert shown == [f"warning: {warning}" for warning in warnings]
    assert last.startswith("error: " + error.format(corpus=corpus))
    after = load_index(tmp_path / "index")
    assert after.directory == before.directory and [c.text for c in after.chunks] == [c.text for c in before.chunks]


def test_cli_index_of_a_messy_folder_warns_once_per_bad_file_and_indexes_the_rest(seed_corpus, tmp_path, rag_command):
    """The real command, as a user runs it: one `warning:` line per skipped or re-decoded file, no traceback."""
    bad = {"photo.txt": PNG, "empty.txt": b"", "dump.txt": b"x" * (FIFTY_MB + 1)}
    for name, content in bad.items():
        (seed_corpus / name).write_bytes(content)
    (seed_corpus / "malaga.txt").write_bytes(f"{ACCENTED}\n".encode("cp1252"))
    (seed_corpus / "001_copy.txt").write_bytes((seed_corpus / UPI).read_bytes())
    result = rag_command("index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"), "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert sorted(w.split()[2].rstrip(":") for w in warnings if w.startswith("warning: skipping")) == sorted(bad)
    assert any(w.startswith("warning: malaga.txt is not UTF-8") for w in warnings)
    summary = json.loads(result.stdout)
    assert sorted(summary["skipped"]) == sorted(bad)
    assert summary["documents"] == len(SEED_FILES) + 2  # the re-decoded file and the copy
    assert summary["corpus"] == str(seed_corpus.resolve())
