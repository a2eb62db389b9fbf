"""The easy path (issue 7): for the youngest, and for any child whose review says easy read.
Short prompts, a picture on every choice, and a tap for every question that asks for typing,
so nothing has to be typed. Transcripts, then what the IRO reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.content import ContentError, load_content
from tests.chat import option_buttons
from tests.consult import answer_until, answers_of, content_of, text, waiting_key
from tests.test_content import copy, edit, line_of  # noqa: F401  (the fixture)


def _question_card(chat) -> dict:
    return chat.last_question()["attachments"][0]["content"]


async def test_a_review_marked_easy_read_asks_a_fifteen_year_old_the_easy_way(
    new_chat, new_review, parts
):
    review, code = await new_review(age=15, easy_read=True)
    chat = new_chat("msteams")
    await chat.start()
    said = await chat.say(code, locale="en-GB")

    assert text(parts, "questions.name.prompt", band="easy") in said
    await chat.say("Kai")
    card = _question_card(chat)
    assert card["body"][0]["text"] == text(parts, "questions.take_part.prompt", band="easy")
    titles = list(option_buttons(card))
    assert "🗣️ Come and speak for myself" in titles
    assert all(t.split(" ")[0] and not t[0].isalnum() for t in titles), titles  # a picture each
    assert not any("Help run the meeting" in t for t in titles)  # chair: not on the easy path
    await chat.pick("📨 Not come. Send my views")
    assert (await answers_of(parts, review.id))["take_part"] == ("choice", "not_come_send_views")


async def test_without_easy_read_a_fifteen_year_old_gets_the_full_wording(
    new_chat, new_review, parts
):
    review, code = await new_review(age=15)
    chat = new_chat("msteams")
    await chat.start()
    said = await chat.say(code, locale="en-GB")
    assert text(parts, "questions.name.prompt", band="13+") in said
    await chat.say("Kai")
    await answer_until(chat, parts, "take_part")  # pronouns first, at 13+
    titles = list(option_buttons(_question_card(chat)))
    assert "Come and speak for myself" in titles and "Help run the meeting" in titles


async def test_a_typing_question_takes_a_tap_or_the_childs_own_words(new_chat, new_review, parts):
    review, code = await new_review(age=8)
    chat = new_chat("webchat")
    await chat.start()
    await chat.say(code, locale="en-GB")
    await answer_until(chat, parts, "who_there")
    # Web Chat: the one-tap answers are buttons beside the typing.
    assert {"👥 The same people as last time", "🤔 Not sure"} <= set(chat.buttons())

    await chat.say("my nan and my carer")
    await chat.tap("👍 No one")  # who_not_there

    stored = await answers_of(parts, review.id)
    assert stored["who_there"] == ("text", "my nan and my carer")
    assert stored["who_not_there"] == ("choice", "no_one")
    assert await waiting_key(parts, chat) == "topics"


async def test_a_tapped_its_not_good_reaches_the_iro_as_something_to_ask_about(
    new_chat, new_review, parts
):
    review, code = await new_review(age=8, first_name="Lily")
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code, locale="en-GB")
    await answer_until(chat, parts, "topics")
    await chat.pick("🏫 School, college or work")
    said = await chat.pick("😟 It's not good")  # what about school?

    stored = await answers_of(parts, review.id)
    assert stored["topic_say.education"] == ("choice", "not_good")
    assert "It's not good" in said or await waiting_key(parts, chat) != "topic_say.education"
    await answer_until(chat, parts, "send_confirm")
    await chat.pick(text(parts, "questions.send_confirm.options.send.label"))

    [summary] = await parts.repos.outbox.list(review_id=review.id, kind="summary")
    assert "Ask them what is not good about: School, college or work." in summary.text_body
    assert "Asked on the easy path" in summary.text_body


async def test_the_welcome_says_where_the_review_is(new_chat, new_review, parts):
    review, code = await new_review(place="Oak House family hub")
    chat = new_chat("webchat")
    await chat.start()
    said = await chat.say(code, locale="en-GB")
    assert "at Oak House family hub" in said


def test_every_easy_prompt_is_ten_words_or_fewer_in_every_language(parts):
    content = content_of(parts)
    topics = content.question("topics")
    for locale in content.locales:
        for q in (*content.questions, *content.system_questions.values()):
            if q.id in ("which_answer", "share_one", "welcome_back_sent", "restart_confirm"):
                continue  # asked only after the check list or a control, with the answer in it
            if q.id == "invite_code":
                continue  # asked before anyone knows who the child is
            if q.when is not None and q.when.age_band and "easy" not in q.when.age_band:
                continue
            for option in topics.options if q.for_each_chosen else [None]:
                if option is not None and option.when and option.when.age_band:
                    continue  # a topic for older children only
                about = (
                    content.text(f"questions.topics.options.{option.id}.about", locale, "easy")
                    if option is not None
                    else ""
                )
                prompt = content.text(
                    f"questions.{q.id}.prompt", locale, "easy", topic=about, iro="Jo Smith"
                )
                words = [w for w in prompt.split() if any(c.isalnum() for c in w)]
                assert len(words) <= 10, (locale, q.id, prompt)


def test_wording_for_one_band_only_is_refused_naming_the_band(copy):  # noqa: F811
    path = copy / "locales" / "en.yaml"
    edit(path, 'prompt: "Where should your meeting be?"', 'prompt: {easy: "Where?"}')
    with pytest.raises(ContentError) as err:
        load_content(copy)
    msg = str(err.value)
    assert f"en.yaml, line {line_of(path, 'Where?')}" in msg
    assert "questions.where.prompt" in msg and "'8-12'" in msg and "'any:'" in msg


def test_a_band_falling_back_to_no_band_is_refused(copy: Path):  # noqa: F811
    edit(copy / "consultation.yaml", 'falls_back_to: "8-12"', 'falls_back_to: "eight"')
    with pytest.raises(ContentError, match="falls back to 'eight'"):
        load_content(copy)


async def test_a_made_up_one_tap_answer_to_a_typing_question_is_not_taken(
    new_chat, new_review, parts
):
    review, code = await new_review(age=8)
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code, locale="en-GB")
    await answer_until(chat, parts, "who_not_there")
    card = chat.last_question()
    offered = next(iter(option_buttons(card["attachments"][0]["content"]).values()))

    forged = dict(offered, choice="uncle_bob")
    await chat.post(chat.activity(value=forged, reply_to_id=card["id"]))

    assert "who_not_there" not in await answers_of(parts, review.id)
    assert text(parts, "messages.empty_text") in chat.said
    assert await waiting_key(parts, chat) == "who_not_there"
