"""The embedder seam: the ONNX Runtime embedder against sentence-transformers, the default `ask` without
torch, and the index's export of the model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SEED_QUESTIONS, SEEDS, read_corpus

from rag.chunking import chunk_document
from rag.embedding import OnnxEmbedder, SentenceTransformerEmbedder
from rag.index import ONNX_EXPORT, index_embedder, update_index
from rag.retrieval import retrieve

HEAVY = ("torch", "sentence_transformers", "transformers", "spacy")


def write_tiny_onnx(path, dim: int = 384, rows: int = 97) -> None:
    """A stand-in for the exported model with the same inputs and output: each token's vector is a row of
    a small random table (picked by token id modulo its size). No torch, no model weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("token_vectors", TensorProto.FLOAT, ["batch", "tokens", dim])
    nodes = [
        helper.make_node("Mod", ["input_ids", "rows"], ["row"]),
        helper.make_node("Gather", ["table", "row"], ["token_vectors"]),
    ]
    constants = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array(rows, np.int64), "rows")]
    graph = helper.make_graph(nodes, "tiny", inputs, [output], initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


@pytest.mark.integration  # runs ONNX Runtime, on a tiny synthetic model
def test_the_onnx_embedder_mean_pools_real_tokens_and_normalises(tmp_path):
    write_tiny_onnx(tmp_path / "tiny.onnx")
    embedder = OnnxEmbedder(tmp_path / "tiny.onnx", batch_size=2)
    texts = ["a short one", "a much longer sentence that pads the short one in its batch", "", "word"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    alone = np.concatenate([embedder.embed([text]) for text in texts])
    assert np.allclose(vectors, alone, atol=1e-5), "padding in a batch changes no vector"
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.integration  # runs ONNX Runtime, on a tiny synthetic model
def test_an_index_uses_its_onnx_export_and_records_its_hash(seed_corpus, tmp_path):
    index_dir = tmp_path / "index"
    assert index_embedder(index_dir)._export, "no export yet: it is made on first use"
    write_tiny_onnx(index_dir / ONNX_EXPORT)
    embedder = index_embedder(index_dir)
    assert isinstance(embedder, OnnxEmbedder) and not embedder._export
    manifest = update_index(seed_corpus, index_dir, embedder).index.manifest
    assert manifest.embedder["runtime"] == "onnxruntime" and manifest.embedder["file"] == ONNX_EXPORT.as_posix()
    assert not index_embedder(index_dir)._export
    damaged = (index_dir / ONNX_EXPORT).read_bytes()[:-8] + b"damaged!"
    (index_dir / ONNX_EXPORT).write_bytes(damaged)
    assert index_embedder(index_dir)._export, "a file that no longer has the recorded hash is exported again"


def test_the_default_ask_imports_neither_torch_nor_spacy(tmp_path):
    """A new process answers with the default (extractive) model and the ONNX embedder on a built index, as
    `rag ask` does: neither torch nor spaCy (the build annotated the passages for reading)."""
    index_dir = tmp_path / "index"
    write_tiny_onnx(index_dir / ONNX_EXPORT)
    build = (
        "from rag.index import index_embedder, update_index\n"
        f"update_index({str(SEEDS)!r}, {str(index_dir)!r}, index_embedder({str(index_dir)!r}))\n"
    )
    subprocess.run([sys.executable, "-c", build], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    script = (
        "import sys, json\n"
        "from rag import ask\n"
        f"answer = ask({SEED_QUESTIONS[0]!r}, corpus_dir={str(SEEDS)!r}, index_dir={str(index_dir)!r})\n"
        f"print(json.dumps([answer.mode, answer.models, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    mode, models, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert models["generator"] == "extractive" and mode in ("extractive", "abstain")
    assert heavy == [], f"the default ask imported {heavy}"


@pytest.mark.integration
def test_onnx_vectors_match_sentence_transformers_and_rank_the_same(real_embedder, tmp_path):
    assert isinstance(real_embedder, OnnxEmbedder)
    reference = SentenceTransformerEmbedder()
    texts = [chunk.text for doc in read_corpus(SEEDS) for chunk in chunk_document(doc)] + SEED_QUESTIONS
    cosines = (real_embedder.embed(texts) * reference.embed(texts)).sum(axis=1)
    assert cosines.min() >= 0.999, f"lowest cosine {cosines.min():.6f}"
    by_onnx = update_index(SEEDS, tmp_path / "onnx", real_embedder).index
    by_reference = update_index(SEEDS, tmp_path / "reference", reference).index
    for question in SEED_QUESTIONS:
        assert [p.chunk_id for p in retrieve(by_onnx, real_embedder, question)] == [
            p.chunk_id for p in retrieve(by_reference, reference, question)
        ], question
