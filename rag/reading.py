"""Reading stage: find the sentences of the retrieved passages that answer the question, or decide
that none does.

The answer is decided here, before any model speaks: the bundled models are tiny (135M-270M
parameters) and, measured, refuse answerable questions and invent prices. A sentence answers when it
is close in meaning to the question, its passage names what the question names, and it states the
kind of value asked for. The chosen sentences are quoted (`extractive_answer`) or handed to a model to
phrase (`drafting.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .chunking import split_sentences
from .dates import find_periods
from .embedding import Embedder
from .quantities import Asked, asked_quantity, extract_quantities
from .retrieval import Passage
from .text import FUNCTION_WORDS

# Below this cosine similarity to the question, a sentence is about something else.
MIN_RELEVANCE = 0.2
# Share of the question's words that a passage must contain to count as being about it.
MIN_COVERAGE = 0.5
# A second sentence from another story is quoted only when it states the same fact this closely.
SAME_FACT_SIMILARITY = 0.6
# A second quoted sentence must score at least this share of the best one to be worth showing.
SECOND_SENTENCE_SHARE = 0.85
# Added to a sentence stating the period a question asks about ("in Q1 2021"), taken from one
# stating another period: the unit bonus's size, not measured (no labelled period question yet).
PERIOD_BONUS = 0.15


def content_words(text: str) -> set[str]:
    """Meaningful words cut to a 5-letter stem, so 'Russian' meets 'Russia' and 'imported' meets 'imports'."""
    # Letters of any script: a question in Russian must not reduce to its digits and match on "2023".
    words = re.findall(r"[^\W_](?:[^\W_]|[.,-])*[^\W_]|[^\W_]", re.sub(r"['’]s\b", "", text.lower()))
    return {w[:5] for w in words if w not in FUNCTION_WORDS}


def named_terms(question: str) -> set[str]:
    """Stems of the names in a question (capitalised words after the first, acronyms): an article
    that never names them does not answer it, however close its topic."""
    words = re.findall(r"[A-Za-z][\w.-]*", question)
    return {
        w.lower().rstrip(".")[:5]
        for i, w in enumerate(words)
        if (i > 0 and w[0].isupper()) or (len(w) > 1 and w.isupper())
    } - FUNCTION_WORDS


def states_asked(sentence: str, asked: Asked | None) -> bool:
    """Whether a sentence holds a value of the kind the question asks for (any unit: a question's
    "ships" may be an article's "tankers", which the ranking, not this gate, sorts out)."""
    return asked is None or any(Asked(asked.kind).accepts(q) for q in extract_quantities(sentence))


# --- evidence ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceSentence:
    n: int  # citation number: position of the passage in the list, from 1
    text: str
    start: int  # offsets in the cleaned document
    end: int
    score: float
    relevance: float  # cosine similarity to the question


@dataclass(frozen=True)
class Evidence:
    asked: Asked | None  # the kind of value the question asks for, if any
    sentences: list[EvidenceSentence]  # best first; empty when nothing answers
    reason: str  # why it abstains, when it does

    @property
    def answerable(self) -> bool:
        return bool(self.sentences)


def passage_sentences(passage: Passage) -> list[tuple[str, int, int]]:
    """The sentences of a passage with their offsets in the cleaned document."""
    return [(s.text, passage.start + s.start, passage.start + s.end) for s in split_sentences(passage.text)]


def select_evidence(question: str, passages: Sequence[Passage], embedder: Embedder) -> Evidence:
    """Rank the passages' sentences by how well they answer the question; keep the ones that do.

    A sentence answers when it is close in meaning, its passage names everything the question names
    and covers most of its words, and it states the kind of value asked for (a figure, a price, a date)."""
    asked = asked_quantity(question)
    candidates = [(n, *s) for n, p in enumerate(passages, start=1) for s in passage_sentences(p)]
    if not candidates:
        return Evidence(asked, [], "no passage was retrieved")
    vectors = embedder.embed([question] + [c[1] for c in candidates])
    relevance = vectors[1:] @ vectors[0]
    question_words, names = content_words(question), named_terms(question)
    covering = {}
    for n, passage in enumerate(passages, start=1):
        words = content_words(passage.text)
        covering[n] = names <= words and len(question_words & words) > MIN_COVERAGE * len(question_words)
    asked_periods = {(p.start, p.end) for _, _, p in find_periods(question)}
    scored = []
    for row, ((n, text, start, end), cosine) in enumerate(zip(candidates, relevance)):
        overlap = len(question_words & content_words(text)) / max(1, len(question_words))
        unit_bonus = 0.15 if asked and asked.unit and any(asked.accepts(q) for q in extract_quantities(text)) else 0.0
        # A question about a stated period ("in Q1 2021") prefers sentences stating that period to
        # those stating another one.
        period_bonus = 0.0
        if asked_periods and (stated := _periods(text, passages[n - 1])):
            period_bonus = PERIOD_BONUS if asked_periods & stated else -PERIOD_BONUS
        score = float(cosine) + 0.3 * overlap + unit_bonus + period_bonus
        scored.append((EvidenceSentence(n, text, start, end, score, float(cosine)), row))
    scored.sort(key=lambda pair: -pair[0].score)
    relevant = [(s, row) for s, row in scored if s.relevance >= MIN_RELEVANCE and covering[s.n]]
    if not relevant:
        return Evidence(asked, [], "no passage is about this question")
    answering = [(s, row) for s, row in relevant if states_asked(s.text, asked)]
    if not answering:
        kind = {
            "money": "price or amount of money",
            "percent": "percentage",
            "date": "date",
            "amount": "figure",
            "age": "age",
            "duration": "duration",
        }[asked.kind]
        return Evidence(asked, [], f"the passages about this question state no {kind}")
    (best, best_row), chosen = answering[0], [answering[0][0]]
    for other, row in answering[1:]:
        if (
            other.score >= SECOND_SENTENCE_SHARE * best.score
            and passages[other.n - 1].group != passages[best.n - 1].group
            and float(vectors[1 + row] @ vectors[1 + best_row]) >= SAME_FACT_SIMILARITY
        ):
            chosen.append(other)
            break
    return Evidence(asked, chosen, "")


def _periods(text: str, passage: Passage) -> set[tuple[date, date]]:
    published = date.fromisoformat(passage.date) if passage.date else None
    return {(p.start, p.end) for _, _, p in find_periods(text, published)}


def extractive_answer(evidence: Evidence, passages: Sequence[Passage]) -> str:
    """The chosen sentences, quoted verbatim with the outlet and the citation number."""
    return " ".join(f'{passages[s.n - 1].label} [{s.n}]: "{s.text}"' for s in evidence.sentences)


def best_sentence(claim: str, passage: Passage) -> tuple[str, int, int]:
    """The sentence of a passage that shares the most words with a claim: the span a citation quotes."""
    words = content_words(claim)
    return max(
        passage_sentences(passage),
        key=lambda s: len(words & content_words(s[0])),
        default=(passage.text, passage.start, passage.end),
    )
