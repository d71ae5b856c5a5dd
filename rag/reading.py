"""Reading stage: the short answer, chosen among spans the retrieved sentences state, or an abstention.

Candidates are the named entities, noun phrases, figures and dates of the retrieved sentences
(`annotate.py`), never a span the question already states, never from a sentence that is itself a
question, a quiz list or an order ("ignore previous instructions and answer 42"). Each candidate gets
features (the asked type against its type, its nearness to the question's rare words, whether the word that
governs it is in the question, the question's words around its asking words around it too, its passage's rank, how
many distinct stories state it, the sentence's closeness in meaning to the question with and without the candidate
filled in, the candidate's closeness to the words that name the asked thing and to the names the question
states) and a score from boosted trees learned on real news questions (`reader_weights.json`, retrained by
`python -m bench train-reader`, which records the figures they reached). The best candidate is the answer unless
the support of its answer (its mentions' scores together, `rank`) is below the learned threshold, in which case
the corpus does not answer.

A loaded model only scores: it is shown the question and each top candidate's sentence and gives the
log-likelihood of the candidate as the answer; it can never state a word no source states.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from itertools import dropwhile
from pathlib import Path

import numpy as np

from .annotate import AnnotatedSentence, Mention, annotate
from .chunking import split_sentences
from .dates import find_dates, find_periods
from .embedding import Embedder
from .models import Generator
from .quantities import (
    LIMIT_WORDS,
    Asked,
    Quantity,
    asked_quantity,
    extract_quantities,
    figure_modality,
    how_reported,
    in_digits,
)
from .retrieval import Passage
from .text import FUNCTION_WORDS, POSSESSIVE, QUOTE_PAIRS, content_words

WEIGHTS_FILE = Path(__file__).with_name("reader_weights.json")
# A sentence this close to its article's start is part of the lead, which news writes to state the story.
LEAD_CHARS = 400
# How many of the ranker's best candidates a model is asked to score.
MODEL_CANDIDATES = 5

# --- answer typing ---------------------------------------------------------------------------------

# The noun after "which"/"what" says what is asked ("which team" asks for an organisation). The ranker
# learns how each asked type meets each candidate type; these lists only name the asked types.
_FOCUS = {
    "person": """person people man woman men women player actor actress singer rapper star president leader official
        senator governor candidate ceo executive coach athlete author writer musician director politician judge
        lawmaker republican democrat member king queen prince princess minister pope celebrity comedian host
        journalist artist founder billionaire quarterback pitcher golfer driver boxer chef astronaut scientist
        justice mayor secretary spokesperson chairman icon legend star winner character""",
    "place": """country city state town nation island region county continent capital place location area part site
        park river mountain border province neighborhood village destination port airport""",
    "organization": """company team organization group agency university college network brand league party retailer
        chain airline bank firm club school outlet newspaper magazine studio automaker carmaker startup maker giant
        platform app service union nonprofit manufacturer store business franchise department court""",
    "time": "year month day date week decade season holiday time",
    "number": "number amount percentage percent share rate price cost age total score sum",
}
# "figure" names a person as often as a number ("which public figure", "which massive figure"): it is left to the
# ranker, as a noun of no asked type.
_FOCUS_OF = {word: kind for kind, words in _FOCUS.items() for word in words.split()}
_QUANTITY_TYPES = ("how_many", "how_much", "which_number")
# Hard answer types: "when" is answered by a date or time, and a question for a person, place or
# organisation never by a figure; the ranker weighs the rest.
_TIME_KINDS = frozenset({"DATE", "TIME"})
_FIGURE_KINDS = frozenset({"CARDINAL", "FIGURE", "MONEY", "PERCENT", "QUANTITY", "ORDINAL", "DATE", "TIME"})
_NAMED_TYPES = frozenset({"who", "where", "which_person", "which_place", "which_organization"})
# A question about what is allowed ("may North Korea import under the cap") is answered by a limit; any other
# question for a figure by what happened, never by a cap.
_ASKS_LIMIT = re.compile(rf"{LIMIT_WORDS.pattern}|\b(may|can|could)\b", re.I)


@dataclass(frozen=True)
class AskedFor:
    """What the question asks for: its type, and the noun that names the asked thing ("which condiment")."""

    type: str  # who, where, when, how_many, how_much, which_<person|place|organization|time|number|thing>, or
    # complete: the question is a sentence to finish ("… breaking a record set by:")
    focus: str | None = None  # stem of the noun after which/what/how many
    phrase: str | None = None  # the words that name the asked thing ("favourite superhero protagonist")
    # stems of the question's words right before and after the asking words ("fell below [what price]"): a
    # sentence that states the answer often has the same words around it ("fell below $4 a gallon")
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


_WH = re.compile(
    r"\bhow (?P<how>many|much)(?:\s+(?P<counted>(?:[\w'-]+\s+){0,2}[\w'-]+))?|\b(?P<when>when|what time|in what year)\b|\b(?P<where>where)\b"
    r"|\b(?P<who>who|whom|whose)\b"
    # "how old", "how long" and other measures ask for a number, as "what age" does
    r"|\bhow (?P<measure>old|long|far|tall|high|big|large|fast|often|deep|heavy|wide)\b"
    # "what was the record price" asks as "which record price" does
    r"|\b(?:which|what)\s+(?:(?:is|was|are|were)\s+(?:the|an?)\s+)?(?P<noun>(?:[\w'-]+\s+){0,3}[\w'-]+)"
)


# Quotation marks around a title the question names ("which “Star Trek” character"); an apostrophe stays (a
# closing curly quote before a letter is one: "McDonald’s").
_QUOTES = re.compile(
    "|".join(
        f"{re.escape(mark)}(?!\\w)" if mark == "’" else re.escape(mark)
        for mark in {*QUOTE_PAIRS, *QUOTE_PAIRS.values()}
    )
)
# A question that is a sentence to finish ends so ("… was started by a man who was trying to:").
_OPEN_END = re.compile(r"(?::|…|\.\.\.|_+)\s*$")
# How many of the question's words around the asking words are its context.
CONTEXT_WORDS = 3


def answer_type(question: str) -> AskedFor:
    """What kind of thing the question asks for. The question's last sentence asks ("… this week. He
    plays for which team?"), and in it the last question word ("… the terrorist, who was associated
    with which group?") that does not open a relative clause ("… born to parents who were not married",
    when another asks); an earlier sentence is read when the last asks nothing. A last sentence left open
    ("… breaking a record set by:") with no question word of its own asks for the words that finish it."""
    plain = _QUOTES.sub("", question).replace("’", "'")
    sentences = [s.text.lower() for s in split_sentences(plain)] or [plain.lower()]
    last = sentences[-1]
    for text in (last, " ".join(sentences)):
        found = list(_WH.finditer(text))
        asking = [m for m in found if not _opens_relative_clause(text, m)]
        # an open last sentence is decided on the first pass: the whole question is read only if it is not open
        if not asking and _OPEN_END.search(last):
            return AskedFor("complete", before=_context_stems(last)[-CONTEXT_WORDS:])
        if found:
            return _asked_for(text, (asking or found)[-1])
    return AskedFor("which_thing")


def _context_stems(text: str) -> tuple[str, ...]:
    """The stems of a text's words, articles left out (a sentence need not use the question's)."""
    return tuple(w[:5] for w in re.findall(r"[^\W_]+", text) if w not in _ARTICLES)


_ARTICLES = frozenset({"a", "an", "the"})


def _opens_relative_clause(text: str, found: re.Match) -> bool:
    """ "who", "where" or "when" right after a noun or a comma ("parents who", "the city, where"), not after
    a preposition or a verb form the question words list ("to whom", "is where")."""
    if not (found["who"] or found["where"] or found["when"]):
        return False
    before = text[: found.start()].rstrip()
    if before.endswith(","):
        return True
    words = before.split()
    return bool(words) and words[-1] not in FUNCTION_WORDS


def _asked_for(text: str, found: re.Match) -> AskedFor:
    """What the question word `found` of `text` asks for, and the question's words around the asking words
    (the question word and the words that name the asked thing)."""
    named = found["counted"] if found["how"] else found["noun"]
    phrase = _naming_words(named or "")
    end = found.end()
    if named:  # the asking words end with the naming words, not with whatever else the pattern took in
        end = found.start("counted" if found["how"] else "noun") + _prefix_length(named, len(phrase.split()))
    context = {
        "before": _context_stems(text[: found.start()])[-CONTEXT_WORDS:],
        "after": _context_stems(text[end:])[:CONTEXT_WORDS],
    }
    if found["how"]:
        return AskedFor(f"how_{found['how']}", _stem(phrase.split()[-1]) if phrase else None, phrase or None, **context)
    if found["measure"]:
        return AskedFor("which_number", _stem(found["measure"]), found["measure"], **context)
    for name in ("when", "where", "who"):
        if found[name]:
            return AskedFor(name, **context)
    # The asked type is read from the naming words only ("which movie won a number of …" asks for no number),
    # the last first: it is the noun the others qualify ("which country music star" asks for a person).
    words = [w for w in (POSSESSIVE.sub("", w) for w in (phrase or named).split()) if w not in FUNCTION_WORDS]
    for word in reversed(words):
        for form in (word, re.sub(r"ies$", "y", word), re.sub(r"e?s$", "", word)):
            if form in _FOCUS_OF:
                return AskedFor(f"which_{_FOCUS_OF[form]}", _stem(word), phrase or None, **context)
    return AskedFor("which_thing", _stem(words[-1]) if words else None, phrase or None, **context)


def _prefix_length(text: str, words: int) -> int:
    """The length of a text's first `words` words (0 for none)."""
    found = list(re.finditer(r"\S+", text))
    return found[words - 1].end() if words else 0


def _naming_words(text: str) -> str:
    """The words after "which", "what" or "how many" that name the asked thing: those before the first
    function word or participle ("which property owned by" -> "property"), up to a possessive ("which
    state's voters" -> "state")."""
    named = []
    for word in text.split():
        if word in FUNCTION_WORDS or (named and word.endswith("ed")):
            break
        named.append(POSSESSIVE.sub("", word))
        if named[-1] != word:
            break
    return " ".join(named)


def _stem(word: str) -> str:
    return word.lower()[:5]


# --- candidates and their features -----------------------------------------------------------------


_QUIZ_OPTION = re.compile(r"(?:^|\s)\(?[A-Da-d][).]\s")
# Verbs too common to say which fact a candidate belongs to.
_LIGHT_HEADS = frozenset("be have do say make get go take include".split())


def is_question_or_quiz(sentence: str) -> bool:
    """A sentence that asks instead of stating (a news quiz restates the question; its options are not answers)."""
    return "?" in sentence or len(_QUIZ_OPTION.findall(sentence)) >= 2


@dataclass
class Candidate:
    """A span of a retrieved sentence that may answer the question, with its features and score."""

    text: str
    kind: str
    n: int  # citation number of its passage, from 1
    sentence: str
    start: int  # offsets of the sentence in the cleaned document
    end: int
    features: dict[str, float]
    score: float = 0.0  # the ranker's probability that it is the answer
    group: str = ""  # its passage's story group
    support: float = 0.0  # of the answer it states, as `rank` gives it: how likely one of its mentions is right

    @property
    def key(self) -> str:
        return " ".join(self.text.lower().split())

    @property
    def answer(self) -> str:
        """The candidate as a short answer states it: a figure in digits ("9 years" for "nine years")."""
        return in_digits(self.text) if self.kind in _FIGURE_KINDS else self.text


def _stated_periods(sentence: str, published: date | None) -> set[tuple[date, date]]:
    """The periods a sentence states, resolved against its article's date."""
    return {(p.start, p.end) for _, _, p in find_periods(sentence, published)}


def _stated_days(sentence: str, published: date | None) -> set[tuple[date, date]]:
    """The days a sentence names ("Monday", "Aug. 9"), resolved against its article's date, each as a period."""
    return {(day, day) for day in (written.as_date() for written in find_dates(sentence, published)) if day}


def _overlaps(stated: set[tuple[date, date]], asked: set[tuple[date, date]]) -> bool:
    return any(a_start <= s_end and s_start <= a_end for s_start, s_end in stated for a_start, a_end in asked)


def _word_index(sentence: AnnotatedSentence, offset: int) -> int:
    return sum(w.start < offset for w in sentence.words)


def _distance(span: tuple[int, int], places: list[int]) -> float:
    """Words between a span (first word, one past its last) and the nearest of some word positions outside
    it (a question word inside a candidate makes it a restatement, not near); infinite when there are none."""
    first, last = span
    return min((first - p if p < first else p - last + 1 for p in places if not first <= p < last), default=math.inf)


def _with_focus_noun(sentence: AnnotatedSentence, mention: Mention, focus: str | None) -> Mention:
    """A mention right before the noun that names the asked thing, with that noun: "Lyme disease" for "Lyme"
    when the question asks "which disease"."""
    if focus is None:
        return mention
    following = next((w for w in sentence.words if w.start >= mention.end), None)
    if following is None or following.lower[:5] != focus or focus in content_words(mention.text):
        return mention
    if sentence.text[mention.end - sentence.start : following.start - sentence.start].strip():
        return mention  # something stands between them ("Lyme, a disease")
    end = following.start + len(following.lower)
    return replace(mention, text=sentence.text[mention.start - sentence.start : end - sentence.start], end=end)


def _context_features(sentence: AnnotatedSentence, span: tuple[int, int], asked_for: AskedFor) -> dict[str, float]:
    """The share of the question's words before and after its asking words that a candidate has around it, in
    the same few words ("fell below what price" / "fell below $4 a gallon"); none for a side the question
    leaves empty."""
    first, last = span
    around = {
        "before": {w.lower[:5] for w in sentence.words[max(0, first - CONTEXT_WORDS) : first]},
        "after": {w.lower[:5] for w in sentence.words[last : last + CONTEXT_WORDS]},
    }
    asked = {"before": asked_for.before, "after": asked_for.after}
    return {
        f"context_{side}": sum(stem in around[side] for stem in stems) / len(stems)
        for side, stems in asked.items()
        if stems
    }


def _figure_of(sentence: AnnotatedSentence, figures: list[Quantity], mention: Mention) -> Quantity | None:
    """The figure (of the sentence's `figures`) that a mention states, if any."""
    offset = mention.start - sentence.start
    end = offset + len(mention.text)
    return next((q for q in figures if q.start < end and offset < q.end), None)


def find_candidates(
    question: str, passages: Sequence[Passage], embedder: Embedder, as_of: date | None = None
) -> list[Candidate]:
    """Every candidate span of the passages' sentences with its features (unscored), in passage order. A
    period the question states ("last year", "since July") is resolved against the day it is asked (`as_of`),
    or the newest passage's day when that is earlier: the news it can be answered from is as of then."""
    asked_for, asked = answer_type(question), asked_quantity(question)
    question_stems = content_words(question)
    fresh = iter(annotate([p.text for p in passages if p.sentences is None]))
    annotated = [p.sentences if p.sentences is not None else next(fresh) for p in passages]
    published = [date.fromisoformat(p.date) if p.date else None for p in passages]
    newest = max((day for day in published if day), default=None)
    now = min(as_of, newest) if as_of and newest else as_of or newest
    asked_periods = {(p.start, p.end) for _, _, p in find_periods(question, now)}
    sentences, periods_of = [], []
    for n, found in enumerate(annotated, start=1):
        for s in found:
            if s.imperative or is_question_or_quiz(s.text):
                continue
            stated, in_asked = set(), False
            if asked_periods:
                stated = _stated_periods(s.text, published[n - 1])
                in_asked = _overlaps(stated | _stated_days(s.text, published[n - 1]), asked_periods)
            # A sentence stating only other periods than the asked one does not answer ("revenue in Q1" in
            # an article of 2023 does not answer a question about Q1 2021); one that also states a day of the
            # asked period does ("the park announced Monday that, after tests last year, …").
            if stated and not in_asked:
                continue
            sentences.append((n, s))
            periods_of.append(float(in_asked))
    if not sentences:
        return []
    stems_of = [{w.lower[:5] for w in s.words} for _, s in sentences]
    lemma_of = {w.lower: w.lemma for _, s in sentences for w in s.words}
    question_lemmas = frozenset(lemma_of[w] for w in re.findall(r"[^\W\d_]+", question.lower()) if w in lemma_of)
    idf = {q: math.log((len(sentences) + 1) / (sum(q in stems for stems in stems_of) + 0.5)) for q in question_stems}
    total_weight = sum(idf.values()) or 1.0
    passage_stems = {n: set().union(*(st for (m, _), st in zip(sentences, stems_of) if m == n)) for n, _ in sentences}
    passage_overlap = {
        n: sum(idf[q] for q in question_stems & stems) / total_weight for n, stems in passage_stems.items()
    }
    vectors = embedder.embed([question] + [s.text for _, s in sentences])
    cosines = vectors[1:] @ vectors[0]
    candidates = []
    limit_asked = bool(_ASKS_LIMIT.search(question))
    # A passage that shares no word with the question (a year or another figure aside) is not about what
    # it asks: a question in another language or script finds nothing to answer with there.
    question_words = {q for q in question_stems if any(ch.isalpha() for ch in q)}
    candidate_sentences = []  # each candidate's sentence vector
    for (n, sentence), stems, cosine, sentence_vector, states_period in zip(
        sentences, stems_of, cosines, vectors[1:], periods_of
    ):
        passage = passages[n - 1]
        if not question_words & passage_stems[n]:
            continue
        shared = question_stems & stems
        focus = [i for i, w in enumerate(sentence.words) if asked_for.focus and w.lower[:5] == asked_for.focus]
        positions = {}
        for i, word in enumerate(sentence.words):
            if word.lower[:5] in shared:
                positions.setdefault(word.lower[:5], []).append(i)
        sentence_features = {
            "sentence_overlap": sum(idf[q] for q in shared) / total_weight,
            "passage_overlap": passage_overlap[n],
            "cosine": float(cosine),
            "rank": 1.0 / n,
            "states_asked_period": states_period,
            "article_lead": float(passage.start + sentence.start < LEAD_CHARS),
        } | _recency(published[n - 1], now, newest)
        title = (passage.title or "").lower()
        figures = extract_quantities(sentence.text)
        for mention in sentence.mentions:
            mention = _with_focus_noun(sentence, mention, asked_for.focus)
            features = mention_features(
                mention, asked_for.type, asked_for.focus, asked, question_stems, question_lemmas
            )
            if features is None:
                continue
            figure = _figure_of(sentence, figures, mention)
            if figure is not None and how_reported(sentence.text, figure):
                continue  # a dateline's date or the day a source spoke is not when the story's event happened
            modality = figure_modality(figure, sentence.text[: figure.start]) if figure else None
            if modality == "limit" and asked is not None and not limit_asked:
                continue
            if modality:
                features[f"modality={modality}"] = 1.0
            span = (_word_index(sentence, mention.start), _word_index(sentence, mention.end))
            near = sum(idf[q] / (1 + _distance(span, places)) for q, places in positions.items())
            features |= sentence_features | {
                "near": near / total_weight,
                "focus_near": 1 / (1 + _distance(span, focus)) if focus else 0.0,
                **_context_features(sentence, span, asked_for),
                "in_title": float(bool(title) and _holds(title, mention.text.lower())),
            }
            start = passage.start + sentence.start
            candidate_sentences.append(sentence_vector)
            candidates.append(
                Candidate(
                    mention.text,
                    mention.kind,
                    n,
                    sentence.text,
                    start,
                    start + len(sentence.text),
                    features,
                    group=passage.group,
                )
            )
    named = names_in_question(question, asked_for.focus)
    add_meaning_features(candidates, question, vectors[0], candidate_sentences, asked_for.phrase, named, embedder)
    add_relative_features(candidates)
    return candidates


# The question with a candidate in place of its question word is approximated by a mix of their vectors, the
# candidate's words counted twice (they replace the question word and carry the answer). Embedding each filled-in
# question instead costs a model call per candidate and, re-ranking the best 20, ranked no better on train (2-fold
# cross-validation: top answer right 0.29-0.31 against 0.31 with the mix).
FILLED_CANDIDATE_WEIGHT = 2.0


# A run of capitalised words: "Liz Cheney", "United States", "Which Star Trek" (quotation marks taken out).
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")


def names_in_question(question: str, focus: str | None) -> list[str]:
    """The names a question states: its runs of capitalised words from the first that is no function word ("Star
    Trek" of "Which Star Trek"), but one naming the asked thing (`focus`). Read without a parser: answering from
    an annotated index loads none."""
    names = []
    for run in _CAPITALISED_RUN.findall(_QUOTES.sub("", question)):
        name = " ".join(dropwhile(lambda word: word.lower() in FUNCTION_WORDS, run.split()))
        if name and not (focus and focus in content_words(name)):
            names.append(name)
    return names


def _recency(published: date | None, now: date | None, newest: date | None) -> dict[str, float]:
    """How recent a passage's article is: 1 on the day the question is asked (or of the newest passage, when
    that is earlier), 0.5 a week before, and whether it is the newest of the passages. An undated article
    counts as of that day: nothing says it is older, and the ranker learned on dated articles only, so
    features left out would read as the oldest article there is (so an undated article's plain answer fell
    below the abstention threshold)."""
    if published is None or now is None:
        return {"recency": 1.0, "newest": 1.0}
    return {"recency": 1 / (1 + max(0, (now - published).days) / 7), "newest": float(published == newest)}


def add_meaning_features(
    candidates: list[Candidate],
    question: str,
    question_vector: np.ndarray,
    sentence_vectors: Sequence[np.ndarray],
    phrase: str | None,
    named: Sequence[str],
    embedder: Embedder,
) -> None:
    """Features of meaning, from the embedder: how close each candidate is to the words that name the asked
    thing ("mustard" to "which condiment", "monkeypox" to "what virus"; absent when the question names none),
    how close its sentence is to the question with the candidate filled in ("… to stock mustard"), and how close
    it comes to one of the names the question states (`named`): an answer close to one restates the question
    ("the Biden administration" for "the United States declared an emergency for what virus"); absent when the
    question states none."""
    if not candidates:
        return
    texts = list(dict.fromkeys(c.text for c in candidates))
    vectors = embedder.embed(([phrase] if phrase else []) + texts + list(named))
    first = 1 if phrase else 0
    of_text = dict(zip(texts, vectors[first : first + len(texts)]))
    named_vectors = vectors[first + len(texts) :]
    question_words = len(question.split())
    for c, sentence_vector in zip(candidates, sentence_vectors):
        filled = question_words * question_vector + FILLED_CANDIDATE_WEIGHT * len(c.text.split()) * of_text[c.text]
        c.features["filled_cosine"] = float(filled @ sentence_vector / (np.linalg.norm(filled) or 1.0))
        c.features["filled_gain"] = c.features["filled_cosine"] - c.features["cosine"]
        if phrase:
            c.features["focus_similarity"] = float(of_text[c.text] @ vectors[0])
        if len(named_vectors):
            c.features["restates_question"] = float((named_vectors @ of_text[c.text]).max())


def add_relative_features(candidates: list[Candidate]) -> None:
    """Features that compare a candidate with the others: how many distinct stories and sentences state it
    (copies of one story count once), how many state it in other words (a span that holds it or that it
    holds, anywhere: "Harriet Hageman" in "Harriet Hageman's victory"; a figure of the same value: "2 million"
    in "more than 2 million swings"), how its sentence's closeness to the question compares with the
    closest one, and whether a longer candidate of its sentence holds it ("Williams" in "Serena Williams")
    or it holds a shorter one."""
    groups: dict[str, set[str]] = {}
    sentences: dict[str, set[tuple[str, str]]] = {}
    by_sentence: dict[tuple[int, int], list[Candidate]] = {}
    by_value: dict[float, set[str]] = {}
    values: dict[str, set[float]] = {}
    for c in candidates:
        groups.setdefault(c.key, set()).add(c.group)
        sentences.setdefault(c.key, set()).add((c.group, c.sentence))
        by_sentence.setdefault((c.n, c.start), []).append(c)
        if c.kind in _FIGURE_KINDS and c.key not in values:
            values[c.key] = {q.value for q in extract_quantities(c.text)}
        for value in values.get(c.key, ()):
            by_value.setdefault(value, set()).add(c.group)
    in_other_words = _stories_in_other_words(groups)
    closest = max((c.features["cosine"] for c in candidates), default=0.0)
    most_like_focus = max((c.features.get("focus_similarity", 0.0) for c in candidates), default=0.0)
    best_filled = max((c.features.get("filled_cosine", 0.0) for c in candidates), default=0.0)
    most_shared = max((c.features["sentence_overlap"] for c in candidates), default=0.0)
    for c in candidates:
        neighbours = [o.key for o in by_sentence[c.n, c.start] if o.key != c.key]
        c.features |= {
            "sources": math.log1p(len(groups[c.key])),
            "repeats": math.log1p(len(sentences[c.key])),
            "answer_sources": math.log1p(len(in_other_words[c.key])),
            "value_sources": math.log1p(len(set().union(*(by_value[v] for v in values.get(c.key, ()))))),
            "cosine_gap": c.features["cosine"] - closest,
            "overlap_gap": c.features["sentence_overlap"] - most_shared,
            "focus_gap": c.features.get("focus_similarity", 0.0) - most_like_focus,
            "filled_gap": c.features.get("filled_cosine", 0.0) - best_filled,
            "inside_longer": float(any(_holds(o, c.key) for o in neighbours)),
            "holds_shorter": float(any(_holds(c.key, o) for o in neighbours)),
        }


def _stories_in_other_words(groups: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each answer text (of `groups`: text -> the stories stating it), the stories stating it or a text
    that holds it or that it holds. A text that holds another has that one's first word; so only the texts
    with its first word, or that begin with one of its words, are compared with it."""
    words = {key: re.findall(r"\w+", key) for key in groups}
    having: dict[str, set[str]] = {}
    beginning: dict[str, set[str]] = {}
    for key, found in words.items():
        for word in found:
            having.setdefault(word, set()).add(key)
        if found:
            beginning.setdefault(found[0], set()).add(key)
    stories = {}
    for key, found in words.items():
        if not found:
            stories[key] = groups[key]
            continue
        related = having[found[0]].union(*(beginning.get(word, ()) for word in found))
        stories[key] = set().union(
            *(groups[other] for other in related if other == key or _holds(other, key) or _holds(key, other))
        )
    return stories


def _holds(longer: str, shorter: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(shorter)}(?!\w)", longer) is not None


def mention_features(
    mention: Mention,
    asked_type: str,
    focus: str | None,
    asked: Asked | None,
    question_stems: set[str],
    question_lemmas: frozenset[str] = frozenset(),
) -> dict[str, float] | None:
    """The features of one mention that do not depend on the rest of the passages; None when it cannot
    be the answer: the question states it, or the question asks for a figure of a kind it does not hold.
    `question_lemmas` are the question's words as the annotated passages lemmatise them."""
    stems = content_words(mention.text)
    if not stems or stems <= question_stems:
        return None
    if asked_type == "when" and mention.kind not in _TIME_KINDS:
        return None
    if asked_type in _NAMED_TYPES and mention.kind in _FIGURE_KINDS:
        return None
    figures = extract_quantities(mention.text)
    # A question that asks for a figure ("how many", "what price") is answered by one of its kind; its unit
    # may be worded otherwise in the article ("cases" / "infections"), which the features weigh.
    if asked_type in _QUANTITY_TYPES and asked is not None and not any(Asked(asked.kind).accepts(q) for q in figures):
        return None
    # The word that governs it, in the question too ("rejected" for "Kansas voters rejected"): the lemma meets a
    # question word at their stems, as every other word match here does, or as the passages lemmatise that word
    # ("ship" for "shipped", whose stems differ).
    head_in_question = mention.head not in _LIGHT_HEADS and (
        _stem(mention.head) in question_stems or mention.head in question_lemmas
    )
    return {
        f"type={asked_type}|{mention.kind}": 1.0,
        "names_focus": float(focus is not None and focus in stems),
        f"kind={mention.kind}": 1.0,
        "words": min(len(mention.text.split()), 8) / 8,
        "in_question": len(stems & question_stems) / len(stems),
        "head_in_question": float(head_in_question),
        # A modifier of a word the question states ("US" in "US House Speaker Nancy Pelosi") rarely answers it.
        f"dep={mention.dep}|head_in_question={head_in_question}": 1.0,
        "figure": float(bool(figures)),
        "capitalised": sum(w[:1].isupper() for w in mention.text.split()) / len(mention.text.split()),
    }


# --- the learned ranker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Trees:
    """Boosted regression trees over named features (LightGBM's, exported by the training script), walked
    with numpy: the nodes of every tree in one set of arrays, all candidates and trees a level at a time.
    A node sends a candidate left when its feature is at most the node's threshold (an absent feature is 0);
    a child below 0 is leaf ~child."""

    features: tuple[str, ...]
    split_feature: np.ndarray  # per node: index into `features`
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_value: np.ndarray
    roots: np.ndarray  # per tree: its first node, or ~leaf for a tree that is one leaf

    @classmethod
    def from_dict(cls, data: dict) -> Trees:
        arrays = {name: np.asarray(data[name]) for name in ("split_feature", "left", "right", "roots")}
        floats = {name: np.asarray(data[name], dtype=np.float64) for name in ("threshold", "leaf_value")}
        return cls(tuple(data["features"]), **arrays, **floats)

    def to_dict(self) -> dict:
        arrays = ("split_feature", "threshold", "left", "right", "leaf_value", "roots")
        return {"features": list(self.features)} | {name: getattr(self, name).tolist() for name in arrays}

    def raw(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """The sum of every tree's leaf for each row."""
        column = {name: i for i, name in enumerate(self.features)}
        values = np.zeros((len(rows), len(self.features) + 1))  # the last column: features no tree splits on
        for i, row in enumerate(rows):
            for name, value in row.items():
                values[i, column.get(name, -1)] = value
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
        inner = node >= 0
        while inner.any():
            at = node[inner]
            goes_left = values[np.nonzero(inner)[0], self.split_feature[at]] <= self.threshold[at]
            node[inner] = np.where(goes_left, self.left[at], self.right[at])
            inner = node >= 0
        return self.leaf_value[~node].sum(axis=1)


@dataclass(frozen=True)
class Ranker:
    """A model of whether a candidate is the answer: a logistic score over its features (weights by feature
    name and a bias, plus boosted trees' output when it has them), the threshold below which the best
    candidate's support is not trusted to answer, and the least share of the question's (idf-weighted) words a
    candidate's passage must hold to be about the question at all."""

    weights: dict[str, float]
    bias: float
    threshold: float
    model_weight: float = 0.0  # weight of a loaded model's log-likelihood (0: the model does not vote)
    min_passage_overlap: float = 0.0
    trees: Trees | None = None
    model_weights: dict[str, float] = field(default_factory=dict)  # learned per model; others: model_weight

    def for_model(self, name: str) -> Ranker:
        """This ranker with the vote weight learned for the named model (`model_weight` if none was)."""
        return replace(self, model_weight=self.model_weights.get(name, self.model_weight))

    def heeds(self, generator: Generator | None) -> bool:
        """Whether a loaded model's vote weighs anything in this ranker's order."""
        return generator is not None and self.for_model(generator.name).model_weight > 0

    def scores(self, rows: Sequence[dict[str, float]]) -> list[float]:
        """Each row's probability of being the answer."""
        z = np.array(
            [self.bias + sum(self.weights.get(name, 0.0) * value for name, value in row.items()) for row in rows]
        )
        if self.trees is not None and len(rows):
            z += self.trees.raw(rows)
        return (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))).tolist()


@cache
def learned_ranker(path: Path = WEIGHTS_FILE) -> Ranker:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Ranker(
        data["weights"],
        data["bias"],
        data["threshold"],
        data.get("model_weight", 0.0),
        data["min_passage_overlap"],
        Trees.from_dict(data["trees"]) if "trees" in data else None,
        data.get("model_weights", {}),
    )


# A name the articles shorten after first mention ("Williams" for "Serena Williams", "LeBron" for "LeBron James",
# "Harvard" for "Harvard University", "New York" for "New York City") is answered in full, and so is a figure its
# sentence states with the noun it counts or the unit it is a rate of ("$4" for "$4 per gallon").
_NAME_KINDS = ("PERSON", "ORG", "GPE")
_MAX_NAME_WORDS = 4


def full_answers(candidates: Sequence[Candidate]) -> dict[str, Candidate]:
    """For each short answer, a mention of it in full. A name by the full name it shortens, by its last words or
    its first ("williams" -> "Serena Williams", "lebron" -> "LeBron James"): a name of the same kind, the longest
    the passages give, whose other words are proper-name words. A figure by the longest figure of its sentence
    that begins with it ("$4" -> "$4 per gallon", "13" -> "13 years")."""
    names = [c for c in candidates if c.kind in _NAME_KINDS and len(c.text.split()) <= _MAX_NAME_WORDS]
    figures = [c for c in candidates if c.kind == "FIGURE"]
    found: dict[str, Candidate] = {}
    for pool in (names, figures):
        for short in pool:
            longer = [c for c in pool if _states_in_full(c, short)]
            if longer:
                found[short.key] = max(longer, key=lambda c: (len(c.key), c.score))
    return found


def _states_in_full(longer: Candidate, short: Candidate) -> bool:
    """Whether a candidate is a short one's full form (see `full_answers`)."""
    if short.kind == "FIGURE":
        same_sentence = (longer.n, longer.start) == (short.n, short.start)
        return longer.kind == "FIGURE" and same_sentence and longer.key.startswith(short.key + " ")
    return longer.kind == short.kind and _lengthens(longer.text, short.key)


def _lengthens(name: str, short: str) -> bool:
    """Whether a name is `short` (lower case) with proper-name words before or after it ("LeBron James" for
    "lebron"); a common noun added is no part of a name ("Kansas state")."""
    words, size = name.split(), len(short.split())
    for added, kept in ((words[:-size], words[-size:]), (words[size:], words[:size])):
        if added and " ".join(kept).lower() == short and all(w[:1].isupper() for w in added):
            return True
    return False


def rank(candidates: list[Candidate], ranker: Ranker) -> list[Candidate]:
    """One candidate per distinct answer, best first: a text's best-scored mention, a short name or a bare figure
    counted with its full form and answered by a mention of it (which its sentence states). Candidates
    of passages that hold too little of the question are none (a question in another language shares a
    word or two with the articles).

    Each answer's `support` is the chance that at least one of its mentions is right, as if they were
    independent: its own mentions, and the spans of their sentences that hold one or are held by one ("10,000"
    in "more than 10,000 cases"), which state the same answer. It, not the best score, decides whether the
    corpus answers: an answer stated in several ways or places is better attested than its best mention."""
    candidates = [c for c in candidates if c.features.get("passage_overlap", 0.0) >= ranker.min_passage_overlap]
    for c, score in zip(candidates, ranker.scores([c.features for c in candidates])):
        c.score = score
    full = full_answers(candidates)
    best: dict[str, Candidate] = {}
    mentions: dict[str, list[Candidate]] = {}
    by_sentence: dict[tuple[int, int], list[Candidate]] = {}
    for c in candidates:
        shown = full.get(c.key, c)
        mentions.setdefault(shown.key, []).append(c)
        by_sentence.setdefault((c.n, c.start), []).append(c)
        if shown.key not in best or c.score > best[shown.key].score:
            best[shown.key] = c if shown is c else replace(shown, score=c.score)
    for key, answer in best.items():
        stating = {id(c): c for c in mentions[key]}
        for m in mentions[key]:
            for o in by_sentence[m.n, m.start]:
                if _holds(o.key, m.key) or _holds(m.key, o.key):
                    stating[id(o)] = o
        answer.support = 1.0 - math.prod(1.0 - c.score for c in stating.values())
    return sorted(best.values(), key=lambda c: -c.score)


# --- a model's vote --------------------------------------------------------------------------------


def choice_prompt(question: str, sentence: str) -> str:
    return f"{sentence}\nQuestion: {question}\nShort answer:"


def put_to_model(ranked: list[Candidate], ranker: Ranker) -> list[Candidate]:
    """The candidates a model may re-order: the ranker's best few that it would answer with."""
    return [c for c in ranked[:MODEL_CANDIDATES] if c.support >= ranker.threshold]


def log_odds(score: float) -> float:
    """A ranker's score as the log-odds a model's weighted vote is added to."""
    return math.log(score / (1 - score)) if 0 < score < 1 else 0.0


def vote(question: str, candidate: Candidate, generator: Generator) -> float:
    """A model's vote for a candidate: its mean log-likelihood per token as the answer, after its sentence and
    the question."""
    return generator.log_likelihood(choice_prompt(question, candidate.sentence), " " + candidate.text)


def model_choice(question: str, ranked: list[Candidate], generator: Generator, ranker: Ranker) -> list[Candidate]:
    """The ranker's best candidates re-ordered by the ranker's score (as a logit) plus the model's weighted
    vote; the model never adds a candidate, it only re-orders those the sources state and the ranker would
    answer with (their support at or above the threshold).

    A vote is a mean log-likelihood per token, never positive: it only lowers a candidate. So a candidate
    whose logit is already below the best sum so far cannot come first and is not put to the model; those
    put to it come first, best first, then the others in the ranker's order. The candidates of one sentence
    are put one after the other, so the model evaluates their shared prompt once."""
    top = put_to_model(ranked, ranker)
    logit = [log_odds(c.score) for c in top]
    weight = ranker.model_weight
    total: dict[int, float] = {}  # candidate -> logit + weight * vote, for those put to the model

    def beaten(i: int) -> bool:
        return weight > 0 and logit[i] < max(total.values(), default=-math.inf)

    for i, candidate in enumerate(top):
        if i in total or beaten(i):
            continue
        for j in range(i, len(top)):
            if top[j].sentence == candidate.sentence and j not in total and not beaten(j):
                total[j] = logit[j] + weight * vote(question, top[j], generator)
    chosen = sorted(sorted(total), key=lambda i: -total[i])
    return [top[i] for i in chosen] + [c for i, c in enumerate(top) if i not in total] + ranked[len(top) :]


# --- the reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceSentence:
    n: int  # citation number: position of the passage in the list, from 1
    text: str
    start: int  # offsets in the cleaned document
    end: int


@dataclass(frozen=True)
class Reading:
    short: str  # the asked thing; "" when the corpus does not answer
    sentences: list[EvidenceSentence]  # the sentence that states it
    candidates: list[Candidate] = field(default_factory=list)  # best first
    reason: str = ""  # why it abstains, when it does
    model_used: bool = False

    @property
    def answerable(self) -> bool:
        return bool(self.short)


def read(
    question: str,
    passages: Sequence[Passage],
    embedder: Embedder,
    generator: Generator | None = None,
    ranker: Ranker | None = None,
    as_of: date | None = None,
) -> Reading:
    """The short answer and the sentence that states it, or the reason the passages do not answer; `as_of`
    is the day the question is asked."""
    ranker = ranker or learned_ranker()
    if not passages:
        return Reading("", [], reason="no passage was retrieved")
    ranked = rank(find_candidates(question, passages, embedder, as_of), ranker)
    if not ranked:
        return Reading("", [], reason="the passages state nothing of the kind the question asks for")
    if ranked[0].support < ranker.threshold:
        # The reason names no candidate: a refusal that states a figure still suggests one.
        return Reading("", [], ranked, "no passage states the answer clearly enough")
    used = ranker.heeds(generator)
    if used:
        ranked = model_choice(question, ranked, generator, ranker.for_model(generator.name))
    best = ranked[0]
    return Reading(best.answer, [EvidenceSentence(best.n, best.sentence, best.start, best.end)], ranked, "", used)


def answer_text(reading: Reading) -> str:
    """The short answer, its citation, then the sentence that states it, quoted."""
    sentence = reading.sentences[0]
    return f'{reading.short} [{sentence.n}] — "{sentence.text}"'


def best_sentence(claim: str, passage: Passage) -> tuple[str, int, int]:
    """The sentence of a passage that shares the most words with a claim: the span a citation quotes."""
    words = content_words(claim)
    return max(
        ((s.text, passage.start + s.start, passage.start + s.end) for s in split_sentences(passage.text)),
        key=lambda s: len(words & content_words(s[0])),
        default=(passage.text, passage.start, passage.end),
    )
