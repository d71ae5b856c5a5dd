"""Shared fixtures: small fakes for the two model seams, and the real models for integration tests.

A test that loads a real model does so through one of the fixtures in REAL_MODEL_FIXTURES, and is
marked `integration` by that (see `pytest_collection_modifyitems`); every other test runs with the
model packages blocked, so `pytest -m "not integration"` loads no model."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QA = ROOT / "eval" / "seed_qa.jsonl"
SEED_QUESTIONS = [
    json.loads(line)["question"] for line in SEED_QA.read_text(encoding="utf-8").splitlines() if line.strip()
]


def read_corpus(folder: str | Path):
    """Every readable article of a folder, cleaned and grouped into stories, as an index build reads them."""
    from rag.corpus import group_near_duplicates, list_corpus, read_document

    return group_near_duplicates([doc for file in list_corpus(folder) if (doc := read_document(file))])


def every_figure(passages) -> str:
    """An answer that states every figure of every passage, citing it: the guard then compares them all."""
    from rag.quantities import extract_quantities

    return " ".join(
        f"{q.text} [{n}]." for n, p in enumerate(passages, start=1) for q in extract_quantities(p.text, p.date)
    )


class FakeEmbedder:
    """Bag-of-words hashing: texts that share words get similar unit vectors, with no model at all."""

    name = "fake-bow"
    dim = 256

    def __init__(self):
        self.calls: list[int] = []  # how many texts each call embedded

    def embed(self, texts, *, progress=False):
        self.calls.append(len(texts))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


class FakeGenerator:
    """Scores candidate answers: one containing `prefer` is likely (log-likelihood 0), every other
    unlikely (-5); records what it was asked to score."""

    name = "fake-generator"

    def __init__(self, prefer: str = ""):
        self.prefer = prefer
        self.calls: list[tuple[str, str]] = []  # (prompt, continuation)

    def log_likelihood(self, prompt: str, continuation: str) -> float:
        self.calls.append((prompt, continuation))
        return 0.0 if self.prefer and self.prefer in continuation else -5.0


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def seed_corpus(tmp_path) -> Path:
    """A private copy of the seed corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the seed corpus and an index directory, shared by the tests of one module."""
    root = tmp_path_factory.mktemp("seeds")
    shutil.copytree(SEEDS, root / "corpus")
    return root / "corpus", root / "index"


# --- the real models: each test that uses one is an integration test ----------------------------

# The fixtures that load real models, directly or in a process they start. A test that uses one of
# them, itself or through another fixture, is marked `integration`.
REAL_MODEL_FIXTURES = frozenset({"real_embedder", "smollm2", "rag_command", "served_app"})
# What loading a model imports; a test not marked `integration` that imports one of them fails.
MODEL_PACKAGES = frozenset({"torch", "sentence_transformers", "transformers", "llama_cpp", "onnxruntime"})


def pytest_collection_modifyitems(items):
    for item in items:
        if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


class BlockModelPackages(importlib.abc.MetaPathFinder):
    """Refuses imports of the model packages and remembers each one tried."""

    def __init__(self):
        self.tried: list[str] = []

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in MODEL_PACKAGES:
            self.tried.append(name)
            raise ModuleNotFoundError(f"{name} is blocked: this test is not marked integration", name=name)
        return None


@pytest.fixture(autouse=True)
def no_model_outside_integration_tests(request):
    """A test not marked `integration` may not load a model: it fails if it imports a model package."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    blocker = BlockModelPackages()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)
    assert not blocker.tried, (
        f"a test not marked integration imported {sorted(set(blocker.tried))}: use the fakes at the model seams, "
        f"or one of the real-model fixtures {sorted(REAL_MODEL_FIXTURES)}"
    )


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory):
    """all-MiniLM-L6-v2: the process's shared embedding model, the one `rag.ask`, the CLI run in-process and
    a Pipeline without an embedder use (ONNX Runtime; its export is made once, in a scratch index directory)."""
    from rag.answer import shared_embedder

    return shared_embedder(tmp_path_factory.mktemp("embedder-index"))


@pytest.fixture(scope="session")
def smollm2():
    """The bundled SmolLM2 GGUF model through llama.cpp (loaded on its first reply)."""
    from rag.models import resolve_generator

    return resolve_generator("smollm2")


@pytest.fixture
def rag_command():
    """Runs the `rag` command in a new process, as a user does; it loads the real models."""

    def run(*argv: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rag.cli", *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
        )

    return run


@pytest.fixture
def as_passages():
    """Turn documents into retrieved passages (every chunk, in order), as the guard receives them."""
    from rag.chunking import chunk_document
    from rag.retrieval import Passage

    def convert(documents):
        return [Passage.of(doc, chunk, 0.0) for doc in documents for chunk in chunk_document(doc)]

    return convert


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(corpus: Path, index: Path, log: Path, timeout: float = 300):
    """`python app.py` with its default host on a free port; yields (url, port) once the page answers."""
    port = free_port()
    command = [
        sys.executable,
        str(ROOT / "app.py"),
        "--port",
        str(port),
        "--corpus",
        str(corpus),
        "--index",
        str(index),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer on {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield url, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Server:
    url: str
    port: int
    corpus: Path
    log: Path


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """`python app.py` with its defaults and the real models on a free port, over a copy of the seeds and a
    fresh index."""
    home = tmp_path_factory.mktemp("app")
    corpus = home / "corpus"
    shutil.copytree(SEEDS, corpus)
    log = home / "app.log"
    with running_app(corpus, home / "index", log) as (url, port):
        yield Server(url, port, corpus, log)
