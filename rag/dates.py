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
    """Days from `start` to `end`, both included: what a question's relative date means ("this week":
    the seven days up to the day asked), or the time a figure describes ("in Q1 2021"; with no
    `phrase`, the day its article was published)."""

    start: date
    end: date
    phrase: str  # the words that set it ("this week", "in Q1 2021"); "" for a publication date

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def label(self) -> str:
        """How a reader names it: "March 26, 2024", "2023", "January 1, 2023 to September 30, 2023"."""
        if self.start == self.end:
            return _day_label(self.start)
        if (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31):
            return f"{self.start.year}" if self.start.year == self.end.year else f"{self.start.year}-{self.end.year}"
        return f"{_day_label(self.start)} to {_day_label(self.end)}"


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


# --- dates and periods in running text (the guard's: every figure's time) ------------------------

_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>1[89]\d\d|20\d\d)"
# A weekday written before a day ("Sunday, Jan. 7", "Thursday 5 May"): one date with it.
_NAMED_WEEKDAY = rf"(?:(?P<named>{'|'.join(w.title() for w in WEEKDAYS)}),?\s+)?"
# Most specific first: a span taken by one pattern is not read again by a later one.
_DATE_PATTERNS = [
    re.compile(rf"\b{_YEAR}-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"\b{_NAMED_WEEKDAY}(?P<month>{MONTH_ANY})\s+{_DAY}(?:,?\s+{_YEAR})?\b(?!,\d)"),
    re.compile(rf"\b{_NAMED_WEEKDAY}{_DAY}\s+(?P<month>{MONTH_ANY})(?:,?\s+{_YEAR})?\b"),
    re.compile(rf"\b(?P<month>{MONTH_ANY}),?\s+{_YEAR}\b"),
    # A month alone, but not "May", which is far more often the verb.
    re.compile(rf"\b(?P<month>{'|'.join(m for m in MONTH_NAMES if m != 'May')})\b"),
    re.compile(rf"\b(?P<weekday>{'|'.join(w.title() for w in WEEKDAYS)})\b"),
]
# Days after an article's publication within which a day written without its year is taken for one
# of the coming days (a week: the span news names by weekday), not of the year before.
DAYS_AHEAD = 6
_REL_YEAR_YEAR = re.compile(r"\b(?P<which>last|this|next|(?:the\s+)?previous|(?:the\s+)?following)\s+year\b", re.I)
_YEAR_OFFSETS = {"last": -1, "previous": -1, "this": 0, "next": 1, "following": 1}


@dataclass(frozen=True)
class WrittenDate:
    """A date as the text writes it, resolved as far as the text and the publication date allow.

    `year`, `month`, `day` are 0 where unknown; a weekday that could not be resolved (no publication
    date) keeps `weekday` 1-7 (Monday = 1) and nothing else. `relative` marks a date read against the
    publication date ("Tuesday", "last year")."""

    start: int
    end: int
    year: int
    month: int = 0
    day: int = 0
    weekday: int = 0
    relative: bool = False

    def as_date(self) -> date | None:
        """The day it names, when it names a whole one."""
        return date(self.year, self.month, self.day) if self.year and self.month and self.day else None


def find_dates(text: str, published: date | None = None) -> list[WrittenDate]:
    """Every date and relative year written in `text`, in order of position.

    With `published`, "last year" becomes a year, a day without a year takes the latest such day on
    or before publication, and a weekday the latest such day on or before it (news reports past
    events so); without it those stay as written (a weekday alone, a day without a year)."""
    found: list[WrittenDate] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < d.end and d.start < match.end() for d in found):
                continue
            if written := _written_date(match, published):
                found.append(written)
    if published:
        for match in _REL_YEAR_YEAR.finditer(text):
            year = published.year + _YEAR_OFFSETS[match["which"].split()[-1].lower()]
            found.append(WrittenDate(match.start(), match.end(), year, relative=True))
    return sorted(found, key=lambda d: d.start)


def _written_date(match: re.Match, published: date | None) -> WrittenDate | None:
    groups = match.groupdict()
    if groups.get("weekday"):
        weekday = WEEKDAYS.index(match["weekday"].lower()) + 1
        if published is None:
            return WrittenDate(match.start(), match.end(), 0, weekday=weekday)
        day = published - timedelta(days=(published.isoweekday() - weekday) % 7)
        return WrittenDate(match.start(), match.end(), day.year, day.month, day.day, relative=True)
    month = int(groups["mnum"]) if groups.get("mnum") else month_number(match["month"])
    day = int(groups["day"]) if groups.get("day") else 0
    year = int(groups["year"]) if groups.get("year") else 0
    if day and not valid_date(year or 2000, month, day):  # 2000: a leap year, so 29 February passes
        return None
    if published and day and not year:
        year = _year_of_day(month, day, published, groups.get("named"))
    return WrittenDate(match.start(), match.end(), year, month, day)


def _year_of_day(month: int, day: int, published: date, weekday: str | None) -> int:
    """The year of a day written without one: that of the nearest such day falling on the weekday
    written with it ("Sunday, Jan. 7" in an article of January 3, 2024 is ahead, in 2024); else that
    of such a day in the `DAYS_AHEAD` after publication (the news of the coming days: "when the
    groundhog emerges on Feb. 2" in an article of January 31); else the latest such day on or before
    publication (news reports past events so)."""
    years = [year for year in (published.year - 1, published.year, published.year + 1) if valid_date(year, month, day)]
    if weekday:
        named = WEEKDAYS.index(weekday.lower()) + 1
        if fitting := [year for year in years if date(year, month, day).isoweekday() == named]:
            return min(fitting, key=lambda year: abs((date(year, month, day) - published).days))
    if ahead := [year for year in years if 0 < (date(year, month, day) - published).days <= DAYS_AHEAD]:
        return ahead[0]
    return published.year - (valid_date(published.year, month, day) and date(published.year, month, day) > published)


def valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _day_label(day: date) -> str:
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "q1": 1, "q2": 2, "q3": 3, "q4": 4}
_COUNTS = {"three": 3, "six": 6, "nine": 9, "two": 2, "four": 4, "five": 5, "seven": 7, "eight": 8, "ten": 10}
_REL_YEAR = r"(?P<rel>last|this|next|(?:the\s+)?previous)\s+year"
_OF_YEAR = rf"(?:\s+(?:of\s+)?(?:{_YEAR}|{_REL_YEAR}))?"
_PERIODS = [
    # "Q1 2021", "the first quarter of 2021", "the third quarter"
    ("quarter", re.compile(rf"\b(?P<q>Q[1-4])\s*(?:{_YEAR}|{_REL_YEAR})?\b", re.I)),
    ("quarter", re.compile(rf"\b(?P<q>first|second|third|fourth)[\s-]+quarter{_OF_YEAR}\b", re.I)),
    # "the first nine months of 2023", "the first half of 2022"
    (
        "months",
        re.compile(
            rf"\bfirst\s+(?P<n>half|three|six|nine|two|four|five|seven|eight|ten)(?:\s+months)?{_OF_YEAR}\b", re.I
        ),
    ),
    # "January to September last year", "from March through May 2022"
    (
        "range",
        re.compile(
            rf"\b(?P<m1>{MONTH_FULL})\s+(?:to|through|until|and|-|–)\s+(?P<m2>{MONTH_FULL})(?:,?\s+(?:{_YEAR}|{_REL_YEAR}))?\b",
            re.I,
        ),
    ),
    ("to_date", re.compile(r"\b(?:so\s+far\s+this\s+year|this\s+year\s+so\s+far|year[\s-]to[\s-]date)\b", re.I)),
    ("as_of", re.compile(r"\bas\s+of\s+", re.I)),
    ("since", re.compile(r"\bsince\s+", re.I)),
    ("relative", re.compile(r"\b(?P<which>last|this|next)\s+(?P<span>week|month|year)\b", re.I)),
    ("year", re.compile(rf"\b(?:in|during|for|of|throughout)\s+(?:fiscal\s+|calendar\s+)?{_YEAR}\b", re.I)),
    ("month", re.compile(rf"\b(?:in|during|for|of)\s+(?P<month>{MONTH_FULL})(?:,?\s+{_YEAR})?\b", re.I)),
]


def find_periods(text: str, published: date | None = None) -> list[tuple[int, int, Period]]:
    """The periods `text` states, as (start, end, period), resolved against the publication date.

    A period the text leaves open (a quarter or a month with no year) takes the publication year, or
    the year before when that would put it after publication; one that needs the publication date
    ("so far this year", "as of Tuesday") is skipped without it."""
    found: list[tuple[int, int, Period]] = []
    dates = find_dates(text, published)
    for kind, pattern in _PERIODS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end, _ in found):
                continue
            if resolved := _period(kind, match, text, dates, published):
                found.append(resolved)
    return sorted(found, key=lambda item: item[0])


def _period(
    kind: str, match: re.Match, text: str, dates: list[WrittenDate], published: date | None
) -> tuple[int, int, Period] | None:
    start, end = match.start(), match.end()
    if kind in ("as_of", "since"):
        written = next((d for d in dates if d.start == end and (d.year or d.month)), None)
        if written is None or (kind == "since" and published is None):
            return None
        if not written.year:  # "since January": the latest January on or before publication
            if published is None:
                return None
            year = published.year - (written.month > published.month)
            written = WrittenDate(written.start, written.end, year, written.month, written.day)
        first, last = _span(written)
        if kind == "since":
            return start, written.end, Period(first, published, text[start : written.end])
        return start, written.end, Period(last, last, text[start : written.end])
    if kind == "to_date":
        return (start, end, Period(date(published.year, 1, 1), published, match.group())) if published else None
    if kind == "relative":
        if published is None:
            return None
        offset = {"last": -1, "this": 0, "next": 1}[match["which"].lower()]
        span = match["span"].lower()
        if span == "year":
            year = published.year + offset
            return start, end, Period(date(year, 1, 1), date(year, 12, 31), match.group())
        if span == "month":
            month = published.month + offset
            year, month = published.year + (month - 1) // 12, (month - 1) % 12 + 1
            return start, end, Period(date(year, month, 1), _month_end(year, month), match.group())
        monday = published - timedelta(days=published.isoweekday() - 1) + timedelta(weeks=offset)
        return start, end, Period(monday, monday + timedelta(days=6), match.group())
    year = _year_of(match, published)
    if year is None:
        return None
    if kind == "year":
        return start, end, Period(date(year, 1, 1), date(year, 12, 31), match.group())
    if kind == "month":
        month = month_number(match["month"])
        if not match["year"] and published:
            year = _open_year(published, month, month, text, start)
        return start, end, Period(date(year, month, 1), _month_end(year, month), match.group())
    if kind == "quarter":
        quarter = _QUARTERS[match["q"].lower()]
        first_month = 3 * quarter - 2
        if not (match["year"] or match["rel"]) and published:
            year = _open_year(published, first_month, first_month + 2, text, start)
        return start, end, Period(date(year, first_month, 1), _month_end(year, first_month + 2), match.group())
    if kind == "months":
        count = 6 if match["n"].lower() == "half" else _COUNTS[match["n"].lower()]
        return start, end, Period(date(year, 1, 1), _month_end(year, count), match.group())
    first_month, last_month = month_number(match["m1"]), month_number(match["m2"])
    if last_month < first_month:
        return None
    return start, end, Period(date(year, first_month, 1), _month_end(year, last_month), match.group())


def _open_year(published: date, first_month: int, last_month: int, text: str, start: int) -> int:
    """The year of a month or quarter stated without one (its months `first_month` to `last_month`) at `start`
    of `text`: news reports the latest one begun by publication, but a clause about the future names the next
    one not yet over ("will begin requiring tags in March", "will report in the fourth quarter")."""
    if _speaks_of_future(text, start):
        return published.year + (last_month < published.month)
    return published.year - (date(published.year, first_month, 1) > published)


# Words that put a clause in the future ("will", "is set to", "plans to").
_FUTURE = re.compile(
    r"\b(?:will|won't|shall|(?:is|are)\s+(?:set|expected|scheduled|due|slated)\s+to|plans?\s+to)\b|'ll\b", re.I
)


# Where a clause ends: a semicolon, a line break, or a sentence's end before a capital ("U.S. in March" goes on).
_CLAUSE_END = re.compile(r"[;\n]|[.!?]\s+(?=[\"“‘'(]?[A-Z])")


def _speaks_of_future(text: str, start: int) -> bool:
    """Whether the clause of `text` that reaches `start` has spoken of the future before it."""
    clause = max((found.end() for found in _CLAUSE_END.finditer(text, 0, start)), default=0)
    return _FUTURE.search(text, clause, start) is not None


def _year_of(match: re.Match, published: date | None) -> int | None:
    groups = match.groupdict()
    if groups.get("year"):
        return int(groups["year"])
    if groups.get("rel"):
        return published.year + _YEAR_OFFSETS[groups["rel"].split()[-1].lower()] if published else None
    return published.year if published else None


def _span(written: WrittenDate) -> tuple[date, date]:
    """The first and last day a date of its precision may be."""
    if day := written.as_date():
        return day, day
    if written.month:
        return date(written.year, written.month, 1), _month_end(written.year, written.month)
    return date(written.year, 1, 1), date(written.year, 12, 31)


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def publication_period(published: date | None) -> Period | None:
    """The period of a figure the text gives no time for: the day it was published."""
    return Period(published, published, "") if published else None
