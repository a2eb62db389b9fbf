"""What the loader read from content/, file by file, as the checks see it.

A file that could not be read or does not fit its schema is not here (it is in `stopped`, its
problems already said), and the checks that need it do not run. The views `meant` and
`english_meant` are the content with the renames the contract checks report undone, so that a
check after them does not report the same rename again as something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from storage.content.contract import (
    ContentContract,
    EnglishGap,
    Renames,
    consultation_renames,
    english_renames,
    missing_english,
    rename_keys,
    undo_renames,
)
from storage.content.lines import Lines
from storage.content.runtime import Locale
from storage.content.schema import FALLBACK_LOCALE, ConsultationFile, Question, SafeguardingFile


@dataclass
class Loaded:
    directory: Path
    contract: ContentContract
    consultation: ConsultationFile | None = None
    consultation_lines: Lines = field(default_factory=Lines)
    locales: dict[str, Locale] = field(default_factory=dict)
    locale_lines: dict[str, Lines] = field(default_factory=dict)
    safeguarding: dict[str, SafeguardingFile] = field(default_factory=dict)
    safeguarding_lines: dict[str, Lines] = field(default_factory=dict)
    # Files that are there but were stopped by problems of their own.
    stopped: set[Path] = field(default_factory=set)

    @property
    def consultation_path(self) -> Path:
        return self.directory / "consultation.yaml"

    @property
    def english(self) -> Locale | None:
        return self.locales.get(FALLBACK_LOCALE)

    @cached_property
    def renames(self) -> Renames:
        if self.consultation is None:
            return Renames()
        return consultation_renames(self.consultation, self.contract)

    @cached_property
    def meant(self) -> ConsultationFile | None:
        """The consultation as the code knows it: renamed ids back to their old names."""
        if self.consultation is None:
            return None
        return undo_renames(self.consultation, self.renames)

    @cached_property
    def all_questions(self) -> list[Question]:
        meant = self.meant
        return [*meant.questions, *meant.system_questions] if meant is not None else []

    @cached_property
    def needed_english(self) -> list[str]:
        """Every key en.yaml must have: the code's, then each question's wording."""
        needed = self.contract.english_keys()
        if self.meant is None:
            return needed
        chosen_from = {x.for_each_chosen for x in self.all_questions}
        flow_ids = {q.id for q in self.meant.questions}
        for q in self.all_questions:
            if q.id in flow_ids or self._asked(q):
                needed += self._question_english(q, q.id in flow_ids, q.id in chosen_from)
        return needed

    def _question_english(self, q: Question, in_flow: bool, chosen_from: bool) -> list[str]:
        """A question's wording: prompt, option labels, what each option is about when a later
        question is asked for each one chosen, and the summary line of a flow question."""
        options = [o.id for o in q.options if in_flow or self._known(q, o.id)]
        keys = []
        if q.type != "language":
            keys.append(f"questions.{q.id}.prompt")
            keys += [f"questions.{q.id}.options.{o}.label" for o in options]
        if q.type == "multi" and chosen_from:
            keys += [f"questions.{q.id}.options.{o}.about" for o in options]
        if in_flow:
            keys.append(f"questions.{q.id}.summary")
        if in_flow and q.carry_over and q.type != "language":
            keys.append(f"questions.{q.id}.carried")
        return keys

    # A system question or option the code does not know is a problem of its own ("remove it"):
    # its wording is not asked for as well.
    def _asked(self, q: Question) -> bool:
        return not self.contract.system_questions or q.id in self.contract.system_questions

    def _known(self, q: Question, oid: str) -> bool:
        need = self.contract.system_questions.get(q.id)
        return need is None or need.options is None or oid in need.options

    @cached_property
    def english_gaps(self) -> list[EnglishGap]:
        english = self.english
        if english is None:
            return []
        return missing_english(english.strings, self.needed_english)

    @cached_property
    def english_meant(self) -> Locale | None:
        """en.yaml as the code knows it: keys it reports as renamed back to their old names."""
        english = self.english
        renames = english_renames(self.english_gaps)
        if english is None or not renames:
            return english
        strings = rename_keys(english.strings, renames)
        return Locale(meta=english.meta, strings=strings, path=english.path)

    @property
    def band_ids(self) -> list[str]:
        return [b.id for b in self.consultation.age_bands] if self.consultation else []
