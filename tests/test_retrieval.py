"""Fusion, copy folding and diversity of retrieval, with a fake embedder."""

import pytest

from rag.index import update_index
from rag.retrieval import reciprocal_rank_fusion, retrieve, same_passage


def test_reciprocal_rank_fusion_rewards_agreement():
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    keywords = [(3, 12.0), (1, 9.0), (4, 1.0)]
    fused = reciprocal_rank_fusion(dense, keywords, k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_copies_that_change_a_figure_are_not_the_same_passage():
    text = "North Korea shipped around 7,000 containers of munitions to Russia since July."
    assert same_passage(text, text.replace("around", "about"))
    assert not same_passage(text, text.replace("7,000", "70,000"))
    assert not same_passage(text, text.replace("July", "June"))
    assert not same_passage(text, "A completely different sentence about the weather in Seoul today.")


def test_copies_fold_into_one_passage_and_leave_room_for_other_outlets(seed_corpus, tmp_path, fake_embedder):
    index = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    passages = retrieve(
        index, fake_embedder, "How many barrels of refined oil may North Korea import under the cap?", k=3
    )
    assert len(passages) == 3
    assert len({p.chunk_id for p in passages}) == 3
    texts = [p.text for p in passages]
    assert len(set(texts)) == len(texts), "a copy of a chosen passage took a slot"
    assert {"Kyiv Independent", "UPI"} <= {p.outlet for p in passages}
    folded = [p for p in passages if p.also_in]
    assert folded and all(p.outlet == "Kyiv Independent" for p in folded)


def test_k_must_be_positive(seed_corpus, tmp_path, fake_embedder):
    index = update_index(seed_corpus, tmp_path / "index", fake_embedder).index
    with pytest.raises(ValueError):
        retrieve(index, fake_embedder, "oil", k=0)
