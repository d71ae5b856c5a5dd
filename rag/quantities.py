"""Quantities in news text: figures with their scale, unit, qualifier and span; years and dates apart.

Written numbers go through text2num ("three million", "fifteen"); the rest is a small scanner over
this project's text. quantulum3 was tried first and left out: on the seed articles it reads
"7,000 containers" and "five North Korean tankers" as dimensionless, "March 26" as 26 and "a U.N." as
one atomic mass unit, and crashes on "1.5bn" and on plain sentences once its unit classifier is
consulted (its pickle no longer loads with the installed scikit-learn). tests/test_guard.py holds
those sentences.

Value encodings by kind:
- amount, money, percent: the number itself (1.5 billion -> 1.5e9; 12% -> 12.0).
- year: the year (2017.0).
- date: YYYYMMDD as a number with 0 for a part the text leaves out ("March 26" -> 326.0,
  "December 2023" -> 20231200.0), unit "date"; a weekday on its own is unit "weekday", value 1-7
  (Monday = 1). With the article's publication date, relative ones are resolved to full dates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from text_to_num import text2num

from .dates import find_dates, valid_date
from .text import FUNCTION_WORDS

# What a figure is; ages, durations, ranks and scores are never compared with counts.
Kind = Literal["amount", "money", "percent", "year", "date", "age", "duration", "rank", "score"]
# What a question can ask for.
AskedKind = Literal["amount", "money", "percent", "date", "age", "duration"]


@dataclass(frozen=True)
class Quantity:
    text: str  # as written, qualifier and unit included: "more than 1.5 billion barrels"
    value: float  # normalised: 1.5e9 (see the module docstring for years and dates)
    unit: str  # singular unit: "barrel", "container", "percent", "USD", "date", "" when none
    kind: Kind
    qualifier: str | None  # canonical: "more than", "at least", "around", "up to", "nearly", "no more than", ...
    start: int  # span of `text` in the text it was extracted from
    end: int
    figure: tuple[int, int] = (0, 0)  # span of the figure alone ("1.5 billion"), masked when comparing contexts
    step: float = 1.0  # place value of the last digit stated: 1e5 for "1.5 million", 1e3 for "7,000"


# --- vocabulary ---------------------------------------------------------------------------------

_SCALES = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "k": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "tn": 1e12,
}
_QUALIFIERS = {
    "no more than": "no more than",
    "not more than": "no more than",
    "at most": "no more than",
    "a maximum of": "no more than",
    "more than": "more than",
    "over": "more than",
    "above": "more than",
    "greater than": "more than",
    "in excess of": "more than",
    "upwards of": "more than",
    "upward of": "more than",
    "just over": "more than",
    "well over": "more than",
    "at least": "at least",
    "no fewer than": "at least",
    "no less than": "at least",
    "a minimum of": "at least",
    "less than": "less than",
    "fewer than": "less than",
    "under": "less than",
    "below": "less than",
    "just under": "less than",
    "around": "around",
    "about": "around",
    "approximately": "around",
    "roughly": "around",
    "some": "around",
    "an estimated": "around",
    "estimated": "around",
    "close to": "around",
    "nearly": "nearly",
    "almost": "nearly",
    "up to": "up to",
    "as many as": "up to",
    "as much as": "up to",
    "exactly": "exactly",
}
_CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₩": "KRW", "₽": "RUB"}
_CURRENCY_WORDS = {
    "dollar": "USD",
    "euro": "EUR",
    "yuan": "CNY",
    "yen": "JPY",
    "won": "KRW",
    "ruble": "RUB",
    "rouble": "RUB",
    **{code.lower(): code for code in ("USD", "EUR", "GBP", "JPY", "KRW", "RUB", "CNY")},
}
_UNIT_ALIASES = {"bbl": "barrel", "bbls": "barrel", "km": "kilometre", "kg": "kilogram", "t": "tonne", "mt": "tonne"}
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety"
).split()

# --- patterns -----------------------------------------------------------------------------------

_DIGITS = re.compile(r"(?<![\w.,/:-])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<dec>\.\d+)?")
_WORDS = "|".join(_NUMBER_WORDS)
_WORD_SCALES = "hundred|thousand|million|billion|trillion"
_WORD_NUMBER = re.compile(
    rf"\b(?:a(?=\s+(?:{_WORD_SCALES})\b)|{_WORDS})(?:[\s-]+(?:and\s+)?(?:{_WORDS}|{_WORD_SCALES}))*\b", re.I
)
_SCALE_AFTER = re.compile(r"(?:\s*-?\s*(thousand|million|billion|trillion)\b|\s?(mn|bn|tn)\b|(k|m|b)\b)", re.I)
_PERCENT_AFTER = re.compile(r"\s*(%|percent\b|per\s+cent\b|percentage\s+points?\b)", re.I)
_CURRENCY_AFTER = re.compile(rf"\s+({'|'.join(_CURRENCY_WORDS)})s?\b", re.I)
_CURRENCY_BEFORE = re.compile(r"(US\$|\$|€|£|¥|₩|₽|\b(?:USD|EUR|GBP|JPY|KRW|RUB|CNY)\s?)$")
_QUALIFIER_BEFORE = re.compile(rf"\b({'|'.join(sorted(map(re.escape, _QUALIFIERS), key=len, reverse=True))})\s+$", re.I)
_SCORE_AFTER = re.compile(r"\s?[-–]\s?(?P<other>\d{1,3})\b(?![-–.,]?\d)")
_AGE_AFTER = re.compile(r"(?:-|\s)years?(?:-|\s)old\b", re.I)
_AGE_BEFORE = re.compile(r"\b(?:aged?|ages)\s+$", re.I)
_RANK_BEFORE = re.compile(r"(?:\bNo\.|\bnumber|#|\branked|\brank(?:ing|s)?)\s*$", re.I)
# Units of time: a figure counting them is a duration ("a 22-year career", "nine years in prison").
_TIME_UNITS = {"second", "minute", "hour", "day", "week", "month", "year", "decade", "century"}
_HYPHEN_UNIT = re.compile(r"-([A-Za-z]+)\b")
# A plural noun within the next two words, after a participle that is then an adjective ("confirmed cases").
_PLURAL_AHEAD = re.compile(r"\s+[a-z]+ed(?:\s+[A-Za-z-]+)?\s+[a-z]+s\b")
_NEXT_WORD = re.compile(r"\s+([A-Za-z][A-Za-z.’'-]*[A-Za-z.]|[A-Za-z])")


@lru_cache(maxsize=1)
def _inflect():
    """inflect's engine, imported on first use. Importing inflect wraps its methods in typeguard's run-time
    type checks, which parses their source: 1.6 of its 1.8 s here. The checks are left out, as under
    `python -O`: this module passes it nothing but lowercase `str` words."""
    import typeguard

    checked = typeguard.typechecked
    typeguard.typechecked = lambda target=None, **_: target if target is not None else (lambda function: function)
    try:
        import inflect
    finally:
        typeguard.typechecked = checked
    return inflect.engine()


# --- extraction ---------------------------------------------------------------------------------


def extract_quantities(text: str, published: str | date | None = None) -> list[Quantity]:
    """Every figure, year and date in `text`, in order of position.

    With `published` (the article's ISO date), "last year" becomes a year, a date without a year
    takes the article's, and a weekday becomes the latest such day on or before publication (news
    report past events so); without it those stay as written.
    """
    day = date.fromisoformat(published) if isinstance(published, str) else published
    found = _dates(text, day)
    taken = [(q.start, q.end) for q in found]
    for quantity in _figures(text):
        if not any(quantity.figure[0] < end and start < quantity.figure[1] for start, end in taken):
            found.append(quantity)
    return sorted(found, key=lambda q: q.start)


_LARGE_SCALE = re.compile(r"[\s-]+(million|billion|trillion)$", re.I)


def in_digits(text: str) -> str:
    """`text` with its numbers written in words given in digits ("nine years" -> "9 years", "two million
    people" -> "2 million people"), as a short answer states a figure."""
    out, at = [], 0
    for match in _WORD_NUMBER.finditer(text):
        scale = _LARGE_SCALE.search(match.group())
        number = match.group()[: scale.start()] if scale else match.group()
        if (value := _words_value(number)) is None:
            continue
        out += [text[at : match.start()], f"{value:,}" + (f" {scale.group(1)}" if scale else "")]
        at = match.end()
    return "".join(out) + text[at:]


def _dates(text: str, published: date | None) -> list[Quantity]:
    found = []
    for written in find_dates(text, published):
        if written.weekday:
            value, unit, kind = written.weekday, "weekday", "date"
        elif written.month:
            value, unit, kind = date_value(written.year, written.month, written.day), "date", "date"
        else:
            value, unit, kind = written.year, "", "year"
        found.append(
            Quantity(
                text[written.start : written.end],
                float(value),
                unit,
                kind,
                None,
                written.start,
                written.end,
                (written.start, written.end),
                1.0,
            )
        )
    return found


def date_value(year: int, month: int, day: int) -> float:
    """A date figure's value: YYYYMMDD, 0 for the parts the text leaves out ("March 2020" is 20200300)."""
    return float(year * 10000 + month * 100 + day)


def date_parts(value: float) -> tuple[int, int, int]:
    """(year, month, day) of a date figure's value (`date_value`), 0 where the text does not say."""
    number = int(value)
    return number // 10000, number // 100 % 100, number % 100


def _plain(match: re.Match, value: float, unit: str, kind: Kind) -> Quantity:
    return Quantity(
        match.group(), float(value), unit, kind, None, match.start(), match.end(), (match.start(), match.end()), 1.0
    )


def _figures(text: str) -> list[Quantity]:
    found = []
    for match in _DIGITS.finditer(text):
        if quantity := _from_digits(text, match):
            found.append(quantity)
    for match in _WORD_NUMBER.finditer(text):
        if not any(match.start() < q.figure[1] and q.figure[0] < match.end() for q in found):
            if quantity := _from_words(text, match):
                found.append(quantity)
    return found


def _from_digits(text: str, match: re.Match) -> Quantity | None:
    after = text[match.end() :]
    if re.match(r"(?:st|nd|rd|th)\b|:\d|[.,]\d|[A-Za-z]*\d", after, re.I):
        return None  # an ordinal ("110th"), a time of day, a code ("F-16", "3D")
    integer, decimals = match["int"].replace(",", ""), (match["dec"] or "")[1:]
    value = float(f"{integer}.{decimals}" if decimals else integer)
    step = 10.0 ** -len(decimals) if decimals else _place_value(value)
    end, scale = match.end(), 1.0
    if found := _SCALE_AFTER.match(after):
        scale, end = _SCALES[next(g for g in found.groups() if g).lower()], match.end() + found.end()
    elif re.match(r"[A-Za-z]", after):
        return None  # a code such as "5G" or "10x"
    if scale == 1.0 and _looks_like_year(text, match):
        return _plain(match, value, "", "year")
    if scale == 1.0 and not decimals and (score := _SCORE_AFTER.match(after)):
        end = match.end() + score.end()  # "won 3-1", "passed 220-212": both sides in one value
        figure = (match.start(), end)
        return Quantity(
            text[match.start() : end], value * 1e6 + int(score["other"]), "", "score", None, *figure, figure
        )
    return _measure(text, match.start(), end, value * scale, step * scale, single=value == 1 and scale == 1)


def _looks_like_year(text: str, match: re.Match) -> bool:
    """1800-2099 written without a comma, with no qualifier or currency before it: "in 2017", not
    "more than 2000 troops" nor "$2000"."""
    return (
        re.fullmatch(r"1[89]\d\d|20\d\d", match.group()) is not None
        and not _qualifier(text, match.start())
        and not _CURRENCY_BEFORE.search(text, max(0, match.start() - 5), match.start())
    )


def _from_words(text: str, match: re.Match) -> Quantity | None:
    words = re.sub(r"^a\b", "one", match.group().lower().replace("-", " "))
    if (number := _words_value(words)) is None:
        return None
    value = float(number)
    quantity = _measure(text, match.start(), match.end(), value, _place_value(value), single=value == 1)
    scaled = any(word in _WORD_SCALES.split("|") for word in words.split())
    # A number word counts something or has a scale; "one of the first cases", "the two" do not.
    return quantity if quantity.unit or scaled else None


def _words_value(words: str) -> int | None:
    """The number written in words ("twenty-five" -> 25, "two million" -> 2,000,000); None if it is none."""
    try:
        return text2num(words.lower().replace("-", " "), "en")
    except ValueError:
        return None


def _place_value(value: float) -> float:
    digits = str(int(value))
    return 10.0 ** (len(digits) - len(digits.rstrip("0"))) if value else 1.0


def _measure(text: str, start: int, end: int, value: float, step: float, *, single: bool) -> Quantity:
    """Add what surrounds the figure: currency, qualifier, percent sign or the counted noun."""
    figure = (start, end)
    span_start, span_end, unit, kind = start, end, "", "amount"
    if currency := _CURRENCY_BEFORE.search(text, max(0, start - 5), start):
        unit, kind, span_start = (
            _CURRENCY_SYMBOLS.get(currency.group().strip(), currency.group().strip()),
            "money",
            currency.start(),
        )
    elif percent := _PERCENT_AFTER.match(text, end):
        unit = "percentage point" if "point" in percent.group().lower() else "percent"
        kind, span_end = "percent", percent.end()
    elif money := _CURRENCY_AFTER.match(text, end):
        unit, kind, span_end = _CURRENCY_WORDS[money.group(1).lower()], "money", money.end()
    else:
        unit, span_end = _counted_noun(text, end, single)
        if age := _AGE_AFTER.match(text, end) or _AGE_BEFORE.search(text, max(0, start - 8), start):
            unit, kind, span_end = "year", "age", max(span_end, age.end() if age.start() >= end else end)
        elif _RANK_BEFORE.search(text, max(0, start - 12), start):
            unit, kind = "", "rank"
        elif unit in _TIME_UNITS:
            kind = "duration"
    qualifier = _qualifier(text, span_start)
    if qualifier:
        span_start = qualifier.start()
    step = min(step, _two_figures(value))
    canonical = _QUALIFIERS[qualifier.group(1).lower()] if qualifier else None
    return Quantity(text[span_start:span_end], value, unit, kind, canonical, span_start, span_end, figure, step)


def _qualifier(text: str, start: int) -> re.Match | None:
    return _QUALIFIER_BEFORE.search(text, max(0, start - 30), start)


def _two_figures(value: float) -> float:
    """A bare "7,000" may be exact: read every figure to at least two significant digits, so
    100 and 140 never pass for one number."""
    return 10.0 ** (math.floor(math.log10(abs(value))) - 1) if value else 1.0


def _counted_noun(text: str, end: int, single: bool) -> tuple[str, int]:
    """The noun a figure counts: the first plural within four words ("five North Korean tankers"),
    or for a figure of one the last word before the phrase ends ("one tanker", but not "no one
    knows", where the plural is a verb); "" when there is none."""
    if hyphen := _HYPHEN_UNIT.match(text, end):
        return _singular(hyphen.group(1)), hyphen.end()
    position, last = end, None
    for _ in range(5):
        word = _NEXT_WORD.match(text, position)
        if word and last and word.group(1).lower() in ("or", "and"):  # "probable or confirmed cases"
            position = word.end()
            continue
        if not word or word.group(1).lower() in FUNCTION_WORDS:
            break
        token = word.group(1).rstrip(".") if not re.fullmatch(r"(?:[A-Z]\.)+", word.group(1)) else word.group(1)
        if head := _head_unit(token):
            if single and token.lower() not in _UNIT_ALIASES:
                break
            return head, word.start(1) + len(token)
        if token.lower().endswith("ing") or (token.lower().endswith("ed") and not _PLURAL_AHEAD.match(text, position)):
            break
        last, position = token, word.start(1) + len(token)
    if single and last:
        return _singular(last), position
    return "", end


def _head_unit(word: str) -> str | None:
    """The unit a word names if it ends a counted phrase: a unit abbreviation or a plural noun."""
    lowered = word.lower()
    if lowered in _UNIT_ALIASES:
        return _UNIT_ALIASES[lowered]
    if lowered in FUNCTION_WORDS or lowered.endswith(("ss", "us", "is")) or not lowered.isalpha():
        return None
    singular = _inflect().singular_noun(lowered)
    # A word read as its own plural ("monkeypox", "fish") is most often a noun modifying the next one.
    return singular if singular and (singular != lowered or lowered.endswith("s")) else None


def _singular(word: str) -> str:
    return _head_unit(word) or word.lower()


# --- comparing values ---------------------------------------------------------------------------


def same_value(a: Quantity, b: Quantity) -> bool:
    """Whether two figures state the same value: amounts equal once rounded to the coarser one's
    precision (1.5 million = 1,523,000); years equal; dates equal in every part both state."""
    if a.kind in ("year", "date") or b.kind in ("year", "date"):
        return _same_time(a, b)
    step = max(a.step, b.step)
    return math.floor(a.value / step + 0.5 + 1e-9) == math.floor(b.value / step + 0.5 + 1e-9)


def _same_time(a: Quantity, b: Quantity) -> bool:
    parts_a, parts_b = _time_parts(a), _time_parts(b)
    shared = [(x, y) for x, y in zip(parts_a, parts_b) if x and y]
    return bool(shared) and all(x == y for x, y in shared)


def _time_parts(quantity: Quantity) -> tuple[int, int, int, int]:
    """(year, month, day, ISO weekday), 0 where the text does not say."""
    if quantity.kind == "year":
        return int(quantity.value), 0, 0, 0
    if quantity.unit == "weekday":
        return 0, 0, 0, int(quantity.value)
    year, month, day = date_parts(quantity.value)
    weekday = date(year, month, day).isoweekday() if year and month and day and valid_date(year, month, day) else 0
    return year, month, day, weekday


def supports(fact: Quantity, claim: Quantity) -> bool:
    """Whether a passage's figure states the claim: the same kind, units that do not differ and the
    same value; for a year or date, every part the claim gives (a year, a day, a weekday)."""
    if claim.kind in ("year", "date"):
        if fact.kind not in ("year", "date"):
            return False
        return all(f == c for f, c in zip(_time_parts(fact), _time_parts(claim)) if c)
    return (
        fact.kind == claim.kind
        and (fact.unit == claim.unit or not fact.unit or not claim.unit)
        and same_value(fact, claim)
    )


# --- what a figure says of the world -----------------------------------------------------------

# An actual amount, a maximum or possibility ("up to", "faces"), a forecast ("is expected to"), or a cap
# or limit, read from the figure's qualifier and the words before it in its clause.
Modality = Literal["actual", "maximum", "forecast", "limit"]
LIMIT_WORDS = re.compile(r"\b(caps?|capped|limits?|limited|ceiling|quota|maximum|allowed|permitted|mandated)\b", re.I)
# Within the few words before a figure: a possibility or maximum, and a forecast.
_POSSIBLE = re.compile(
    r"\b(faces?|facing|could|might|may|possible|possibly|potential|potentially|risks?)\b(?:\s+[\w'-]+){0,5}\s*$",
    re.I,
)
_FORECAST = re.compile(
    r"\b(expects?|expected|forecasts?|forecasted|projects?|projected|predicts?|predicted|will|would|set to|"
    r"on track|estimates? that|likely)\b(?:\s+[\w'-]+){0,5}\s*$",
    re.I,
)


def figure_modality(q: Quantity, before: str) -> Modality:
    """What a figure says, given the text before it in its clause: a limit, a maximum, a forecast or an actual."""
    if q.kind in ("year", "date"):  # when something happened or is to happen, never a cap ("a limit imposed in 2017")
        return "forecast" if _FORECAST.search(before) or _POSSIBLE.search(before) else "actual"
    if q.qualifier == "no more than" or LIMIT_WORDS.search(before):
        return "limit"
    if q.qualifier == "up to" or _POSSIBLE.search(before):
        return "maximum"
    return "forecast" if _FORECAST.search(before) else "actual"


# Who an outlet's own sources are ("three people familiar with the matter", "two officials who spoke
# on condition of anonymity"): how one outlet reported, never a fact two outlets can disagree on.
_SOURCING = re.compile(
    r"(?:\s+[\w-]+){0,2}?\s+(?:people|persons|sources|officials)\s+(?:familiar|briefed|close to|with knowledge|"
    r"who (?:spoke|requested|asked|were not|was not|are not|is not|declined))",
    re.I,
)
# When an outlet's source spoke ("both governments said Wednesday", "told CNN on Tuesday") and an
# article's own dateline ("SEOUL, March 27 (UPI) --"): when one outlet reported, not an event's date.
_SAID_BEFORE = re.compile(
    r"\b(?:said|says|told(?:\s+[\w.'’-]+){1,3}?|announced|reported|added|confirmed|wrote|stated)"
    r"\s+(?:on\s+|late\s+|early\s+)?$",
    re.I,
)
_DATELINE_AFTER = re.compile(r"\s*\([A-Z][\w. ]{0,30}\)\s*(?:--|—|–|-)")


def how_reported(text: str, q: Quantity) -> bool:
    """Whether a figure says how one outlet reported rather than a fact of the story: the outlet's own
    sources, the day a source spoke, or the article's dateline. The reader never answers with them,
    and the guard compares none but the day a source spoke, with the day another outlet gives for the
    same speaker's statement (`spoken_at`)."""
    if _SOURCING.match(text, q.figure[1]):
        return True
    return q.kind == "date" and (spoken_at(text, q) is not None or bool(_DATELINE_AFTER.match(text, q.end)))


def spoken_at(text: str, q: Quantity) -> int | None:
    """Where the verb of speaking starts when a date is the day a source spoke ("Chaim Bloom said
    Tuesday", "told NBC on Wednesday"), else None."""
    if q.kind != "date" or _DATELINE_AFTER.match(text, q.end):
        return None
    found = _SAID_BEFORE.search(text, max(0, q.start - 40), q.start)
    return found.start() if found else None


# --- what a question asks for -------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """The kind of value a question asks for, and the unit it names ("barrel" for "how many barrels")."""

    kind: AskedKind
    unit: str | None = None

    def accepts(self, quantity: Quantity) -> bool:
        if self.kind == "date":
            return quantity.kind in ("date", "year")
        return quantity.kind == self.kind and (self.unit is None or quantity.unit == self.unit)


_ASKS = [
    ("amount", re.compile(r"\bhow many\b", re.I)),  # before "rate" or "price" in "how many barrels at that rate"
    (
        "money",
        re.compile(
            r"\b(prices?|costs?|paid|pays?|spend|spent|worth|revenue|how much money|dollars?|fee|fine|budget)\b", re.I
        ),
    ),
    ("percent", re.compile(r"\b(percent|percentage|per cent|rate)\b|\bwhat (share|proportion|fraction)\b", re.I)),
    ("date", re.compile(r"^\s*when\b|\b(what|which) (date|day|year|month)\b|\bin what year\b", re.I)),
    ("age", re.compile(r"\bhow old\b|\bwhat age\b|\bat what age\b", re.I)),
    ("duration", re.compile(r"\bhow long\b", re.I)),
    (
        "amount",
        re.compile(r"\bhow (many|much|far|big|large)\b|\bwhat (amount|number|quantity|volume)\b", re.I),
    ),
]
_HOW_MANY = re.compile(r"\bhow many\s+((?:[A-Za-z-]+\s+){0,3}?)([A-Za-z-]+s)\b", re.I)


def asked_quantity(question: str) -> Asked | None:
    """What kind of value the question asks for, or None when it asks for none (who, why, ...)."""
    for kind, pattern in _ASKS:
        if pattern.search(question):
            unit = None
            if kind == "amount" and (noun := _HOW_MANY.search(question)):
                unit = _head_unit(noun.group(2))
            if unit in _TIME_UNITS:  # "how many (more) weeks" counts a time: a duration, not an amount of things
                return Asked("duration")
            return Asked(kind, unit)
    return None
