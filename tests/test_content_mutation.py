"""Content mutations: rename each id the code relies on in a copy of content/, and the app must
refuse to start, naming the id, the file and the line of the rename.

Every mutation comes from the contract in dialogs/messages.py, so an id added there is tested
here without another line of test. Locale keys are left as they were, as a hurried rename would
leave them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import build_parts
from dialogs.messages import (
    CONTRACT,
    CONTROL_IDS,
    FLOW_QUESTIONS,
    MESSAGE_IDS,
    STRINGS,
    SYSTEM_QUESTIONS,
    TYPED_CONTROL_IDS,
)
from storage.content import ContentError, FileContentSource
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
CONSULTATION = "consultation.yaml"
ENGLISH = "locales/en.yaml"


@dataclass(frozen=True)
class Mutation:
    """One change to one line of one file, and what the error must then name."""

    file: str
    change: Callable[[list[str]], int]  # edits the lines in place; returns the 0-based index
    names: str

    def apply(self, content: Path) -> int:
        path = content / self.file
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        index = self.change(lines)
        path.write_text("".join(lines), encoding="utf-8")
        return index + 1


def _word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])")


def _replace(lines: list[str], i: int, pattern: re.Pattern[str], new: str) -> int:
    lines[i], n = pattern.subn(new, lines[i], count=1)
    assert n == 1, f"nothing to change in line {i + 1}: {lines[i]!r}"
    return i


def _question_block(lines: list[str], qid: str) -> range:
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"\s*- id: {qid}\s*", line))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if re.match(r"\s*- id: ", lines[i]) or re.match(r"[a-z_]+:", lines[i])
        ),
        len(lines),
    )
    return range(start, end)


def _section(lines: list[str], name: str) -> range:
    start = lines.index(f"{name}:\n")
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"\S", lines[i])), len(lines))
    return range(start + 1, end)


def _key_line(lines: list[str], section: str, key: str) -> int:
    return next(i for i in _section(lines, section) if lines[i].startswith(f"  {key}:"))


def rename_question(qid: str) -> Callable[[list[str]], int]:
    def change(lines: list[str]) -> int:
        i = _question_block(lines, qid)[0]
        return _replace(lines, i, _word(qid), f"{qid}_renamed")

    return change


def rename_option(qid: str, oid: str) -> Callable[[list[str]], int]:
    def change(lines: list[str]) -> int:
        block = _question_block(lines, qid)
        after = next(i for i in block if "options:" in lines[i])
        # The option itself, not a condition that names it on the same line.
        i = next(i for i in block if i >= after and _word(oid).search(lines[i]))
        return _replace(lines, i, _word(oid), f"{oid}_renamed")

    return change


def rename_key(section: str, key: str) -> Callable[[list[str]], int]:
    def change(lines: list[str]) -> int:
        i = _key_line(lines, section, key)
        return _replace(lines, i, re.compile(rf"^  {key}:"), f"  {key}_renamed:")

    return change


def rename_top_level_field(root: str, field: str) -> Callable[[list[str]], int]:
    """`choice_yes: {label: ...}`: the field inside a one-line map at the top level."""

    def change(lines: list[str]) -> int:
        i = next(i for i, line in enumerate(lines) if line.startswith(f"{root}:"))
        return _replace(lines, i, re.compile(rf"\b{field}:"), f"{field}_renamed:")

    return change


def rename_nested_field(section: str, key: str, field: str) -> Callable[[list[str]], int]:
    """`plurals:` / `  questions: {one: ...}`: the field inside a one-line map in a section."""

    def change(lines: list[str]) -> int:
        i = _key_line(lines, section, key)
        return _replace(lines, i, re.compile(rf"\b{field}:"), f"{field}_renamed:")

    return change


def drop_synonyms(root: str, key: str | None = None) -> Callable[[list[str]], int]:
    """A list key cannot be renamed without another check catching it first; dropping it is the
    silent failure: typing the word would stop working."""

    def change(lines: list[str]) -> int:
        if key is None:
            i = next(i for i, line in enumerate(lines) if line.startswith(f"{root}:"))
        else:
            i = _key_line(lines, root, key)
        return _replace(lines, i, re.compile(r"(?:, )?synonyms: \[[^\]]*\]"), "")

    return change


def _mutations() -> list[pytest.param]:
    out = []
    for qid in FLOW_QUESTIONS:
        out.append((f"question-{qid}", Mutation(CONSULTATION, rename_question(qid), f"'{qid}'")))
    for qid, need in SYSTEM_QUESTIONS.items():
        out.append((f"system-{qid}", Mutation(CONSULTATION, rename_question(qid), f"'{qid}'")))
        for oid in need.options or ():
            names = f"option '{oid}' in system question '{qid}'"
            out.append(
                (f"option-{qid}.{oid}", Mutation(CONSULTATION, rename_option(qid, oid), names))
            )
    for qid, need in FLOW_QUESTIONS.items():
        for oid in need.options or ():
            names = f"option '{oid}' in question '{qid}'"
            out.append(
                (f"option-{qid}.{oid}", Mutation(CONSULTATION, rename_option(qid, oid), names))
            )
    for mid in MESSAGE_IDS:
        out.append(
            (f"message-{mid}", Mutation(ENGLISH, rename_key("messages", mid), f"'messages.{mid}'"))
        )
    for cid in CONTROL_IDS:
        names = f"'controls.{cid}.label'"
        out.append((f"control-{cid}", Mutation(ENGLISH, rename_key("controls", cid), names)))
    for cid in TYPED_CONTROL_IDS:
        names = f"'controls.{cid}.synonyms'"
        out.append((f"typed-{cid}", Mutation(ENGLISH, drop_synonyms("controls", cid), names)))
    english = (ROOT / "content" / ENGLISH).read_text(encoding="utf-8").splitlines(keepends=True)
    for key in STRINGS:
        root, _, field = key.partition(".")
        sub, _, nested = field.partition(".")
        if nested == "synonyms":  # meanings.not_sure.synonyms: a list under a section
            change = drop_synonyms(root, sub)
        elif nested:  # plurals.questions.one: a field of a map under a section
            change = rename_nested_field(root, sub, nested)
        elif field == "synonyms":
            change = drop_synonyms(root)
        elif f"{root}:\n" in english:  # card.title: a key of a section, on its own line
            change = rename_key(root, field)
        else:
            change = rename_top_level_field(root, field)
        out.append((f"string-{key}", Mutation(ENGLISH, change, f"'{key}'")))
    return [pytest.param(m, id=name) for name, m in out]


MUTATIONS = _mutations()


@pytest.fixture
def copy(tmp_path: Path, content_copy: Callable[[Path], Path]) -> Path:
    return content_copy(tmp_path / "content")


def test_every_declared_id_is_mutated():
    names = {p.id for p in MUTATIONS}
    declared = (
        len(FLOW_QUESTIONS)
        + sum(1 + len(n.options or ()) for n in SYSTEM_QUESTIONS.values())
        + sum(len(n.options or ()) for n in FLOW_QUESTIONS.values())
        + len(CONTRACT.english_keys())
    )
    assert len(names) == len(MUTATIONS) == declared


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_renamed_id_stops_the_app_naming_it(copy: Path, mutation: Mutation):
    line = mutation.apply(copy)
    with pytest.raises(ContentError) as err:
        FileContentSource(copy, required=CONTRACT)
    message = str(err.value)
    assert f"{Path(mutation.file).name}, line {line}:" in message, message
    assert mutation.names in message, message
    # Said once, not again further on as what follows from it (a rename as broken conditions,
    # a lost English key as a key in every translation that English does not have).
    assert len(err.value.problems) == 1, message


def add_line_after(anchor: str, new: str) -> Callable[[list[str]], int]:
    def change(lines: list[str]) -> int:
        i = next(i for i, line in enumerate(lines) if line == anchor)
        lines.insert(i + 1, new)
        return i + 1

    return change


def set_in_line(old: str, new: str) -> Callable[[list[str]], int]:
    def change(lines: list[str]) -> int:
        i = next(i for i, line in enumerate(lines) if old in line)
        lines[i] = lines[i].replace(old, new, 1)
        return i

    return change


def set_in_block(qid: str, old: str, new: str) -> Callable[[list[str]], int]:
    def change(lines: list[str]) -> int:
        i = next(i for i in _question_block(lines, qid) if old in lines[i])
        lines[i] = lines[i].replace(old, new, 1)
        return i

    return change


def drop_from_block(qid: str, line: str) -> Callable[[list[str]], int]:
    """Removes a line; the error then points at the question."""

    def change(lines: list[str]) -> int:
        block = _question_block(lines, qid)
        del lines[next(i for i in block if lines[i] == line)]
        return block[0]

    return change


# The other direction: content the code would not know what to do with, or would misuse.
UNKNOWN = [
    pytest.param(
        Mutation(
            CONSULTATION,
            set_in_line('{id: not_yet, emoji: "⏳"}]', '{id: not_yet, emoji: "⏳"}, maybe]'),
            "does not know option 'maybe' in system question 'send_confirm'",
        ),
        id="extra-option",
    ),
    pytest.param(
        Mutation(
            CONSULTATION,
            add_line_after("system_questions:\n", "  - id: feedback\n    type: text\n"),
            "never asks system question 'feedback'",
        ),
        id="extra-system-question",
    ),
    pytest.param(
        Mutation(
            ENGLISH,
            add_line_after("messages:\n", '  goodbye: "Bye!"\n'),
            "'messages.goodbye' is not a message the bot says",
        ),
        id="extra-message",
    ),
    pytest.param(
        Mutation(
            ENGLISH,
            add_line_after("controls:\n", '  dance: {label: "Dance"}\n'),
            "'controls.dance' is not a control the bot shows",
        ),
        id="extra-control",
    ),
    pytest.param(
        Mutation(
            CONSULTATION,
            set_in_block("interpreter_language_other", "type: text", "type: yesno"),
            "reads it as type text: change 'type: yesno' back to 'type: text'",
        ),
        id="wrong-type",
    ),
    pytest.param(
        Mutation(
            CONSULTATION,
            drop_from_block("restart_confirm", "    essential: true\n"),
            "'restart_confirm' (answers are cleared only after a yes) and cannot handle a skip",
        ),
        id="skippable",
    ),
    pytest.param(
        Mutation(
            CONSULTATION,
            set_in_block("send_confirm", "[{id: send,", "[{id: send, when: {uasc: true},"),
            "option 'send' in system question 'send_confirm' to be offered always",
        ),
        id="hidden-option",
    ),
]


@pytest.mark.parametrize("mutation", UNKNOWN)
def test_content_the_code_does_not_know_stops_the_app(copy: Path, mutation: Mutation):
    line = mutation.apply(copy)
    with pytest.raises(ContentError) as err:
        FileContentSource(copy, required=CONTRACT)
    message = str(err.value)
    assert f"{Path(mutation.file).name}, line {line}:" in message, message
    assert mutation.names in message, message
    # Said once, not again further on as what follows from it (a rename as broken conditions,
    # a lost English key as a key in every translation that English does not have).
    assert len(err.value.problems) == 1, message


def test_the_app_itself_refuses_to_start(tmp_path: Path, copy: Path):
    Mutation(CONSULTATION, rename_option("share_all", "all_everyone"), "").apply(copy)
    settings = make_settings(tmp_path, content_dir=copy)
    with pytest.raises(ContentError) as err:
        build_parts(settings)
    assert "option 'all_everyone' in system question 'share_all'" in str(err.value)


def test_two_renames_in_one_file_are_both_reported_each_at_its_line(copy: Path):
    qid = next(iter(FLOW_QUESTIONS))
    mutations = [
        Mutation(CONSULTATION, rename_question(qid), f"the code needs question '{qid}'"),
        Mutation(
            CONSULTATION,
            rename_option("share_all", "all_everyone"),
            "option 'all_everyone' in system question 'share_all'",
        ),
    ]
    lines = [m.apply(copy) for m in mutations]
    with pytest.raises(ContentError) as err:
        FileContentSource(copy, required=CONTRACT)
    problems = [str(p) for p in err.value.problems]
    # One problem each: the checks after the contract see the renames undone, so neither comes
    # back as a broken condition or missing wording.
    assert len(problems) == 2, problems
    assert str(err.value).startswith(f"2 problems in {copy}/:\n")
    for mutation, line in zip(mutations, lines, strict=True):
        said = [p for p in problems if f"{CONSULTATION}, line {line}:" in p]
        assert len(said) == 1 and mutation.names in said[0], problems
