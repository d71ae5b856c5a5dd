"""Learn the reader's ranker weights and abstention threshold on the RealTimeQA train split.

    python -m bench train-reader [--questions N] [--train-dir DIR] [--dev-dir DIR] [--scratch DIR]

Every train question comes with its own ~10 search-hit articles, so no global index is built: the articles
of each week's questions (~130) are chunked as the index would chunk them, each question of the week is
searched in them as an index is searched (by date, BM25 and the embedder fused by reciprocal rank;
`ArticlePool`), and the top `DEFAULT_K` become its passages.
The reader then extracts candidates and their features exactly as it does when answering; a candidate's
label is whether an `accept` string appears in it as a short answer states it (`Candidate.answer`, figures
in digits; `rag.evaluation.contains`, the scoring rule).

Passages, their annotations (as an index build stores them), the sentence vectors and the features are
cached under --scratch (embedding and spaCy are the slow parts), so a rerun only refits, and a change of
features recomputes them without parsing or embedding anything again. Passages and candidates are kept by
question id, so after a change to how passages are searched (or with a scratch from before questions were
searched among their week's articles) remove them: `rm DIR/*-passages.pkl DIR/*-candidates.pkl`. Nothing of
the data set is written into the repository: only the learned weights, the threshold and the figures they reached (`rag/reader_weights.json`).

Dev figures here are reader-only (top candidate accepted, with the passages this script retrieves);
the system figure is `rag eval` on the dev index, scored by realtimeqa-score.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from bench.common import Figure
from rag.annotate import annotate, from_record, to_record
from rag.chunking import chunk_document
from rag.corpus import CorpusFile, group_near_duplicates, read_document
from rag.evaluation import contains
from rag.reading import (
    WEIGHTS_FILE,
    Candidate,
    Ranker,
    Trees,
    add_relative_features,
    find_candidates,
    rank,
)
from rag.retrieval import DEFAULT_K, Passage, about_question, recent_since, reciprocal_rank_fusion

KEYWORD_POOL = 12
# Abstain below the highest score under which the best candidates of train questions held out from the fit were
# right at most this often (0 would rest on the one lowest-scored right answer: 0.0 or 0.1 by the folds).
LOW_PRECISION = 0.02
# The threshold is chosen on scores of questions held out from the ranker's fit, in this many folds, over this
# many splits of train pooled: one 2-fold split put it anywhere from 0.16 to 0.38 by the split (abstaining on 1.2 %
# to 4.9 % of train), as a few wrong answers fell on either side of it.
THRESHOLD_FOLDS = 2
THRESHOLD_SPLITS = 4
# A passage holding less of the question's words than the passages of this share of train's right answers
# is not about the question.
PASSAGE_OVERLAP_QUANTILE = 0.01
SEED = 0
EXTRA_WORDS = 2
# LightGBM's ranker: chosen by 2-fold cross-validation on train questions (not on dev); smaller trees with more
# candidates per leaf (7 and 50, against 15 and 20) ranked the held-out half's answer first 0.30 against 0.28.
TREE_PARAMETERS = {
    "objective": "lambdarank",
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 50,
    "lambdarank_truncation_level": 10,
    "verbose": -1,
}
# The ranker averages this many LightGBM rankers, each fitted on its own random share of the questions: a ranker
# is only one draw of what the questions allow (on dev, 59 questions, one fitted on half of train ranked the right
# answer first 0.47-0.61 by the half). Train CV (3 seeds x 2-fold): held-out top-1 0.379 -> 0.383, higher in 5 of
# the 6 fits; dev top-1 over the same fits 0.514 -> 0.511 (a question is 0.017).
BAGS = 5
BAG_SHARE = 0.8
ANNOTATE_BATCH = 500


class ArticlePool:
    """The chunks of some articles, chunked as the index chunks them, with a BM25 index over them: what a
    question's passages are searched in. A chunk is embedded once, when a question's search first reaches it,
    and kept for the other questions of the pool."""

    def __init__(self, names: list[str], corpus: Path, embedder):
        import bm25s

        self.embedder = embedder
        self.vectors: dict[int, object] = {}

        files = [corpus / name for name in names if (corpus / name).exists()]
        documents = [read_document(CorpusFile(f.name, corpus, *_size_and_time(f))) for f in files]
        documents = group_near_duplicates([d for d in documents if d is not None])
        self.chunks = [(doc, chunk) for doc in documents for chunk in chunk_document(doc)]
        self.days = [date.fromisoformat(doc.date) if doc.date else None for doc, _ in self.chunks]
        self.retriever = bm25s.BM25()
        if self.chunks:
            self.retriever.index(
                bm25s.tokenize([c.text for _, c in self.chunks], stopwords="en", show_progress=False),
                show_progress=False,
            )

    def passages(self, record: dict, k: int = DEFAULT_K) -> list[Passage]:
        """The question's top-k passages, searched as `rag.retrieval.retrieve` searches an index: articles
        published after `as_of` left out, and the recent ones (`recent_since`) that share a meaningful word
        with the question (`about_question`) searched again and fused; each search is BM25, then a dense
        re-rank of its best `KEYWORD_POOL`."""
        import bm25s

        if not self.chunks:
            return []
        tokens = bm25s.tokenize([record["question"]], stopwords="en", show_progress=False)
        ids, scores = self.retriever.retrieve(tokens, k=len(self.chunks), show_progress=False, n_threads=1)
        matching = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]
        question_vector = self.embedder.embed([record["question"]])[0]

        def search(allowed: set[int], recent: bool = False) -> list[list[tuple[int, float]]]:
            keyword = [pair for pair in matching if pair[0] in allowed][:KEYWORD_POOL]
            if recent:
                keyword = about_question(record["question"], keyword, lambda item: self.chunks[item][1].text)
            if not keyword:
                return []
            new = [i for i, _ in keyword if i not in self.vectors]
            if new:
                self.vectors.update(zip(new, self.embedder.embed([self.chunks[i][1].text for i in new])))
            closeness = ((i, float(self.vectors[i] @ question_vector)) for i, _ in keyword)
            return [sorted(closeness, key=lambda p: -p[1]), keyword]

        as_of = date.fromisoformat(record["as_of"]) if record.get("as_of") else None
        published = {i for i, day in enumerate(self.days) if as_of is None or day is None or day <= as_of}
        rankings = search(published)
        since = recent_since(record["question"], as_of) if as_of else None
        if since is not None:
            rankings += search(
                {i for i in published if self.days[i] is not None and self.days[i] >= since}, recent=True
            )
        return [Passage.of(*self.chunks[item], score) for item, score in reciprocal_rank_fusion(*rankings)[:k]]


def week_articles(records: list[dict]) -> dict[str, list[str]]:
    """The articles searched for each question: those of every question of its week (`week`; a question with
    none keeps its own). A live index holds many stories, so a question's own ~10 search hits alone would make
    finding its passages too easy and train the ranker on passages unlike the ones it meets."""
    pools: dict[str, set[str]] = {}
    for record in records:
        pools.setdefault(_week(record), set()).update(record["articles"])
    return {week: sorted(names) for week, names in pools.items()}


def _week(record: dict) -> str:
    return record.get("week") or record["id"]


def _size_and_time(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def load_records(path: Path) -> list[dict]:
    """The questions of a question set, each under an id of its own: passages and candidates are kept by id. A
    line that repeats an earlier question is left out; a question whose id an earlier, different one has is
    renamed ("…#2"; the RealTimeQA train build gives one id to two questions of consecutive weeks)."""
    records: list[dict] = []
    seen: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        questions = seen.setdefault(record["id"], set())
        if record["question"] in questions:
            continue
        questions.add(record["question"])
        if len(questions) > 1:
            record["id"] = f"{record['id']}#{len(questions)}"
        records.append(record)
    return records


def cached_passages(
    records: list[dict], articles: dict[str, list[str]], corpus: Path, cache: Path, embedder
) -> dict[str, list[Passage]]:
    """Passages per question id, each question searched in its week's `articles` (`week_articles`), computed
    once and kept in `cache` (a pickle, outside the repository)."""
    found: dict[str, list[Passage]] = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    todo: dict[str, list[dict]] = {}
    for record in records:
        if record["id"] not in found:
            todo.setdefault(_week(record), []).append(record)
    began, done, total = time.perf_counter(), 0, sum(map(len, todo.values()))
    for week, questions in todo.items():
        pool = ArticlePool(articles[week], corpus, embedder)
        for record in questions:
            found[record["id"]] = pool.passages(record)
        done += len(questions)
        cache.write_bytes(pickle.dumps(found))
        print(f"  passages: {done}/{total} questions in {time.perf_counter() - began:.0f} s", flush=True)
    return found


def annotated(passages: dict[str, list[Passage]], cache: Path) -> dict[str, list[Passage]]:
    """The passages with their sentences annotated, as an index build stores them; the annotations (by
    text) are kept in `cache`."""
    records: dict[str, list] = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    todo = list(dict.fromkeys(p.text for found in passages.values() for p in found if p.text not in records))
    if todo:
        for start in range(0, len(todo), ANNOTATE_BATCH):
            batch = todo[start : start + ANNOTATE_BATCH]
            records |= {text: to_record(sentences) for text, sentences in zip(batch, annotate(batch))}
            cache.write_bytes(pickle.dumps(records))
            print(f"  annotated: {min(start + ANNOTATE_BATCH, len(todo))}/{len(todo)} passages", flush=True)
    return {
        qid: [replace(p, sentences=from_record(p.text, records[p.text])) for p in found]
        for qid, found in passages.items()
    }


class CachedEmbedder:
    """An embedder that keeps every text's vector (in `cache`, saved by `save`): features recomputed after
    a change embed nothing again."""

    def __init__(self, embedder, cache: Path):
        self.embedder, self.cache = embedder, cache
        self.name, self.dim = embedder.name, embedder.dim
        self.vectors: dict[str, object] = pickle.loads(cache.read_bytes()) if cache.exists() else {}

    def embed(self, texts, *, progress: bool = False):
        import numpy as np

        todo = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if todo:
            self.vectors |= dict(zip(todo, self.embedder.embed(todo, progress=progress)))
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def save(self) -> None:
        self.cache.write_bytes(pickle.dumps(self.vectors))


def labelled(record: dict, candidates: list[Candidate]) -> list[int]:
    """1 for a candidate that states an accepted answer and little else (at most `EXTRA_WORDS` more words):
    a long phrase that happens to contain the name is not the short answer."""
    return [
        int(
            any(contains(c.answer, a) and len(c.text.split()) <= len(a.split()) + EXTRA_WORDS for a in record["accept"])
        )
        for c in candidates
    ]


def cached_candidates(
    records: list[dict], passages: dict[str, list[Passage]], cache: Path, embedder: CachedEmbedder
) -> dict[str, list[Candidate]]:
    """Candidates with features per question id, kept in `cache` (features are the slow part of a refit)."""
    found: dict[str, list[Candidate]] = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    for kept in found.values():  # cheap, so a change to them needs no new parse of the passages
        add_relative_features(kept)
    todo = [r for r in records if r["id"] not in found and r["id"] in passages]
    began = time.perf_counter()
    for done, record in enumerate(todo, start=1):
        as_of = date.fromisoformat(record["as_of"]) if record.get("as_of") else None
        found[record["id"]] = find_candidates(record["question"], passages[record["id"]], embedder, as_of)
        if done % 100 == 0 or done == len(todo):
            cache.write_bytes(pickle.dumps(found))
            embedder.save()
            print(f"  candidates: {done}/{len(todo)} questions in {time.perf_counter() - began:.0f} s", flush=True)
    return found


def training_rows(records: list[dict], candidates: dict[str, list[Candidate]]) -> tuple[list, list, list]:
    """Every candidate's features and label, question after question, and how many each question has."""
    rows, labels, groups = [], [], []
    for record in records:
        found = candidates.get(record["id"], [])
        if found:
            rows += [c.features for c in found]
            labels += labelled(record, found)
            groups.append(len(found))
    return rows, labels, groups


def fit(records: list[dict], candidates: dict[str, list[Candidate]], c: float = 1.0) -> Ranker:
    """A logistic model on every candidate of the questions, labelled by the accept strings."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    rows, labels, _ = training_rows(records, candidates)
    vectorizer = DictVectorizer()
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(vectorizer.fit_transform(rows), labels)
    weights = {name: round(float(w), 5) for name, w in zip(vectorizer.feature_names_, model.coef_[0]) if abs(w) > 1e-5}
    return Ranker(weights, round(float(model.intercept_[0]), 5), 0.0)


def fit_trees(records: list[dict], candidates: dict[str, list[Candidate]]) -> Ranker:
    """Boosted trees that rank each question's candidates (LightGBM's LambdaRank: the right one first), the
    average of `BAGS` rankers fitted on random shares of the questions (their trees together, each leaf divided
    by their number), exported to the arrays `rag.reading.Trees` walks; checked to score as LightGBM does."""
    import lightgbm
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer

    rows, _, _ = training_rows(records, candidates)
    vectorizer = DictVectorizer().fit(rows)
    sample = rows[:5000]
    sample_matrix = vectorizer.transform(sample).astype(np.float32)
    shares, trees, expected = random.Random(SEED), [], np.zeros(len(sample))
    for _ in range(BAGS):
        share = shares.sample(records, round(BAG_SHARE * len(records)))
        share_rows, labels, groups = training_rows(share, candidates)
        model = lightgbm.LGBMRanker(**TREE_PARAMETERS)
        model.fit(vectorizer.transform(share_rows).astype(np.float32), labels, group=groups)
        for tree in model.booster_.dump_model()["tree_info"]:
            trees.append(_scaled(tree, 1 / BAGS))
        expected += model.booster_.predict(sample_matrix, raw_score=True) / BAGS
    exported = export_trees({"tree_info": trees}, vectorizer.feature_names_)
    if not np.allclose(exported.raw(sample), expected, atol=1e-4):
        raise AssertionError("the exported trees do not score as LightGBM does")
    return Ranker({}, 0.0, 0.0, trees=exported)


def _scaled(node: dict, factor: float) -> dict:
    """A tree of LightGBM's `dump_model()` (or a node of one) with every leaf value multiplied by `factor`."""
    node = dict(node)
    if "leaf_value" in node:
        node["leaf_value"] *= factor
    for key in ("tree_structure", "left_child", "right_child"):
        if key in node:
            node[key] = _scaled(node[key], factor)
    return node


def export_trees(dump: dict, names: list[str]) -> Trees:
    """LightGBM's `dump_model()` as `Trees`: numerical splits "<=" only (no missing values in the features)."""
    import numpy as np

    used: dict[str, int] = {}
    nodes: dict[str, list] = {"split_feature": [], "threshold": [], "left": [], "right": []}
    leaves: list[float] = []

    def visit(node: dict) -> int:
        if "leaf_value" in node or "split_index" not in node:
            leaves.append(node.get("leaf_value", 0.0))
            return ~(len(leaves) - 1)
        if node["decision_type"] != "<=" or node.get("missing_type", "None") not in ("None", "NaN"):
            raise ValueError(f"cannot export a split {node['decision_type']} with missing {node.get('missing_type')}")
        at = len(nodes["left"])
        name = names[node["split_feature"]]
        nodes["split_feature"].append(used.setdefault(name, len(used)))
        nodes["threshold"].append(node["threshold"])
        nodes["left"].append(0)
        nodes["right"].append(0)
        nodes["left"][at] = visit(node["left_child"])
        nodes["right"][at] = visit(node["right_child"])
        return at

    roots = [visit(tree["tree_structure"]) for tree in dump["tree_info"]]
    return Trees(
        tuple(used),
        np.asarray(nodes["split_feature"], dtype=np.int64),
        np.asarray(nodes["threshold"], dtype=np.float64),
        np.asarray(nodes["left"], dtype=np.int64),
        np.asarray(nodes["right"], dtype=np.int64),
        np.asarray(leaves, dtype=np.float64),
        np.asarray(roots, dtype=np.int64),
    )


def passage_overlap_floor(records: list[dict], candidates: dict[str, list[Candidate]]) -> float:
    """The passage overlap under which `PASSAGE_OVERLAP_QUANTILE` of the questions' right answers lie
    (per question, the right candidate of the most covering passage)."""
    import numpy as np

    covered = []
    for record in records:
        found = candidates.get(record["id"], [])
        right = [c.features["passage_overlap"] for c, label in zip(found, labelled(record, found)) if label]
        if right:
            covered.append(max(right))
    return round(float(np.quantile(covered, PASSAGE_OVERLAP_QUANTILE)), 4) if covered else 0.0


def best_per_question(records: list[dict], candidates: dict[str, list[Candidate]], ranker: Ranker) -> list[tuple]:
    """(the best answer's support, accepted, any candidate accepted) per question, accepted as the scorer judges a short
    answer (an accept string in it); a question without candidates scores 0."""
    out = []
    for record in records:
        ranked = rank(list(candidates.get(record["id"], [])), ranker)
        hits = [any(contains(c.answer, a) for a in record["accept"]) for c in ranked]
        out.append((ranked[0].support if ranked else 0.0, bool(hits and hits[0]), any(hits)))
    return out


def held_out_best(records: list[dict], candidates: dict[str, list[Candidate]], fitter, floor: float) -> list[tuple]:
    """`best_per_question` for every question by a ranker fitted without it (`THRESHOLD_FOLDS`-fold), once per
    split of `THRESHOLD_SPLITS`: a ranker scores the questions it was fitted on higher than new ones, so a
    threshold chosen on those would abstain on new questions it could answer."""
    best = []
    for split in range(THRESHOLD_SPLITS):
        shuffled = list(records)
        random.Random(SEED + split).shuffle(shuffled)
        for fold in range(THRESHOLD_FOLDS):
            held_out = shuffled[fold::THRESHOLD_FOLDS]
            fitted_on = [r for i, r in enumerate(shuffled) if i % THRESHOLD_FOLDS != fold]
            ranker = replace(fitter(fitted_on, candidates), min_passage_overlap=floor)
            best += best_per_question(held_out, candidates, ranker)
    return best


def choose_threshold(best: list[tuple], low_precision: float = LOW_PRECISION) -> float:
    """The highest score below which the best candidates were right at most `low_precision` of the time."""
    ordered = sorted(best)
    threshold, right = 0.0, 0
    for count, (score, accepted, _) in enumerate(ordered, start=1):
        right += accepted
        if right / count <= low_precision:
            threshold = score
    return round(threshold, 4)


def figures(best: list[tuple], threshold: float) -> dict[str, float]:
    n = len(best) or 1
    answered = [b for b in best if b[0] >= threshold]
    return {
        "questions": len(best),
        "accepted_top1": round(sum(b[1] for b in best) / n, 4),
        "accepted_after_abstention": round(sum(b[1] for b in answered) / n, 4),
        "abstained": round(1 - len(answered) / n, 4),
        "answer_among_candidates": round(sum(b[2] for b in best) / n, 4),
    }


def write_weights(ranker: Ranker, found: dict, model: str) -> None:
    """The ranker as `rag/reader_weights.json`, keeping the models' vote weights (`python -m bench model-vote`)."""
    kind = "boosted trees (LightGBM LambdaRank)" if ranker.trees is not None else "logistic regression"
    previous = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")) if WEIGHTS_FILE.exists() else {}
    data = {
        "about": f"rag/reading.py's candidate ranker: {kind} learned by `python -m bench train-reader --model "
        f"{model}` on RealTimeQA train questions (each searched among its week's articles). Below `threshold` the best "
        f"candidates (by their answer's support: its mentions' scores together) of train questions held out from the fit ({THRESHOLD_FOLDS}-fold, {THRESHOLD_SPLITS} splits pooled) were right at most "
        f"{LOW_PRECISION:.0%} of the time: abstain. Passages holding less "
        f"than `min_passage_overlap` of the question (where {PASSAGE_OVERLAP_QUANTILE:.0%} of train's right "
        "answers are) give no candidate. A loaded model's vote weighs `model_weights[name]` (learned on train "
        "by `python -m bench model-vote`), `model_weight` for a model not learned.",
        "bias": ranker.bias,
        "threshold": ranker.threshold,
        "min_passage_overlap": ranker.min_passage_overlap,
        "model_weight": previous.get("model_weight", 1.0),
        "model_weights": previous.get("model_weights", {}),
        "model_figures": previous.get("model_figures", {}),
        "figures": found,
        "weights": dict(sorted(ranker.weights.items())),
    }
    if ranker.trees is not None:
        data["trees"] = ranker.trees.to_dict()
    WEIGHTS_FILE.write_text(dumps_weights(data), encoding="utf-8")


def dumps_weights(data: dict) -> str:
    """The weights file's text: indented, but for the trees' arrays (a line each)."""
    trees = data.get("trees")
    text = json.dumps({k: v for k, v in data.items() if k != "trees"}, indent=1)
    if trees is not None:
        arrays = ",\n".join(
            f"  {json.dumps(name)}: {json.dumps(value, separators=(',', ':'))}" for name, value in trees.items()
        )
        text = f'{text[:-2]},\n "trees": {{\n{arrays}\n }}\n}}'
    return text + "\n"


def run(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="python -m bench train-reader", description=__doc__.split("\n")[0])
    home = Path.home() / ".cache"
    parser.add_argument("--train-dir", type=Path, default=home / "rtqa-train", help="qa.jsonl and corpus/")
    parser.add_argument("--dev-dir", type=Path, default=home / "rtqa-dev", help="qa.jsonl and corpus/")
    parser.add_argument(
        "--scratch", type=Path, default=home / "rag-train-reader", help="cache of passages and candidates"
    )
    parser.add_argument("--questions", type=int, help="train questions used (a seeded sample; default: all)")
    parser.add_argument("--write", action="store_true", help=f"write the weights to {WEIGHTS_FILE.name}")
    parser.add_argument(
        "--model", choices=("trees", "logistic"), default="trees", help="boosted trees (LambdaRank) or a logistic model"
    )
    args = parser.parse_args(argv)
    from rag.answer import shared_embedder

    embedder = shared_embedder()
    args.scratch.mkdir(parents=True, exist_ok=True)
    train = load_records(args.train_dir / "qa.jsonl")
    articles = {"train": week_articles(train)}
    random.Random(SEED).shuffle(train)
    train = train[: args.questions] if args.questions else train
    dev = load_records(args.dev_dir / "qa.jsonl")
    articles["dev"] = week_articles(dev)
    sets = {}
    for name, records, directory in (("train", train, args.train_dir), ("dev", dev, args.dev_dir)):
        print(f"== {name}: {len(records)} questions", flush=True)
        passages = cached_passages(
            records, articles[name], directory / "corpus", args.scratch / f"{name}-passages.pkl", embedder
        )
        passages = annotated(passages, args.scratch / f"{name}-annotations.pkl")
        vectors = CachedEmbedder(embedder, args.scratch / f"{name}-vectors.pkl")
        candidates = cached_candidates(records, passages, args.scratch / f"{name}-candidates.pkl", vectors)
        sets[name] = ([r for r in records if r["id"] in candidates], candidates)
    fitter = fit_trees if args.model == "trees" else fit
    ranker = fitter(*sets["train"])
    floor = passage_overlap_floor(*sets["train"])
    ranker = replace(ranker, min_passage_overlap=floor)
    threshold = choose_threshold(held_out_best(*sets["train"], fitter, floor))
    ranker = replace(ranker, threshold=threshold)
    found = {name: figures(best_per_question(*sets[name], ranker), threshold) for name in sets}
    if args.write:
        write_weights(ranker, found, args.model)
    return [
        Figure(f"train-reader {name}", key, value, goal=(">=", 0.65) if key == "accepted_after_abstention" else None)
        for name, values in found.items()
        for key, value in values.items()
    ]
