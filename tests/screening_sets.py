"""The sets the safeguarding screen is measured on, for tests/benchmark.py and the floor tests.

- `corpus`: tests/data/*.txt, the phrase layer's own test corpora (seen while writing phrases).
- `heldout`: tests/data/heldout/*.tsv, written blind by a helper who saw neither the phrase lists
  nor the training examples, frozen with checksums, and never trained or tuned on.
- `heldout_v2`: tests/data/heldout-v2/*.txt, a second blind round (2026-12-03), written after
  the first was reported on, so that figures after more training stay honest.
- `heldout_v3`: tests/data/heldout-v3/*.txt, a third blind round (2026-12-03), written by a
  helper who saw no project file at all, frozen unread before the training it measures.
- `heldout_v4`: tests/data/heldout-v4/*.txt, a fourth blind round, the same way, frozen unread
  before the last training (examples *-l, *-m).
- `heldout_v6`, `sequences_v6`: a sixth round, the same way, frozen unread after round 5 was
  reported (2026-12-07), for the next release of the screen.
- `heldout_v5`: tests/data/heldout-v5/*.txt, a fifth blind round (2026-12-07, issue 14), larger
  in Arabic and Albanian (100 + 100 each), frozen unread before the training it measures; and
  `sequences_v5`: disclosures told over 2-4 messages, none alarming alone, and ordinary
  sequences of the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
LOCALES = ("en", "ar", "sq")


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def share(self) -> float:
        return self.hits / self.total if self.total else float("nan")

    def __str__(self) -> str:
        return f"{self.hits}/{self.total} = {self.share:.1%}"


def corpus(locale: str, kind: str) -> list[str]:
    name = "safeguarding_disclosures" if kind == "disclosures" else "ordinary_sentences"
    return [
        s.strip()
        for s in (DATA / f"{name}_{locale}.txt").read_text(encoding="utf-8").splitlines()
        if s.strip() and not s.startswith("#")
    ]


def heldout(locale: str, kind: str) -> list[str]:
    rows = (DATA / "heldout" / f"{locale}_{kind}.tsv").read_text(encoding="utf-8").splitlines()
    return [row.split("\t", 1)[1] for row in rows if row.strip()]


def _lines(folder: str) -> Callable[[str, str], list[str]]:
    """Rounds 2 on: `<kind>_<locale>.txt` in `folder`, one message a line."""

    def read(locale: str, kind: str) -> list[str]:
        text = (DATA / folder / f"{kind}_{locale}.txt").read_text(encoding="utf-8")
        return [line.strip() for line in text.splitlines() if line.strip()]

    return read


def _sequences(folder: str) -> Callable[[str, str], list[list[str]]]:
    """Rounds 5 on: `sequences_<kind>_<locale>.jsonl` ("disclosure" or "ordinary"), each line
    the messages one child sends one after another."""

    def read(locale: str, kind: str) -> list[list[str]]:
        text = (DATA / folder / f"sequences_{kind}_{locale}.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    return read


heldout_v2, heldout_v3, heldout_v4 = (_lines(f"heldout-v{n}") for n in (2, 3, 4))


def tier_of_sequence(screen: Any, messages: Sequence[str]) -> str | None:
    """The first tier the screen raises as one child sends these messages one after another,
    each read alone and with the few before it, as the bot reads them (dialogs/screen.py)."""
    from dialogs.screen import RECENT, heard_together, worth_keeping

    earlier: list[str] = []
    for text in messages:
        found, _ = heard_together(screen, earlier, text)
        if found.tier is not None:
            return found.tier
        if worth_keeping(screen, text):
            earlier = [*earlier, text][-RECENT:]
    return None


def flagged(check: Callable[[str], Sequence[str]], texts: Sequence[str]) -> Rate:
    return Rate(sum(1 for t in texts if check(t)), len(texts))


# Every blind round, by name, as measured and floored (tests/measure_screen.py, the floors test).
ROUNDS: dict[str, Callable[[str, str], list[str]]] = {
    "round 1": heldout,
    "round 2": heldout_v2,
    "round 3": heldout_v3,
    "round 4": heldout_v4,
    **{f"round {n}": _lines(f"heldout-v{n}") for n in range(5, 20)},
}
SEQUENCES: dict[str, Callable[[str, str], list[list[str]]]] = {
    f"round {n}": _sequences(f"heldout-v{n}") for n in range(5, 20)
}
