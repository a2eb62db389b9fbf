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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def heldout_v2(locale: str, kind: str) -> list[str]:
    text = (DATA / "heldout-v2" / f"{kind}_{locale}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def heldout_v3(locale: str, kind: str) -> list[str]:
    text = (DATA / "heldout-v3" / f"{kind}_{locale}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def heldout_v4(locale: str, kind: str) -> list[str]:
    text = (DATA / "heldout-v4" / f"{kind}_{locale}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def flagged(check: Callable[[str], Sequence[str]], texts: Sequence[str]) -> Rate:
    return Rate(sum(1 for t in texts if check(t)), len(texts))
