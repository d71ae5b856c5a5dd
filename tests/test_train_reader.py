"""The ranker's training script: averaged boosted trees that rank the right candidate first."""

from __future__ import annotations

import json
import random

import pytest

from bench import train_reader
from rag.reading import Candidate, rank

pytest.importorskip("lightgbm")


def questions(count: int, seed: int) -> tuple[list[dict], dict[str, list[Candidate]]]:
    """Questions whose right candidate stands out by one feature ("near") under noise, among four wrong ones."""
    draw = random.Random(seed)
    records, candidates = [], {}
    for i in range(count):
        qid = f"q{seed}-{i}"
        records.append({"id": qid, "question": f"Which city is question {i} about?", "accept": [f"Right{i}"]})
        candidates[qid] = [
            Candidate(
                f"Right{i}" if right else f"Wrong{i}x{j}",
                "GPE",
                j + 1,
                f"Sentence {j}.",
                0,
                10,
                {"near": draw.gauss(1.0 if right else 0.0, 0.5), "noise": draw.random(), "passage_overlap": 1.0},
                group=f"story{j}",
            )
            for j, right in enumerate(draw.sample([True, False, False, False, False], 5))
        ]
    return records, candidates


def test_the_averaged_trees_rank_the_right_candidate_first_on_new_questions(monkeypatch):
    monkeypatch.setattr(train_reader, "TREE_PARAMETERS", train_reader.TREE_PARAMETERS | {"n_estimators": 20})
    records, candidates = questions(200, seed=1)
    ranker = train_reader.fit_trees(records, candidates)  # raises if the exported trees score otherwise
    assert len(ranker.trees.roots) == 20 * train_reader.BAGS, "every ranker's trees, together"
    assert "near" in ranker.trees.features
    new_records, new_candidates = questions(100, seed=2)
    first = [rank(new_candidates[r["id"]], ranker)[0].text == r["accept"][0] for r in new_records]
    assert sum(first) / len(first) > 0.6, "chance is 0.2"


def test_every_question_is_read_once_under_an_id_of_its_own(tmp_path):
    lines = [
        {"id": "q1", "question": "Which city hosted the summit?", "accept": ["Oslo"]},
        {"id": "q1", "question": "Which city hosted the summit?", "accept": ["Oslo"]},  # the same line again
        {"id": "q1", "question": "Which team won the final?", "accept": ["Lions"]},  # another question, same id
        {"id": "q2", "question": "Who opened the bridge?", "accept": ["the mayor"]},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    records = train_reader.load_records(path)
    assert [(r["id"], r["accept"]) for r in records] == [("q1", ["Oslo"]), ("q1#2", ["Lions"]), ("q2", ["the mayor"])]
