"""Shared fixtures: small fakes for the two model seams, and the real models for integration tests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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
    """Replies with a fixed text, streamed word by word; records the prompts it was given."""

    name = "fake-generator"

    def __init__(self, reply: str, context_size: int = 2048):
        self.reply = reply
        self.prompts: list[list[dict[str, str]]] = []
        self._context_size = context_size

    @property
    def context_size(self) -> int:
        return self._context_size

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, messages, *, max_tokens):
        self.prompts.append(messages)
        for word in self.reply.split(" "):
            yield word + " "


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


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory):
    """The default embedder (ONNX Runtime), over an export made once for the test session."""
    from rag.answer import shared_embedder

    return shared_embedder(tmp_path_factory.mktemp("embedder-index"))


@pytest.fixture
def as_passages():
    """Turn documents into retrieved passages (every chunk, in order), as the guard receives them."""
    from rag.chunking import chunk_document
    from rag.retrieval import Passage

    def convert(documents):
        return [
            Passage(
                chunk.id,
                doc.source,
                chunk.text,
                chunk.start,
                chunk.end,
                doc.outlet,
                doc.title,
                doc.date,
                doc.group,
                0.0,
            )
            for doc in documents
            for chunk in chunk_document(doc)
        ]

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
