"""The screen's recall and false alarms on sets it was never trained or tuned on.

The held-out sets (tests/data/heldout/) were written blind and frozen before the screen's
model was built; they were measured once, at the end (figures in issue 8 and in the README).
The floors below are those figures less a small margin: a change to phrases, examples or model
that hears fewer disclosures, or raises more false alarms, fails here. `make bench` prints the
figures themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.safeguarding_model import Screen
from storage.content import load_content
from tests import screening_sets as sets

ROOT = Path(__file__).resolve().parent.parent


# Issue 14 (2026-12-07): the screen answers in tiers. "Clear" (phrases, or the model at its
# threshold, chosen so that at most 2% of ordinary sentences in each language are flagged on
# validation) gives the help and an urgent alert; "unsure" (lower thresholds, at most 8%) a
# gentle check and a note to the IRO. So an adult reads a disclosure in either tier, and a
# false alarm is an urgent one. The fifth blind round (tests/data/heldout-v5/, 100 + 100 in each
# language, and sequences of 2-4 messages) was frozen unread before the training and measured
# once with the committed model 8c33a3fea215 (examples *-n added):
#   en: clear 86/100, clear or unsure 96/100; false alarms 7/100 (5 of them the phrases'),
#       gentle checks 6/100
#   ar: clear 72/100, clear or unsure 90/100; false alarms 3/100, gentle checks 7/100
#   sq: clear 67/100, clear or unsure 93/100; false alarms 0/100, gentle checks 5/100
#   sequences: heard en 47/50, ar 35/40, sq 34/40; ordinary sequences flagged urgently en 4/50,
#   ar 4/40, sq 1/40 (and gently checked en 9/50, ar 5/40, sq 8/40)
# The same model on rounds 1-4 (development sets by then): tests/measure_screen.py prints them
# all. Floors: a sentence below each figure; ceilings a sentence above.
# round: locale: (clear recall at least, clear-or-unsure recall at least, false alarms at most)
FLOORS: dict[str, dict[str, tuple[float, float, float]]] = {
    "round 1": {"en": (0.82, 0.96, 0.04), "ar": (0.82, 0.88, 0.02), "sq": (0.88, 0.96, 0.04)},
    "round 2": {"en": (0.81, 0.95, 0.03), "ar": (0.71, 0.82, 0.09), "sq": (0.68, 0.93, 0.06)},
    "round 3": {"en": (0.80, 0.94, 0.01), "ar": (0.70, 0.86, 0.05), "sq": (0.70, 0.91, 0.04)},
    "round 4": {"en": (0.79, 0.96, 0.03), "ar": (0.70, 0.98, 0.04), "sq": (0.66, 0.90, 0.02)},
    "round 5": {"en": (0.85, 0.95, 0.08), "ar": (0.71, 0.89, 0.04), "sq": (0.66, 0.92, 0.01)},
}
# Round 5's sequences: (heard at least, ordinary sequences flagged urgently at most).
SEQUENCE_FLOORS = {"en": (0.92, 0.10), "ar": (0.85, 0.125), "sq": (0.82, 0.05)}


@pytest.fixture(scope="module")
def screen() -> Screen:
    return Screen.for_content(load_content(ROOT / "content"))


ROUNDS = {
    "round 1": sets.heldout,
    "round 2": sets.heldout_v2,
    "round 3": sets.heldout_v3,
    "round 4": sets.heldout_v4,
    "round 5": sets.heldout_v5,
}


@pytest.mark.parametrize("locale", sets.LOCALES)
@pytest.mark.parametrize("round_", list(ROUNDS))
def test_held_out_recall_and_false_alarms_stay_above_their_floors(screen, round_, locale):
    read = ROUNDS[round_]
    clear_floor, heard_floor, false_alarm_ceiling = FLOORS[round_][locale]
    disclosures = read(locale, "disclosures")
    clear = sets.flagged(screen.categories, disclosures)
    heard = sets.flagged(lambda t: screen.assess(t).tier, disclosures)
    false_alarms = sets.flagged(screen.categories, read(locale, "ordinary"))
    assert clear.share >= clear_floor, f"clear recall {clear}"
    assert heard.share >= heard_floor, f"clear or unsure recall {heard}"
    assert false_alarms.share <= false_alarm_ceiling, f"false alarms {false_alarms}"


@pytest.mark.parametrize("locale", sets.LOCALES)
def test_worries_told_in_pieces_stay_heard(screen, locale):
    heard_floor, false_alarm_ceiling = SEQUENCE_FLOORS[locale]
    told = [sets.tier_of_sequence(screen, s) for s in sets.sequences_v5(locale, "disclosure")]
    ordinary = [sets.tier_of_sequence(screen, s) for s in sets.sequences_v5(locale, "ordinary")]
    assert sum(t is not None for t in told) / len(told) >= heard_floor
    assert sum(t == "clear" for t in ordinary) / len(ordinary) <= false_alarm_ceiling


@pytest.mark.parametrize("locale", sets.LOCALES)
def test_no_loss_on_the_phrase_layers_own_corpora(screen, locale):
    # Every disclosure the phrase lists were written for is still heard, and ordinary answers
    # stay quiet.
    missed = [t for t in sets.corpus(locale, "disclosures") if not screen.categories(t)]
    assert missed == []
    flagged = [t for t in sets.corpus(locale, "ordinary") if screen.categories(t)]
    assert len(flagged) <= 0.05 * len(sets.corpus(locale, "ordinary")), flagged
