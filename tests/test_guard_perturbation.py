"""A ClashEval-style perturbation suite for the guard.

Each case edits one figure in a copy of a seed article (or re-writes it in another form) and
compares the copy with the unedited article, through the real corpus loader and chunker. An edited
figure must come out as a conflict between exactly the old and the new value; a re-formatted one
(1.5bn, 1,500,000, 5 for five, 7000) must not. Precision and recall are printed and must be 1.0.
The copy cases run with the fake embedder; all cases, among them edits checked against the other
outlet, run with the real model.
"""

from dataclasses import dataclass
from pathlib import Path

from conftest import read_corpus

from rag.guard import compare_sources

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
KI, UPI = "000_c86ae2c1829589a0.txt", "001_25f5c16d28b27090.txt"
# The seeds state no percentage: both the article and its copy get this sentence in place of one.
UNCLEAR = "It is unclear what percentage of these imports may have come from Russia."
PERCENT = "The ministry said about 40% of these imports came from Russia."


@dataclass(frozen=True)
class Case:
    name: str
    seed: str  # the article edited
    old: str
    new: str
    changed: tuple[float, float] | None  # the values that must conflict; None for a re-formatting
    against: str | None = None  # the unedited article of another outlet; None: the unedited copy of `seed`

    def edit(self, text: str) -> str:
        assert text.count(self.old) == 1, f"{self.name}: '{self.old}' must occur once"
        return text.replace(self.old, self.new)


CASES = [
    # Edits: each must be flagged.
    Case("billion->million", KI, "1.5 billion barrels", "1.5 million barrels", (1.5e9, 1.5e6)),
    Case("million->billion", UPI, "1.5 million barrels", "1.5 billion barrels", (1.5e6, 1.5e9)),
    Case("cap 500,000->50,000 (KI)", KI, "no more than 500,000", "no more than 50,000", (5e5, 5e4)),
    Case("cap 500,000->50,000 (UPI)", UPI, "to 500,000 barrels", "to 50,000 barrels", (5e5, 5e4)),
    Case("containers 7,000->70,000", UPI, "around 7,000 containers", "around 70,000 containers", (7e3, 7e4)),
    Case("tankers five->fifteen", UPI, "at least five North", "at least fifteen North", (5, 15)),
    Case("percent 40%->60%", KI, "about 40% of", "about 60% of", (40, 60)),
    Case("shells 3 million->3 billion", KI, "over 3 million", "over 3 billion", (3e6, 3e9)),
    Case("officials 30->300", UPI, "more than 30 officials", "more than 300 officials", (30, 300)),
    Case("cases 10->12", KI, "at least 10 cases", "at least 12 cases", (10, 12)),
    Case("tanker load 125,000->12,500", UPI, "up to 125,000", "up to 12,500", (125_000, 12_500)),
    Case("meeting date March 26->March 25", KI, "meeting on March 26", "meeting on March 25", (20240326, 20240325)),
    Case("resolution year 2017->2016", UPI, "passed in 2017", "passed in 2016", (2017, 2016)),
    Case("cap 500,000->50,000 against UPI", KI, "no more than 500,000", "no more than 50,000", (5e5, 5e4), against=UPI),
    Case(
        "cap 500,000->5,000,000 against KI", UPI, "to 500,000 barrels", "to 5,000,000 barrels", (5e5, 5e6), against=KI
    ),
    # Re-formattings: none may be flagged.
    Case("1.5 billion = 1.5bn", KI, "1.5 billion barrels", "1.5bn barrels", None),
    Case("1.5 million = 1,500,000", UPI, "1.5 million barrels", "1,500,000 barrels", None),
    Case("five = 5", UPI, "at least five North", "at least 5 North", None),
    Case("7,000 = 7000", UPI, "around 7,000 containers", "around 7000 containers", None),
    Case("500,000 = 500 thousand", KI, "no more than 500,000", "no more than 500 thousand", None),
    Case("40% = 40 percent", KI, "about 40% of", "about 40 percent of", None),
    Case("30 = thirty", UPI, "more than 30 officials", "more than thirty officials", None),
    Case("3 million = 3,000,000", KI, "over 3 million", "over 3,000,000", None),
    Case("March 26 = 26 March", KI, "meeting on March 26", "meeting on 26 March", None),
    Case("Tuesday = March 26", UPI, "meeting on Tuesday", "meeting on March 26", None),
    Case("1.5 billion = 1.5bn against UPI", KI, "1.5 billion barrels", "1.5bn barrels", None, against=UPI),
    Case("500,000 barrels = 500,000 bbl against KI", UPI, "500,000 barrels per", "500,000 bbl per", None, against=KI),
]


def seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8").replace(UNCLEAR, PERCENT)


def signatures(conflicts) -> set[frozenset[float]]:
    return {frozenset(round(row.value, 3) for row in conflict.rows) for conflict in conflicts}


def conflicts_of(files: dict[str, str], folder: Path, embedder, as_passages):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    documents = read_corpus(folder)
    return compare_sources(as_passages(documents), embedder), documents


def run_suite(cases, embedder, tmp_path, as_passages) -> tuple[float, float]:
    """Score every case; prints the table, precision and recall."""
    true_positive = false_positive = false_negative = 0
    for number, case in enumerate(cases):
        original = seed_text(case.seed)
        other = {"copy_" + case.seed: original} if case.against is None else {case.against: seed_text(case.against)}
        baseline, _ = conflicts_of({case.seed: original, **other}, tmp_path / f"{number}-base", embedder, as_passages)
        edited, documents = conflicts_of(
            {case.seed: case.edit(original), **other}, tmp_path / f"{number}-edit", embedder, as_passages
        )
        if case.against is None:
            assert len({d.group for d in documents}) == 1, "the copy must fall in the article's story group"
        assert all(row.outlet and row.source and row.n for conflict in edited for row in conflict.rows)
        flagged = signatures(edited) - signatures(baseline)
        expected = {frozenset(round(v, 3) for v in case.changed)} if case.changed else set()
        assert signatures(baseline) <= signatures(edited), f"{case.name}: a conflict of the unedited articles was lost"
        true_positive += len(flagged & expected)
        false_positive += len(flagged - expected)
        false_negative += len(expected - flagged)
        verdict = "ok" if flagged == expected else "WRONG"
        print(f"  {verdict:5} {case.name:42} flagged {sorted(sorted(s) for s in flagged)}")
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 1.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 1.0
    print(f"  {len(cases)} cases: precision {precision:.2f}, recall {recall:.2f}")
    return precision, recall


def test_perturbed_copies_are_flagged_and_reformatted_ones_are_not(fake_embedder, tmp_path, as_passages):
    print("\nperturbation suite, copies, fake embedder:")
    assert run_suite([c for c in CASES if c.against is None], fake_embedder, tmp_path, as_passages) == (1.0, 1.0)


def test_perturbation_suite_with_the_real_embedder(real_embedder, tmp_path, as_passages):
    print("\nperturbation suite, copies and other outlets, all-MiniLM-L6-v2:")
    assert run_suite(CASES, real_embedder, tmp_path, as_passages) == (1.0, 1.0)
