"""Which figures of two articles are one quantity: the learned alignment model's features (names,
the subject, the words next to a figure, titles, days apart), the figures never compared (an
outlet's dateline, the day a source spoke), days written without their year, and the counted noun
of a figure (fake embedder)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from rag import guard
from rag.guard import ALIGNMENT_FILE, alignment, names, pair_features, review
from rag.quantities import extract_quantities
from rag.retrieval import Passage


def passage(source, text, *, outlet="CNN", day="2022-08-16", title=None):
    return Passage(f"{source}#0", source, text, 0, len(text), outlet, title, day, source, 0.0)


def mention(text, figure, **where):
    (found,) = [m for m in guard._mentions([passage("a.txt", text, **where)]) if m.quantity.text.startswith(figure)]
    return found


def test_names_are_capitalised_words_and_acronyms_not_a_sentences_first_word():
    text = (
        "Pyongyang is subject to a limit imposed by the U.N. Security Council in 2017. "
        "According to the cap, North Korea can import no more than 500,000 barrels on Tuesday."
    )
    assert names(text) == {"u.n", "security", "council", "north", "korea"}
    # a possessive is its name's ("Kim's" is Kim), with either apostrophe; other endings stay ("O'Neill")
    assert names("Officials said Kim's envoy met O'Neill and McDonald’s staff.") == {"kim", "o'neill", "mcdonald"}


def test_the_learned_model_is_read_from_its_file_with_what_it_was_measured_on():
    data = json.loads(ALIGNMENT_FILE.read_text(encoding="utf-8"))
    model = alignment()
    for regression in (model.amounts, model.dates):
        assert len(regression.weights) == len(model.features) == len(data["features"])
        assert 0 < regression.threshold < 1
    assert {"train", "dev", "seeds"} <= set(data["measured"])


def test_features_tell_one_persons_sentence_from_anothers():
    smith = "Prosecutors said John Smith had defrauded investors. He was sentenced to 12 years in prison."
    smith_again = "John Smith, the former banker, was sentenced to 12 years in prison on Monday."
    jones = "Mary Jones ran a charity in Ohio. She was sentenced to 12 years in prison."
    a = mention(smith, "12 years", title="Banker John Smith sentenced")
    b = mention(smith_again, "12 years", day="2022-08-17", title="Former banker Smith gets 12 years")
    c = mention(jones, "12 years", day="2022-08-17", title="Ohio charity head sentenced")
    same, other = pair_features(a, b, 0.9), pair_features(a, c, 0.9)
    subject, title = guard_feature("subject names"), guard_feature("title words")
    assert same[subject] == 1.0 and other[subject] == -1.0
    assert same[title] > other[title]
    amounts = alignment().amounts
    assert amounts.probabilities(np.array(same)) > amounts.probabilities(np.array(other))


def guard_feature(name):
    return alignment().features.index(name)


@pytest.mark.parametrize(
    "text, figure",
    [
        ("SEOUL, March 27 (UPI) -- The two countries launched a task force.", "March 27"),
        ("The two countries launched a task force, both governments said Wednesday.", "Wednesday"),
        ("Cheney told NBC on Tuesday that she is thinking about it.", "Tuesday"),
    ],
)
def test_a_dateline_and_the_day_an_unnamed_source_spoke_are_never_compared(text, figure):
    assert [q for q in extract_quantities(text, "2024-03-27") if q.text == figure]
    assert not [m for m in guard._mentions([passage("a.txt", text, day="2024-03-27")]) if m.quantity.text == figure]


def test_the_day_a_named_source_spoke_is_compared_only_with_the_day_of_that_speakers_statement():
    said = mention('"It stinks," Chief Baseball Officer Chaim Bloom said Tuesday.', "Tuesday", day="2022-08-09")
    again = mention('"It stinks," Chief Baseball Officer Chaim Bloom said Monday.', "Monday", day="2022-08-09")
    other = mention("The team's manager, Alex Cora, said Tuesday that he was relieved.", "Tuesday", day="2022-08-09")
    event = mention("The pitcher had surgery on Tuesday, the team said.", "Tuesday", day="2022-08-09")
    assert said.speaker == again.speaker == "bloom" and other.speaker == "cora" and event.speaker is None
    b = replace(again, passage=passage("b.txt", again.passage.text, outlet="USA Today", day="2022-08-09"))
    assert guard._comparable(said, b) and not guard._agree(said, b)
    assert not guard._comparable(said, replace(other, passage=b.passage))
    assert not guard._comparable(said, replace(event, passage=b.passage))
    dateline = "BOSTON, Aug. 9 (UPI) -- The pitcher had surgery, Chaim Bloom said."
    assert [m.quantity.text for m in guard._mentions([passage("a.txt", dateline, day="2022-08-09")])] == []


def test_a_day_written_without_its_year_agrees_with_that_day_of_another_year(fake_embedder):
    text = "Cheney is vice chair of the committee investigating the {} attack on the US Capitol."
    passages = [
        passage("a.txt", text.format("January 6"), day="2022-08-16"),
        passage("b.txt", text.format("January 6, 2021"), outlet="USA Today", day="2022-08-16"),
    ]
    report = review("When was the attack?", "The attack was on January 6, 2021 [2].", passages, fake_embedder)
    assert report.status == "ok" and report.conflicts == []
    assert [(row.text, row.outlet) for row in report.values] == [("January 6, 2021", "USA Today"), ("January 6", "CNN")]


@pytest.mark.parametrize(
    "text, unit",
    [
        ("the United States has more than 5,000 probable or confirmed monkeypox cases", "case"),
        ("With more than 10,000 monkeypox cases in the United States", "case"),
        ("It has 47 confirmed monkeypox cases.", "case"),
        ("At least 30 killed in the attack", ""),
    ],
)
def test_the_counted_noun_past_adjectives_and_a_noun_modifier(text, unit):
    (quantity,) = extract_quantities(text)
    assert quantity.unit == unit


def test_another_outlets_count_of_what_the_question_asks_is_compared_however_its_sentence_goes_on(fake_embedder):
    question = "How many monkeypox cases are in the United States?"
    passages = [
        passage(
            "a.txt",
            "As of Friday, the United States has more than 5,000 confirmed monkeypox cases, according to CDC data.",
            day="2022-07-29",
        ),
        passage(
            "b.txt",
            "With more than 10,000 monkeypox cases in the United States and vaccine demand remaining high, "
            "Jynneos has been in short supply for weeks as clinics turn people away.",
            outlet="USA Today",
            day="2022-08-10",
        ),
    ]
    answer = "The United States has more than 5,000 confirmed monkeypox cases [1]."
    report = review(question, answer, passages, fake_embedder, as_of="2022-08-12")
    assert report.status == "changed"
    (timeline,) = report.timelines
    assert [(row.value, row.period) for row in timeline.rows] == [(5000, "July 29, 2022"), (10000, "August 10, 2022")]
    assert timeline.latest.value == 10000
    # Not a question about cases: the two clauses alone decide, and they are not alike enough.
    other = review("What did CDC data show?", answer, passages, fake_embedder, as_of="2022-08-12")
    assert other.status == "ok" and [row.value for row in other.values] == [5000]


def test_a_year_before_the_article_is_never_a_forecast():
    text = "Younger viewers may discover the 1983 film this spring, and a sequel will likely open in 2026."
    assert mention(text, "1983", day="2022-05-04").modality == "actual"
    assert mention(text, "2026", day="2022-05-04").modality == "forecast"


def test_other_figures_two_reports_share_count_for_one_event_and_never_against():
    settled = "A judge approved the settlement on April 22, 2015. It could pay 21,000 players $900 million."
    again = "The settlement of April 22, 2015 would give some 21,000 retired players $900 million over time."
    recall = "Letters will be mailed on April 22, 2015 to owners of 280,000 vehicles."
    bare = "Letters will be mailed on April 22, 2015."
    a, b = mention(settled, "April 22"), mention(again, "April 22", day="2022-08-17")
    c, d = mention(recall, "April 22", day="2022-08-17"), mention(bare, "April 22", day="2022-08-17")
    passages, sentences = (
        guard_feature("other figures shared by the passages"),
        guard_feature("other figures shared by the sentences"),
    )
    assert pair_features(a, b, 0.8)[passages] == 1.0
    assert pair_features(a, c, 0.8)[passages] == 0.0  # other figures, yet no evidence against
    assert pair_features(a, d, 0.8)[passages] == 0.0  # none at all
    assert pair_features(a, b, 0.8)[sentences] == 0.0  # the first sentence states no other figure


def test_dates_naming_one_month_share_it_and_amounts_or_other_months_share_nothing():
    feature = guard_feature("months and weekdays shared by the dates")
    attack = mention("Cheney is vice chair of the committee investigating the January 6 attack.", "January 6")
    insurrection = mention("Since the Jan. 6, 2021, insurrection, Cheney has become a critic.", "Jan. 6, 2021")
    march = mention("The committee first met on March 6, 2021, in Washington.", "March 6, 2021")
    other = replace(insurrection, passage=passage("b.txt", insurrection.passage.text, outlet="USA Today"))
    assert attack.calendar == insurrection.calendar == {1}
    assert pair_features(attack, other, 0.5)[feature] == 1.0
    assert pair_features(attack, march, 0.5)[feature] == 0.0
    assert mention("The state has 5,000 cases in January.", "5,000").calendar == frozenset()
