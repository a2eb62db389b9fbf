"""The flow as a child walks it: nothing asked twice, nothing asked that an answer settled."""

from __future__ import annotations

from bot.app import Parts
from tests.consult import QUICK, answers_of, text, to_question, waiting_key


async def keys_asked_until_the_end(chat, parts: Parts, answers: dict[str, str]) -> list[str]:
    asked: list[str] = []
    for _ in range(60):
        waiting = await waiting_key(parts, chat)
        if waiting == "send_confirm":
            return asked
        asked.append(waiting or "")
        await chat.say(answers.get(waiting or "", QUICK.get(waiting or "", "skip")))
    raise AssertionError(chat.said)


async def test_no_advocate_question_after_coming_with_an_advocate(linked_chat, parts: Parts):
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "take_part", parts, review.id)
    await chat.say(text(parts, "questions.take_part.options.with_advocate.label"))
    asked = await keys_asked_until_the_end(chat, parts, {})
    assert "advocate" not in asked
    assert (await answers_of(parts, review.id))["take_part"] == ("choice", "with_advocate")


async def test_the_advocate_question_is_asked_otherwise(linked_chat, parts: Parts):
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "take_part", parts, review.id)
    await chat.say(text(parts, "questions.take_part.options.speak_myself.label"))
    assert "advocate" in await keys_asked_until_the_end(chat, parts, {})
