"""The generator seam: how llama.cpp scoring is serialised on the model's own thread, with a fake model."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.errors import ModelError
from rag.models import LlamaCppGenerator, bundled_gguf, check_gguf, resolve_generator


class FakeScoring:
    """Stands in for the llama.cpp work of one score: counts scores that run at the same time, and threads."""

    def __init__(self):
        self.active = self.overlaps = 0
        self.threads: set[int] = set()

    def __call__(self, prompt, continuation):
        self.active += 1
        self.overlaps += self.active > 1
        self.threads.add(threading.get_ident())
        time.sleep(0.002)
        self.active -= 1
        return -float(len(continuation))


@pytest.fixture
def generator(monkeypatch):
    generator = LlamaCppGenerator(bundled_gguf("smollm2"), name="fake")
    monkeypatch.setattr(generator, "_log_likelihood", FakeScoring())
    return generator


def test_scores_asked_from_many_threads_run_one_at_a_time_on_one_thread(generator):
    with ThreadPoolExecutor(8) as pool:
        scores = list(pool.map(lambda c: generator.log_likelihood("Question?", c), ["a", "bb", "ccc"] * 10))
    assert scores == [-1.0, -2.0, -3.0] * 10
    assert generator._log_likelihood.overlaps == 0 and len(generator._log_likelihood.threads) == 1


def test_a_model_error_reaches_the_caller_and_frees_the_model(generator, monkeypatch):
    def broken(prompt, continuation):
        raise ValueError("llama_decode returned -1")

    monkeypatch.setattr(generator, "_log_likelihood", broken)
    with pytest.raises(ValueError, match="llama_decode"):
        generator.log_likelihood("Question?", " answer")
    assert generator.lock.acquire(timeout=1), "the lock was left held after the error"
    generator.lock.release()


def test_model_files_are_checked_before_loading(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        check_gguf(tmp_path / "missing.gguf")
    (tmp_path / "notes.gguf").write_text("not a model")
    with pytest.raises(ModelError, match="is not a GGUF model file"):
        check_gguf(tmp_path / "notes.gguf")
    with pytest.raises(ModelError, match="unknown model 'gpt-17'"):
        resolve_generator("gpt-17")
    assert resolve_generator("extractive") is None
