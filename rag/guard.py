"""Numeric guard: every number of an answer stated by a cited passage, and one quantity compared
across sources, so a disagreement between outlets is shown instead of hidden.

Two figures from different documents are taken for one quantity when they have the same kind and
unit, the same rate ("per year" or none), the same modality (a cap or limit, or an actual amount),
time frames that share a year, and clauses (the figure masked) that are each other's best match by
embedding, above `SAME_QUANTITY`. Years and dates are compared only between copies of one story
whose clauses agree nearly word for word: outlets date one event differently ("on Tuesday",
"on March 26") without contradicting each other.

    report = review(question, answer, passages, embedder)
    if report.status == "conflict":
        answer = report.summary() + "\\n\\n" + answer
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np

from .chunking import Sentence, split_sentences
from .embedding import Embedder
from .quantities import Quantity, asked_quantity, extract_quantities, same_value, supports
from .retrieval import Passage
from .text import CITATION, UnionFind, cited_numbers, word_similarity

# Cosine of two masked clauses (all-MiniLM-L6-v2) from which mutual best matches are one quantity.
# On the seeds one quantity scores 0.80 (the cap) and 0.89 (the imports) across outlets, 1.0 between
# copies; the closest different quantity that passes the gates (125,000 tanker barrels against the
# imports) scores 0.59. The cap scores 0.80-0.88 against the imports: only the gates (a rate, a
# limit) keep those apart, which is why they come before the embedding.
SAME_QUANTITY = 0.7
# A cap or limit is quoted as the scale of a disputed quantity when its clause is this close to one
# of the disputed ones (the seeds' annual cap: 0.80-0.88 against the imports).
RELATED_LIMIT = 0.6
# Word-level similarity of two clauses for a year or date in them to be compared: copies of one text.
COPY_TEXT = 0.8

_CLAUSE_BREAK = re.compile(r"\s+(?:--|—|–)\s+|;\s+")
_LIMIT = re.compile(r"\b(caps?|capped|limits?|limited|ceiling|quota|maximum|allowed|permitted|mandated)\b", re.I)
_RATE_AFTER = re.compile(
    r"^(?:\s+[\w'-]+){0,4}?\s+(?:per|a|an|each|every)\s+(year|month|week|day)\b|"
    r"^(?:\s+[\w'-]+){0,4}?\s+(annually|yearly|monthly|weekly|daily)\b",
    re.I,
)
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

    @property
    def label(self) -> str:
        return self.outlet or self.source


@dataclass(frozen=True)
class Conflict:
    rows: tuple[GuardRow, ...]  # the differing values, one row per source
    ratio: float  # largest / smallest (meaningful for amounts)
    description: str  # "The values differ by a factor of 1,000, the signature of a million/billion slip."


@dataclass
class GuardReport:
    """What the guard found for one answer; `summary()` is the sentence an answer with a conflict leads with."""

    status: str  # "ok" | "conflict" | "unsupported" | "no_numbers"
    values: list[GuardRow] = field(default_factory=list)  # every compared value, one per source
    conflicts: list[Conflict] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # the reply's numbers no cited passage states
    bounds: list[GuardRow] = field(default_factory=list)  # limits that bound a disputed quantity

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
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """The lead sentences of an answer whose sources disagree; "" when they do not."""
        if not self.conflicts:
            return ""
        sentences = []
        for conflict in self.conflicts:
            labels = _labels(conflict.rows)
            said = "; ".join(f"{labels[row]} [{row.n}] says {row.text}" for row in conflict.rows)
            sentences.append(f"Sources disagree: {said}. {conflict.description}")
        sentences += [f'For scale: {row.label} [{row.n}] says "{row.quote}"' for row in self.bounds]
        return " ".join(sentences)


def _labels(rows: Sequence[GuardRow]) -> dict[GuardRow, str]:
    """Outlet names, with the file added where one outlet appears twice (two copies of a story)."""
    repeated = {row.label for row in rows if sum(other.label == row.label for other in rows) > 1}
    return {row: f"{row.label} ({row.source})" if row.label in repeated else row.label for row in rows}


# --- the figures the passages state -------------------------------------------------------------


@dataclass(frozen=True)
class _Mention:
    """A figure as one passage states it, with the context that tells which quantity it is."""

    quantity: Quantity
    n: int
    passage: Passage
    sentence: str
    clause: str  # the clause around it, the figure masked
    years: frozenset[int]  # years its clause refers to
    rate: str | None  # "year" for "per year"
    limit: bool  # a cap or limit rather than an amount that happened

    @property
    def row(self) -> GuardRow:
        q, p = self.quantity, self.passage
        return GuardRow(q.text, q.value, q.unit, p.outlet, p.source, self.n, self.sentence)


def _mentions(passages: Sequence[Passage]) -> list[_Mention]:
    """Every figure of the passages once, though overlapping chunks of a document repeat it."""
    seen: set[tuple[str, int]] = set()
    found = []
    for n, passage in enumerate(passages, start=1):
        quantities = extract_quantities(passage.text, passage.date)
        for sentence in split_sentences(passage.text):
            for q in (q for q in quantities if sentence.start <= q.start < sentence.end):
                if (passage.source, passage.start + q.start) not in seen:
                    seen.add((passage.source, passage.start + q.start))
                    found.append(_mention(q, n, passage, sentence, quantities))
    return found


def _mention(q: Quantity, n: int, passage: Passage, sentence: Sentence, quantities: list[Quantity]) -> _Mention:
    text = passage.text
    start, end = _clause(text, sentence, q.start)
    clause = text[start : q.figure[0]] + "X" + text[q.figure[1] : end]
    years = frozenset(
        year for other in quantities if other is not q and start <= other.start < end and (year := _year(other))
    )
    before, after = text[start : q.start], text[q.end : end]
    limit = q.qualifier == "no more than" or bool(_LIMIT.search(before))
    return _Mention(q, n, passage, sentence.text, clause, years, _rate(before, after), limit)


def _clause(text: str, sentence: Sentence, position: int) -> tuple[int, int]:
    """The span of the part of the sentence, between dashes or semicolons, that holds `position`."""
    start = sentence.start
    for cut in _CLAUSE_BREAK.finditer(text, sentence.start, sentence.end):
        if cut.start() > position:
            return start, cut.start()
        start = cut.end()
    return start, sentence.end


def _year(quantity: Quantity) -> int:
    """The year a year or a dated day names; 0 for anything else."""
    if quantity.kind == "year":
        return int(quantity.value)
    return int(quantity.value) // 10000 if quantity.unit == "date" else 0


def _rate(before: str, after: str) -> str | None:
    if found := _RATE_AFTER.match(after):
        word = (found.group(1) or found.group(2)).lower()
        return _RATE_WORDS.get(word, word)
    if found := _RATE_BEFORE.search(before):
        return _RATE_WORDS[found.group(1).lower()]
    return None


# --- which figures describe one quantity --------------------------------------------------------


def _comparable(a: _Mention, b: _Mention) -> bool:
    qa, qb = a.quantity, b.quantity
    if a.passage.source == b.passage.source or qa.kind != qb.kind or qa.unit != qb.unit:
        return False
    if qa.kind in ("year", "date"):
        return a.passage.group == b.passage.group
    return a.rate == b.rate and a.limit == b.limit and (not a.years or not b.years or bool(a.years & b.years))


def _similarities(mentions: Sequence[_Mention], embedder: Embedder) -> np.ndarray:
    """How alike the contexts of every two figures are: for amounts the cosine of their masked
    clauses, embedded in one batch, and only where another document has a figure of that unit;
    for years and dates the word overlap of the clauses (they are compared between copies only)."""
    count = len(mentions)
    similarity = np.full((count, count), -1.0, dtype=np.float32)
    sources: dict[tuple[str, str], set[str]] = {}
    for m in mentions:
        sources.setdefault((m.quantity.kind, m.quantity.unit), set()).add(m.passage.source)
    shared = [i for i, m in enumerate(mentions) if len(sources[(m.quantity.kind, m.quantity.unit)]) > 1]
    amounts = [i for i in shared if mentions[i].quantity.kind not in ("year", "date")]
    texts = list(dict.fromkeys(mentions[i].clause for i in amounts))
    if texts:
        position = {text: row for row, text in enumerate(texts)}
        vectors = embedder.embed(texts)[[position[mentions[i].clause] for i in amounts]]
        similarity[np.ix_(amounts, amounts)] = vectors @ vectors.T
    for i, j in combinations([i for i in shared if mentions[i].quantity.kind in ("year", "date")], 2):
        if mentions[i].passage.group == mentions[j].passage.group:
            similarity[i, j] = similarity[j, i] = word_similarity(mentions[i].clause, mentions[j].clause)
    return similarity


def _groups(mentions: Sequence[_Mention], similarity: np.ndarray) -> list[set[int]]:
    """Figures joined when, between two documents, each is the other's best comparable match."""
    quantities = UnionFind(range(len(mentions)))

    def best(i: int, among: list[int]) -> int | None:
        candidates = [j for j in among if _comparable(mentions[i], mentions[j])]
        return max(candidates, key=lambda j: similarity[i, j]) if candidates else None

    by_source: dict[str, list[int]] = {}
    for i, m in enumerate(mentions):
        by_source.setdefault(m.passage.source, []).append(i)
    for left, right in combinations(by_source.values(), 2):
        for i in left:
            j = best(i, right)
            threshold = COPY_TEXT if mentions[i].quantity.kind in ("year", "date") else SAME_QUANTITY
            if j is not None and best(j, left) == i and similarity[i, j] >= threshold:
                quantities.join(i, j)
    return [set(group) for group in quantities.groups().values()]


def _distinct(mentions: Sequence[_Mention], group: set[int], first: set[int]) -> list[int]:
    """One figure per source, a copy of a story that repeats the same value counting once."""
    kept: list[int] = []
    for i in sorted(group, key=lambda i: (i not in first, mentions[i].n)):
        m = mentions[i]
        if not any(
            mentions[k].passage.group == m.passage.group and same_value(mentions[k].quantity, m.quantity) for k in kept
        ):
            kept.append(i)
    return kept


def _conflict(mentions: Sequence[_Mention], kept: list[int]) -> Conflict | None:
    quantities = [mentions[i].quantity for i in kept]
    if all(same_value(quantities[0], q) for q in quantities[1:]):
        return None
    values = [abs(q.value) for q in quantities]
    ratio = max(values) / min(values) if min(values) else math.inf
    return Conflict(tuple(mentions[i].row for i in kept), ratio, _describe(quantities, ratio))


def _describe(quantities: Sequence[Quantity], ratio: float) -> str:
    kind = quantities[0].kind
    if kind in ("year", "date"):
        return "The copies give different dates for the same event."
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


def _bounds(mentions: Sequence[_Mention], similarity: np.ndarray, group: set[int]) -> list[int]:
    """Caps and limits on the same unit whose clause relates to the disputed figures."""
    members = [mentions[i] for i in group]
    if any(m.limit for m in members):
        return []
    found: list[int] = []
    for i, m in enumerate(mentions):
        if (
            m.limit
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


def compare_sources(passages: Sequence[Passage], embedder: Embedder) -> list[Conflict]:
    """Every quantity on which the passages' documents disagree, whatever an answer says."""
    mentions = _mentions(passages)
    similarity = _similarities(mentions, embedder)
    return [
        c for group in _groups(mentions, similarity) if (c := _conflict(mentions, _distinct(mentions, group, set())))
    ]


def review(
    question: str, answer: str, passages: Sequence[Passage], embedder: Embedder, *, unsupported: Sequence[str] = ()
) -> GuardReport:
    """The guard's report on an answer: the values it states compared with the same quantity in the
    other documents, conflicts among them, limits that bound a disputed one.

    Only figures the answer states count, not those it repeats from the question. `unsupported`
    carries the numbers of a rejected reply. Status precedence: conflict > unsupported > ok > no_numbers.
    """
    given = extract_quantities(question)
    claims = [(q, cited) for q, cited in _claims(answer) if not any(supports(g, q) for g in given)]

    def stated(m: _Mention) -> bool:
        return any(m.n in cited and supports(m.quantity, q) for q, cited in claims)

    everything = _mentions(passages)
    units = {(m.quantity.kind, m.quantity.unit) for m in everything if stated(m)}
    mentions = [m for m in everything if (m.quantity.kind, m.quantity.unit) in units]
    anchors = {i for i, m in enumerate(mentions) if stated(m)}
    similarity = _similarities(mentions, embedder)
    shown: list[int] = []
    disputed: set[int] = set()
    conflicts, bounds = [], []
    for group in sorted(
        (g for g in _groups(mentions, similarity) if g & anchors), key=lambda g: min(mentions[i].n for i in g)
    ):
        kept = _distinct(mentions, group, anchors)
        shown += [i for i in kept if not any(_restates(mentions[k], mentions[i]) for k in shown)]
        if conflict := _conflict(mentions, kept):
            conflicts.append(conflict)
            disputed.update(kept)
            bounds += [i for i in _bounds(mentions, similarity, group) if i not in bounds]
    # The table shows the values of the kind asked for ("how many barrels": not the year of a
    # resolution quoted alongside), and every disputed one.
    asked = asked_quantity(question)
    values = [i for i in shown if i in disputed or asked is None or asked.accepts(mentions[i].quantity)] or shown
    status = "conflict" if conflicts else "unsupported" if unsupported else "ok" if claims else "no_numbers"
    return GuardReport(
        status, [mentions[i].row for i in values], conflicts, list(unsupported), [mentions[i].row for i in bounds]
    )


def _restates(a: _Mention, b: _Mention) -> bool:
    """One source giving one value twice ("March 27" and "Wednesday" in one dateline)."""
    return a.passage.source == b.passage.source and same_value(a.quantity, b.quantity)


def matching_quantities(question: str, passages: Sequence[Passage]) -> list[tuple[int, Quantity]]:
    """The figures of the kind (and unit) the question asks for, with their citation numbers; empty
    when the question asks for no value or no passage states one, so an answerer may abstain."""
    asked = asked_quantity(question)
    if asked is None:
        return []
    return [
        (n, q) for n, p in enumerate(passages, start=1) for q in extract_quantities(p.text, p.date) if asked.accepts(q)
    ]
