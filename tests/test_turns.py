"""A turn is all or nothing, a channel's resend finishes it, and bursts stay with their answer.

Each test is one of the findings of issue 5 (and the screening gaps of issue 8 that the turn
pipeline closes), told as a transcript: what the young person sends, what a channel does, what
the bot says and what is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import Parts
from bot.jobs import housekeeping
from tests.consult import (
    answer_until,
    answers_of,
    said,
    said_in_any_band,
    text,
    to_question,
    wait_for_eml,
)

DISCLOSURE = "i want to kill myself"


def fail_once(parts: Parts) -> None:
    """The next turn dies after doing its work, just before it commits (a crash would too)."""
    state = parts.services.chats
    original = state.save
    calls = {"n": 0}

    async def failing(*args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the process died here")
        await original(*args, **kw)

    state.save = failing  # type: ignore[method-assign]


# --- all or nothing, and the resend ----------------------------------------------------------


async def test_a_turn_that_fails_stores_nothing_and_its_resend_runs_it_again(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    fail_once(parts)
    act = chat.activity(text="Sammy")

    await chat.post(act)

    assert said(parts, chat.said, "messages.error")
    assert "name" not in await answers_of(parts, review.id)

    await chat.post(act)  # the channel resends the same activity

    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")
    assert said(parts, chat.said, "questions.pronouns.prompt")


async def test_a_late_resend_is_not_taken_as_the_answer_to_the_question_after_it(
    linked_chat, parts
):
    review, chat = await linked_chat("sms")
    await to_question(chat, "who_there", parts, review.id)
    fail_once(parts)
    first = chat.activity(text="my mum")
    first["timestamp"] = (datetime.now(UTC) - timedelta(seconds=20)).isoformat()
    await chat.post(first)  # lost in a crash: the child sees only "sorry"
    await chat.say("my nan")  # so they answer again, and the bot moves on

    await chat.post(first)  # then the channel's resend of the first arrives

    stored = await answers_of(parts, review.id)
    assert stored["who_there"] == ("text", "my nan\nmy mum")
    assert "who_not_there" not in stored


async def test_a_failure_at_the_code_step_is_not_a_wrong_code(new_chat, new_review, parts):
    review, code = await new_review()
    chat = new_chat("sms")
    await chat.start()
    fail_once(parts)
    act = chat.activity(text=code)

    await chat.post(act)
    await chat.post(act)

    assert said(parts, chat.said, "messages.linked")
    key = f"sms/{chat.conversation_id}"
    since = datetime.now(UTC) - timedelta(hours=1)
    assert await parts.repos.code_attempts.failures_since(conversation_key=key, since=since) == []


async def test_replies_lost_after_the_commit_come_with_the_resend_and_nothing_twice(
    linked_chat, parts, connector
):
    conn, _ = connector
    review, chat = await linked_chat("sms")
    await chat.say("English")
    conn.fail_posts = 1  # the channel's connector is down for the reply
    act = chat.activity(text="Sammy")

    resp = await chat.client.post("/api/messages", json=act)

    assert resp.status == 503  # so the channel resends
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")

    await chat.post(act)
    assert said(parts, chat.said, "questions.pronouns.prompt")
    first_resend = chat.said

    await chat.post(act)  # and again: the replies went out already
    assert chat.replies == []
    assert said(parts, first_resend, "questions.pronouns.prompt")
    stored = await answers_of(parts, review.id)
    assert set(stored) == {"language", "name"}


async def test_a_late_duplicate_of_a_delivered_turn_sends_nothing_when_its_mark_was_lost(
    linked_chat, parts
):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    act = chat.activity(text="Sammy")
    # The replies to "Sammy" go out; the 'delivered' mark, written a moment later, is lost in
    # a crash.
    delivered = parts.repos.activities.delivered

    async def lost(**kw: Any) -> None:
        pass

    parts.repos.activities.delivered = lost  # type: ignore[method-assign]
    await chat.post(act)
    assert said(parts, chat.said, "questions.pronouns.prompt")
    await parts.bot.flush_delivered()
    parts.repos.activities.delivered = delivered  # type: ignore[method-assign]
    await chat.say("she / her")  # the child carries on
    asked = chat.said

    await chat.post(act)  # then the channel's late duplicate of "Sammy" arrives

    # Nothing: the pronouns question again, below the question the child is on, would be
    # answered by their next message as if it were that one.
    assert chat.replies == []
    assert not said(parts, asked, "questions.pronouns.prompt")
    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("text", "Sammy") and stored["pronouns"] == ("choice", "she_her")


async def test_the_stored_replies_are_forgotten_once_delivered(linked_chat, parts):
    review, chat = await linked_chat("sms")
    act = chat.activity(text="English")
    await chat.post(act)
    await parts.bot.flush_delivered()
    seen = await parts.repos.activities.seen(
        conversation_id=chat.conversation_id, activity_id=act["id"]
    )
    assert seen is not None and seen.delivered and seen.replies is None


async def test_a_repeated_conversation_update_is_answered_once(new_chat, parts):
    chat = new_chat("msteams")
    act = chat.activity(type="conversationUpdate")
    act["membersAdded"] = [{"id": chat.user_id}, {"id": "bot"}]
    await chat.post(act)
    assert said(parts, chat.said, "messages.welcome")

    await chat.post(act)

    assert chat.replies == []


# --- sending is one transaction -----------------------------------------------------------------


async def test_a_failure_while_queueing_the_summary_leaves_the_review_unsent(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await to_question(chat, "send_confirm", parts, review.id)
    notifier = parts.services.notifier
    original = notifier.summary

    async def broken(**kw: Any) -> None:
        raise RuntimeError("template failed")

    notifier.summary = broken  # type: ignore[method-assign]
    act = chat.activity(text="send")
    await chat.post(act)

    assert said(parts, chat.said, "messages.error")
    row = await parts.repos.reviews.get(review_id=review.id)
    assert row is not None and row.submitted_at is None
    assert await parts.repos.outbox.list(review_id=review.id, kind="summary") == []

    notifier.summary = original  # type: ignore[method-assign]
    await chat.post(act)  # the channel's resend

    assert said(parts, chat.said, "messages.sent")
    assert len(await parts.repos.outbox.list(review_id=review.id, kind="summary")) == 1


async def test_housekeeping_queues_a_summary_a_sent_review_is_missing(new_review, parts):
    review, _ = await new_review()
    await parts.repos.reviews.mark_submitted(review_id=review.id, at=datetime.now(UTC))

    await housekeeping(parts)
    await housekeeping(parts)

    (summary,) = await parts.repos.outbox.list(review_id=review.id, kind="summary")
    assert summary.recipients == [review.iro_email]
    await wait_for_eml(parts.settings.outbox_dir)


# --- bursts --------------------------------------------------------------------------------------


def reading_time(parts: Parts) -> Callable[[float], None]:
    """Bursts on, with a clock the test moves on (a child taking their time to read)."""
    parts.services.burst_window = timedelta(seconds=1.5)
    offset = {"s": 0.0}
    parts.services.clock = lambda: datetime.now(UTC) + timedelta(seconds=offset["s"])

    def wait(seconds: float) -> None:
        offset["s"] += seconds

    return wait


def stamped(chat: Any, text: str, at: datetime) -> dict[str, Any]:
    """An activity as a channel sends it, with the moment the child sent it."""
    act = chat.activity(text=text)
    act["timestamp"] = at.isoformat()
    return act


async def test_the_name_on_the_review_tapped_at_once_is_taken_not_held_as_too_soon(
    linked_chat, parts
):
    """On Web Chat (and the web door) a one-tap answer comes back as its label, as if typed: a
    child tapping "Sam" the moment the name question appears was told "That came just as I
    asked"."""
    review, chat = await linked_chat("webchat")
    await chat.say("English")
    reading_time(parts)  # and no time passes: the tap comes at once
    transcript = await chat.tap("Sam")
    assert not said(parts, transcript, "messages.burst_next")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sam")


@pytest.mark.parametrize("crash", [False, True])
async def test_a_quick_follow_up_is_filed_the_same_with_or_without_a_crash(
    linked_chat, parts, crash
):
    """Issue 15: "Sam", then 0.3 s later "and my nan calls me Sammy": added to the name without
    a crash; after a crash and the channel's resend (same id, body and timestamp, arriving long
    after), it was refused against the next question and dropped."""
    review, chat = await linked_chat("webchat")
    await chat.say("English")
    wait = reading_time(parts)
    wait(5)
    at = parts.services.clock()
    await chat.post(stamped(chat, "Sam", at))
    follow_up = stamped(chat, "and my nan calls me Sammy", at + timedelta(seconds=0.3))
    if crash:
        fail_once(parts)
        await chat.post(follow_up)  # lost: the process died before it committed
        wait(30)  # the channel resends it when the server is back

    await chat.post(follow_up)

    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("text", "Sam\nand my nan calls me Sammy")
    assert "pronouns" not in stored


async def test_two_quick_messages_make_one_answer(new_chat, linked_chat, parts):
    review, chat = await linked_chat("webchat")
    await to_question(chat, "who_there", parts, review.id)
    wait = reading_time(parts)
    wait(5)  # reading the question

    await chat.say("my mum")
    await chat.say("and my nan")  # sent before the next question could be read

    stored = await answers_of(parts, review.id)
    assert stored["who_there"] == ("text", "my mum\nand my nan")
    assert "who_not_there" not in stored
    assert said(parts, chat.said, "messages.burst_added")


async def test_a_quick_message_after_a_choice_is_not_taken_as_the_next_answer(linked_chat, parts):
    review, chat = await linked_chat("webchat")
    await to_question(chat, "talk_to_iro", parts, review.id)
    wait = reading_time(parts)
    wait(5)

    await chat.say("yes")
    await chat.say("only if mum comes")

    stored = await answers_of(parts, review.id)
    assert stored["talk_to_iro"] == ("yesno", True)
    assert "where" not in stored
    reply = chat.said
    # It says which question the message came in under, and asks it again, last.
    assert said(parts, reply, "messages.burst_next")
    assert f"“{text(parts, 'questions.where.check')}”" in reply
    assert reply.index(f"“{text(parts, 'questions.where.check')}”") < reply.index(
        text(parts, "questions.where.prompt")
    )


async def test_a_quick_tap_on_the_new_questions_button_answers_it(linked_chat, parts):
    review, chat = await linked_chat("webchat")
    await to_question(chat, "take_part", parts, review.id)
    wait = reading_time(parts)
    wait(5)
    await chat.say("1")
    label = next(iter(chat.buttons()))  # the first option of "talk to your IRO?"

    await chat.tap(label)  # at once: Web Chat sends the button's label as text

    stored = await answers_of(parts, review.id)
    assert stored["talk_to_iro"][0] == "yesno"


async def test_a_message_sent_after_reading_answers_the_next_question(linked_chat, parts):
    review, chat = await linked_chat("webchat")
    await to_question(chat, "who_there", parts, review.id)
    wait = reading_time(parts)
    wait(5)

    await chat.say("my mum")
    wait(3)
    await chat.say("my dad")

    stored = await answers_of(parts, review.id)
    assert stored["who_there"] == ("text", "my mum")
    assert stored["who_not_there"] == ("text", "my dad")


async def test_a_message_waiting_behind_a_slow_turn_is_a_burst_even_with_no_window(
    linked_chat, parts, connector
):
    conn, _ = connector
    review, chat = await linked_chat("sms")
    await to_question(chat, "who_there", parts, review.id)
    second = chat.activity(text="and my nan")
    pending: list[asyncio.Task[Any]] = []
    second_arrived = asyncio.Event()

    original_on_turn = parts.bot.on_turn
    original_run = parts.bot.consultation.run

    async def arrivals(context: Any) -> None:
        if context.activity.text == "and my nan":
            second_arrived.set()  # the bot has it, and it waits for the chat's turn to end
        await original_on_turn(context)

    async def slow_first(context: Any) -> None:
        if context.activity.text == "my mum" and not pending:
            # The second message arrives while this turn still works: it queues behind it.
            pending.append(asyncio.create_task(chat.client.post("/api/messages", json=second)))
            await asyncio.wait_for(second_arrived.wait(), 10)
        await original_run(context)

    parts.bot.on_turn = arrivals  # type: ignore[method-assign]
    parts.bot.consultation.run = slow_first  # type: ignore[method-assign]
    await chat.say("my mum")
    await asyncio.gather(*pending)

    stored = await answers_of(parts, review.id)
    assert stored["who_there"] == ("text", "my mum\nand my nan")
    assert "who_not_there" not in stored


# --- screening in front of every turn (issue 8's gaps the pipeline closes) -------------------


async def alerts_for(parts: Parts, review_id: int) -> int:
    return len(await parts.repos.outbox.list(review_id=review_id, kind="alert"))


async def test_a_disclosure_right_after_sending_is_heard(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await to_question(chat, "send_confirm", parts, review.id)
    await chat.say("send")

    said_now = await chat.say(DISCLOSURE)

    assert said(parts, said_now, "messages.safeguarding_help")
    assert await alerts_for(parts, review.id) == 1


async def test_a_disclosure_after_the_change_deadline_is_heard(linked_chat, parts):
    review, chat = await linked_chat("sms")
    parts.services.clock = lambda: review.review_at - timedelta(minutes=30)

    said_now = await chat.say(DISCLOSURE)

    assert said(parts, said_now, "messages.safeguarding_help")
    assert await alerts_for(parts, review.id) == 1


async def test_a_disclosure_with_a_card_value_beside_it_is_heard(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await chat.say("English")

    said_now = await chat.say("he hits me every night", value={"foo": "bar"})

    assert said(parts, said_now, "messages.safeguarding_help")
    assert await alerts_for(parts, review.id) == 1


async def test_an_edited_message_is_screened_too(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    act = chat.activity(text="he hits me every night", type="messageUpdate")

    await chat.post(act)

    assert said(parts, chat.said, "messages.safeguarding_help")
    assert await alerts_for(parts, review.id) == 1


async def test_the_first_message_of_a_chat_with_no_greeting_is_screened(new_chat, parts):
    chat = new_chat("webchat")

    said_now = await chat.say(DISCLOSURE)

    assert said_in_any_band(parts, said_now, "messages.safeguarding_help")
    assert said(parts, said_now, "messages.welcome")
    duty = await parts.repos.outbox.list(kind="alert")
    assert len(duty) == 1 and duty[0].recipients == [parts.settings.duty_email]


async def test_a_resent_disclosure_raises_one_alert(linked_chat, parts):
    review, chat = await linked_chat("sms")
    fail_once(parts)
    act = chat.activity(text=DISCLOSURE)

    await chat.post(act)  # help is said even though the turn failed
    assert said(parts, chat.said, "messages.safeguarding_help")
    await chat.post(act)

    assert await alerts_for(parts, review.id) == 1
    assert len(await parts.repos.alerts.for_review(review_id=review.id)) == 1


# --- half an emoji ----------------------------------------------------------------------------


async def test_half_an_emoji_in_a_name_still_sends_the_summary(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    await chat.say("Zed \ud83d")
    await answer_until(chat, parts, "send_confirm")
    await chat.say("send")

    assert said(parts, chat.said, "messages.sent")
    (summary,) = await parts.repos.outbox.list(review_id=review.id, kind="summary")
    assert "Zed \ufffd" in summary.text_body


async def test_half_an_emoji_in_a_disclosure_still_gets_help(linked_chat, parts):
    review, chat = await linked_chat("sms")

    said_now = await chat.say("my carer hits me \ud83d")

    assert said(parts, said_now, "messages.safeguarding_help")
    assert await alerts_for(parts, review.id) == 1


async def test_shutting_down_waits_for_a_delivered_mark_being_written(linked_chat, parts):
    # A shutdown that left this write to finish after the database closed hung for good
    # (CI showed it as a test's teardown timing out).
    review, chat = await linked_chat("sms")
    act = chat.activity(text="English")
    await chat.post(act)
    writing, calls = asyncio.Event(), []
    write = parts.repos.activities.delivered

    async def slow_write(**kw: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # the timer's write: under way when shutdown comes
            writing.set()
            await asyncio.Event().wait()
        await write(**kw)

    parts.repos.activities.delivered = slow_write  # type: ignore[method-assign]
    flush = asyncio.create_task(parts.bot.flush_delivered())
    parts.bot._flush_task = flush
    await writing.wait()

    await parts.bot.close()

    assert flush.done(), "shutdown went on while a write was still under way"
    seen = await parts.repos.activities.seen(
        conversation_id=chat.conversation_id, activity_id=act["id"]
    )
    assert seen is not None and seen.delivered  # written at shutdown instead
