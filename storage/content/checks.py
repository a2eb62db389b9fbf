"""Every check of content/ that needs more than one file, or the code: each a small function
named for what it checks, all listed in `CHECKS` (the shape of Rasa's `data validate`).

Each check yields every problem it finds rather than stopping at the first, so that one
`ContentError` (or `myreview content check`) tells a person editing content/ everything to fix.
A check runs only when the files it reads were read: a file with problems of its own (it does
not parse, or does not fit its schema) has said them already, and is not checked further.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from storage.content.contract_checks import (
    english_has_every_needed_key,
    english_sections_hold_only_what_the_code_uses,
    options_the_code_branches_on_are_there,
    questions_the_code_needs_are_there,
    system_options_are_ones_the_code_knows,
    system_questions_are_ones_the_code_asks,
)
from storage.content.lines import Problem, problem_at
from storage.content.loaded import Loaded
from storage.content.schema import (
    FALLBACK_LOCALE,
    FORMS,
    MIN_PHRASE_LETTERS,
    PLURAL_FORMS,
    AgeBand,
    Condition,
    Question,
    placeholders,
)

# --- The consultation ----------------------------------------------------------------------------


def question_ids_are_unique(c: Loaded) -> Iterator[Problem]:
    assert c.meant is not None
    seen: set[str] = set()
    for loc, q in _located(c):
        if q.id in seen:
            yield problem_at(
                c.consultation_path,
                c.consultation_lines,
                loc,
                f"the id '{q.id}' is used twice; ids must be unique",
            )
        seen.add(q.id)


def conditions_name_bands_and_earlier_answers(c: Loaded) -> Iterator[Problem]:
    """A condition's age bands exist, and the answer it tests is to a question asked before it,
    with the options it names."""
    assert c.meant is not None
    band_ids = set(c.band_ids)
    before: dict[str, Question] = {}
    for loc, q in _located(c):
        conditions = [(q.when, (*loc, "when"))] + [
            (o.when, (*loc, "options", j, "when")) for j, o in enumerate(q.options)
        ]
        for whole, cloc in conditions:
            for cond in whole.parts() if whole is not None else []:
                for message in _condition_problems(cond, q, before, band_ids):
                    yield problem_at(c.consultation_path, c.consultation_lines, cloc, message)
        before.setdefault(q.id, q)


def _condition_problems(
    cond: Condition, q: Question, before: dict[str, Question], band_ids: set[str]
) -> Iterator[str]:
    for band in cond.age_band or []:
        if band not in band_ids:
            yield f"unknown age band '{band}'; use {band_ids}"
    if cond.answer is None:
        return
    target = before.get(cond.answer.question)
    if target is None:
        yield f"'{cond.answer.question}' must be a question asked before '{q.id}'"
        return
    bad = (set(cond.answer.any_of or []) | set(cond.answer.none_of or [])) - {
        o.id for o in target.options
    }
    if bad:
        yield f"'{target.id}' has no options {sorted(bad)}"


def for_each_chosen_names_an_earlier_multi_question(c: Loaded) -> Iterator[Problem]:
    before: dict[str, Question] = {}
    for loc, q in _located(c):
        if q.for_each_chosen is not None:
            target = before.get(q.for_each_chosen)
            if target is None or target.type != "multi":
                yield problem_at(
                    c.consultation_path,
                    c.consultation_lines,
                    (*loc, "for_each_chosen"),
                    "for_each_chosen must name a multi question asked before this one",
                )
        before.setdefault(q.id, q)


def _located(c: Loaded) -> Iterator[tuple[tuple[Any, ...], Question]]:
    """Every question in the order asked (the flow, then system questions), with where it is."""
    assert c.meant is not None
    for group in ("questions", "system_questions"):
        for i, q in enumerate(getattr(c.meant, group)):
            yield (group, i), q


# --- Wording ---------------------------------------------------------------------------------


def english_is_there(c: Loaded) -> Iterator[Problem]:
    if c.english is None and c.directory / "locales" / "en.yaml" not in c.stopped:
        yield Problem(c.directory / "locales", None, "en.yaml is missing; English is required")


def _base(key: str, band_ids: Collection[str]) -> str:
    """The key a wording is a variant of (per band, form or plural category), or itself."""
    head, _, last = key.rpartition(".")
    variant = last[:-2] if last.endswith(("_f", "_m")) else last
    if key.startswith("plurals.") and last in PLURAL_FORMS:
        return head
    return head if variant in band_ids or last in FORMS else key


def wording_by_band_reaches_every_band(c: Loaded) -> Iterator[Problem]:
    """Wording given per band, with no plain version, must reach every band through its
    fall-backs (an easy prompt alone would leave the other bands with none)."""
    assert c.consultation is not None and c.english is not None
    bands = {b.id: b for b in c.consultation.age_bands}
    for code, locale in c.locales.items():
        varied: dict[str, set[str]] = {}
        for k in locale.strings:
            if _base(k, bands) != k:
                varied.setdefault(_base(k, bands), set()).add(k.rpartition(".")[2])
        for base, given in varied.items():
            if base.startswith("plurals.") or base in locale.strings:
                continue  # plural forms are not bands
            if code != FALLBACK_LOCALE and base in c.english.strings:
                continue
            for band_id in bands:
                if not _reaches(band_id, given, bands):
                    yield problem_at(
                        locale.path,
                        c.locale_lines[code],
                        tuple(base.split(".")),
                        f"'{base}' has wording for {sorted(given)} but none for age band "
                        f"'{band_id}'; add '{band_id}:', or 'any:' for every band not named.",
                    )


def _reaches(band_id: str, given: set[str], bands: Mapping[str, AgeBand]) -> bool:
    """Whether `band_id`, or a band it falls back to, has its own wording (one of `given`)."""
    b: str | None = band_id
    seen: set[str] = set()
    while b is not None and b not in given and b not in seen:
        seen.add(b)
        b = bands[b].falls_back_to
    return b is not None and b in given


def translations_use_only_english_keys(c: Loaded) -> Iterator[Problem]:
    english = c.english_meant
    assert english is not None
    en_bases = {_base(k, c.band_ids) for k in english.strings}
    # A key the code needs and English lost is a problem in en.yaml, not in every translation.
    lost = {g.key for g in c.english_gaps}
    under_lost = tuple(f"{k}." for k in lost)
    for code, locale in _translations(c):
        for key in locale.strings:
            base = _base(key, c.band_ids)
            if base not in en_bases and base not in lost and not base.startswith(under_lost):
                yield problem_at(
                    locale.path,
                    c.locale_lines[code],
                    tuple(key.split(".")),
                    f"'{key}' is not in en.yaml. Check the spelling of the key, or add it to "
                    "en.yaml first.",
                )


def translations_keep_englishs_placeholders(c: Loaded) -> Iterator[Problem]:
    english = c.english_meant
    assert english is not None
    allowed: dict[str, set[str]] = {}
    for k, v in english.strings.items():
        allowed.setdefault(_base(k, c.band_ids), set())
        if isinstance(v, str):
            allowed[_base(k, c.band_ids)].update(placeholders(v))
    for code, locale in _translations(c):
        for key, value in locale.strings.items():
            base = _base(key, c.band_ids)
            # A key English does not have is the problem above, whatever its placeholders.
            if not isinstance(value, str) or base not in allowed:
                continue
            extra = placeholders(value) - allowed[base]
            if extra:
                yield problem_at(
                    locale.path,
                    c.locale_lines[code],
                    tuple(key.split(".")),
                    f"'{key}' uses {sorted(extra)}, which English does not have. Keep the "
                    "{placeholders} exactly as in en.yaml.",
                )


def _translations(c: Loaded) -> Iterator[tuple[str, Any]]:
    return ((code, loc) for code, loc in c.locales.items() if code != FALLBACK_LOCALE)


# --- Safeguarding ------------------------------------------------------------------------------


def _squashed(phrase: str) -> str:
    """A phrase as the matcher compares it: letters only, lower case, no doubled letters."""
    letters = "".join(ch for ch in phrase.casefold() if ch.isalpha())
    return re.sub(r"(.)\1+", r"\1", letters)


def safeguarding_phrases_are_long_enough(c: Loaded) -> Iterator[Problem]:
    """Matching ignores spaces, so a short phrase hides inside ordinary words."""
    for code, sfile in c.safeguarding.items():
        for category, phrases in sfile.categories.items():
            for i, phrase in enumerate(phrases):
                squashed = _squashed(phrase)
                if len(squashed) < MIN_PHRASE_LETTERS:
                    yield problem_at(
                        c.directory / "safeguarding" / f"{code}.yaml",
                        c.safeguarding_lines[code],
                        ("categories", category, i),
                        f"'{phrase}' squashes to '{squashed}', {len(squashed)} letters: a phrase "
                        f"needs at least {MIN_PHRASE_LETTERS}, or it hides inside ordinary words "
                        "('ran off' is inside 'a veteran officer'). Add a few words of context.",
                    )


# A chat language without its own phrases and examples would be screened only by the English
# ones: a child's worry in it missed. Refused, naming what to add.


def every_chat_language_has_safeguarding_phrases(c: Loaded) -> Iterator[Problem]:
    for code, locale in c.locales.items():
        phrases = c.directory / "safeguarding" / f"{code}.yaml"
        if code not in c.safeguarding and phrases not in c.stopped:
            yield Problem(
                locale.path,
                None,
                f"the chat can be in {locale.meta.english_name}, but {phrases} is missing. Add "
                "the phrases that tell of a worry in that language (copy en.yaml's layout) "
                "before offering it.",
            )


def every_chat_language_has_safeguarding_examples(c: Loaded) -> Iterator[Problem]:
    examples = c.directory / "safeguarding" / "examples"
    if not examples.is_dir():
        return
    for code, locale in c.locales.items():
        if not any(examples.glob(f"{code}-*.tsv")):
            yield Problem(
                locale.path,
                None,
                f"the chat can be in {locale.meta.english_name}, but {examples} has no "
                f"{code}-*.tsv. Add examples in that language and run "
                "`myreview safeguarding train` before offering it.",
            )


# --- The table ---------------------------------------------------------------------------------

CONSULTATION = "consultation"
ENGLISH = "english"


@dataclass(frozen=True)
class Check:
    run: Callable[[Loaded], Iterable[Problem]]
    # The files it reads: it does not run when one of them is missing or was stopped.
    needs: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.run.__name__

    def can_run(self, c: Loaded) -> bool:
        have = {CONSULTATION: c.consultation is not None, ENGLISH: c.english is not None}
        return all(have[n] for n in self.needs)


_C = frozenset({CONSULTATION})
_E = frozenset({ENGLISH})
_CE = _C | _E

CHECKS: tuple[Check, ...] = (
    # Against the code (contract_checks): a rename is reported as the rename it is.
    Check(questions_the_code_needs_are_there, _C),
    Check(options_the_code_branches_on_are_there, _C),
    Check(system_questions_are_ones_the_code_asks, _C),
    Check(system_options_are_ones_the_code_knows, _C),
    Check(english_has_every_needed_key, _E),
    Check(english_sections_hold_only_what_the_code_uses, _E),
    # The consultation with itself.
    Check(question_ids_are_unique, _C),
    Check(conditions_name_bands_and_earlier_answers, _C),
    Check(for_each_chosen_names_an_earlier_multi_question, _C),
    # The wording with the consultation and with English.
    Check(english_is_there),
    Check(wording_by_band_reaches_every_band, _CE),
    Check(translations_use_only_english_keys, _CE),
    Check(translations_keep_englishs_placeholders, _CE),
    # Safeguarding, for every chat language.
    Check(safeguarding_phrases_are_long_enough),
    Check(every_chat_language_has_safeguarding_phrases),
    Check(every_chat_language_has_safeguarding_examples),
)


def run_checks(c: Loaded, checks: Iterable[Check] = CHECKS) -> list[Problem]:
    """Every problem every check that can run finds, in the order of the table."""
    return [p for check in checks if check.can_run(c) for p in check.run(c)]
