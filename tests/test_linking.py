"""Invite codes: kind replies to wrong ones, a pause after five, and linking a second device."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.consult import QUICK, answers_of, linked_as, said, text, waiting_key


async def test_five_wrong_codes_pause_code_entry_for_fifteen_minutes(new_chat, new_review, parts):
    review, code = await new_review()
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    parts.services.clock = lambda: now
    chat = new_chat("sms")
    await chat.start()
    for _ in range(4):
        assert said(parts, await chat.say("AAAA-AAAA"), "messages.code_wrong")
    transcript = await chat.say("BBBB-BBBB")
    assert said(parts, transcript, "messages.code_paused") and "12:15" in transcript
    # Even the right code waits until the pause ends, and nothing is linked.
    transcript = await chat.say(code)
    assert said(parts, transcript, "messages.code_paused")
    now += timedelta(minutes=16)
    transcript = await chat.say(code)
    assert linked_as(parts, transcript, "Sam")


async def test_pause_is_per_conversation(new_chat, new_review, parts):
    review, code = await new_review()
    bad = new_chat("sms")
    await bad.start()
    for _ in range(5):
        await bad.say("AAAA-AAAA")
    other = new_chat("sms", user_id="someone-else")
    await other.start()
    assert linked_as(parts, await other.say(code), "Sam")


async def test_expired_code_is_refused_kindly(new_chat, new_review, parts):
    past = datetime.now(UTC) - timedelta(days=3)
    review, code = await new_review(review_at=past)
    chat = new_chat("sms")
    await chat.start()
    assert said(parts, await chat.say(code), "messages.code_expired")


async def test_a_second_device_with_only_the_code_can_add_answers_and_nothing_more(
    new_chat, new_review, parts
):
    review, code = await new_review()
    phone = new_chat("msteams")
    await phone.start()
    await phone.say(code)
    await phone.pick("English")
    await phone.say("Mimi, and i dont want my uncle there")
    # Someone else holding the code (a carer who saw it) links another device.
    laptop = new_chat("webchat", user_id="someone-with-the-code")
    await laptop.start()
    transcript = await laptop.say(code)
    assert "You have answered 2 of " in transcript
    assert "Mimi" not in transcript and "uncle" not in transcript
    # It can answer what is not answered yet ...
    assert said(parts, transcript, "questions.pronouns.prompt")
    await laptop.say("they / them")  # five options: listed and numbered; a label typed works
    stored = await answers_of(parts, review.id)
    assert stored["pronouns"] == ("choice", "they_them")
    # ... but not go back to an earlier answer, start again, or reach the check and send.
    for attempt in ("back", "start again"):
        transcript = await laptop.say(attempt)
        assert said(parts, transcript, "messages.limited_no_change"), attempt
        assert "Mimi" not in transcript
    for _ in range(40):
        if said(parts, laptop.said, "messages.limited_done"):
            break
        waiting = await waiting_key(parts, laptop)
        await laptop.say(QUICK.get(waiting or "", "skip"))
    assert said(parts, laptop.said, "messages.limited_done")
    assert not said(parts, laptop.said, "messages.check_intro")
    assert (await answers_of(parts, review.id))["name"] == (
        "text",
        "Mimi, and i dont want my uncle there",
    )
    fresh = await parts.repos.reviews.get(review_id=review.id)
    assert fresh.submitted_at is None
    # Coming back later, it still sees nothing.
    transcript = await laptop.say("hi")
    assert said(parts, transcript, "messages.limited_done") and "Mimi" not in transcript
    # The child's own device is told, once, on its next message, and keeps everything.
    transcript = await phone.say("she / her")
    assert said(parts, transcript, "messages.other_device_linked")
    transcript = await phone.say("skip")
    assert not said(parts, transcript, "messages.other_device_linked")


async def test_a_new_code_from_the_iro_closes_every_earlier_device(
    new_chat, new_review, parts, settings
):
    from bot.cli import new_code

    review, code = await new_review()
    phone = new_chat("msteams")
    await phone.start()
    await phone.say(code)
    await phone.pick("English")
    await phone.say("Mimi")
    # The phone was lost; the IRO gives the child a new code for their new device.
    _, fresh_code, closed = await new_code(settings, review.id or 0)
    assert closed == 1
    old = new_chat("webchat", user_id="someone")
    await old.start()
    assert said(parts, await old.say(code), "messages.code_wrong")
    transcript = await phone.say("she / her")
    assert said(parts, transcript, "messages.device_closed")
    assert said(parts, transcript, "questions.invite_code.prompt")
    new_phone = new_chat("msteams", user_id="child-new-phone")
    await new_phone.start()
    transcript = await new_phone.say(fresh_code)
    assert text(parts, "messages.linked_again", name="Mimi") in transcript


async def test_code_is_stored_only_as_a_hash(new_review, parts, settings):
    review, code = await new_review()
    raw = code.replace("-", "")
    data = b"".join(p.read_bytes() for p in settings.var_dir.parent.glob("myreview.db*"))
    assert raw.encode() not in data and code.encode() not in data
    assert len(code) == 11 and code[3] == code[7] == "-"
    assert not set(raw) & set("01OIL")


async def test_one_user_is_bounded_whatever_conversation_they_use(new_chat, new_review, parts):
    _, code = await new_review()
    for n in range(12):
        chat = new_chat("directline", user_id="same-person")
        await chat.start()
        transcript = await chat.say(f"AAA-AAA-A{n % 9 + 2}A")
        assert said(parts, transcript, "messages.code_wrong"), n
    fresh = new_chat("directline", user_id="same-person")
    await fresh.start()
    assert said(parts, await fresh.say(code), "messages.code_paused")
    # Someone else is not held up.
    other = new_chat("directline", user_id="someone-else")
    await other.start()
    assert linked_as(parts, await other.say(code), "Sam")


async def test_guessing_across_the_service_is_slowed_for_everyone_and_the_duty_team_told(
    tmp_path, connector, settings
):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import PARTS, create_app
    from bot.cli import add_review
    from tests.chat import Chat
    from tests.conftest import make_settings, review_data
    from tests.consult import wait_for_eml

    conn, url = connector
    s = make_settings(tmp_path, code_guesses_per_hour=6, code_slow_lane_seconds=60)
    _, code = await add_review(s, review_data())

    async def guess_from_fresh_identities(client: TestClient, n: int) -> list[str]:
        # A new conversation, user and channel id every time, as a guesser would rotate them.
        results = []
        for i in range(n):
            chat = Chat(client, conn, url, channel_id=f"ch{i % 5}", user_id=f"guesser-{i}")
            await chat.start()
            results.append(await chat.say("AAA-AAA-AAA"))
        return results

    async with TestClient(TestServer(create_app(s))) as client:
        parts = client.app[PARTS]
        results = await guess_from_fresh_identities(client, 20)
        wrong = [r for r in results if said(parts, r, "messages.code_wrong")]
        busy = [r for r in results if said(parts, r, "messages.code_busy")]
        # Six wrong codes under the bound, then one check in the slow lane, then none.
        assert (len(wrong), len(busy)) == (7, 13)
        [warning] = await wait_for_eml(s.outbox_dir)
        assert b"invite codes are being guessed" in warning.read_bytes()
        assert b"To: duty@council.example" in warning.read_bytes()
    # The bound is in the database: a restarted server still answers wrong codes slowly, and
    # a child with the right code gets in at once all the same.
    async with TestClient(TestServer(create_app(s))) as client:
        parts = client.app[PARTS]
        [again] = await guess_from_fresh_identities(client, 1)
        assert said(parts, again, "messages.code_busy")
        child = Chat(client, conn, url, channel_id="msteams", user_id="the-child")
        await child.start()
        assert linked_as(parts, await child.say(code), "Sam")
        later = parts.services.clock() + timedelta(seconds=61)
        parts.services.clock = lambda: later
        [answered] = await guess_from_fresh_identities(client, 1)
        assert said(parts, answered, "messages.code_wrong")  # the next slot
    # Only one warning email in the hour.
    assert len(list(s.outbox_dir.glob("*.eml"))) == 1


async def test_chats_that_never_linked_are_forgotten_after_a_week(new_chat, new_review, parts):
    from bot.jobs import housekeeping

    _, code = await new_review()
    guesser = new_chat("directline", user_id="guesser")
    await guesser.start()
    await guesser.say("AAA-AAA-AAA")
    child = new_chat("directline", user_id="child")
    await child.start()
    await child.say(code)
    keys = [f"directline/conversations/{c.conversation_id}" for c in (guesser, child)]
    assert set(await parts.repos.bot_state.read(keys=keys)) == set(keys)
    later = parts.services.clock() + timedelta(days=8)
    parts.services.clock = lambda: later
    await housekeeping(parts)
    assert set(await parts.repos.bot_state.read(keys=keys)) == {keys[1]}


@pytest.mark.parametrize("clients", [1, 20])
async def test_a_child_with_the_right_code_gets_in_first_time_while_codes_are_guessed(
    tmp_path, connector, clients
):
    """Guessers past the service-wide bound hold the slow lane (here one wrong code answered a
    minute); a child with the right code still gets in on their first try, and the guessers'
    wrong codes are still refused as before."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import PARTS, create_app
    from bot.cli import add_review
    from tests.chat import Chat
    from tests.conftest import make_settings, review_data

    conn, url = connector
    bound = 6
    s = make_settings(tmp_path, code_guesses_per_hour=bound, code_slow_lane_seconds=60)
    _, code = await add_review(s, review_data())
    answers: list[str] = []
    stop = asyncio.Event()

    async def guesser(client: TestClient, n: int) -> None:
        # One client sending guesses one after another, a new conversation and user for each,
        # as fast as the bot answers (faster than the one a second that kept a child out).
        i = 0
        while not stop.is_set():
            chat = Chat(client, conn, url, channel_id="directline", user_id=f"g{n}-{i}")
            await chat.start()
            answers.append(await chat.say(f"AAA-AAA-A{i % 9 + 2}A"))
            i += 1

    async with TestClient(TestServer(create_app(s))) as client:
        parts = client.app[PARTS]
        attack = [asyncio.create_task(guesser(client, n)) for n in range(clients)]
        try:
            # Well past the bound: the slow lane is in use, and taken by the guessers.
            for _ in range(2000):
                if len(answers) >= bound + 4:
                    break
                await asyncio.sleep(0.01)
            assert len(answers) >= bound + 4, "the guessers never got going"
            child = Chat(client, conn, url, channel_id="msteams", user_id="the-child")
            await child.start()
            tries = []
            for _ in range(5):
                tries.append(await child.say(code))
                if linked_as(parts, tries[-1], "Sam"):
                    break
        finally:
            stop.set()
            await asyncio.gather(*attack)
    print(f"\n{clients} guessing client(s): the child got in on try {len(tries)}")
    assert linked_as(parts, tries[-1], "Sam") and len(tries) == 1, tries
    # Checking codes first made guessing no faster: past the bound, one wrong code is answered
    # per slow-lane slot (one here, in a minute), and every other is refused as before.
    wrong = [a for a in answers if said(parts, a, "messages.code_wrong")]
    busy = [a for a in answers if said(parts, a, "messages.code_busy")]
    assert len(wrong) == bound + 1
    assert len(busy) == len(answers) - len(wrong)


async def test_a_second_device_changes_nothing_of_the_childs(new_chat, new_review, parts):
    """Issue 15: with only the code, a second device typed "language" then "Albanian": the
    review's language became Albanian and the interpreter question was recorded from it."""
    review, code = await new_review(is_uasc=True)
    phone = new_chat("msteams")
    await phone.start()
    await phone.say(code)
    await phone.pick("English")
    await phone.say("Sam")
    laptop = new_chat("webchat", user_id="someone-with-the-code")
    await laptop.start()
    await laptop.say(code)

    await laptop.say("language")
    reply = await laptop.say("Shqip")

    # The laptop speaks Albanian now, for its own messages ...
    assert said(parts, reply, "messages.language_changed", "sq"), reply
    # ... but the child's answers, their language included, are the child's.
    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "en")
    assert stored["name"] == ("text", "Sam")
    # The laptop is never asked about an interpreter, however long it answers.
    for _ in range(40):
        if said(parts, laptop.said, "messages.limited_done", "sq"):
            break
        waiting = await waiting_key(parts, laptop)
        assert not (waiting or "").startswith("interpreter"), waiting
        await laptop.say(QUICK.get(waiting or "", "skip"))
    assert not any(k.startswith("interpreter") for k in await answers_of(parts, review.id))
    # The child's own device is still in English.
    reply = await phone.say("skip")
    assert not said(parts, reply, "messages.language_changed", "sq")
    assert said(parts, reply, "messages.other_device_linked"), reply
