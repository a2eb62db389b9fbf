"""Content: the consultation, its wording per language, and safeguarding phrases.

Loaded through `ContentSource`, so that a later version can read a published version from the
database instead of `content/`. Everything is validated at load; an error names the file, the
line and the fix.
"""

from __future__ import annotations

import difflib
import re
import string
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FALLBACK_LOCALE = "en"
QuestionType = Literal["single", "multi", "yesno", "text", "language"]
PARTICIPATION_CODES = {"PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"}
SAFEGUARDING_CATEGORIES = (
    "self_harm",
    "suicide",
    "being_hurt",
    "abuse",
    "not_safe_at_home",
    "running_away",
    "exploitation",
    "immediate_danger",
)
MAX_TEXT = 1000
# In a locale, wording given per age band may give `any:` for the bands not named.
ANY_BAND = "any"
# Wording addressed to a girl (f) or a boy (m), where a language must say which (Arabic):
# `prompt: {any: "...", f: "..."}`, or per band `easy_f:`. Without one, the plain wording, which
# should be neutral where the language allows.
FORMS = ("f", "m")
# The plural categories of CLDR: a language gives the forms it has (`plurals.<word>.<form>`).
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")
# Matching ignores spaces, so a shorter phrase turns up inside ordinary words.
MIN_PHRASE_LETTERS = 6


class ContentError(ValueError):
    """A content file is wrong. The message says where and how to fix it."""


# --- YAML with line numbers ------------------------------------------------------------------


class _Lines:
    """Maps a path of keys/indexes inside a YAML document to the line it starts on."""

    def __init__(self) -> None:
        self.by_path: dict[tuple[Any, ...], int] = {}

    def line(self, path: Iterable[Any]) -> int | None:
        p = tuple(path)
        while p:
            if p in self.by_path:
                return self.by_path[p]
            p = p[:-1]
        return self.by_path.get((), None)


def _load_yaml(path: Path) -> tuple[Any, _Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(f"{path}: not UTF-8 text ({exc}). Save the file as UTF-8.") from exc
    try:
        node = yaml.compose(text, Loader=_PARSER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ContentError(
            f"{path}, line {line}: the YAML cannot be read ({exc.problem}). "
            "Check indentation and that text with ':' or '#' is in double quotes."
        ) from exc
    lines = _Lines()
    if node is None:
        return None, lines
    return _construct(node, (), lines), lines


# libyaml's parser when the platform has it (ten times faster); both keep line numbers.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# One loader to turn scalar nodes into values (ints, bools, strings) the way safe_load does.
_SCALARS = yaml.SafeLoader("")


def _construct(node: yaml.Node, path: tuple[Any, ...], lines: _Lines) -> Any:
    lines.by_path[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k_node, v_node in node.value:
            key = _SCALARS.construct_object(k_node)  # scalar keys only
            if not isinstance(key, str):
                # `yes:` or `1:` as a key means something else in YAML; ids must be text.
                key = str(k_node.value)
            out[key] = _construct(v_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*path, i), lines) for i, v in enumerate(node.value)]
    return _SCALARS.construct_object(node)


def _fail(path: Path, lines: _Lines, loc: Iterable[Any], message: str) -> ContentError:
    line = lines.line(loc)
    where = f"{path}, line {line}" if line else str(path)
    return ContentError(f"{where}: {message}")


def _pydantic_errors(path: Path, lines: _Lines, exc: ValidationError, prefix=()) -> ContentError:
    msgs = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        line = lines.line(loc)
        where = ".".join(str(p) for p in loc) or "(top)"
        msgs.append(f"{path}, line {line}: at {where}: {err['msg']}")
    return ContentError("\n".join(msgs))


# --- The consultation ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerCondition(_Strict):
    question: str
    any_of: list[str] | None = None
    none_of: list[str] | None = None
    is_: bool | None = Field(default=None, alias="is")

    @model_validator(mode="after")
    def _one_test(self) -> AnswerCondition:
        if sum(t is not None for t in (self.any_of, self.none_of, self.is_)) != 1:
            raise ValueError(
                "give exactly one of 'any_of: [option ids]', 'none_of: [option ids]' "
                "or 'is: true/false'"
            )
        return self


class Condition(_Strict):
    """Every test given must hold; `any` holds when one of its conditions does."""

    age_band: list[str] | None = None
    uasc: bool | None = None
    answer: AnswerCondition | None = None
    # The language of the chat (a locale code such as en, ar), as it is when the step is asked.
    chat_language: list[str] | None = None
    chat_language_not: list[str] | None = None
    any_: list[Condition] | None = Field(default=None, alias="any")

    def parts(self) -> list[Condition]:
        """This condition and every one inside it, for checks at load."""
        return [self, *(p for c in self.any_ or [] for p in c.parts())]


# What a child's shrug or "no" means, whatever the question: see Option.means.
Meaning = Literal["not_sure", "any", "nothing"]
MEANINGS: tuple[str, ...] = ("not_sure", "any", "nothing")


class Option(_Strict):
    id: str
    when: Condition | None = None
    participation: str | None = None
    # A picture for the option on the easy path (age band with `easy: true`), before its label.
    emoji: str | None = Field(default=None, max_length=8)
    # What else picks this option when typed as the whole answer: "whatever", "idk", "nah"
    # (the words are `meanings.<meaning>.synonyms` in each locale).
    means: list[Meaning] = []

    @field_validator("participation")
    @classmethod
    def _known_code(cls, v: str | None) -> str | None:
        if v is not None and v not in PARTICIPATION_CODES:
            raise ValueError(f"'{v}' is not a participation code; use one of PN1..PN7")
        return v


_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class Question(_Strict):
    id: str
    type: QuestionType
    essential: bool = False
    options: list[Option] = []
    when: Condition | None = None
    for_each_chosen: str | None = None
    max_length: int = Field(default=MAX_TEXT, ge=1, le=MAX_TEXT)
    controls: list[Literal["language", "pause", "restart", "talk"]] = []
    # False where the answer names or identifies (a name, the code): a worry typed there is
    # kept as an alert only, and the question is asked again after the help.
    takes_disclosures: bool = True
    # For organising the meeting (who, where, when): the IRO acts on it, so the child is not
    # asked who may hear it, and the summary shows it as practical.
    practical: bool = False
    # Answers that name people and what is wrong with them ("jake hes mean"), which the IRO's
    # action box shows anyway: a short one the screen is only unsure of is taken as the answer,
    # with no gentle check. A clear worry is always acted on.
    names_people: bool = False
    # Asked only on the child's own device (the first to enter the code): another device holding
    # the code may be an adult's, and these answers speak for the child (an interpreter).
    own_device_only: bool = False
    # A one-tap answer offered beside the typing: "review_name" is the name on the review.
    suggest: Literal["review_name"] | None = None
    # Where its answer sits in the list the child checks: about_me, meeting or talk.
    section: Literal["about_me", "meeting", "talk"] | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"'{v}' is not a valid id: use lower case letters, digits and _")
        return v

    @field_validator("options", mode="before")
    @classmethod
    def _bare_ids(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"id": o} if isinstance(o, str) else o for o in v]
        return v

    @model_validator(mode="after")
    def _options_fit_type(self) -> Question:
        if self.type in ("single", "multi") and not self.options:
            raise ValueError(f"a {self.type} question needs 'options'")
        # A text question's options are one-tap answers beside the typing ("No one").
        if self.type not in ("single", "multi", "text") and self.options:
            raise ValueError(f"a {self.type} question takes no 'options'")
        ids = [o.id for o in self.options]
        if len(ids) != len(set(ids)):
            raise ValueError("option ids must be different from each other")
        return self


class AgeBand(_Strict):
    id: str
    min_age: int | None = None
    max_age: int | None = None
    # Wording this band does not give is taken from this band's (then the plain key's).
    falls_back_to: str | None = None
    # The easy path: short prompts, pictures on choices, one-tap answers to typing questions.
    # Also the band of any child whose review says easy read, whatever their age.
    easy: bool = False


class ConsultationFile(_Strict):
    version: str
    age_bands: list[AgeBand]
    questions: list[Question]
    system_questions: list[Question] = []

    @model_validator(mode="after")
    def _bands_fit(self) -> ConsultationFile:
        ids = [b.id for b in self.age_bands]
        for b in self.age_bands:
            if b.falls_back_to is not None and b.falls_back_to not in ids:
                raise ValueError(
                    f"age band '{b.id}' falls back to '{b.falls_back_to}', which is not a band; "
                    f"use one of {ids}"
                )
        if sum(b.easy for b in self.age_bands) > 1:
            raise ValueError("only one age band can be the easy path ('easy: true')")
        return self


# --- Locales ---------------------------------------------------------------------------------


class LocaleMeta(_Strict):
    locale: str
    name: str
    # The language's name in English, for staff ("Arabic"); defaults to `name`.
    english_name: str | None = None
    direction: Literal["ltr", "rtl"] = "ltr"
    status: Literal["reviewed", "draft"]
    note: str | None = None
    # Other words for this language, in any script ("arabic", "عربي"), to find it by typing.
    synonyms: list[str] = []


@dataclass(frozen=True)
class Locale:
    meta: LocaleMeta
    strings: Mapping[str, Any]  # dotted key -> str | list[str]
    path: Path


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _placeholders(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        raise ValueError(f"broken {{placeholder}} braces: {exc}") from exc


# --- Safeguarding phrases ------------------------------------------------------------------------


class SafeguardingFile(_Strict):
    locale: str
    status: Literal["reviewed", "draft"]
    categories: dict[str, list[str]]
    # Words that, just before a phrase, say the child is telling us it does not happen
    # ("nobody hits me"), and the words that may stand between them and the phrase.
    # Only for the categories listed: "nobody would care if i died" is no comfort.
    negations: list[str] = []
    negation_fillers: list[str] = []
    negatable: list[str] = []
    # Ordinary words one letter from a phrase word; never read as that word with a typo.
    not_typos: list[str] = []
    # What a child says about a worry they have just told us, right after the help, each kind
    # answered in its own way (messages.after_worry_<kind>): afraid of it being passed on
    # ("don't tell", "he'll find out"), taking it back ("it's not true", "i was joking"), or
    # saying more about who it is ("he's my brother").
    about_the_worry: dict[Literal["secret", "not_true", "who"], list[str]] = {}

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(v) - set(SAFEGUARDING_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown categories {sorted(unknown)}; use {list(SAFEGUARDING_CATEGORIES)}"
            )
        return v

    @field_validator("negatable")
    @classmethod
    def _known_negatable(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(SAFEGUARDING_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown categories {sorted(unknown)}; use {list(SAFEGUARDING_CATEGORIES)}"
            )
        return v


def _squashed(phrase: str) -> str:
    """A phrase as the matcher compares it: letters only, lower case, no doubled letters."""
    letters = "".join(c for c in phrase.casefold() if c.isalpha())
    return re.sub(r"(.)\1+", r"\1", letters)


# --- Safeguarding examples, which the statistical layer is trained on -------------------------

EXAMPLE_HEADER = ("category", "text", "source")
ORDINARY = "ordinary"


@dataclass(frozen=True)
class Example:
    locale: str
    category: str
    text: str
    source: str
    where: str


def load_examples(directory: Path) -> list[Example]:
    """The labelled sentences in `directory` (content/safeguarding/examples): one file per
    locale or part of one (`en.tsv`, `en-ordinary.tsv`), tab-separated, with a header line.
    Checked as the phrase files are: an error names the file, the line and the fix."""
    examples: list[Example] = []
    seen: dict[tuple[str, str], str] = {}
    files = sorted(directory.glob("*.tsv"))
    if not files:
        raise ContentError(f"{directory}: no example files (*.tsv). Restore them from git.")
    for path in files:
        locale = path.stem.split("-")[0]
        try:
            rows = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise ContentError(f"{path}: not UTF-8 text ({exc}). Save it as UTF-8.") from exc
        if not rows or tuple(rows[0].split("\t")) != EXAMPLE_HEADER:
            raise ContentError(
                f"{path}, line 1: the first line must be the header "
                f"'{chr(9).join(EXAMPLE_HEADER)}' (separated by tabs)."
            )
        for n, row in enumerate(rows[1:], start=2):
            if not row.strip():
                continue
            where = f"{path}, line {n}"
            cells = row.split("\t")
            if len(cells) != 3:
                raise ContentError(
                    f"{where}: {len(cells)} cells; each line is category, text and source, "
                    "separated by tabs, with no tab inside the text."
                )
            category, text, source = (c.strip() for c in cells)
            if category not in (*SAFEGUARDING_CATEGORIES, ORDINARY):
                raise ContentError(
                    f"{where}: unknown category '{category}'; use one of "
                    f"{[*SAFEGUARDING_CATEGORIES, ORDINARY]}."
                )
            if not text or len(text) > MAX_TEXT:
                raise ContentError(f"{where}: the text must be 1 to {MAX_TEXT} characters.")
            if not source:
                raise ContentError(f"{where}: say where the example came from (source).")
            key = (locale, " ".join(text.casefold().split()))
            if key in seen:
                raise ContentError(f"{where}: the same text is already at {seen[key]}; keep one.")
            seen[key] = where
            examples.append(Example(locale, category, text, source, where))
    return examples


# --- The loaded bundle ---------------------------------------------------------------------------


class _SafeFormat(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Content:
    """One immutable version of everything in content/."""

    version: str
    age_bands: tuple[AgeBand, ...]
    questions: tuple[Question, ...]
    system_questions: Mapping[str, Question]
    locales: Mapping[str, Locale]
    safeguarding: Mapping[str, SafeguardingFile]
    templates_dir: Path
    # The phrase lists are above; the trained model and its examples are read from here.
    safeguarding_dir: Path
    # The folder it was read from (storage/translations.py keeps its record there).
    directory: Path = Path("content")
    by_id: Mapping[str, Question] = field(default_factory=dict)
    # Each band and the bands it falls back to, in order (set from age_bands).
    chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict, init=False)

    def raw(self, key: str, locale: str, band: str | None = None, form: str | None = None) -> Any:
        """The string or list at `key`, in `locale` if it has it, else English; wording in the
        child's form (f, m) first, then the band's own wording, then the wording of the band
        it falls back to."""
        chain = self.band_chain(band)
        for loc in (locale, FALLBACK_LOCALE):
            strings = self.locales[loc].strings if loc in self.locales else {}
            if form in FORMS:
                for variant in (*(f"{b}_{form}" for b in chain), form):
                    if f"{key}.{variant}" in strings:
                        return strings[f"{key}.{variant}"]
            for b in chain:
                if f"{key}.{b}" in strings:
                    return strings[f"{key}.{b}"]
            if key in strings:
                return strings[key]
        raise KeyError(key)

    def band_chain(self, band: str | None) -> tuple[str, ...]:
        """`band`, then the bands it falls back to, in order (worked out once, at load)."""
        return self.chains.get(band, ()) if band is not None else ()

    def __post_init__(self) -> None:
        by_id = {b.id: b for b in self.age_bands}
        chains: dict[str, tuple[str, ...]] = {}
        for start in by_id:
            chain: list[str] = []
            band: str | None = start
            while band is not None and band in by_id and band not in chain:
                chain.append(band)
                band = by_id[band].falls_back_to
            chains[start] = tuple(chain)
        object.__setattr__(self, "chains", chains)

    def is_easy(self, band: str) -> bool:
        return any(b.id == band and b.easy for b in self.age_bands)

    def text(
        self,
        key: str,
        locale: str,
        band: str | None = None,
        *,
        form: str | None = None,
        **values: Any,
    ) -> str:
        value = self.raw(key, locale, band, form)
        if isinstance(value, list):
            raise KeyError(f"{key} is a list, not a string")
        return str(value).format_map(_SafeFormat(values))

    def plural(self, word: str, n: int, locale: str) -> str:
        """ "3 questions", "سؤالان": `plurals.<word>.<category>` in the locale, the category
        by the CLDR rules for that language (Babel): one, two, few, many, zero, other."""
        from babel import Locale as CldrLocale

        try:
            category = CldrLocale.parse(locale).plural_form(n)
        except (ValueError, LookupError):
            category = "other"
        for loc in dict.fromkeys((locale, FALLBACK_LOCALE)):
            strings = self.locales[loc].strings if loc in self.locales else {}
            for form in dict.fromkeys((category, "other")):
                key = f"plurals.{word}.{form}"
                if key in strings and (loc == locale or form == "other" or category == "one"):
                    return str(strings[key]).format_map(_SafeFormat({"n": n}))
        raise KeyError(f"plurals.{word}")

    def synonyms(self, key: str, locale: str) -> list[str]:
        """Synonyms in the child's language, plus English ones: children mix languages."""
        out: list[str] = []
        for loc in dict.fromkeys((locale, FALLBACK_LOCALE)):
            strings = self.locales[loc].strings if loc in self.locales else {}
            out.extend(str(s) for s in strings.get(f"{key}.synonyms", []) or [])
        return out

    def has(self, key: str, locale: str) -> bool:
        return locale in self.locales and key in self.locales[locale].strings

    def question(self, question_id: str) -> Question:
        if question_id in self.by_id:
            return self.by_id[question_id]
        return self.system_questions[question_id]

    def direction(self, locale: str) -> str:
        return self.locales[locale].meta.direction if locale in self.locales else "ltr"

    def band_for_age(self, age: int | None, *, easy_read: bool = False) -> str:
        """The first band the age fits; the easy band for a review marked easy read."""
        if easy_read:
            for band in self.age_bands:
                if band.easy:
                    return band.id
        if age is not None:
            for band in self.age_bands:
                if (band.min_age is None or age >= band.min_age) and (
                    band.max_age is None or age <= band.max_age
                ):
                    return band.id
        return self.age_bands[0].id


# --- What the code relies on ---------------------------------------------------------------------


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


def _guess(
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


_CHANGE_CODE = "If the code has changed instead, change dialogs/messages.py with it."


def _check_questions_contract(
    cfile: ConsultationFile, cpath: Path, lines: _Lines, contract: ContentContract
) -> None:
    groups: dict[str, list[Question]] = {
        "questions": cfile.questions,
        "system_questions": cfile.system_questions,
    }
    where = {q.id: (group, i, q) for group, qs in groups.items() for i, q in enumerate(qs)}
    for group, needs, word in (
        ("questions", contract.questions, "question"),
        ("system_questions", contract.system_questions, "system question"),
    ):
        for qid, need in needs.items():
            what = f"the code needs {word} '{qid}' ({need.why})"
            if qid not in where:
                present = [q.id for q in groups[group]]
                guess = _guess(qid, present, needs, exact=group == "system_questions")
                if guess is not None:
                    loc: tuple[Any, ...] = (group, present.index(guess), "id")
                    fix = f"is '{guess}' meant to be it? Rename it back to '{qid}'."
                else:
                    loc, fix = (group,), f"add it under '{group}:' as type {need.type}."
                raise _fail(cpath, lines, loc, f"{what}, but there is none: {fix} {_CHANGE_CODE}")
            in_group, i, q = where[qid]
            if in_group != group:
                raise _fail(cpath, lines, (in_group, i, "id"), f"{what}: move it under '{group}:'.")
            if q.type != need.type:
                raise _fail(
                    cpath,
                    lines,
                    (group, i, "type"),
                    f"{what} and reads it as type {need.type}: change 'type: {q.type}' back to "
                    f"'type: {need.type}'. {_CHANGE_CODE}",
                )
            if need.essential and not q.essential:
                raise _fail(
                    cpath,
                    lines,
                    (group, i),
                    f"{what} and cannot handle a skip: give it 'essential: true'.",
                )
            if need.options is None:
                continue
            have = [o.id for o in q.options]
            for oid in need.options:
                if oid in have:
                    o = q.options[have.index(oid)]
                    # A flow question's options are only read (the summary); a system
                    # question's are branched on, so each must always be there to pick.
                    if o.when is not None and group == "system_questions":
                        raise _fail(
                            cpath,
                            lines,
                            (group, i, "options", have.index(oid), "when"),
                            f"the code needs option '{oid}' in {word} '{qid}' to be offered "
                            "always: remove its 'when'.",
                        )
                    continue
                guess = _guess(oid, have, need.options, exact=group == "system_questions")
                if guess is not None:
                    loc = (group, i, "options", have.index(guess))
                    fix = f"is '{guess}' meant to be it? Rename it back to '{oid}'."
                else:
                    loc, fix = (group, i, "options"), f"add it to the options of '{qid}'."
                raise _fail(
                    cpath,
                    lines,
                    loc,
                    f"the code needs option '{oid}' in {word} '{qid}' (it branches on it), "
                    f"but there is none: {fix} {_CHANGE_CODE}",
                )
            if group == "system_questions":
                for j, oid in enumerate(have):
                    if oid not in need.options:
                        raise _fail(
                            cpath,
                            lines,
                            (group, i, "options", j),
                            f"the code does not know option '{oid}' in {word} '{qid}' (it "
                            f"knows {', '.join(need.options)}), so choosing it would do the "
                            f"wrong thing: remove it, or add it to the code first.",
                        )
    if contract.system_questions:
        for i, q in enumerate(cfile.system_questions):
            if q.id not in contract.system_questions:
                raise _fail(
                    cpath,
                    lines,
                    ("system_questions", i, "id"),
                    f"the code never asks system question '{q.id}' (it asks "
                    f"{', '.join(contract.system_questions)}): check the spelling of the id, or "
                    "remove it. New questions for the child go under 'questions:'.",
                )


def _check_english_contract(en: Locale, enlines: _Lines, contract: ContentContract) -> None:
    """Ids in en.yaml sections that the code owns must be ones the code uses."""
    owned = {"messages": contract.messages, "controls": contract.controls}
    for key in en.strings:
        section, _, rest = key.partition(".")
        known = owned.get(section)
        if not known:
            continue
        name = rest.split(".")[0]
        if name not in known:
            kind = "message the bot says" if section == "messages" else "control the bot shows"
            raise _fail(
                en.path,
                enlines,
                (section, name),
                f"'{section}.{name}' is not a {kind} (dialogs/messages.py lists them): check "
                "the spelling, or remove it.",
            )


def _missing_english(
    en: Locale, enlines: _Lines, needed: str, needed_keys: Sequence[str], code_keys: set[str]
) -> str:
    """The error for a required English key that is not there: at the key it was most likely
    renamed to, when one looks like it, else at its nearest parent."""
    parts = needed.split(".")
    split = [k.split(".") for k in en.strings]
    depth = 0
    while depth < len(parts) - 1 and any(k[: depth + 1] == parts[: depth + 1] for k in split):
        depth += 1
    parent = parts[:depth]
    present = [k[depth] for k in split if k[:depth] == parent and len(k) > depth]
    expected = [n[depth] for n in (k.split(".") for k in needed_keys) if n[:depth] == parent]
    # Messages and controls are declared whole; elsewhere en.yaml may hold optional keys.
    exact = depth == 1 and parent[0] in ("messages", "controls")
    guess = _guess(parts[depth], list(dict.fromkeys(present)), expected, exact=exact)
    loc = (*parent, guess) if guess is not None else tuple(parent)
    # A key left empty ("ready: {}") has no strings under it, but its own line is the place.
    # So does a key whose map is there but empty ("any: {}" under meanings:).
    empty = next(
        (
            enlines.by_path[tuple(parts[:d])]
            for d in range(len(parts) - 1, depth, -1)
            if tuple(parts[:d]) in enlines.by_path
        ),
        None,
    )
    line = empty or (enlines.line((parts[0],)) if not parent else None) or enlines.line(loc)
    where = f"{en.path}, line {line}" if line else str(en.path)
    message = f"{where}: '{needed}' is missing. Add it: English is complete."
    if needed in code_keys:
        message += " The bot uses it."
    if guess is not None:
        old = ".".join((*parent, guess))
        message += f" Is '{old}' meant to be it? Rename it back to '{parts[depth]}'."
    return message


def _question_keys(q: Question) -> list[str]:
    keys = [f"questions.{q.id}.prompt"]
    keys += [f"questions.{q.id}.options.{o.id}.label" for o in q.options]
    return keys


def _check_condition(
    cond: Condition,
    cloc: tuple[Any, ...],
    q: Question,
    by_id: dict[str, Question],
    band_ids: set[str],
    cpath: Path,
    lines: _Lines,
) -> None:
    for band in cond.age_band or []:
        if band not in band_ids:
            raise _fail(cpath, lines, cloc, f"unknown age band '{band}'; use {band_ids}")
    if cond.answer is not None:
        target = by_id.get(cond.answer.question)
        if target is None:
            raise _fail(
                cpath,
                lines,
                cloc,
                f"'{cond.answer.question}' must be a question asked before '{q.id}'",
            )
        opts = {o.id for o in target.options}
        bad = (set(cond.answer.any_of or []) | set(cond.answer.none_of or [])) - opts
        if bad:
            raise _fail(cpath, lines, cloc, f"'{target.id}' has no options {sorted(bad)}")


# The last few contents read, by folder and the state of its files: reading and checking takes
# about 0.2 s, and a content is immutable, so the same files give the same object (every test
# builds an app; a running bot reloads only when a file changed).
_LOADED: OrderedDict[tuple[Any, ...], tuple[ContentContract | None, Content]] = OrderedDict()
LOADED_KEPT = 4


def _files_state(directory: Path) -> tuple[tuple[str, int, int], ...]:
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            st = path.stat()
            found.append((str(path.relative_to(directory)), st.st_mtime_ns, st.st_size))
    return tuple(found)


def load_content(
    directory: Path,
    *,
    required: ContentContract | None = None,
    required_messages: Iterable[str] = (),
) -> Content:
    """Read and validate content/, and check it against what the code relies on (`required`).
    Raises ContentError naming the file, line and fix. The same files, unchanged, give the
    same (immutable) Content."""
    directory = Path(directory)
    messages = tuple(required_messages)
    key = (str(directory.resolve()), messages, _files_state(directory))
    hit = _LOADED.get(key)
    if hit is not None and hit[0] is required:
        _LOADED.move_to_end(key)
        return hit[1]
    content = _load_content(directory, required=required, required_messages=messages)
    _LOADED[key] = (required, content)
    while len(_LOADED) > LOADED_KEPT:
        _LOADED.popitem(last=False)
    return content


def _load_content(
    directory: Path,
    *,
    required: ContentContract | None,
    required_messages: Iterable[str],
) -> Content:
    directory = Path(directory)
    # `required_messages` is the older, messages-only form of the contract; callers that still
    # pass it keep their check.
    contract = required or ContentContract()
    if required_messages:
        merged = dict.fromkeys([*contract.messages, *required_messages])
        contract = replace(contract, messages=tuple(merged))
    cpath = directory / "consultation.yaml"
    data, lines = _load_yaml(cpath)
    try:
        cfile = ConsultationFile.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_errors(cpath, lines, exc) from exc
    # First, so that a renamed id is reported as the rename it is, not as a broken condition
    # or missing wording further on.
    _check_questions_contract(cfile, cpath, lines, contract)

    by_id: dict[str, Question] = {}
    all_questions = [*cfile.questions, *cfile.system_questions]
    band_ids = {b.id for b in cfile.age_bands}
    group = "questions"
    for i, q in enumerate(all_questions):
        if i == len(cfile.questions):
            group = "system_questions"
        idx = i if group == "questions" else i - len(cfile.questions)
        loc = (group, idx)
        if q.id in by_id:
            raise _fail(cpath, lines, loc, f"the id '{q.id}' is used twice; ids must be unique")
        conditions = [(q.when, (*loc, "when"))] + [
            (o.when, (*loc, "options", j, "when")) for j, o in enumerate(q.options)
        ]
        for whole, cloc in conditions:
            for cond in whole.parts() if whole is not None else []:
                _check_condition(cond, cloc, q, by_id, band_ids, cpath, lines)
        if q.for_each_chosen is not None:
            target = by_id.get(q.for_each_chosen)
            if target is None or target.type != "multi":
                raise _fail(
                    cpath,
                    lines,
                    (*loc, "for_each_chosen"),
                    "for_each_chosen must name a multi question asked before this one",
                )
        by_id[q.id] = q
    flow_ids = {q.id for q in cfile.questions}

    locales: dict[str, Locale] = {}
    line_maps: dict[str, _Lines] = {}
    for lpath in sorted((directory / "locales").glob("*.yaml")):
        ldata, llines = _load_yaml(lpath)
        if not isinstance(ldata, dict) or "meta" not in ldata:
            raise _fail(lpath, llines, (), "a locale file starts with a 'meta:' block")
        try:
            meta = LocaleMeta.model_validate(ldata["meta"])
        except ValidationError as exc:
            raise _pydantic_errors(lpath, llines, exc, ("meta",)) from exc
        if meta.locale != lpath.stem:
            raise _fail(
                lpath, llines, ("meta", "locale"), f"meta.locale must be '{lpath.stem}' (file name)"
            )
        strings = {}
        for key, value in _flatten({k: v for k, v in ldata.items() if k != "meta"}).items():
            # `prompt: {easy: "...", any: "..."}`: `any` is the wording for every other band.
            head, _, last = key.rpartition(".")
            strings[head if last == ANY_BAND and head else key] = value
        for key, value in strings.items():
            kpath = tuple(key.split("."))
            ok = isinstance(value, str) or (
                key.endswith(".synonyms")
                and isinstance(value, list)
                and all(isinstance(s, str | int) for s in value)
            )
            if not ok:
                raise _fail(
                    lpath,
                    llines,
                    kpath,
                    f"'{key}' must be text in double quotes"
                    + (" or a list of texts" if key.endswith(".synonyms") else ""),
                )
            if isinstance(value, str):
                try:
                    _placeholders(value)
                except ValueError as exc:
                    raise _fail(lpath, llines, kpath, f"'{key}': {exc}") from exc
        locales[meta.locale] = Locale(meta=meta, strings=strings, path=lpath)
        line_maps[meta.locale] = llines

    if FALLBACK_LOCALE not in locales:
        raise ContentError(f"{directory / 'locales'}: en.yaml is missing; English is required")
    en = locales[FALLBACK_LOCALE]
    needed_keys = contract.english_keys()
    code_keys = set(needed_keys)
    for q in all_questions:
        if q.type != "language":
            needed_keys += _question_keys(q)
        if q.type == "multi" and q.id in {x.for_each_chosen for x in all_questions}:
            needed_keys += [f"questions.{q.id}.options.{o.id}.about" for o in q.options]
        if q.id in flow_ids:
            needed_keys.append(f"questions.{q.id}.summary")
    enlines = line_maps[FALLBACK_LOCALE]
    for needed in needed_keys:
        if not any(k == needed or k.startswith(needed + ".") for k in en.strings):
            raise ContentError(_missing_english(en, enlines, needed, needed_keys, code_keys))
    _check_english_contract(en, enlines, contract)

    def _base(k: str) -> str:
        head, _, last = k.rpartition(".")
        variant = last[:-2] if last.endswith(("_f", "_m")) else last
        if k.startswith("plurals.") and last in PLURAL_FORMS:
            return head
        return head if variant in band_ids or last in FORMS else k

    # Wording given per band, with no plain version, must reach every band through its
    # fall-backs (an easy prompt alone would leave the other bands with none).
    by_band = {b.id: b for b in cfile.age_bands}
    for loc_code, banded in locales.items():
        varied: dict[str, set[str]] = {}
        for k in banded.strings:
            if _base(k) != k:
                varied.setdefault(_base(k), set()).add(k.rpartition(".")[2])
        for base, given in varied.items():
            if base.startswith("plurals.") or base in banded.strings:
                continue  # plural forms are not bands
            if loc_code != FALLBACK_LOCALE and base in en.strings:
                continue
            for band_id in (b.id for b in cfile.age_bands):
                b: str | None = band_id
                seen: set[str] = set()
                while b is not None and b not in given and b not in seen:
                    seen.add(b)
                    b = by_band[b].falls_back_to
                if b is None or b not in given:
                    raise _fail(
                        banded.path,
                        line_maps[loc_code],
                        tuple(base.split(".")),
                        f"'{base}' has wording for {sorted(given)} but none for age band "
                        f"'{band_id}'; add '{band_id}:', or 'any:' for every band not named.",
                    )

    english_by_base: dict[str, list[str]] = {}
    for k, v in en.strings.items():
        if isinstance(v, str):
            english_by_base.setdefault(_base(k), []).append(v)
    en_bases = {_base(k) for k in en.strings}
    for code, locale in locales.items():
        if code == FALLBACK_LOCALE:
            continue
        llines = line_maps[code]
        for key, value in locale.strings.items():
            base = _base(key)
            if base not in en_bases:
                raise _fail(
                    locale.path,
                    llines,
                    tuple(key.split(".")),
                    f"'{key}' is not in en.yaml. Check the spelling of the key, or add it to "
                    "en.yaml first.",
                )
            if isinstance(value, str):
                allowed = set().union(*(_placeholders(e) for e in english_by_base.get(base, [])))
                extra = _placeholders(value) - allowed
                if extra:
                    raise _fail(
                        locale.path,
                        llines,
                        tuple(key.split(".")),
                        f"'{key}' uses {sorted(extra)}, which English does not have. Keep the "
                        "{placeholders} exactly as in en.yaml.",
                    )

    safeguarding: dict[str, SafeguardingFile] = {}
    for spath in sorted((directory / "safeguarding").glob("*.yaml")):
        sdata, slines = _load_yaml(spath)
        try:
            sfile = SafeguardingFile.model_validate(sdata)
        except ValidationError as exc:
            raise _pydantic_errors(spath, slines, exc) from exc
        if sfile.locale != spath.stem:
            raise _fail(spath, slines, ("locale",), f"locale must be '{spath.stem}' (file name)")
        for category, phrases in sfile.categories.items():
            for i, phrase in enumerate(phrases):
                squashed = _squashed(phrase)
                if len(squashed) < MIN_PHRASE_LETTERS:
                    raise _fail(
                        spath,
                        slines,
                        ("categories", category, i),
                        f"'{phrase}' squashes to '{squashed}', {len(squashed)} letters: a phrase "
                        f"needs at least {MIN_PHRASE_LETTERS}, or it hides inside ordinary words "
                        "('ran off' is inside 'a veteran officer'). Add a few words of context.",
                    )
        safeguarding[sfile.locale] = sfile
    for code, locale in locales.items():
        # A chat language without its own phrases and examples would be screened only by the
        # English ones: a child's worry in it missed. Refused, naming what to add.
        if code not in safeguarding:
            raise ContentError(
                f"{locale.path}: the chat can be in {locale.meta.english_name}, but "
                f"{directory / 'safeguarding' / f'{code}.yaml'} is missing. Add the phrases "
                "that tell of a worry in that language (copy en.yaml's layout) before offering it."
            )
        examples = directory / "safeguarding" / "examples"
        if examples.is_dir() and not any(examples.glob(f"{code}-*.tsv")):
            raise ContentError(
                f"{locale.path}: the chat can be in {locale.meta.english_name}, but "
                f"{examples} has no {code}-*.tsv. Add examples in that language and run "
                "`myreview safeguarding train` before offering it."
            )

    return Content(
        version=cfile.version,
        age_bands=tuple(cfile.age_bands),
        questions=tuple(cfile.questions),
        system_questions={q.id: q for q in cfile.system_questions},
        locales=locales,
        safeguarding=safeguarding,
        templates_dir=directory / "templates",
        directory=directory,
        safeguarding_dir=directory / "safeguarding",
        by_id={q.id: q for q in cfile.questions},
    )


class ContentSource(Protocol):
    """Where content comes from. Today the files; later a published version in the database."""

    def current(self) -> Content: ...

    def version(self, version: str) -> Content: ...


class FileContentSource:
    """Content read once from a folder at start-up."""

    def __init__(
        self,
        directory: Path,
        *,
        required: ContentContract | None = None,
        required_messages: Iterable[str] = (),
    ) -> None:
        self._content = load_content(
            directory, required=required, required_messages=required_messages
        )

    def current(self) -> Content:
        return self._content

    def version(self, version: str) -> Content:
        # Only one version exists on disk; a consultation started on an older one carries on
        # with today's files until versioned content lands.
        return self._content
