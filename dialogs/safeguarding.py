"""Spotting a possible disclosure of harm in anything a child types, in any of our languages."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from storage.content import SafeguardingFile

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"})
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_REPEATS = re.compile(r"(.)\1+")
FUZZY_MIN_LETTERS = 8


def compact(text: str) -> str:
    """Letters only: no case, accents, marks, spaces or punctuation; "hurrrt" is "hurt"."""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_LEET)
    t = _ARABIC_MARKS.sub("", t).translate(_ARABIC_FOLD)
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    t = "".join(c for c in t if c.isalpha())
    return _REPEATS.sub(r"\1", t)


@dataclass(frozen=True)
class _Phrase:
    category: str
    compact: str
    cutoff: float  # rapidfuzz score that allows one or two typos; 101 for exact only


class SafeguardingMatcher:
    """Built once per content version; `categories(text)` is called on every typed message."""

    def __init__(self, lists: Mapping[str, SafeguardingFile]) -> None:
        seen: set[tuple[str, str]] = set()
        self._phrases: list[_Phrase] = []
        for sfile in lists.values():
            for category, phrases in sfile.categories.items():
                for phrase in phrases:
                    c = compact(phrase)
                    if len(c) < 4 or (category, c) in seen:
                        continue
                    seen.add((category, c))
                    self._phrases.append(_Phrase(category, c, _cutoff(c)))

    def categories(self, text: str) -> list[str]:
        """Categories whose phrases appear in `text`; empty when nothing worrying was found."""
        c = compact(text)
        if not c:
            return []
        found: dict[str, None] = {}
        for p in self._phrases:
            if p.category in found:
                continue
            if p.compact in c or (
                p.cutoff <= 100
                and len(c) >= len(p.compact) - 1
                and fuzz.partial_ratio(p.compact, c, score_cutoff=p.cutoff)
            ):
                found[p.category] = None
        return list(found)


def _cutoff(phrase: str) -> float:
    letters = len(phrase)
    # Typos are tolerated in Latin script only: compact Arabic words are short and one letter
    # apart from harmless ones ("قتل" kill, "وقت" time), so Arabic must match exactly.
    if letters < FUZZY_MIN_LETTERS or not phrase.isascii():
        return 101.0
    edits = 2 if letters >= 16 else 1
    # An Indel distance counts a wrong letter twice: one deletion plus one insertion.
    return 100.0 * (1 - (2 * edits) / (2 * letters)) - 0.01
