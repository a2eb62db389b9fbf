"""Content: the consultation, its wording per language, and safeguarding phrases.

Loaded through `ContentSource`, so that a later version can read a published version from the
database instead of `content/`. Everything is checked at load, and every problem found is
reported at once, each naming the file, the line and the fix.

One job per module:
- `lines`: YAML read with the line of every value; `Problem` and `ContentError`.
- `schema`: the pydantic models each file must fit, and the constants they name.
- `runtime`: `Content` and `Locale`, the text API the bot runs on.
- `examples`: the labelled sentences the safeguarding model is trained on.
- `contract`: `ContentContract`, what the code relies on, and how a rename is traced.
- `loaded`: what was read, as the checks see it.
- `contract_checks`, `checks`: the named checks, listed in `checks.CHECKS`.
- `loader`: `load_content`, its cache, and `ContentSource`/`FileContentSource`.

Callers import from `storage.content` only; the modules are its inside.
"""

from storage.content.checks import CHECKS, Check
from storage.content.contract import ContentContract, QuestionNeed
from storage.content.examples import EXAMPLE_HEADER, ORDINARY, Example, load_examples
from storage.content.lines import ContentError, Problem
from storage.content.loader import (
    LOADED_KEPT,
    ContentSource,
    FileContentSource,
    load_content,
)
from storage.content.runtime import Content, Locale
from storage.content.schema import (
    ANY_BAND,
    FALLBACK_LOCALE,
    FORMS,
    MAX_TEXT,
    MEANINGS,
    MIN_PHRASE_LETTERS,
    PARTICIPATION_CODES,
    PLURAL_FORMS,
    SAFEGUARDING_CATEGORIES,
    AgeBand,
    AnswerCondition,
    Condition,
    ConsultationFile,
    LocaleMeta,
    Meaning,
    NumberRule,
    Option,
    Question,
    QuestionType,
    SafeguardingFile,
)

__all__ = [
    "ANY_BAND",
    "CHECKS",
    "EXAMPLE_HEADER",
    "FALLBACK_LOCALE",
    "FORMS",
    "LOADED_KEPT",
    "MAX_TEXT",
    "MEANINGS",
    "MIN_PHRASE_LETTERS",
    "ORDINARY",
    "PARTICIPATION_CODES",
    "PLURAL_FORMS",
    "SAFEGUARDING_CATEGORIES",
    "AgeBand",
    "AnswerCondition",
    "Check",
    "Condition",
    "ConsultationFile",
    "Content",
    "ContentContract",
    "ContentError",
    "ContentSource",
    "Example",
    "FileContentSource",
    "Locale",
    "LocaleMeta",
    "Meaning",
    "NumberRule",
    "Option",
    "Problem",
    "Question",
    "QuestionNeed",
    "QuestionType",
    "SafeguardingFile",
    "load_content",
    "load_examples",
]
