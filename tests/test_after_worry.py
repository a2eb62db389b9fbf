"""After a worry (issue 14): a response that answers the child, and nothing they say lost.

Three tiers, each from what the screen hears: clear (help at once, an urgent alert), unsure (a
gentle check, and a note to the IRO whatever they answer), and a further worry in the same chat
(a short acknowledgement, not the whole block again). What the child says right after the help
is kept with the alert, stored as the answer where it answers the question that was waiting,
and a word about the worry ("don't tell", "he's my brother") gets a reply that fits.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from bot.jobs import release_held_alerts
from tests.conftest import make_settings
from tests.consult import (
    answers_of,
    content_of,
    said,
    text,
    to_question,
    wait_for_eml,
    waiting_key,
)

WORRY = "my stepdad hits me when mum is out"

# Mildly worrying messages; the first the screen is unsure of (neither clear nor nothing) is
# the one the unsure-tier tests send. If none is, the unsure tier has gone: they fail.
MAYBE = [
    "i dont really like being at home much",
    "home is hard at the moment",
    "i get scared at night sometimes",
    "i dont feel great most days",
    "things at home are a bit much",
    "i dont want to go back there",
    "sometimes i just want to disappear",
    "nobody listens to me at home",
    "i feel on my own a lot",
    "my carer shouts a lot and i hide in my room",
    "i dont like it when he gets angry",
    "im tired of everything",
    "i hate how things are",
    "i stay out late so i dont have to go home",
    "my mum's boyfriend is weird with me",
    "things at home are hard",
    "i dont feel good at home",
]


@pytest.fixture
def settings(tmp_path, request):
    """The suite's settings, with this test's overrides (indirect parametrisation)."""
    return make_settings(tmp_path, **getattr(request, "param", {}))


@pytest.fixture
def unsure_words(parts) -> str:
    screen = parts.services.matcher(content_of(parts))
    for candidate in MAYBE:
        if screen.assess(candidate).tier == "unsure":
            return candidate
    raise AssertionError("the screen is unsure of none of these: is the unsure tier gone?")


def body(path) -> str:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(mail["Subject"]) + "\n" + mail.get_body(("plain",)).get_content()


def lines_of(transcript: str) -> list[str]:
    return [line for line in transcript.splitlines() if line.strip()]


# --- clear: the help --------------------------------------------------------------------------


async def test_the_help_says_they_are_not_in_trouble_and_who_will_be_in_touch(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await chat.say("English")

    reply = await chat.say(WORRY)

    for key in (
        "messages.safeguarding_thanks",
        "messages.safeguarding_help",
        "messages.safeguarding_tell_iro",
        "messages.safeguarding_when_one_day",
        "messages.carry_on",
    ):
        assert said(parts, reply, key), (key, reply)
    assert "not in trouble" in reply
    # Two buttons under it: carry on, or talk to someone now.
    assert {"Carry on", "Talk to someone"} <= set(chat.buttons())
    [alert] = await parts.repos.outbox.list(kind="alert")
    assert alert.urgent

    talk = await chat.tap("Talk to someone")
    assert said(parts, talk, "messages.talk_to_someone")
    # Still the help's buttons, not the next question.
    assert {"Carry on", "Talk to someone"} <= set(chat.buttons())
    assert not said(parts, talk, "questions.name.prompt", band="13+")

    carry_on = await chat.tap("Carry on")
    assert said(parts, carry_on, "questions.name.prompt", band="13+")


async def test_the_help_is_easy_read_on_the_easy_path(linked_chat, parts):
    review, chat = await linked_chat("msteams", age=8)
    await chat.say("English")

    reply = await chat.say(WORRY)

    assert said(parts, reply, "messages.safeguarding_help", band="easy")
    assert said(parts, reply, "messages.safeguarding_when_one_day", band="easy")
    help_lines = [
        line for line in lines_of(reply) if not line.startswith(("Carry on", "Talk to someone"))
    ]
    for line in help_lines:
        assert len(re.findall(r"[^\W\d_]+", line)) <= 10, line


@pytest.mark.parametrize("settings", [{"alert_contact_within": "today"}], indirect=True)
async def test_when_someone_will_be_in_touch_follows_the_council_setting(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await chat.say("English")

    reply = await chat.say(WORRY)

    assert said(parts, reply, "messages.safeguarding_when_today")
    assert not said(parts, reply, "messages.safeguarding_when_one_day")


async def test_a_further_worry_soon_after_gets_a_short_acknowledgement(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await chat.say("English")
    await chat.say(WORRY)

    reply = await chat.say("and he locked me in my room all weekend with no food")

    assert said(parts, reply, "messages.safeguarding_added_iro"), reply
    assert not said(parts, reply, "messages.safeguarding_help")
    assert {"Carry on", "Talk to someone"} <= set(chat.buttons())
    alerts = await parts.repos.alerts.for_review(review_id=review.id)
    assert [a.tier for a in alerts] == ["clear", "clear"]


# --- after the help ---------------------------------------------------------------------------


async def test_dont_tell_after_a_worry_is_answered_and_kept_with_the_alert(
    linked_chat, parts, settings
):
    review, chat = await linked_chat("msteams")
    await to_question(chat, "who_not_there", parts, review.id)
    await chat.say("my uncle because he touches me when im on my own")

    reply = await chat.say("please dont tell them he'll find out")

    assert said(parts, reply, "messages.after_worry_secret"), reply
    # Reassurance, not the next question: that comes when they are ready.
    assert not said(parts, reply, "questions.topics.prompt", band="13+")
    alerts = await parts.repos.alerts.for_review(review_id=review.id)
    assert any("he'll find out" in a.message for a in alerts)

    # The duty team is told it: in the alert's follow-up, or at once if the screen heard a new
    # kind of worry in it.
    later = parts.services.clock() + timedelta(minutes=11)
    parts.services.clock = lambda: later
    await release_held_alerts(parts)
    mails = [body(p) for p in await wait_for_eml(settings.outbox_dir, count=2)]
    assert any("he'll find out" in m and "duty" in m for m in mails), mails

    ready = await chat.say("ok")
    assert said(parts, ready, "questions.topics.prompt", band="13+")
    assert await waiting_key(parts, chat) == "topics"


async def test_hes_my_brother_after_a_worry_gets_a_reply_that_fits(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await to_question(chat, "take_part", parts, review.id)
    await chat.say("my brother hits me and pushes me down the stairs")

    reply = await chat.say("no hes just my brother its fine")

    assert said(parts, reply, "messages.after_worry_who") or said(
        parts, reply, "messages.after_worry_not_true"
    ), reply
    alerts = await parts.repos.alerts.for_review(review_id=review.id)
    assert any(a.tier == "after" and "just my brother" in a.message for a in alerts)
    assert "take_part" not in await answers_of(parts, review.id)


async def test_an_answer_after_the_help_is_stored_as_that_answer(linked_chat, parts):
    """The worry was typed at a choice question: that question was on screen, so what comes
    next may answer it."""
    review, chat = await linked_chat("webchat")
    await to_question(chat, "take_part", parts, review.id)
    await chat.say(WORRY)

    reply = await chat.say("1")

    assert (await answers_of(parts, review.id))["take_part"][0] == "choice"
    assert await waiting_key(parts, chat) != "take_part"
    assert not said(parts, reply, "messages.safeguarding_help")


async def test_words_after_the_help_at_a_question_not_yet_seen_are_kept(linked_chat, parts):
    """The worry was the answer (stored); the next question was not shown yet, so what they
    say now is about the worry: kept with the alert, then the question."""
    review, chat = await linked_chat("msteams")
    await to_question(chat, "who_not_there", parts, review.id)
    await chat.say("my uncle because he hits me")
    assert (await answers_of(parts, review.id))["who_not_there"][0] == "text"

    reply = await chat.say("its boring and teachers pick on me")

    alerts = await parts.repos.alerts.for_review(review_id=review.id)
    assert any(a.tier == "after" and "teachers pick on me" in a.message for a in alerts)
    assert said(parts, reply, "questions.topics.prompt", band="13+")


# --- unsure: the gentle check -----------------------------------------------------------------


async def test_an_unsure_message_gets_a_gentle_check_and_a_note(linked_chat, parts, unsure_words):
    review, chat = await linked_chat("msteams")
    await chat.say("English")

    reply = await chat.say(unsure_words)

    assert said(parts, reply, "questions.safety_check.prompt"), reply
    assert not said(parts, reply, "messages.safeguarding_help")
    assert set(chat.choices()) == {
        text(parts, "questions.safety_check.options.unsafe.label"),
        text(parts, "questions.safety_check.options.ok.label"),
    }
    assert await parts.repos.outbox.list(kind="alert") == []
    [note] = await parts.repos.outbox.list(kind="note")
    assert note.recipients == [review.iro_email] and not note.urgent
    [alert] = await parts.repos.alerts.for_review(review_id=review.id)
    assert alert.tier == "unsure" and alert.message == unsure_words


async def test_ok_at_the_check_brings_the_question_back(linked_chat, parts, unsure_words):
    review, chat = await linked_chat("msteams")
    await chat.say("English")
    await chat.say(unsure_words)

    reply = await chat.pick(text(parts, "questions.safety_check.options.ok.label"))

    assert said(parts, reply, "messages.safety_check_ok_iro")
    assert said(parts, reply, "questions.name.prompt", band="13+")
    # The note stays: the IRO checks whatever they answered.
    assert len(await parts.repos.outbox.list(kind="note")) == 1
    assert await parts.repos.outbox.list(kind="alert") == []


async def test_yes_at_the_check_is_an_urgent_alert_with_the_help(linked_chat, parts, unsure_words):
    review, chat = await linked_chat("webchat")
    await chat.say("English")
    await chat.say(unsure_words)

    reply = await chat.say("yes")

    assert said(parts, reply, "messages.safeguarding_help"), reply
    [alert] = await parts.repos.outbox.list(kind="alert")
    assert alert.urgent
    tiers = sorted(a.tier for a in await parts.repos.alerts.for_review(review_id=review.id))
    assert tiers == ["clear", "unsure"]


@pytest.mark.parametrize("channel", ["msteams", "webchat", "directline", "slack"])
@pytest.mark.parametrize("option", ["ok", "unsafe"])
async def test_each_button_of_the_check_is_heard_after_an_answer_on_every_channel(
    linked_chat, parts, unsure_words, channel, option
):
    """The worry was also the answer to a typing question (stored, the chat moved on), and
    the check came instead of the next question. Tapping its buttons (a one-tap button on Web
    Chat and Teams, a number elsewhere) is the answer to the check, never an "old card"."""
    review, chat = await linked_chat(channel)
    await to_question(chat, "who_there", parts, review.id)
    await chat.say(unsure_words)
    label = text(parts, f"questions.safety_check.options.{option}.label")

    if channel == "slack":  # a plain-text channel: the options are numbered
        number = {"unsafe": "1", "ok": "2"}[option]
        assert f"{number}. {label}" in chat.said, chat.said
        reply = await chat.say(number)
    elif label in chat.buttons():
        reply = await chat.tap(label)
    else:
        reply = await chat.pick(label)

    assert not said(parts, reply, "messages.stale_card"), reply
    if option == "ok":
        assert said(parts, reply, "messages.safety_check_ok_iro"), reply
        assert said(parts, reply, "questions.who_not_there.prompt", band="13+"), reply
        assert await parts.repos.outbox.list(kind="alert") == []
    else:
        assert said(parts, reply, "messages.safeguarding_help"), reply
        [alert] = await parts.repos.outbox.list(kind="alert")
        assert alert.urgent
    assert (await answers_of(parts, review.id))["who_there"][1] == unsure_words


@pytest.mark.parametrize("channel", ["msteams", "webchat", "slack"])
async def test_talk_to_someone_at_the_check_shows_who_and_asks_again(
    linked_chat, parts, unsure_words, channel
):
    review, chat = await linked_chat(channel)
    await chat.say("English")
    await chat.say(unsure_words)

    talk = text(parts, "controls.talk.label")
    reply = await (chat.say(talk) if channel == "slack" else chat.tap(talk))

    assert said(parts, reply, "messages.talk_to_someone"), reply
    assert said(parts, reply, "questions.safety_check.prompt"), reply
    # Still the check: its answer is heard next.
    ok = text(parts, "questions.safety_check.options.ok.label")
    if channel == "slack":
        reply = await chat.say("2")
    else:
        reply = await (chat.tap(ok) if ok in chat.buttons() else chat.pick(ok))
    assert said(parts, reply, "messages.safety_check_ok_iro"), reply


async def test_an_unsure_message_before_the_code_goes_to_the_duty_team(
    new_chat, parts, settings, unsure_words
):
    chat = new_chat("msteams")
    await chat.start()

    await chat.say(unsure_words)

    [note] = await parts.repos.outbox.list(kind="note")
    assert note.recipients == [settings.duty_email]


async def test_unsure_notes_before_the_code_share_the_duty_teams_hourly_limit(
    new_chat, parts, unsure_words
):
    parts.services.duty_alerts_per_hour = 2
    for n in range(5):
        chat = new_chat("msteams", user_id=f"unsure-{n}")
        await chat.start()
        await chat.say(unsure_words)

    assert len(await parts.repos.outbox.list(kind="note")) == 2
    assert len(await parts.repos.alerts.held_for_duty()) == 3  # in the next digest


async def test_an_unsure_note_before_the_code_reaches_the_iro_once_they_link(
    new_chat, new_review, parts, settings, unsure_words
):
    review, code = await new_review()
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(unsure_words)

    await chat.say(code)

    notes = await parts.repos.outbox.list(kind="note")
    assert [n.recipients for n in notes] == [[settings.duty_email], [review.iro_email]]
    assert await parts.repos.outbox.list(kind="alert") == []


# --- several messages ------------------------------------------------------------------------

# Told in pieces. The test sends the first of these in which the screen hears a message only
# together with the ones before it (read alone it is nothing), up to that message.
PIECES = [
    ["a man online", "asked for pics", "he says he will send them to everyone"],
    ["i want to run", "away from here", "tonight"],
    ["my step dad", "he drinks a lot", "then he hits"],
]


def told_in_pieces(screen) -> list[str]:
    from dialogs.screen import heard_together

    for pieces in PIECES:
        for i in range(1, len(pieces)):
            found, _ = heard_together(screen, pieces[:i], pieces[i])
            alone = [screen.assess(m).tier for m in pieces[: i + 1]]
            if found.tier is not None and alone == [None] * (i + 1):
                return pieces[: i + 1]
    raise AssertionError("no sequence is heard only together: write other pieces")


async def test_a_worry_told_in_pieces_is_heard(linked_chat, parts):
    pieces = told_in_pieces(parts.services.matcher(content_of(parts)))
    review, chat = await linked_chat("msteams")
    await to_question(chat, "anything_else", parts, review.id)

    replies = [await chat.say(m) for m in pieces]

    last = replies[-1]
    assert said(parts, last, "messages.safeguarding_help") or said(
        parts, last, "questions.safety_check.prompt"
    ), replies
    [alert] = await parts.repos.alerts.for_review(review_id=review.id)
    # The alert quotes the messages together, not only the last.
    assert pieces[-2] in alert.message and pieces[-1] in alert.message


# --- alerts the duty team can read -----------------------------------------------------------


async def test_an_alert_in_arabic_says_so_first(linked_chat, parts, settings):
    review, chat = await linked_chat("msteams", language_hint="ar")

    await chat.say("زوج أمي يضربني كل ليلة")

    [mail] = await wait_for_eml(settings.outbox_dir)
    got = body(mail)
    subject, first_body_line = got.splitlines()[0], got.splitlines()[1]
    assert "(written in Arabic)" in subject
    assert first_body_line.startswith("Written in Arabic. Not translated")
