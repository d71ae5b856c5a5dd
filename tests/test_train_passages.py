"""The training script's passages are searched as an index is searched: articles published after the day
asked are left out and the recent ones preferred, among the articles of every question of the week
(`bench.train_reader.ArticlePool`, `week_articles`). Made-up pages."""

from conftest import FakeEmbedder

from bench.train_reader import ArticlePool, cached_passages, week_articles

PAGES = {
    "old.txt": "Harbour bridge\nJanuary 5, 2020 · harbourgazette.com\n\n"
    "The harbour swing bridge reopened to traffic, the port authority said in a statement.\n",
    "recent.txt": "Harbour crossing\nMarch 12, 2031 · harbourgazette.com\n\n"
    "Cars crossed the old harbour span again on Wednesday after a long closure for repairs, officials said.\n",
    "later.txt": "Harbour bridge closes\nMarch 20, 2031 · harbourgazette.com\n\n"
    "The harbour swing bridge that reopened to traffic last week closed again after a gear broke, officials said.\n",
}
FERRY = (
    "Ferry fares\nMarch 11, 2031 · harbourgazette.com\n\n"
    "The harbour ferry raised its fares for the first time in a decade, the operator said on Tuesday.\n"
)


def write_pages(tmp_path) -> None:
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")


def passages(tmp_path, question: str, as_of: str | None) -> list[str]:
    write_pages(tmp_path)
    record = {"id": "q1", "question": question, "articles": sorted(PAGES), "as_of": as_of}
    return [p.source for p in ArticlePool(record["articles"], tmp_path, FakeEmbedder()).passages(record, k=3)]


def test_train_passages_leave_out_later_articles_and_prefer_the_recent_ones(tmp_path):
    found = passages(tmp_path, "Did the harbour swing bridge reopen to traffic?", "2031-03-14")
    assert "later.txt" not in found
    assert found[0] == "recent.txt"


def test_train_passages_of_a_question_about_an_older_time_prefer_nothing(tmp_path):
    assert passages(tmp_path, "Did the harbour swing bridge reopen to traffic in 2020?", "2031-03-14")[0] == "old.txt"
    assert "later.txt" in passages(tmp_path, "Did the harbour swing bridge reopen to traffic?", None)


def test_a_question_is_searched_among_the_articles_of_every_question_of_its_week(tmp_path):
    write_pages(tmp_path)
    (tmp_path / "ferry.txt").write_text(FERRY, encoding="utf-8")
    records = [
        {"id": "bridge", "week": "w1", "question": "Did the harbour swing bridge reopen?", "articles": ["old.txt"]},
        {"id": "fares", "week": "w1", "question": "Who raised the harbour ferry fares?", "articles": ["ferry.txt"]},
        {"id": "later", "week": "w2", "question": "Why did the swing bridge close again?", "articles": ["later.txt"]},
        {"id": "alone", "question": "Did cars cross the harbour span?", "articles": ["recent.txt"]},
    ]
    articles = week_articles(records)
    assert articles == {
        "w1": ["ferry.txt", "old.txt"],
        "w2": ["later.txt"],
        "alone": ["recent.txt"],
    }
    found = cached_passages(records, articles, tmp_path, tmp_path / "passages.pkl", FakeEmbedder())
    assert {p.source for p in found["fares"]} == {"ferry.txt", "old.txt"}  # the bridge question's article too
    assert {p.source for p in found["later"]} == {"later.txt"}  # never another week's
    assert [p.source for p in found["alone"]] == ["recent.txt"]
    assert (tmp_path / "passages.pkl").exists()
