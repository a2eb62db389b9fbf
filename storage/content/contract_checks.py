"""The checks of content/ against the code (`ContentContract`): every id the code asks, reads or
branches on is there, with the type and options it expects, and the sections the code owns hold
nothing it does not know. Listed, with the other checks, in `checks.CHECKS`.

A missing id is reported at the id it was most likely renamed to, with the fix of renaming it
back; the checks after these see the content with those renames undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage.content.contract import (
    CHANGE_CODE,
    GROUPS,
    WORDS,
    EnglishGap,
    needs_of,
    option_guess,
    question_guess,
)
from storage.content.lines import Lines, Problem, problem_at
from storage.content.loaded import Loaded
from storage.content.schema import FALLBACK_LOCALE, ConsultationFile, Question


def _where(cfile: ConsultationFile) -> dict[str, tuple[str, int, Question]]:
    return {q.id: (g, i, q) for g in GROUPS for i, q in enumerate(getattr(cfile, g))}


def questions_the_code_needs_are_there(c: Loaded) -> Iterator[Problem]:
    """Each question the code asks or reads: there, in its group, of its type, essential if
    the code has no path for a skip."""
    assert c.consultation is not None
    cfile, path, lines = c.consultation, c.consultation_path, c.consultation_lines
    where = _where(cfile)
    for group in GROUPS:
        word = WORDS[group]
        for qid, need in needs_of(c.contract, group).items():
            what = f"the code needs {word} '{qid}' ({need.why})"
            if qid not in where:
                present = [q.id for q in getattr(cfile, group)]
                guess = question_guess(cfile, group, qid, c.contract)
                if guess is not None:
                    loc: tuple[Any, ...] = (group, present.index(guess), "id")
                    fix = f"is '{guess}' meant to be it? Rename it back to '{qid}'."
                else:
                    loc, fix = (group,), f"add it under '{group}:' as type {need.type}."
                yield problem_at(
                    path, lines, loc, f"{what}, but there is none: {fix} {CHANGE_CODE}"
                )
                continue
            in_group, i, q = where[qid]
            if in_group != group:
                yield problem_at(
                    path, lines, (in_group, i, "id"), f"{what}: move it under '{group}:'."
                )
                continue
            if q.type != need.type:
                yield problem_at(
                    path,
                    lines,
                    (group, i, "type"),
                    f"{what} and reads it as type {need.type}: change 'type: {q.type}' back to "
                    f"'type: {need.type}'. {CHANGE_CODE}",
                )
            if need.essential and not q.essential:
                yield problem_at(
                    path,
                    lines,
                    (group, i),
                    f"{what} and cannot handle a skip: give it 'essential: true'.",
                )


def options_the_code_branches_on_are_there(c: Loaded) -> Iterator[Problem]:
    """Each option the code branches on: there, and in a system question offered always."""
    assert c.consultation is not None
    path, lines = c.consultation_path, c.consultation_lines
    for group in GROUPS:
        word = WORDS[group]
        questions = getattr(c.consultation, group)
        present = [q.id for q in questions]
        for qid, need in needs_of(c.contract, group).items():
            if qid not in present or need.options is None:
                continue  # a missing question is the problem above
            i = present.index(qid)
            q = questions[i]
            have = [o.id for o in q.options]
            for oid in need.options:
                if oid in have:
                    # A flow question's options are only read (the summary); a system
                    # question's are branched on, so each must always be there to pick.
                    if q.options[have.index(oid)].when is not None and group == "system_questions":
                        yield problem_at(
                            path,
                            lines,
                            (group, i, "options", have.index(oid), "when"),
                            f"the code needs option '{oid}' in {word} '{qid}' to be offered "
                            "always: remove its 'when'.",
                        )
                    continue
                guess = option_guess(group, q, oid, need)
                if guess is not None:
                    loc: tuple[Any, ...] = (group, i, "options", have.index(guess))
                    fix = f"is '{guess}' meant to be it? Rename it back to '{oid}'."
                else:
                    loc, fix = (group, i, "options"), f"add it to the options of '{qid}'."
                yield problem_at(
                    path,
                    lines,
                    loc,
                    f"the code needs option '{oid}' in {word} '{qid}' (it branches on it), "
                    f"but there is none: {fix} {CHANGE_CODE}",
                )


def system_options_are_ones_the_code_knows(c: Loaded) -> Iterator[Problem]:
    """A system question's options are declared whole: an option the code does not know would
    do the wrong thing when chosen."""
    assert c.consultation is not None
    renamed = c.renames.options
    for i, q in enumerate(c.consultation.system_questions):
        need = c.contract.system_questions.get(q.id)
        if need is None or need.options is None:
            continue
        for j, o in enumerate(q.options):
            if o.id not in need.options and ("system_questions", i, j) not in renamed:
                yield problem_at(
                    c.consultation_path,
                    c.consultation_lines,
                    ("system_questions", i, "options", j),
                    f"the code does not know option '{o.id}' in system question '{q.id}' (it "
                    f"knows {', '.join(need.options)}), so choosing it would do the "
                    f"wrong thing: remove it, or add it to the code first.",
                )


def system_questions_are_ones_the_code_asks(c: Loaded) -> Iterator[Problem]:
    assert c.consultation is not None
    needs = c.contract.system_questions
    if not needs:
        return
    for i, q in enumerate(c.consultation.system_questions):
        if q.id not in needs and ("system_questions", i) not in c.renames.questions:
            yield problem_at(
                c.consultation_path,
                c.consultation_lines,
                ("system_questions", i, "id"),
                f"the code never asks system question '{q.id}' (it asks "
                f"{', '.join(needs)}): check the spelling of the id, or "
                "remove it. New questions for the child go under 'questions:'.",
            )


def english_has_every_needed_key(c: Loaded) -> Iterator[Problem]:
    """What the code says and every question's wording, in English: English is complete."""
    english = c.english
    assert english is not None
    lines = c.locale_lines[FALLBACK_LOCALE]
    code_keys = set(c.contract.english_keys())
    said: set[tuple[str, ...]] = set()
    for gap in c.english_gaps:
        # One rename of a section or a question is one problem, not one per key beneath it.
        if gap.renamed is not None and gap.loc in said:
            continue
        said.add(gap.loc)
        yield _missing_english(english.path, lines, gap, code_keys)


def _missing_english(path: Path, lines: Lines, gap: EnglishGap, code_keys: set[str]) -> Problem:
    """The problem for a required English key that is not there: at the key it was most likely
    renamed to, when one looks like it, else at its nearest parent."""
    parts = gap.key.split(".")
    depth = len(gap.parent)
    # A key left empty ("ready: {}") has no strings under it, but its own line is the place.
    # So does a key whose map is there but empty ("any: {}" under meanings:).
    empty = next(
        (
            lines.by_path[tuple(parts[:d])]
            for d in range(len(parts) - 1, depth, -1)
            if tuple(parts[:d]) in lines.by_path
        ),
        None,
    )
    line = empty or (lines.line((parts[0],)) if not gap.parent else None) or lines.line(gap.loc)
    message = f"'{gap.key}' is missing. Add it: English is complete."
    if gap.key in code_keys:
        message += " The bot uses it."
    if gap.renamed is not None:
        old = ".".join((*gap.parent, gap.renamed))
        message += f" Is '{old}' meant to be it? Rename it back to '{gap.wanted}'."
    return Problem(path, line, message)


def english_sections_hold_only_what_the_code_uses(c: Loaded) -> Iterator[Problem]:
    """Ids in en.yaml sections that the code owns (messages, controls) must be ones it uses."""
    meant = c.english_meant
    assert meant is not None
    lines = c.locale_lines[FALLBACK_LOCALE]
    owned = {"messages": c.contract.messages, "controls": c.contract.controls}
    said = set()
    for key in meant.strings:
        section, _, rest = key.partition(".")
        known = owned.get(section)
        name = rest.split(".")[0]
        if not known or name in known or (section, name) in said:
            continue
        said.add((section, name))
        kind = "message the bot says" if section == "messages" else "control the bot shows"
        yield problem_at(
            meant.path,
            lines,
            (section, name),
            f"'{section}.{name}' is not a {kind} (dialogs/messages.py lists them): check "
            "the spelling, or remove it.",
        )
