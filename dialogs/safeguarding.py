"""Spotting a possible disclosure of harm in anything a child types, in any of our languages.

A phrase matches when, after normalising both sides (case, accents, Arabic marks, digit-for-
letter swaps, repeated letters):
- its letters appear in the message with spaces and punctuation ignored ("kil my self",
  "killmyself"), or
- its words appear in order, where a word of five or more Latin letters may be one typo off
  ("kil myslef"). Short words must match exactly: "dye" is not "die", "cat ran away" is not
  "I ran away", and a missing "not" is never a typo.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from storage.content import SafeguardingFile

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"})
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_REPEATS = re.compile(r"(.)\1+")
FUZZY_MIN_LETTERS = 5


def words(text: str) -> list[str]:
    """Normalised words: no case, accents, marks or punctuation; "hurrrt" is "hurt"."""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_LEET)
    t = _ARABIC_MARKS.sub("", t).translate(_ARABIC_FOLD)
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    t = "".join(c if c.isalpha() else " " for c in t)
    return [_REPEATS.sub(r"\1", w) for w in t.split()]


def compact(text: str) -> str:
    return "".join(words(text))


@dataclass(frozen=True)
class _Phrase:
    category: str
    compact: str
    words: tuple[str, ...]


class SafeguardingMatcher:
    """Built once per content version; `categories(text)` is called on every typed message."""

    def __init__(self, lists: Mapping[str, SafeguardingFile]) -> None:
        seen: set[tuple[str, str]] = set()
        self._phrases: list[_Phrase] = []
        for sfile in lists.values():
            for category, phrases in sfile.categories.items():
                for phrase in phrases:
                    ws = tuple(words(phrase))
                    c = "".join(ws)
                    if len(c) < 4 or (category, c) in seen:
                        continue
                    seen.add((category, c))
                    self._phrases.append(_Phrase(category, c, ws))
        # Words that may be matched with a typo, to look up against each message's words.
        self._fuzzy_vocab = sorted({w for p in self._phrases for w in p.words if _fuzzy_ok(w)})

    def categories(self, text: str) -> list[str]:
        """Categories whose phrases appear in `text`; empty when nothing worrying was found."""
        ws = words(text)
        if not ws:
            return []
        c = "".join(ws)
        at = self._positions(ws)
        found: dict[str, None] = {}
        for p in self._phrases:
            if p.category in found:
                continue
            if p.compact in c or _in_order(p.words, at):
                found[p.category] = None
        return list(found)

    def _positions(self, ws: list[str]) -> dict[str, set[int]]:
        """Where each phrase word occurs in the message, exactly or (long words) with a typo."""
        at: dict[str, set[int]] = {}
        for i, w in enumerate(ws):
            at.setdefault(w, set()).add(i)
            if _fuzzy_ok(w):
                for near, _, _ in process.extract(
                    w, self._fuzzy_vocab, scorer=OSA.distance, score_cutoff=1, limit=None
                ):
                    at.setdefault(near, set()).add(i)
        return at


def _fuzzy_ok(word: str) -> bool:
    # Arabic words are short and one letter apart from harmless ones ("قتل" kill, "وقت" time).
    return len(word) >= FUZZY_MIN_LETTERS and word.isascii()


def _in_order(phrase: tuple[str, ...], at: dict[str, set[int]]) -> bool:
    starts = at.get(phrase[0])
    if not starts:
        return False
    for start in starts:
        if all(start + j in at.get(w, ()) for j, w in enumerate(phrase[1:], 1)):
            return True
    return False
