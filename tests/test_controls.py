"""Controls that work at every step, typed or tapped, and bad input that loses nothing."""

import threading

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from dialogs.ask import HELP_MENU
from tests.chat import Chat
from tests.consult import answer_until, answers_of, fragment, said, text


async def test_help_explains_the_question_and_offers_the_other_controls(linked_chat, parts):
    review, chat = await linked_chat()
    await chat.pick("English")
    await chat.say("Sammy")
    transcript = await chat.tap("Help")
    assert said(parts, transcript, "questions.pronouns.help")
    assert said(parts, transcript, "messages.help")
    menu = {c: text(parts, f"controls.{c}.label") for c in HELP_MENU}
    assert set(menu.values()) <= set(chat.buttons())
    transcript = await chat.tap(menu["repeat"])
    assert said(parts, transcript, "questions.pronouns.prompt")
    transcript = await chat.say("help")  # typed works too
    assert said(parts, transcript, "messages.help")


async def test_back_goes_to_the_previous_question_and_keeps_the_answer_until_changed(
    linked_chat, parts
):
    review, chat = await linked_chat("sms")
    await chat.say("2")
    await chat.say("Sammy")
    transcript = await chat.say("back")
    assert said(parts, transcript, "questions.name.prompt", band="13+")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")
    await chat.say("Sam")
    assert said(parts, chat.said, "questions.pronouns.prompt")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sam")
    await chat.say("back")
    await chat.say("back")
    transcript = await chat.say("back")
    assert said(parts, transcript, "messages.back_at_start")


async def test_skip_works_except_on_essential_questions(linked_chat, parts):
    review, chat = await linked_chat("sms")
    transcript = await chat.say("skip")  # language is essential
    assert said(parts, transcript, "messages.cannot_skip")
    await chat.say("English")
    await chat.say("skip")
    await chat.say("pass")
    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("skipped", None) and stored["pronouns"] == ("skipped", None)


async def test_talk_to_someone_signposts_and_carries_on(linked_chat, parts):
    review, chat = await linked_chat(iro_name="Jo Smith")
    await chat.pick("English")
    transcript = await chat.say("talk to someone")
    assert (
        text(parts, "messages.talk_to_someone", iro="Jo Smith", iro_email=review.iro_email)
        in transcript
    )
    assert said(parts, transcript, "questions.name.prompt", band="13+")


async def test_change_language_mid_way_switches_every_string(linked_chat, parts):
    review, chat = await linked_chat()
    await chat.pick("English")
    await chat.say("Sammy")
    await chat.tap("Help")
    await chat.tap("Language")
    transcript = await chat.pick("العربية")
    assert said(parts, transcript, "messages.language_changed", "ar")
    assert said(parts, transcript, "questions.pronouns.prompt", "ar")
    card = chat.last_question()["attachments"][0]["content"]
    assert card["rtl"] is True
    await chat.say("١")  # Arabic-Indic digit one
    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "ar")
    assert stored["pronouns"] == ("choice", "she_her")


async def test_pause_and_come_back_after_the_server_restarts(
    linked_chat, parts, settings, connector
):
    review, chat = await linked_chat()
    await chat.pick("English")
    await chat.say("Sammy")
    await chat.tap("Help")
    transcript = await chat.tap("Pause")
    assert said(parts, transcript, "messages.paused")

    conn, url = connector
    async with TestClient(TestServer(create_app(settings))) as fresh:
        back = Chat(fresh, conn, url, channel_id="msteams", conversation_id=chat.conversation_id)
        transcript = await back.say("hi")
        assert said(parts, transcript, "messages.welcome_back")
        assert said(parts, transcript, "questions.pronouns.prompt")
        assert not said(parts, transcript, "messages.not_understood")
        await back.pick("he / him")
    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("text", "Sammy") and stored["pronouns"] == ("choice", "he_him")


async def test_start_again_asks_first_and_then_clears_answers(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    await chat.say("Sammy")
    transcript = await chat.say("start again")
    assert said(parts, transcript, "questions.restart_confirm.prompt")
    transcript = await chat.say("no")
    assert said(parts, transcript, "messages.restart_cancelled")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")
    await chat.say("start again")
    transcript = await chat.say("yes")
    assert said(parts, transcript, "messages.restarted")
    assert said(parts, transcript, "questions.language.prompt")
    assert await answers_of(parts, review.id) == {}


async def test_too_long_text_asks_kindly_to_shorten_and_keeps_what_was_saved(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    await chat.say("Sammy")
    await chat.say("back")
    transcript = await chat.say("x" * 81)  # the name question allows 80
    assert said(parts, transcript, "messages.too_long")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")
    await chat.say("Sammy")  # name again, shorter
    await answer_until(chat, parts, "topics")
    await chat.say("1")  # topics: where I live
    transcript = await chat.say("a" * 1001)
    assert said(parts, transcript, "messages.too_long")
    assert "topic_say.where_i_live" not in await answers_of(parts, review.id)
    await chat.say("a" * 1000)
    assert (await answers_of(parts, review.id))["topic_say.where_i_live"][1] == "a" * 1000


async def test_a_wall_of_text_is_answered_kindly_and_never_read_whole_on_the_event_loop(
    linked_chat, parts, monkeypatch
):
    """A wall of U+FDFA (each one 18 letters once normalised) was normalised three times on the
    event loop, as a control word, a greeting and a name tapped: 2 s for 250 KB, in which no
    other child's turn could run (`make bench`). Only the screen reads it whole, off the loop."""
    from bot.delivery import summary
    from dialogs import answer_form, ask, consultation, recognize, safeguarding_model, screen

    on_the_loop: list[int] = []
    real = recognize.normalize

    def noting(text: str) -> str:
        if threading.current_thread() is threading.main_thread():
            on_the_loop.append(len(text))
        return real(text)

    for module in (recognize, ask, consultation, screen, answer_form, safeguarding_model, summary):
        monkeypatch.setattr(module, "normalize", noting)
    review, chat = await linked_chat()
    await chat.pick("English")  # then their name
    # 40,000 of them: 240 KB as the JSON escapes them, under the 256 KB a request may carry.
    transcript = await chat.say("\ufdfa" * 40_000)
    assert chat.last_status < 300 and said(parts, transcript, "messages.too_long")
    assert "name" not in await answers_of(parts, review.id)
    # No longer than the screen itself reads on the loop.
    assert on_the_loop and max(on_the_loop) <= screen.OFF_LOOP_CHARS, max(on_the_loop)


async def test_picture_and_voice_note_are_thanked_and_recorded(linked_chat, parts):
    review, chat = await linked_chat()
    await chat.pick("English")
    picture = [{"contentType": "image/png", "contentUrl": "https://example.invalid/p.png"}]
    transcript = await chat.post(chat.activity(attachments=picture)) and chat.said
    assert said(parts, transcript, "messages.media_picture")
    voice = [{"contentType": "audio/ogg", "contentUrl": "https://example.invalid/v.ogg"}]
    await chat.post(chat.activity(attachments=voice))  # pronouns: a choice question
    assert said(parts, chat.said, "messages.media_voice")
    assert said(parts, chat.said, "questions.pronouns.prompt")
    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("media", "picture")
    assert stored["media.pronouns"] == ("media", "voice")


async def test_teams_html_attachment_is_not_mistaken_for_a_file(linked_chat, parts):
    review, chat = await linked_chat()
    await chat.pick("English")
    html = [{"contentType": "text/html", "content": "<p>Sammy</p>"}]
    await chat.post(chat.activity(text="Sammy", attachments=html))
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")


async def test_an_empty_message_gets_a_kind_nudge(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    await chat.post(chat.activity())
    assert fragment(parts, "messages.empty_text") in chat.said


async def test_saying_hi_after_a_pause_is_a_greeting_not_an_answer(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")  # now on the name question, which takes free text
    await chat.say("pause")
    transcript = await chat.say("hi")
    assert said(parts, transcript, "messages.welcome_back")
    assert said(parts, transcript, "questions.name.prompt", band="13+")
    assert "name" not in await answers_of(parts, review.id)
    await chat.say("Sammy")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")


async def test_first_question_has_no_back_button(linked_chat, parts):
    review, chat = await linked_chat()
    back = text(parts, "controls.back.label")
    assert back not in chat.buttons()
    await chat.pick("English")
    assert back in chat.buttons()


async def test_a_card_answered_by_typing_is_replaced_too(linked_chat, parts, connector):
    conn, _ = connector
    review, chat = await linked_chat()
    await chat.pick("English")
    name_card = chat.last_question()
    await chat.say("Sammy")
    assert conn.updates[-1]["id"] == name_card["id"]
    answered = text(parts, "controls.answered.label", answer="Sammy")
    assert answered in str(conn.updates[-1]["attachments"][0]["content"])


async def test_arabic_plain_text_is_marked_right_to_left(linked_chat, parts):
    review, chat = await linked_chat("webchat", language_hint="ar")  # Arabic from the start
    texts = [a["text"] for a in chat.replies if a.get("text")]
    assert texts and all(line.startswith("\u2067") for t in texts for line in t.split("\n") if line)


async def test_a_question_that_wants_typing_says_so(linked_chat, parts):
    review, chat = await linked_chat()
    assert not said(parts, chat.said, "messages.type_hint")  # a choice: tap or type a number
    await chat.pick("English")
    assert said(parts, chat.said, "messages.type_hint")  # the name: typed


async def test_carry_on_under_the_help_asks_again_and_is_not_an_answer(new_chat, new_review, parts):
    # Web Chat sends a button's label as text: "Carry on" at a question that wants typing was
    # once stored as the answer (the crash test's children found it).
    from tests.consult import answer_until, answers_of, text, waiting_key

    review, code = await new_review(age=8)
    chat = new_chat("webchat")
    await chat.start()
    await chat.say(code, locale="en-GB")
    await answer_until(chat, parts, "who_there")
    await chat.say("help")

    said = await chat.tap(text(parts, "controls.repeat.label", band="easy"))

    assert text(parts, "questions.who_there.prompt") in said
    assert "who_there" not in await answers_of(parts, review.id)
    assert await waiting_key(parts, chat) == "who_there"
