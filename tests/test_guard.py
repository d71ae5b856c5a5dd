"""The numeric guard: extraction and normalisation on the seed sentences, the support check, the
cross-source comparison and the report (fake embedder), and the seed conflict (real embedder)."""

import json
from pathlib import Path

import pytest
from conftest import every_figure, read_corpus

from rag.guard import GuardReport, review, unsupported_numbers
from rag.quantities import Asked, asked_quantity, extract_quantities, same_value, supports
from rag.retrieval import Passage

ROOT = Path(__file__).resolve().parent.parent
SEED_QA = ROOT / "eval" / "seed_qa.jsonl"
PUBLISHED = "2024-03-27"


def only(text, published=None):
    quantities = extract_quantities(text, published)
    assert len(quantities) == 1, [q.text for q in quantities]
    return quantities[0]


# --- extraction on sentences from the seeds -----------------------------------------------------

# Each (sentence, figure as written, value, unit, kind, qualifier). The starred ones are where
# quantulum3 fails on this text: dimensionless counts, a date read as 26, a crash on "1.5bn".
SEED_SENTENCES = [
    (
        "North Korea was still able to import more than 1.5 billion barrels of refined oil in the first nine months of 2023.",
        "more than 1.5 billion barrels",
        1.5e9,
        "barrel",
        "amount",
        "more than",
    ),
    (
        "North Korea imported more than 1.5 million barrels of refined oil from January to September last year.",
        "more than 1.5 million barrels",
        1.5e6,
        "barrel",
        "amount",
        "more than",
    ),
    (
        "According to the cap, North Korea can import no more than 500,000 barrels of refined oil per year.",
        "no more than 500,000 barrels",
        5e5,
        "barrel",
        "amount",
        "no more than",
    ),
    # * quantulum3: 7000 dimensionless
    (
        "North Korea, meanwhile, has shipped around 7,000 containers of munitions to Russia since July.",
        "around 7,000 containers",
        7000,
        "container",
        "amount",
        "around",
    ),
    (
        "Shin estimated that Russia has sent more than 9,000 containers back to North Korea in return.",
        "more than 9,000 containers",
        9000,
        "container",
        "amount",
        "more than",
    ),
    # * quantulum3: 5 dimensionless
    (
        "The analysis shows at least five North Korean tankers traveling to collect oil products from Vostochny Port.",
        "at least five North Korean tankers",
        5,
        "tanker",
        "amount",
        "at least",
    ),
    (
        "The tankers could have moved up to 125,000 barrels of refined petroleum products.",
        "up to 125,000 barrels",
        125_000,
        "barrel",
        "amount",
        "up to",
    ),
    (
        "The task force meeting included more than 30 officials from ministries and agencies.",
        "more than 30 officials",
        30,
        "official",
        "amount",
        "more than",
    ),
    (
        "Reportedly providing Moscow with ballistic missiles and over 3 million artillery shells.",
        "over 3 million artillery shells",
        3e6,
        "shell",
        "amount",
        "more than",
    ),
    (
        "There have been at least 10 cases of Russia using North Korean missiles to strike Ukraine.",
        "at least 10 cases",
        10,
        "case",
        "amount",
        "at least",
    ),
    # * quantulum3: crashes (its unit classifier no longer loads)
    (
        "North Korea imported more than 1.5bn barrels of refined oil.",
        "more than 1.5bn barrels",
        1.5e9,
        "barrel",
        "amount",
        "more than",
    ),
    ("Russia supplied nearly 40% of these imports.", "nearly 40%", 40, "percent", "percent", "nearly"),
    ("Powerball jackpot rises to $856 million after no winner.", "$856 million", 8.56e8, "USD", "money", None),
]


@pytest.mark.parametrize("sentence, text, value, unit, kind, qualifier", SEED_SENTENCES)
def test_extracts_value_scale_unit_qualifier_and_span(sentence, text, value, unit, kind, qualifier):
    found = extract_quantities(sentence)
    q = next((q for q in found if q.text == text), None)
    assert q is not None, [q.text for q in found]
    assert (q.text, q.value, q.unit, q.kind, q.qualifier) == (text, pytest.approx(value), unit, kind, qualifier)
    assert sentence[q.start : q.end] == q.text
    assert "more" not in sentence[q.figure[0] : q.figure[1]] and sentence[q.figure[0] : q.figure[1]] in q.text


def test_years_and_dates_are_recognised_not_read_as_amounts():
    sentence = "The U.S. and South Korea held their first joint meeting on March 26, after a resolution passed in 2017."
    kinds = [(q.text, q.kind, q.value) for q in extract_quantities(sentence)]
    assert kinds == [("March 26", "date", 326.0), ("2017", "year", 2017.0)]
    assert only("Later on, it was confirmed in the attack on Kharkiv on Jan. 2.").value == 102.0
    assert only("It was recorded in December 2023 during an attack.").value == 20231200.0
    assert only("Putin met Kim Jong-Un in Russia on Sept. 13, 2023.").value == 20230913.0
    assert only("He said on 26 March 2024 that it met.").value == 20240326.0
    assert only("Troops: more than 2000 troops were sent.").kind == "amount"


def test_publication_date_resolves_relative_dates():
    years = [
        q for q in extract_quantities("imports from January to September last year", PUBLISHED) if q.kind == "year"
    ]
    assert [(q.text, q.value) for q in years] == [("last year", 2023.0)]
    assert not [q for q in extract_quantities("imports last year") if q.kind == "year"]
    tuesday = only("The task force held its inaugural meeting on Tuesday in Washington.", PUBLISHED)
    assert (tuesday.unit, tuesday.value) == ("date", 20240326.0)
    assert only("It met on Tuesday.").unit == "weekday"
    assert only("They met on March 26.", PUBLISHED).value == 20240326.0
    assert only("They met on December 26.", PUBLISHED).value == 20231226.0  # after publication: the year before


@pytest.mark.parametrize(
    "text",
    [
        "a U.N. report released earlier",  # quantulum3: one atomic mass unit
        "One of the first cases of Russia using North Korean ballistic missiles",
        "the 110th Mechanized Brigade",
        "F-16 jets",
        "at 9:17 AM",
        "5G networks",
        "a quarter of the U.N.'s annual oil cap",
        "The allies underscored the need for close collaboration.",
        "no one knows, the two said",
    ],
)
def test_no_figure_is_read_where_there_is_none(text):
    assert [q for q in extract_quantities(text) if q.kind != "date"] == []


@pytest.mark.parametrize(
    "a, b",
    [
        ("1.5 billion barrels", "1.5bn barrels"),
        ("1.5 billion barrels", "1,500,000,000 barrels"),
        ("1.5 million barrels", "1.5m barrels"),
        ("1.5 million barrels", "1.5 mn barrels"),
        ("1.5 million barrels", "1,523,000 barrels"),
        ("five tankers", "5 tankers"),
        ("7,000 containers", "7000 containers"),
        ("three million shells", "3 million shells"),
        ("500,000 barrels", "500 thousand barrels"),
        ("a million barrels", "1,000,000 barrels"),
        ("30 officials", "thirty officials"),
        ("7k containers", "7,000 containers"),
        ("40%", "40 percent"),
    ],
)
def test_reformatted_figures_normalise_to_one_value(a, b):
    qa, qb = only(a), only(b)
    assert same_value(qa, qb) and qa.unit == qb.unit and qa.kind == qb.kind


@pytest.mark.parametrize(
    "a, b",
    [
        ("1.5 million barrels", "1.5 billion barrels"),
        ("500,000 barrels", "50,000 barrels"),
        ("7,000 containers", "70,000 containers"),
        ("five tankers", "fifteen tankers"),
        ("40%", "45%"),
        ("100 officials", "140 officials"),
        ("7,000 containers", "7,400 containers"),
    ],
)
def test_changed_figures_differ(a, b):
    assert not same_value(only(a), only(b))


def test_a_claim_is_supported_by_a_date_that_states_every_part_it_gives():
    tuesday = only("on Tuesday", PUBLISHED)  # resolved to 2024-03-26
    assert supports(tuesday, only("on March 26")) and supports(tuesday, only("on Tuesday"))
    assert supports(only("in December 2023"), only("in 2023"))
    assert not supports(only("in March"), only("on March 26"))
    assert not supports(only("on March 26"), only("on March 25"))


# --- the support check --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_documents():
    return {doc.source[:3]: doc for doc in read_corpus(ROOT / "seeds")}


@pytest.fixture
def pick(seed_documents, as_passages):
    """The first chunk of a seed document that contains a phrase, as a passage."""

    def find(prefix: str, phrase: str) -> Passage:
        return next(p for p in as_passages([seed_documents[prefix]]) if phrase in p.text)

    return find


@pytest.fixture
def imports(pick):
    """[1] Kyiv Independent with 1.5 billion and the cap, [2] UPI with 1.5 million, [3] UPI's cap."""
    return [pick("000", "1.5 billion"), pick("001", "1.5 million"), pick("001", "500,000 barrels per year")]


def texts(quantities):
    return [q.text for q in quantities]


def test_numbers_stated_by_a_cited_passage_are_supported(imports):
    assert unsupported_numbers("North Korea imported more than 1.5 million barrels [2].", imports) == []
    assert (
        unsupported_numbers("It imported 1.5bn barrels [1], over a cap of 500,000 barrels a year [3].", imports) == []
    )
    assert unsupported_numbers("It imported 1,500,000,000 barrels [1].", imports) == []


def test_a_number_the_cited_passage_does_not_state_is_unsupported(imports):
    claim = "North Korea imported more than 1.5 million barrels [1]."
    assert texts(unsupported_numbers(claim, imports)) == ["more than 1.5 million barrels"]
    assert texts(unsupported_numbers("North Korea imported 2.5 million barrels [2].", imports)) == [
        "2.5 million barrels"
    ]
    assert texts(unsupported_numbers("It shipped 7,000 barrels [2].", imports)) == [
        "7,000 barrels"
    ]  # 7,000 containers, not barrels


def test_citations_are_per_sentence_and_markers_are_not_numbers(imports):
    answer = "UPI says more than 1.5 million barrels [2]. Kyiv Independent says more than 1.5 billion barrels [1]."
    assert unsupported_numbers(answer, imports) == []
    swapped = "UPI says more than 1.5 million barrels [1]. Kyiv Independent says more than 1.5 billion barrels [2]."
    assert texts(unsupported_numbers(swapped, imports)) == [
        "more than 1.5 million barrels",
        "more than 1.5 billion barrels",
    ]
    # A sentence without a marker is checked against every passage the answer cites.
    unmarked = "The cap is 500,000 barrels a year. It was set in 2017 [3]. Imports: 1.5 million barrels [2]."
    assert unsupported_numbers(unmarked, imports) == []
    # A marker set apart after the full stop still belongs to its sentence.
    assert unsupported_numbers("It imported 1.5 million barrels.\n[2]", imports) == []


def test_without_a_citation_or_with_a_citation_out_of_range_a_number_is_unsupported(imports):
    assert texts(unsupported_numbers("North Korea imported 1.5 million barrels.", imports)) == ["1.5 million barrels"]
    assert texts(unsupported_numbers("North Korea imported 1.5 million barrels [7].", imports)) == [
        "1.5 million barrels"
    ]


def test_time_frames_the_question_gives_or_the_passage_implies_are_supported(imports):
    question = "How much refined oil did North Korea import in the first nine months of 2023?"
    answer = "In the first nine months of 2023, North Korea imported more than 1.5 million barrels [2]."
    assert texts(unsupported_numbers(answer, imports)) == ["nine months"]  # UPI says "January to September"
    assert unsupported_numbers(answer, imports, question=question) == []
    assert (
        unsupported_numbers("In 2023 it imported more than 1.5 million barrels [2].", imports) == []
    )  # "last year", dated 2024


def test_dates_are_supported_across_wordings_of_one_day(pick):
    passages = [pick("000", "March 26"), pick("001", "on Tuesday")]
    assert (
        unsupported_numbers("They first met on March 26 [2].", passages) == []
    )  # UPI: "on Tuesday", dated Wed 27 March
    assert unsupported_numbers("They first met on Tuesday [1].", passages) == []
    assert texts(unsupported_numbers("They first met on March 25 [1].", passages)) == ["March 25"]


# --- comparison and the report, with the fake embedder -----------------------------------------


def passage(source, text, *, outlet, group=None, date=PUBLISHED):
    return Passage(f"{source}#0", source, text, 0, len(text), outlet, None, date, group or source, 0.0)


CAP = "According to the cap, North Korea can import no more than 500,000 barrels of refined oil per year."
IMPORTS = "North Korea imported more than {} barrels of refined oil in the first nine months of 2023."
TANKERS = "The tankers could have moved up to 125,000 barrels of refined petroleum products in less than three weeks."


@pytest.fixture
def two_outlets():
    return [
        passage("a.txt", f"{CAP} {IMPORTS.format('1.5 billion')}", outlet="Kyiv Independent"),
        passage("b.txt", f"{CAP} {IMPORTS.format('1.5 million')} {TANKERS}", outlet="UPI"),
    ]


def test_review_reports_a_conflict_with_values_outlets_citations_and_the_bound(two_outlets, fake_embedder):
    report = review(
        "How much oil?", "North Korea imported more than 1.5 million barrels [2].", two_outlets, fake_embedder
    )
    assert report.status == "conflict"
    (conflict,) = report.conflicts
    assert [(r.text, r.outlet, r.n) for r in conflict.rows] == [
        ("more than 1.5 million barrels", "UPI", 2),
        ("more than 1.5 billion barrels", "Kyiv Independent", 1),
    ]
    assert conflict.ratio == pytest.approx(1000)
    assert "factor of 1,000" in conflict.description and "million/billion slip" in conflict.description
    assert [(b.text, b.n) for b in report.bounds] == [("no more than 500,000 barrels", 1)]
    assert report.summary().startswith(
        "Sources disagree: UPI [2] says more than 1.5 million barrels; Kyiv Independent [1] says more than 1.5 billion barrels."
    )
    assert 'For scale: Kyiv Independent [1] says "According to the cap' in report.summary()
    assert len(fake_embedder.calls) == 1, "the masked clauses of the barrel figures are embedded in one batch"


def test_review_counts_only_what_the_answer_states(two_outlets, fake_embedder):
    answer = "It can import no more than 500,000 barrels of refined oil per year [1]."
    cap = review("How many barrels may it import per year under the cap?", answer, two_outlets, fake_embedder)
    assert cap.status == "ok" and cap.conflicts == [] and cap.summary() == ""
    assert [(r.text, r.outlet, r.n) for r in cap.values] == [
        ("no more than 500,000 barrels", "Kyiv Independent", 1),
        ("no more than 500,000 barrels", "UPI", 2),
    ]


def test_different_quantities_with_one_unit_never_conflict(two_outlets, fake_embedder):
    report = review("How much could the tankers move?", "Up to 125,000 barrels [2].", two_outlets, fake_embedder)
    assert report.status == "ok" and [r.text for r in report.values] == ["up to 125,000 barrels"]
    everything = review("q", every_figure(two_outlets), two_outlets, fake_embedder)
    assert [sorted(r.value for r in c.rows) for c in everything.conflicts] == [[1.5e6, 1.5e9]]


def test_copies_of_one_story_count_once_when_they_agree(fake_embedder):
    text = f"{CAP} {IMPORTS.format('1.5 billion')}"
    copies = [
        passage("a.txt", text, outlet="Kyiv Independent", group="a.txt"),
        passage("c.txt", text, outlet="Kyiv Independent", group="a.txt"),
        passage("b.txt", f"{CAP} {IMPORTS.format('1.5bn')}", outlet="UPI"),
    ]
    report = review("q", "It imported more than 1.5 billion barrels [1].", copies, fake_embedder)
    assert report.status == "ok" and [(r.outlet, r.n) for r in report.values] == [("Kyiv Independent", 1), ("UPI", 3)]


def test_a_copy_that_changes_a_figure_or_a_date_is_a_conflict_naming_both_files(fake_embedder):
    text = "The U.S. and South Korea held their first joint meeting on March 26 of a new task force. " + IMPORTS.format(
        "1.5 billion"
    )
    copies = [
        passage("a.txt", text, outlet="Kyiv Independent", group="a.txt"),
        passage("c.txt", text.replace("March 26", "March 25"), outlet="Kyiv Independent", group="a.txt"),
    ]
    report = review("When did they meet?", "They met on March 26 [1].", copies, fake_embedder)
    assert report.status == "conflict"
    assert [(r.text, r.source) for r in report.conflicts[0].rows] == [("March 26", "a.txt"), ("March 25", "c.txt")]
    assert "Kyiv Independent (a.txt) [1] says March 26; Kyiv Independent (c.txt) [2] says March 25" in report.summary()


def test_dates_of_different_outlets_are_compared_on_the_calendar(fake_embedder):
    def outlets(day):
        return [
            passage("a.txt", "The Enhanced Disruption Task Force held its first meeting on March 26.", outlet="KI"),
            passage("b.txt", f"The Enhanced Disruption Task Force held its first meeting on {day}.", outlet="UPI"),
        ]

    agree = review("When?", "They met on March 26 [1] (UPI says Tuesday [2]).", outlets("Tuesday"), fake_embedder)
    assert agree.status == "ok" and agree.conflicts == []  # Tuesday before Wednesday 27 March 2024 is March 26
    differ = review("When?", "They met on March 26 [1] (UPI says Monday [2]).", outlets("Monday"), fake_embedder)
    assert differ.status == "conflict"
    assert [(r.text, r.outlet) for r in differ.conflicts[0].rows] == [
        ("March 26", "KI"),
        ("Monday", "UPI"),
    ]


def test_status_precedence(two_outlets, fake_embedder):
    # "2 million barrels" is a figure no cited passage states.
    conflict = review(
        "q", "It imported more than 1.5 billion barrels [1]. It sold 2 million barrels [1].", two_outlets, fake_embedder
    )
    assert conflict.status == "conflict" and conflict.unsupported == ["2 million barrels"]
    unsupported = review(
        "q", "The cap is 500,000 barrels a year [1]. It sold 2 million barrels [1].", two_outlets, fake_embedder
    )
    assert unsupported.status == "unsupported"
    assert review("q", "The cap is 500,000 barrels a year [1].", two_outlets, fake_embedder).status == "ok"
    nothing = review("q", "The corpus does not answer this question.", two_outlets, fake_embedder)
    assert (nothing.status, nothing.values, nothing.summary()) == ("no_numbers", [], "")
    assert review("q", "", two_outlets, fake_embedder).status == "no_numbers"


def test_report_to_dict_is_json_ready_with_the_cli_fields(two_outlets, fake_embedder):
    report = review("q", "North Korea imported more than 1.5 million barrels [2].", two_outlets, fake_embedder)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["status"] == "conflict"
    assert {"text", "value", "unit", "source", "outlet", "n"} <= set(data["values"][0])
    assert data["values"][0] == {
        "text": "more than 1.5 million barrels",
        "value": 1.5e6,
        "unit": "barrel",
        "outlet": "UPI",
        "source": "b.txt",
        "n": 2,
        "quote": IMPORTS.format("1.5 million"),
        "period": "January 1, 2023 to September 30, 2023",
    }
    assert data["conflicts"][0]["ratio"] == pytest.approx(1000) and data["summary"].startswith("Sources disagree")
    assert GuardReport("no_numbers").to_dict() == {
        "status": "no_numbers",
        "values": [],
        "conflicts": [],
        "unsupported": [],
        "bounds": [],
        "timelines": [],
        "summary": "",
    }


# --- what a question asks for -------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, asked",
    [
        (
            "How many barrels of refined oil may North Korea import per year under the U.N. cap?",
            Asked("amount", "barrel"),
        ),
        ("How much refined oil did North Korea import in the first nine months of 2023?", Asked("amount")),
        ("When did the Enhanced Disruption Task Force hold its first meeting?", Asked("date")),
        (
            "How many containers of munitions has North Korea shipped to Russia since July?",
            Asked("amount", "container"),
        ),
        (
            "In how many cases has Russia used North Korean missiles to strike Ukraine, according to Jung Pak?",
            Asked("amount", "case"),
        ),
        ("What price per barrel did North Korea pay for the Russian oil?", Asked("money")),
        ("What percentage of the imports came from Russia?", Asked("percent")),
        ("Who launched the task force?", None),
    ],
)
def test_asked_quantity(question, asked):
    assert asked_quantity(question) == asked


def test_the_seed_questions_ask_for_what_their_expected_answers_state():
    for case in map(json.loads, SEED_QA.read_text().splitlines()):
        asked = asked_quantity(case["question"])
        for expected in case["accept"]:
            answer = f"{expected} {asked.unit}s" if asked.unit else expected
            assert any(asked.accepts(q) for q in extract_quantities(answer, PUBLISHED)), case["id"]


def test_no_passage_states_a_price_so_the_answerer_can_abstain(seed_documents, as_passages):
    figures = [q for p in as_passages(seed_documents.values()) for q in extract_quantities(p.text, p.date)]
    price = asked_quantity("What price per barrel did North Korea pay for the Russian oil?")
    assert [q for q in figures if price.accepts(q)] == []
    barrels = asked_quantity("How many barrels of refined oil may North Korea import per year under the U.N. cap?")
    assert {q.value for q in figures if barrels.accepts(q)} == {5e5, 1.5e9, 1.5e6, 125_000}


# --- the seed articles with the real embedding model --------------------------------------------


def test_seed_outlets_disagree_on_the_imports_and_agree_on_the_cap(pick, real_embedder):
    passages = [
        pick("000", "1.5 billion"),
        pick("001", "1.5 million"),
        pick("001", "500,000 barrels per year"),
        pick("002", "1.5 billion"),
    ]
    report = review(
        "How much refined oil did North Korea import in the first nine months of 2023?",
        "North Korea imported more than 1.5 million barrels of refined oil from January to September last year [2].",
        passages,
        real_embedder,
    )
    assert report.status == "conflict"
    assert [(r.text, r.outlet, r.n) for r in report.conflicts[0].rows] == [
        ("more than 1.5 million barrels", "UPI", 2),
        ("more than 1.5 billion barrels", "Kyiv Independent", 1),
    ]
    assert report.conflicts[0].ratio == pytest.approx(1000)
    assert [b.value for b in report.bounds] == [5e5]
    print("\n" + report.summary())

    cap = review(
        "How many barrels of refined oil may North Korea import per year under the U.N. cap?",
        "North Korea can import no more than 500,000 barrels of refined oil per year [1].",
        passages,
        real_embedder,
    )
    assert cap.status == "ok"
    assert [(r.value, r.outlet) for r in cap.values] == [(5e5, "Kyiv Independent"), (5e5, "UPI")]


def test_across_the_whole_seed_corpus_only_the_imports_conflict(seed_documents, as_passages, real_embedder):
    passages = as_passages(seed_documents.values())
    conflicts = review("q", every_figure(passages), passages, real_embedder).conflicts
    assert [sorted((r.value, r.outlet) for r in c.rows) for c in conflicts] == [
        [(1.5e6, "UPI"), (1.5e9, "Kyiv Independent")]
    ]


def test_tuesday_and_march_26_from_two_outlets_do_not_conflict(pick, real_embedder):
    passages = [pick("000", "March 26"), pick("001", "on Tuesday")]
    report = review(
        "When did the Enhanced Disruption Task Force hold its first meeting?",
        "They first met on March 26 [1]; UPI says on Tuesday [2].",
        passages,
        real_embedder,
    )
    assert report.status == "ok"


@pytest.mark.parametrize(
    "figure, changed, description",
    [
        ("1.5 billion barrels", "1.5 million barrels", "a factor of 1,000, the signature of a million/billion slip."),
        ("1.5 billion barrels", "150 million barrels", "a factor of 10, the signature of a dropped or added zero."),
        ("1.5 billion barrels", "4.5 billion barrels", "a factor of 3."),
        ("1.5 billion barrels", "1.8 billion barrels", "differ by 20%."),
        ("60% of its oil", "40% of its oil", "differ by 20 percentage points."),
    ],
)
def test_a_conflict_says_how_far_apart_the_values_are(figure, changed, description, fake_embedder):
    text = "North Korea imported more than {} in the first nine months of 2023."
    copies = [
        passage("a.txt", text.format(figure), outlet="Kyiv Independent", group="a.txt"),
        passage("c.txt", text.format(changed), outlet="Kyiv Independent", group="a.txt"),
    ]
    (conflict,) = review("q", f"It imported more than {figure} [1].", copies, fake_embedder).conflicts
    assert conflict.description.endswith(description)


def test_the_table_shows_the_values_of_the_kind_asked_for(pick, fake_embedder):
    passages = [pick("000", "no more than 500,000"), pick("001", "500,000 barrels per year")]
    answer = (
        'Kyiv Independent [1]: "North Korea can import no more than 500,000 barrels of refined oil per year." '
        'UPI [2]: "A U.N. Security Council resolution passed in 2017 limits the amount to 500,000 barrels per year."'
    )
    report = review(
        "How many barrels of refined oil may North Korea import per year under the U.N. cap?",
        answer,
        passages,
        fake_embedder,
    )
    assert [(r.text, r.n) for r in report.values] == [("no more than 500,000 barrels", 1), ("500,000 barrels", 2)]
