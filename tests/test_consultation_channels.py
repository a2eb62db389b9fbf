"""The same consultation on Web Chat (suggested actions) and on a plain channel (numbers)."""

from tests.consult import answers_of, content_of, said, text


async def test_webchat_uses_suggested_actions_and_a_card_for_multi_choice(
    new_chat, new_review, parts
):
    review, code = await new_review(age=14)  # 13+: they are asked their pronouns
    chat = new_chat("webchat")
    await chat.start()
    await chat.say(code)
    question = chat.last_question()
    languages = [loc.meta.name for loc in content_of(parts).locales.values()]
    titles = [a["title"] for a in question["suggestedActions"]["actions"]]
    assert titles[: len(languages)] == languages
    await chat.tap("English")  # imBack: the label comes back as text, and is recognised
    await chat.tap("Skip")  # name
    # Five options would not fit a row of buttons: listed and numbered, the buttons numbers.
    pronouns = chat.last_question()
    assert "1. she / her" in pronouns["text"] and "5. " in pronouns["text"]
    assert [a["title"] for a in pronouns["suggestedActions"]["actions"]][:5] == list("12345")
    await chat.tap("1")
    await chat.say("Come and speak for myself")  # a label typed works as well as its number
    await chat.tap("No")  # two short options: buttons with their labels
    await chat.tap("2")  # where: at school or college
    when = chat.last_question()
    assert when["attachments"][0]["content"]["body"][1]["isMultiSelect"] is True
    await chat.pick("Not in lessons", "In the school holidays")
    stored = await answers_of(parts, review.id)
    assert stored["pronouns"] == ("choice", "she_her")
    assert stored["take_part"] == ("choice", "speak_myself")
    assert stored["talk_to_iro"] == ("yesno", False)
    assert stored["where"] == ("choice", "school")
    assert stored["when"] == ("choices", ["not_in_lessons", "school_holidays"])


async def test_plain_channel_shows_numbered_options_and_accepts_typing(new_chat, new_review, parts):
    review, code = await new_review(age=14)
    chat = new_chat("sms")
    await chat.start()
    await chat.say(code)
    languages = [loc.meta.name for loc in content_of(parts).locales.values()]
    assert all(f"{n}. {name}" in chat.said for n, name in enumerate(languages, 1))
    await chat.say("٢")  # Arabic-Indic two
    await chat.say("skip")
    await chat.say("THEY")  # a synonym, in capitals
    await chat.say("speak for myself")  # a synonym inside the answer
    await chat.say("yeah")
    await chat.say("a mix of these")
    assert said(parts, chat.said, "questions.where_other.prompt")  # asked only after "a mix"
    await chat.say("home and school")
    await chat.say("1 3")
    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "en")
    assert stored["pronouns"] == ("choice", "they_them")
    assert stored["take_part"] == ("choice", "speak_myself")
    assert stored["talk_to_iro"] == ("yesno", True)
    assert stored["where"] == ("choice", "mix")
    assert stored["where_other"] == ("text", "home and school")
    assert stored["when"] == ("choices", ["not_in_lessons", "school_holidays"])


async def test_anything_else_re_asks_kindly_with_the_options(linked_chat, parts):
    review, chat = await linked_chat("sms", age=14)
    await chat.say("2")
    await chat.say("Sammy")
    transcript = await chat.say("purple")
    assert said(parts, transcript, "messages.not_understood")
    assert f"1. {text(parts, 'questions.pronouns.options.she_her.label')}" in transcript
    transcript = await chat.say("9")
    assert said(parts, transcript, "messages.not_understood")
    await chat.say("3")
    await chat.say("3")  # take part: with an advocate
    transcript = await chat.say("purple")
    assert said(parts, transcript, "messages.not_understood_yesno")
    stored = await answers_of(parts, review.id)
    assert stored["pronouns"] == ("choice", "they_them")
    assert "talk_to_iro" not in stored
