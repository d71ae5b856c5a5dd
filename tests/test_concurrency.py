"""Many questions at once: eight threads calling `ask` get the answers they would get alone, and the
model is used by one thread at a time. (The web UI under load: tests/test_app.py.)"""

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import SEED_QUESTIONS, FakeGenerator

import rag.index
import rag.reading
from rag import ask
from rag.answer import Answer, Pipeline, get_pipeline

THREADS = 8


def comparable(answer: Answer) -> str:
    """Everything an answer shows except how long it took."""
    shown = answer.to_dict()
    del shown["timings"]
    return json.dumps(shown, sort_keys=True)


def all_at_once(work, items: list) -> list:
    """Run `work` on every item in its own thread, all released at the same moment."""
    start = threading.Barrier(len(items))

    def run(item):
        start.wait()
        return work(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))


class Overlap:
    """Wraps methods of an object (until the test ends) and records how often they were called and the
    most threads ever inside them at once."""

    def __init__(self, monkeypatch, target, names: list[str]):
        self.inside = self.most = self.calls = 0
        self._lock = threading.Lock()
        for name in names:
            monkeypatch.setattr(target, name, self._counting(getattr(target, name)))

    def _counting(self, method):
        def counted(*args, **kwargs):
            with self._lock:
                self.calls += 1
                self.inside += 1
                self.most = max(self.most, self.inside)
            try:
                return method(*args, **kwargs)
            finally:
                with self._lock:
                    self.inside -= 1

        return counted


@pytest.mark.parametrize("shared", [True, False], ids=["one-shared-pipeline", "a-pipeline-per-thread"])
def test_eight_threads_on_a_cold_index_get_the_answers_they_would_get_alone(
    seed_corpus, tmp_path, fake_embedder, monkeypatch, shared
):
    """No index yet: the first question builds it while the others wait, and nobody reads a half-built one."""
    builds = Overlap(monkeypatch, rag.index, ["update_index"])
    reply = "500,000"  # the candidate the fake model prefers
    pipeline = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(reply))

    def pipeline_for_thread() -> Pipeline:
        return (
            pipeline
            if shared
            else Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(reply))
        )

    questions = [SEED_QUESTIONS[i % len(SEED_QUESTIONS)] for i in range(THREADS)]
    # The first round finds no index; the later ones share the loaded one (and give a race more chances).
    rounds = [all_at_once(lambda q: comparable(pipeline_for_thread().ask(q)), questions) for _ in range(5)]
    alone = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(reply))
    expected = [comparable(alone.ask(q)) for q in questions]
    assert all(together == expected for together in rounds)
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1
    if shared:
        assert builds.calls == 1, "one pipeline builds its index once, however many threads ask"


@pytest.mark.usefixtures("real_embedder")
def test_eight_threads_asking_the_real_model_get_the_single_threaded_answers(seeds, monkeypatch):
    corpus, index = seeds
    # SmolLM2's learned vote weight is 0 (it is never asked); here it votes, so that threads share it.
    learned = rag.reading.learned_ranker()
    monkeypatch.setattr(rag.reading, "learned_ranker", lambda: dataclasses.replace(learned, model_weights={}))
    settings = {"model": "smollm2", "corpus_dir": corpus, "index_dir": index}
    alone = {q: comparable(ask(q, **settings)) for q in SEED_QUESTIONS}
    assert any('"mode": "model"' in a for a in alone.values()), "the model answered none of the questions"
    llm = get_pipeline(corpus, index, "smollm2").generator.llm
    overlap = Overlap(monkeypatch, llm, ["tokenize", "eval"])
    questions = [SEED_QUESTIONS[i % len(SEED_QUESTIONS)] for i in range(THREADS)]
    together = all_at_once(lambda q: comparable(ask(q, **settings)), questions)
    assert together == [alone[q] for q in questions]
    assert overlap.most == 1, "two threads used the model at the same time"
