"""A model's vote in the reader: the seed questions asked with each bundled model scoring the best
candidates, against no model. The cost of the vote is the reading stage's extra time; what it is worth
is measured on RealTimeQA (`rag eval ... --model NAME`, bench/RESULTS.md).

    python -m bench.scoring [--models smollm2 gemma3-270m]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from bench.common import Figure, copy_seeds, percentile, print_table, scratch, seed_questions

MODELS = ("smollm2", "gemma3-270m")


def run(models: Iterable[str] = MODELS) -> list[Figure]:
    from rag import ask

    questions = [q["question"] for q in seed_questions()]
    figures = []
    with scratch() as tmp:
        settings = {"corpus_dir": copy_seeds(tmp / "corpus"), "index_dir": tmp / "index"}
        for model in ("extractive", *models):
            ask(questions[0], model=model, **settings)  # loads the model and the index
            answers = [ask(question, model=model, **settings) for question in questions]
            reading = [a.timings["reading_s"] for a in answers]
            part = f"scoring {model}"
            figures += [
                Figure(part, "reading stage p50 (seed questions)", percentile(reading, 50), "s"),
                Figure(part, "answers the model re-ordered", sum(a.mode == "model" for a in answers)),
            ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args()
    print_table(run(args.models))


if __name__ == "__main__":
    main()
