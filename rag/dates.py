"""Calendar words and dates as news text writes them: one home for month and weekday names, for
reading a written date ("August 5, 2022", "5 Aug 2022", "2022-08-05"), for telling a page's date line
("Published 5:00 PM EDT, Fri August 5, 2022") from text, and for resolving the relative dates of a
question ("this week", "last month", "yesterday") against the day it is asked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .errors import QuestionError

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "", "Jun", "Jul", "Aug", "Sept|Sep", "Oct", "Nov", "Dec")
# Lower-cased month name or abbreviation -> month number (1-12).
MONTHS = {
    name.lower(): number
    for number, (full, short) in enumerate(zip(MONTH_NAMES, _ABBREVIATIONS), start=1)
    for name in (full, *filter(None, short.split("|")))
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Regex alternations (no groups) for a month written in full, and in full or abbreviated ("Aug.", "Sept").
MONTH_FULL = "(?:" + "|".join(MONTH_NAMES) + ")"
MONTH_ANY = rf"(?:{MONTH_FULL}|(?:{'|'.join(a for a in _ABBREVIATIONS if a)})\.?)"
_LONG_DATE = re.compile(rf"\b(?P<month>{MONTH_ANY})\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})\b", re.I)
# British order: "5 August 2022", "Friday 5th Aug 2022".
_DAY_FIRST_DATE = re.compile(
    rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?P<month>{MONTH_ANY}),?\s+(?P<year>\d{{4}})\b", re.I
)
# "2022-08-05", "2022/08/05", and the date of a timestamp ("2022-08-05T14:03:00Z").
_ISO_DATE = re.compile(r"(?<![\d/-])(?P<year>\d{4})([-/])(?P<month>[01]?\d)\2(?P<day>[0-3]?\d)(?![\d/-])")


def month_number(name: str) -> int:
    """1-12 for a month name or abbreviation ("Sept.", "august"); KeyError for anything else."""
    return MONTHS[name.rstrip(".").lower()]


def find_date(text: str) -> date | None:
    """The first complete calendar date written in `text` ("August 5, 2022", "5 Aug 2022", "2022-08-05")."""
    found = _find_date_span(text)
    return found[0] if found else None


def _find_date_span(text: str) -> tuple[date, int, int] | None:
    """The first complete calendar date in `text` with its character span."""
    candidates = [m for pattern in (_LONG_DATE, _DAY_FIRST_DATE, _ISO_DATE) for m in pattern.finditer(text)]
    for found in sorted(candidates, key=lambda m: m.start()):
        month = int(found["month"]) if found["month"].isdigit() else month_number(found["month"])
        try:
            return date(int(found["year"]), month, int(found["day"])), found.start(), found.end()
        except ValueError:
            continue
    return None


# --- a page's date line -------------------------------------------------------------------------

_WEEKDAY_ANY = r"(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)(?:day)?\.?"
# What surrounds a date on a page's date line: "Published", "Updated 5:00 PM EDT,", "Fri", "at", "on".
_DATE_LINE_WORDS = re.compile(
    rf"\b(?:published|updated|posted|last updated|modified|first published|on|at|{_WEEKDAY_ANY})(?!\w)"
    r"|(?<!\d)[0-2]?\d[:.][0-5]\d(?::[0-5]\d(?:\.\d+)?)?Z?\s*(?:[ap]\.?m\.?)?"
    r"|(?<![\w])(?:[ap]\.?m\.?)(?!\w)"
    r"|\b(?:[ECMP][SD]?T|UTC|GMT|BST|CET|CEST|IST|AEST|AEDT|JST|KST|Z)\b"
    r"|[+-][01]\d:?[0-5]\d\b"
    r"|T(?=\d)",
    re.I,
)


def split_date_line(line: str) -> tuple[date | None, str]:
    """The date a header line states, and what the line says besides the date, its time of day,
    weekday and words such as "Published" or "Updated" (say a byline or the site's host).

    `split_date_line("Published 5:00 PM EDT, Fri August 5, 2022 · cnn.com")` is
    `(date(2022, 8, 5), "· cnn.com")` once stripped of separators by the caller.
    """
    found = _find_date_span(line)
    if found is None:
        return None, line
    published, start, end = found
    rest = _DATE_LINE_WORDS.sub(" ", line[:start] + " " + line[end:])
    return published, re.sub(r"\s+", " ", rest).strip()


# --- the day a question is asked, and the dates it means -----------------------------------------


def parse_as_of(value: date | str | None) -> date:
    """The day a question is asked: a `date`, an ISO string ("2022-08-05"), or None for today.
    A malformed or impossible date is a QuestionError that says what was expected."""
    if value is None:
        return date.today()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise QuestionError(f"as_of must be a date or a YYYY-MM-DD string, not {type(value).__name__}")
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise QuestionError(f"the as-of date must be written YYYY-MM-DD, like 2022-08-05 (got {value!r})")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise QuestionError(f"the as-of date {value!r} is not a calendar date ({exc})") from None


@dataclass(frozen=True)
class Period:
    """The days a question's relative date means, both ends included ("this week": the seven days
    up to the day asked)."""

    start: date
    end: date
    phrase: str  # the words of the question that set it ("this week")

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_RELATIVE = re.compile(
    r"\b(?P<phrase>today|tonight|yesterday|(?:earlier |later )?this (?:week|month|year)|this past (?:week|month)"
    r"|last (?:week|month|year)|the past (?:week|month|year)|past (?:week|month|year)"
    rf"|(?:on |last )?(?P<weekday>{'|'.join(WEEKDAYS)})"
    r"|(?P<count>\d+|a|an|one|two|three|four|five|six|seven) (?P<unit>days?|weeks?) ago"
    r"|recent(?:ly)?|latest|lately|currently|right now|so far this year)\b",
    re.I,
)
# Without a stated span, "recently" and "latest" mean about a month.
RECENT_DAYS = 30


def _month_start(day: date) -> date:
    return day.replace(day=1)


def question_period(question: str, as_of: date) -> Period | None:
    """The period a question's relative date words refer to, resolved against `as_of`; None when it
    has none. The first such phrase counts: "Which team won last month's final this week?" means last month.
    """
    found = _RELATIVE.search(question)
    if found is None:
        return None
    phrase = found["phrase"].lower()
    words = phrase.split()
    unit = words[-1]
    if found["weekday"]:
        back = (as_of.weekday() - WEEKDAYS.index(found["weekday"].lower())) % 7
        if words[0] == "last" and back == 0:
            back = 7
        day = as_of - timedelta(days=back)
        return Period(day, day, phrase)
    if found["count"]:
        count = int(found["count"]) if found["count"].isdigit() else _NUMBER_WORDS[found["count"].lower()]
        day = as_of - timedelta(days=count * (7 if found["unit"].lower().startswith("week") else 1))
        return Period(day, day, phrase)
    if phrase in ("today", "tonight"):
        return Period(as_of, as_of, phrase)
    if phrase == "yesterday":
        return Period(as_of - timedelta(days=1), as_of - timedelta(days=1), phrase)
    if words[0] == "last":
        if unit == "week":
            return Period(as_of - timedelta(days=13), as_of - timedelta(days=7), phrase)
        if unit == "month":
            end = _month_start(as_of) - timedelta(days=1)
            return Period(_month_start(end), end, phrase)
        return Period(date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31), phrase)
    if "past" in words:
        days = {"week": 7, "month": 30, "year": 365}[unit]
        return Period(as_of - timedelta(days=days - 1), as_of, phrase)
    if unit == "week":
        return Period(as_of - timedelta(days=6), as_of, phrase)
    if unit == "month":
        return Period(_month_start(as_of), as_of, phrase)
    if unit == "year":
        return Period(date(as_of.year, 1, 1), as_of, phrase)
    return Period(as_of - timedelta(days=RECENT_DAYS - 1), as_of, phrase)
