"""Chunks are whole sentences, fit the window, overlap a little and point exactly into the document."""

from conftest import read_corpus

from rag.chunking import ChunkSettings, chunk_document, split_sentences


def test_chunk_offsets_point_at_the_exact_text():
    from conftest import SEEDS

    for doc in read_corpus(SEEDS):
        chunks = chunk_document(doc)
        assert chunks, doc.source
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= ChunkSettings().max_chars
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        for sentence in split_sentences(doc.text):
            assert sentence.start in covered


def test_sentences_are_not_split_at_abbreviations():
    sentences = [
        s.text for s in split_sentences("The U.N. cap is 500,000 barrels. Jung Pak spoke to the U.S. press on Jan. 2.")
    ]
    assert sentences == ["The U.N. cap is 500,000 barrels.", "Jung Pak spoke to the U.S. press on Jan. 2."]


def test_neighbouring_chunks_overlap_by_one_sentence():
    from rag.corpus import Document

    text = " ".join(f"Sentence number {i} says something about the subject at hand." for i in range(30))
    chunks = chunk_document(
        Document(source="x.txt", text=text, sha256=""), ChunkSettings(max_chars=200, overlap_sentences=1)
    )
    assert len(chunks) > 3
    for first, second in zip(chunks, chunks[1:]):
        last_sentence = split_sentences(first.text)[-1].text
        assert second.text.startswith(last_sentence)
