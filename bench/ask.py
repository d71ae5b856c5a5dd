"""`ask` end to end on the seed questions with the default model: latency per question once the
index is open and the models are loaded; that first call is reported apart.

    python -m bench.ask [--rounds 3] [--model NAME]
"""

from __future__ import annotations

import argparse

from bench.common import Figure, copy_seeds, percentile, print_table, scratch, seed_questions, timed

ROUNDS = 3


def run(rounds: int = ROUNDS, model: str | None = None) -> list[Figure]:
    from rag import ask

    questions = [q["question"] for q in seed_questions()]
    with scratch() as tmp:
        settings = {"model": model, "corpus_dir": copy_seeds(tmp / "corpus"), "index_dir": tmp / "index"}
        first_s, first = timed(ask, questions[0], **settings)
        latencies = [timed(ask, question, **settings)[0] for _ in range(rounds) for question in questions]
    part = f"ask ({first.models['generator']})"
    return [
        Figure(part, "first call (builds the index, loads models not loaded yet)", first_s, "s"),
        Figure(part, "questions timed", len(latencies)),
        Figure(part, "p50", percentile(latencies, 50), "s", ("<=", 1.5)),
        Figure(part, "p95", percentile(latencies, 95), "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--model", default=None, help="smollm2, gemma3-270m, extractive or a .gguf path; default: rag's default"
    )
    args = parser.parse_args()
    print_table(run(args.rounds, args.model))


if __name__ == "__main__":
    main()
