"""Calendar words and dates as news text writes them: one home for month and weekday names and for
reading a written date ("August 5, 2022", "Aug. 5, 2022", "2022-08-05")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

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
_LONG_DATE = re.compile(rf"\b(?P<month>{MONTH_ANY})\s+(?P<day>[0-3]?\d),?\s+(?P<year>\d{{4}})\b", re.I)
_ISO_DATE = re.compile(r"\b(?P<year>\d{4})-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b")


def month_number(name: str) -> int:
    """1-12 for a month name or abbreviation ("Sept.", "august"); KeyError for anything else."""
    return MONTHS[name.rstrip(".").lower()]


def find_date(text: str) -> date | None:
    """The first complete calendar date written in `text` ("August 5, 2022", "Aug. 5 2022", "2022-08-05")."""
    candidates = []
    for pattern in (_LONG_DATE, _ISO_DATE):
        if found := pattern.search(text):
            candidates.append(found)
    for found in sorted(candidates, key=lambda m: m.start()):
        month = int(found["month"]) if found["month"].isdigit() else month_number(found["month"])
        try:
            return date(int(found["year"]), month, int(found["day"]))
        except ValueError:
            continue
    return None


# --- dates and periods in running text (the guard's: every figure's time) ------------------------

_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>1[89]\d\d|20\d\d)"
# Most specific first: a span taken by one pattern is not read again by a later one.
_DATE_PATTERNS = [
    re.compile(rf"\b{_YEAR}-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"\b(?P<month>{MONTH_ANY})\s+{_DAY}(?:,?\s+{_YEAR})?\b(?!,\d)"),
    re.compile(rf"\b{_DAY}\s+(?P<month>{MONTH_ANY})(?:,?\s+{_YEAR})?\b"),
    re.compile(rf"\b(?P<month>{MONTH_ANY}),?\s+{_YEAR}\b"),
    # A month alone, but not "May", which is far more often the verb.
    re.compile(rf"\b(?P<month>{'|'.join(m for m in MONTH_NAMES if m != 'May')})\b"),
    re.compile(rf"\b(?P<weekday>{'|'.join(w.title() for w in WEEKDAYS)})\b"),
]
_RELATIVE_YEAR = re.compile(r"\b(?P<which>last|this|next|(?:the\s+)?previous|(?:the\s+)?following)\s+year\b", re.I)
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

    @property
    def precision(self) -> str:
        """ "day", "month", "year" or "weekday": the finest part the date gives."""
        if self.day:
            return "day"
        if self.month:
            return "month"
        return "year" if self.year else "weekday"


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
        for match in _RELATIVE_YEAR.finditer(text):
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
    if published and day and not year:  # the latest such day on or before publication
        year = published.year - (
            valid_date(published.year, month, day) and date(published.year, month, day) > published
        )
    return WrittenDate(match.start(), match.end(), year, month, day)


def valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Period:
    """The time a figure describes: the span the text states ("in Q1 2021"), or the day it was
    published, for a figure given as it stood then."""

    first: date
    last: date
    stated: bool  # written in the text; False: the publication date

    def label(self) -> str:
        if self.first == self.last:
            return _day_label(self.first)
        if self.first.day == 1 and self.first.month == 1 and (self.last.month, self.last.day) == (12, 31):
            years = {self.first.year, self.last.year}
            return f"{self.first.year}" if len(years) == 1 else f"{self.first.year}-{self.last.year}"
        return f"{_day_label(self.first)} to {_day_label(self.last)}"


def _day_label(day: date) -> str:
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "q1": 1, "q2": 2, "q3": 3, "q4": 4}
_COUNTS = {"three": 3, "six": 6, "nine": 9, "two": 2, "four": 4, "five": 5, "seven": 7, "eight": 8, "ten": 10}
_RELATIVE = r"(?P<rel>last|this|next|(?:the\s+)?previous)\s+year"
_OF_YEAR = rf"(?:\s+(?:of\s+)?(?:{_YEAR}|{_RELATIVE}))?"
_PERIODS = [
    # "Q1 2021", "the first quarter of 2021", "the third quarter"
    ("quarter", re.compile(rf"\b(?P<q>Q[1-4])\s*(?:{_YEAR}|{_RELATIVE})?\b", re.I)),
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
            rf"\b(?P<m1>{MONTH_FULL})\s+(?:to|through|until|and|-|–)\s+(?P<m2>{MONTH_FULL})(?:,?\s+(?:{_YEAR}|{_RELATIVE}))?\b",
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
            return start, written.end, Period(first, published, True)
        return start, written.end, Period(last, last, True)
    if kind == "to_date":
        return (start, end, Period(date(published.year, 1, 1), published, True)) if published else None
    if kind == "relative":
        if published is None:
            return None
        offset = {"last": -1, "this": 0, "next": 1}[match["which"].lower()]
        span = match["span"].lower()
        if span == "year":
            year = published.year + offset
            return start, end, Period(date(year, 1, 1), date(year, 12, 31), True)
        if span == "month":
            month = published.month + offset
            year, month = published.year + (month - 1) // 12, (month - 1) % 12 + 1
            return start, end, Period(date(year, month, 1), _month_end(year, month), True)
        monday = published - timedelta(days=published.isoweekday() - 1) + timedelta(weeks=offset)
        return start, end, Period(monday, monday + timedelta(days=6), True)
    year = _year_of(match, published)
    if year is None:
        return None
    if kind == "year":
        return start, end, Period(date(year, 1, 1), date(year, 12, 31), True)
    if kind == "month":
        month = month_number(match["month"])
        if not match["year"] and published and date(year, month, 1) > published:
            year -= 1
        return start, end, Period(date(year, month, 1), _month_end(year, month), True)
    if kind == "quarter":
        quarter = _QUARTERS[match["q"].lower()]
        first_month = 3 * quarter - 2
        if not (match["year"] or match["rel"]) and published and date(year, first_month, 1) > published:
            year -= 1
        return start, end, Period(date(year, first_month, 1), _month_end(year, first_month + 2), True)
    if kind == "months":
        count = 6 if match["n"].lower() == "half" else _COUNTS[match["n"].lower()]
        return start, end, Period(date(year, 1, 1), _month_end(year, count), True)
    first_month, last_month = month_number(match["m1"]), month_number(match["m2"])
    if last_month < first_month:
        return None
    return start, end, Period(date(year, first_month, 1), _month_end(year, last_month), True)


def _year_of(match: re.Match, published: date | None) -> int | None:
    groups = match.groupdict()
    if groups.get("year"):
        return int(groups["year"])
    if groups.get("rel"):
        return published.year + _YEAR_OFFSETS[groups["rel"].split()[-1].lower()] if published else None
    return published.year if published else None


def _span(written: WrittenDate) -> tuple[date, date]:
    """The first and last day a date of its precision may be."""
    if written.day:
        day = date(written.year, written.month, written.day)
        return day, day
    if written.month:
        return date(written.year, written.month, 1), _month_end(written.year, written.month)
    return date(written.year, 1, 1), date(written.year, 12, 31)


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def publication_period(published: date | None) -> Period | None:
    """The period of a figure the text gives no time for: the day it was published."""
    return Period(published, published, False) if published else None
