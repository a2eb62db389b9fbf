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

# locale: (recall at least, false alarms at most), on the held-out sets. Measured first with
# model 72d7563ec7e8 on 2026-11-24: en 126/160 = 78.8% and 9/160 = 5.6%; ar 35/50 = 70.0% and
# 1/50 = 2.0%; sq 41/50 = 82.0% and 1/50 = 2.0%. Floors: about 4 points of recall lower, and
# one or two sentences more of false alarms. The committed model (11fb07f69f58, with ordinary
# answers about family added after the browser test caught a false alarm, and invite codes
# never judged by the model after the crash test caught one) gives en 77.5% and 6.2%, ar 68.0%
# and 4.0%, sq 80.0% and 4.0%.
# On 2026-12-03, with about 1,500 more training examples written blind (content/safeguarding/
# examples/*-g.tsv, *-h.tsv) or for the bot's own everyday answers (*-i.tsv, *-j.tsv), the
# committed model 843088224110 gives en 136/160 = 85.0% and 10/160 = 6.2%, ar 34/50 = 68.0% and
# 1/50 = 2.0%, sq 43/50 = 86.0% and 2/50 = 4.0%. For the committed model, see round 4.
HELD_OUT_FLOORS = {"en": (0.86, 0.06), "ar": (0.72, 0.04), "sq": (0.92, 0.06)}

# The second blind round (tests/data/heldout-v2/), frozen before that training. First measured
# once with model 3dba7c0aa640: en 78/90 = 86.7% and 3/70 = 4.3%; ar 33/45 = 73.3% and 3/35 =
# 8.6%; sq 35/45 = 77.8% and 2/35 = 5.7%. Retrains in between gave en 78.9-83.3%, ar
# 62.2-75.6%, sq 68.9-73.3%: read single figures with that spread in mind.
HELD_OUT_V2_FLOORS = {"en": (0.85, 0.06), "ar": (0.75, 0.09), "sq": (0.71, 0.09)}

# The third blind round (tests/data/heldout-v3/, 2026-12-03), frozen unread, measured once with
# model ee486763456d (examples *-k added; thresholds on out-of-fold scores averaged over three
# shuffles): en 80/100 = 80.0% and 0/100; ar 40/60 = 66.7% and 2/60 = 3.3%; sq 45/60 = 75.0%
# and 2/60 = 3.3%. Short of 85% / 70% in English and Arabic, so more examples (*-l, *-m) were
# written blind and a fourth round frozen before training on them.
HELD_OUT_V3_FLOORS = {"en": (0.82, 0.02), "ar": (0.67, 0.05), "sq": (0.67, 0.05)}

# The fourth blind round (tests/data/heldout-v4/), frozen unread before the last training,
# measured once with the committed model 759a76525f70: en 86/100 = 86.0% and 1/100 = 1.0%; ar
# 49/60 = 81.7% and 3/60 = 5.0%; sq 45/60 = 75.0% and 1/60 = 1.7%. The same model on the rounds
# already reported (now development sets): round 1 en 89.4% / 4.4%, ar 76.0% / 0.0%, sq 96.0% /
# 2.0%; round 2 en 87.8% / 2.9%, ar 80.0% / 5.7%, sq 75.6% / 2.9%; round 3 en 84.0% / 0.0%,
# ar 70.0% / 3.3%, sq 70.0% / 3.3%. Floors: a sentence or two below.
HELD_OUT_V4_FLOORS = {"en": (0.84, 0.03), "ar": (0.78, 0.07), "sq": (0.72, 0.04)}


@pytest.fixture(scope="module")
def screen() -> Screen:
    return Screen.for_content(load_content(ROOT / "content"))


ROUNDS = {
    "round 1": (sets.heldout, HELD_OUT_FLOORS),
    "round 2": (sets.heldout_v2, HELD_OUT_V2_FLOORS),
    "round 3": (sets.heldout_v3, HELD_OUT_V3_FLOORS),
    "round 4": (sets.heldout_v4, HELD_OUT_V4_FLOORS),
}


@pytest.mark.parametrize("locale", sets.LOCALES)
@pytest.mark.parametrize("round_", list(ROUNDS))
def test_held_out_recall_and_false_alarms_stay_above_their_floors(screen, round_, locale):
    read, floors = ROUNDS[round_]
    recall_floor, false_alarm_ceiling = floors[locale]
    recall = sets.flagged(screen.categories, read(locale, "disclosures"))
    false_alarms = sets.flagged(screen.categories, read(locale, "ordinary"))
    assert recall.share >= recall_floor, f"recall {recall}"
    assert false_alarms.share <= false_alarm_ceiling, f"false alarms {false_alarms}"


@pytest.mark.parametrize("locale", sets.LOCALES)
def test_no_loss_on_the_phrase_layers_own_corpora(screen, locale):
    # Every disclosure the phrase lists were written for is still heard, and ordinary answers
    # stay quiet.
    missed = [t for t in sets.corpus(locale, "disclosures") if not screen.categories(t)]
    assert missed == []
    flagged = [t for t in sets.corpus(locale, "ordinary") if screen.categories(t)]
    assert len(flagged) <= 0.05 * len(sets.corpus(locale, "ordinary")), flagged
