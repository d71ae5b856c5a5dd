"""Questions as users really type them: nothing at all, terminal junk, a 100 kB paste, another language.

A question with nothing to ask is refused in one line (exit status 2) before any work is done; every
other question gets an answer or an honest abstention, never a traceback and never an unrelated quote.
"""

import json

import pytest
from conftest import SEEDS

from rag.answer import MAX_QUESTION_CHARS, Pipeline
from rag.cli import main
from rag.guard import unsupported_numbers

CAP = "How many barrels of refined oil may North Korea import per year under the U.N. cap?"


@pytest.fixture(scope="module")
def extractive(seeds, real_embedder) -> Pipeline:
    corpus, index = seeds
    return Pipeline(corpus, index, embedder=real_embedder, generator=None)


@pytest.mark.parametrize(
    "question",
    ["", "\t\n\r  ", "\x00\x07\x1b\x7f", "\u200b\u200e\u2060\ufeff", "\x1b[31m\x1b[0m"],
    ids=["empty", "whitespace", "control-characters", "invisible-format-characters", "colour-codes-only"],
)
def test_cli_refuses_a_question_with_nothing_to_ask_before_any_work(question, tmp_path, capsys):
    assert main(["ask", question, "--corpus", str(SEEDS), "--index", str(tmp_path / "index")]) == 2
    out, err = capsys.readouterr()
    assert (
        out == ""
        and err.startswith("error: the question is empty: ask something")
        and len(err.strip().splitlines()) == 1
    )
    assert not (tmp_path / "index").exists(), "a refused question must not build an index"


def test_control_characters_are_dropped_and_the_question_answered_as_typed(extractive):
    """Pasted from a terminal or a web page: colour codes, NUL, BEL, zero-width and bidi marks, a lone surrogate."""
    typed = "\x1b[1mHow\x1b[0m many barrels of\x00 refined oil may \u202eNorth\u200b Korea import per year\x07 under the U.N.\ud800 cap?\r\n"
    answer = extractive.ask(typed)
    assert answer.question == CAP
    assert answer.text == extractive.ask(CAP).text and "500,000" in answer.text


@pytest.mark.integration
def test_a_100_kb_question_is_cut_for_the_model_with_a_note_and_answered(seeds, capsys):
    corpus, index = seeds
    pasted = ((CAP + " ") * 1200)[:100_000]  # the question pasted over and over
    assert main(["ask", pasted, "--corpus", str(corpus), "--index", str(index), "--model", "smollm2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"].startswith(CAP) and len(data["question"]) <= MAX_QUESTION_CHARS
    assert any("100,000 characters long; only its first" in note for note in data["notes"])
    assert "500,000" in data["answer"] and not data["abstained"]


@pytest.mark.parametrize(
    "question, figure",
    [
        ("Сколько нефтепродуктов импортировала Северная Корея за первые девять месяцев 2023 года?", "1.5"),
        ("朝鲜在2023年前九个月进口了多少精炼油？", "1.5"),
        ("كم برميلا من النفط المكرر يمكن لكوريا الشمالية استيراده سنويا؟", "500,000"),
        ("Combien de barils de pétrole raffiné la Corée du Nord peut-elle importer par an ?", "500,000"),
        ("🛢️ 🇰🇵 ❓", "500,000"),
    ],
    ids=["russian", "chinese", "arabic", "french", "emoji"],
)
def test_a_question_in_another_language_is_answered_or_declined_never_misquoted(extractive, question, figure):
    """The articles are English: an answer must quote the figure asked for, or abstain; quoting a
    sentence that merely shares a year with the question (as a Russian question once did) is wrong."""
    answer = extractive.ask(question)
    assert answer.question == question
    if answer.abstained:
        assert "does not answer" in answer.text and answer.citations == []
    else:
        assert any(figure in c.quote for c in answer.citations), answer.text
        assert unsupported_numbers(answer.text, answer.passages) == []
