"""The cheaper ways an index build splits and annotates give exactly what the plain ways give."""

from __future__ import annotations

import pysbd
import pytest

from rag.chunking import _spanning_segmenter

TRICKY = [
    "One sentence. One sentence. One sentence.",
    "He said so.  Then\u00a0he left.\tGone. ",
    '  Leading space. The U.S. economy grew 2.5% in Q3. Mr. Smith (the CEO) said: "No." Yes!',
    "aa. aa. a. aa.",
    "Numbers 1. 2. 3. and e.g. lists... end",
    "",
    "   ",
]


@pytest.mark.parametrize("text", TRICKY)
def test_sentence_spans_are_pysbds_own(text):
    plain = pysbd.Segmenter(language="en", clean=False, char_span=True)
    spans = [(s.sent, s.start, s.end) for s in _spanning_segmenter().segment(text)]
    assert spans == [(s.sent, s.start, s.end) for s in plain.segment(text)]
