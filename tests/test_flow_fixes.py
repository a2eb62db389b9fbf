"""The flow as a child walks it: nothing asked twice, nothing asked that an answer settled."""

from __future__ import annotations

from bot.app import Parts
from tests.consult import QUICK, answer_until, answers_of, said, text, to_question, waiting_key


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


async def test_change_after_sending_goes_straight_to_which_and_takes_a_name(
    linked_chat, parts: Parts
):
    review, chat = await linked_chat("sms", age=14)
    await to_question(chat, "where", parts, review.id)
    await chat.say(text(parts, "questions.where.options.school.label"))
    await keys_asked_until_the_end(chat, parts, {})
    await chat.say(text(parts, "questions.send_confirm.options.send.label"))
    assert said(parts, chat.said, "messages.sent")

    await chat.say("hi")
    reply = await chat.say(text(parts, "questions.welcome_back_sent.options.change.label"))
    # The list, then "which one?", not "Ready to send?" first.
    assert said(parts, reply, "questions.which_answer.prompt")
    assert not said(parts, reply, "questions.send_confirm.prompt")
    # Its name in the list works as well as its number, and what was stored is shown.
    reply = await chat.say(text(parts, "questions.where.check").lower())
    assert said(parts, reply, "questions.where.prompt")
    assert text(parts, "questions.where.options.school.label") in reply
    assert said(parts, reply, "controls.answered.label")
    await chat.say(text(parts, "questions.where.options.online.label"))
    assert (await answers_of(parts, review.id))["where"] == ("choice", "online")


async def test_only_words_worth_sharing_are_asked_about(linked_chat, parts: Parts):
    review, chat = await linked_chat("sms", age=14)
    await to_question(chat, "topics", parts, review.id)
    await chat.say(text(parts, "questions.topics.options.education.label"))
    await answer_until(chat, parts, "topic_say.education")
    await chat.say("maths is hard")
    await answer_until(chat, parts, "anything_else")
    await chat.say("nah")  # nothing to read out
    await answer_until(chat, parts, "share_all")
    await chat.say(text(parts, "questions.share_all.options.choose.label"))
    assert "“maths is hard”" in chat.said
    await chat.say(text(parts, "questions.share_one.options.everyone.label"))
    # Not asked whether "nah" may be read out: straight on to the check.
    assert "“nah”" not in chat.said
    assert await waiting_key(parts, chat) == "send_confirm"


async def test_an_answer_tapped_in_the_check_list_is_asked_again(linked_chat, parts: Parts):
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "where", parts, review.id)
    await chat.say(text(parts, "questions.where.options.school.label"))
    await keys_asked_until_the_end(chat, parts, {})
    # The list is a card whose answers are buttons: tapping "Where" changes that one.
    intro = text(parts, "messages.check_intro")
    card = next(
        att["content"]
        for a in chat.replies
        for att in a.get("attachments") or []
        if intro in str(att["content"]["body"][0].get("text"))
    )
    taps = [b["selectAction"]["data"] for b in card["body"] if b.get("type") == "Container"]
    assert {"change": "where"} in taps
    reply = await chat.say("", value={"change": "where"})
    assert said(parts, reply, "questions.where.prompt")
    assert said(parts, reply, "controls.answered.label")
    assert not said(parts, reply, "questions.which_answer.prompt")
    await chat.say(text(parts, "questions.where.options.online.label"))
    assert (await answers_of(parts, review.id))["where"] == ("choice", "online")
    assert said(parts, chat.said, "messages.answer_changed")


async def test_a_tap_naming_no_answer_in_the_list_asks_which_kindly(linked_chat, parts: Parts):
    # An old card, or a client making its own payloads: a key that is not in the list.
    review, chat = await linked_chat("msteams", age=14)
    await to_question(chat, "where", parts, review.id)
    await chat.say(text(parts, "questions.where.options.school.label"))
    await keys_asked_until_the_end(chat, parts, {})
    before = await answers_of(parts, review.id)
    reply = await chat.say("", value={"change": "no_such_answer"})
    assert said(parts, reply, "messages.which_answer_wrong")
    assert chat.last_status < 500
    reply = await chat.say("", value={"change": 5})  # not even a key
    assert chat.last_status < 500 and reply
    assert await answers_of(parts, review.id) == before
