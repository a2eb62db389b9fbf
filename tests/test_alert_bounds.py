"""Alerts are bounded without losing one: a child who repeats a worry, or a flood of chats with
no review, never becomes an email each; every disclosure is stored and every child helped."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

from bot.jobs import release_held_alerts
from tests.alert_flood import flood
from tests.consult import said_in_any_band, wait_for_eml


def body(path) -> str:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(mail["Subject"]) + "\n" + mail.get_body(("plain",)).get_content()


async def test_repeats_in_one_chat_go_in_one_follow_up(new_chat, parts, settings):
    chat = new_chat("webchat")
    await chat.start()
    for n in range(20):
        transcript = await chat.say(f"he hits me every night {n}")
        # The first gets the help; each after it a short word that it is passed on too, not
        # the whole block again (issue 14), with "talk to someone" still a tap away.
        key = "messages.safeguarding_help" if n == 0 else "messages.safeguarding_added_duty"
        assert said_in_any_band(parts, transcript, key), transcript
        assert "Talk to someone" in transcript
    [first] = await wait_for_eml(settings.outbox_dir)
    assert "he hits me every night 0" in body(first)
    alerts = await parts.repos.alerts.held()
    assert len(alerts) == 19  # all stored, waiting for the follow-up

    # The follow-up goes when the grouping minutes are up, with every message in it.
    assert await release_held_alerts(parts) == 0
    later = parts.services.clock() + timedelta(minutes=11)
    parts.services.clock = lambda: later
    assert await release_held_alerts(parts) == 19
    [_, follow_up] = await wait_for_eml(settings.outbox_dir, count=2)
    text = body(follow_up)
    assert "19 more message(s)" in text
    for n in range(1, 20):
        assert f"he hits me every night {n}" in text
    assert await release_held_alerts(parts) == 0


async def test_a_new_worry_in_the_same_chat_is_emailed_at_once(new_chat, parts, settings):
    chat = new_chat("webchat")
    await chat.start()
    await chat.say("he hits me every night")
    await chat.say("he hits me again")
    await chat.say("i want to kill myself")
    files = await wait_for_eml(settings.outbox_dir, count=2)
    assert "kill myself" in body(files[1])
    assert len(await parts.repos.alerts.held()) == 1


async def test_the_duty_team_gets_a_bounded_number_of_emails_and_then_a_digest(
    new_chat, parts, settings
):
    limit = parts.services.duty_alerts_per_hour
    chats = [new_chat("webchat", user_id=f"young-{n}") for n in range(limit + 3)]
    for n, chat in enumerate(chats):
        await chat.start()
        assert said_in_any_band(
            parts, await chat.say(f"my stepdad hurts me {n}"), "messages.safeguarding_tell_duty"
        )
    files = await wait_for_eml(settings.outbox_dir, count=limit)
    assert len(files) == limit
    held = await parts.repos.alerts.held()
    assert [a.message for a in held] == [
        f"my stepdad hurts me {n}" for n in range(limit, limit + 3)
    ]
    # Within the hour nothing more goes; once it has room, one digest with all three.
    assert await release_held_alerts(parts) == 0
    later = parts.services.clock() + timedelta(minutes=61)
    parts.services.clock = lambda: later
    assert await release_held_alerts(parts) == 3
    files = await wait_for_eml(settings.outbox_dir, count=limit + 1)
    digest = body(files[-1])
    assert "3 safeguarding alert(s)" in digest
    for n in range(limit, limit + 3):
        assert f"my stepdad hurts me {n}" in digest and f"young-{n}" in digest


# --- on time: no alert waits past the hold limit, and none overtakes another --------------------


async def test_a_flood_from_throwaway_chats_never_holds_a_real_childs_alert_past_the_limit(
    new_chat, parts
):
    """Twenty disclosures an hour from chats that never enter a code, for three simulated
    hours, against a limit of ten emails an hour: before, a real child's held alert was still
    unsent after three hours."""
    limit = parts.services.alert_max_hold.total_seconds()

    got = await flood(parts, new_chat, hours=3, per_hour=20)

    assert len(got.raised) > 60 and got.real
    assert set(got.emailed) == set(got.raised), "every alert is emailed"
    assert max(got.delays(real_only=True)) <= limit
    assert max(got.delays()) <= limit
    # First in, first out: no alert is emailed before one raised earlier.
    order = sorted(got.raised, key=lambda i: got.raised[i])
    times = [got.emailed[i] for i in order]
    assert times == sorted(times)
    for ids in got.digests:
        assert ids == sorted(ids)


async def test_one_code_in_several_chats_is_one_email_and_one_follow_up(
    new_chat, new_review, parts, settings
):
    review, code = await new_review()
    chats = []
    for n in range(parts.services.code_devices_allowed):
        chat = new_chat("webchat", user_id=f"device-{n}")
        await chat.start()
        await chat.say(code)
        chats.append(chat)
    for n, chat in enumerate(chats):
        await chat.say(f"he hits me every night {n}")

    await wait_for_eml(settings.outbox_dir)
    urgent = [m for m in await parts.repos.outbox.list() if m.urgent]
    assert len(urgent) == 1, [m.subject for m in urgent]
    later = parts.services.clock() + timedelta(minutes=11)
    parts.services.clock = lambda: later
    assert await release_held_alerts(parts) == len(chats) - 1
    [_, follow_up] = await wait_for_eml(settings.outbox_dir, count=2)
    text = body(follow_up)
    for chat in chats[1:]:
        assert chat.conversation_id in text  # each chat named, so each can be found
    # Every disclosure is stored.
    assert len(await parts.repos.alerts.for_review(review_id=review.id)) == len(chats)


async def test_a_code_opens_only_so_many_chats(new_chat, new_review, parts):
    review, code = await new_review()
    for n in range(parts.services.code_devices_allowed):
        chat = new_chat("webchat", user_id=f"device-{n}")
        await chat.start()
        await chat.say(code)
    one_more = new_chat("webchat", user_id="device-extra")
    await one_more.start()

    reply = await one_more.say(code)

    assert said_in_any_band(parts, reply, "messages.code_too_many_devices"), reply
    assert len(await parts.repos.links.for_review(review_id=review.id)) == (
        parts.services.code_devices_allowed
    )
    # Not counted as a wrong code: the same chat is not paused for it.
    assert not said_in_any_band(parts, reply, "messages.code_wrong")
