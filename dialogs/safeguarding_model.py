"""The statistical layer of the safeguarding screen: a linear model over character n-grams.

Phrase lists hear only the words someone thought of; children say the same thing a hundred
ways ("everyone would be better off", "i owe him so i carry stuff"). This layer learns from the
labelled sentences in content/safeguarding/examples/ (disclosures per category and ordinary
sentences full of trigger-like words, in every language) and generalises to paraphrase, typos
and mixed scripts, because it reads pieces of words rather than whole words.

`myreview safeguarding train` fits it with scikit-learn and writes content/safeguarding/model/:
`screen.npz` (vocabulary, idf weights, coefficients) and `screen.json` (what it was trained on,
the threshold per category and the validation figures). At run time only numpy is used: the
scorer repeats the vectoriser's arithmetic, and a test checks it agrees with scikit-learn.

Why this model: it is small (a few MB), scores a message in well under a millisecond on one
core, needs no network or GPU, and is retrained in under a minute when officers add examples.
The multilingual sentence encoders that a package ships are hundreds of MB and take tens of
milliseconds per message on this hardware, against a budget of 5 ms at the 95th percentile.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dialogs.recognize import looks_like_code, normalize
from dialogs.safeguarding import SafeguardingMatcher, words
from storage.content import (
    ORDINARY,
    SAFEGUARDING_CATEGORIES,
    Content,
    ContentError,
    Example,
    SafeguardingFile,
    load_examples,
)

# Bump when `features` changes: a model trained on other features must be retrained.
FEATURES_VERSION = 5
# The model judges a message only with at least this many different words it has seen in
# training: one
# word is too little to go on ("send", "back", "help" are also the bot's own buttons), and
# letters that are not words (an invite code, "BWZ-M38-R9Y") are not evidence of anything.
# The phrase lists hear short disclosures.
MODEL_MIN_WORDS = 2
MODEL_FILES = ("screen.npz", "screen.json")
# A message up to this many words is scored whole; a longer one sentence by sentence, and a
# sentence longer than this in overlapping windows, since a disclosure in a long message would
# otherwise be diluted by everything around it. Windows start every STEP words, so a run of up
# to WINDOW - STEP + 1 words always lies whole inside one; in a pasted wall of text (more than
# LONG words) every LONG_STEP words, to bound the work.
WINDOW = 24
STEP = 8
LONG = 400
LONG_STEP = 16
_SENTENCE_END = re.compile(r"[.!?;\n\u061f\u06d4\u3002]+")
# The share of ordinary sentences, in each language, that the thresholds may flag on validation.
FALSE_ALARM_BUDGET = 0.015
# The share of ordinary sentences that the lower, "unsure" thresholds may add to the clear tier's:
# those messages get a gentle check ("Is something making you feel unsafe?"), not an alarm, so
# more can be asked; but a check on every other ordinary sentence would be nagging.
UNSURE_BUDGET = 0.06
# A phrase matched where the model scores every category below this is heard as unsure (a gentle
# check and a note to the IRO), not clear: chosen on the development rounds (1-5 and the phrase
# lists' own corpora), where it moved 5 of 14 ordinary sentences that trip a phrase (a rugby
# bruise, a school trip, self-harm long over) out of the urgent tier and none of 401
# disclosures that trip one (the lowest of those scored 0.24).
PHRASE_DOUBT = 0.23
# Phrases of these kinds are always acted on, whatever the model makes of the words around
# them: a child who writes "i cant go on anymore" gets the help at once (model 7d05 scored it
# 0.22, and the doubt rule had moved it to a gentle check).
NEVER_DOUBTED = frozenset({"suicide", "immediate_danger"})

# A message of this many words or fewer is never clear on the model's word alone (a phrase is
# needed). Chosen on rounds 1-11 (all development sets by then), model 7902fe8f98ce: urgent false
# alarms on ordinary sequences en 4.7% -> 3.5%, ar 4.1% -> 0.7%, sq 3.4% -> 1.7%, on ordinary
# single messages 1.7/1.8/1.4% -> 1.6/1.6/0.9%; disclosures heard in either tier unchanged (those
# few go to the gentle check instead), heard clearly 0-2 points fewer. Round 12, frozen unread
# before, measures it.
MODEL_ALONE_WORDS = 5

FOLDS = 5
REPEATS = 3
# Beside one model per category, one of every disclosure against ordinary sentences: it pools
# what all categories have in common, which helps most where a category has few examples.
ANY = "any"
C = 8.0
SEED = 20261123


# Numbers standing alone, and the words joining them ("3, 5", "1 and 5", "١ و ٣", "2 dhe 4"),
# are options typed by their numbers, never words: the digit-for-letter swaps that let the
# phrases hear "k1ll" would read "3 5" as "e s", and "1 and 2 and 5" left "and and". Digits
# inside a word ("k1ll", Arabizi "7ada") are kept.
_NUM = "[\\d\\u0660-\\u0669\\u06f0-\\u06f9]+"
_JOIN = (
    "(?:\\s*(?:[,\\u060c;:/&+.\\-]|\\band\\b|\\bor\\b|\\bn\\b|\\bdhe\\b|\\bose\\b|\\be\\b"
    "|\\u0648|\\u0627\\u0648)\\s*|\\s+)"
)
_LONE_NUMBER = re.compile(f"(?<![^\\W\\d_]){_NUM}(?:{_JOIN}{_NUM})*(?![^\\W\\d_])")
# Words written with digits for letters: Arabic in Latin letters ("7ada bi2zini", where 7, 2, 3
# and 5 are letters of their own) and leetspeak. The normalised words lose those digits, so
# their own letters-and-digits are features too.
_MIXED_WORD = re.compile(r"\b(?=\w*\d)(?=\w*[^\W\d_])\w{2,}\b")


def model_words(text: str) -> list[str]:
    """The normalised words the model reads: lone numbers are not words."""
    return words(_LONE_NUMBER.sub(" ", text))


def features(text: str) -> list[str]:
    """Character runs of 2-5 over the normalised words (spaces kept, so runs that cross a word
    boundary see "no one h"), plus each word and each pair of words."""
    ws = model_words(text)
    if not ws:
        return []
    t = " " + " ".join(ws) + " "
    out = [t[i : i + n] for n in (2, 3, 4, 5) for i in range(len(t) - n + 1)]
    out += ["w:" + w for w in ws]
    out += ["b:" + a + " " + b for a, b in zip(ws, ws[1:], strict=False)]
    for mixed in _MIXED_WORD.findall(text.casefold()):
        padded = f" {mixed} "
        out.append("r:" + mixed)
        out += ["m:" + padded[i : i + 3] for i in range(len(padded) - 2)]
    return out


def windows(text: str) -> list[str]:
    """The stretches of `text` that are scored: the whole, or its distinct sentences and
    windows of long sentences. A whole message or sentence is scored as written, as the model
    was trained (`features` reads words written with digits from it); windows of a long one as
    normalised words."""
    ws = model_words(text)
    if len(ws) <= WINDOW:
        return [text] if ws else []
    step = STEP if len(ws) <= LONG else LONG_STEP
    out: dict[str, None] = {}
    for sentence in _SENTENCE_END.split(text):
        sw = model_words(sentence)
        if len(sw) <= WINDOW:
            if sw:
                out[sentence.strip()] = None
            continue
        for i in range(0, len(sw) - WINDOW + step, step):
            out[" ".join(sw[i : i + WINDOW])] = None
    out.pop("", None)
    return list(out)


def training_set(content: Content) -> list[Example]:
    """The examples in content/safeguarding/examples/. Not the bot's own wording: editing a
    label must not need the model retrained (the screen never judges the bot's own words, see
    `bot_words`)."""
    directory = content.safeguarding_dir / "examples"
    return list(_examples(directory, _signature(directory)))


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Each example file's name, size and time of change: an edited file is read again."""
    return tuple(
        (p.name, st.st_size, st.st_mtime_ns)
        for p in sorted(directory.glob("*.tsv"))
        for st in [p.stat()]
    )


@lru_cache(maxsize=4)
def _examples(directory: Path, signature: tuple[tuple[str, int, int], ...]) -> tuple[Example, ...]:
    # Every app checks its model against the examples at start-up (13,000 rows, about 0.2 s);
    # a process that makes many apps (the tests) reads unchanged files once.
    return tuple(load_examples(directory))


def bot_words(content: Content) -> dict[str, str]:
    """Every option label and control word a child taps or types back, in every language,
    normalised, with where it is written: "they / them" or "send" is never a worry."""
    found: dict[str, str] = {}
    for locale, strings in sorted(content.locales.items()):
        for key, value in sorted(strings.strings.items()):
            if not key.endswith((".label", ".synonyms")):
                continue
            for text in value if isinstance(value, list) else [value]:
                norm = normalize(str(text))
                if norm:
                    found.setdefault(norm, f"content/locales/{locale}.yaml: {key}")
    return found


def examples_digest(examples: Sequence[Example]) -> str:
    """What a model was trained on, so that a stale model is noticed."""
    return _digest(tuple(examples))


@lru_cache(maxsize=4)
def _digest(examples: tuple[Example, ...]) -> str:
    h = hashlib.sha256(f"features:{FEATURES_VERSION}\n".encode())
    for e in sorted(examples, key=lambda e: (e.locale, e.category, e.text)):
        h.update(f"{e.locale}\t{e.category}\t{e.text}\n".encode())
    return h.hexdigest()


class ScreenModel:
    """Scores a message per category; `categories` applies the thresholds."""

    def __init__(
        self,
        *,
        vocabulary: Sequence[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: Sequence[str],
        thresholds: dict[str, float],
        meta: dict[str, Any],
        unsure: dict[str, float] | None = None,
    ) -> None:
        self._index = {f: i for i, f in enumerate(vocabulary)}
        self._idf = idf.astype(np.float64)
        self._coef = coef.astype(np.float64)
        self._intercept = intercept.astype(np.float64)
        self.classes = list(classes)
        self.thresholds = dict(thresholds)
        self.meta = meta
        # The lower thresholds of the "unsure" tier: a gentle check, not an alarm. A model
        # without them has no unsure tier.
        self.unsure = dict(unsure or {})
        self._watch = [
            (self.classes.index(c), c, t) for c, t in self.thresholds.items() if c in self.classes
        ]
        self._watch_unsure = [
            (self.classes.index(c), c, t) for c, t in self.unsure.items() if c in self.classes
        ]

    def probabilities(self, text: str) -> np.ndarray:
        """Per class, the highest probability over the message's windows (zeros if no words)."""
        best = np.zeros(len(self.classes))
        for window in windows(text):
            best = np.maximum(best, self._window(window))
        return best

    def _window(self, text: str) -> np.ndarray:
        counts = Counter(i for f in features(text) if (i := self._index.get(f)) is not None)
        if not counts:
            # Nothing the model has ever seen: no evidence either way, so no score (its bare
            # intercepts would put an unknown word like "skip" at even odds).
            return np.zeros(len(self.classes))
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        v = tf * self._idf[idx]
        v /= math.sqrt(float(v @ v))
        z = v @ self._coef[idx] + self._intercept
        # One logistic model per category, each against ordinary sentences only.
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def most_likely(self, text: str) -> float:
        """The highest probability of any category (the pooled one included) for `text`."""
        p = self.probabilities(text)
        return float(p.max()) if len(p) else 0.0

    def scores(self, text: str) -> dict[str, float]:
        p = self.probabilities(text)
        return {c: float(p[i]) for i, c in enumerate(self.classes)}

    def categories(self, text: str) -> list[str]:
        """Categories at or above their threshold, most likely first."""
        return self.assess(text)[0]

    def assess(self, text: str) -> tuple[list[str], list[str]]:
        """(clear, unsure): the categories at or above their threshold, most likely first; and,
        when none is, those at or above their lower "unsure" threshold. When only the pooled
        model is above a threshold, the category whose model scores highest."""
        known: set[str] = set()
        for w in model_words(text):
            if ("w:" + w) in self._index:
                known.add(w)
            if len(known) >= MODEL_MIN_WORDS:
                break
        else:
            return [], []
        p = self.probabilities(text)
        clear = self._named(p, self._watch)
        if clear:
            return clear, []
        return [], self._named(p, self._watch_unsure)

    def _named(self, p: np.ndarray, watch: list[tuple[int, str, float]]) -> list[str]:
        hits = [(p[i], c) for i, c, t in watch if p[i] >= t]
        named = [c for _, c in sorted(hits, reverse=True) if c != ANY]
        if named or len(named) == len(hits):
            return named
        scored = [(p[i], c) for i, c in enumerate(self.classes) if c != ANY]
        return [max(scored)[1]] if scored else []

    # --- the artefact ---------------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path) -> ScreenModel:
        npz, meta_path = (directory / f for f in MODEL_FILES)
        fix = "Run `myreview safeguarding train` to build it, or restore it from git."
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with np.load(npz, allow_pickle=False) as arrays:
                data = {k: arrays[k] for k in ("vocabulary", "idf", "coef", "intercept")}
        except FileNotFoundError as exc:
            raise ContentError(f"{exc.filename}: the safeguarding model is missing. {fix}") from exc
        except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
            raise ContentError(
                f"{directory}: the safeguarding model cannot be read ({exc}). {fix}"
            ) from None
        if meta.get("features_version") != FEATURES_VERSION:
            raise ContentError(
                f"{meta_path}: trained on features version {meta.get('features_version')}, "
                f"the code uses {FEATURES_VERSION}. {fix}"
            )
        classes = meta["classes"]
        unknown = set(meta["thresholds"]) - {*SAFEGUARDING_CATEGORIES, ANY}
        if unknown or data["coef"].shape != (len(data["vocabulary"]), len(classes)):
            raise ContentError(f"{directory}: the safeguarding model is inconsistent. {fix}")
        return cls(
            vocabulary=data["vocabulary"].tolist(),
            idf=data["idf"],
            coef=data["coef"],
            intercept=data["intercept"],
            classes=classes,
            thresholds={k: float(v) for k, v in meta["thresholds"].items()},
            meta=meta,
            unsure={k: float(v) for k, v in meta.get("unsure_thresholds", {}).items()},
        )

    def is_stale(self, examples: Sequence[Example]) -> bool:
        return bool(self.meta.get("examples_sha256") != examples_digest(examples))


# Screens built, by the content they were built for (kept alive beside it, so an id is never
# reused while its entry stands).
_SCREENS: dict[int, tuple[Content, Screen]] = {}
SCREENS_KEPT = 8


class Screen:
    """Both layers of the safeguarding screen. The phrases always fire (the must-never-miss
    wording, checked word for word); the model adds the categories it scores at or above their
    thresholds, for the many ways of saying it that no list holds."""

    def __init__(
        self,
        phrases: SafeguardingMatcher,
        model: ScreenModel,
        own_words: Iterable[str] = (),
        sure: SafeguardingMatcher | None = None,
    ) -> None:
        self.phrases = phrases
        self.model = model
        self.own_words = frozenset(own_words)
        # The phrase files' `sure_phrases` alone: a match is never doubted by the model.
        self.sure = sure

    @classmethod
    def for_content(cls, content: Content) -> Screen:
        """The screen for this content, built once per (immutable) content object: the
        phrase lists compile and the model loads in about 0.1 s."""
        hit = _SCREENS.get(id(content))
        if hit is not None and hit[0] is content:
            return hit[1]
        screen = cls(
            SafeguardingMatcher(content.safeguarding),
            ScreenModel.load(content.safeguarding_dir / "model"),
            bot_words(content),
            SafeguardingMatcher(sure_only(content.safeguarding)),
        )
        _SCREENS[id(content)] = (content, screen)
        while len(_SCREENS) > SCREENS_KEPT:
            del _SCREENS[next(iter(_SCREENS))]
        return screen

    def is_own_words(self, text: str) -> bool:
        """Whether the message is one of the bot's own labels or control words, as typed."""
        return len(text) <= 80 and normalize(text) in self.own_words

    def categories(self, text: str) -> list[str]:
        """What the screen hears clearly: every phrase match, and the model's categories at or
        above their thresholds."""
        return self.assess(text).categories

    def assess(self, text: str) -> Assessment:
        """Both tiers: clear (phrases, or the model at its thresholds) and, failing that,
        unsure (the model at its lower thresholds)."""
        found = self.phrases.categories(text)
        if looks_like_code(text) or self.is_own_words(text):
            # Letters that are not words are no evidence, and a code heard as a worry would
            # never be checked: the child could not link. A button's label sent back, or a
            # control word, is the bot's own wording, not the child's.
            return Assessment(found, [])
        clear, unsure = self.model.assess(text)
        if (
            found
            and not clear
            and not set(found) & NEVER_DOUBTED
            and self.model.most_likely(text) < PHRASE_DOUBT
            and not (self.sure and self.sure.categories(text))
        ):
            # The words of a phrase, but nothing like a disclosure around them ("bruised from
            # rugby but we won", "we learnt about county lines in pshe"): heard, and asked about
            # gently, not an alarm.
            return Assessment([], found)
        if clear and not found and len(text.split()) <= MODEL_ALONE_WORDS:
            # A few words no phrase knows ("i get £5", "in front of everyone", "my stepdad
            # picks me up", often a piece of a longer message) are too little for the model
            # alone to raise an urgent alarm: the gentle check asks, and the IRO gets a note
            # whatever the answer, so an adult still reads it.
            return Assessment([], clear)
        if found or clear:
            return Assessment(found + [c for c in clear if c not in found], [])
        return Assessment([], unsure)


def sure_only(lists: Mapping[str, SafeguardingFile]) -> dict[str, SafeguardingFile]:
    """Each phrase file with its `sure_phrases` only (and its negations), and no number rules."""
    return {
        locale: f.model_copy(
            update={
                "categories": {
                    c: [p for p in phrases if p in f.sure_phrases]
                    for c, phrases in f.categories.items()
                },
                "numbers": [],
            }
        )
        for locale, f in lists.items()
    }


@dataclass(frozen=True)
class Assessment:
    """What the screen makes of a message: `categories` heard clearly (an alert and the help
    at once); else `unsure` ones (a gentle check, and a note to the IRO)."""

    categories: list[str]
    unsure: list[str]

    @property
    def tier(self) -> str | None:
        return "clear" if self.categories else "unsure" if self.unsure else None


# --- training -----------------------------------------------------------------------------------


@dataclass
class Trained:
    model: ScreenModel
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    def save(self, directory: Path) -> None:
        """Writes the artefact byte for byte the same for the same examples: fixed zip times,
        so that retraining without a change shows no change in git."""
        directory.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, arr in self.arrays.items():
                out = io.BytesIO()
                np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(f"{name}.npy", (2026, 1, 1, 0, 0, 0)), out.getvalue())
        (directory / MODEL_FILES[0]).write_bytes(buf.getvalue())
        text = json.dumps(self.meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (directory / MODEL_FILES[1]).write_text(text, encoding="utf-8")


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=2, dtype=np.float64)


def _fit_per_category(x: Any, labels: Sequence[str], categories: Sequence[str]) -> list[Any]:
    """For each category, a logistic model of its sentences against the ordinary ones. Other
    categories are left out of each, so a sentence that is two kinds of worry at once is not
    taught to look ordinary to either."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels)
    models = []
    for c in categories:
        if c == ANY:
            rows, target = np.arange(len(y)), (y != ORDINARY)
        else:
            rows = np.flatnonzero((y == c) | (y == ORDINARY))
            target = y[rows] == c
        lr = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
        lr.fit(x[rows], target.astype(int))
        models.append(lr)
    return models


def _categories(examples: Sequence[Example]) -> list[str]:
    present = {e.category for e in examples}
    return [c for c in SAFEGUARDING_CATEGORIES if c in present] + [ANY]


def out_of_fold(
    examples: Sequence[Example], *, repeats: int = REPEATS
) -> tuple[list[str], np.ndarray]:
    """Each example's score per category from models that never saw it (stratified folds by
    language and category): the validation split the thresholds are chosen on."""
    from sklearn.model_selection import StratifiedKFold

    texts = np.asarray([e.text for e in examples], dtype=object)
    labels = [e.category for e in examples]
    strata = [f"{e.locale}:{e.category}" for e in examples]
    categories = _categories(examples)
    proba = np.zeros((len(examples), len(categories)))
    # Repeated with other shuffles and averaged: one split's luck moved recall by up to 8
    # points between retrains; averaged scores give thresholds that hold steadier.
    for r in range(repeats):
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED + r).split(texts, strata)
        for fit_rows, test_rows in folds:
            vec = _vectorizer()
            x = vec.fit_transform(texts[fit_rows])
            models = _fit_per_category(x, [labels[i] for i in fit_rows], categories)
            xt = vec.transform(texts[test_rows])
            for j, lr in enumerate(models):
                proba[test_rows, j] += lr.predict_proba(xt)[:, 1] / repeats
    return categories, proba


def choose_thresholds(
    examples: Sequence[Example],
    classes: Sequence[str],
    proba: np.ndarray,
    phrase_hits: Sequence[bool],
    *,
    budget: float = FALSE_ALARM_BUDGET,
    start: dict[str, float] | None = None,
) -> dict[str, float]:
    """One threshold per category. All start closed; step by step, the category whose next
    lower threshold catches the most disclosures (each language counting equally) per ordinary
    sentence newly flagged is lowered, as long as the model adds no more than `budget` of any
    language's ordinary sentences to those the phrases flag already. From `start` (and
    `phrase_hits` then holding what those flag), it lowers them further."""
    locales = sorted({e.locale for e in examples})
    is_pos = np.array([e.category != ORDINARY for e in examples])
    loc = np.array([locales.index(e.locale) for e in examples])
    # The bot's own labels are trained on, but would make the budget easy to keep: false
    # alarms are counted on the written ordinary sentences only.
    counted = np.array([e.source != "content" for e in examples])
    # A disclosure counts 1/(disclosures in its language), so that Arabic and Albanian count
    # as much as English; a false alarm counts against its language's own budget.
    pos_n = np.bincount(loc[is_pos], minlength=len(locales)).astype(float)
    neg_n = np.bincount(loc[~is_pos & counted], minlength=len(locales)).astype(float)
    weight = np.where(is_pos, 1.0 / np.maximum(pos_n[loc], 1), 0.0)
    flagged = np.array(phrase_hits, dtype=bool)
    fa = np.bincount(loc[~is_pos & counted & flagged], minlength=len(locales)).astype(float)
    # The budget is what the model may add to what is flagged already (the phrases, or the clear
    # tier when choosing the unsure one): the examples hold ordinary sentences written to trip
    # the phrases, so a budget that counted those would leave the model nothing.
    allowed = np.floor(budget * neg_n) + fa
    cats = [c for c in classes if c != ORDINARY]
    col = {c: list(classes).index(c) for c in cats}
    thresholds = {c: (start or {}).get(c, 1.01) for c in cats}
    # Candidate thresholds: the scores disclosures of that category reach, on a grid.
    grid = np.round(np.arange(0.99, 0.04, -0.01), 2)
    while True:
        best: tuple[float, str, float, np.ndarray] | None = None
        for c in cats:
            p = proba[:, col[c]]
            for t in grid[grid < thresholds[c]]:
                new = (p >= t) & ~flagged
                if not new.any():
                    continue
                add_fa = np.bincount(loc[new & ~is_pos & counted], minlength=len(locales))
                if np.any(fa + add_fa > allowed):
                    break
                gain = float(weight[new].sum())
                if gain <= 0:
                    continue
                value = gain / (1.0 + float(add_fa.sum()))
                if best is None or value > best[0]:
                    best = (value, c, float(t), new)
        if best is None:
            break
        _, c, t, new = best
        thresholds[c] = t
        fa += np.bincount(loc[new & ~is_pos & counted], minlength=len(locales))
        flagged |= new
    return {c: t for c, t in thresholds.items() if t <= 1.0} | {
        c: 1.01 for c, t in thresholds.items() if t > 1.0
    }


def figures(
    examples: Sequence[Example], flagged: Sequence[bool], *, by: Callable[[Example], str]
) -> dict[str, dict[str, float]]:
    """Recall on disclosures and the false-alarm rate on ordinary sentences, per group (the
    bot's own labels, trained on as ordinary, are left out of the count)."""
    kept = [(e, f) for e, f in zip(examples, flagged, strict=True) if e.source != "content"]
    examples, flagged = [e for e, _ in kept], [f for _, f in kept]
    out: dict[str, dict[str, float]] = {}
    for g in sorted({by(e) for e in examples}):
        pos = [
            f
            for e, f in zip(examples, flagged, strict=True)
            if by(e) == g and e.category != ORDINARY
        ]
        neg = [
            f
            for e, f in zip(examples, flagged, strict=True)
            if by(e) == g and e.category == ORDINARY
        ]
        out[g] = {
            "disclosures": len(pos),
            "recall": round(sum(pos) / len(pos), 4) if pos else float("nan"),
            "ordinary": len(neg),
            "false_alarms": round(sum(neg) / len(neg), 4) if neg else float("nan"),
        }
    return out


def train(
    examples: Sequence[Example],
    *,
    phrase_hits: Callable[[str], bool],
    log: Callable[[str], None] = print,
    repeats: int = REPEATS,
) -> Trained:
    """Validates on out-of-fold predictions, chooses the thresholds there, then fits on all.
    `repeats`: fewer shuffles, for a test that checks the artefact rather than the model."""
    import sklearn

    log(f"{len(examples)} examples; cross-validating in {FOLDS} folds, {repeats} times...")
    classes, proba = out_of_fold(examples, repeats=repeats)
    hits = [phrase_hits(e.text) for e in examples]
    thresholds = choose_thresholds(examples, classes, proba, hits)
    col = {c: classes.index(c) for c in thresholds}
    flagged = [
        h or any(proba[i, col[c]] >= t for c, t in thresholds.items()) for i, h in enumerate(hits)
    ]
    model_only = [
        any(proba[i, col[c]] >= t for c, t in thresholds.items()) for i in range(len(examples))
    ]
    lower = choose_thresholds(
        examples, classes, proba, flagged, budget=UNSURE_BUDGET, start=thresholds
    )
    unsure = {c: t for c, t in lower.items() if t < thresholds[c]}
    unsure_only = [
        not f and any(proba[i, col[c]] >= t for c, t in unsure.items())
        for i, f in enumerate(flagged)
    ]
    log("fitting on every example...")
    vec = _vectorizer()
    x = vec.fit_transform([e.text for e in examples])
    models = _fit_per_category(x, [e.category for e in examples], classes)
    vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    arrays = {
        "vocabulary": np.array(vocab, dtype=str),
        "idf": vec.idf_.astype(np.float32),
        "coef": np.column_stack([lr.coef_[0] for lr in models]).astype(np.float32),
        "intercept": np.array([lr.intercept_[0] for lr in models], dtype=np.float32),
    }
    digest = examples_digest(examples)
    meta: dict[str, Any] = {
        "format": 1,
        "features_version": FEATURES_VERSION,
        # The examples and the thresholds chosen on them (budgets differ): two artefacts that
        # score differently never share a name in the figures.
        "version": hashlib.sha256(
            f"{digest}\n{json.dumps([thresholds, unsure], sort_keys=True)}".encode()
        ).hexdigest()[:12],
        "examples_sha256": digest,
        "examples": dict(sorted(Counter(f"{e.locale}:{e.category}" for e in examples).items())),
        "classes": classes,
        "thresholds": thresholds,
        "trained_with": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "settings": {
            "C": C,
            "folds": FOLDS,
            "repeats": repeats,
            "seed": SEED,
            "budget": FALSE_ALARM_BUDGET,
            "unsure_budget": UNSURE_BUDGET,
        },
        "unsure_thresholds": unsure,
        "validation": {
            "how": "out-of-fold predictions, stratified by language and category, averaged "
            "over repeated shuffles",
            "phrases_and_model": figures(examples, flagged, by=lambda e: e.locale),
            "model_only": figures(examples, model_only, by=lambda e: e.locale),
            "phrases_only": figures(examples, hits, by=lambda e: e.locale),
            "unsure_only": figures(examples, unsure_only, by=lambda e: e.locale),
        },
    }
    model = ScreenModel(
        vocabulary=vocab,
        idf=arrays["idf"],
        coef=arrays["coef"],
        intercept=arrays["intercept"],
        classes=classes,
        thresholds=thresholds,
        meta=meta,
        unsure=unsure,
    )
    return Trained(model, arrays, meta)
