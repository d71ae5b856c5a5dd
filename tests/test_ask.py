"""`ask` end to end: the real models on the seed corpus, the CLI, and a model's choice with a fake scorer."""

import json
import subprocess
import sys

import pytest
from conftest import FakeGenerator

from rag import QuestionError, ask, ask_stream
from rag.answer import Answer, Pipeline
from rag.guard import unsupported_numbers
from rag.quantities import extract_quantities

CAP = "How many barrels of refined oil may North Korea import per year under the U.N. cap?"
IMPORTS = "How much refined oil did North Korea import in the first nine months of 2023?"
PRICE = "What price per barrel did North Korea pay for the Russian oil?"


def ask_seeds(question, seeds, **kwargs):
    corpus, index = seeds
    return ask(question, corpus_dir=corpus, index_dir=index, **kwargs)


@pytest.mark.integration
@pytest.mark.parametrize("model", [None, "smollm2"])
def test_cap_question_is_answered_with_a_citation_that_says_it(seeds, model):
    answer = ask_seeds(CAP, seeds, model=model)
    assert "500,000" in answer.short and answer.text.startswith(f"{answer.short} [") and not answer.abstained
    assert any("500,000" in c.quote for c in answer.citations)
    for citation in answer.citations:
        assert citation.outlet in {"Kyiv Independent", "UPI"}
        assert citation.quote in citation.passage
    assert not answer.guard.conflicts and answer.guard.status == "ok"
    assert unsupported_numbers(answer.text, answer.passages) == []


@pytest.mark.integration
def test_imports_question_shows_the_disagreement_side_by_side(seeds):
    answer = ask_seeds(IMPORTS, seeds)
    assert answer.guard.status == "conflict"
    assert answer.text.startswith("Sources disagree:")
    lead = answer.text.split("\n")[0]
    assert "1.5 million" in lead and "1.5 billion" in lead and "UPI" in lead and "Kyiv Independent" in lead
    values = {(row.outlet, row.value) for row in answer.guard.values}
    assert ("UPI", 1.5e6) in values and ("Kyiv Independent", 1.5e9) in values
    assert "1,000" in " ".join(c.description for c in answer.guard.conflicts)
    assert any(row.value == 500_000 for row in answer.guard.bounds), "the annual cap bounds the figure"


@pytest.mark.integration
@pytest.mark.parametrize("model", [None, "smollm2"])
def test_unanswerable_question_abstains_and_shows_no_number(seeds, model):
    answer = ask_seeds(PRICE, seeds, model=model)
    assert answer.abstained and answer.mode == "abstain"
    assert "does not answer" in answer.text
    assert extract_quantities(answer.text) == []
    assert answer.citations == [] and answer.guard.status == "no_numbers"


@pytest.mark.integration
def test_stream_yields_the_answer_text_then_the_checked_answer(seeds):
    corpus, index = seeds
    text, answer = list(ask_stream(CAP, corpus_dir=corpus, index_dir=index, model="smollm2"))
    assert isinstance(answer, Answer) and text == answer.text and "500,000" in answer.short


@pytest.mark.integration
def test_cli_json_output(seeds):
    corpus, index = seeds
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", IMPORTS, "--corpus", str(corpus), "--index", str(index), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == IMPORTS and data["abstained"] is False and data["short"]
    assert {"n", "source", "outlet", "quote"} <= set(data["citations"][0])
    assert {"source", "text", "score"} <= set(data["passages"][0])
    assert data["guard"]["status"] == "conflict"
    assert {"text", "value", "unit", "source", "outlet", "n"} <= set(data["guard"]["values"][0])


@pytest.mark.integration
def test_cli_human_output_shows_the_conflict_table(seeds):
    corpus, index = seeds
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", IMPORTS, "--corpus", str(corpus), "--index", str(index)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Sources disagree:" in result.stdout and "Sources:" in result.stdout
    table = result.stdout.split("Sources disagree:")[-1]
    assert "1.5 million" in table and "1.5 billion" in table


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "oil?", "--corpus", "/nonexistent/corpus"], "corpus directory not found"),
        (["ask", "oil?", "--model", "/nonexistent/model.gguf"], "model file not found"),
        (["ask", "oil?", "--k", "0"], "k must be"),
    ],
)
def test_cli_user_mistakes_exit_non_zero_with_one_line(tmp_path, argv, message):
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", *argv, *([] if "--corpus" in argv else ["--index", str(tmp_path / "index")])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- a model's choice, with a fake scorer --------------------------------------------------------


@pytest.fixture
def fake_pipeline(seed_corpus, tmp_path, fake_embedder):
    def make(prefer: str) -> Pipeline:
        return Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(prefer))

    return make


def test_a_model_preferring_an_invented_number_cannot_state_it(fake_pipeline):
    answer = fake_pipeline("750,000").ask(CAP)
    assert "750,000" not in answer.text and not answer.guard.unsupported
    assert answer.short and any(answer.short in c.quote for c in answer.citations)


def test_the_model_is_shown_the_question_and_each_candidate_with_its_sentence(fake_pipeline):
    pipeline = fake_pipeline("500,000")
    answer = pipeline.ask(CAP)
    assert pipeline.generator.calls and all(CAP in prompt for prompt, _ in pipeline.generator.calls)
    assert all(continuation.strip() in prompt for prompt, continuation in pipeline.generator.calls)
    assert answer.mode == "model" and "500,000" in answer.short


def test_questions_are_cleaned_and_bounded(fake_pipeline):
    pipeline = fake_pipeline("")
    with pytest.raises(QuestionError, match="empty"):
        pipeline.ask("\x00\x07  \n")
    answer = pipeline.ask(CAP + " " + "x" * 100_000)
    assert any("only its first" in note for note in answer.notes)
    assert len(answer.question) <= 1000
