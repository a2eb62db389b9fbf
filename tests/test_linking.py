"""Invite codes: kind replies to wrong ones, a pause after five, and linking a second device."""

from datetime import UTC, datetime, timedelta

from tests.consult import answers_of, said, text


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
    assert text(parts, "messages.linked", name="Sam") in transcript


async def test_pause_is_per_conversation(new_chat, new_review, parts):
    review, code = await new_review()
    bad = new_chat("sms")
    await bad.start()
    for _ in range(5):
        await bad.say("AAAA-AAAA")
    other = new_chat("sms", user_id="someone-else")
    await other.start()
    assert text(parts, "messages.linked", name="Sam") in await other.say(code)


async def test_expired_code_is_refused_kindly(new_chat, new_review, parts):
    past = datetime.now(UTC) - timedelta(days=3)
    review, code = await new_review(review_at=past)
    chat = new_chat("sms")
    await chat.start()
    assert said(parts, await chat.say(code), "messages.code_expired")


async def test_second_device_links_with_the_same_code_and_carries_on(new_chat, new_review, parts):
    review, code = await new_review()
    phone = new_chat("msteams")
    await phone.start()
    await phone.say(code)
    await phone.pick("English")
    await phone.say("Sammy")
    laptop = new_chat("webchat", user_id="child-laptop")
    await laptop.start()
    transcript = await laptop.say(code)
    assert said(parts, transcript, "messages.linked_again")
    assert said(parts, transcript, "questions.pronouns.prompt")
    await laptop.tap("they / them")
    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("text", "Sammy") and stored["pronouns"] == ("choice", "they_them")
    links = await parts.repos.links.for_review(review_id=review.id)
    assert {(link.channel_id, link.user_id) for link in links} == {
        ("msteams", "child-1"),
        ("webchat", "child-laptop"),
    }


async def test_code_is_stored_only_as_a_hash(new_review, parts, settings):
    review, code = await new_review()
    raw = code.replace("-", "")
    data = b"".join(p.read_bytes() for p in settings.var_dir.parent.glob("myreview.db*"))
    assert raw.encode() not in data and code.encode() not in data
    assert len(code) == 9 and code[4] == "-"
    assert not set(raw) & set("01OIL")
