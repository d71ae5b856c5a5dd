"""Dates as pages and questions write them: date lines of a page header, relative dates of a question
resolved against the day it is asked, and the as-of date a user gives. Every line here is made up."""

from datetime import date, datetime

import pytest

from rag.dates import Period, find_date, parse_as_of, question_period, split_date_line
from rag.errors import QuestionError

FRIDAY = date(2031, 3, 14)  # a Friday


@pytest.mark.parametrize(
    "line, day, rest",
    [
        ("March 14, 2031 · example.com", date(2031, 3, 14), "· example.com"),
        ("Published 5:00 PM EDT, Fri March 14, 2031", date(2031, 3, 14), ","),
        ("By Ada Lovelace | Mar. 14, 2031", date(2031, 3, 14), "By Ada Lovelace |"),
        ("2031-03-14T09:30:00Z", date(2031, 3, 14), ""),
        ("2031-03-14T09:30:00+01:00", date(2031, 3, 14), ""),
        ("Friday 14 March 2031", date(2031, 3, 14), ""),
        ("Updated 10:15 a.m. ET Sept. 3, 2030", date(2030, 9, 3), ""),
        ("2030/09/03", date(2030, 9, 3), ""),
        ("No date on this line at all", None, "No date on this line at all"),
    ],
)
def test_a_date_line_gives_its_date_and_what_else_it_says(line, day, rest):
    assert split_date_line(line) == (day, rest)


def test_a_sentence_that_mentions_a_date_keeps_its_words():
    found, rest = split_date_line("The bridge reopened on June 2, 2030 after two years of repairs.")
    assert found == date(2030, 6, 2)
    assert len(rest.split()) > 5  # a caller can tell it from a date line


def test_impossible_dates_are_not_dates():
    assert find_date("filed on February 30, 2030") is None
    assert find_date("2030-13-01") is None
    assert find_date("order 12345-2030-01") is None


@pytest.mark.parametrize(
    "question, start, end",
    [
        ("Which bridge reopened this week?", date(2031, 3, 8), FRIDAY),
        ("Who resigned earlier this week?", date(2031, 3, 8), FRIDAY),
        ("What did the council approve last week?", date(2031, 3, 1), date(2031, 3, 7)),
        ("What happened yesterday in the harbour?", date(2031, 3, 13), date(2031, 3, 13)),
        ("Which team won today?", FRIDAY, FRIDAY),
        ("Which mayor died Sunday?", date(2031, 3, 9), date(2031, 3, 9)),
        ("What opened last Friday?", date(2031, 3, 7), date(2031, 3, 7)),
        ("What closed three days ago?", date(2031, 3, 11), date(2031, 3, 11)),
        ("How much did rents rise last month?", date(2031, 2, 1), date(2031, 2, 28)),
        ("How much have rents risen this month?", date(2031, 3, 1), FRIDAY),
        ("Which film earned the most this year?", date(2031, 1, 1), FRIDAY),
        ("Which film earned the most last year?", date(2030, 1, 1), date(2030, 12, 31)),
        ("What is the latest count of rescued whales?", date(2031, 2, 13), FRIDAY),
    ],
)
def test_relative_dates_resolve_against_the_day_asked(question, start, end):
    period = question_period(question, FRIDAY)
    assert (period.start, period.end) == (start, end)
    assert period.phrase.lower() in question.lower()


def test_a_question_without_a_relative_date_has_no_period():
    assert question_period("Which river floods the valley every spring?", FRIDAY) is None


def test_a_period_holds_its_days():
    period = Period(date(2031, 3, 8), FRIDAY, "this week")
    assert date(2031, 3, 10) in period and date(2031, 3, 7) not in period


def test_as_of_accepts_dates_and_iso_strings_and_defaults_to_today():
    assert parse_as_of("2031-03-14") == FRIDAY
    assert parse_as_of(FRIDAY) == FRIDAY
    assert parse_as_of(datetime(2031, 3, 14, 18, 30)) == FRIDAY
    assert parse_as_of(None) == date.today()


@pytest.mark.parametrize(
    "value, message",
    [
        ("2031-13-01", "not a calendar date"),
        ("2031-02-30", "not a calendar date"),
        ("14/03/2031", "YYYY-MM-DD"),
        ("next friday", "YYYY-MM-DD"),
        (20310314, "not int"),
    ],
)
def test_a_bad_as_of_date_is_a_clear_error(value, message):
    with pytest.raises(QuestionError, match=message):
        parse_as_of(value)
