"""The fast safeguarding matcher finds exactly what the plain one it replaced found.

`Reference` below is that plain matcher, kept as the specification: it normalises character by
character and compares every message word with every phrase word. The matcher in
dialogs/safeguarding.py normalises with whole-text operations, screens repeated stretches of a
long message once and finds phrases through indexes; these tests hold it to the same words and
the same categories, in the same order, on the test corpora, on random text full of the
characters normalisation treats specially, on phrases typed with typos, and on long messages.
(How fast it is, tests/benchmark.py reports.)
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import process
from rapidfuzz.distance import OSA

from dialogs import safeguarding
from dialogs.safeguarding import SafeguardingMatcher, compact, words
from storage.content import SafeguardingFile, load_content

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

# --- The reference -------------------------------------------------------------------------

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"})
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_REPEATS = re.compile(r"(.)\1+")


def reference_words(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text).casefold().translate(_LEET)
    t = _ARABIC_MARKS.sub("", t).translate(_ARABIC_FOLD)
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    t = "".join(c if c.isalpha() else " " for c in t)
    return [_REPEATS.sub(r"\1", w) for w in t.split()]


def _fuzzy_ok(word: str) -> bool:
    return len(word) >= 5 and word.isascii()


class Reference:
    def __init__(self, lists: Mapping[str, SafeguardingFile]) -> None:
        seen: set[tuple[str, str]] = set()
        self.phrases: list[tuple[str, str, tuple[str, ...], str, bool]] = []
        self.negations: dict[str, set[tuple[str, ...]]] = {}
        self.fillers: dict[str, set[str]] = {}
        for sfile in lists.values():
            denied = {tuple(reference_words(n)) for n in sfile.negatable_phrases}
            for category, phrases in sfile.categories.items():
                for phrase in phrases:
                    ws = tuple(reference_words(phrase))
                    c = "".join(ws)
                    if len(c) < 4 or (category, c) in seen:
                        continue
                    seen.add((category, c))
                    self.phrases.append(
                        (category, c, ws, sfile.locale, category in sfile.negatable or ws in denied)
                    )
            self.negations[sfile.locale] = {tuple(reference_words(n)) for n in sfile.negations}
            self.negations[sfile.locale].discard(())
            self.fillers[sfile.locale] = {
                w for f in sfile.negation_fillers for w in reference_words(f)
            }
        self.not_typos = {
            w for f in lists.values() for t in f.not_typos for w in reference_words(t)
        }
        self.fuzzy_vocab = sorted(
            {w for _, _, ws, _, _ in self.phrases for w in ws if _fuzzy_ok(w)}
        )

    def categories(self, text: str) -> list[str]:
        ws = reference_words(text)
        if not ws:
            return []
        c = "".join(ws)
        # The word each letter of `c` belongs to.
        word_of = [i for i, w in enumerate(ws) for _ in w]
        at: dict[str, set[int]] = {}
        for i, w in enumerate(ws):
            at.setdefault(w, set()).add(i)
            if _fuzzy_ok(w) and w not in self.not_typos:
                for near, _, _ in process.extract(
                    w, self.fuzzy_vocab, scorer=OSA.distance, score_cutoff=1, limit=None
                ):
                    at.setdefault(near, set()).add(i)
        found: dict[str, None] = {}
        for category, pc, pws, locale, negatable in self.phrases:
            if category in found:
                continue
            starts = [word_of[o] for o in range(len(c)) if c.startswith(pc, o)]
            starts += self._in_order(pws, at)
            if any(not (negatable and self._negated(ws, s, locale)) for s in starts):
                found[category] = None
        return list(found)

    @staticmethod
    def _in_order(phrase: tuple[str, ...], at: dict[str, set[int]]) -> list[int]:
        return [
            start
            for start in at.get(phrase[0], ())
            if all(start + j in at.get(w, ()) for j, w in enumerate(phrase[1:], 1))
        ]

    def _negated(self, ws: list[str], start: int, locale: str) -> bool:
        """A negation ends at one of the three words before `start`, only fillers between."""
        for k in range(start - 1, start - 5, -1):
            if k < 0:
                return False
            if any(tuple(ws[k + 1 - len(n) : k + 1]) == n for n in self.negations[locale]):
                return True
            if ws[k] not in self.fillers[locale]:
                return False
        return False


# --- Fixtures and text ---------------------------------------------------------------------

LISTS = load_content(ROOT / "content").safeguarding
MATCHER = SafeguardingMatcher(LISTS)
REFERENCE = Reference(LISTS)
VOCAB = sorted({w for _, _, ws, _, _ in REFERENCE.phrases for w in ws})
# Words that negate, fill, or look like a phrase word with a typo, to put around phrases.
AROUND = sorted(
    {w for negs in REFERENCE.negations.values() for n in negs for w in n}
    | {w for fs in REFERENCE.fillers.values() for w in fs}
    | set(sorted(REFERENCE.not_typos)[::10])
)

# Lists that reach corners the real ones do not: a four-letter phrase (too short for the
# index of runs), letters beyond the BMP, a letter that ends in a combining mark, a phrase that
# is one long word.
ODD_LISTS = {
    "odd": SafeguardingFile(
        locale="en",
        status="draft",
        categories={
            "suicide": ["stop", "𝒜𝒜𝒜 kill", "ｆｕｌｌ ｗｉｄｔｈ", "pneumonoultramicroscopic"],
            "abuse": ["e\u0301ve\u0301nement", "x y z w v", "한국 말", "ﷺ now"],
            "running_away": ["run away", "stop it now please"],
        },
    )
}
ODD_MATCHER = SafeguardingMatcher(ODD_LISTS)
ODD_REFERENCE = Reference(ODD_LISTS)

# Characters normalisation treats specially: case, leet digits, accents precomposed and not,
# Arabic marks and letters that fold, ligatures and other NFKC expansions (U+FDFA becomes four
# words), Hangul jamo that compose, Indic vowel signs that compose backwards, letters beyond
# the BMP, digits that are not letters, lone surrogates, and word breaks of every sort.
TRICKY = (
    "abcdeilmosty AEIKLMS 01345@$ .,!?'-_\t\n"
    "éëçÉËÇß ﬁﬂ\u0301\u0308\u0327\u0323\u0302\u0316"
    "ﷺﷻﷲﻻﻟ قتلوحاليمنسأإآىةؤئ\u064b\u0640\u0670\u0652\u0654"
    "한국어\u1100\u1161\u11a8\uac00 \u0b47\u0b3e\u0bc6\u0bbe"
    "ⅫⅣ²½五〇٣\u00a0\u2003 𝒜𝔸\U0001d400\ud800\udfff\x00"
)


def corpus_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(DATA.glob("*.txt")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    return lines


def typo(rng: random.Random, w: str) -> str:
    if len(w) < 2:
        return w
    i = rng.randrange(len(w))
    kind = rng.randrange(4)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == 0:
        return w[:i] + w[i + 1 :]
    if kind == 1:
        return w[:i] + letter + w[i:]
    if kind == 2:
        return w[:i] + letter + w[i + 1 :]
    return w[:i] + w[i + 1 : i + 2] + w[i] + w[i + 2 :]


def same(text: str) -> None:
    assert words(text) == reference_words(text), text
    assert compact(text) == "".join(reference_words(text)), text
    # The phrases only: the number rules are a layer of their own, with tests of their own.
    assert MATCHER._phrase_categories(text) == REFERENCE.categories(text), text
    assert ODD_MATCHER._phrase_categories(text) == ODD_REFERENCE.categories(text), text


SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# --- Tests ---------------------------------------------------------------------------------


def test_the_phrases_are_the_reference_phrases():
    assert [
        (p.category, p.compact, p.words, p.locale, p.negatable) for p in MATCHER._phrases
    ] == REFERENCE.phrases
    assert MATCHER._fuzzy_vocab == REFERENCE.fuzzy_vocab


@pytest.mark.parametrize("line", corpus_lines())
def test_every_corpus_line_gives_the_reference_answer(line):
    same(line)


@SETTINGS
@given(st.text(alphabet=TRICKY, max_size=80))
def test_text_of_special_characters_gives_the_reference_answer(text):
    same(text)


@SETTINGS
@given(st.text(max_size=60))
def test_any_text_normalises_as_the_reference_does(text):
    assert words(text) == reference_words(text)


@SETTINGS
@given(st.randoms(use_true_random=False), st.sampled_from(corpus_lines()))
def test_corpus_lines_retyped_give_the_reference_answer(rng, line):
    # Shouted, stretched, with typos, run together or spread out.
    ws = line.split()
    out = []
    for w in ws:
        r = rng.random()
        if r < 0.15:
            w = typo(rng, w)
        elif r < 0.25:
            w = w.upper()
        elif r < 0.3:
            w = w[0] * 3 + w
        out.append(w)
    sep = rng.choice([" ", "", "  ", ", ", "\u0301 ", " ﷺ "])
    same(sep.join(out))


@SETTINGS
@given(st.randoms(use_true_random=False))
def test_phrases_with_typos_among_words_give_the_reference_answer(rng):
    _, _, pws, _, _ = rng.choice(REFERENCE.phrases)
    ws = [typo(rng, w) if rng.random() < 0.4 else w for w in pws]
    noise = [rng.choice(VOCAB) if rng.random() < 0.6 else typo(rng, rng.choice(VOCAB))]
    noise += [rng.choice(VOCAB + AROUND + AROUND) for _ in range(rng.randrange(6))]
    k = rng.randrange(len(noise) + 1)
    same(" ".join(noise[:k] + ws + noise[k:]))


@pytest.mark.parametrize("seed", range(6))
def test_long_messages_give_the_reference_answer(seed):
    # Long enough to be screened in pieces, with a phrase (typed with a typo or not) wherever
    # the pieces are cut, over a pasted repeat or over unrepeated words.
    rng = random.Random(seed)
    unit = " ".join(rng.choice(VOCAB + ["the", "school", "was", "fine"]) for _ in range(7))
    if seed % 3 == 0:
        # Long enough whatever words the phrase lists happen to give the unit.
        base = (unit + " ") * (5 * 8192 // len(unit) + 1)
    elif seed % 3 == 1:
        base = " ".join(rng.choice(VOCAB) for _ in range(6000))
    else:
        base = "\ufdfa" * 1500 + " " + unit * 300
    for _ in range(3):
        _, _, pws, _, _ = rng.choice(REFERENCE.phrases)
        ws = [typo(rng, w) if rng.random() < 0.3 else w for w in pws]
        at = rng.randrange(len(base))
        base = base[:at] + rng.choice([" ", ""]) + " ".join(ws) + " " + base[at:]
    assert len(" ".join(words(base))) > 4 * safeguarding._PIECE
    same(base)


@pytest.mark.parametrize("seed", range(4))
def test_text_of_many_distinct_characters_gives_the_reference_answer(seed):
    # Too many characters to normalise one by one, some NFKC changes, some beyond the BMP.
    rng = random.Random(seed)
    chars = [chr(rng.randrange(0x20, 0x30000)) for _ in range(3000)]
    for _ in range(5):
        _, _, pws, _, _ = rng.choice(REFERENCE.phrases)
        chars.insert(rng.randrange(len(chars)), " " + " ".join(pws) + " ")
    text = "".join(chars)
    assert len(set(text)) > 1000
    same(text)


@SETTINGS
@given(st.text(alphabet="ab é\u0627\U0001d400", max_size=40))
def test_dropping_doubles_keeps_one_of_each_run(text):
    assert safeguarding._drop_doubles(text) == re.sub(r"(.)(?=\1)", "", text)


def test_the_characters_nfkc_may_merge_backwards_are_all_found():
    # The matcher normalises a character on its own only where NFKC cannot join it to the
    # character before; this is the full list that decision relies on.
    found = {*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)}
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<") and len(d.split()) == 2:
            found.add(int(d.split()[1], 16))
    assert safeguarding._backward_combiners() == found
