"""Answer stage: retrieval → reading (the short answer) → guard, behind `ask` and `ask_stream`.

A `Pipeline` owns the loaded models and the index for one corpus, index directory and model, and is
reused across questions (loading a model costs seconds; a question costs well under one). Pipelines
are cached by those three settings, and model calls are serialised, so threads can share them.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from .dates import parse_as_of
from .embedding import Embedder
from .errors import QuestionError
from .guard import GuardReport, cited_spans, review
from .index import BuildReport, Index, built_from, index_embedder, open_index, update_index
from .models import Generator, LlamaCppGenerator, resolve_generator
from .reading import Reading, answer_text, best_sentence, learned_ranker, read
from .retrieval import DEFAULT_K, UNNAMED_SOURCE, Passage, retrieve
from .text import cited_numbers

# "model": a model re-ordered the best candidates; "extractive": the learned ranker alone chose;
# "abstain": the corpus does not answer.
Mode = Literal["model", "extractive", "abstain"]
DEFAULT_INDEX = "index"
# Longer questions are cut for the models (a question is a sentence or two; 100 kB is a paste error).
MAX_QUESTION_CHARS = 1000
# A terminal colour code pasted with a question ("\x1b[31m"): the whole sequence goes, not just ESC.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


@dataclass(frozen=True)
class Citation:
    """What [n] in the answer points to: the outlet, the article and the exact span quoted."""

    n: int
    source: str  # corpus file name
    outlet: str | None
    title: str | None
    date: str | None
    quote: str  # the sentence the answer relies on, verbatim
    start: int  # offsets of `quote` in the cleaned document
    end: int
    passage: str  # the whole passage the quote sits in

    @property
    def label(self) -> str:
        """Who says it: the outlet, or a neutral name (never the file name)."""
        return self.outlet or UNNAMED_SOURCE


@dataclass
class Answer:
    question: str
    text: str  # the short answer, its citation and the quoted sentence that states it: 'Kansas [2] — "…"'
    citations: list[Citation]
    passages: list[Passage]
    abstained: bool
    mode: Mode
    guard: GuardReport
    models: dict[str, str]
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)  # what was trimmed or rejected, for the curious
    as_of: date | None = None  # the day the question was asked: later articles were left out
    short: str = ""  # the asked thing ("Kansas"), which `text` leads with; "" when the corpus does not answer

    @property
    def headline(self) -> str:
        """The short answer as shown first: when sources disagree about it, every source's value instead
        ("sources disagree: more than 1.5 billion barrels (Kyiv Independent [1]) / …"), never one of them."""
        if self.guard.conflicts:
            rows = [row for conflict in self.guard.conflicts for row in conflict.rows]
            return "sources disagree: " + " / ".join(
                f"{row.text} ({row.label}{f' [{row.n}]' if row.n else ''})" for row in rows
            )
        return self.short

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "short": self.short,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "answer": self.text,
            "abstained": self.abstained,
            "mode": self.mode,
            "citations": [asdict(c) for c in self.citations],
            "passages": [
                {
                    "n": n,
                    "source": p.source,
                    "outlet": p.outlet,
                    "title": p.title,
                    "date": p.date,
                    "text": p.text,
                    "score": round(p.score, 6),
                    "dense_score": p.dense_score,
                    "keyword_score": p.keyword_score,
                    "start": p.start,
                    "end": p.end,
                    "also_in": list(p.also_in),
                }
                for n, p in enumerate(self.passages, start=1)
            ],
            "guard": self.guard.to_dict(),
            "models": self.models,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "notes": self.notes,
        }


def clean_question(question: str) -> tuple[str, list[str]]:
    """The question without control characters and cut to a sane length, with notes on what changed."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in _ANSI_ESCAPE.sub("", question))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("the question is empty: ask something about the articles")
    notes = []
    if len(text) > MAX_QUESTION_CHARS:
        text = text[:MAX_QUESTION_CHARS].rsplit(" ", 1)[0]
        notes.append(f"the question was {len(question):,} characters long; only its first {len(text):,} were used")
    return text, notes


class Pipeline:
    """The loaded models and index for one corpus (None: the one the index was built from), index
    directory and model."""

    def __init__(
        self,
        corpus_dir: str | Path | None = None,
        index_dir: str | Path = DEFAULT_INDEX,
        model: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        rebuild: bool = True,
    ):
        self.corpus_dir, _ = built_from(corpus_dir, index_dir)  # a corpus the index is not of fails here
        self.index_dir = Path(index_dir)
        self.embedder = embedder or shared_embedder(index_dir)
        self.generator = generator if generator is not None else resolve_generator(model)
        if isinstance(self.generator, LlamaCppGenerator) and learned_ranker().heeds(self.generator):
            self.generator.load_soon()  # it votes on nearly every answer: it loads while the index is read
        self.rebuild = rebuild
        self._index: Index | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> Index:
        """The index, refreshed when the corpus changed since it was loaded."""
        with self._lock:
            self._index = open_index(
                self.corpus_dir, self.index_dir, self.embedder, rebuild=self.rebuild, current=self._index
            )
            return self._index

    @property
    def models(self) -> dict[str, str]:
        return {"embedder": self.embedder.name, "generator": self.generator.name if self.generator else "extractive"}

    def ask(self, question: str, *, k: int = DEFAULT_K, as_of: date | str | None = None) -> Answer:
        answer = None
        for piece in self.stream(question, k=k, as_of=as_of):
            if isinstance(piece, Answer):
                answer = piece
        return answer

    def stream(self, question: str, *, k: int = DEFAULT_K, as_of: date | str | None = None) -> Iterator[str | Answer]:
        """The answer's text as soon as it is read, then the checked `Answer` (whose text leads with the
        guard's summary when the sources disagree). `as_of` is the day the question is asked (a date or
        "YYYY-MM-DD"; None: today)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise QuestionError(f"k must be a whole number of passages, at least 1 (got {k!r})")
        run = _Run(time.perf_counter(), parse_as_of(as_of))
        question, run.notes = clean_question(question)
        passages, reading = self._read(question, k, run)
        if not reading.answerable:
            mode, text = "abstain", f"The corpus does not answer this question: {reading.reason}."
        else:
            mode, text = ("model" if reading.model_used else "extractive"), answer_text(reading)
            yield text
        yield self._checked_answer(question, mode, text, passages, reading, run)

    def _read(self, question: str, k: int, run: _Run) -> tuple[list[Passage], Reading]:
        """Retrieve the passages published by `as_of` and read the short answer in them."""
        index = self.index
        run.lap("index_s")
        passages = retrieve(index, self.embedder, question, k=k, as_of=run.as_of)
        run.lap("retrieval_s")
        reading = read(question, passages, self.embedder, self.generator, as_of=run.as_of)
        run.lap("reading_s")
        return passages, reading

    def _checked_answer(
        self,
        question: str,
        mode: Mode,
        text: str,
        passages: list[Passage],
        reading: Reading,
        run: _Run,
    ) -> Answer:
        """Run the guard over the answer text and assemble the `Answer`."""
        run.lap()
        guard = review(question, text if mode != "abstain" else "", passages, self.embedder, as_of=run.as_of)
        run.lap("guard_s")
        if lead := guard.summary():
            text = f"{lead}\n\n{text}"
        run.timings["total_s"] = time.perf_counter() - run.began
        return Answer(
            question=question,
            short=reading.short,
            text=text,
            citations=[] if mode == "abstain" else citations_for(text, passages, reading),
            passages=passages,
            abstained=mode == "abstain",
            mode=mode,
            guard=guard,
            models=self.models,
            timings=run.timings,
            notes=run.notes,
            as_of=run.as_of,
        )


@dataclass
class _Run:
    """Timings and notes gathered while one question is answered."""

    began: float
    as_of: date  # the day the question is asked
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    _mark: float = 0.0

    def lap(self, name: str | None = None) -> None:
        """Record the time since the last lap under `name` (None: just restart the clock)."""
        now = time.perf_counter()
        if name:
            self.timings[name] = now - (self._mark or self.began)
        self._mark = now


def citations_for(text: str, passages: list[Passage], reading: Reading) -> list[Citation]:
    """One citation per [n] in the answer, quoting the sentence that states the answer (or the best-matching one)."""
    chosen = {s.n: s for s in reading.sentences}
    citations = []
    for n in cited_numbers(text):
        if not 1 <= n <= len(passages):
            continue
        passage = passages[n - 1]
        if n in chosen:
            quote, start, end = chosen[n].text, chosen[n].start, chosen[n].end
        else:
            claim = " ".join(text[start:end] for start, end, cited in cited_spans(text) if n in cited)
            quote, start, end = best_sentence(claim, passage)
        citations.append(
            Citation(n, passage.source, passage.outlet, passage.title, passage.date, quote, start, end, passage.text)
        )
    return citations


# --- the module-level API ----------------------------------------------------------------------

_embedder_lock = threading.Lock()
_embedder: Embedder | None = None
_pipelines: dict[tuple, Pipeline] = {}
_pipelines_lock = threading.Lock()


def shared_embedder(index_dir: str | Path = DEFAULT_INDEX) -> Embedder:
    """One embedding model per process, every pipeline uses the same weights: ONNX Runtime over the export
    of the model in the first index directory asked for (an index built with it keeps a copy of its own)."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = index_embedder(index_dir)
        return _embedder


def get_pipeline(
    corpus_dir: str | Path | None = None,
    index_dir: str | Path = DEFAULT_INDEX,
    model: str | Path | None = None,
    *,
    rebuild: bool = True,
) -> Pipeline:
    key = (
        str(Path(corpus_dir).resolve()) if corpus_dir is not None else None,
        str(Path(index_dir).resolve()),
        str(model) if model is not None else None,
        rebuild,
    )
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = Pipeline(corpus_dir, index_dir, model, rebuild=rebuild)
        return _pipelines[key]


def ask(
    question: str,
    *,
    k: int = DEFAULT_K,
    model: str | Path | None = None,
    index_dir: str | Path = DEFAULT_INDEX,
    corpus_dir: str | Path | None = None,
    rebuild: bool = True,
    as_of: date | str | None = None,
) -> Answer:
    """Answer a question from the corpus, with citations and the numeric guard's report.

    Args:
        question: the question, in plain words.
        k: how many passages to retrieve and cite from.
        as_of: the day the question is asked, a date or "YYYY-MM-DD" (None: today). Articles dated
            after it are left out, recent ones are preferred for "this week" or "latest" questions.
        model: "smollm2", "gemma3-270m", "extractive", or the path of any GGUF file; None for the default.
        index_dir: where the index lives; it is built or updated on first use.
        corpus_dir: the articles (.txt, .md, .html); None: those the index was built from (the bundled
            `seeds` for a new index). A directory other than the index's is refused: it would replace them.
        rebuild: update a stale index (True) or refuse with an error (False).
    """
    day = parse_as_of(as_of)  # a bad date fails before any model is loaded
    return get_pipeline(corpus_dir, index_dir, model, rebuild=rebuild).ask(question, k=k, as_of=day)


def ask_stream(
    question: str,
    *,
    k: int = DEFAULT_K,
    model: str | Path | None = None,
    index_dir: str | Path = DEFAULT_INDEX,
    corpus_dir: str | Path | None = None,
    rebuild: bool = True,
    as_of: date | str | None = None,
) -> Iterator[str | Answer]:
    """Like `ask`, but yields the answer's text as soon as it is read, then the checked `Answer`."""
    day = parse_as_of(as_of)
    return get_pipeline(corpus_dir, index_dir, model, rebuild=rebuild).stream(question, k=k, as_of=day)


def build_index(
    corpus_dir: str | Path | None = None,
    index_dir: str | Path = DEFAULT_INDEX,
    *,
    progress: bool = False,
    ray_address: str | None = None,
) -> BuildReport:
    """Build the index of `corpus_dir` (None: the one it was built from, `seeds` for a new index), or update
    it: only new or changed files are embedded. With `ray_address`
    ("auto", "HOST:PORT", "local"), a Ray cluster reads, chunks and embeds them (rag/cluster.py)."""
    if ray_address:
        from .cluster import build_index_on_ray

        return build_index_on_ray(corpus_dir, index_dir, address=ray_address, progress=progress)
    return update_index(corpus_dir, index_dir, shared_embedder(index_dir), progress=progress)
