"""Labels from the page, never from the file name: outlet, title and date read from a page's header
(host line, date line, by-line, dateline), and a neutral label when the page names no outlet.
Every page here is made up."""

import pytest

from rag.corpus import clean_text, outlet_from_host
from rag.retrieval import UNNAMED_SOURCE, Passage

BODY = (
    "The harbour authority said on Monday that the old swing bridge will reopen to traffic next spring.\n\n"
    "Engineers replaced the rusted gears and repainted the towers over the winter months."
)


@pytest.mark.parametrize(
    "host, outlet",
    [
        ("cnn.com", "CNN"),
        ("edition.cnn.com", "CNN"),
        ("usatoday.com", "USA Today"),
        ("theweek.co.uk", "The Week"),
        ("www.reuters.com", "Reuters"),
        ("upi.com", "UPI"),
        ("harbour-gazette.org", "Harbour Gazette"),
        ("localhost", None),
    ],
)
def test_an_outlet_is_named_from_its_host(host, outlet):
    assert outlet_from_host(host) == outlet


@pytest.mark.parametrize(
    "header, title, day, outlet",
    [
        (
            "Swing bridge to reopen next spring, harbour authority says ...\nMarch 14, 2031 · harbourgazette.com",
            "Swing bridge to reopen next spring, harbour authority says ...",
            "2031-03-14",
            "Harbourgazette",
        ),
        ("Swing bridge to reopen - CNN\nMarch 14, 2031 · cnn.com", "Swing bridge to reopen", "2031-03-14", "CNN"),
        (
            "Swing bridge to reopen | The ...\nMarch 14, 2031 · theweek.co.uk",
            "Swing bridge to reopen",
            "2031-03-14",
            "The Week",
        ),
        ("Swing bridge to reopen\nBy Ada Lovelace | Mar. 14, 2031", "Swing bridge to reopen", "2031-03-14", None),
        (
            "Swing bridge to reopen\nPublished 5:00 PM EDT, Fri March 14, 2031",
            "Swing bridge to reopen",
            "2031-03-14",
            None,
        ),
        ("2031-03-14T09:30:00Z\nSwing bridge to reopen", "Swing bridge to reopen", "2031-03-14", None),
    ],
)
def test_title_date_and_outlet_come_from_the_header_and_stay_out_of_the_body(header, title, day, outlet):
    doc = clean_text(f"{header}\n\n{BODY}", source="harbour-2031-five-things-march-14.txt")
    assert (doc.title, doc.date, doc.outlet) == (title, day, outlet)
    assert doc.text == BODY


def test_a_title_that_reads_like_a_sentence_is_still_the_title():
    title = "Five things to know about the bridge that reopens next spring after the long winter."
    doc = clean_text(f"{title}\nMarch 14, 2031 · example.com\n\n{BODY}", source="a.txt")
    assert doc.title == title and title not in doc.text


def test_the_date_line_wins_over_a_date_in_the_title():
    doc = clean_text(f"What happened on June 2, 2030 at the bridge\nMarch 14, 2031 · example.com\n\n{BODY}", source="a")
    assert doc.date == "2031-03-14"


def test_a_byline_with_a_date_gives_both():
    doc = clean_text(f"Swing bridge to reopen\nBy Ada Lovelace | March 14, 2031\n\n{BODY}", source="a.txt")
    assert (doc.byline, doc.date) == ("Ada Lovelace", "2031-03-14")


@pytest.mark.parametrize(
    "first, outlet",
    [
        ("(CNN) The harbour authority said on Monday that the old bridge will reopen next spring.", "CNN"),
        ("Port Town (Harbour Wire) The authority said on Monday that the old bridge will reopen soon.", "Harbour Wire"),
        ("PORT TOWN, March 14 (UPI) -- The authority said on Monday that the old bridge will reopen.", "UPI"),
    ],
)
def test_a_dateline_names_the_outlet(first, outlet):
    assert clean_text(f"{first}\n\n{BODY}", source="a.txt").outlet == outlet


def test_a_sentence_with_a_name_in_brackets_is_not_a_dateline():
    text = "Mayor Ann Lee (Independent) said on Monday that the old bridge will reopen next spring."
    assert clean_text(f"{text}\n\n{BODY}", source="a.txt").outlet is None


def test_a_page_without_an_outlet_gets_a_neutral_label_not_its_file_name():
    doc = clean_text(BODY, source="gazette-20310314-five-things-march-14-3f2a.txt")
    passage = Passage("x#0", doc.source, doc.text, 0, len(doc.text), doc.outlet, doc.title, doc.date, doc.source, 1.0)
    assert doc.outlet is None and passage.label == UNNAMED_SOURCE
    assert not any(ch.isdigit() for ch in passage.label)


def test_a_date_heading_inside_an_article_is_not_its_header():
    first, second = BODY.split("\n\n")
    doc = clean_text(f"{first}\n\n{second}\n\nMarch 3, 2031\n\n{first.replace('Monday', 'Tuesday')}", source="a.txt")
    assert doc.text.startswith(first) and doc.date is None
