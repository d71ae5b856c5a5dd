"""What a model's vote costs: the model is asked only about candidates that can still come first, each
sentence's candidates one after the other, and the real model evaluates a prompt once for all of them,
scoring each the same in any order. The first candidate is always the one a vote on every candidate picks."""

from __future__ import annotations

import math
import random

from rag.reading import Candidate, Ranker, choice_prompt, model_choice

QUESTION = "Who won the vote?"


class TableGenerator:
    """Votes read from a table (never positive, as a mean log-likelihood is); records what it was asked."""

    name = "table"

    def __init__(self, votes: dict[str, float]):
        self.votes = votes
        self.calls: list[tuple[str, str]] = []

    def log_likelihood(self, prompt: str, continuation: str) -> float:
        self.calls.append((prompt, continuation))
        return self.votes[continuation.strip()]


def candidates(scores: list[float], sentences: list[str]) -> list[Candidate]:
    return [
        Candidate(f"answer {i}", "PERSON", 1, sentence, 0, len(sentence), {}, score, support=score)
        for i, (score, sentence) in enumerate(zip(scores, sentences))
    ]


def first_by_every_vote(ranked: list[Candidate], votes: dict[str, float], ranker: Ranker) -> Candidate:
    """The first candidate when the model votes on every one (the choice before votes were skipped)."""
    top = [c for c in ranked[:5] if c.support >= ranker.threshold]
    total = [math.log(c.score / (1 - c.score)) + ranker.model_weight * votes[c.text] for c in top]
    return top[max(range(len(top)), key=lambda i: (total[i], -i))]


def test_the_first_candidate_is_the_one_a_vote_on_every_candidate_picks():
    rng = random.Random(7)
    asked = possible = 0
    for _ in range(500):
        n = rng.randint(1, 7)
        scores = sorted((rng.uniform(0.01, 0.99) for _ in range(n)), reverse=True)
        ranked = candidates(scores, [f"Sentence {rng.randint(1, 3)}." for _ in range(n)])
        votes = {c.text: -rng.expovariate(rng.choice([0.3, 1.0, 3.0])) for c in ranked}
        ranker = Ranker({}, bias=0.0, threshold=0.05, model_weight=rng.choice([0.5, 1.0, 4.0]))
        if ranked[0].support < ranker.threshold:
            continue
        generator = TableGenerator(votes)
        chosen = model_choice(QUESTION, ranked, generator, ranker)
        assert chosen[0] is first_by_every_vote(ranked, votes, ranker)
        assert sorted(c.text for c in chosen) == sorted(c.text for c in ranked), "nothing added or lost"
        asked += len(generator.calls)
        possible += len([c for c in ranked[:5] if c.support >= ranker.threshold])
        # Each sentence's prompt is asked in one run, so the model evaluates it once.
        prompts = [prompt for prompt, _ in generator.calls]
        runs = [p for i, p in enumerate(prompts) if i == 0 or p != prompts[i - 1]]
        assert len(runs) == len(set(runs))
    assert asked < 0.9 * possible, "candidates that cannot come first are not asked"


def test_a_candidate_that_cannot_come_first_is_not_asked():
    # The first candidate's vote keeps it above the second's logit: a vote never raises a candidate.
    ranked = candidates([0.9, 0.3, 0.2], ["One.", "Two.", "Three."])
    generator = TableGenerator({"answer 0": -0.1, "answer 1": 0.0, "answer 2": 0.0})
    chosen = model_choice(QUESTION, ranked, generator, Ranker({}, bias=0.0, threshold=0.05, model_weight=1.0))
    assert generator.calls == [(choice_prompt(QUESTION, "One."), " answer 0")]
    assert [c.text for c in chosen] == ["answer 0", "answer 1", "answer 2"]


def test_a_real_model_scores_a_candidate_the_same_whatever_was_asked_before(smollm2):
    """The prompt's evaluation is kept for the next candidate of its sentence; a score does not depend on it."""
    one = choice_prompt("How many barrels may North Korea import?", "North Korea may import 500,000 barrels a year.")
    two = choice_prompt("Who launched the task force?", "The U.S. and South Korea launched a task force.")
    asked = [(one, " 500,000 barrels"), (one, " 500,000"), (two, " South Korea"), (one, " North Korea")]
    evaluated: list[int] = []
    llm = smollm2._worker.submit(lambda: smollm2.llm).result()  # on its own thread, where it may be loading
    eval_tokens = llm.eval
    llm.eval = lambda tokens: (evaluated.append(len(tokens)), eval_tokens(tokens))
    try:
        forwards = [smollm2.log_likelihood(p, c) for p, c in asked]
        forward_evaluations = len(evaluated)
        backwards = [smollm2.log_likelihood(p, c) for p, c in reversed(asked)][::-1]
    finally:
        del llm.eval
    assert forwards == backwards
    assert all(-30 < score < 0 for score in forwards)
    # Forwards: the first prompt, the second, the first again; every other evaluation is one token.
    assert sum(n > 1 for n in evaluated[:forward_evaluations]) == 3
