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


# Issue 14 (2026-12-07): the screen answers in tiers. "Clear" (a phrase, or the model at its
# threshold: it may add 2% of each language's ordinary training sentences on validation to what
# the phrases flag) gives the help and an urgent alert; "unsure" (lower thresholds, 6% more; or a
# phrase where the model sees nothing like a disclosure) a gentle check and a note to the IRO.
# An adult reads a disclosure in either tier; a false alarm here is an urgent one.
#
# Round 5 (tests/data/heldout-v5/), frozen before the training with examples *-n, measured once
# with model 8c33a3fea215: en clear 86/100, heard 96/100, false alarms 7/100; ar 72, 90, 3; sq
# 67, 93, 0; sequences heard en 47/50, ar 35/40, sq 34/40, ordinary sequences flagged en 4/50,
# ar 4/40, sq 1/40. Examples *-o were then written from what round 5's false alarms were like,
# so round 5 became a development set, and round 6 (tests/data/heldout-v6/), frozen before
# that, was measured once with the committed model 3c0f7541ff68: en clear 92/100, heard
# 99/100, false alarms 2/100; ar 69, 81, 3; sq 80, 91, 2; sequences heard en 46/50, ar 35/40,
# sq 37/40, ordinary sequences flagged urgently en 21/50 (twins of the disclosures whose
# first message alone reads as one: "i gave my phone away"), ar 1/40, sq 2/40.
# Round 6's ordinary sequences then showed the model alarming at short mid-conversation
# fragments; examples *-p were written for that (so round 6 became a development set), the false
# alarm budget lowered to 1.5%, and round 7 (tests/data/heldout-v7/), frozen unread before, was
# measured once with model a8d2a64fea2b: en clear 89/100, heard 99/100, false alarms 1/100; ar
# 80, 95, 2; sq 71, 92, 5; sequences heard en 46/50, ar 33/40, sq 33/40, ordinary sequences
# flagged urgently en 3/50, ar 1/40, sq 1/40. Examples *-q were then written from round 7's
# figures (Albanian and Arabic disclosures, told in pieces too; Albanian hard ordinary
# sentences), so round 7 became a development set, and round 8 (tests/data/heldout-v8/), frozen
# unread before, was measured once with model 7d05174fcbb9: en clear 81/100, heard 93/100,
# false alarms 4/100; ar 59, 89, 1; sq 68, 89, 0; sequences heard en 42/50, ar 34/40, sq 34/40,
# ordinary sequences flagged urgently en 0/50, ar 0/40, sq 1/40. Then suicide and immediate
# danger phrases were exempted from the phrase-doubt rule ("i cant go on anymore" had become a
# gentle check); round 8's figures did not move. Examples *-r (ordinary: the kinds of message
# behind rounds 1-8's single-message false alarms) were then added, sequences read together came
# to count an unsure reading when the messages together score 0.1 above each alone, and round 9
# (tests/data/heldout-v9/, 120 + 120 English, 100 + 100 each Arabic and Albanian), frozen unread
# before, was measured once with model 44b5d998e242: en clear 95/120, heard 111/120, false
# alarms 2/120; ar 72/100, 90/100, 1/100; sq 62/100, 83/100, 2/100; sequences heard en 50/50, ar
# 36/40, sq 37/40, ordinary sequences flagged urgently en 4/50, ar 1/40, sq 0/40 (gentle checks
# 10/50, 10/40, 12/40). Round 10 (tests/data/heldout-v10/, the same sizes, written blind after
# round 9 was measured) was frozen unread and measured once with the same model: en clear
# 101/120, heard 116/120, false alarms 1/120; ar 63/100, 79/100, 0/100; sq 66/100, 83/100,
# 1/100; sequences heard en 49/50, ar 35/40, sq 37/40, ordinary sequences flagged urgently en
# 2/50, ar 0/40, sq 1/40. Examples *-s (Arabic and Albanian, of the kinds behind round 10's
# misses) were then added and the model retrained (7902fe8f98ce), and round 11
# (tests/data/heldout-v11/: 100 + 100 English, 120 + 120 each Arabic and Albanian), frozen
# unread before, was measured once: en clear 73/100, heard 90/100, false alarms 0/100; ar
# 74/120, 101/120, 1/120; sq 82/120, 102/120, 0/120; sequences heard en 34/40, ar 47/50, sq
# 44/50, ordinary sequences flagged urgently en 1/40, ar 3/50, sq 5/50. Then a message of five
# words or fewer became never clear on the model's word alone (a gentle check instead; chosen
# on rounds 1-11, by then development sets), and round 12 (tests/data/heldout-v12/: 110 + 110
# English, 130 + 130 each Arabic and Albanian, sequences 50 + 50 and 60 + 60), frozen unread
# before, was measured once with the same model: en clear 88/110, heard 103/110, false alarms
# 0/110; ar 78/130, 116/130, 0/130; sq 83/130, 116/130, 0/130; sequences heard en 48/50, ar
# 56/60, sq 56/60, ordinary sequences flagged urgently en 3/50, ar 3/60, sq 3/60 (gentle checks
# 20/50, 21/60, 20/60: near-twins of the disclosures, most flagged at the opening they share,
# before the harmless ending). Round 13 (tests/data/heldout-v13/: the same sizes, sequences 60 +
# 60 and 70 + 70, half the ordinary ones opening exactly like a worry), frozen unread with no
# change to the screen, was measured once: en clear 85/110, heard 101/110, false alarms 2/110;
# ar 85/130, 113/130, 0/130; sq 81/130, 115/130, 0/130; sequences heard en 53/60, ar 61/70, sq
# 67/70, ordinary sequences flagged urgently en 8/60, ar 5/70, sq 6/70. Then the phrase files
# gained number rules (an adult's age said of a boyfriend or a new friend, a count of pills),
# and round 14 (tests/data/heldout-v14/, round 13's sizes and brief), frozen unread before, was
# measured once: en clear 82/110, heard 103/110, false alarms 2/110; ar 72/130, 112/130, 0/130;
# sq 79/130, 115/130, 4/130; sequences heard en 56/60, ar 63/70, sq 67/70, ordinary sequences
# flagged urgently en 5/60, ar 3/70, sq 2/70. Then "im not suicidal" became a denial and Arabic
# negations with "و" joined on negate too (both chosen on rounds 1-14), and round 15
# (tests/data/heldout-v15/, the same sizes and brief), frozen unread before, was measured once:
# en clear 90/110, heard 105/110, false alarms 3/110; ar 76/130, 107/130, 0/130; sq 89/130,
# 120/130, 2/130; sequences heard en 59/60, ar 64/70, sq 67/70, ordinary sequences flagged
# urgently en 8/60, ar 2/70, sq 3/70 (every one at a first message that alone is a worry).
# Then phrases for neglect told by when the child last ate and for a parent hurt in front of
# the child were added (chosen on rounds 14-15's misses), and round 16 (tests/data/heldout-v16/,
# the same sizes and brief), frozen unread before, was measured once: en clear 80/110, heard
# 97/110, false alarms 1/110; ar 78/130, 114/130, 0/130; sq 78/130, 117/130, 0/130; sequences
# heard en 56/60, ar 59/70, sq 60/70, ordinary sequences flagged urgently en 6/60, ar 0/70, sq
# 1/70. Then the number rules gained words for a boyfriend and the phrases gained punishments
# that hurt and "scared of her" (from round 16's misses), and round 17 (tests/data/heldout-v17/,
# the same sizes and brief), frozen unread before, was measured once: en clear 81/110, heard
# 99/110, false alarms 1/110; ar 73/130, 115/130, 2/130; sq 85/130, 107/130, 3/130; sequences
# heard en 57/60, ar 61/70, sq 65/70, ordinary sequences flagged urgently en 8/60, ar 0/70, sq
# 4/70. Then must-hear wording found by probing was added to the phrases in all three languages
# (short direct disclosures the five-word rule left to the gentle check, and some neither tier
# heard), and round 18 (tests/data/heldout-v18/, the same sizes and brief), frozen unread before,
# was measured once: en clear 80/110, heard 103/110, false alarms 1/110; ar 81/130, 108/130,
# 0/130; sq 94/130, 116/130, 0/130; sequences heard en 56/60, ar 61/70, sq 66/70, ordinary
# sequences flagged urgently en 6/60, ar 6/70, sq 4/70. Then a second probe added more
# must-hear phrases and `sure_phrases` (phrases never doubted by the model), and round 19
# (tests/data/heldout-v19/, the same sizes and brief), frozen unread before, was measured once:
# en clear 86/110, heard 103/110, false alarms 2/110; ar 78/130, 110/130, 0/130; sq 91/130,
# 117/130, 1/130; sequences heard en 57/60, ar 57/70, sq 59/70, ordinary sequences flagged
# urgently en 7/60, ar 2/70, sq 1/70. The floors of every round are this screen's.
# `python tests/measure_screen.py` prints every figure. Floors: a sentence below each figure;
# ceilings a sentence above.
# round: locale: (clear recall at least, clear-or-unsure recall at least, false alarms at most)
FLOORS: dict[str, dict[str, tuple[float, float, float]]] = {
    "round 1": {
        "en": (0.825, 0.931, 0.025),
        "ar": (0.76, 0.94, 0.02),
        "sq": (0.88, 0.94, 0.02),
    },
    "round 2": {
        "en": (0.8, 0.922, 0.029),
        "ar": (0.866, 0.911, 0.115),
        "sq": (0.8, 0.911, 0.029),
    },
    "round 3": {
        "en": (0.78, 0.9, 0.01),
        "ar": (0.683, 0.883, 0.05),
        "sq": (0.733, 0.9, 0.034),
    },
    "round 4": {
        "en": (0.81, 0.94, 0.02),
        "ar": (0.816, 0.966, 0.034),
        "sq": (0.7, 0.933, 0.017),
    },
    "round 5": {
        "en": (0.77, 0.93, 0.06),
        "ar": (0.81, 0.94, 0.03),
        "sq": (0.68, 0.88, 0.02),
    },
    "round 6": {
        "en": (0.83, 0.95, 0.02),
        "ar": (0.75, 0.9, 0.06),
        "sq": (0.74, 0.95, 0.03),
    },
    "round 7": {
        "en": (0.86, 0.98, 0.03),
        "ar": (0.86, 0.97, 0.02),
        "sq": (0.79, 0.95, 0.02),
    },
    "round 8": {
        "en": (0.76, 0.91, 0.03),
        "ar": (0.63, 0.92, 0.01),
        "sq": (0.63, 0.86, 0.01),
    },
    "round 9": {
        "en": (0.741, 0.933, 0.034),
        "ar": (0.64, 0.92, 0.02),
        "sq": (0.55, 0.83, 0.04),
    },
    "round 10": {
        "en": (0.75, 0.95, 0.017),
        "ar": (0.59, 0.83, 0.01),
        "sq": (0.63, 0.9, 0.01),
    },
    "round 11": {
        "en": (0.72, 0.89, 0.01),
        "ar": (0.583, 0.833, 0.009),
        "sq": (0.658, 0.841, 0.009),
    },
    "round 12": {
        "en": (0.79, 0.927, 0.01),
        "ar": (0.592, 0.884, 0.008),
        "sq": (0.63, 0.884, 0.008),
    },
    "round 13": {
        "en": (0.763, 0.909, 0.028),
        "ar": (0.646, 0.861, 0.008),
        "sq": (0.615, 0.876, 0.008),
    },
    "round 14": {
        "en": (0.736, 0.927, 0.028),
        "ar": (0.546, 0.853, 0.008),
        "sq": (0.599, 0.876, 0.039),
    },
    "round 15": {
        "en": (0.809, 0.945, 0.036),
        "ar": (0.576, 0.815, 0.008),
        "sq": (0.676, 0.915, 0.023),
    },
    "round 16": {
        "en": (0.718, 0.872, 0.019),
        "ar": (0.592, 0.869, 0.008),
        "sq": (0.592, 0.892, 0.008),
    },
    "round 17": {
        "en": (0.727, 0.89, 0.019),
        "ar": (0.553, 0.876, 0.024),
        "sq": (0.646, 0.815, 0.031),
    },
    "round 18": {
        "en": (0.718, 0.927, 0.019),
        "ar": (0.615, 0.823, 0.008),
        "sq": (0.715, 0.884, 0.008),
    },
    "round 19": {
        "en": (0.772, 0.927, 0.028),
        "ar": (0.592, 0.838, 0.008),
        "sq": (0.692, 0.892, 0.016),
    },
}
# Sequences: round: locale: (heard at least, ordinary sequences flagged urgently at most).
SEQUENCE_FLOORS: dict[str, dict[str, tuple[float, float]]] = {
    "round 5": {
        "en": (0.9, 0.04),
        "ar": (0.925, 0.05),
        "sq": (0.875, 0.05),
    },
    "round 6": {
        "en": (0.92, 0.16),
        "ar": (0.95, 0.025),
        "sq": (0.95, 0.1),
    },
    "round 7": {
        "en": (0.92, 0.04),
        "ar": (0.95, 0.025),
        "sq": (0.925, 0.025),
    },
    "round 8": {
        "en": (0.9, 0.02),
        "ar": (0.9, 0.025),
        "sq": (0.85, 0.025),
    },
    "round 9": {
        "en": (0.98, 0.04),
        "ar": (0.9, 0.025),
        "sq": (0.9, 0.025),
    },
    "round 10": {
        "en": (0.98, 0.04),
        "ar": (0.9, 0.025),
        "sq": (0.875, 0.025),
    },
    "round 11": {
        "en": (0.8, 0.05),
        "ar": (0.92, 0.04),
        "sq": (0.86, 0.04),
    },
    "round 12": {
        "en": (0.94, 0.08),
        "ar": (0.916, 0.067),
        "sq": (0.916, 0.067),
    },
    "round 13": {
        "en": (0.866, 0.15),
        "ar": (0.857, 0.086),
        "sq": (0.942, 0.1),
    },
    "round 14": {
        "en": (0.916, 0.1),
        "ar": (0.885, 0.058),
        "sq": (0.942, 0.043),
    },
    "round 15": {
        "en": (0.966, 0.15),
        "ar": (0.899, 0.043),
        "sq": (0.942, 0.058),
    },
    "round 16": {
        "en": (0.916, 0.117),
        "ar": (0.828, 0.015),
        "sq": (0.842, 0.029),
    },
    "round 17": {
        "en": (0.933, 0.15),
        "ar": (0.857, 0.015),
        "sq": (0.914, 0.072),
    },
    "round 18": {
        "en": (0.916, 0.117),
        "ar": (0.857, 0.1),
        "sq": (0.928, 0.072),
    },
    "round 19": {
        "en": (0.933, 0.134),
        "ar": (0.799, 0.043),
        "sq": (0.828, 0.029),
    },
}
SEQUENCES = sets.SEQUENCES


@pytest.fixture(scope="module")
def screen() -> Screen:
    return Screen.for_content(load_content(ROOT / "content"))


ROUNDS = sets.ROUNDS


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
@pytest.mark.parametrize("round_", list(SEQUENCES))
def test_worries_told_in_pieces_stay_heard(screen, round_, locale):
    heard_floor, false_alarm_ceiling = SEQUENCE_FLOORS[round_][locale]
    read = SEQUENCES[round_]
    told = [sets.tier_of_sequence(screen, s) for s in read(locale, "disclosure")]
    ordinary = [sets.tier_of_sequence(screen, s) for s in read(locale, "ordinary")]
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
