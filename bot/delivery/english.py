"""How the emails name things for the adults who read them, in English: a language, a kind of
worry the safeguarding screen heard."""

from __future__ import annotations

from storage.content import Content

CATEGORY_NAMES = {
    "self_harm": "self-harm",
    "suicide": "suicide or wanting to die",
    "being_hurt": "being hurt",
    "abuse": "abuse",
    "not_safe_at_home": "not safe where they live",
    "running_away": "running away",
    "exploitation": "exploitation",
    "immediate_danger": "immediate danger",
}


def english_name(content: Content, locale: str) -> str:
    loc = content.locales.get(locale)
    return loc.meta.english_name or loc.meta.name if loc else locale
