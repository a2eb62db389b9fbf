"""Understanding typed answers: by number, by label or by synonym, in any case and script."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

# Arabic-Indic and Eastern Arabic-Indic (Persian/Urdu) digits, as children type them.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")  # harakat, dagger alef, tatweel
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
# What joins the parts of a pick-more-than-one answer as children type it ("after school n
# weekends", "family + hobbies", "1 or 3", "مدرسة و عائلة", "shkolla dhe familja").
_SPLIT = re.compile(
    r"\s*(?:,|،|;|/|&|\+|\band\b|\bn\b|\bor\b|\bplus\b|\bdhe\b|\bedhe\b|\bose\b|\be\b|\bو|\bأو\b|\bاو\b)\s*"
)


def normalize(text: str) -> str:
    """Lower case, no accents or Arabic marks, digits as 0-9, punctuation as spaces."""
    t = unicodedata.normalize("NFKC", text).translate(_DIGITS).casefold()
    t = _ARABIC_MARKS.sub("", t).translate(_ARABIC_FOLD)
    t = "".join(
        c
        for c in unicodedata.normalize("NFKD", t)
        if not unicodedata.combining(c) or "\u0600" <= c <= "\u06ff"
    )
    t = t.replace("'", "").replace("’", "")
    t = re.sub(r"[^\w?]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


@lru_cache(maxsize=8192)
def _content_word(word: str) -> str:
    """A label or other word for an option, normalised once: they come from content, and every
    message at a question compares against all of them (a child's own words are not kept)."""
    return normalize(word)


@dataclass(frozen=True)
class Choice:
    """One option as the child sees it: its id, its label and other words for it."""

    id: str
    label: str
    synonyms: tuple[str, ...] = ()

    def words(self) -> set[str]:
        return {n for w in (self.label, *self.synonyms) if (n := _content_word(w))}


def _number(text: str, count: int) -> int | None:
    m = re.fullmatch(r"\s*(\d{1,2})\s*[.)]?\s*", text.translate(_DIGITS))
    if m and 1 <= int(m.group(1)) <= count:
        return int(m.group(1)) - 1
    return None


def match_one(
    text: str, choices: Sequence[Choice], negations: frozenset[str] = frozenset()
) -> str | None:
    """The option a typed answer means, or None when it is unclear. `negations`: words that,
    just before a label inside a sentence, turn it round ("not sure" is not "sure")."""
    idx = _number(text, len(choices))
    if idx is not None:
        return choices[idx].id
    norm = normalize(text)
    if not norm:
        return None
    exact = [c.id for c in choices if norm in c.words()]
    if len(exact) == 1:
        return exact[0]
    # "I'd like to come and speak for myself": a label or synonym inside a longer sentence.
    padded = f" {norm} "
    inside = {c.id for c in choices for w in c.words() if len(w) > 2 and f" {w} " in padded}
    negated = any(
        _negated(padded, w, negations) for c in choices for w in c.words() if f" {w} " in padded
    )
    if negated:
        return None
    if len(inside) == 1:
        return inside.pop()
    if inside:
        return None
    # "hobbys", "skool", "weeknd": a slip of a letter or two in a label or another word for it.
    near = {c.id for c in choices for w in c.words() if _near(norm, w)}
    return near.pop() if len(near) == 1 else None


def _negated(padded: str, word: str, negations: frozenset[str]) -> bool:
    before = padded.split(f" {word} ", 1)[0].split()
    return any(" ".join(before[-n:]) in negations for n in (1, 2) if len(before) >= n)


def _near(said: str, word: str) -> bool:
    """Within one edit of a word of 4 to 6 letters, or two of a longer one. Short words are
    left alone: "no" is one letter from "so", and "him" from "her"."""
    if len(word) < 4 or abs(len(said) - len(word)) > 2:
        return False
    return Levenshtein.distance(said, word, score_cutoff=2) <= (1 if len(word) < 7 else 2)


def match_many(
    text: str, choices: Sequence[Choice], negations: frozenset[str] = frozenset()
) -> list[str] | None:
    """Options for a pick-more-than-one question: "1, 3", "2 and 4" or labels; None unless
    every part is understood."""
    found, rest = match_parts(text, choices, negations)
    return found if found and not rest else None


def match_parts(
    text: str, choices: Sequence[Choice], negations: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """The options named in a typed pick-more-than-one answer ("after school and weekends",
    "family and hobbys", "1, 3"), in the question's order, and the parts that name none, as
    typed."""
    parts = [p.strip() for p in _SPLIT.split(text.translate(_DIGITS)) if p.strip()]
    if len(parts) == 1:
        nums = re.fullmatch(r"\s*(\d{1,2}(?:\s+\d{1,2})+)\s*", parts[0])
        if nums:
            parts = nums.group(1).split()
    norm = normalize(text)
    exact = [c.id for c in choices if norm in c.words()]
    if len(exact) == 1 or len(parts) <= 1:
        # A label that has "and" in it ("Family and friends time") is one option.
        whole = exact[0] if len(exact) == 1 else match_one(text, choices, negations)
        return ([whole], []) if whole is not None else ([], [text.strip()] if norm else [])
    found: list[str] = []
    rest: list[str] = []
    for part in parts:
        cid = match_one(part, choices, negations)
        if cid is None:
            rest.append(part)
        elif cid not in found:
            found.append(cid)
    order = [c.id for c in choices]
    return sorted(found, key=order.index), rest


# A control word, label, greeting or name is never longer than this: a longer message is not
# compared with them. Normalising a 250 KB wall of U+FDFA (each one 18 letters once normalised)
# took 0.5 s a time, on the event loop every other child's turn waits on.
LONGEST_WORD = 200


def match_word(text: str, words: Sequence[str]) -> bool:
    """Whether the whole message is one of these words (controls never match inside answers)."""
    if len(text) > LONGEST_WORD:
        return False
    norm = normalize(text)
    return bool(norm) and norm in {normalize(w) for w in words}


def compact_code(text: str) -> str:
    """An invite code as typed ("k7qm 4txr", "K7QM-4TXR") in its canonical form."""
    return re.sub(r"[^0-9A-Za-z]", "", text.translate(_DIGITS)).upper()


_CODE_SHAPE = re.compile(r"[\s\-]*(?:[0-9A-Za-z][\s\-]*){8,9}")
_CODE_LETTERS = frozenset("23456789ABCDEFGHJKMNPQRSTVWXYZ")


def looks_like_code(text: str) -> bool:
    """Whether `text` is an invite code as a child might type it: 8 or 9 of the code's letters
    and digits, with spaces or dashes anywhere (old codes have 8, new ones 9)."""
    t = text.translate(_DIGITS)
    return bool(_CODE_SHAPE.fullmatch(t)) and set(compact_code(t)) <= _CODE_LETTERS
