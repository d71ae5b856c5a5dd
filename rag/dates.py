"""Calendar words and dates as news text writes them: one home for month and weekday names and for
reading a written date ("August 5, 2022", "Aug. 5, 2022", "2022-08-05")."""

from __future__ import annotations

import re
from datetime import date

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
