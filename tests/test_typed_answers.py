"""Typed answers as children type them: shrugs, "nah", "n" between parts, misspellings; and a
reprompt that fits what is on the screen. What the IRO reads is what the child meant."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import Parts
from bot.delivery.summary import summary_data
from tests.consult import answer_until, answers_of, content_of, said, text, to_question

LONDON = ZoneInfo("Europe/London")


async def what_the_iro_reads(parts: Parts, review) -> dict:
    """The summary as it would be sent now, from what is stored."""
    return summary_data(
        content=content_of(parts),
        review=review,
        answers=await parts.repos.answers.all_for(review_id=review.id),
        tz=LONDON,
        updated=False,
        sent_at=datetime.now(UTC),
    )


async def test_parts_joined_by_n_are_all_kept_misspelt_or_not(linked_chat, parts: Parts) -> None:
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "when", parts, review.id)
    await chat.say("after skool n weekends")
    stored = await answers_of(parts, review.id)
    assert stored["when"] == ("choices", ["after_school", "weekend"])
    assert "when.other" not in stored  # nothing dropped into "their words" either
    # The IRO reads what they meant, and what they wrote beside it.
    assert stored["when.said"] == ("text", "after skool n weekends")
    data = await what_the_iro_reads(parts, review)
    [when] = [r.answer for s in data["sections"] for r in s.rows if r.question.startswith("When")]
    assert when.endswith("(they typed “after skool n weekends”)"), when
    # Typed just as shown, or a shrug that picked its option, adds nothing beside it.
    await chat.say("back")
    await chat.say("2, 4")
    assert "when.said" not in await answers_of(parts, review.id)


@pytest.mark.parametrize(
    ("key", "typed", "expected"),
    [
        ("when", "whatever", ("choices", ["any_time"])),
        ("when", "i dont mind", ("choices", ["any_time"])),
        ("take_part", "idk", ("choice", "not_sure")),
        ("take_part", "dunno", ("choice", "not_sure")),
        ("talk_to_iro", "i dont mind", ("unsure", "any")),
        ("talk_to_iro", "idk", ("unsure", "not_sure")),
        ("talk_to_iro", "yep", ("yesno", True)),
        ("talk_to_iro", "nah", ("yesno", False)),
        # Written-answer questions: "nah" is nobody, on every path, not the word "nah".
        ("who_not_there", "nah", ("choice", "no_one")),
        ("who_not_there", "nobody", ("choice", "no_one")),
        ("not_discussed", "nothing", ("choice", "nothing")),
        ("not_discussed", "idk", ("choice", "not_sure")),
    ],
)
async def test_a_shrug_or_a_no_means_what_it_means(
    linked_chat, parts: Parts, key: str, typed: str, expected: tuple[str, object]
) -> None:
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, key, parts, review.id)
    transcript = await chat.say(typed)
    assert not said(parts, transcript, "messages.not_understood_yesno")
    assert not said(parts, transcript, "messages.not_understood_tap")
    assert (await answers_of(parts, review.id))[key] == expected


@pytest.mark.parametrize(
    ("language", "no"), [("العربية", "لا"), ("Shqip", "jo"), ("العربية", "ما في")]
)
async def test_no_in_their_language_is_never_an_action(
    linked_chat, parts: Parts, language: str, no: str
) -> None:
    review, chat = await linked_chat("msteams", age=15)
    await chat.say(language)
    await chat.say("Sara")
    await answer_until(chat, parts, "not_discussed")
    await chat.say(no)
    stored = await answers_of(parts, review.id)
    assert stored["not_discussed"] == ("choice", "nothing")
    data = await what_the_iro_reads(parts, review)
    assert not [a for a in data["actions"] if a.startswith("Do not discuss")]
    shown = [r.answer for s in data["sections"] for r in s.rows if "discuss" in r.question.lower()]
    assert shown == ["Nothing"], data["sections"]


async def test_an_unsure_yes_no_asks_the_iro_to_check(linked_chat, parts: Parts) -> None:
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "talk_to_iro", parts, review.id)
    await chat.say("not sure")
    assert (await answers_of(parts, review.id))["talk_to_iro"] == ("unsure", "not_sure")
    data = await what_the_iro_reads(parts, review)
    assert any("they were not sure" in a for a in data["actions"])
    assert any(r.answer == "Not sure yet" for s in data["sections"] for r in s.rows)


async def test_the_reprompt_fits_the_channel(linked_chat, parts: Parts) -> None:
    # Teams shows buttons without numbers: "type its number" would make no sense.
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "where", parts, review.id)
    transcript = await chat.say("purple")
    assert said(parts, transcript, "messages.not_understood_tap")
    assert not said(parts, transcript, "messages.not_understood")
    await to_question_from_here(chat, parts, "when")
    transcript = await chat.say("purple")
    assert said(parts, transcript, "messages.not_understood_multi_tap")
    # A text channel shows the options numbered: there, typing a number is the way.
    review, sms = await linked_chat("sms", age=14)
    await to_question(sms, "where", parts, review.id)
    transcript = await sms.say("purple")
    assert said(parts, transcript, "messages.not_understood")
    assert "1." in transcript


async def to_question_from_here(chat, parts: Parts, key: str) -> None:
    await chat.say("skip")
    await answer_until(chat, parts, key)


async def test_a_label_after_not_is_not_chosen(linked_chat, parts: Parts) -> None:
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "take_part", parts, review.id)
    transcript = await chat.say("not read out")
    assert said(parts, transcript, "messages.not_understood_tap")
    assert "take_part" not in await answers_of(parts, review.id)
    await chat.say("read out")
    assert (await answers_of(parts, review.id))["take_part"] == ("choice", "written_views")


@pytest.mark.parametrize("asked", ["who is jo smith", "whos jo?", "Who is Jo Smith?"])
async def test_who_is_their_iro_is_answered_at_any_question(linked_chat, parts: Parts, asked):
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "talk_to_iro", parts, review.id)
    reply = await chat.say(asked)
    assert text(parts, "glossary.iro_person.answer", iro=review.iro_name) in reply
    assert not said(parts, reply, "messages.not_understood_yesno")
    assert said(parts, reply, "questions.talk_to_iro.prompt")  # asked again, where it was
    assert "talk_to_iro" not in await answers_of(parts, review.id)
