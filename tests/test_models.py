"""The generator seam: how llama.cpp replies are streamed and serialised, with a fake llama object."""

import itertools
import threading
import time

import pytest

from rag.errors import ModelError
from rag.models import LlamaCppGenerator, bundled_gguf, check_gguf, resolve_generator


class FakeLlama:
    """Streams a fixed reply slowly and counts replies that run at the same time."""

    metadata = {"tokenizer.chat_template": "{{ messages }}"}

    def __init__(self, reply="The cap is 500,000 barrels a year [1]."):
        self.reply = reply
        self.active = self.overlaps = self.resets = 0

    def reset(self):
        self.resets += 1

    def create_chat_completion(self, messages, **kwargs):
        self.active += 1
        self.overlaps += self.active > 1
        try:
            for word in self.reply.split(" "):
                time.sleep(0.002)
                yield {"choices": [{"delta": {"content": word + " "}}]}
        finally:
            self.active -= 1


@pytest.fixture
def generator():
    generator = LlamaCppGenerator(bundled_gguf("smollm2"), name="fake")
    generator.__dict__["llm"] = FakeLlama()  # the cached model, replaced before first use
    return generator


MESSAGES = [{"role": "user", "content": "How many barrels?"}]


def test_a_reply_pulled_on_changing_threads_completes(generator):
    """Web servers pull each piece on whichever worker is free; the model's lock must not care."""
    stream = generator.generate(MESSAGES, max_tokens=32)
    pieces, errors = [], []

    def pull_one():
        try:
            pieces.append(next(stream))
        except StopIteration:
            pieces.append(None)
        except Exception as exc:
            errors.append(exc)

    while not pieces or pieces[-1] is not None:
        worker = threading.Thread(target=pull_one)
        worker.start()
        worker.join()
        assert not errors
    assert "".join(pieces[:-1]).strip() == generator.llm.reply


def test_two_replies_read_in_turns_never_run_in_the_model_together(generator):
    first = generator.generate(MESSAGES, max_tokens=32)
    second = generator.generate(MESSAGES, max_tokens=32)
    texts = ["", ""]
    for a, b in itertools.zip_longest(first, second):
        texts[0] += a or ""
        texts[1] += b or ""
    assert texts[0] == texts[1] and texts[0].strip() == generator.llm.reply
    assert generator.llm.overlaps == 0 and generator.llm.resets == 2


def test_a_model_error_reaches_the_reader(generator):
    def broken(*args, **kwargs):
        raise ValueError("Requested tokens exceed context window")

    generator.llm.create_chat_completion = broken
    with pytest.raises(ValueError, match="context window"):
        list(generator.generate(MESSAGES, max_tokens=8))
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
