"""Recall and false alarms of the safeguarding screen on every blind round, by tier.

`python tests/measure_screen.py` prints, per round and language: recall of the phrases alone,
of the clear tier (phrases and model: the help and an urgent alert), and of either tier (clear
or unsure: a gentle check and a note to the IRO, so an adult reads it either way); on ordinary
sentences, the urgent false alarms (clear) and the gentle checks (unsure). Then the sequences
of round 5: disclosures told over 2-4 messages, and ordinary sequences of the same shape.
`make bench` runs it too.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dialogs.safeguarding_model import Screen  # noqa: E402
from storage.content import load_content  # noqa: E402
from tests import screening_sets as sets  # noqa: E402

ROUNDS = sets.ROUNDS
SEQUENCES = sets.SEQUENCES
# The round frozen last: read once, for a release; `--dev` leaves it out.
NEWEST = "round 19"


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.1%}" if total else "-"


def main() -> None:
    # `--dev`: the rounds already reported only (1-5), to compare changes without reading the
    # newest round more than once.
    dev = "--dev" in sys.argv[1:]
    screen = Screen.for_content(load_content(ROOT / "content"))
    print(f"model {screen.model.meta['version']}")
    for name, read in ROUNDS.items():
        if dev and name == NEWEST:
            continue
        for locale in sets.LOCALES:
            pos, neg = read(locale, "disclosures"), read(locale, "ordinary")
            a_pos = [screen.assess(t) for t in pos]
            a_neg = [screen.assess(t) for t in neg]
            phrases = sum(bool(screen.phrases.categories(t)) for t in pos)
            phrases_fa = sum(bool(screen.phrases.categories(t)) for t in neg)
            clear = sum(a.tier == "clear" for a in a_pos)
            either = sum(a.tier is not None for a in a_pos)
            fa = sum(a.tier == "clear" for a in a_neg)
            checks = sum(a.tier == "unsure" for a in a_neg)
            print(
                f"{name} {locale}: recall phrases {rate(phrases, len(pos))}, "
                f"clear {rate(clear, len(pos))}, clear or unsure {rate(either, len(pos))} "
                f"(unsure only {either - clear}); ordinary: phrases {rate(phrases_fa, len(neg))}, "
                f"false alarms {rate(fa, len(neg))}, gentle checks {rate(checks, len(neg))}"
            )
    for (name, read), locale in itertools.product(SEQUENCES.items(), sets.LOCALES):
        if dev and name == NEWEST:
            continue
        pos = [sets.tier_of_sequence(screen, s) for s in read(locale, "disclosure")]
        neg = [sets.tier_of_sequence(screen, s) for s in read(locale, "ordinary")]
        print(
            f"{name} sequences {locale}: heard {rate(sum(t is not None for t in pos), len(pos))} "
            f"(clear {sum(t == 'clear' for t in pos)}); ordinary: false alarms "
            f"{rate(sum(t == 'clear' for t in neg), len(neg))}, gentle checks "
            f"{rate(sum(t == 'unsure' for t in neg), len(neg))}"
        )


if __name__ == "__main__":
    main()
