"""The shape of content/: the pydantic models a file must fit, and the constants they name.

Only what one file can say about itself is checked here (a known type, options that fit it, a
participation code); whatever needs two files or the code is a check in `checks` or `contract`.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    # Part of the child's Language of Care (the name to use, pronouns, words, chat language,
    # interpreter): at the same child's next review, what they told us last time is offered
    # back to confirm, not asked again (dialogs/carry_over.py). Its wording `carried` says what
    # they told us ("Last time you asked us to call you {answer}."). The chat language is
    # used from the first message instead, as any language known already is.
    carry_over: bool = False

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


def placeholders(text: str) -> set[str]:
    """The `{names}` a wording fills in. A ValueError, saying so, when its braces are broken."""
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        raise ValueError(f"broken {{placeholder}} braces: {exc}") from exc


# --- Safeguarding phrases ------------------------------------------------------------------------


class NumberRule(_Strict):
    """A number the child writes that is evidence by what stands beside it: an adult's age said
    of a boyfriend or a new friend, a count of pills. Neither layer of the screen reads numbers
    otherwise (the phrases turn digits into letters, the model drops lone numbers)."""

    category: str
    # The smallest number that counts ("18": an adult).
    at_least: int = Field(ge=0)
    # The largest ("99": an age; "a 300 day streak" is not one).
    at_most: int | None = Field(default=None, ge=0)
    # Words one of which stands within `within` words of the number, before or after it.
    near: list[str] = Field(min_length=1)
    # Words that, as near, mean it is not ("my brother is 19", "mum's boyfriend is 40").
    unless_near: list[str] = []
    # Words that, right after the number, say what it counts when that is not it ("30 mins").
    not_followed_by: list[str] = []
    within: int = Field(default=4, ge=1, le=12)

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in SAFEGUARDING_CATEGORIES:
            raise ValueError(f"unknown category {v!r}; use one of {list(SAFEGUARDING_CATEGORIES)}")
        return v

    @model_validator(mode="after")
    def _a_range(self) -> NumberRule:
        if self.at_most is not None and self.at_most < self.at_least:
            raise ValueError(
                f"at_most {self.at_most} is below at_least {self.at_least}: no number counts"
            )
        return self


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
    # Phrases a negation cancels even in a category not listed under `negatable`: "i'm not
    # suicidal" is a denial, where "i don't want to die" may not be.
    negatable_phrases: list[str] = []
    # Phrases acted on whatever the model makes of the words around them, like every phrase of
    # suicide and immediate danger: "i was forced to have sex" is never a gentle check only.
    sure_phrases: list[str] = []
    # Ordinary words one letter from a phrase word; never read as that word with a typo.
    not_typos: list[str] = []
    # What a child says about a worry they have just told us, right after the help, each kind
    # answered in its own way (messages.after_worry_<kind>): afraid of it being passed on
    # ("don't tell", "he'll find out"), taking it back ("it's not true", "i was joking"), or
    # saying more about who it is ("he's my brother").
    about_the_worry: dict[Literal["secret", "not_true", "who"], list[str]] = {}
    # Numbers that are evidence by the words beside them (`NumberRule`).
    numbers: list[NumberRule] = []

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(v) - set(SAFEGUARDING_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown categories {sorted(unknown)}; use {list(SAFEGUARDING_CATEGORIES)}"
            )
        return v

    @model_validator(mode="after")
    def _negatable_phrases_are_phrases(self) -> SafeguardingFile:
        listed = {p for phrases in self.categories.values() for p in phrases}
        for field in ("negatable_phrases", "sure_phrases"):
            unknown = [p for p in getattr(self, field) if p not in listed]
            if unknown:
                raise ValueError(
                    f"{field} {unknown} are not phrases of any category; list each "
                    "exactly as it is written under `categories`"
                )
        return self

    @field_validator("negatable")
    @classmethod
    def _known_negatable(cls, v: list[str]) -> list[str]:
        unknown = set(v) - set(SAFEGUARDING_CATEGORIES)
        if unknown:
            raise ValueError(
                f"unknown categories {sorted(unknown)}; use {list(SAFEGUARDING_CATEGORIES)}"
            )
        return v
