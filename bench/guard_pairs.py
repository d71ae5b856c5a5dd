"""The guard's alignment on labelled figure pairs: is it one quantity, at one time, in conflict?

bench/guard_pairs.jsonl holds pairs of figures from two different articles, each figure given as a
reference only (corpus file name and the character offsets of the figure in that file), with labels
written by hand: same_quantity (the same measured thing, whenever), same_period (and for the same
time), conflict (both, and the values differ). The articles are those of the RealTimeQA dev and train
corpora (kept outside the repository: their text is never committed) and the seed corpus.

    python -m bench.guard_pairs            # report rag/guard_alignment.json on train, dev and seed pairs
    python -m bench guard-pairs            # the same as one benchmark part
    python -m bench.guard_pairs learn      # relearn the model on the train pairs, write rag/guard_alignment.json
    python -m bench.guard_pairs propose ~/.cache/rtqa-train OUT.jsonl   # candidate pairs to label
    python -m bench.guard_pairs cv         # five-fold cross-validation of `learn` on the train pairs

Each figure is read as the guard reads it: the paragraph around it as a passage, dated by its
article, with the paragraphs before it that fit in a chunk, and the pair is decided as `review`
decides it: every figure of the two passages is compared, two figures are one quantity when kind,
unit, rate and modality agree and each is the other's best match by the learned model, scoring at
least its threshold (`rag.guard._groups`), at one time by `rag.guard.same_time`. The model is a
logistic regression (scikit-learn) over `rag.guard.pair_features`, learned on the train pairs; the
figures the guard never compares (a dateline, the day an unnamed source spoke) count as not aligned.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np

from bench.common import ROOT, Figure, format_table
from rag import guard
from rag.chunking import ChunkSettings
from rag.corpus import CorpusFile, Document, group_near_duplicates, is_paragraph, read_document
from rag.quantities import extract_quantities
from rag.retrieval import Passage

PAIRS = ROOT / "bench" / "guard_pairs.jsonl"
CORPORA = {
    "train": Path(os.path.expanduser("~/.cache/rtqa-train/corpus")),
    "dev": Path(os.path.expanduser("~/.cache/rtqa-dev/corpus")),
    "seeds": ROOT / "seeds",
}
_FILE_DATE = re.compile(r"-(\d{4})(\d{2})(\d{2})-")
# The alignment model's features (rag.guard.pair_features), the probability thresholds tried when
# learning, and the days tried for SAME_MOMENT_DAYS (set by hand in rag/guard.py to the chosen one).
FEATURES = (
    "clause cosine",
    "sentence names",
    "passage names",
    "subject names",
    "words next to the figure",
    "title words",
    "log days apart",
    "other figures shared by the passages",
    "other figures shared by the sentences",
    "months and weekdays shared by the dates",
)
THRESHOLDS = [round(0.05 * step, 2) for step in range(1, 20)]
# The weight of a pairing derived from a labelled one (`examples`), chosen by five-fold
# cross-validation on the train pairs among 1, 0.3 and 0.1 (same-quantity precision / recall
# 0.92 / 0.64 without the other figures' features; with them, as an agreement from -1 to 1, 0.91 /
# 0.72 at 0.3 and 0.94 / 0.70 at 0.1; as the share in common, 0.94 / 0.70 at 0.3).
DERIVED_WEIGHT = 0.3
DAYS = [0, 1, 2, 3, 7, 14]


@lru_cache(maxsize=4096)
def document(folder: Path, name: str) -> Document | None:
    """A corpus file read as the index reads it."""
    stat = (folder / name).stat()
    return read_document(CorpusFile(name, folder, stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=4096)
def article(folder: Path, name: str) -> tuple[str, str | None, str | None, str | None]:
    """The raw text of a corpus file, its outlet, its publication date (from the page, else from
    a RealTimeQA file name such as cnn-com-20220101-...) and its title."""
    read = document(folder, name)
    published = read.date if read and read.date else None
    if published is None and (found := _FILE_DATE.search(name)):
        published = "-".join(found.groups())
    title = read.title if read else None
    raw = (folder / name).read_text(encoding="utf-8", errors="replace")
    return raw, read.outlet if read else None, published, title


def story_groups(folder: Path, names: list[str]) -> dict[str, str]:
    """The story group of each file, as the index gives it: copies of one story
    (`rag.corpus.group_near_duplicates`) share one, and the guard takes their figures in the same
    clause for one figure."""
    read = [doc for name in dict.fromkeys(names) if (doc := document(folder, name))]
    grouped = {doc.source: doc.group for doc in group_near_duplicates(read)}
    return {name: grouped.get(name, name) for name in names}


def passage_at(folder: Path, name: str, offset: int, group: str | None = None) -> Passage:
    """The paragraph of a corpus file that holds `offset`, with the paragraphs before it that fit in
    a chunk (`ChunkSettings.max_chars`: what retrieval hands the guard), as a passage dated by its
    article. Only article paragraphs are taken in, as the index does: never the page's header (its
    title, its "August 17, 2017 · usatoday.com" line) or a sub-heading."""
    raw, outlet, published, title = article(folder, name)
    start = raw.rfind("\n", 0, offset) + 1
    end = raw.find("\n", offset)
    end = len(raw) if end < 0 else end
    while start > 0 and end - (earlier := raw.rfind("\n", 0, start - 1) + 1) <= ChunkSettings.max_chars:
        line = raw[earlier : start - 1].strip()
        if line and not is_paragraph(line):
            break
        start = earlier
    return Passage(f"{name}#{start}", name, raw[start:end], start, end, outlet, title, published, group or name, 0.0)


@dataclass
class Pair:
    """A labelled pair with every figure of the two paragraphs, as `review` would compare them."""

    label: dict
    mentions: list[guard._Mention]
    a: int | None  # the labelled figures' positions in `mentions`; None: one the guard never compares
    b: int | None
    similarity: np.ndarray | None = None

    @property
    def cosine(self) -> float:
        return float(self.similarity[self.a, self.b])


def figure_at(mentions: list[guard._Mention], passages: list[Passage], name: str, start: int, end: int) -> int | None:
    """The figure at these offsets; None when the guard leaves it out (`rag.quantities.how_reported`:
    a dateline, the day an unnamed source spoke)."""
    for i, m in enumerate(mentions):
        if m.passage.source == name and m.quantity.figure[0] + m.passage.start < end:
            if start < m.quantity.figure[1] + m.passage.start:
                return i
    for passage in passages:
        if passage.source == name:
            offset = passage.start
            if any(
                start < offset + q.figure[1] and offset + q.figure[0] < end for q in extract_quantities(passage.text)
            ):
                return None
    raise ValueError(f"{name}:{start}-{end}: no figure there")


def load(split: str, embedder) -> list[Pair]:
    pairs = []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        label = json.loads(line) if line.strip() else None
        if label is None or label["split"] != split:
            continue
        folder = CORPORA[label["corpus"]]
        groups = story_groups(folder, [label["a"][0], label["b"][0]])
        passages = [passage_at(folder, name, start, groups[name]) for name, start, _ in (label["a"], label["b"])]
        mentions = guard._mentions(passages)
        pair = Pair(
            label, mentions, figure_at(mentions, passages, *label["a"]), figure_at(mentions, passages, *label["b"])
        )
        pair.similarity = guard._similarities(mentions, embedder)
        pairs.append(pair)
    return pairs


def predict(pair: Pair, model: guard.Alignment, days: int | None = None) -> dict:
    """What the guard decides for the pair: grouped as one quantity (each the other's best match
    among the two paragraphs' figures, scored by `model` at least its threshold), at one time, in
    conflict."""
    if pair.a is None or pair.b is None:
        return {"same_quantity": False, "same_period": False, "conflict": False}
    saved = guard.SAME_MOMENT_DAYS
    guard.SAME_MOMENT_DAYS = saved if days is None else days
    try:
        score = guard._scores(pair.mentions, pair.similarity, model)
        groups = guard._groups(pair.mentions, score, model)
        same = any(pair.a in group and pair.b in group for group in groups)
        a, b = pair.mentions[pair.a], pair.mentions[pair.b]
        period = same and guard.same_time(a, b)
    finally:
        guard.SAME_MOMENT_DAYS = saved
    differ = not guard._agree(a, b)
    return {"same_quantity": same, "same_period": period, "conflict": period and differ}


def scores(pairs: list[Pair], model: guard.Alignment, days: int | None = None) -> dict:
    """Precision, recall and positives of each label."""
    result = {}
    predictions = [predict(pair, model, days) for pair in pairs]
    for key in ("same_quantity", "same_period", "conflict"):
        labels = [pair.label[key] for pair in pairs]
        guessed = [p[key] for p in predictions]
        hits = sum(g and t for g, t in zip(guessed, labels))
        precision = hits / sum(guessed) if sum(guessed) else 1.0
        recall = hits / sum(labels) if sum(labels) else 1.0
        result[key] = (precision, recall, sum(labels))
    return result


def examples(pairs: list[Pair]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and weights to learn from: each labelled pair the rules leave open
    (`_comparable`), and, beside a pair labelled one quantity, every other open pairing of either of
    its figures with the other paragraph's figures, which is then another quantity. Those derived
    pairings weigh `DERIVED_WEIGHT` each: they share their passages, titles and dates with the
    labelled pair, so at full weight they would teach that articles about one event are a sign of two
    quantities."""
    rows, labels, weights = [], [], []
    for pair in pairs:
        if pair.a is None or pair.b is None:
            continue
        mentions, sim = pair.mentions, pair.similarity
        a, b = mentions[pair.a], mentions[pair.b]
        opened = [(pair.a, pair.b, pair.label["same_quantity"], 1.0)]
        if pair.label["same_quantity"]:
            others = [(pair.a, j) for j, m in enumerate(mentions) if j != pair.b and m.passage is b.passage]
            others += [(i, pair.b) for i, m in enumerate(mentions) if i != pair.a and m.passage is a.passage]
            opened += [(i, j, False, DERIVED_WEIGHT) for i, j in others]
        for i, j, same, weight in opened:
            if sim[i, j] > -1 and guard._comparable(mentions[i], mentions[j]):
                rows.append(guard.pair_features(mentions[i], mentions[j], float(sim[i, j])))
                labels.append(same)
                weights.append(weight)
    return np.array(rows), np.array(labels), np.array(weights)


def fit(pairs: list[Pair], c: float = 1.0) -> guard.Regression:
    """A logistic regression (scikit-learn) on standardised features, its weights folded back onto
    the raw features; the threshold is set by `learn`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    features, labels, weights = examples(pairs)
    scaler = StandardScaler().fit(features)
    regression = LogisticRegression(C=c).fit(scaler.transform(features), labels, sample_weight=weights)
    coefficients = regression.coef_[0] / scaler.scale_
    intercept = float(regression.intercept_[0] - coefficients @ scaler.mean_)
    return guard.Regression(tuple(round(float(w), 4) for w in coefficients), round(intercept, 4), 0.5)


def learn(pairs: list[Pair], seeds: list[Pair]) -> tuple[guard.Alignment, int]:
    """A model for amounts and one for dates and years, each learned on the train pairs of its kind,
    with the threshold chosen on them among those that keep finding the seeds' conflict. Amounts:
    the one that meets the goals for same_quantity (precision >= 0.95, recall >= 0.9) with the best
    recall, else the one of best F1. Dates and years: among those that make no false conflict on the
    pairs, the best recall at a precision of at least 0.95, else the best precision, because two
    dates wrongly joined are a false conflict (with one
    model for both kinds, at the F1 threshold, two dev answers showed one: a landing day against a
    departure day, a title year against another). Then the days within which two moments are one:
    first those that make no false conflict on the pairs, then the best recall of same_period at a
    precision of at least 0.95."""
    placeholder = guard.Regression((0.0,) * len(FEATURES), 0.0, 0.5)
    model = guard.Alignment(FEATURES, placeholder, placeholder)
    for kind, times in (("amounts", False), ("dates", True)):
        subset = [p for p in pairs if p.a is not None and (p.mentions[p.a].quantity.kind in guard._TIMES) == times]
        fitted = fit(subset)
        models = [replace(model, **{kind: replace(fitted, threshold=t)}) for t in THRESHOLDS]
        models = [m for m in models if scores(seeds, m)["conflict"][1] == 1.0] or models

        def key(candidate: guard.Alignment, subset=subset, kind=kind, times=times) -> tuple:
            precision, recall, _ = scores(subset, candidate)["same_quantity"]
            threshold = getattr(candidate, kind).threshold
            if times:
                no_false_conflict = scores(subset, candidate)["conflict"][0] == 1.0
                return no_false_conflict, precision >= 0.95, recall if precision >= 0.95 else precision, threshold
            met = precision >= 0.95 and recall >= 0.9
            return met, recall if met else 2 * precision * recall / (precision + recall or 1), threshold

        model = max(models, key=key)

    def moments(days: int) -> tuple[bool, bool, float, int]:
        result = scores(pairs, model, days)
        precision, recall, _ = result["same_period"]
        no_false_conflict = result["conflict"][0] == 1.0
        return no_false_conflict, precision >= 0.95, recall if precision >= 0.95 else precision, -days

    return model, max(DAYS, key=moments)


def write(model: guard.Alignment, splits: dict[str, list[Pair]]) -> None:
    """The model into rag/guard_alignment.json, with the figures it reaches on each split."""
    measured = {}
    for split, pairs in splits.items():
        result = scores(pairs, model)
        measured[split] = {
            "pairs": len(pairs),
            **{f"{key} precision / recall": [round(p, 3), round(r, 3)] for key, (p, r, _) in result.items()},
        }
    data = {
        "about": "Alignment of figures across articles (rag/guard.py, pair_features): logistic regression learned "
        "on the train pairs of bench/guard_pairs.jsonl by `python -m bench.guard_pairs learn`, one for amounts "
        "and one for dates and years, each with its threshold chosen on the train pairs of its kind, keeping the "
        "seeds' conflict: amounts, best same-quantity recall at precision >= 0.95 and recall >= 0.9, else best F1; "
        "dates and years, among those with no false conflict on the train pairs, best recall at precision >= 0.95.",
        "features": list(model.features),
        **{
            kind: {"weights": list(m.weights), "intercept": m.intercept, "threshold": m.threshold}
            for kind, m in (("amounts", model.amounts), ("dates", model.dates))
        },
        "measured": measured,
    }
    guard.ALIGNMENT_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def splits_of(embedder) -> dict[str, list[Pair]]:
    return {split: load(split, embedder) for split in ("train", "dev", "seeds")}


def run(retrain: bool = False) -> list[Figure]:
    from rag.answer import shared_embedder

    splits = splits_of(shared_embedder())
    learned, days = learn(splits["train"], splits["seeds"])
    if retrain:
        write(learned, splits)
        guard.alignment.cache_clear()
    model = guard.alignment()
    figures = [
        Figure("guard pairs", "labelled pairs train / dev / seeds", " / ".join(str(len(p)) for p in splits.values())),
        Figure(
            "guard pairs",
            "learned on train: thresholds amounts / dates; days",
            f"{learned.amounts.threshold} / {learned.dates.threshold}; {days}",
        ),
        Figure(
            "guard pairs",
            "in rag/guard_alignment.json: thresholds amounts / dates; SAME_MOMENT_DAYS",
            f"{model.amounts.threshold} / {model.dates.threshold}; {guard.SAME_MOMENT_DAYS}",
        ),
        Figure("guard pairs", "features", ", ".join(model.features)),
        Figure("guard pairs", "weights, amounts", ", ".join(f"{w:.2f}" for w in model.amounts.weights)),
        Figure("guard pairs", "weights, dates and years", ", ".join(f"{w:.2f}" for w in model.dates.weights)),
    ]
    for split, pairs in splits.items():
        for key, (precision, recall, positives) in scores(pairs, model).items():
            goal_p = (">=", 0.95) if split == "dev" and key == "same_quantity" else None
            goal_r = (">=", 0.9) if split == "dev" and key == "same_quantity" else None
            figures.append(Figure(f"guard pairs {split}", f"{key} precision ({positives} true)", precision, "", goal_p))
            figures.append(Figure(f"guard pairs {split}", f"{key} recall", recall, "", goal_r))
    print(
        "  same_quantity precision / recall by threshold (the learned weights, one for both kinds), train | dev | seeds:"
    )
    for threshold in THRESHOLDS:
        cells = []
        for pairs in splits.values():
            swept = replace(
                model,
                amounts=replace(model.amounts, threshold=threshold),
                dates=replace(model.dates, threshold=threshold),
            )
            precision, recall, _ = scores(pairs, swept)["same_quantity"]
            cells.append(f"{precision:.2f} / {recall:.2f}")
        print(f"    {threshold:.2f}: " + " | ".join(cells))
    for split, pairs in splits.items():
        for pair in pairs:
            guessed = predict(pair, model)
            if any(guessed[key] != pair.label[key] for key in guessed) and None not in (pair.a, pair.b):
                label = pair.label
                features = guard.pair_features(pair.mentions[pair.a], pair.mentions[pair.b], pair.cosine)
                shown = " ".join(f"{value:.2f}" for value in features)
                print(f"  {split} miss: {label['a'][0][:24]} {label['b'][0][:24]} [{shown}] {guessed}: {label['note']}")
    return figures


def folds(pairs: list[Pair], k: int = 5, seed: int = 0) -> list[int]:
    """Each pair's fold: pairs that share an article are in one fold (a question's articles give
    many pairs), the groups dealt to the folds in a shuffled order."""
    from rag.text import UnionFind

    names = [(pair.label["a"][0], pair.label["b"][0]) for pair in pairs]
    linked = UnionFind({name for pair in names for name in pair})
    for a, b in names:
        linked.join(a, b)
    groups = sorted({linked.root(a) for a, _ in names})
    random.Random(seed).shuffle(groups)
    fold = {group: n % k for n, group in enumerate(groups)}
    return [fold[linked.root(a)] for a, _ in names]


def cross_validate(pairs: list[Pair], seeds: list[Pair], k: int = 5) -> dict[str, tuple[float, float, int, int]]:
    """Same-quantity precision and recall pooled over `k` folds of the train pairs, each fold decided
    by the models `learn` makes from the other folds (thresholds and days learned there): all pairs,
    amounts, dates and years, with the true and predicted positives."""
    assigned = folds(pairs, k)
    counts = {key: [0, 0, 0] for key in ("all", "amounts", "dates and years", "never compared")}  # hits, guessed, true
    for fold in range(k):
        model, days = learn([p for p, f in zip(pairs, assigned) if f != fold], seeds)
        for pair, f in zip(pairs, assigned):
            if f != fold:
                continue
            guessed = predict(pair, model, days)["same_quantity"]
            true = pair.label["same_quantity"]
            known = pair.a if pair.a is not None else pair.b
            if known is None:
                kind = "never compared"
            else:
                kind = "dates and years" if pair.mentions[known].quantity.kind in guard._TIMES else "amounts"
            for key in ("all", kind):
                counts[key][0] += guessed and true
                counts[key][1] += guessed
                counts[key][2] += true
    return {
        key: (hits / guessed if guessed else 1.0, hits / true if true else 1.0, true, guessed)
        for key, (hits, guessed, true) in counts.items()
    }


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
                    if len(paragraph.group()) > 80 and is_paragraph(paragraph.group().strip()):
                        passage = passage_at(folder, name, paragraph.start())
                        mentions += [
                            m
                            for m in guard._mentions([passage])
                            if passage.start + m.quantity.start >= paragraph.start()
                        ]
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
    if sys.argv[1:2] == ["cv"]:
        from rag.answer import shared_embedder

        embedder = shared_embedder()
        result = cross_validate(load("train", embedder), load("seeds", embedder))
        for key, (precision, recall, true, guessed) in result.items():
            print(
                f"train 5-fold CV, {key}: precision {precision:.3f} / recall {recall:.3f} ({true} true, {guessed} guessed)"
            )
        return
    if sys.argv[1:2] == ["propose"]:
        propose(Path(sys.argv[2]).expanduser(), Path(sys.argv[3]))
        return
    print(format_table(run(retrain=sys.argv[1:2] == ["learn"])))


if __name__ == "__main__":
    main()
