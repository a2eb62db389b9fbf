"""What a young person types is understood, whatever the way they type it; what they do not
know is explained where they are; the rules come first in their own language. Transcripts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from tests.chat import suggested_answers
from tests.conftest import LONDON
from tests.consult import answer_until, answers_of, said, text, to_question, waiting_key


async def test_typed_multi_choice_keeps_every_part_and_says_what_it_understood(linked_chat, parts):
    review, chat = await linked_chat("webchat", age=11)
    await to_question(chat, "when", parts, review.id)

    said = await chat.say("after school and weekends")

    got = text(parts, "messages.got_it", answer="After school, At the weekend")
    assert got in said
    assert (await answers_of(parts, review.id))["when"] == (
        "choices",
        ["after_school", "weekend"],
    )


async def test_words_that_name_no_option_are_kept_as_something_else(linked_chat, parts):
    review, chat = await linked_chat("webchat", age=11)
    await to_question(chat, "topics", parts, review.id)

    said = await chat.say("family and hobbys and my dog")  # "hobbys": a slip of a letter

    stored = await answers_of(parts, review.id)
    assert stored["topics"] == ("choices", ["family_time", "hobbies", "something_else"])
    assert stored["topics.other"] == ("text", "my dog")
    assert "“my dog”" in said
    assert await waiting_key(parts, chat) == "topic_say.family_time"
    # Every topic they named is asked about, the one in their own words too.
    await answer_until(chat, parts, "topic_say.something_else")


async def test_yep_nah_and_one_letter_slips_are_understood(linked_chat, parts):
    review, chat = await linked_chat("webchat", age=11)
    await to_question(chat, "talk_to_iro", parts, review.id)
    await chat.say("yep")
    await chat.say("scool")  # where: at school
    await answer_until(chat, parts, "advocate")
    await chat.say("nah")

    stored = await answers_of(parts, review.id)
    assert stored["talk_to_iro"] == ("yesno", True)
    assert stored["where"] == ("choice", "school")
    assert stored["advocate"] == ("yesno", False)


async def test_whats_an_iro_is_answered_at_any_step_and_the_question_stays(linked_chat, parts):
    review, chat = await linked_chat("msteams", age=11)
    await chat.say("English")

    said = await chat.say("what's an IRO?")  # at the name question

    assert text(parts, "glossary.iro.answer") in said
    assert text(parts, "questions.name.prompt", band="8-12") in said  # asked again
    assert "name" not in await answers_of(parts, review.id)
    await chat.say("Sammy")
    said = await chat.say("what is a review")  # at a question with buttons
    assert text(parts, "glossary.review.answer") in said
    assert await waiting_key(parts, chat) == "take_part"
    # A sentence that only mentions the word is an answer, not a question.
    await answer_until(chat, parts, "who_there")
    await chat.say("my advocate and my nan")
    assert (await answers_of(parts, review.id))["who_there"] == ("text", "my advocate and my nan")
    await chat.say("the man who is my iro last time")  # who not there: an answer too
    stored = await answers_of(parts, review.id)
    assert stored["who_not_there"] == ("text", "the man who is my iro last time")


async def test_the_glossary_speaks_the_childs_language(linked_chat, parts):
    review, chat = await linked_chat("msteams", age=11, language_hint="ar")

    said = await chat.say("شو يعني مناصر؟")  # "what does advocate mean?"

    assert text(parts, "glossary.advocate.answer", "ar") in said
    assert text(parts, "questions.name.prompt", "ar", band="8-12") in said


async def test_an_arabic_review_gives_the_safety_rule_in_arabic_before_any_question(
    new_chat, new_review, parts
):
    review, code = await new_review(age=11, language_hint="ar")
    chat = new_chat("msteams")
    await chat.start()

    said = await chat.say(code)

    rule = text(parts, "messages.welcome_rules", "ar")
    computer = text(parts, "messages.welcome", "ar")
    assert rule in said and computer in said
    assert said.index(rule) < said.index(text(parts, "questions.name.prompt", "ar", band="8-12"))
    # Known from the review: not asked, and stored as the chat's language.
    assert text(parts, "questions.language.prompt") not in said
    assert (await answers_of(parts, review.id))["language"] == ("choice", "ar")


async def test_the_device_language_is_used_and_not_asked(new_chat, new_review, parts):
    review, code = await new_review(age=11)
    chat = new_chat("msteams")
    await chat.start()

    said = await chat.say(code, locale="en-GB")

    assert text(parts, "questions.language.prompt") not in said
    assert await waiting_key(parts, chat) == "name"
    day = review.review_at.astimezone(LONDON)
    assert f"{day:%A} {day.day} {day:%B}" in said  # the welcome says when the review is


async def test_a_pause_the_day_before_the_review_never_names_today_or_a_past_day(
    new_chat, new_review, parts
):
    today = datetime.now(LONDON).date()
    tomorrow = datetime.combine(today + timedelta(days=1), time(10), LONDON)
    review, code = await new_review(review_at=tomorrow.astimezone(UTC))
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code)
    await chat.say("English")

    said = await chat.say("pause")

    assert text(parts, "messages.paused").split("{")[0] in said or "saved" in said
    for day in (today, today - timedelta(days=1)):
        assert f"{day:%A} {day.day} {day:%B}" not in said, said
    assert f"{tomorrow:%A} {tomorrow.day} {tomorrow:%B}" in said


async def test_the_name_on_the_review_is_one_tap_on_teams_and_web_chat(new_chat, new_review, parts):
    review, code = await new_review(first_name="Samuel", preferred_name="Sam")
    teams = new_chat("msteams")
    await teams.start()
    await teams.say(code, locale="en-GB")
    card = teams.last_question()["attachments"][0]["content"]
    (offered,) = suggested_answers(card).items()
    assert offered[0] == "Sam"
    question = teams.last_question()["id"]
    # A made-up one-tap answer is not taken: only what was offered is (typing is checked).
    forged = dict(offered[1], say="x" * 5000)
    await teams.post(teams.activity(value=forged, reply_to_id=question))
    assert "name" not in await answers_of(parts, review.id)
    await teams.post(teams.activity(value=offered[1], reply_to_id=question))
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sam")

    other, code = await new_review(first_name="Jayden")
    web = new_chat("webchat")
    await web.start()
    await web.say(code, locale="en-GB")
    assert "Jayden" in web.buttons()
    await web.tap("Jayden")
    assert (await answers_of(parts, other.id))["name"] == ("text", "Jayden")


async def test_after_a_worry_the_help_stays_on_screen_until_the_child_is_ready(
    new_chat, new_review, parts
):
    review, code = await new_review()
    chat = new_chat("webchat")
    await chat.start()
    await chat.say(code, locale="en-GB")
    await answer_until(chat, parts, "who_there")

    said = await chat.say("my nan but not my uncle he hurts me")

    assert text(parts, "messages.safeguarding_help") in said
    # Nothing after the help: its last message, with its two buttons, is the last thing.
    assert chat.replies[-1]["text"].startswith(text(parts, "messages.carry_on"))
    assert text(parts, "questions.who_not_there.prompt") not in said
    said = await chat.say("ok")
    assert text(parts, "questions.who_not_there.prompt") in said
    assert "who_not_there" not in await answers_of(parts, review.id)  # "ok" was not an answer


async def test_ok_with_nothing_ticked_says_so_and_sends_no_second_card(new_chat, new_review, parts):
    review, code = await new_review()
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code, locale="en-GB")
    await answer_until(chat, parts, "when")
    card = chat.last_question()
    submit = next(a for a in card["attachments"][0]["content"]["actions"] if "ctl" not in a["data"])

    await chat.post(chat.activity(value=dict(submit["data"]), reply_to_id=card["id"]))

    assert chat.said == text(parts, "messages.none_ticked")
    assert not any(a.get("attachments") for a in chat.replies)  # the same card stays
    await chat.pick("After school", card=card)
    assert (await answers_of(parts, review.id))["when"] == ("choices", ["after_school"])


async def test_talk_to_someone_says_how_to_reach_their_iro_and_local_advocacy(
    new_chat, new_review, parts
):
    parts.services.advocacy_contact = "Coram Voice: 0808 800 5792"
    review, code = await new_review(iro_email="pat.lee@council.example")
    chat = new_chat("webchat")
    await chat.start()
    await chat.say(code, locale="en-GB")

    said = await chat.say("talk to someone")

    assert "pat.lee@council.example" in said
    assert text(parts, "messages.talk_to_advocacy", advocacy="Coram Voice: 0808 800 5792") in said


async def test_an_interpreter_request_says_language_dialect_and_who(linked_chat, parts):
    review, chat = await linked_chat("msteams", age=15, is_uasc=True, language_hint="ar")
    await answer_until(chat, parts, "interpreter")
    option = "questions.{}.options.{}.label".format
    await chat.pick(
        text(parts, option("interpreter", "yes_chat_language"), "ar", language="العربية")
    )
    await chat.pick(
        text(parts, option("interpreter_prefs", "woman"), "ar"),
        text(parts, option("interpreter_prefs", "dialect"), "ar"),
    )
    assert await waiting_key(parts, chat) == "interpreter_dialect"
    await chat.say("سوداني")

    stored = await answers_of(parts, review.id)
    assert stored["interpreter"] == ("choice", "yes_chat_language")
    assert stored["interpreter_prefs"] == ("choices", ["woman", "dialect"])
    assert stored["interpreter_dialect"] == ("text", "سوداني")


async def test_a_worry_at_a_choice_question_keeps_the_help_last_then_asks_again(linked_chat, parts):
    review, chat = await linked_chat("webchat")
    await chat.say("English")
    await answer_until(chat, parts, "who_helped")

    said = await chat.say("my stepdad hits me when mum is at work")

    assert text(parts, "messages.safeguarding_help") in said
    assert chat.replies[-1]["text"].startswith(text(parts, "messages.carry_on"))
    said = await chat.say("ok")
    assert text(parts, "questions.who_helped.prompt") in said
    assert "who_helped" not in await answers_of(parts, review.id)


async def test_help_lists_keep_their_lines_on_teams(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await chat.say("talk to someone")
    [help_text] = [a["text"] for a in chat.replies if "0800 1111" in (a.get("text") or "")]
    # Teams drops a single line break (it reads text as Markdown): each item a paragraph.
    lines = [line for line in help_text.split("\n\n") if line]
    assert len(lines) >= 5 and all("\n" not in line for line in lines)
    assert any("Childline" in line for line in lines) and any("999" in line for line in lines)


async def test_an_interpreter_language_is_picked_from_a_list_or_typed(linked_chat, parts):
    review, chat = await linked_chat("msteams", age=16, is_uasc=True)
    await to_question(chat, "interpreter", parts, review.id)
    option = "questions.{}.options.{}.label".format
    await chat.pick(text(parts, option("interpreter", "yes_other")))
    assert await waiting_key(parts, chat) == "interpreter_language"
    await chat.pick(text(parts, option("interpreter_language", "pashto")))
    assert (await answers_of(parts, review.id))["interpreter_language"] == ("choice", "pashto")

    other, chat2 = await linked_chat("webchat", age=16, is_uasc=True)
    await to_question(chat2, "interpreter", parts, other.id)
    await chat2.say("another language")
    await chat2.say("another language")  # not in the list
    assert await waiting_key(parts, chat2) == "interpreter_language_other"
    await chat2.say("Lingala")
    stored = await answers_of(parts, other.id)
    assert stored["interpreter_language"] == ("choice", "another_language")
    assert stored["interpreter_language_other"] == ("text", "Lingala")


# --- coming back (issue 16) --------------------------------------------------------------------


async def test_hello_after_closing_the_chat_is_never_an_answer(linked_chat, parts):
    """She closed the chat without "stop", then came back with the hello the bot itself asks
    for: it was stored as the answer to the question waiting."""
    review, chat = await linked_chat("msteams", language_hint="sq")
    await chat.say("Ana")  # the name; the pronouns question waits
    await to_question(chat, "who_there", parts, review.id)

    reply = await chat.say("pershendetje")

    assert "who_there" not in await answers_of(parts, review.id)
    assert said(parts, reply, "messages.welcome_back", "sq"), reply
    assert said(parts, reply, "questions.who_there.prompt", "sq", band="13+")


async def test_welcome_back_is_said_once_when_the_chat_is_reopened_and_they_say_hi(
    linked_chat, parts
):
    review, chat = await linked_chat("msteams")
    await to_question(chat, "who_there", parts, review.id)
    reopened = chat.activity(type="conversationUpdate")
    reopened["membersAdded"] = [{"id": chat.user_id}]
    await chat.post(reopened)
    first = chat.said

    reply = await chat.say("hi")

    assert said(parts, first, "messages.welcome_back")
    assert not said(parts, reply, "messages.welcome_back"), reply
    assert said(parts, reply, "questions.who_there.prompt", band="13+")
    assert "who_there" not in await answers_of(parts, review.id)


async def test_back_shows_what_was_stored(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await to_question(chat, "who_there", parts, review.id)
    await chat.say("my nan and my carer")

    reply = await chat.say("back")

    assert said(parts, reply, "questions.who_there.prompt", band="13+")
    assert text(parts, "controls.answered.label", answer="my nan and my carer") in reply


async def test_hi_at_the_code_question_is_not_a_wrong_code(new_chat, new_review, parts):
    review, code = await new_review()
    chat = new_chat("msteams")
    await chat.start()

    reply = await chat.say("hi")

    assert not said(parts, reply, "messages.code_wrong")
    assert not said(parts, reply, "messages.welcome_back")
    assert said(parts, await chat.say(code), "messages.linked")
