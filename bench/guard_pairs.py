"""The guard's alignment on labelled figure pairs: is it one quantity, at one time, in conflict?

bench/guard_pairs.jsonl holds pairs of figures from two different articles, each figure given as a
reference only (corpus file name and the character offsets of the figure in that file), with labels
written by hand: same_quantity (the same measured thing, whenever), same_period (and for the same
time), conflict (both, and the values differ). The articles are those of the RealTimeQA dev and train
corpora (kept outside the repository: their text is never committed) and the seed corpus.

    python -m bench.guard_pairs            # learn thresholds on the train pairs, report on the dev pairs
    python -m bench guard-pairs            # the same as one benchmark part
    python -m bench.guard_pairs propose ~/.cache/rtqa-train OUT.jsonl   # candidate pairs to label

Each figure is read as the guard reads it: the paragraph around it as a passage, dated by its
article, and the pair is decided as `review` decides it: every figure of the two paragraphs is
compared, two figures are one quantity when kind, unit, rate and modality agree and each is the
other's best match above the threshold (`rag.guard._groups`), at one time by `rag.guard.same_time`.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np

from bench.common import ROOT, Figure, format_table
from rag import guard
from rag.corpus import CorpusFile, read_document
from rag.retrieval import Passage

PAIRS = ROOT / "bench" / "guard_pairs.jsonl"
CORPORA = {
    "train": Path(os.path.expanduser("~/.cache/rtqa-train/corpus")),
    "dev": Path(os.path.expanduser("~/.cache/rtqa-dev/corpus")),
    "seeds": ROOT / "seeds",
}
_FILE_DATE = re.compile(r"-(\d{4})(\d{2})(\d{2})-")
# Thresholds tried when learning; the guard's constants are set by hand to the chosen ones.
GRID = [round(0.30 + 0.05 * step, 2) for step in range(14)]
DAYS = [0, 1, 2, 3, 7, 14]


@lru_cache(maxsize=4096)
def article(folder: Path, name: str) -> tuple[str, str | None, str | None]:
    """The raw text of a corpus file, its outlet and its publication date (from the page, else from
    a RealTimeQA file name such as cnn-com-20220101-...)."""
    path = folder / name
    stat = path.stat()
    document = read_document(CorpusFile(name, folder, stat.st_size, stat.st_mtime_ns))
    published = document.date if document and document.date else None
    if published is None and (found := _FILE_DATE.search(name)):
        published = "-".join(found.groups())
    return path.read_text(encoding="utf-8", errors="replace"), document.outlet if document else None, published


def passage_at(folder: Path, name: str, offset: int) -> Passage:
    """The paragraph of a corpus file that holds `offset`, as a passage dated by its article."""
    raw, outlet, published = article(folder, name)
    start = raw.rfind("\n", 0, offset) + 1
    end = raw.find("\n", offset)
    end = len(raw) if end < 0 else end
    return Passage(f"{name}#{start}", name, raw[start:end], start, end, outlet, None, published, name, 0.0)


@dataclass
class Pair:
    """A labelled pair with every figure of the two paragraphs, as `review` would compare them."""

    label: dict
    mentions: list[guard._Mention]
    a: int  # the labelled figures' positions in `mentions`
    b: int
    similarity: np.ndarray | None = None

    @property
    def cosine(self) -> float:
        return float(self.similarity[self.a, self.b])


def figure_at(mentions: list[guard._Mention], name: str, start: int, end: int) -> int:
    for i, m in enumerate(mentions):
        if m.passage.source == name and m.quantity.figure[0] + m.passage.start < end:
            if start < m.quantity.figure[1] + m.passage.start:
                return i
    raise ValueError(f"{name}:{start}-{end}: no figure there")


def load(split: str, embedder) -> list[Pair]:
    pairs = []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        label = json.loads(line) if line.strip() else None
        if label is None or label["split"] != split:
            continue
        folder = CORPORA[label["corpus"]]
        passages = [passage_at(folder, name, start) for name, start, _ in (label["a"], label["b"])]
        mentions = guard._mentions(passages)
        pair = Pair(label, mentions, figure_at(mentions, *label["a"]), figure_at(mentions, *label["b"]))
        pair.similarity = guard._similarities(mentions, embedder)
        pairs.append(pair)
    return pairs


def predict(pair: Pair, quantity: float, event: float, days: int | None = None) -> dict:
    """What the guard decides for the pair: grouped as one quantity (each the other's best match
    among the two paragraphs' figures, above the threshold), at one time, in conflict."""
    saved = guard.SAME_QUANTITY, guard.SAME_EVENT, guard.SAME_MOMENT_DAYS
    guard.SAME_QUANTITY, guard.SAME_EVENT = quantity, event
    guard.SAME_MOMENT_DAYS = guard.SAME_MOMENT_DAYS if days is None else days
    try:
        same = any(pair.a in group and pair.b in group for group in guard._groups(pair.mentions, pair.similarity))
        a, b = pair.mentions[pair.a], pair.mentions[pair.b]
        period = same and guard.same_time(a, b)
    finally:
        guard.SAME_QUANTITY, guard.SAME_EVENT, guard.SAME_MOMENT_DAYS = saved
    differ = not guard.same_value(a.quantity, b.quantity)
    return {"same_quantity": same, "same_period": period, "conflict": period and differ}


def scores(pairs: list[Pair], quantity: float, event: float, days: int | None = None) -> dict:
    """Precision, recall and positives of each label."""
    result = {}
    predictions = [predict(pair, quantity, event, days) for pair in pairs]
    for key in ("same_quantity", "same_period", "conflict"):
        labels = [pair.label[key] for pair in pairs]
        guessed = [p[key] for p in predictions]
        hits = sum(g and t for g, t in zip(guessed, labels))
        precision = hits / sum(guessed) if sum(guessed) else 1.0
        recall = hits / sum(labels) if sum(labels) else 1.0
        result[key] = (precision, recall, sum(labels))
    return result


def learn(pairs: list[Pair], seeds: list[Pair]) -> tuple[float, float, int]:
    """The thresholds with the best recall of same_quantity at a precision of at least 0.95 (the
    highest precision if none reaches it), amounts and dates apart, among those that keep finding the
    seeds' conflict; then the days within which two moments are one, with the best recall of
    same_period at that precision."""
    chosen = []
    for times in (False, True):
        subset = [p for p in pairs if (p.mentions[p.a].quantity.kind in guard._TIMES) == times]
        grid = [t for t in GRID if scores(seeds, t, t)["conflict"][1] == 1.0] or GRID

        def key(threshold: float, subset=subset) -> tuple[bool, float, float]:
            precision, recall, _ = scores(subset, threshold, threshold)["same_quantity"]
            return precision >= 0.95, recall if precision >= 0.95 else precision, -threshold

        chosen.append(max(grid, key=key) if subset else guard.SAME_QUANTITY)

    def moments(days: int) -> tuple[bool, float, int]:
        precision, recall, _ = scores(pairs, chosen[0], chosen[1], days)["same_period"]
        return precision >= 0.95, recall if precision >= 0.95 else precision, -days

    return chosen[0], chosen[1], max(DAYS, key=moments)


def run() -> list[Figure]:
    from rag.answer import shared_embedder

    embedder = shared_embedder()
    splits = {split: load(split, embedder) for split in ("train", "dev", "seeds")}
    quantity, event, days = learn(splits["train"], splits["seeds"])
    figures = [
        Figure("guard pairs", "labelled pairs train / dev / seeds", " / ".join(str(len(p)) for p in splits.values())),
        Figure("guard pairs", "learned on train: SAME_QUANTITY / SAME_EVENT / days", f"{quantity} / {event} / {days}"),
        Figure(
            "guard pairs",
            "in rag/guard.py: SAME_QUANTITY / SAME_EVENT / days",
            f"{guard.SAME_QUANTITY} / {guard.SAME_EVENT} / {guard.SAME_MOMENT_DAYS}",
        ),
    ]
    for split, pairs in splits.items():
        for key, (precision, recall, positives) in scores(pairs, guard.SAME_QUANTITY, guard.SAME_EVENT).items():
            goal_p = (">=", 0.95) if split == "dev" and key == "same_quantity" else None
            goal_r = (">=", 0.9) if split == "dev" and key == "same_quantity" else None
            figures.append(Figure(f"guard pairs {split}", f"{key} precision ({positives} true)", precision, "", goal_p))
            figures.append(Figure(f"guard pairs {split}", f"{key} recall", recall, "", goal_r))
    print("  same_quantity precision / recall by threshold (amounts and dates alike), train | dev | seeds:")
    for threshold in GRID:
        cells = []
        for pairs in splits.values():
            precision, recall, _ = scores(pairs, threshold, threshold)["same_quantity"]
            cells.append(f"{precision:.2f} / {recall:.2f}")
        print(f"    {threshold:.2f}: " + " | ".join(cells))
    for split, pairs in splits.items():
        for pair in pairs:
            guessed = predict(pair, guard.SAME_QUANTITY, guard.SAME_EVENT)
            if any(guessed[key] != pair.label[key] for key in guessed):
                label = pair.label
                print(f"  {split} miss: {label['a']} {label['b']} cos {pair.cosine:.2f} {guessed}: {label['note']}")
    return figures


# --- proposing candidates to label --------------------------------------------------------------


def propose(root: Path, out: Path, per_subject: int = 3, seed: int = 0) -> None:
    """Pairs of figures of one kind and unit from two articles of one question's list, spread over
    the clause cosine, written with their clauses for a person to label (never into the repository)."""
    from rag.answer import shared_embedder

    embedder = shared_embedder()
    questions = [json.loads(line) for line in (root / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    rng.shuffle(questions)
    folder = root / "corpus"
    written = 0
    with out.open("w", encoding="utf-8") as sink:
        for question in questions[:60]:
            mentions = []
            for name in question.get("articles", []):
                if not (folder / name).exists():
                    continue
                raw = (folder / name).read_text(encoding="utf-8", errors="replace")
                for paragraph in re.finditer(r"[^\n]+", raw):
                    if len(paragraph.group()) > 80:
                        mentions += guard._mentions([passage_at(folder, name, paragraph.start())])
            mentions = [m for m in mentions if m.quantity.kind in guard._TIMES or m.quantity.unit]
            candidates = [
                (a, b)
                for a, b in combinations(mentions, 2)
                if a.passage.source != b.passage.source
                and (a.quantity.kind, a.quantity.unit) == (b.quantity.kind, b.quantity.unit)
            ]
            if not candidates:
                continue
            texts = list(dict.fromkeys(m.clause for pair in candidates for m in pair))
            vectors = embedder.embed(texts)
            row = {text: i for i, text in enumerate(texts)}
            scored = sorted(
                ((float(vectors[row[a.clause]] @ vectors[row[b.clause]]), a, b) for a, b in candidates),
                key=lambda item: -item[0],
            )
            rest = [item for item in scored[per_subject - 1 :] if item[0] >= 0.4]
            for similarity, a, b in scored[: per_subject - 1] + rng.sample(rest, min(1, len(rest))):
                record = {
                    "question": question["id"],
                    "cos": round(similarity, 3),
                    "a": [
                        a.passage.source,
                        a.passage.start + a.quantity.figure[0],
                        a.passage.start + a.quantity.figure[1],
                    ],
                    "b": [
                        b.passage.source,
                        b.passage.start + b.quantity.figure[0],
                        b.passage.start + b.quantity.figure[1],
                    ],
                    "a_text": f"{a.passage.date} | {a.quantity.text} | {a.modality} | {a.period.label() if a.period else None} | {a.clause}",
                    "b_text": f"{b.passage.date} | {b.quantity.text} | {b.modality} | {b.period.label() if b.period else None} | {b.clause}",
                }
                sink.write(json.dumps(record) + "\n")
                written += 1
    print(f"{written} candidate pairs in {out}")


def main() -> None:
    if sys.argv[1:2] == ["propose"]:
        propose(Path(sys.argv[2]).expanduser(), Path(sys.argv[3]))
        return
    print(format_table(run()))


if __name__ == "__main__":
    main()
