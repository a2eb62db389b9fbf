"""The content the bot runs on: `Content`, one immutable version of content/, and its text API
(`text`, `plural`, `synonyms`, `raw`...), which picks the wording for a language, age band and
form, falling back to English. Built by `loader.load_content` once every check has passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.content.schema import (
    FALLBACK_LOCALE,
    FORMS,
    AgeBand,
    LocaleMeta,
    Question,
    SafeguardingFile,
)


@dataclass(frozen=True)
class Locale:
    """One language's wording, as read from locales/<code>.yaml."""

    meta: LocaleMeta
    strings: Mapping[str, Any]  # dotted key -> str | list[str]
    path: Path


class _SafeFormat(dict[str, Any]):
    # A placeholder the caller did not fill stays as written, rather than failing the message.
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
