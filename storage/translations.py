"""Which wording each language still needs: missing (English has it, the language does not) and
stale (the English has changed since the language's wording was last marked translated).

English is the source. `content/locales/translated-from.json` records, per language and key, a
fingerprint of the English each translation was made from; `myreview content translated
--locale ar` records the English of today once a translator has brought Arabic up to date.
`myreview content check` and the start-up log list what is missing and what is stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.content import FALLBACK_LOCALE, FORMS, Content
from storage.content import PLURAL_FORMS as PLURALS

RECORD = "translated-from.json"
# Wording for staff only (the IRO's summary is in English): never translated.
STAFF_ONLY = (".summary",)


@dataclass
class Gaps:
    """One language's missing and stale keys (each the base key, without its age band)."""

    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.stale)


def _base_keys(content: Content, strings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Wording keys, each with its band variants ("messages.help": {"": ..., "easy": ...})."""
    bands = {b.id for b in content.age_bands} | {"any"}
    out: dict[str, dict[str, Any]] = {}
    for key, value in strings.items():
        if key.endswith(".synonyms") or key.endswith(STAFF_ONLY):
            continue  # other words for a thing, not a translation of it
        base, _, last = key.rpartition(".")
        variant = last[:-2] if last.endswith(("_f", "_m")) else last
        if base and (
            variant in bands or last in FORMS or (key.startswith("plurals.") and last in PLURALS)
        ):
            out.setdefault(base, {})[last] = value
        else:
            out.setdefault(key, {})[""] = value
    return out


def fingerprint(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def record_path(content: Content) -> Path:
    return content.directory / "locales" / RECORD


def read_record(content: Content) -> dict[str, dict[str, str]]:
    path = record_path(content)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(loc): {str(k): str(v) for k, v in keys.items()} for loc, keys in data.items()}


def gaps(content: Content, record: dict[str, dict[str, str]] | None = None) -> dict[str, Gaps]:
    """Every language but English, with what it lacks; a key translated with no record yet is
    taken as up to date (the record starts when a language is first marked)."""
    record = read_record(content) if record is None else record
    english = _base_keys(content, content.locales[FALLBACK_LOCALE].strings)
    out: dict[str, Gaps] = {}
    for locale, loc in sorted(content.locales.items()):
        if locale == FALLBACK_LOCALE:
            continue
        have = _base_keys(content, loc.strings)
        made_from = record.get(locale, {})
        found = Gaps()
        for key, value in english.items():
            if key not in have:
                found.missing.append(key)
            elif key in made_from and made_from[key] != fingerprint(value):
                found.stale.append(key)
        out[locale] = found
    return out


def mark_translated(content: Content, locale: str, keys: list[str] | None = None) -> int:
    """Records today's English as what `locale`'s wording (all of it, or `keys`) was made from;
    returns how many keys were marked."""
    if locale not in content.locales or locale == FALLBACK_LOCALE:
        raise KeyError(locale)
    english = _base_keys(content, content.locales[FALLBACK_LOCALE].strings)
    have = _base_keys(content, content.locales[locale].strings)
    chosen = [k for k in (keys or list(english)) if k in english and k in have]
    record = read_record(content)
    record.setdefault(locale, {}).update({k: fingerprint(english[k]) for k in chosen})
    record[locale] = dict(sorted(record[locale].items()))
    text = json.dumps(dict(sorted(record.items())), ensure_ascii=False, indent=1) + "\n"
    record_path(content).write_text(text, encoding="utf-8")
    return len(chosen)


def is_translated(content: Content, key: str, locale: str) -> bool:
    """Whether `locale` has its own wording for `key` (in some band)."""
    if locale == FALLBACK_LOCALE:
        return True
    strings = content.locales[locale].strings if locale in content.locales else {}
    return key in strings or any(k.startswith(f"{key}.") for k in strings)
