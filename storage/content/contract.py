"""What the code relies on in content/ (`ContentContract`, declared in dialogs/messages.py), and
how a missing id is traced to the rename that most likely lost it.

The guesses are pure functions of the files and the contract, so the checks that report a
rename and the checks after them, which look at the content as it will be once the rename is
undone, always agree on what was renamed: one rename is one problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.content.schema import ConsultationFile, Question, QuestionType


@dataclass(frozen=True)
class QuestionNeed:
    """A question the code asks or reads by its id."""

    type: QuestionType
    why: str  # said in the error, so that whoever renamed it knows what would break
    options: tuple[str, ...] | None = None  # option ids the code branches on; None: data only
    essential: bool = False  # the code has no path for a skip


@dataclass(frozen=True)
class ContentContract:
    """Every id the code relies on. Declared once (dialogs/messages.py) and passed in, so that
    storage never imports the dialogs; load_content refuses content that breaks it.

    A section that is declared is declared whole: system questions, their options, messages and
    controls must then match in both directions (content the code never uses is a rename that
    went wrong, or a feature that is not there). Flow questions are data, so only the ones the
    code reads by id are declared, and their options may grow.
    """

    questions: Mapping[str, QuestionNeed] = field(default_factory=dict)  # under `questions:`
    system_questions: Mapping[str, QuestionNeed] = field(default_factory=dict)
    messages: tuple[str, ...] = ()  # messages.<id> in en.yaml
    controls: tuple[str, ...] = ()  # controls.<id>.label in en.yaml
    typed_controls: tuple[str, ...] = ()  # controls.<id>.synonyms: typing them works too
    strings: tuple[str, ...] = ()  # any other en.yaml key, in full

    def english_keys(self) -> list[str]:
        return [
            *(f"messages.{m}" for m in self.messages),
            *(f"controls.{c}.label" for c in self.controls),
            *(f"controls.{c}.synonyms" for c in self.typed_controls),
            *self.strings,
        ]


def guess(
    wanted: str, present: Sequence[str], expected: Iterable[str], *, exact: bool
) -> str | None:
    """The id that `wanted` was most likely renamed to, among the ids nobody expects: a near
    spelling, else the only one that contains it (or that it contains). When `expected` is the
    whole of what may be there (`exact`), a lone unexpected id is the rename, however spelt."""
    unexpected = [p for p in present if p not in set(expected)]
    # "who_not_there_2" was "who_not_there", not its neighbour "who_there".
    containing = [p for p in unexpected if wanted in p]
    if len(containing) == 1:
        return containing[0]
    close = difflib.get_close_matches(wanted, unexpected, n=1, cutoff=0.6)
    if close:
        return close[0]
    overlapping = [p for p in unexpected if wanted in p or p in wanted]
    if len(overlapping) == 1:
        return overlapping[0]
    return unexpected[0] if exact and len(unexpected) == 1 else None


# Said after a problem the content can fix by undoing a rename, for when the code moved instead.
CHANGE_CODE = "If the code has changed instead, change dialogs/messages.py with it."

GROUPS = ("questions", "system_questions")
WORDS = {"questions": "question", "system_questions": "system question"}


def needs_of(contract: ContentContract, group: str) -> Mapping[str, QuestionNeed]:
    return contract.questions if group == "questions" else contract.system_questions


def question_guess(
    cfile: ConsultationFile, group: str, qid: str, contract: ContentContract
) -> str | None:
    """The question in `group` that the needed `qid`, found nowhere, was likely renamed to."""
    present = [q.id for q in getattr(cfile, group)]
    needs = needs_of(contract, group)
    return guess(qid, present, needs, exact=group == "system_questions")


def option_guess(group: str, q: Question, oid: str, need: QuestionNeed) -> str | None:
    """The option of `q` that the needed `oid`, not among them, was likely renamed to."""
    have = [o.id for o in q.options]
    return guess(oid, have, need.options or (), exact=group == "system_questions")


@dataclass(frozen=True)
class Renames:
    """Ids in consultation.yaml the contract says were renamed: where each is, and its old id."""

    questions: Mapping[tuple[str, int], str] = field(default_factory=dict)
    options: Mapping[tuple[str, int, int], str] = field(default_factory=dict)


def consultation_renames(cfile: ConsultationFile, contract: ContentContract) -> Renames:
    questions: dict[tuple[str, int], str] = {}
    options: dict[tuple[str, int, int], str] = {}
    everywhere = {q.id for group in GROUPS for q in getattr(cfile, group)}
    for group in GROUPS:
        present = [q.id for q in getattr(cfile, group)]
        for qid, need in needs_of(contract, group).items():
            if qid not in everywhere:
                found = question_guess(cfile, group, qid, contract)
                if found is not None:
                    questions[(group, present.index(found))] = qid
                continue
            if qid not in present or need.options is None:
                continue
            i = present.index(qid)
            q = getattr(cfile, group)[i]
            have = [o.id for o in q.options]
            for oid in need.options:
                if oid not in have and (found := option_guess(group, q, oid, need)) is not None:
                    options[(group, i, have.index(found))] = oid
    return Renames(questions, options)


def undo_renames(cfile: ConsultationFile, renames: Renames) -> ConsultationFile:
    """The consultation with its renamed ids back as the code knows them."""
    if not renames.questions and not renames.options:
        return cfile
    groups: dict[str, list[Question]] = {}
    for group in GROUPS:
        groups[group] = []
        for i, q in enumerate(getattr(cfile, group)):
            options = [
                o.model_copy(update={"id": renames.options[(group, i, j)]})
                if (group, i, j) in renames.options
                else o
                for j, o in enumerate(q.options)
            ]
            qid = renames.questions.get((group, i), q.id)
            groups[group].append(q.model_copy(update={"id": qid, "options": options}))
    return cfile.model_copy(update=groups)


@dataclass(frozen=True)
class EnglishGap:
    """Where a required English key stops: its parent that is there (`parent`), and the key
    beside it that the missing part was likely renamed to (`renamed`), if one looks like it."""

    key: str
    parent: tuple[str, ...]
    wanted: str
    renamed: str | None

    @property
    def loc(self) -> tuple[str, ...]:
        return (*self.parent, self.renamed) if self.renamed is not None else self.parent


def english_gap(english_keys: Iterable[str], needed: str, needed_keys: Sequence[str]) -> EnglishGap:
    parts = needed.split(".")
    split = [k.split(".") for k in english_keys]
    depth = 0
    while depth < len(parts) - 1 and any(k[: depth + 1] == parts[: depth + 1] for k in split):
        depth += 1
    parent = parts[:depth]
    present = [k[depth] for k in split if k[:depth] == parent and len(k) > depth]
    expected = [n[depth] for n in (k.split(".") for k in needed_keys) if n[:depth] == parent]
    # Messages and controls are declared whole; elsewhere en.yaml may hold optional keys.
    exact = depth == 1 and parent[0] in ("messages", "controls")
    renamed = guess(parts[depth], list(dict.fromkeys(present)), expected, exact=exact)
    return EnglishGap(needed, tuple(parent), parts[depth], renamed)


def missing_english(english_keys: Iterable[str], needed_keys: Sequence[str]) -> list[EnglishGap]:
    """Every required key en.yaml does not have, in the order required."""
    keys = list(english_keys)
    # Every key and each of its parents ("a.b.c" gives "a", "a.b" and "a.b.c"): one lookup a
    # needed key, not a pass over every key (about 300,000 comparisons a load).
    held = {".".join(k.split(".")[:n]) for k in keys for n in range(1, k.count(".") + 2)}
    return [english_gap(keys, needed, needed_keys) for needed in needed_keys if needed not in held]


def english_renames(gaps: Iterable[EnglishGap]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each renamed key (or section) in en.yaml and the key the code knows it as."""
    return {g.loc: (*g.parent, g.wanted) for g in gaps if g.renamed is not None}


def rename_keys(
    strings: Mapping[str, Any], renames: Mapping[tuple[str, ...], tuple[str, ...]]
) -> dict[str, Any]:
    """`strings` with every key under a renamed key moved back under the name the code knows."""
    if not renames:
        return dict(strings)
    out: dict[str, Any] = {}
    for key, value in strings.items():
        parts = tuple(key.split("."))
        for old, new in renames.items():
            if parts[: len(old)] == old:
                parts = (*new, *parts[len(old) :])
                break
        out[".".join(parts)] = value
    return out
