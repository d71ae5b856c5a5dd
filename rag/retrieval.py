"""Retrieval stage: dense and keyword search fused by reciprocal rank, then diversified across copies.

Dense vectors find paraphrases ("January to September last year"); BM25 finds the exact rare word
("Panel of Experts"). Reciprocal rank fusion needs no score calibration between the two.

Retrieval is dated: a question is asked on a day (`as_of`), and articles published after it are left
out. A question searches twice more among the recent articles, those published from the start of the
period it names ("this week", "yesterday", "latest") to `as_of`, or of the week up to `as_of` when it
names none: a news question asks about the news of its day. It fuses those rankings too: a passage both
relevant and recent ranks first, and a recent one gains nothing unless it shares a meaningful word with
the question (`about_question`). A question about a time of its own that ended before that week ("in
2019") prefers nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from .annotate import AnnotatedSentence
from .dates import MONTHS, WEEKDAYS, find_periods, question_period
from .embedding import Embedder
from .index import Index
from .text import content_words, word_matcher

# Cormack et al.'s constant: damps the weight of the very top ranks so neither list dominates.
RRF_K = 60
DEFAULT_K = 5
# A question that names no period prefers the articles of this many days up to the day asked. On 400
# RealTimeQA train questions (their own search hits, 2023-2025), the passage ranked first held the answer
# for 0.49 of them with no preference (only "this week" and the like preferred), 0.52 with it.
NEWS_DAYS = 7
# The label of a passage whose page names no outlet.
UNNAMED_SOURCE = "unnamed source"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what a citation needs: where it comes from and its exact span."""

    chunk_id: str
    source: str
    text: str
    start: int  # offsets of `text` in the cleaned document
    end: int
    outlet: str | None
    title: str | None
    date: str | None
    group: str  # story group: copies of one story share it
    score: float  # fused reciprocal-rank score
    dense_score: float | None = None
    keyword_score: float | None = None
    also_in: tuple[str, ...] = field(default=())  # other copies of this very passage (same figures)
    # Its sentences with the spans a short answer can be, as the index build annotated them; None: not
    # annotated yet (the reader annotates it).
    sentences: tuple[AnnotatedSentence, ...] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, document, chunk, score: float, **extra) -> Passage:
        """A chunk of a document as a passage, with its fused score (and the dense and keyword ones, its
        sentences)."""
        return cls(
            chunk.id,
            chunk.source,
            chunk.text,
            chunk.start,
            chunk.end,
            document.outlet,
            document.title,
            document.date,
            document.group,
            score,
            **extra,
        )

    @property
    def label(self) -> str:
        """Who says it: the outlet, or a neutral name (never the file name, whose digits read as figures)."""
        return self.outlet or UNNAMED_SOURCE


def reciprocal_rank_fusion(*rankings: list[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked lists of (id, score) into one list ordered by the sum of 1 / (k + rank)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


_FIGURE = re.compile(
    r"\d|^(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|half|quarter|first|second|third|"
    rf"mn|bn|k|m|{'|'.join(MONTHS)}|{'|'.join(WEEKDAYS)}|yesterday|today|tomorrow|last|next|percent)$",
    re.I,
)


def recent_since(question: str, as_of: date) -> date | None:
    """The first day of the recent articles the question prefers (see the module docstring); None when it
    asks about a time of its own that ended before the past `NEWS_DAYS`."""
    period = question_period(question, as_of)
    if period is not None:
        return period.start
    since = as_of - timedelta(days=NEWS_DAYS - 1)
    stated = [found for _, _, found in find_periods(question, as_of)]
    return None if stated and all(found.end < since for found in stated) else since


def about_question(
    question: str, hits: list[tuple[int, float]], text_of: Callable[[int], str]
) -> list[tuple[int, float]]:
    """The hits whose text shares a meaningful word with the question: the recent passages a
    question prefers are those among the relevant (BM25 also matches "may" and "its", and the few recent
    articles of a corpus would otherwise top the recent rankings whatever they are about)."""
    words = content_words(question)
    return [pair for pair in hits if words & content_words(text_of(pair[0]))]


def same_passage(a: str, b: str) -> bool:
    """True when two texts are copies that differ in no figure, date or amount (only in wording)."""
    matcher = word_matcher(a, b)
    words_a, words_b = matcher.a, matcher.b
    if matcher.ratio() < 0.9:
        return False
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op != "equal" and any(_FIGURE.search(w) for w in words_a[a0:a1] + words_b[b0:b1]):
            return False
    return True


def retrieve(
    index: Index, embedder: Embedder, question: str, *, k: int = DEFAULT_K, as_of: date | None = None
) -> list[Passage]:
    """The k best passages for the question, each distinct: a copy of an already chosen passage from
    the same story is folded into it as a confirmation (`also_in`) instead of taking a slot, unless
    the copy changes a figure, in which case it is kept so the guard can compare the two.

    With `as_of`, documents dated after it are left out, and the recent ones are preferred (see the
    module docstring)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    pool = max(4 * k, 20)
    vector = embedder.embed([question])[0]
    allowed = index.dated(as_of) if as_of else None
    dense = index.search_dense(vector, pool, allowed)
    keywords = index.search_keywords(question, pool, allowed)
    rankings = [dense, keywords]
    since = recent_since(question, as_of) if as_of else None
    if since is not None:
        # Reports of an event come out on its day and after, up to the day asked.
        recent = index.dated(as_of, since=since)
        rankings += [
            about_question(question, hits, lambda item: index.chunks[item].text)
            for hits in (index.search_dense(vector, pool, recent), index.search_keywords(question, pool, recent))
        ]
    dense_scores, keyword_scores = dict(dense), dict(keywords)
    chosen: list[Passage] = []
    for item, score in reciprocal_rank_fusion(*rankings):
        chunk = index.chunks[item]
        doc = index.documents[chunk.source]
        copy_of = next(
            (i for i, p in enumerate(chosen) if p.group == doc.group and same_passage(p.text, chunk.text)), None
        )
        if copy_of is not None:
            first = chosen[copy_of]
            chosen[copy_of] = Passage(**{**first.__dict__, "also_in": first.also_in + (chunk.source,)})
            continue
        if len(chosen) < k:
            chosen.append(
                Passage.of(
                    doc,
                    chunk,
                    score,
                    dense_score=dense_scores.get(item),
                    keyword_score=keyword_scores.get(item),
                    sentences=index.sentences(item),
                )
            )
    return chosen
