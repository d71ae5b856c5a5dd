"""Chunk stage: whole sentences packed into passages that fit the embedding model's window.

pysbd splits sentences by rules (no data download) and reports character spans, so every chunk keeps
its exact offsets in the cleaned document and a citation can show the span it quotes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from .corpus import Document


@dataclass(frozen=True)
class ChunkSettings:
    # all-MiniLM-L6-v2 reads 256 word pieces; ~4 characters a piece keeps a chunk well inside that.
    max_chars: int = 700
    overlap_sentences: int = 1


@dataclass(frozen=True)
class Chunk:
    id: str  # "<source>#<n>"
    source: str
    text: str  # equal to document.text[start:end]
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


_per_thread = threading.local()


def _segmenter():
    """One segmenter per thread: pysbd keeps the text it is splitting on the instance, so threads
    sharing one get each other's sentences (and questions asked at once, each other's evidence)."""
    if not hasattr(_per_thread, "segmenter"):
        _per_thread.segmenter = _spanning_segmenter()
    return _per_thread.segmenter


def _spanning_segmenter():
    """pysbd's segmenter with character spans, found by `str.find` instead of pysbd's regular expression per
    sentence: that one is compiled anew for each sentence (half of pysbd's time) and evicts pysbd's own
    rules from the `re` module's cache. The spans are the same: a sentence's first occurrence, with the
    white space after it, that ends after the previous sentence's span (an empty sentence, which pysbd's
    callers here would drop as white space, gets none)."""
    import pysbd
    from pysbd.utils import TextSpan

    class SpanningSegmenter(pysbd.Segmenter):
        def sentences_with_char_spans(self, sentences):
            text, spans, prior_end = self.original_text, [], 0
            for sentence in sentences:
                at = text.find(sentence) if sentence else -1
                while at >= 0:  # the matches `re.finditer` would visit, left to right, without overlap
                    end = at + len(sentence)
                    while end < len(text) and text[end].isspace():
                        end += 1
                    if end > prior_end:
                        spans.append(TextSpan(text[at:end], at, end))
                        prior_end = end
                        break
                    at = text.find(sentence, end)
            return spans

    return SpanningSegmenter(language="en", clean=False, char_span=True)


@lru_cache(maxsize=8192)
def _paragraph_sentences(paragraph: str) -> tuple[tuple[str, int, int], ...]:
    """(text, start, end) of each sentence of one paragraph, cached by its text: pysbd is the slowest rule
    here, and a question splits each retrieved passage twice (evidence, guard), a long-lived process meets
    the same passages again, and copies of a story repeat their paragraphs."""
    found = []
    for span in _segmenter().segment(paragraph):
        stripped = span.sent.strip()
        if stripped:
            start = span.start + (len(span.sent) - len(span.sent.lstrip()))
            found.append((stripped, start, start + len(stripped)))
    return tuple(found)


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their offsets; paragraphs are split first so no sentence crosses a blank line."""
    sentences = []
    offset = 0
    for paragraph in text.split("\n\n"):
        sentences += [Sentence(t, offset + start, offset + end) for t, start, end in _paragraph_sentences(paragraph)]
        offset += len(paragraph) + 2
    return sentences


def chunk_document(document: Document, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    """Pack consecutive sentences up to `max_chars`, repeating the last sentences of a chunk at the
    start of the next so a fact split across the boundary is still found whole."""
    sentences = split_sentences(document.text)
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last = first
        while last + 1 < len(sentences) and sentences[last + 1].end - sentences[first].start <= settings.max_chars:
            last += 1
        start, end = sentences[first].start, sentences[last].end
        chunks.append(Chunk(f"{document.source}#{len(chunks)}", document.source, document.text[start:end], start, end))
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - settings.overlap_sentences)
    return chunks
