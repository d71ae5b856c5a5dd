"""`rag eval`: score the whole system on a question set, one JSON object per line.

Each line holds `question`, `answerable`, `accept` (strings of which one must appear in the answer),
`evidence` (corpus files that hold the answer), `conflict` (whether the sources disagree) and
optionally `id`, `conflict_values` and `as_of` (the day the question is asked, "YYYY-MM-DD": articles
dated after it are left out); other fields are ignored. A malformed line is reported with
its line number and the other lines are still scored.

What is measured for each question, and why:

- accepted: one `accept` string appears in the answer text, compared after folding case, spacing
  and thousands separators ("500 000" = "500,000" = "500000"), and never inside a longer number or
  word ("10" does not match "2010"). For an unanswerable question it equals `abstention_correct`.
- abstention_correct: an answerable question is answered; an unanswerable one is refused with no
  quantity in the text (`extract_quantities` finds none): a refusal that names a number still
  suggests one.
- recall@k: the share of the evidence files among the retrieved passages' sources; a copy folded
  into a passage (`also_in`) counts, since it states the same text. Undefined without evidence.
- citation precision: the share of citations whose passage comes from (or is folded with) an
  evidence file. Undefined without citations or without evidence.
- conflict: detected when the guard's status is "conflict"; precision and recall are taken over the
  questions against `conflict`. With `conflict_values`, the share of them the answer shows.
- unsupported numbers: figures of the answer that no passage it cites states
  (`guard.unsupported_numbers`). The guard's lead is left out: its values are rows quoted from cited
  passages and its ratio ("a factor of 1,000") is arithmetic on them, not a claim. Must be 0.
- short: the answer's short form (`Answer.short`, "" on abstention), for scorers that judge it alone.
- latency: the answer's own `timings["total_s"]`. All questions share one pipeline whose models
  and index are loaded before the first question; that loading time is reported apart.

Rates are means over the questions where they are defined, between 0 and 1; None when defined for none.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .answer import DEFAULT_INDEX, Answer, Pipeline, get_pipeline
from .dates import parse_as_of
from .errors import EvalFileError, QuestionError
from .guard import unsupported_numbers
from .quantities import extract_quantities
from .retrieval import DEFAULT_K
from .text import format_table


@dataclass(frozen=True)
class Case:
    """One question of the set, as the file states it."""

    line: int
    id: str
    question: str
    answerable: bool
    accept: tuple[str, ...]
    evidence: tuple[str, ...]
    conflict: bool
    conflict_values: tuple[str, ...]
    as_of: date | None = None


# --- reading the question set -------------------------------------------------------------------


def _strings(record: dict, name: str) -> tuple[str, ...]:
    value = record.get(name, [])
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise ValueError(f"`{name}` must be a list of non-empty strings")
    return tuple(value)


def _flag(record: dict, name: str, default: bool | None = None) -> bool:
    value = record.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be true or false" + ("" if default is not None else " and is required"))
    return value


def parse_case(text: str, line: int) -> Case:
    """One question from one line; ValueError says what is wrong with it."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("`question` must be a non-empty string")
    case_id = record.get("id", f"line-{line}")
    if not isinstance(case_id, (str, int)) or isinstance(case_id, bool):
        raise ValueError("`id` must be a string or a number")
    answerable = _flag(record, "answerable")
    accept = _strings(record, "accept")
    if answerable and not accept:
        raise ValueError("an answerable question needs at least one string in `accept`")
    try:
        as_of = parse_as_of(record["as_of"]) if record.get("as_of") is not None else None
    except QuestionError as exc:
        raise ValueError(f"`as_of`: {exc}") from None
    return Case(
        line,
        str(case_id),
        question,
        answerable,
        accept,
        _strings(record, "evidence"),
        _flag(record, "conflict", False),
        _strings(record, "conflict_values"),
        as_of,
    )


def read_cases(path: str | Path) -> tuple[list[Case], list[dict]]:
    """The well-formed questions and, for every other non-blank line, its number and what is wrong."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read the question file {path} ({getattr(exc, 'strerror', None) or exc})") from None
    cases, errors, seen = [], [], set()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            case = parse_case(text, number)
            if case.id in seen:
                raise ValueError(f"duplicate id {case.id!r}")
        except ValueError as exc:
            errors.append({"line": number, "error": str(exc)})
            continue
        seen.add(case.id)
        cases.append(case)
    return cases, errors


# --- scoring one answer --------------------------------------------------------------------------

_SEPARATOR = re.compile(r"(?<=\d)[,\u00a0\u202f' ](?=\d{3}(?!\d))")


def normalise(text: str) -> str:
    """Lower case, single spaces, no thousands separators: the form answers are matched in."""
    return _SEPARATOR.sub("", re.sub(r"\s+", " ", text.lower()))


def contains(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` as a whole: not inside a longer word or number."""
    pattern = rf"(?<![\w.]){re.escape(normalise(phrase).strip())}(?!\w|\.\d)"
    return re.search(pattern, normalise(text)) is not None


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _passage_sources(passage) -> set[str]:
    return {passage.source, *passage.also_in}


def recall_at_k(case: Case, answer: Answer) -> float | None:
    retrieved = set().union(*(_passage_sources(p) for p in answer.passages))
    return _share(len(set(case.evidence) & retrieved), len(case.evidence))


def citation_precision(case: Case, answer: Answer) -> float | None:
    if not case.evidence:
        return None
    cited = [answer.passages[c.n - 1] for c in answer.citations if 1 <= c.n <= len(answer.passages)]
    return _share(sum(bool(_passage_sources(p) & set(case.evidence)) for p in cited), len(cited))


def claims_text(answer: Answer) -> str:
    """The answer without the guard's lead (see the module docstring)."""
    lead = answer.guard.summary()
    return answer.text.removeprefix(lead).lstrip() if lead else answer.text


def score(case: Case, answer: Answer) -> dict:
    """The per-question row of the report."""
    if case.answerable:
        abstention_correct = not answer.abstained
        accepted = abstention_correct and any(contains(answer.text, a) for a in case.accept)
    else:
        abstention_correct = answer.abstained and not extract_quantities(answer.text)
        accepted = abstention_correct
    detected = answer.guard.status == "conflict"
    return {
        "id": case.id,
        "line": case.line,
        "as_of": answer.as_of.isoformat() if answer.as_of else None,
        "answerable": case.answerable,
        "accepted": accepted,
        "abstained": answer.abstained,
        "abstention_correct": abstention_correct,
        "recall_at_k": recall_at_k(case, answer),
        "citation_precision": citation_precision(case, answer),
        "conflict_expected": case.conflict,
        "conflict_detected": detected,
        "conflict_values_shown": _share(
            sum(contains(answer.text, v) for v in case.conflict_values), len(case.conflict_values)
        ),
        "unsupported_numbers": [q.text for q in unsupported_numbers(claims_text(answer), answer.passages)],
        "mode": answer.mode,
        "guard": answer.guard.status,
        "latency_s": round(answer.timings["total_s"], 4),
        "short": answer.short,
        "answer": answer.text,
    }


# --- the summary ---------------------------------------------------------------------------------


def _mean(rows: list[dict], key: str) -> float | None:
    values = [float(row[key]) for row in rows if row[key] is not None]
    return round(sum(values) / len(values), 4) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def summarize(rows: list[dict]) -> dict:
    true_pos = sum(r["conflict_expected"] and r["conflict_detected"] for r in rows)
    answered = [r for r in rows if not r["abstained"]]
    latencies = [r["latency_s"] for r in rows]
    return {
        "n": len(rows),
        "accepted": _mean(rows, "accepted"),
        "abstention_correct": _mean(rows, "abstention_correct"),
        "recall_at_k": _mean(rows, "recall_at_k"),
        "citation_precision": _mean(rows, "citation_precision"),
        "conflict_precision": _share(true_pos, sum(r["conflict_detected"] for r in rows)),
        "conflict_recall": _share(true_pos, sum(r["conflict_expected"] for r in rows)),
        "conflict_values_shown": _mean(rows, "conflict_values_shown"),
        "unsupported_numbers": sum(len(r["unsupported_numbers"]) for r in rows),
        "model_reply_kept": _share(sum(r["mode"] == "model" for r in answered), len(answered)),
        "latency_p50_s": _percentile(latencies, 50),
        "latency_p95_s": _percentile(latencies, 95),
    }


# --- running -------------------------------------------------------------------------------------


def load(pipeline: Pipeline) -> dict[str, float]:
    """Open the index and load every model before the first question, so latencies are per question."""
    began = time.perf_counter()
    _ = pipeline.index  # the property opens, or builds, the index
    opened = time.perf_counter()
    pipeline.embedder.embed(["warm-up"])
    if pipeline.generator is not None:
        pipeline.generator.log_likelihood("warm", "-up")
    return {"index_s": round(opened - began, 3), "models_s": round(time.perf_counter() - opened, 3)}


def evaluate(
    path: str | Path,
    *,
    k: int = DEFAULT_K,
    model: str | Path | None = None,
    index_dir: str | Path = DEFAULT_INDEX,
    corpus_dir: str | Path | None = None,
    pipeline: Pipeline | None = None,
    as_of: date | str | None = None,
) -> dict:
    """Answer every question of the file with one pipeline and score the answers, each as of its
    line's `as_of` (else `as_of`, else today).

    Returns {"settings", "load", "summary", "questions", "errors"}; `errors` lists malformed lines
    and questions the pipeline refused (QuestionError), by line number.
    """
    cases, errors = read_cases(path)
    default_day = parse_as_of(as_of)
    pipeline = pipeline or get_pipeline(corpus_dir, index_dir, model)
    loaded = load(pipeline)
    rows = []
    for case in cases:
        try:
            rows.append(score(case, pipeline.ask(case.question, k=k, as_of=case.as_of or default_day)))
        except QuestionError as exc:  # a question the system refuses to take counts as a bad line
            errors.append({"line": case.line, "error": str(exc)})
    errors.sort(key=lambda e: e["line"])
    settings = {
        "file": str(path),
        "corpus": str(pipeline.corpus_dir),
        "index": str(pipeline.index_dir),
        "k": k,
        **pipeline.models,
    }
    summary = summarize(rows) | {"malformed_lines": len(errors)}
    return {"settings": settings, "load": loaded, "summary": summary, "questions": rows, "errors": errors}


# --- the text report -----------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list):
        return ", ".join(value) or "0"
    return str(value)


_COLUMNS = (
    ("id", "id"),
    ("accepted", "accepted"),
    ("abstention_correct", "abstention ok"),
    ("recall_at_k", "recall@k"),
    ("citation_precision", "cite prec"),
    ("conflict_expected", "conflict exp"),
    ("conflict_detected", "conflict found"),
    ("unsupported_numbers", "unsupported"),
    ("mode", "mode"),
    ("latency_s", "latency s"),
)


def format_report(report: dict) -> str:
    """The per-question table, the summary and the malformed lines, as text for a terminal."""
    settings, summary = report["settings"], report["summary"]
    header = [label for _, label in _COLUMNS]
    rows = [[_cell(row[key]) for key, _ in _COLUMNS] for row in report["questions"]]
    title = (
        f"{settings['file']}: k={settings['k']}, generator {settings['generator']}, embedder {settings['embedder']}, "
        f"index opened in {report['load']['index_s']:.2f} s, models loaded in {report['load']['models_s']:.2f} s"
    )
    lines = [title, ""]
    lines += format_table([header, *rows])
    lines += ["", "summary:"]
    lines += [f"  {key:<22} {_cell(value)}" for key, value in summary.items()]
    if report["errors"]:
        lines += ["", "malformed lines (not scored):"]
        lines += [f"  line {e['line']}: {e['error']}" for e in report["errors"]]
    return "\n".join(lines)
