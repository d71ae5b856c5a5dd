"""Dated retrieval with the fake embedder: articles published after the day asked are left out, recent
ones are preferred unless the question asks about an older time, and a bad as-of date is one clear error. Made-up pages."""

import dataclasses
import json
from datetime import date

import pytest

from rag.answer import Pipeline
from rag.cli import format_answer, main
from rag.errors import QuestionError
from rag.evaluation import parse_case
from rag.index import update_index
from rag.retrieval import recent_since, retrieve

AS_OF = date(2031, 3, 14)
PAGES = {
    "old.txt": (
        "Harbour bridge\nJanuary 5, 2020 · harbourgazette.com",
        "The harbour swing bridge reopened to traffic, the port authority said in a statement.",
    ),
    "recent.txt": (
        "Harbour crossing\nMarch 12, 2031 · harbourgazette.com",
        "Cars crossed the old harbour span again on Wednesday after a long closure for repairs, officials said.",
    ),
    "later.txt": (
        "Harbour bridge closes\nMarch 20, 2031 · harbourgazette.com",
        "The harbour swing bridge that reopened to traffic last week closed again after a gear broke, officials said.",
    ),
    "undated.txt": (
        "",
        "A ferry service will keep running across the harbour while the swing bridge is tested, the council said.",
    ),
}


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    from conftest import FakeEmbedder

    root = tmp_path_factory.mktemp("dated")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, (header, body) in PAGES.items():
        (corpus / name).write_text(f"{header}\n\n{body}\n", encoding="utf-8")
    embedder = FakeEmbedder()
    index = update_index(corpus, root / "index", embedder).index
    return corpus, root / "index", index, embedder


def sources(passages):
    return [p.source for p in passages]


def test_documents_carry_the_date_of_their_page(dated):
    _, _, index, _ = dated
    assert {s: d.date for s, d in index.documents.items()} == {
        "old.txt": "2020-01-05",
        "recent.txt": "2031-03-12",
        "later.txt": "2031-03-20",
        "undated.txt": None,
    }


def test_articles_published_after_as_of_are_left_out_undated_ones_kept(dated):
    _, _, index, embedder = dated
    question = "Did the harbour swing bridge reopen to traffic?"
    assert "later.txt" in sources(retrieve(index, embedder, question, k=4))
    found = sources(retrieve(index, embedder, question, k=4, as_of=AS_OF))
    assert "later.txt" not in found and {"old.txt", "recent.txt", "undated.txt"} <= set(found)
    assert sources(retrieve(index, embedder, question, k=4, as_of=date(2019, 1, 1))) == ["undated.txt"]


def test_a_question_prefers_the_articles_of_its_week_unless_it_asks_about_an_older_time(dated):
    _, _, index, embedder = dated
    question = "Did the harbour swing bridge reopen to traffic"
    assert sources(retrieve(index, embedder, f"{question}?", k=2, as_of=AS_OF))[0] == "recent.txt"
    assert sources(retrieve(index, embedder, f"{question} this week?", k=2, as_of=AS_OF))[0] == "recent.txt"
    assert sources(retrieve(index, embedder, f"{question} in 2020?", k=2, as_of=AS_OF))[0] == "old.txt"
    # Without a day asked, nothing is preferred.
    assert sources(retrieve(index, embedder, f"{question}?", k=2))[0] == "old.txt"


def test_the_recent_articles_a_question_prefers_start_at_its_period_or_a_week_back():
    asked = date(2031, 3, 14)
    assert recent_since("Who won the race?", asked) == date(2031, 3, 8)
    assert recent_since("Who won the race yesterday?", asked) == date(2031, 3, 13)
    assert recent_since("Who won the race last month?", asked) == date(2031, 2, 1)
    assert recent_since("Who will win the race in 2032?", asked) == date(2031, 3, 8)
    assert recent_since("Who won the race in 2019?", asked) is None


def test_the_answer_records_its_as_of_day_and_cites_dated_passages(dated, fake_embedder):
    corpus, index_dir, _, _ = dated
    pipeline = Pipeline(corpus, index_dir, "extractive", embedder=fake_embedder)
    answer = pipeline.ask("Did the harbour swing bridge reopen to traffic?", as_of="2031-03-14")
    assert answer.as_of == AS_OF
    data = answer.to_dict()
    assert data["as_of"] == "2031-03-14"
    assert all("date" in p for p in data["passages"])
    assert "later.txt" not in sources(answer.passages)
    with pytest.raises(QuestionError, match="not a calendar date"):
        pipeline.ask("Did the bridge reopen?", as_of="2031-02-30")


@pytest.mark.parametrize(
    "value, message",
    [("2022-13-01", "is not a calendar date"), ("13/01/2022", "must be written YYYY-MM-DD")],
)
def test_cli_bad_as_of_is_one_line(dated, tmp_path, capsys, value, message):
    corpus, _, _, _ = dated
    code = main(["ask", "Did the bridge reopen?", "--corpus", str(corpus), "--index", str(tmp_path), "--as-of", value])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1 and err.startswith("error: ")


def test_an_eval_line_with_a_bad_as_of_is_reported_as_malformed():
    line = {"question": "Did the bridge reopen?", "answerable": True, "accept": ["yes"], "as_of": "2031-13-01"}
    with pytest.raises(ValueError, match="as_of"):
        parse_case(json.dumps(line), 1)
    assert parse_case(json.dumps({**line, "as_of": "2031-03-14"}), 1).as_of == AS_OF


def test_cli_and_ui_show_each_source_with_its_date(dated, fake_embedder, monkeypatch):
    import rag.reading
    from app import render_answer

    # Four one-sentence pages give the learned ranker little agreement to go on: answer whatever it scores.
    learned = rag.reading.learned_ranker()
    monkeypatch.setattr(rag.reading, "learned_ranker", lambda: dataclasses.replace(learned, threshold=0.0))
    corpus, index_dir, _, _ = dated
    pipeline = Pipeline(corpus, index_dir, "extractive", embedder=fake_embedder)
    answer = pipeline.ask("When did cars cross the old harbour span again after the closure for repairs?", as_of=AS_OF)
    assert answer.citations and answer.citations[0].date == "2031-03-12"
    assert "Harbourgazette, 2031-03-12:" in format_answer(answer) and "as of 2031-03-14" in format_answer(answer)
    panel = render_answer(answer)
    assert "Harbourgazette · 2031-03-12" in panel and "as of 2031-03-14" in panel


def test_a_recent_article_about_something_else_gains_nothing(tmp_path):
    """The few recent articles of a corpus top the recent rankings whatever they are about; only those that
    share a meaningful word with the question are preferred ("its" and "may" are no such word)."""
    from conftest import FakeEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pages = {
        "bridge.txt": "Harbour bridge\nJanuary 5, 2031 · harbourgazette.com\n\n"
        "The harbour swing bridge reopened to traffic after its repairs, the port authority said.\n",
        "bakery.txt": "Bakery opens\nMarch 12, 2031 · harbourgazette.com\n\n"
        "A bakery opened its doors downtown, and its owner may hire ten more workers, she said.\n",
    }
    for name, text in pages.items():
        (corpus / name).write_text(text, encoding="utf-8")
    index = update_index(corpus, tmp_path / "index", FakeEmbedder()).index
    question = "When did the harbour swing bridge reopen after its repairs?"
    assert sources(retrieve(index, FakeEmbedder(), question, k=2, as_of=AS_OF))[0] == "bridge.txt"
