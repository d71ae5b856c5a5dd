"""Cleaning, metadata and near-duplicate grouping on the seed pages and on small made-up pages."""

import pytest
from conftest import read_corpus

from rag.corpus import clean_text, group_near_duplicates, list_corpus
from rag.errors import CorpusError

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
    from conftest import SEEDS

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
