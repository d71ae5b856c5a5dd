"""The training script's passages are searched as an index is searched: articles published after the day
asked are left out and the recent ones preferred (`bench.train_reader.question_passages`). Made-up pages."""

from conftest import FakeEmbedder

from bench.train_reader import question_passages

PAGES = {
    "old.txt": "Harbour bridge\nJanuary 5, 2020 · harbourgazette.com\n\n"
    "The harbour swing bridge reopened to traffic, the port authority said in a statement.\n",
    "recent.txt": "Harbour crossing\nMarch 12, 2031 · harbourgazette.com\n\n"
    "Cars crossed the old harbour span again on Wednesday after a long closure for repairs, officials said.\n",
    "later.txt": "Harbour bridge closes\nMarch 20, 2031 · harbourgazette.com\n\n"
    "The harbour swing bridge that reopened to traffic last week closed again after a gear broke, officials said.\n",
}


def passages(tmp_path, question: str, as_of: str | None) -> list[str]:
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    record = {"id": "q1", "question": question, "articles": sorted(PAGES), "as_of": as_of}
    return [p.source for p in question_passages(record, tmp_path, FakeEmbedder(), k=3)]


def test_train_passages_leave_out_later_articles_and_prefer_the_recent_ones(tmp_path):
    found = passages(tmp_path, "Did the harbour swing bridge reopen to traffic?", "2031-03-14")
    assert "later.txt" not in found
    assert found[0] == "recent.txt"


def test_train_passages_of_a_question_about_an_older_time_prefer_nothing(tmp_path):
    assert passages(tmp_path, "Did the harbour swing bridge reopen to traffic in 2020?", "2031-03-14")[0] == "old.txt"
    assert "later.txt" in passages(tmp_path, "Did the harbour swing bridge reopen to traffic?", None)
