"""`rag eval`: reading question sets, scoring answers and summarising, on hand-made answers and fakes."""

import json

import pytest
from conftest import SEED_QA

from rag.answer import Answer, Citation, Pipeline
from rag.cli import main
from rag.evaluation import (
    contains,
    evaluate,
    format_report,
    read_cases,
    score,
    summarize,
)
from rag.guard import Conflict, GuardReport, GuardRow
from rag.retrieval import Passage

CAP = "North Korea can import no more than 500,000 barrels of refined oil per year."
IMPORTS = "North Korea imported more than 1.5 million barrels of refined oil."


def passage(source, text, *, also_in=()):
    return Passage(
        f"{source}#0",
        source,
        text,
        0,
        len(text),
        "Outlet " + source[0],
        None,
        None,
        "g-" + source,
        1.0,
        also_in=also_in,
    )


def answer(text, passages, cited=(), *, abstained=False, mode="extractive", guard=None, seconds=0.5):
    citations = [
        Citation(n, passages[n - 1].source, None, None, None, passages[n - 1].text, 0, 1, passages[n - 1].text)
        for n in cited
    ]
    return Answer(
        "q?",
        text,
        citations,
        passages,
        abstained,
        "abstain" if abstained else mode,
        guard or GuardReport("ok"),
        {"embedder": "fake", "generator": "fake"},
        {"total_s": seconds},
    )


def case_line(**fields):
    record = {
        "id": "q",
        "question": "How many barrels?",
        "answerable": True,
        "accept": ["500,000"],
        "evidence": ["a.txt"],
        "conflict": False,
    }
    return json.dumps(record | fields)


def one_case(tmp_path, **fields):
    path = tmp_path / "set.jsonl"
    path.write_text(case_line(**fields) + "\n")
    cases, errors = read_cases(path)
    assert errors == []
    return cases[0]


# --- reading -------------------------------------------------------------------------------------


def test_malformed_lines_are_reported_by_number_and_the_rest_is_read(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(
        "\n".join(
            [
                case_line(id="one", source_url="ignored", extra={"nested": True}),
                "{not json",
                "",
                case_line(id="two"),
                json.dumps(["a", "list"]),
                case_line(id="three", answerable="yes"),
                case_line(id="four", accept=[]),
                case_line(id="two"),
                json.dumps({"id": "five", "answerable": False}),
            ]
        )
        + "\n"
    )
    cases, errors = read_cases(path)
    assert [c.id for c in cases] == ["one", "two"]
    assert cases[0].line == 1 and cases[1].line == 4
    assert [e["line"] for e in errors] == [2, 5, 6, 7, 8, 9]
    messages = [e["error"] for e in errors]
    assert "not valid JSON" in messages[0] and "not a JSON object" in messages[1]
    assert "`answerable`" in messages[2] and "`accept`" in messages[3]
    assert "duplicate id 'two'" in messages[4] and "`question`" in messages[5]


def test_optional_fields_take_their_defaults(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"question": "Is there a price?", "answerable": False}) + "\n")
    (case,), errors = read_cases(path)
    assert errors == [] and case.id == "line-1"
    assert case.accept == case.evidence == case.conflict_values == () and case.conflict is False


# --- matching answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("no more than 500,000 barrels", "500,000"),
        ("no more than 500 000 barrels", "500,000"),
        ("no more than 500000 barrels", "500,000"),
        ("About 7,000 Containers.", "7000"),
        ("held on TUESDAY in Washington", "Tuesday"),
        ("at least 10 cases [1]", "10"),
        ("more than 1.5\nmillion barrels", "1.5 million"),
    ],
)
def test_accepted_strings_match_across_case_spacing_and_separators(text, phrase):
    assert contains(text, phrase)


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("passed in 2010", "10"),
        ("at least 100 cases", "10"),
        ("some 10.5 million", "10"),
        ("more than 1.5 billion barrels", "1.5 million"),
        ("written", "ten"),
    ],
)
def test_accepted_strings_do_not_match_inside_other_numbers_or_words(text, phrase):
    assert not contains(text, phrase)


# --- scoring one answer --------------------------------------------------------------------------


def test_an_answer_is_scored_on_acceptance_recall_and_citations(tmp_path):
    case = one_case(tmp_path, evidence=["a.txt", "b.txt", "c.txt"])
    passages = [passage("a.txt", CAP, also_in=("b.txt",)), passage("x.txt", "Unrelated text about ships.")]
    row = score(case, answer('Outlet a [1]: "' + CAP + '" Outlet x [2] agrees.', passages, cited=(1, 2), seconds=0.25))
    assert row["accepted"] and row["abstention_correct"] and not row["abstained"]
    assert row["recall_at_k"] == pytest.approx(2 / 3, abs=1e-4)  # b.txt counts through the folded copy
    assert row["citation_precision"] == 0.5
    assert row["unsupported_numbers"] == [] and row["latency_s"] == 0.25


def test_an_answer_without_an_accepted_string_is_not_accepted(tmp_path):
    case = one_case(tmp_path)
    passages = [passage("a.txt", CAP)]
    assert not score(case, answer(f"Outlet a [1]: {CAP.replace('500,000', '50,000')}", passages, cited=(1,)))[
        "accepted"
    ]


def test_an_answerable_question_that_abstains_is_wrong(tmp_path):
    case = one_case(tmp_path)
    row = score(case, answer("The corpus does not answer this question.", [passage("a.txt", CAP)], abstained=True))
    assert not row["accepted"] and not row["abstention_correct"]
    assert row["citation_precision"] is None  # no citations


def test_an_unanswerable_question_must_abstain_without_a_number(tmp_path):
    case = one_case(tmp_path, answerable=False, accept=[], evidence=[])
    passages = [passage("a.txt", CAP)]
    refused = score(
        case, answer("The corpus does not answer this question: no passage states a price.", passages, abstained=True)
    )
    assert refused["accepted"] and refused["abstention_correct"]
    assert refused["recall_at_k"] is None and refused["citation_precision"] is None
    hinting = score(
        case,
        answer(
            "The corpus does not answer this question, though 500,000 barrels is the cap.", passages, abstained=True
        ),
    )
    assert not hinting["accepted"] and not hinting["abstention_correct"]
    assert hinting["unsupported_numbers"] == ["500,000 barrels"]
    guessing = score(case, answer(f"Outlet a [1]: {CAP}", passages, cited=(1,)))
    assert not guessing["accepted"] and not guessing["abstention_correct"]


def test_numbers_no_cited_passage_states_are_counted_but_not_the_guards_lead(tmp_path):
    case = one_case(
        tmp_path,
        accept=["1.5 million", "1.5 billion"],
        evidence=["a.txt", "b.txt"],
        conflict=True,
        conflict_values=["1.5 million barrels", "1.5 billion barrels"],
    )
    passages = [passage("a.txt", IMPORTS), passage("b.txt", IMPORTS.replace("million", "billion"))]
    rows = tuple(
        GuardRow(p.text[p.text.index("more") : -len(" of refined oil.")], 0.0, "barrel", p.outlet, p.source, n, p.text)
        for n, p in enumerate(passages, start=1)
    )
    guard = GuardReport("conflict", list(rows), [Conflict(rows, 1000.0, "The values differ by a factor of 1,000.")])
    lead = guard.summary()
    assert "1,000" in lead
    honest = score(case, answer(f"{lead}\n\nOutlet a [1]: {IMPORTS}", passages, cited=(1,), guard=guard))
    assert honest["unsupported_numbers"] == [] and honest["conflict_detected"] and honest["accepted"]
    assert honest["conflict_values_shown"] == 1.0
    invented = score(
        case,
        answer(
            f"{lead}\n\nNorth Korea imported 2.5 million barrels [1].", passages, cited=(1,), guard=guard, mode="model"
        ),
    )
    assert invented["unsupported_numbers"] == ["2.5 million barrels"]
    assert invented["conflict_values_shown"] == 1.0  # the lead shows both values


# --- the summary ---------------------------------------------------------------------------------


def row(**fields):
    base = {
        "accepted": True,
        "abstained": False,
        "abstention_correct": True,
        "recall_at_k": 1.0,
        "citation_precision": 1.0,
        "conflict_expected": False,
        "conflict_detected": False,
        "conflict_values_shown": None,
        "unsupported_numbers": [],
        "mode": "model",
        "latency_s": 1.0,
    }
    return base | fields


def test_the_summary_averages_defined_values_and_counts_conflicts_over_questions():
    rows = [
        row(conflict_expected=True, conflict_detected=True, latency_s=1.0),
        row(conflict_expected=True, conflict_detected=False, accepted=False, latency_s=2.0, mode="extractive"),
        row(
            conflict_detected=True,
            recall_at_k=0.5,
            citation_precision=None,
            latency_s=3.0,
            unsupported_numbers=["9 ships"],
        ),
        row(abstained=True, recall_at_k=None, citation_precision=None, mode="abstain", latency_s=4.0),
    ]
    summary = summarize(rows)
    assert summary["n"] == 4 and summary["accepted"] == 0.75
    assert summary["recall_at_k"] == pytest.approx(2.5 / 3, abs=1e-4) and summary["citation_precision"] == 1.0
    assert summary["conflict_precision"] == 0.5 and summary["conflict_recall"] == 0.5
    assert summary["conflict_values_shown"] is None
    assert summary["unsupported_numbers"] == 1
    assert summary["model_reply_kept"] == pytest.approx(2 / 3, abs=1e-4)  # of the three answered questions
    assert summary["latency_p50_s"] == 2.5 and summary["latency_p95_s"] == pytest.approx(3.85)


def test_undefined_rates_are_none_not_zero():
    summary = summarize([row(abstained=True, mode="abstain", recall_at_k=None, citation_precision=None)])
    assert summary["conflict_precision"] is None and summary["conflict_recall"] is None
    assert summary["recall_at_k"] is None and summary["model_reply_kept"] is None


# --- a whole run, on the seed corpus with a fake embedder and extractive answers -----------------


def test_a_run_scores_the_good_lines_and_reports_the_bad_ones(tmp_path, seed_corpus, fake_embedder):
    questions = tmp_path / "set.jsonl"
    good = [json.loads(line) for line in SEED_QA.read_text().splitlines()][:2]
    refused = {"id": "bell", "question": "\u0007\u0007", "answerable": False}  # nothing left once cleaned
    questions.write_text(
        f"{json.dumps(good[0] | {'reviewer': 'ignored'})}\n[1, 2\n{json.dumps(good[1])}\n{json.dumps(refused)}\n"
    )
    pipeline = Pipeline(seed_corpus, tmp_path / "index", "extractive", embedder=fake_embedder)
    report = evaluate(questions, k=3, pipeline=pipeline)
    assert [q["id"] for q in report["questions"]] == [good[0]["id"], good[1]["id"]]
    assert [e["line"] for e in report["errors"]] == [2, 4]
    assert "not valid JSON" in report["errors"][0]["error"] and "empty" in report["errors"][1]["error"]
    assert report["summary"]["n"] == 2 and report["summary"]["malformed_lines"] == 2
    assert report["settings"]["k"] == 3 and report["settings"]["generator"] == "extractive"
    assert report["load"]["index_s"] >= 0 and all(q["latency_s"] > 0 for q in report["questions"])
    json.dumps(report)  # what --json prints
    text = format_report(report)
    assert "line 2: not valid JSON" in text and good[1]["id"] in text and "latency_p95_s" in text


def test_an_unreadable_question_file_is_a_user_error(tmp_path, capsys):
    assert (
        main(["eval", str(tmp_path / "missing.jsonl"), "--corpus", str(tmp_path), "--index", str(tmp_path / "index")])
        == 2
    )
    assert "cannot read the question file" in capsys.readouterr().err


# --- the real default model on the seed questions ------------------------------------------------


@pytest.mark.usefixtures("real_embedder")
def test_the_seed_questions_keep_the_invariants(tmp_path, seed_corpus, capsys):
    assert main(["eval", str(SEED_QA), "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    summary = report["summary"]
    assert report["errors"] == [] and summary["n"] == len(SEED_QA.read_text().strip().splitlines())
    assert summary["unsupported_numbers"] == 0
    assert summary["conflict_recall"] == 1.0
    unanswerable = [q for q in report["questions"] if not q["answerable"]]
    assert unanswerable and all(q["abstention_correct"] for q in unanswerable)
