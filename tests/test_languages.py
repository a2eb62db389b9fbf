"""Every child in their own language from the first word: chosen before the code, the welcome
and the safety rule come in it at once; then the code, then questions, all in it."""

from __future__ import annotations

import pytest

from bot.app import Parts
from tests.consult import content_of, fragment, said_in_any_band


def where(parts: Parts, transcript: str, key: str, locale: str) -> int:
    """Where in the transcript a string is said first, in whichever age band's wording."""
    bands = [None, *(b.id for b in content_of(parts).age_bands)]
    found = [transcript.find(fragment(parts, key, locale, b)) for b in bands]
    return min(i for i in found if i >= 0)


@pytest.mark.parametrize(("language", "locale"), [("العربية", "ar"), ("Shqip", "sq")])
async def test_a_language_chosen_before_the_code_says_the_rules_in_it_first(
    new_chat, new_review, parts: Parts, language: str, locale: str
) -> None:
    _, code = await new_review(age=15)
    chat = new_chat("msteams")
    await chat.start()
    await chat.say("language")
    reply = await chat.say(language)
    # The safety rule ("I can't keep that secret") before anything else, in their language.
    assert said_in_any_band(parts, reply, "messages.welcome_rules", locale), reply
    assert said_in_any_band(parts, reply, "messages.welcome", locale)
    assert said_in_any_band(parts, reply, "questions.invite_code.prompt", locale)
    assert where(parts, reply, "messages.welcome_rules", locale) < where(
        parts, reply, "questions.invite_code.prompt", locale
    )
    linked = await chat.say(code)
    # Said once: not again after the code.
    assert not said_in_any_band(parts, linked, "messages.welcome_rules", locale)
    assert not said_in_any_band(parts, linked, "messages.welcome_rules", "en")


@pytest.mark.parametrize(
    ("locale", "n", "said"),
    [
        ("en", 1, "1 question"),
        ("en", 17, "17 questions"),
        ("ar", 1, "سؤال واحد"),
        ("ar", 2, "سؤالين"),
        ("ar", 3, "3 أسئلة"),
        ("ar", 11, "11 سؤالًا"),
        ("ar", 100, "100 سؤال"),
        ("sq", 1, "1 pyetje"),
    ],
)
def test_counted_words_follow_each_languages_plural_rules(parts: Parts, locale, n, said):
    assert content_of(parts).plural("questions", n, locale) == said
