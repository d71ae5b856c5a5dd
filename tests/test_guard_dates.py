"""What a date in an article is of: resolved against the article's day (a weekday written with a day,
a day of the coming week, a scheduled day, a weekday of the next morning), and compared at the
precision both give (a bare month, a day without its year)."""

from datetime import date

import pytest

from rag import guard
from rag.dates import find_dates
from rag.retrieval import Passage


def passage(source, text, *, day, outlet="AP"):
    return Passage(f"{source}#0", source, text, 0, len(text), outlet, None, day, source, 0.0)


def mention(text, figure, *, day, source="a.txt"):
    (found,) = [m for m in guard._mentions([passage(source, text, day=day)]) if m.quantity.text.startswith(figure)]
    return found


def resolved(text, published):
    (written,) = find_dates(text, date.fromisoformat(published))
    return date(written.year, written.month, written.day).isoformat()


@pytest.mark.parametrize(
    "text, published, day",
    [
        ("The show returns Sunday, Jan. 7, on a new network.", "2024-01-03", "2024-01-07"),  # the weekday says 2024
        ("Police said it happened on Friday, Dec. 29.", "2024-01-03", "2023-12-29"),
        ("The groundhog emerges on Feb. 2 at dawn.", "2017-01-31", "2017-02-02"),  # of the coming week
        ("The recall began on Feb. 2 with letters.", "2017-06-30", "2017-02-02"),
        ("It closed on Dec. 20 for the winter.", "2017-01-10", "2016-12-20"),
    ],
)
def test_a_day_without_its_year_takes_it_from_its_weekday_or_the_coming_week(text, published, day):
    assert resolved(text, published) == day


def test_a_weekday_written_with_a_day_is_one_date():
    (written,) = find_dates("on Thursday, Nov. 7, 2024.")
    assert (written.start, written.year, written.month, written.day) == (3, 2024, 11, 7)


def test_a_scheduled_day_is_the_next_such_day_and_a_date_ahead_is_a_forecast():
    trial = mention("The trial is set to begin Jan. 23 at the county courthouse.", "Jan. 23", day="2022-07-14")
    assert (trial.quantity.value, trial.modality) == (20230123.0, "forecast")
    vote = mention("The House will vote Friday on the bill.", "Friday", day="2022-08-08")  # a Monday
    assert vote.quantity.value == 20220812.0
    concert = mention(
        "Shakira is bringing her tour to Phoenix on Thursday, Nov. 7, 2024.", "Thursday", day="2023-11-14"
    )
    assert concert.modality == "forecast"
    film = mention("Fans might see the 1983 film again.", "1983", day="2023-04-11")
    assert film.modality == "actual"


def test_an_amount_whose_own_verb_is_to_come_is_a_forecast():
    parade = mention("About 10,500 athletes will parade on boats along the river.", "About 10,500", day="2024-03-13")
    assert parade.modality == "forecast"
    assert mention("About 10,500 athletes paraded on boats.", "About 10,500", day="2024-08-13").modality == "actual"


def test_a_weekday_may_be_the_morning_after_its_articles_day():
    text = "On Wednesday morning, she told a TV show that she is thinking about running."
    tuesday = mention(text, "Wednesday", day="2022-08-16", source="a.txt")
    wednesday = mention(text, "Wednesday", day="2022-08-17", source="b.txt")
    assert tuesday.quantity.value == 20220810.0  # the latest Wednesday, or the next morning
    assert guard._agree(tuesday, wednesday) and guard._comparable(tuesday, wednesday)
    last = mention("She married him last Saturday at the White House.", "Saturday", day="2022-11-18")
    assert [q.value for q in last.days] == [20221112.0]
    week_apart = mention(text, "Wednesday", day="2022-08-24", source="c.txt")
    assert not guard._comparable(wednesday, week_apart)  # a week later: another Wednesday


def test_dates_are_compared_at_the_precision_both_give():
    april = mention("The judge approved the settlement in April after a long fight.", "April", day="2015-09-26")
    day = mention(
        "The judge approved the settlement on April 22, 2015, after a long fight.", "April 22", day="2015-09-26"
    )
    day = guard._Mention(**{**day.__dict__, "passage": passage("b.txt", day.passage.text, day="2015-09-26")})
    assert guard._comparable(april, day) and guard._agree(april, day)
    month = mention("Restrictions began at the border in March 2020, officials recalled.", "March", day="2022-03-29")
    inferred = mention(
        "Travel at the border was first restricted March 21 to slow the virus.", "March", day="2020-09-24"
    )
    assert guard._agree(month, inferred)


def test_the_horizon_of_a_record_dates_no_event():
    record = mention("Food prices rose 7.9%, the biggest jump since July 1981.", "July", day="2022-03-22")
    change = mention("Food prices overall rose 4.6% since September 2020, data showed.", "September", day="2021-10-13")
    change = guard._Mention(**{**change.__dict__, "passage": passage("b.txt", change.passage.text, day="2021-10-13")})
    assert record.horizon and not change.horizon
    assert not guard._comparable(record, change)


def test_a_weekday_written_alone_dates_no_event_of_another_year():
    speech = mention("Cheney vowed to fight on in a speech Tuesday night after conceding.", "Tuesday", day="2022-08-16")
    attack = mention(
        "Cheney, who since the January 6, 2021, insurrection has become a critic, was ousted.",
        "January",
        day="2022-08-16",
        source="b.txt",
    )
    assert not guard._comparable(speech, attack)
    meeting = mention("The meeting on March 26 went well.", "March", day="2024-03-28", source="c.txt")
    tuesday = mention("The meeting on Tuesday went well.", "Tuesday", day="2024-03-28", source="d.txt")
    assert guard._comparable(meeting, tuesday) and guard._agree(meeting, tuesday)


def test_a_price_per_unit_is_never_compared_with_a_total():
    text = "The average price for the frozen turkey is $21.50, or a fraction more than $1.34 per pound."
    total, per_pound = mention(text, "$21.50", day="2025-11-19"), mention(text, "more than $1.34", day="2025-11-19")
    other = mention("The average price for a 16-pound turkey is $21.50.", "$21.50", day="2025-11-19", source="b.txt")
    assert (total.rate, per_pound.rate) == (None, "pound")
    assert guard._comparable(total, other) and not guard._comparable(per_pound, other)
