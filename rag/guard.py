"""Numeric guard: every number of an answer stated by a cited passage, and one quantity compared
across sources, so a disagreement between outlets is shown instead of hidden, and a figure that
changed over time is shown as a dated timeline instead of a disagreement.

Every figure carries what it is and when: its kind (a count, money, a percentage, an age, a
duration, a rank, a score, a date), its unit, its rate ("per year"), its modality (an actual
amount, a maximum or possibility such as "up to" or "faces", a forecast such as "is expected to",
or a cap or limit) and its period, the time the text says it describes ("in Q1 2021", "so far this
year") or else the day its article was published. Two figures from different documents are taken
for one quantity when kind, unit, rate and modality agree and each is the other's best match, likely
enough by a model learned on labelled pairs (`pair_features`: the cosine of their clauses with the
figure masked, the names their sentences, passages and subjects share, the words next to them, their
titles, how far apart the articles were published, the other figures their passages and sentences
share, the month or weekday two dates both name); a figure of what the question asks for is also matched
with another document's that answers the question as well. One quantity with different values in the same period is a conflict; in
different periods it is a timeline (status "changed").
Dates are compared across outlets too, resolved to the calendar at the precision the text gives:
two dates of one event (aligned the same way) disagree when they cannot be the same day.

    report = review(question, answer, passages, embedder, as_of=date(2022, 8, 5))
    if report.summary():
        answer = report.summary() + "\\n\\n" + answer
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np

from .chunking import Sentence, split_sentences
from .dates import MONTHS, WEEKDAYS, Period, find_periods, publication_period, valid_date
from .embedding import Embedder
from .quantities import (
    Asked,
    Modality,
    Quantity,
    asked_quantity,
    date_parts,
    date_value,
    extract_quantities,
    figure_modality,
    how_reported,
    same_value,
    spoken_at,
    supports,
)
from .retrieval import UNNAMED_SOURCE, Passage
from .text import CITATION, FUNCTION_WORDS, POSSESSIVE, UnionFind, cited_numbers, words

# Which figures of two articles are one quantity is decided by a logistic regression over the
# features of `pair_features` (the masked clauses' cosine with all-MiniLM-L6-v2, shared names,
# title words, days apart, shared other figures), learned with scikit-learn on the hand-labelled
# figure pairs of the RealTimeQA train corpus (bench/guard_pairs.jsonl, split "train") and reported
# on the dev pairs: `python -m bench.guard_pairs learn` writes its weights and thresholds (amounts;
# dates and years) to this file, with the figures they were measured at; bench/RESULTS.md keeps them.
ALIGNMENT_FILE = Path(__file__).with_name("guard_alignment.json")
# Days apart within which two figures dated only by their articles' publication (or by "as of" a
# day) describe the same moment. Learned on the train pairs (`python -m bench.guard_pairs learn`): the
# most days that make no false conflict there, then the best same-period recall at precision >= 0.95.
# At 1 to 3 days a count that grew between two reports (a storm's snowfall total a day later, a store
# closing list three days later) was taken for a disagreement; from different days it is a timeline.
SAME_MOMENT_DAYS = 0
# Days before its article's publication within which a written date is "current", of the week's
# news (a weekday resolved against the publication date can be no further back than this).
CURRENT_DAYS = 6
# Days after its article's publication on which a weekday written alone ("on Wednesday morning, she
# told NBC") may also fall: an article is dated by its first publication and updated the next
# morning, or tells of the next day's event. Set by hand from the labelled pairs that hold such a
# weekday: one train pair (a wedding "on Saturday" in an article of the Friday before, "last
# Saturday" in one of the Thursday after) and one dev pair (a TV interview "on Wednesday" in an
# article of the Tuesday); a weekday of a forecast ("will vote Friday") is the next such day instead.
WEEKDAY_AHEAD_DAYS = 1
# A cap or limit is quoted as the scale of a disputed quantity when its clause is this close to one
# of the disputed ones (measured on the seeds only: their annual cap scores 0.80-0.88 against the
# imports; no labelled pair holds a limit beside a disputed amount).
RELATED_LIMIT = 0.6
# Rival answers (`_rival_answers`): below this cosine to the question a clause is about something else,
# and another outlet's figure of the asked unit answers the question too when its clause is at least
# this share as close to the question as the answer's own (measured on RealTimeQA dev only: no labelled
# pair carries a question).
MIN_RELEVANCE = 0.2
SECOND_SENTENCE_SHARE = 0.85

# Content words on either side of a figure that say what it counts ("signed by President Nixon in X").
NEAR_WORDS = 5
# Words on either side of a figure from which its comma-bounded segment stops growing.
SEGMENT_WORDS = 6
# Names before a figure taken for what it is about.
SUBJECT_NAMES = 3
_YEAR_DIGITS = re.compile(r"\d{4}")

Status = Literal["ok", "conflict", "changed", "unsupported", "no_numbers"]
_TIMES = ("year", "date")

# A record's horizon: a superlative, a few words, then "since" before a date ("the biggest jump since X").
_RECORD_SINCE = re.compile(
    r"\b(?:most|least|first|best|worst|highest|lowest|biggest|largest|smallest|greatest|fastest|slowest|"
    r"strongest|weakest|sharpest|steepest|deadliest|hottest|coldest|warmest)\b(?:\s+[\w'-]+){0,4}\s+since\s+$",
    re.I,
)
# A figure's own verb after it, saying it is to come: "About X athletes will parade".
_FORECAST_AFTER = re.compile(r"\s+(?:will|(?:is|are) (?:expected|set|projected|scheduled) to)\b", re.I)
_CLAUSE_BREAK = re.compile(r"\s+(?:--|—|–)\s+|;\s+")
_RATE_AFTER = re.compile(
    r"^(?:\s+[\w'-]+){0,4}?\s+(?:per|a|an|each|every)\s+(year|month|week|day)\b|"
    r"^(?:\s+[\w'-]+){0,4}?\s+(annually|yearly|monthly|weekly|daily)\b",
    re.I,
)
# A price or count for each unit of something: "$1.34 per pound", "$3.50 per gallon", "2 doses per person".
_RATE_PER = re.compile(r"^(?:\s+[\w'-]+)?\s+per\s+([a-z]+)\b", re.I)
_RATE_BEFORE = re.compile(r"\b(annual|yearly|monthly|weekly|daily)\s+(?:[\w'-]+\s+){0,2}(?:of|at|is|was)\s+$", re.I)
_RATE_WORDS = {
    "annually": "year",
    "annual": "year",
    "yearly": "year",
    "monthly": "month",
    "weekly": "week",
    "daily": "day",
}
_SCALE_NAMES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand"))


@dataclass(frozen=True)
class GuardRow:
    """One value as a source (or the answer) states it."""

    text: str
    value: float
    unit: str
    outlet: str | None
    source: str
    n: int | None  # citation number: passages[n - 1]
    quote: str  # the sentence that states it
    period: str | None = None  # the time it describes: "January 1, 2023 to September 30, 2023", "May 20, 2022"

    @property
    def label(self) -> str:
        """Who says it: the outlet, or a neutral name (never the file name, whose digits read as figures)."""
        return self.outlet or UNNAMED_SOURCE


@dataclass(frozen=True)
class Conflict:
    rows: tuple[GuardRow, ...]  # the differing values, one row per source
    ratio: float  # largest / smallest (meaningful for amounts)
    description: str  # "The values differ by a factor of 1,000, the signature of a million/billion slip."


@dataclass(frozen=True)
class Timeline:
    """One quantity stated for different times: its rows sorted by period, and the latest as of the question."""

    rows: tuple[GuardRow, ...]
    latest: GuardRow
    as_of: str  # the day the latest row is given for: its period's end, or the question's as_of date


@dataclass
class GuardReport:
    """What the guard found for one answer; `summary()` is what an answer with a conflict or a changed
    figure leads with."""

    status: Status
    values: list[GuardRow] = field(default_factory=list)  # every compared value, one per source
    conflicts: list[Conflict] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # the reply's numbers no cited passage states
    bounds: list[GuardRow] = field(default_factory=list)  # limits that bound a disputed quantity
    timelines: list[Timeline] = field(default_factory=list)  # quantities that changed over time

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "values": [asdict(row) for row in self.values],
            "conflicts": [
                {"values": [asdict(row) for row in c.rows], "ratio": c.ratio, "description": c.description}
                for c in self.conflicts
            ],
            "unsupported": list(self.unsupported),
            "bounds": [asdict(row) for row in self.bounds],
            "timelines": [
                {"values": [asdict(row) for row in t.rows], "latest": asdict(t.latest), "as_of": t.as_of}
                for t in self.timelines
            ],
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """The lead sentences of an answer whose sources disagree or whose figure changed; "" otherwise."""
        sentences = []
        for conflict in self.conflicts:
            labels = _labels(conflict.rows)
            said = "; ".join(f"{labels[row]} [{row.n}] says {row.text}" for row in conflict.rows)
            sentences.append(f"Sources disagree: {said}. {conflict.description}")
        if self.conflicts:
            sentences += [f'For scale: {row.label} [{row.n}] says "{row.quote}"' for row in self.bounds]
        for timeline in self.timelines:
            latest = timeline.latest
            steps = "; ".join(f"{row.period}: {row.text} ({row.label} [{row.n}])" for row in timeline.rows)
            sentences.append(
                f"The figure changed over time: {steps}. As of {timeline.as_of}, the latest is {latest.text} "
                f"({latest.label} [{latest.n}], for {latest.period})."
            )
        return " ".join(sentences)


def _labels(rows: Sequence[GuardRow]) -> dict[GuardRow, str]:
    """Outlet names, with the file added where one outlet appears twice (two copies of a story)."""
    repeated = {row.label for row in rows if sum(other.label == row.label for other in rows) > 1}
    return {row: f"{row.label} ({row.source})" if row.label in repeated else row.label for row in rows}


# --- the figures the passages state -------------------------------------------------------------


@dataclass(frozen=True)
class _Mention:
    """A figure as one passage states it, with the context that tells which quantity it is and when."""

    quantity: Quantity
    n: int
    passage: Passage
    sentence: str
    clause: str  # the clause around it, the figure masked
    period: Period | None  # the time it describes; None when unknown or timeless (a standing limit)
    rate: str | None  # "year" for "per year"
    modality: Modality
    near: frozenset[str] = frozenset()  # the content words of the clause next to the figure
    segment: str = ""  # the part of the clause between commas around the figure, masked
    # The other figures of its passage and of its sentence, by kind, unit and value: what else the
    # text says about the same event ("$900 million", "21,000 players" beside a settlement's day).
    others: frozenset[tuple[str, str, float]] = frozenset()
    sentence_others: frozenset[tuple[str, str, float]] = frozenset()
    # A date that is the horizon of a record ("the biggest jump since July 1981"), not when an event was.
    horizon: bool = False
    # Who spoke, when the date is the day a named source spoke ("Chaim Bloom said Tuesday": "bloom").
    speaker: str | None = None
    # The months and weekdays a date names in words ("Sunday, Jan. 7": January and Sunday).
    calendar: frozenset[int | str] = frozenset()

    @property
    def row(self) -> GuardRow:
        q, p = self.quantity, self.passage
        period = self.period.label() if self.period else None
        return GuardRow(q.text, q.value, q.unit, p.outlet, p.source, self.n, self.sentence, period)

    @property
    def current(self) -> bool:
        """A date of its article's own days: read against the publication date ("Tuesday", "last
        year"), or the year of publication, or a day of the week before it. News of different days
        says "Tuesday" or "the 2023 ranking" of different events (a weekly report, an annual list)."""
        q = self.quantity
        if q.kind not in _TIMES:
            return False
        if not any(ch.isdigit() for ch in q.text):
            return True
        published = _published(self.passage)
        if published is None:
            return False
        if q.kind == "year":
            return int(q.value) == published.year
        year, month, day = date_parts(q.value)
        if not (year and month and day):
            return year == published.year and month == published.month
        if not valid_date(year, month, day):
            return False
        days = (published - date(year, month, day)).days
        # A day whose year the text leaves out ("Feb. 2") is of these days also a few days ahead.
        return 0 <= days <= CURRENT_DAYS or (-CURRENT_DAYS <= days <= 0 and self.year_inferred)

    @property
    def year_inferred(self) -> bool:
        """A day written without its year ("January 6"), which the article's date supplied (not one
        written with its weekday, "Sunday, Jan. 7", whose weekday tells the year)."""
        q = self.quantity
        return (
            q.unit == "date"
            and any(ch.isdigit() for ch in q.text)
            and not _YEAR_DIGITS.search(q.text)
            and not _weekday_named(q.text)
        )

    @property
    def days(self) -> list[Quantity]:
        """The days a date may be. A weekday written alone is the latest such day on or before its
        article's publication (as extracted), or the next one when that falls within
        `WEEKDAY_AHEAD_DAYS` after it, unless the text says "last Saturday"."""
        q, published = self.quantity, _published(self.passage)
        if published is None or not _weekday_named(q.text) or any(ch.isdigit() for ch in q.text):
            return [q]
        later = _shifted(q, 7)
        ahead = _day_of(later) is not None and (_day_of(later) - published).days <= WEEKDAY_AHEAD_DAYS
        last = self.passage.text[: q.start].rstrip().lower().endswith("last")
        return [q, later] if ahead and not last and self.modality != "forecast" else [q]


def _weekday_named(text: str) -> bool:
    return text.split(",")[0].split()[0].lower() in WEEKDAYS if text.strip() else False


def _day_of(q: Quantity) -> date | None:
    """The calendar day of a date figure that gives year, month and day."""
    year, month, day = date_parts(q.value)
    return date(year, month, day) if year and valid_date(year, month, day) else None


def _shifted(q: Quantity, days: int) -> Quantity:
    day = _day_of(q)
    if day is None:
        return q
    later = day + timedelta(days=days)
    return replace(q, value=date_value(later.year, later.month, later.day))


def _scheduled(q: Quantity, published: date | None) -> Quantity:
    """A forecast's day as the next such day on or after its article's publication when the text
    leaves it open: a weekday written alone ("will vote Friday") or a day without its year ("set to
    begin Jan. 23" in an article of July 2022 is January 23, 2023), which extraction resolved to the
    latest such day on or before publication."""
    day = _day_of(q) if q.unit == "date" else None
    if published is None or day is None or day >= published or _YEAR_DIGITS.search(q.text):
        return q
    if not any(ch.isdigit() for ch in q.text):
        return _shifted(q, 7) if q.text.strip().lower() in WEEKDAYS else q
    if _weekday_named(q.text) or not valid_date(day.year + 1, day.month, day.day):
        return q
    return replace(q, value=date_value(day.year + 1, day.month, day.day))


def _agree(a: _Mention, b: _Mention) -> bool:
    """Whether two figures state the same value. A day written without its year ("January 6") and
    not of its article's own days may be of another year than the article's: only its month and
    day are compared, as far as both give them ("January 6" in August 2022 and "January 6, 2021"
    agree, and "March 21" and "March 2020")."""
    if any(m.year_inferred and not m.current for m in (a, b)) and a.quantity.unit == b.quantity.unit == "date":
        parts = [date_parts(m.quantity.value)[1:] for m in (a, b)]
        return all(x == y for x, y in zip(*parts) if x and y)
    if a.quantity.unit == b.quantity.unit == "date":  # a weekday written alone may be of two weeks
        return any(same_value(x, y) for x in a.days for y in b.days)
    return same_value(a.quantity, b.quantity)


def _mentions(passages: Sequence[Passage]) -> list[_Mention]:
    """Every figure of the passages once, though overlapping chunks of a document repeat it."""
    seen: set[tuple[str, int]] = set()
    found = []
    for n, passage in enumerate(passages, start=1):
        published = _published(passage)
        quantities = extract_quantities(passage.text, published)
        periods = find_periods(passage.text, published)
        for sentence in split_sentences(passage.text):
            for q in (q for q in quantities if sentence.start <= q.start < sentence.end):
                if (passage.source, passage.start + q.start) in seen:
                    continue
                speaker = _speaker(passage.text, q)
                if speaker or not how_reported(passage.text, q):
                    seen.add((passage.source, passage.start + q.start))
                    found.append(_mention(q, n, passage, sentence, periods, published, quantities, speaker))
    return found


def _speaker(text: str, q: Quantity) -> str | None:
    """The name of who spoke when a date is the day a source spoke: the name just before the verb
    ("Red Sox Chief Baseball Officer Chaim Bloom said Tuesday": "bloom"); None for any other date,
    and when no name stands there ("officials said Tuesday", "she told NBC on Wednesday"), as the
    statement is then not known to be one."""
    verb = spoken_at(text, q)
    if verb is None:
        return None
    before = [word for position, word in _named(text) if _LAST_WORD.fullmatch(text, position, verb)]
    return before[-1] if before else None


def _published(passage: Passage) -> date | None:
    try:
        return date.fromisoformat(passage.date) if passage.date else None
    except ValueError:
        return None


def _mention(
    q: Quantity,
    n: int,
    passage: Passage,
    sentence: Sentence,
    periods: list[tuple[int, int, Period]],
    published: date | None,
    quantities: Sequence[Quantity],
    speaker: str | None = None,
) -> _Mention:
    text = passage.text
    start, end = _clause(text, sentence, q.start)
    clause = text[start : q.figure[0]] + "X" + text[q.figure[1] : end]
    before, after = text[start : q.start], text[q.end : end]
    q, modality = _modality(q, before, after, published)
    stated = [
        (min(abs(p_start - q.end), abs(q.start - p_end)), period)
        for p_start, p_end, period in periods
        if start <= p_start < end and not (p_start < q.end and q.start < p_end)
    ]
    if modality == "limit":
        period = None  # a cap or limit stands until it is changed
    else:
        period = min(stated, key=lambda pair: pair[0])[1] if stated else publication_period(published)
    near = _content_words(before)[-NEAR_WORDS:] + _content_words(after)[:NEAR_WORDS]
    segment = _segment(text[start : q.figure[0]]) + "X" + _segment(text[q.figure[1] : end], after=True)
    rate = _rate(before, after)
    others = [other for other in quantities if other.start != q.start]
    return _Mention(
        q,
        n,
        passage,
        sentence.text,
        clause,
        period,
        rate,
        modality,
        frozenset(near),
        segment,
        _values(others),
        _values(o for o in others if sentence.start <= o.start < sentence.end),
        q.kind in _TIMES and bool(_RECORD_SINCE.search(before)),
        speaker,
        _calendar(q),
    )


def _calendar(q: Quantity) -> frozenset[int | str]:
    """The months (as numbers: "Jan." and "January" are one) and weekdays a date names in words."""
    if q.kind != "date":
        return frozenset()
    found = words(q.text)
    return frozenset([MONTHS[w] for w in found if w in MONTHS] + [w for w in found if w in WEEKDAYS])


def _values(quantities: Iterable[Quantity]) -> frozenset[tuple[str, str, float]]:
    return frozenset((q.kind, q.unit, q.value) for q in quantities)


def _modality(q: Quantity, before: str, after: str, published: date | None) -> tuple[Quantity, Modality]:
    """What a figure says (`figure_modality`, from the words before it), with what only its article
    tells: an amount whose own verb follows it ("About X athletes will parade") is a forecast; a date
    or year after the article's publication is of a scheduled event, a forecast whatever the verb
    ("Shakira is bringing her tour to Phoenix on Thursday, Nov. 7, 2024"), and a forecast's day left
    open is the next such day (`_scheduled`); a year before the publication's is never a forecast (a
    film of 1983 that fans "might" see)."""
    modality = figure_modality(q, before)
    if q.kind not in _TIMES:
        return q, "forecast" if modality == "actual" and _FORECAST_AFTER.match(after) else modality
    if modality == "forecast":
        q = _scheduled(q, published)
    if published is None:
        return q, modality
    day = _day_of(q) if q.kind == "date" else None
    year = int(q.value) if q.kind == "year" else date_parts(q.value)[0]
    if (day is not None and day > published) or (day is None and year > published.year):
        return q, "forecast"
    return q, "actual" if 0 < year < published.year else modality


def _segment(text: str, *, after: bool = False) -> str:
    """The words of a clause on one side of a figure up to the nearest comma, taking in more parts
    until there are `SEGMENT_WORDS` ("With more than X monkeypox cases in the United States and vaccine
    demand remaining high", of a sentence that goes on about a vaccine's supply)."""
    parts = text.split(", ")
    kept: list[str] = []
    for part in parts if after else reversed(parts):
        kept.append(part)
        if sum(len(p.split()) for p in kept) >= SEGMENT_WORDS:
            break
    return ", ".join(kept if after else reversed(kept))


def _content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in FUNCTION_WORDS and not w.isdigit()]


def _clause(text: str, sentence: Sentence, position: int) -> tuple[int, int]:
    """The span of the part of the sentence, between dashes or semicolons, that holds `position`."""
    start = sentence.start
    for cut in _CLAUSE_BREAK.finditer(text, sentence.start, sentence.end):
        if cut.start() > position:
            return start, cut.start()
        start = cut.end()
    return start, sentence.end


def _rate(before: str, after: str) -> str | None:
    if found := _RATE_AFTER.match(after):
        word = (found.group(1) or found.group(2)).lower()
        return _RATE_WORDS.get(word, word)
    if found := _RATE_BEFORE.search(before):
        return _RATE_WORDS[found.group(1).lower()]
    if found := _RATE_PER.match(after):
        return found.group(1).lower()
    return None


# --- which figures describe one quantity, and when ----------------------------------------------


def _comparable(a: _Mention, b: _Mention) -> bool:
    """Whether two figures of different documents may be one quantity (or dates of one event). A bare
    month ("in April") is compared too, at its precision: as a date of the article's own days, with
    an article of another day only where it agrees. The horizon of a record ("the biggest jump since
    July 1981") is compared only with another record's: it dates no event ("prices rose 4.6% since
    September 2020" starts a change). Found on RealTimeQA dev, where two such dates of one question's
    passages made a false conflict; no labelled pair holds one."""
    qa, qb = a.quantity, b.quantity
    if a.passage.source == b.passage.source or qa.kind != qb.kind or qa.unit != qb.unit or a.horizon != b.horizon:
        return False
    if a.speaker != b.speaker:  # the day a source spoke dates that speaker's statement, no event
        return False
    if qa.kind in _TIMES:
        # A date of its article's own days and one of an article of another day most often belong to
        # two events: such dates are one event's only where they agree.
        recurring = (a.current or b.current) and a.passage.date != b.passage.date
        return a.modality == b.modality and (not recurring or _agree(a, b)) and _within_a_week(a, b)
    return a.rate == b.rate and a.modality == b.modality


def _within_a_week(a: _Mention, b: _Mention) -> bool:
    """Whether a weekday written alone ("on Tuesday", a day of its article's week) may date the same
    event as the other date: one of its days within `CURRENT_DAYS` of a day the other gives, or in
    the month or year the other gives. A weekday is never wrong by a year ("a speech Tuesday night"
    and "the January 6, 2021, insurrection", in two articles of one day, made a false conflict on
    RealTimeQA dev). Any other pair of dates is left to the model."""
    for weekday, other in ((a, b), (b, a)):
        if _weekday_named(weekday.quantity.text) and not any(ch.isdigit() for ch in weekday.quantity.text):
            day = _day_of(other.quantity) if other.quantity.kind == "date" else None
            if day is not None:
                return any(
                    (found := _day_of(c)) is not None and abs((found - day).days) <= CURRENT_DAYS for c in weekday.days
                )
            return any(same_value(c, other.quantity) for c in weekday.days)
    return True


def same_period(a: Period | None, b: Period | None) -> bool:
    """Whether two figures describe one time: the same stated span, or two moments at most
    `SAME_MOMENT_DAYS` apart; an unknown period (no date at all, a standing limit) matches any."""
    if a is None or b is None:
        return True
    if a.start == a.end and b.start == b.end:
        return abs((a.start - b.start).days) <= SAME_MOMENT_DAYS
    return (a.start, a.end) == (b.start, b.end)


def same_time(a: _Mention, b: _Mention) -> bool:
    """Whether two figures of one quantity describe one time. A date or year is itself the time of
    an event, unless it is a forecast ("set to begin Jan. 23"), which may move between two reports."""
    if a.quantity.kind in _TIMES and a.modality != "forecast":
        return True
    return same_period(a.period, b.period)


# --- how alike two figures' contexts are ----------------------------------------------------------

# A capitalised word or acronym ("Punxsutawney", "U.N.", "McDonald's"); not the first word of a sentence.
_NAME = re.compile(r"(?<![\w.’'-])(?:[A-Z][a-z]*\.){2,}|(?<![\w’'-])[A-Z][\w&-]*(?:[’'][A-Za-z]+)?")
_SENTENCE_START = re.compile(r"(?:^|(?<!\b[A-Z])[.!?:]['\"”’)]*\s+|[\"“(]\s*)$")
_LAST_WORD = re.compile(r"\S+\s+")
_NOT_NAMES = FUNCTION_WORDS | set(MONTHS) | set(WEEKDAYS) | {"mr", "mrs", "ms", "dr", "st", "u", "s"}


@lru_cache(maxsize=2048)
def _named(text: str) -> tuple[tuple[int, str], ...]:
    """Who and what a text is about, cheaply: its capitalised words and acronyms, lower-cased, with
    their positions; not a sentence's first word (most often just capitalised), function words or
    calendar words."""
    found = []
    for match in _NAME.finditer(text):
        word = POSSESSIVE.sub("", match.group()).rstrip(".").lower()
        if word not in _NOT_NAMES and not (
            _SENTENCE_START.search(text, max(0, match.start() - 4), match.start()) and "." not in match.group()
        ):
            found.append((match.start(), word))
    return tuple(found)


def names(text: str) -> frozenset[str]:
    """The names of a text (`_named`)."""
    return frozenset(word for _, word in _named(text))


def _subject(m: _Mention) -> frozenset[str]:
    """Who or what a figure is about, roughly: the last names its passage gives before it ("Smith
    ... He was sentenced to X years"), else the first after it."""
    named = _named(m.passage.text)
    before = [word for position, word in named if position < m.quantity.start]
    after = [word for position, word in named if position >= m.quantity.start]
    return frozenset(list(dict.fromkeys(reversed(before)))[:SUBJECT_NAMES] or after[:SUBJECT_NAMES])


@lru_cache(maxsize=512)
def _title_words(title: str | None) -> frozenset[str]:
    return frozenset(w for w in words(title or "") if w not in FUNCTION_WORDS and not w.isdigit())


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """How much two sets agree, from -1 (nothing in common) to 1 (the smaller within the larger);
    0, unknown, when either is empty."""
    return 2 * _shared(a, b) - 1 if a and b else 0.0


def _shared(a: frozenset, b: frozenset) -> float:
    """The share of the smaller set found in the larger, 0 when either is empty: evidence for, never
    against (two outlets' reports of one event most often state different other figures)."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def pair_features(a: _Mention, b: _Mention, cosine: float) -> list[float]:
    """What tells whether two figures of different articles are one quantity, in the order of
    `ALIGNMENT_FILE`'s "features": the masked clauses' cosine; how much the names of their
    sentences, of their passages and of their subjects agree; the words next to the figures they
    share; the words of their articles' titles they share; how many days apart the articles were
    published; the share of the other figures of their passages and of their sentences they have in
    common (one event's reports give some of its other figures alike); the share of the months and
    weekdays two dates name in words that they have in common ("the January 6 attack" and "the January
    6, 2021, insurrection"; 0 when either names none, or when they differ, as for amounts: evidence
    for, never against, so that two outlets' dates of one event in different months are left to the
    other features)."""
    published = [_published(m.passage) for m in (a, b)]
    days = abs((published[0] - published[1]).days) if None not in published else 0
    return [
        cosine,
        _overlap(names(a.sentence), names(b.sentence)),
        _overlap(names(a.passage.text), names(b.passage.text)),
        _overlap(_subject(a), _subject(b)),
        _overlap(a.near, b.near),
        _overlap(_title_words(a.passage.title), _title_words(b.passage.title)),
        math.log1p(days),
        _shared(a.others, b.others),
        _shared(a.sentence_others, b.sentence_others),
        _shared(a.calendar, b.calendar),
    ]


def _similarities(mentions: Sequence[_Mention], embedder: Embedder) -> np.ndarray:
    """How alike the contexts of every two figures are: the cosine of their masked clauses, embedded
    in one batch, and only where another document has a figure of that kind and unit."""
    count = len(mentions)
    similarity = np.full((count, count), -1.0, dtype=np.float32)
    sources: dict[tuple[str, str], set[str]] = {}
    for m in mentions:
        sources.setdefault((m.quantity.kind, m.quantity.unit), set()).add(m.passage.source)
    shared = [i for i, m in enumerate(mentions) if len(sources[(m.quantity.kind, m.quantity.unit)]) > 1]
    texts = list(dict.fromkeys(mentions[i].clause for i in shared))
    if texts:
        position = {text: row for row, text in enumerate(texts)}
        vectors = embedder.embed(texts)[[position[mentions[i].clause] for i in shared]]
        similarity[np.ix_(shared, shared)] = vectors @ vectors.T
    return similarity


@dataclass(frozen=True)
class Regression:
    """A logistic regression over `pair_features`: how likely two figures are one quantity."""

    weights: tuple[float, ...]
    intercept: float
    threshold: float  # the probability from which two mutual best matches are one quantity

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ np.asarray(self.weights) + self.intercept)))


@dataclass(frozen=True)
class Alignment:
    """The learned models: one for amounts, one for dates and years (whether they date one event)."""

    features: tuple[str, ...]
    amounts: Regression
    dates: Regression

    def of(self, m: _Mention) -> Regression:
        return self.dates if m.quantity.kind in _TIMES else self.amounts


@lru_cache(maxsize=1)
def alignment() -> Alignment:
    """The learned models of ALIGNMENT_FILE."""
    data = json.loads(ALIGNMENT_FILE.read_text(encoding="utf-8"))
    models = {
        kind: Regression(tuple(data[kind]["weights"]), data[kind]["intercept"], data[kind]["threshold"])
        for kind in ("amounts", "dates")
    }
    return Alignment(tuple(data["features"]), **models)


def _scores(mentions: Sequence[_Mention], similarity: np.ndarray, model: Alignment) -> np.ndarray:
    """How likely every two figures of different documents are one quantity; -1 where they cannot be
    (`_comparable` says no: another kind, unit, rate or modality)."""
    score = np.full(similarity.shape, -1.0)
    pairs = [
        (i, j)
        for i, j in combinations(range(len(mentions)), 2)
        if similarity[i, j] > -1 and _comparable(mentions[i], mentions[j])
    ]
    if pairs:
        rows, columns = zip(*pairs)
        features = np.array([pair_features(mentions[i], mentions[j], float(similarity[i, j])) for i, j in pairs])
        times = np.array([mentions[i].quantity.kind in _TIMES for i in rows])
        probabilities = np.where(times, model.dates.probabilities(features), model.amounts.probabilities(features))
        # Copies of one story (one group, edited or not) state one figure where their clauses are the same.
        copies = np.array([_copied(mentions[i], mentions[j]) for i, j in pairs])
        score[rows, columns] = score[columns, rows] = np.where(copies, 1.0, probabilities)
    return score


def _copied(a: _Mention, b: _Mention) -> bool:
    return a.passage.group == b.passage.group and a.clause == b.clause


def _groups(mentions: Sequence[_Mention], score: np.ndarray, model: Alignment) -> list[set[int]]:
    """Figures joined when, between two documents, each is the other's best comparable match (one
    stated for the same period first), at a score of at least the model's threshold for their kind."""
    quantities = UnionFind(range(len(mentions)))

    def best(i: int, among: list[int]) -> int | None:
        candidates = [j for j in among if score[i, j] >= 0]
        if not candidates:
            return None
        return max(candidates, key=lambda j: (same_period(mentions[i].period, mentions[j].period), score[i, j]))

    by_source: dict[str, list[int]] = {}
    for i, m in enumerate(mentions):
        by_source.setdefault(m.passage.source, []).append(i)
    for left, right in combinations(by_source.values(), 2):
        for i in left:
            j = best(i, right)
            if j is not None and best(j, left) == i and score[i, j] >= model.of(mentions[i]).threshold:
                quantities.join(i, j)
    return [set(group) for group in quantities.groups().values()]


def _distinct(mentions: Sequence[_Mention], group: Sequence[int], first: set[int]) -> list[int]:
    """One figure per source and period, a copy of a story that repeats the same value counting once."""
    kept: list[int] = []
    for i in sorted(group, key=lambda i: (i not in first, mentions[i].n)):
        m = mentions[i]
        if not any(
            mentions[k].passage.group == m.passage.group
            and same_period(mentions[k].period, m.period)
            and _agree(mentions[k], m)
            for k in kept
        ):
            kept.append(i)
    return kept


def _by_period(mentions: Sequence[_Mention], group: set[int]) -> list[list[int]]:
    """The figures of one quantity split into the times they describe, earliest first."""
    periods: list[list[int]] = []
    for i in sorted(group, key=lambda i: _period_key(mentions[i].period)):
        home = next((p for p in periods if same_time(mentions[p[0]], mentions[i])), None)
        if home is None:
            periods.append([i])
        else:
            home.append(i)
    return periods


def _period_key(period: Period | None) -> tuple[date, date]:
    return (period.end, period.start) if period else (date.min, date.min)


def _conflict(mentions: Sequence[_Mention], kept: list[int]) -> Conflict | None:
    quantities = [mentions[i].quantity for i in kept]
    if all(_agree(mentions[kept[0]], mentions[i]) for i in kept[1:]):
        return None
    values = [abs(q.value) for q in quantities]
    ratio = max(values) / min(values) if min(values) else math.inf
    return Conflict(tuple(mentions[i].row for i in kept), ratio, _describe(quantities, ratio))


def _timeline(mentions: Sequence[_Mention], periods: list[list[int]], as_of: date | None) -> Timeline | None:
    """One row per period (the first source's), when the value is not the same at every time."""
    if mentions[periods[0][0]].quantity.kind == "age":
        return None  # an age grows by itself: ages of other years are most often of other people
    firsts = [p[0] for p in periods if mentions[p[0]].period is not None]
    if len(firsts) < 2 or all(_agree(mentions[firsts[0]], mentions[i]) for i in firsts[1:]):
        return None
    known = [i for i in firsts if as_of is None or mentions[i].period.end <= as_of] or firsts[:1]
    latest = known[-1]
    day = as_of or mentions[latest].period.end
    return Timeline(tuple(mentions[i].row for i in firsts), mentions[latest].row, _day_text(day))


def _day_text(day: date) -> str:
    return Period(day, day, "").label()


def _describe(quantities: Sequence[Quantity], ratio: float) -> str:
    kind = quantities[0].kind
    if kind in _TIMES:
        return "The sources give different dates for the same event."
    if kind in ("score", "rank"):
        return "The sources give different results."
    if kind == "percent":
        points = max(q.value for q in quantities) - min(q.value for q in quantities)
        return f"The values differ by {points:,.3g} {'points' if quantities[0].unit == 'percentage point' else 'percentage points'}."
    if math.isinf(ratio):
        return "One source gives zero."
    zeros = math.log10(ratio)
    if ratio >= 10 and abs(zeros - round(zeros)) < 0.005:
        return f"The values differ by a factor of {ratio:,.0f}, the signature of {_slip(quantities, round(zeros))}."
    if ratio >= 2:
        return f"The values differ by a factor of {ratio:,.3g}."
    return f"The values differ by {(ratio - 1) * 100:.0f}%."


def _slip(quantities: Sequence[Quantity], zeros: int) -> str:
    smallest, largest = min(q.value for q in quantities), max(q.value for q in quantities)
    names = [next((name for size, name in _SCALE_NAMES if value >= size), None) for value in (smallest, largest)]
    if zeros % 3 == 0 and all(names) and names[0] != names[1]:
        return f"a {names[0]}/{names[1]} slip"
    return "a dropped or added zero" if zeros == 1 else f"{zeros} dropped or added zeros"


def _bounds(mentions: Sequence[_Mention], similarity: np.ndarray, group: Sequence[int]) -> list[int]:
    """Caps and limits on the same unit whose clause relates to the disputed figures."""
    members = [mentions[i] for i in group]
    if any(m.modality == "limit" for m in members):
        return []
    found: list[int] = []
    for i, m in enumerate(mentions):
        if (
            m.modality == "limit"
            and i not in group
            and m.quantity.kind == members[0].quantity.kind
            and m.quantity.unit == members[0].quantity.unit
            and max(similarity[i, j] for j in group) >= RELATED_LIMIT
            and not any(same_value(mentions[k].quantity, m.quantity) for k in found)
        ):
            found.append(i)
    return sorted(found, key=lambda i: mentions[i].n)


# --- the public checks --------------------------------------------------------------------------


def cited_spans(text: str) -> list[tuple[int, int, frozenset[int]]]:
    """The sentences of a text as (start, end, passages they cite). A sentence of citation marks
    alone ("… 2023. [1]") belongs to the one before it."""
    spans: list[tuple[int, int, frozenset[int]]] = []
    for sentence in split_sentences(text):
        cited = frozenset(cited_numbers(sentence.text))
        if spans and not CITATION.sub("", sentence.text).strip(" .;,"):
            start, _, before = spans.pop()
            spans.append((start, sentence.end, before | cited))
        else:
            spans.append((sentence.start, sentence.end, cited))
    return spans


def _claims(answer: str) -> list[tuple[Quantity, frozenset[int]]]:
    """The answer's figures with the passages cited for each: those of its sentence, else all the answer cites."""
    spans = cited_spans(answer)
    everywhere = frozenset(cited_numbers(answer))
    unmarked = CITATION.sub(lambda found: " " * len(found.group()), answer)
    claims = []
    for q in extract_quantities(unmarked):
        cited = next((c for start, end, c in spans if start <= q.start < end), frozenset())
        claims.append((q, cited or everywhere))
    return claims


def _supported(
    claim: Quantity, cited: frozenset[int], passages: Sequence[Passage], facts: dict[int, list[Quantity]]
) -> bool:
    for n in cited:
        if 1 <= n <= len(passages):
            if n not in facts:
                facts[n] = extract_quantities(passages[n - 1].text, passages[n - 1].date)
            if any(supports(fact, claim) for fact in facts[n]):
                return True
    return False


def unsupported_numbers(answer: str, passages: Sequence[Passage], *, question: str = "") -> list[Quantity]:
    """The figures of `answer` that no passage it cites states ([n] is passages[n - 1]).

    A figure is checked against the passages cited in its sentence, or, if that sentence cites none,
    those cited anywhere in the answer; with no citation at all it is unsupported. Figures the
    question itself states ("in the first nine months of 2023") are the question's, not claims.
    """
    given = extract_quantities(question)
    facts: dict[int, list[Quantity]] = {}
    return [
        claim
        for claim, cited in _claims(answer)
        if not any(supports(g, claim) for g in given) and not _supported(claim, cited, passages, facts)
    ]


def review(
    question: str,
    answer: str,
    passages: Sequence[Passage],
    embedder: Embedder,
    *,
    as_of: date | str | None = None,
) -> GuardReport:
    """The guard's report on an answer: the values it states compared with the same quantity in the
    other documents, conflicts among them (same quantity, same time), limits that bound a disputed
    one, and timelines of those that changed over time, the latest given as of `as_of`.

    Only figures the answer states count, not those it repeats from the question; those no passage it
    cites states are `unsupported` (`unsupported_numbers`). Status precedence: conflict >
    changed > unsupported > ok > no_numbers.
    """
    day = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    given = extract_quantities(question)
    claims = [(q, cited) for q, cited in _claims(answer) if not any(supports(g, q) for g in given)]
    unsupported = [q.text for q in unsupported_numbers(answer, passages, question=question)]

    def stated(m: _Mention) -> bool:
        return any(m.n in cited and supports(m.quantity, q) for q, cited in claims)

    everything = _mentions(passages)
    units = {(m.quantity.kind, m.quantity.unit) for m in everything if stated(m)}
    mentions = [m for m in everything if (m.quantity.kind, m.quantity.unit) in units]
    anchors = {i for i, m in enumerate(mentions) if stated(m)}
    similarity = _similarities(mentions, embedder)
    model = alignment()
    score = _scores(mentions, similarity, model)
    asked = asked_quantity(question)
    _rival_answers(question, asked, mentions, anchors, score, model, embedder)
    shown: list[int] = []
    disputed: set[int] = set()
    conflicts, bounds, timelines = [], [], []
    for group in sorted(
        (g for g in _groups(mentions, score, model) if g & anchors), key=lambda g: min(mentions[i].n for i in g)
    ):
        periods = [_distinct(mentions, members, anchors) for members in _by_period(mentions, group)]
        shown += [i for kept in periods for i in kept if not any(_restates(mentions[k], mentions[i]) for k in shown)]
        for kept in periods:
            if conflict := _conflict(mentions, kept):
                conflicts.append(conflict)
                disputed.update(kept)
                bounds += [i for i in _bounds(mentions, similarity, group) if i not in bounds]
        if timeline := _timeline(mentions, periods, day):
            timelines.append(timeline)
    # The table shows the values of the kind asked for ("how many barrels": not the year of a
    # resolution quoted alongside), and every disputed one.
    values = [i for i in shown if i in disputed or asked is None or asked.accepts(mentions[i].quantity)] or shown
    status: Status = (
        "conflict"
        if conflicts
        else "changed"
        if timelines
        else "unsupported"
        if unsupported
        else "ok"
        if claims
        else "no_numbers"
    )
    return GuardReport(
        status,
        [mentions[i].row for i in values],
        conflicts,
        unsupported,
        [mentions[i].row for i in bounds],
        timelines,
    )


def _rival_answers(
    question: str,
    asked: Asked | None,
    mentions: Sequence[_Mention],
    anchors: set[int],
    score: np.ndarray,
    model: Alignment,
    embedder: Embedder,
) -> None:
    """Raise to the threshold the score of each figure the answer states with every comparable figure
    of another document that answers the question as well: of the unit the question asks for ("how
    many ... cases"), in a clause at least `SECOND_SENTENCE_SHARE` as close to the question as the
    answer's own (the closer of its clause and of its comma-bounded segment, so that what a sentence
    goes on to say does not count against the figure's own words). Two
    outlets' counts of the asked thing are one quantity however differently their sentences go on
    ("With more than 10,000 monkeypox cases in the United States and vaccine demand remaining high,
    Jynneos has been in short supply" and "the United States has more than 5,000 probable or confirmed
    monkeypox cases, according to CDC data"); mutual best matching still decides."""
    if asked is None or not asked.unit:
        return
    answering = [i for i, m in enumerate(mentions) if asked.accepts(m.quantity)]
    if not any(i in anchors for i in answering):
        return
    texts = [text for i in answering for text in (mentions[i].clause, mentions[i].segment)]
    vectors = embedder.embed([question] + texts)
    closeness = (vectors[1:] @ vectors[0]).reshape(-1, 2).max(axis=1)
    relevance = dict(zip(answering, closeness))
    for i in (i for i in answering if i in anchors and relevance[i] >= MIN_RELEVANCE):
        for j in answering:
            if score[i, j] >= 0 and relevance[j] >= SECOND_SENTENCE_SHARE * relevance[i]:
                score[i, j] = score[j, i] = max(score[i, j], model.of(mentions[i]).threshold)


def _restates(a: _Mention, b: _Mention) -> bool:
    """One source giving one value twice ("March 27" and "Wednesday" in one dateline)."""
    return a.passage.source == b.passage.source and same_value(a.quantity, b.quantity)
