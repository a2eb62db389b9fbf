"""A young person on Teams completes the consultation; the IRO's email arrives."""

from email import message_from_bytes, policy

from tests.consult import answers_of, linked_as, said, text, wait_for_eml


async def test_welcome_says_what_this_is_and_asks_for_the_code(new_chat, parts):
    chat = new_chat("msteams")
    transcript = await chat.start()
    for key in ("messages.welcome", "messages.welcome_what", "messages.welcome_rules"):
        assert said(parts, transcript, key)
    assert said(parts, transcript, "questions.invite_code.prompt")


async def test_complete_consultation_by_tapping_and_typing(new_chat, new_review, parts, settings):
    review, code = await new_review(first_name="Sam", iro_name="Jo Smith", age=14)
    chat = new_chat("msteams")
    await chat.start()

    transcript = await chat.say(code.lower().replace("-", " "))
    assert linked_as(parts, transcript, "Sam")
    await chat.pick("English")  # language: one tap (this device said no language)
    await chat.say("Sammy")  # name: free text
    await chat.pick("they / them")  # one choice: one tap
    await chat.say("2")  # take part: typed number -> written views
    assert said(parts, chat.said, "questions.talk_to_iro.prompt")
    await chat.pick("Yes")  # yes/no: one tap
    await chat.say("ONLINE")  # where: typed label in capitals
    await chat.pick("After school", "At the weekend")  # several: ticks and OK
    await chat.say("my foster mum and my coach")
    await chat.tap("Skip")  # who not there
    await chat.say("1 and 2")  # topics: where I live, family and friends time
    about = "questions.topics.options.{}.about".format
    home_prompt = text(
        parts, "questions.topic_say.prompt", band="13+", topic=text(parts, about("where_i_live"))
    )
    assert home_prompt in chat.said  # one question per topic, not three
    await chat.say("I like my room but my foster sister takes my stuff")
    assert text(parts, about("family_time")) in chat.said
    await chat.tap("Skip")
    await chat.say("the court stuff, not in front of my carer")  # not discussed
    # No interpreter question: the chat is in English and they are not seeking asylum.
    await chat.say("family time not contact")
    assert said(parts, chat.said, "questions.advocate.intro")
    await chat.pick("Yes")  # advocate
    await chat.say("I got a merit at school")
    await chat.tap("Skip")  # anything else
    await chat.pick(text(parts, "questions.who_helped.options.no_one.label"))

    await chat.pick(text(parts, "questions.share_all.options.choose.label"))
    share = "questions.share_one.options.{}.label".format
    shared = 0
    for _ in range(20):
        if not said(parts, chat.said, "questions.share_one.prompt"):
            break
        await chat.pick(text(parts, share("iro" if "foster sister" in chat.said else "everyone")))
        shared += 1
    assert shared == 4  # their views in their own words; names and who/where/when are practical
    assert said(parts, chat.said, "messages.check_intro")
    online = text(parts, "questions.where.options.online.label")
    assert "→ Sammy" in chat.said and f"→ {online}" in chat.said
    assert "Jo Smith" in chat.said and said(parts, chat.said, "questions.send_confirm.prompt")
    await chat.pick(text(parts, "questions.send_confirm.options.send.label"))
    assert said(parts, chat.said, "messages.sent")

    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "en")
    assert stored["name"] == ("text", "Sammy")
    assert stored["take_part"] == ("choice", "written_views")
    assert stored["when"] == ("choices", ["after_school", "weekend"])
    assert stored["topics"] == ("choices", ["where_i_live", "family_time"])
    assert stored["topic_say.where_i_live"] == (
        "text",
        "I like my room but my foster sister takes my stuff",
    )
    assert stored["who_not_there"] == ("skipped", None)
    assert "interpreter" not in stored
    assert stored["advocate"] == ("yesno", True)
    assert stored["who_helped"] == ("choice", "no_one")
    assert "topic_say.education" not in stored  # asked only for chosen topics

    (eml,) = await wait_for_eml(settings.outbox_dir)
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["To"] == "jo.smith@council.example"
    body = mail.get_body(("plain",)).get_content()
    assert "Sammy" in body
    they = text(parts, "questions.pronouns.options.they_them.label")
    assert they in body and "family time not contact" in body
    assert "PN2" in body
    assert "[ ] Arrange an advocate: they asked for one." in body
    shared_part, iro_part = body.split("Just for the IRO")
    home = text(parts, "questions.topics.options.where_i_live.label")
    said_label = text(parts, "questions.topic_say.summary")
    assert f"- {home}: {said_label}: I like my room but my foster sister" in iro_part
    assert "my foster sister takes my stuff" not in shared_part
    review_row = await parts.repos.reviews.get(review_id=review.id)
    assert review_row.submitted_at is not None and review_row.summary_sends == 1


async def test_card_is_replaced_by_its_answer_and_a_second_submit_changes_nothing(
    linked_chat, parts, connector
):
    conn, _ = connector
    review, chat = await linked_chat("msteams", age=11)  # the name, then how to take part
    language_card = chat.last_question()
    await chat.pick("English")
    assert conn.updates, "the answered card should be updated"
    updated = conn.updates[-1]
    assert updated["id"] == language_card["id"]
    answered = text(parts, "controls.answered.label", answer="English")
    assert answered in str(updated["attachments"][0]["content"])

    await chat.say("Sammy")
    card = chat.last_question()
    option = "questions.take_part.options.{}.label".format
    await chat.pick(text(parts, option("speak_myself")), card=card)
    await chat.pick(text(parts, option("not_sure")), card=card)  # the same card, tapped again
    assert said(parts, chat.said, "messages.stale_card")
    await chat.pick("Shqip", card=language_card)  # an old card from before
    assert said(parts, chat.said, "messages.stale_card")
    stored = await answers_of(parts, review.id)
    assert stored["take_part"] == ("choice", "speak_myself")
    assert stored["language"] == ("choice", "en")


async def test_resent_activity_is_handled_once(linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await chat.pick("English")
    first = chat.activity(text="Sammy", activity_id="same-id")
    replies = await chat.post(first)
    assert replies
    again = await chat.post(dict(first))
    assert again == []
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")


async def test_each_answer_is_stored_before_the_bot_replies(linked_chat, parts, connector):
    conn, _ = connector
    review, chat = await linked_chat("msteams")
    await chat.pick("English")
    seen: list[dict] = []

    async def check(reply):
        seen.append(await answers_of(parts, review.id))

    conn.on_reply = check
    await chat.say("Sammy")
    assert seen and all(s.get("name") == ("text", "Sammy") for s in seen)
