"""Text helpers every stage shares: the citation mark, function words, word-level similarity, a
union-find for grouping, and plain column tables. Each rule lives here once."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from difflib import SequenceMatcher

# Quotation marks, each opening one with the mark that closes it (“Return of the Jedi”); a straight single quote is
# left out: it is also an apostrophe, as a closing curly one can be ("McDonald’s").
QUOTE_PAIRS = {"“": "”", '"': '"', "‘": "’"}

# A citation mark: "[1]", "[1, 2]" or "[1; 3]".
CITATION = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")

# Words that carry no topic: left out of word overlaps, and where a noun phrase after a figure ends.
FUNCTION_WORDS = frozenset(
    """
    a an the of to from in on at by for with per and or but nor than that which who whom whose as into onto over under
    between since until during about after before against across through within without was were is are be been being
    has have had will would could should may might can must shall do does did this these those its their his her our
    your it they he she we you i not no more less each every also only just so said says say while when where why how
    if then another what many much there
    """.split()
)
_WORD = re.compile(r"\w+")

# A possessive ending ("McDonald's", "Kansas’s"): a word is compared without it.
POSSESSIVE = re.compile(r"['’]s\b")

# Initials, with or without a space after their dots ("J. K." / "J.K."), and "U.S." read as one word.
_INITIAL = re.compile(r"\b([^\W\d_])\.\s?(?=[^\W\d_]\b)")


def content_words(text: str) -> set[str]:
    """Meaningful words cut to a 5-letter stem, so 'Russian' meets 'Russia' and 'imported' meets 'imports';
    initials are one word, so 'J. K. Rowling' meets 'J.K. Rowling'."""
    text = _INITIAL.sub(r"\1", POSSESSIVE.sub("", text.lower()))
    # Letters of any script: a question in Russian must not reduce to its digits and match on "2023".
    words = re.findall(r"[^\W_](?:[^\W_]|[.,-])*[^\W_]|[^\W_]", text)
    return {w[:5] for w in words if w not in FUNCTION_WORDS}


def cited_numbers(text: str) -> list[int]:
    """The passage numbers the citation marks of `text` name, in order of first appearance."""
    return list(
        dict.fromkeys(int(n) for found in CITATION.finditer(text) for n in re.split(r"\s*[,;]\s*", found.group(1)))
    )


def strip_citations(text: str) -> str:
    """`text` without its citation marks."""
    return CITATION.sub("", text)


def words(text: str) -> list[str]:
    """The lower-cased words of a text, in order."""
    return _WORD.findall(text.lower())


def word_matcher(a: str, b: str) -> SequenceMatcher:
    """A diff of two texts word by word (case folded), for similarity and for what changed."""
    return SequenceMatcher(None, words(a), words(b), autojunk=False)


def word_similarity(a: str, b: str) -> float:
    """How alike two texts are word for word, from 0 to 1 (difflib's ratio over their words)."""
    return word_matcher(a, b).ratio()


class UnionFind:
    """Disjoint sets of hashable items, joined pairwise; `groups()` lists the sets."""

    def __init__(self, items: Iterable[Hashable]):
        self._parent = {item: item for item in items}

    def root(self, item: Hashable) -> Hashable:
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def join(self, a: Hashable, b: Hashable) -> None:
        """Put `a` and `b` in one set, rooted at the smaller root so the result does not depend on order."""
        ra, rb = sorted((self.root(a), self.root(b)))
        self._parent[rb] = ra

    def groups(self) -> dict[Hashable, list[Hashable]]:
        """Every set, keyed by its root, its members in insertion order."""
        found: dict[Hashable, list[Hashable]] = {}
        for item in self._parent:
            found.setdefault(self.root(item), []).append(item)
        return found


def format_table(rows: Sequence[Sequence[str]], *, indent: str = "", rule: bool = False) -> list[str]:
    """Rows of cells as lines of left-aligned columns, two spaces apart; `rule` underlines the first row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    lines = [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    if rule and lines:
        lines.insert(1, indent + "  ".join("-" * w for w in widths))
    return lines
