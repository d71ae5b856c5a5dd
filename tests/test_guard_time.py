"""The guard and time: the period every figure describes, timelines of figures that changed, dates
compared across outlets on the calendar, and what a figure is (a maximum, a forecast, an age, a
duration, a score) so that it is never compared with a count (fake embedder)."""

from datetime import date

import pytest

from rag.dates import Period, find_dates, find_periods
from rag.guard import review, same_period
from rag.quantities import Asked, asked_quantity, extract_quantities
from rag.retrieval import Passage


def passage(source, text, *, outlet, day):
    return Passage(f"{source}#0", source, text, 0, len(text), outlet, None, day, source, 0.0)


def period_of(text, published="2024-03-27"):
    ((_, _, period),) = find_periods(text, date.fromisoformat(published))
    return period.start.isoformat(), period.end.isoformat()


@pytest.mark.parametrize(
    "text, first, last",
    [
        ("revenue in Q1 2021", "2021-01-01", "2021-03-31"),
        ("in the first quarter of 2021", "2021-01-01", "2021-03-31"),
        ("in the fourth quarter", "2023-10-01", "2023-12-31"),  # not yet begun in March 2024: last year's
        ("in the first nine months of 2023", "2023-01-01", "2023-09-30"),
        ("from January to September last year", "2023-01-01", "2023-09-30"),
        ("the first half of 2022", "2022-01-01", "2022-06-30"),
        ("so far this year", "2024-01-01", "2024-03-27"),
        ("as of Tuesday", "2024-03-26", "2024-03-26"),
        ("as of March 1, 2024", "2024-03-01", "2024-03-01"),
        ("since January", "2024-01-01", "2024-03-27"),
        ("last month", "2024-02-01", "2024-02-29"),
        ("last week", "2024-03-18", "2024-03-24"),
        ("in 2019", "2019-01-01", "2019-12-31"),
        ("in December", "2023-12-01", "2023-12-31"),
        # a clause in the future names the next such month, past or present; a clause before it does not count
        ("The port will start charging the fee in January", "2025-01-01", "2025-01-31"),
        ("The agency is expected to decide in March", "2024-03-01", "2024-03-31"),
        ("The president will visit the U.S. in December", "2024-12-01", "2024-12-31"),
        ("Sales will rise, analysts said. Costs fell in December", "2023-12-01", "2023-12-31"),
        # a quarter as a month: the next one not yet over, in a clause about the future
        ("The firm will report results for the fourth quarter", "2024-10-01", "2024-12-31"),
        ("Deliveries are set to resume in the first quarter", "2024-01-01", "2024-03-31"),
        ("Deliveries are set to resume in Q4", "2024-10-01", "2024-12-31"),
    ],
)
def test_periods_are_resolved_against_the_publication_date(text, first, last):
    assert period_of(text) == (first, last)


def test_dates_keep_the_precision_the_text_gives():
    day, month, year = find_dates("on April 29, 2015, in April 2015 and last year", date(2024, 3, 27))
    assert [(d.year, d.month, d.day) for d in (day, month, year)] == [(2015, 4, 29), (2015, 4, 0), (2023, 0, 0)]
    assert (year.year, year.relative) == (2023, True)
    (weekday,) = find_dates("on Tuesday")
    assert (weekday.year, weekday.weekday) == (0, 2)


def test_moments_are_one_period_on_one_day_and_spans_only_when_equal():
    day = Period(date(2024, 3, 27), date(2024, 3, 27), "")
    assert same_period(day, Period(date(2024, 3, 27), date(2024, 3, 27), "stated"))
    assert not same_period(day, Period(date(2024, 3, 28), date(2024, 3, 28), ""))  # SAME_MOMENT_DAYS
    assert not same_period(day, Period(date(2024, 4, 10), date(2024, 4, 10), ""))
    quarter = Period(date(2021, 1, 1), date(2021, 3, 31), "stated")
    assert same_period(quarter, quarter) and not same_period(
        quarter, Period(date(2021, 1, 1), date(2021, 12, 31), "stated")
    )
    assert same_period(None, quarter)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("The 37-year-old actor", "age"),
        ("aged 37, he", "age"),
        ("a 22-year career", "duration"),
        ("sentenced to nine years in prison", "duration"),
        ("The team won 3-1 on Sunday", "score"),
        ("ranked No. 4 in the world", "rank"),
        ("37 players", "amount"),
    ],
)
def test_ages_durations_scores_and_ranks_are_kinds_of_their_own(text, kind):
    assert [q.kind for q in extract_quantities(text) if q.kind not in ("date",)] == [kind]


def test_questions_ask_for_ages_and_durations():
    assert asked_quantity("How old is the new chairman?").kind == "age"
    assert asked_quantity("How long was he sentenced to?").kind == "duration"
    assert asked_quantity("How many years did she serve?").kind == "duration"
    assert asked_quantity("The clock moved to how many seconds to midnight?").kind == "duration"
    assert asked_quantity("How many centuries did the dynasty rule?").kind == "duration"
    assert asked_quantity("How many more weeks will the strike last?") == Asked("duration"), "a word before the unit"
    assert asked_quantity("How many barrels were imported?") == Asked("amount", "barrel")


CASES = "The health ministry said the country has {} confirmed monkeypox cases, up from the week before."


@pytest.fixture
def three_dates():
    return [
        passage("a.txt", CASES.format("47"), outlet="CNN", day="2022-05-20"),
        passage("b.txt", CASES.format("5,000"), outlet="USA Today", day="2022-07-28"),
        passage("c.txt", CASES.format("14,000"), outlet="CNN", day="2022-08-25"),
    ]


def test_a_figure_that_changed_is_a_dated_timeline_not_a_conflict(three_dates, fake_embedder):
    report = review(
        "How many monkeypox cases?", "It has 5,000 confirmed monkeypox cases [2].", three_dates, fake_embedder
    )
    assert report.status == "changed" and report.conflicts == []
    (timeline,) = report.timelines
    assert [(r.text, r.period, r.n) for r in timeline.rows] == [
        ("47 confirmed monkeypox cases", "May 20, 2022", 1),
        ("5,000 confirmed monkeypox cases", "July 28, 2022", 2),
        ("14,000 confirmed monkeypox cases", "August 25, 2022", 3),
    ]
    assert (timeline.latest.text, timeline.as_of) == ("14,000 confirmed monkeypox cases", "August 25, 2022")
    assert (
        "As of August 25, 2022, the latest is 14,000 confirmed monkeypox cases (CNN [3], for August 25, 2022)"
        in report.summary()
    )
    assert report.to_dict()["timelines"][0]["as_of"] == "August 25, 2022"


def test_the_latest_figure_is_the_latest_as_of_the_question(three_dates, fake_embedder):
    report = review("q", "It has 47 confirmed monkeypox cases [1].", three_dates, fake_embedder, as_of="2022-08-01")
    (timeline,) = report.timelines
    assert (timeline.latest.text, timeline.as_of) == ("5,000 confirmed monkeypox cases", "August 1, 2022")
    assert (
        "As of August 1, 2022, the latest is 5,000 confirmed monkeypox cases (USA Today [2], for July 28, 2022)"
        in report.summary()
    )


def test_the_same_figure_for_the_same_period_in_two_outlets_disagrees(fake_embedder):
    text = "The company said its revenue in {} was {}, above forecasts."
    passages = [
        passage("a.txt", text.format("Q1 2021", "$4.1 billion"), outlet="Reuters", day="2021-04-28"),
        passage("b.txt", text.format("Q1 2021", "$4.7 billion"), outlet="CNBC", day="2021-05-03"),
        passage("c.txt", text.format("Q1 2023", "$6.2 billion"), outlet="CNBC", day="2023-05-02"),
    ]
    report = review("What was its revenue in Q1 2021?", "Revenue was $4.1 billion [1].", passages, fake_embedder)
    assert report.status == "conflict"
    assert [sorted(r.text for r in c.rows) for c in report.conflicts] == [["$4.1 billion", "$4.7 billion"]]
    assert [r.period for r in report.conflicts[0].rows] == ["January 1, 2021 to March 31, 2021"] * 2
    (timeline,) = report.timelines  # Q1 2023 is the same quantity at another time
    assert [r.period for r in timeline.rows] == [
        "January 1, 2021 to March 31, 2021",
        "January 1, 2023 to March 31, 2023",
    ]


def test_a_maximum_and_a_forecast_are_not_the_actual_amount(fake_embedder):
    sentence = "The former official {} prison, prosecutors said on Thursday."
    passages = [
        passage("a.txt", sentence.format("was sentenced to nine years in"), outlet="AP", day="2022-06-02"),
        passage("b.txt", sentence.format("faces up to 10 years in"), outlet="BBC", day="2022-06-02"),
        passage("c.txt", sentence.format("is expected to get 12 years in"), outlet="CNN", day="2022-06-02"),
    ]
    report = review("q", "He was sentenced to nine years [1].", passages, fake_embedder)
    assert report.status == "ok" and [r.text for r in report.values] == ["nine years"]


def test_a_scheduled_date_moved_between_two_reports_is_a_timeline(fake_embedder):
    sentence = "The trial of John Smith is set to begin on {} at the Marion County courthouse."
    passages = [
        passage("a.txt", sentence.format("January 23, 2023"), outlet="AP", day="2022-07-14"),
        passage("b.txt", sentence.format("February 6, 2023"), outlet="CNN", day="2023-01-09"),
    ]
    report = review("When does the trial begin?", "On February 6, 2023 [2].", passages, fake_embedder)
    assert report.status == "changed" and report.conflicts == []


def test_a_weekday_from_articles_of_different_days_agrees_or_is_left_apart(fake_embedder):
    sentence = "Police released the body camera footage on {} evening."
    same_day = [
        passage("a.txt", sentence.format("Monday"), outlet="AP", day="2024-09-09"),
        passage("b.txt", sentence.format("Monday"), outlet="CNN", day="2024-09-10"),  # the same Monday, the 9th
    ]
    assert review("q", "On Monday [1].", same_day, fake_embedder).status == "ok"
    other_week = [
        passage("a.txt", sentence.format("Monday"), outlet="AP", day="2024-09-09"),
        passage("b.txt", sentence.format("Monday"), outlet="CNN", day="2024-09-17"),  # Monday the 16th
    ]
    assert review("q", "On Monday [1].", other_week, fake_embedder).status == "ok"


def test_a_question_about_a_period_is_answered_from_the_sentence_stating_it(fake_embedder):
    from rag.reading import Ranker, read

    passages = [  # "Q1" of an article of 2023 is Q1 2023, though the sentence names 2021
        passage(
            "a.txt", "Acme reported revenue of $6.2 billion in Q1, well above 2021.", outlet="CNBC", day="2023-05-02"
        ),
        passage("b.txt", "Acme reported revenue of $4.1 billion in Q1.", outlet="Reuters", day="2021-04-28"),
    ]
    ranker = Ranker({"kind=MONEY": 3.0}, bias=-1.0, threshold=0.5)
    reading = read("What revenue did Acme report in Q1 2021?", passages, fake_embedder, ranker=ranker)
    assert reading.sentences[0].n == 2 and reading.short == "$4.1 billion"


def test_an_outlets_own_sources_and_ages_of_other_years_are_not_compared(fake_embedder):
    sentence = "Agents searched the house on Monday, {} familiar with the situation told reporters."
    passages = [
        passage("a.txt", sentence.format("three people"), outlet="CNN", day="2022-08-09"),
        passage("b.txt", sentence.format("two people"), outlet="USA Today", day="2022-08-09"),
    ]
    assert review("q", "Three people familiar with it said so [1].", passages, fake_embedder).status != "conflict"
    ages = [
        passage("a.txt", "The contract makes the 37-year-old the best paid player.", outlet="CNN", day="2022-08-18"),
        passage(
            "b.txt", "The contract makes the 22-year-old the best paid player.", outlet="USA Today", day="2016-07-01"
        ),
    ]
    assert review("q", "The 37-year-old [1].", ages, fake_embedder).status == "ok"
