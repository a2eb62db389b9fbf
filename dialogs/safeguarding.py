"""Spotting a possible disclosure of harm in anything a child types, in any of our languages.

A phrase matches when, after normalising both sides (case, accents, Arabic marks, digit-for-
letter swaps, repeated letters):
- its letters appear in the message with spaces and punctuation ignored ("kil my self",
  "killmyself"), or
- its words appear in order, where a word of five or more Latin letters may be one typo off
  ("kil myslef"). Short words must match exactly: "dye" is not "die", "cat ran away" is not
  "I ran away", and a missing "not" is never a typo. Nor is an ordinary word that the phrase
  file lists under `not_typos` ("sitting" is not "hitting" misspelt),
and it is not negated: a phrase just after one of its file's `negations`, with at most a few of
its `negation_fillers` between ("nobody hits me", "my carers have never hurt me"), does not count.
The fillers are few and plain on purpose: "nobody knows he hits me" and "i don't want to hurt
myself" still count.

Digits are letters to the phrases ("h1ts") and no words to the model, so a number that is
evidence by the words beside it ("my boyfriend is 24", "took like 20 ibuprofen") is heard by the
phrase files' `numbers` rules, read from the message as written.

Every message a child sends is screened, so the cost must stay linear in its length with a
small constant even for a pasted wall of text: the normalising is done with whole-string
operations and per-character tables, repeated stretches are screened once, and the phrases are
found through an index instead of one scan of the message per phrase.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate

from rapidfuzz.distance import OSA

from storage.content import NumberRule, SafeguardingFile

_LEET_SWAPS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"}
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_FOLD_SWAPS = {"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
_LEET = str.maketrans(_LEET_SWAPS)
_ARABIC_FOLD = str.maketrans(_ARABIC_FOLD_SWAPS)
_REPEATS = re.compile(r"(.)\1+")
_SPACES = re.compile("  +")
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
FUZZY_MIN_LETTERS = 5
# Up to this many distinct characters, normalising each on its own is cheap.
_FEW_CHARS = 256
# Above this many letters that could repeat, one pass for all beats a search per letter.
_FEW_LETTERS = 2
# A long message is screened in pieces of about this many characters so that pieces repeated
# word for word (pasted text, or a character NFKC expands many times over) are screened once.
_PIECE = 8192
# Words whose typo neighbours a matcher remembers; a bound, as messages are unbounded.
_NEAR_MEMO = 1 << 15
# At most this many filler words between a negation and the phrase it negates.
_FILLERS = 3


def words(text: str) -> list[str]:
    """Normalised words: no case, accents, marks or punctuation; "hurrrt" is "hurt"."""
    return _spaced(text).split()


def compact(text: str) -> str:
    return _spaced(text).replace(" ", "")


@lru_cache(maxsize=1 << 16)
def _fold_char(c: str) -> str:
    """What one character becomes on its own: letters, or spaces where words break. This is
    the definition; the rest of the normalising gets the same result for a whole text."""
    t = unicodedata.normalize("NFKC", c).casefold().translate(_LEET)
    t = _ARABIC_MARKS.sub("", t).translate(_ARABIC_FOLD)
    t = "".join(x for x in unicodedata.normalize("NFKD", t) if not unicodedata.combining(x))
    return "".join(x if x.isalpha() else " " for x in t)


# Every step is per character for ASCII, and casefolding ASCII needs no context.
_ASCII = str.maketrans({chr(i): _fold_char(chr(i)) for i in range(128)})


def _spaced(text: str) -> str:
    """The normalised words of `text`, joined by single spaces."""
    if text.isascii():
        t = _drop_doubles(text.translate(_ASCII))
    elif unicodedata.is_normalized("NFKC", text):
        t = _drop_doubles(_letters_of(text))
    else:
        chars = _distinct(text, _FEW_CHARS)
        if chars is not None and all(map(_stands_alone, chars)):
            t = _by_character(text, chars)
        else:
            t = _drop_doubles(_letters_of(unicodedata.normalize("NFKC", text)))
    return t.strip()


def _letters_of(t: str) -> str:
    """What NFKC text `t` becomes, character by character as in _fold_char, in whole-text
    steps: letters, and spaces where words break. Casefolding has no context, and NFKD then
    dropping every combining mark is per character, as reordering moves only those marks."""
    t = t.casefold()
    # Single characters to single characters, none of them a key, so replacing one at a time
    # is translating; str.translate would look every character of a non-ASCII text up.
    for c, f in _LEET_SWAPS.items():
        if c in t:
            t = t.replace(c, f)
    t = _ARABIC_MARKS.sub("", t)
    for c, f in _ARABIC_FOLD_SWAPS.items():
        if c in t:
            t = t.replace(c, f)
    t = unicodedata.normalize("NFKD", t)
    # The table covers the BMP; what lies beyond is rare, and done character by character.
    for c in set(_BEYOND_BMP.findall(t)):
        t = t.replace(c, _letter_or_space(c))
    return t.translate(_bmp_letters()).replace("\0", "")


def _letter_or_space(c: str) -> str:
    return "" if unicodedata.combining(c) else c if c.isalpha() else " "


@cache
def _bmp_letters() -> str:
    """A str.translate table for the BMP after NFKD: combining marks to NUL (then dropped),
    letters kept, anything else a space. A string, not a dict, so no lookup ever misses."""
    return "".join(_letter_or_space(c) or "\0" for c in map(chr, range(0x10000)))


def _distinct(text: str, limit: int) -> set[str] | None:
    """The characters of `text`, or None once there are more than `limit`."""
    chars: set[str] = set()
    for start in range(0, len(text), 4096):
        chars.update(text[start : start + 4096])
        if len(chars) > limit:
            return None
    return chars


@lru_cache(maxsize=1 << 16)
def _stands_alone(c: str) -> bool:
    """Whether NFKC of any text splits just before `c`, so `c` can be normalised on its own:
    its decomposition starts with a starter that never composes with what precedes it."""
    first = unicodedata.normalize("NFKD", c)[0]
    return unicodedata.combining(first) == 0 and ord(first) not in _backward_combiners()


@cache
def _backward_combiners() -> frozenset[int]:
    """Characters NFC may merge into the one before them: the second half of a canonical pair,
    and the Hangul vowel and final jamo. Found once, and only if unusual text needs it, by
    reading the decompositions in the few stretches of code points that have any."""
    found = {*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)}
    plane = array("I", range(0x10000)).tobytes()
    low = int.from_bytes(plane, "little")
    step = int.from_bytes(b"\0\0\1\0" * 0x10000, "little")
    for p in range(17):
        chars = (low + p * step).to_bytes(len(plane), "little")
        every = chars.decode("utf-32-le", "surrogatepass")
        for start in range(0, len(every), 512):
            chunk = every[start : start + 512]
            if unicodedata.is_normalized("NFD", chunk):
                continue
            for c in chunk:
                d = unicodedata.decomposition(c)
                if d and not d.startswith("<"):
                    parts = d.split()
                    if len(parts) == 2:
                        found.add(int(parts[1], 16))
    return frozenset(found)


def _by_character(text: str, chars: Iterable[str]) -> str:
    """_spaced for a text of few characters that can each be normalised on its own. Each is
    normalised once, which matters when NFKC expands it many times over."""
    table: dict[int, str] = {}
    starts: set[str] = set()
    ends: set[str] = set()
    for c in chars:
        f = table[ord(c)] = _folded(c)
        if f:
            starts.add(f[0])
            ends.add(f[-1])
    # Every character has an entry, since a miss costs str.translate an exception.
    t = text.translate(table)
    # Repeats within one character's letters are gone already; a repeat across characters
    # needs a letter that ends one character's letters and starts another's.
    letters = (starts & ends) - {" "}
    if len(letters) > _FEW_LETTERS:
        return _drop_doubles(t)
    for letter in letters:
        if letter + letter in t:
            t = _run_of(letter).sub(letter, t)
    if "  " in t:
        t = _SPACES.sub(" ", t)
    return t


@lru_cache(maxsize=1 << 16)
def _folded(c: str) -> str:
    return _REPEATS.sub(r"\1", _fold_char(c))


@lru_cache(maxsize=256)
def _run_of(letter: str) -> re.Pattern[str]:
    # A literal first letter lets the regex engine skip ahead to candidates.
    return re.compile(re.escape(letter) * 2 + "+")


def _drop_doubles(t: str) -> str:
    """`t` without each character that the same character follows, so every run of one
    character is one character. `t` must hold no NUL. A regex pass costs a step in the regex
    engine per character; this does the comparing on whole-text integers instead, one lane of
    bits per character, which is several times faster on a long text."""
    try:
        data, width, codec = t.encode("latin-1"), 1, "latin-1"
    except UnicodeEncodeError:
        data, width, codec = t.encode("utf-16-le"), 2, "utf-16-le"
        if len(data) != 2 * len(t):  # characters beyond the BMP take two UTF-16 units
            data, width, codec = t.encode("utf-32-le"), 4, "utf-32-le"
    bits = 8 * width
    lanes = len(data) // width
    x = int.from_bytes(data, "little")
    # Lane i of y is character i XOR character i + 1, zero where they are equal; the last
    # character is XORed with nothing, so kept.
    y = x ^ (x >> bits)
    low = int.from_bytes(((1 << bits - 1) - 1).to_bytes(width, "little") * lanes, "little")
    top = int.from_bytes((1 << bits - 1).to_bytes(width, "little") * lanes, "little")
    # Adding `low` to a lane's low bits carries into its top bit, and never beyond, exactly
    # when they are not all zero.
    nonzero = (((y & low) + low) | y) & top
    kept = x & (nonzero >> bits - 1) * ((1 << bits) - 1)
    return kept.to_bytes(len(data), "little").decode(codec).replace("\0", "")


@dataclass(frozen=True)
class _Phrase:
    category: str
    compact: str
    words: tuple[str, ...]
    locale: str
    negatable: bool


def _bytes(text: str) -> bytes:
    """One byte per UTF-16 code unit, its low byte: a phrase's bytes then occur wherever the
    phrase does, and telling apart the few letters that share a low byte is left to the exact
    search that follows."""
    try:
        return text.encode("latin-1")  # the same bytes, in one copy
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass")[::2]


def _grams(data: bytes, starts: Iterable[int]) -> Iterator[memoryview]:
    """The runs of four bytes in `data` at every fourth position from each of `starts`, as
    integers: one cast of the buffer each, where a Python step per character would dominate."""
    view = memoryview(data)
    for start in starts:
        yield view[start : start + (len(data) - start) // 4 * 4].cast("I")


# A number standing alone, in any digits: not part of a word ("k1ll", "3omro", "20mg"), a time
# or a decimal ("8:30", "2.5"), money ("£20") or a share ("20%").
_LONE_NUMBER = re.compile(r"(?<![\w£$€])(?<!\d[:.,])\d{1,3}(?![\w%])(?![:.,]\d)")
# How many numbers of one message are read, and how many characters either side of each.
_NUMBERS_READ = 64
_AROUND = 120


@dataclass(frozen=True)
class _NumberRule:
    """A `NumberRule` of a phrase file, its words normalised as the message's are, with what
    says a number is not evidence pooled from every rule of its category."""

    category: str
    at_least: int
    at_most: int | None
    within: int
    near: tuple[tuple[str, ...], ...]
    unless_near: tuple[tuple[str, ...], ...]
    not_followed_by: tuple[tuple[str, ...], ...]

    @classmethod
    def of(
        cls, rule: NumberRule, unless_near: list[str], not_followed_by: list[str]
    ) -> _NumberRule:
        def norm(items: list[str]) -> tuple[tuple[str, ...], ...]:
            return tuple(dict.fromkeys(ws for item in items if (ws := tuple(words(item)))))

        return cls(
            rule.category,
            rule.at_least,
            rule.at_most,
            rule.within,
            norm(rule.near),
            norm(unless_near),
            norm(not_followed_by),
        )

    def holds(self, value: int, before: list[str], after: list[str]) -> bool:
        """Whether a number of this value, with these words before and after it, counts."""
        if value < self.at_least or (self.at_most is not None and value > self.at_most):
            return False
        if any(tuple(after[: len(w)]) == w for w in self.not_followed_by):
            return False
        close = [*before[-self.within :], "/", *after[: self.within]]
        return _has_any(close, self.near) and not _has_any(close, self.unless_near)


def _has_any(ws: list[str], items: tuple[tuple[str, ...], ...]) -> bool:
    """Whether any of `items` (each a run of words) stands in `ws`."""
    return any(
        tuple(ws[i : i + len(item)]) == item
        for item in items
        for i in range(len(ws) - len(item) + 1)
    )


class SafeguardingMatcher:
    """Built once per content version; `categories(text)` is called on every typed message."""

    def __init__(self, lists: Mapping[str, SafeguardingFile]) -> None:
        self._read(lists)
        self._index_typos()
        self._index_words()
        self._index_grams()

    def _read(self, lists: Mapping[str, SafeguardingFile]) -> None:
        """The phrases (each category's once), and each locale's negations and fillers."""
        seen: set[tuple[str, str]] = set()
        self._phrases: list[_Phrase] = []
        # Per locale, as a negation in one language may be an ordinary word in another
        # (Albanian "s'" is the English "'s").
        self._negations: dict[str, frozenset[tuple[str, ...]]] = {}
        self._fillers: dict[str, frozenset[str]] = {}
        for sfile in lists.values():
            denied = {tuple(words(n)) for n in sfile.negatable_phrases}
            for category, phrases in sfile.categories.items():
                for phrase in phrases:
                    ws = tuple(words(phrase))
                    c = "".join(ws)
                    if len(c) < 4 or (category, c) in seen:
                        continue
                    seen.add((category, c))
                    self._phrases.append(
                        _Phrase(
                            category,
                            c,
                            ws,
                            sfile.locale,
                            category in sfile.negatable or ws in denied,
                        )
                    )
            negs = {tuple(words(n)) for n in sfile.negations}
            self._negations[sfile.locale] = frozenset(negs - {()})
            self._fillers[sfile.locale] = frozenset(
                w for f in sfile.negation_fillers for w in words(f)
            )
        self._negation_words = frozenset(
            w for negs in self._negations.values() for n in negs for w in n
        )
        self._not_typos = frozenset(
            w for sfile in lists.values() for t in sfile.not_typos for w in words(t)
        )
        self._category_count = len({p.category for p in self._phrases})
        rules = [rule for sfile in lists.values() for rule in sfile.numbers]
        # What says a number is not evidence holds in every language of its category: a child
        # mixing languages writes "my boyfriend eshte 25", and "my brother" in a mixed message.
        unless: dict[str, list[str]] = {}
        units: dict[str, list[str]] = {}
        for rule in rules:
            unless.setdefault(rule.category, []).extend(rule.unless_near)
            units.setdefault(rule.category, []).extend(rule.not_followed_by)
        self._numbers = [
            _NumberRule.of(rule, unless[rule.category], units[rule.category]) for rule in rules
        ]

    def _index_typos(self) -> None:
        """The words that may be matched with a typo, and the indexes that find them."""
        self._fuzzy_vocab = sorted({w for p in self._phrases for w in p.words if _fuzzy_ok(w)})
        # One-deletion index: two words are one edit (or swap) apart only if deleting at most
        # one letter from each makes them equal, so a word's candidates are found by lookups.
        self._deletions: dict[str, list[str]] = {}
        for v in self._fuzzy_vocab:
            for key in {v, *(v[:i] + v[i + 1 :] for i in range(len(v)))}:
                self._deletions.setdefault(key, []).append(v)
        # The lengths a word one edit from a phrase word can have, by its first two letters and
        # by its last two.
        self._heads: dict[str, set[int]] = {}
        self._tails: dict[str, set[int]] = {}
        for v in self._fuzzy_vocab:
            near_lengths = {len(v) - 1, len(v), len(v) + 1}
            self._heads.setdefault(v[:2], set()).update(near_lengths)
            self._tails.setdefault(v[-2:], set()).update(near_lengths)
        lengths = [len(v) for v in self._fuzzy_vocab] or [0]
        self._near_lengths = (max(FUZZY_MIN_LETTERS, min(lengths) - 1), max(lengths) + 1)
        self._near_memo: dict[str, tuple[str, ...]] = {}

    def _index_words(self) -> None:
        """Which phrases hold each word, and how far a match can reach."""
        self._vocab = frozenset(w for p in self._phrases for w in p.words)
        self._with_word: dict[str, list[int]] = {}
        for i, p in enumerate(self._phrases):
            for w in set(p.words):
                self._with_word.setdefault(w, []).append(i)
        # A match never spans more than this many characters of the spaced text: a compact match
        # takes at most one space per letter, a word match at most one extra letter per word.
        longest = max((len(p.compact) for p in self._phrases), default=0)
        most = max((len(p.words) for p in self._phrases), default=0)
        self._reach = 2 * longest + 2 * most + 4

    def _index_grams(self) -> None:
        """For each phrase and parity, its runs of four letters at offsets of that parity,
        filed under the first of them. A phrase under five letters has no run at an odd
        offset, so it is always searched for."""
        self._by_first_gram: dict[int, list[tuple[int, frozenset[int]]]] = {}
        self._unindexed: list[int] = []
        for i, p in enumerate(self._phrases):
            data = _bytes(p.compact)
            if len(data) < 5:
                self._unindexed.append(i)
                continue
            for parity in (0, 1):
                grams = frozenset(g for view in _grams(data, (parity, parity + 2)) for g in view)
                first = memoryview(data)[parity : parity + 4].cast("I")[0]
                self._by_first_gram.setdefault(first, []).append((i, grams))
        self._known_grams = frozenset(
            g for entries in self._by_first_gram.values() for _, grams in entries for g in grams
        )

    def categories(self, text: str) -> list[str]:
        """Categories whose phrases, or numbers with the words beside them, appear in `text`;
        empty when nothing worrying was found."""
        found = self._phrase_categories(text)
        for category in self._number_categories(text):
            if category not in found:
                found.append(category)
        return found

    def _number_categories(self, text: str) -> list[str]:
        """The categories of the number rules that hold somewhere in `text`."""
        if not self._numbers:
            return []
        found: dict[str, None] = {}
        for i, m in enumerate(_LONE_NUMBER.finditer(text)):
            if i == _NUMBERS_READ:
                break
            value = int(m.group())
            # Only the words close by matter, so only a stretch around the number is read:
            # a wall of numbers costs the same per number as a short message.
            before = words(text[max(0, m.start() - _AROUND) : m.start()])
            after = words(text[m.end() : m.end() + _AROUND])
            for rule in self._numbers:
                if rule.category not in found and rule.holds(value, before, after):
                    found[rule.category] = None
        return list(found)

    def _phrase_categories(self, text: str) -> list[str]:
        """Categories whose phrases appear in `text`."""
        t = _spaced(text)
        if not t:
            return []
        hay = self._distinct_stretches(t)
        letters = hay.replace(" ", "")
        by_letters = self._letter_candidates(letters)
        message = _Words(hay, self._vocab)
        by_words = self._typo_candidates(message)
        # Negations are looked for only when the message has a word of one.
        negations = bool(self._negation_words.intersection(message.present))
        # In phrase order, as each category is listed where its first matching phrase is; once
        # a category is found its later phrases need no search.
        found: dict[str, None] = {}
        for i in sorted(by_letters.union(by_words)):
            p = self._phrases[i]
            if p.category in found:
                continue
            if not (negations and p.negatable):
                hit = (i in by_letters and p.compact in letters) or (
                    i in by_words and message.in_order(p.words)
                )
            else:
                starts = [*self._letter_starts(p, letters, message)] if i in by_letters else []
                if i in by_words:
                    starts += message.starts(p.words)
                hit = any(not self._negated(message.ws, s, p.locale) for s in starts)
            if hit:
                found[p.category] = None
                if len(found) == self._category_count:
                    break
        return list(found)

    @staticmethod
    def _letter_starts(p: _Phrase, letters: str, message: _Words) -> Iterator[int]:
        """The word in which each place the phrase's letters occur begins."""
        ends = message.ends()
        at = letters.find(p.compact)
        while at >= 0:
            yield bisect_right(ends, at)
            at = letters.find(p.compact, at + 1)

    def _negated(self, ws: list[str], start: int, locale: str) -> bool:
        """Whether a negation of `locale` stands just before word `start`, with at most
        _FILLERS of its fillers between."""
        negations, fillers = self._negations.get(locale, frozenset()), self._fillers[locale]
        k = start - 1
        for _ in range(_FILLERS + 1):
            if k < 0:
                return False
            for n in negations:
                if k + 1 >= len(n) and tuple(ws[k + 1 - len(n) : k + 1]) == n:
                    return True
            if ws[k] not in fillers:
                return False
            k -= 1
        return False

    def _distinct_stretches(self, t: str) -> str:
        """`t`, or for a long `t` its distinct pieces and the stretches around each cut between
        pieces: every match lies within one of them, since none is longer than the reach either
        side of a cut."""
        if len(t) <= 2 * _PIECE:
            return t
        parts: set[str] = set()
        cuts: list[int] = []
        start = 0
        while (cut := t.find(" ", start + _PIECE)) >= 0:
            parts.add(t[start:cut])
            cuts.append(cut)
            start = cut + 1
        parts.add(t[start:])
        reach = self._reach
        for cut in cuts:
            a = t.rfind(" ", 0, max(cut - reach, 0)) + 1
            b = t.find(" ", cut + reach)
            parts.add(t[a : b if b >= 0 else len(t)])
        # A bar keeps the stretches apart: it is neither a letter nor a word of any phrase.
        return " | ".join(parts)

    def _letter_candidates(self, letters: str) -> set[int]:
        """Phrases that may occur in `letters`: all of their runs of four letters do. One pass
        keeps the text's runs that some phrase has, reading runs at even positions only, which
        halves the work: a phrase of five or more letters has runs at even and at odd offsets,
        so whichever parity its place has, its runs of that parity are all read."""
        seen: set[int] = set()
        for view in _grams(_bytes(letters), (0, 2)):
            seen |= self._known_grams.intersection(view)
        found = set(self._unindexed)
        for g in seen:
            for i, grams in self._by_first_gram.get(g, ()):
                if grams <= seen:
                    found.add(i)
        return found

    def _typo_candidates(self, message: _Words) -> set[int]:
        """Phrases with a word that a word of the message is one typo from, and whose other
        words occur too. (A phrase with no typo has its letters occur, which the letters search
        covers.)"""
        low, high = self._near_lengths
        heads, tails = self._heads, self._tails
        # One edit in words of five letters or more leaves their first two letters or their
        # last two alone, so two lookups rule out most words before any edit is tried.
        maybe = [
            w
            for w in message.present
            if low <= len(w) <= high
            and (len(w) in heads.get(w[:2], ()) or len(w) in tails.get(w[-2:], ()))
        ]
        if not message.ascii:
            maybe = [w for w in maybe if w.isascii()]
        typos = message.typos
        memo = self._near_memo
        for w in maybe:
            near = memo.get(w)
            if near is None:
                near = self._near(w)
            for v in near:
                if v != w:
                    typos.setdefault(v, []).append(w)
        return {
            i
            for v in typos
            for i in self._with_word.get(v, ())
            if all(pw in typos or pw in message.present for pw in self._phrases[i].words)
        }

    def _near(self, w: str) -> tuple[str, ...]:
        """Phrase words within one edit or swap of `w` (OSA distance 1), `w` itself included."""
        keys = [w, *(w[:i] + w[i + 1 :] for i in range(len(w)))]
        cands = {v for vs in map(self._deletions.get, keys) if vs for v in vs}
        if w in self._not_typos:
            near = tuple(v for v in cands if v == w)
        else:
            near = tuple(v for v in cands if OSA.distance(w, v, score_cutoff=1) <= 1)
        if len(self._near_memo) >= _NEAR_MEMO:
            self._near_memo.clear()
        self._near_memo[w] = near
        return near


def _fuzzy_ok(word: str) -> bool:
    # Arabic words are short and one letter apart from harmless ones ("قتل" kill, "وقت" time).
    return len(word) >= FUZZY_MIN_LETTERS and word.isascii()


class _Words:
    """The words of one message, for checking phrases word by word."""

    def __init__(self, hay: str, vocab: frozenset[str]) -> None:
        self.ws = hay.split()
        self.present = set(self.ws)
        self.ascii = hay.isascii()
        self._vocab = vocab
        # Message words one typo from each phrase word, filled in by the matcher.
        self.typos: dict[str, list[str]] = {}
        self._at: dict[str, list[int]] | None = None
        self._ends: list[int] | None = None

    def ends(self) -> list[int]:
        """Where each word ends in the words run together."""
        if self._ends is None:
            self._ends = list(accumulate(map(len, self.ws)))
        return self._ends

    def starts(self, phrase: tuple[str, ...]) -> list[int]:
        """Every word at which the phrase's words begin, each exactly or with a typo."""
        options = [
            {*self.typos.get(pw, ()), *((pw,) if pw in self.present else ())} for pw in phrase
        ]
        ws, k = self.ws, len(phrase)
        return [
            s
            for first in options[0]
            for s in self._positions().get(first, ())
            if s <= len(ws) - k and all(ws[s + m] in options[m] for m in range(k))
        ]

    def in_order(self, phrase: tuple[str, ...]) -> bool:
        """Whether consecutive words are the phrase's words, each exactly or with a typo."""
        options = [
            {*self.typos.get(pw, ()), *((pw,) if pw in self.present else ())} for pw in phrase
        ]
        at = self._positions()
        # Start from the place in the phrase whose words are rarest in the message.
        counts = [sum(len(at.get(w, ())) for w in ok) for ok in options]
        j = counts.index(min(counts))
        ws, k = self.ws, len(phrase)
        for w in options[j]:
            for i in at.get(w, ()):
                s = i - j
                if 0 <= s <= len(ws) - k and all(ws[s + m] in options[m] for m in range(k)):
                    return True
        return False

    def _positions(self) -> dict[str, list[int]]:
        # Built once, and only for a message with a typo near a phrase word, which is rare.
        if self._at is None:
            wanted = self.present.intersection(self._vocab).union(*self.typos.values())
            self._at = {}
            for i, w in enumerate(self.ws):
                if w in wanted:
                    self._at.setdefault(w, []).append(i)
        return self._at
