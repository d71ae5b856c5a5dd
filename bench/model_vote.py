"""Learn how much a model's vote weighs in the reader, on the RealTimeQA train split.

    python -m bench model-vote --model NAME [--questions N] [--write] [--scratch DIR]

The reader's ranker (rag/reader_weights.json) puts its best candidates to a loaded model, which scores
each as the answer (mean log-likelihood per token after the question and its sentence); the order is the
ranker's log-odds plus `weight` × that vote (`rag.reading.model_choice`). This script gets the votes of one
model for the best candidates of a seeded sample of train questions and of every dev question (from the
candidates `python -m bench train-reader` cached under --scratch; votes are cached beside them, by
candidate), and chooses the weight that answers the most train questions right, the smallest on a tie (0: the
model does not vote). Dev is reported, never used to choose. `--write` records the weight for that model in
`rag/reader_weights.json` (`model_weights`).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
from pathlib import Path

from bench.common import Figure
from bench.train_reader import SEED, dumps_weights, load_records
from rag.evaluation import contains
from rag.reading import WEIGHTS_FILE, add_relative_features, learned_ranker, log_odds, put_to_model, rank, vote

WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_QUESTIONS = 400


def votes(records: list[dict], candidates: dict, generator, cache: Path) -> dict[str, list[tuple]]:
    """Per question: (ranker log-odds, vote, accepted) of each candidate the model would be asked about. The
    model's votes are kept in `cache` by question, sentence and candidate, not by the ranker's choice: a refitted
    ranker is asked about anew and only candidates the model never scored are put to it."""
    ranker = learned_ranker()
    known: dict[tuple[str, str, str], float] = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    found: dict[str, list[tuple]] = {}
    asked = 0
    for record in records:
        kept = list(candidates.get(record["id"], []))
        add_relative_features(kept)
        found[record["id"]] = []
        for c in put_to_model(rank(kept, ranker), ranker):
            key = (record["question"], c.sentence, c.text)
            if key not in known:
                known[key] = vote(record["question"], c, generator)
                asked += 1
                if asked % 100 == 0:
                    cache.write_bytes(pickle.dumps(known))
                    print(f"  votes: {asked} new", flush=True)
            found[record["id"]].append(
                (log_odds(c.score), known[key], any(contains(c.answer, a) for a in record["accept"]))
            )
    cache.write_bytes(pickle.dumps(known))
    return found


def accuracy(records: list[dict], found: dict[str, list[tuple]], weight: float) -> float:
    """Share of the questions whose first candidate, re-ordered with the vote at `weight`, is accepted."""
    right = 0
    for record in records:
        options = found.get(record["id"], [])
        if options:
            right += max(options, key=lambda o: o[0] + weight * o[1])[2]
    return right / len(records) if records else 0.0


def run(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="python -m bench model-vote", description=__doc__.split("\n")[0])
    home = Path.home() / ".cache"
    parser.add_argument("--model", required=True, help="a bundled model name or a GGUF path")
    parser.add_argument("--questions", type=int, default=DEFAULT_QUESTIONS, help="train questions (seeded sample)")
    parser.add_argument("--train-dir", type=Path, default=home / "rtqa-train")
    parser.add_argument("--dev-dir", type=Path, default=home / "rtqa-dev")
    parser.add_argument("--scratch", type=Path, default=home / "rag-train-reader", help="train-reader's cache")
    parser.add_argument("--write", action="store_true", help=f"record the weight in {WEIGHTS_FILE.name}")
    args = parser.parse_args(argv)
    from rag.models import resolve_generator

    generator = resolve_generator(args.model)
    train = load_records(args.train_dir / "qa.jsonl")
    random.Random(SEED).shuffle(train)
    sets = {"train": train[: args.questions], "dev": load_records(args.dev_dir / "qa.jsonl")}
    found = {}
    for name, records in sets.items():
        cache = args.scratch / f"{name}-candidates.pkl"
        if not cache.exists():
            parser.error(f"no cached candidates in {cache}: run `python -m bench train-reader` first")
        candidates = pickle.loads(cache.read_bytes())
        print(f"== {name}: {len(records)} questions", flush=True)
        found[name] = votes(
            records, candidates, generator, args.scratch / f"{name}-candidate-votes-{generator.name}.pkl"
        )
    scores = {w: {name: accuracy(sets[name], found[name], w) for name in sets} for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: (scores[w]["train"], -w))
    if args.write:
        data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        data.setdefault("model_weights", {})[generator.name] = best
        data["model_figures"] = data.get("model_figures", {}) | {
            generator.name: {"train_questions": len(sets["train"]), **{n: round(v, 4) for n, v in scores[best].items()}}
        }
        WEIGHTS_FILE.write_text(dumps_weights(data), encoding="utf-8")
    return [
        Figure(
            f"model-vote {generator.name}",
            f"weight {w:g}{' (chosen)' if w == best else ''}",
            f"train {s['train']:.3f} dev {s['dev']:.3f}",
        )
        for w, s in scores.items()
    ]
