"""Alerts are bounded without losing one: a child who repeats a worry, or a flood of chats with
no review, never becomes an email each; every disclosure is stored and every child helped."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

from bot.app import release_held_alerts
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
