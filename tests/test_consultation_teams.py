"""A young person on Teams completes the consultation; the IRO's email arrives."""

from email import message_from_bytes, policy

from tests.consult import answers_of, said, text, wait_for_eml


async def test_welcome_says_what_this_is_and_asks_for_the_code(new_chat, parts):
    chat = new_chat("msteams")
    transcript = await chat.start()
    for key in ("messages.welcome", "messages.welcome_what", "messages.welcome_rules"):
        assert said(parts, transcript, key)
    assert said(parts, transcript, "questions.invite_code.prompt")


async def test_complete_consultation_by_tapping_and_typing(new_chat, new_review, parts, settings):
    review, code = await new_review(first_name="Sam", iro_name="Jo Smith")
    chat = new_chat("msteams")
    await chat.start()

    transcript = await chat.say(code.lower().replace("-", " "))
    assert text(parts, "messages.linked", name="Sam") in transcript
    await chat.pick("English")  # language: a card choice
    await chat.say("Sammy")  # name: free text
    await chat.pick("they / them")  # single choice card
    await chat.say("2")  # take part: typed number -> written views
    assert said(parts, chat.said, "questions.talk_to_iro.prompt")
    await chat.pick("Yes")  # yes/no card
    await chat.say("ONLINE")  # where: typed label in capitals
    await chat.pick("After school", "At the weekend")  # multi choice card
    await chat.say("not on 3 March, it's my birthday")
    await chat.say("my foster mum and my coach")
    await chat.tap("Skip")  # who not there
    await chat.say("1 and 2")  # topics: where I live, family and friends time
    about = "questions.topics.options.{}.about".format
    going_well = text(
        parts, "questions.topic_going_well.prompt", topic=text(parts, about("where_i_live"))
    )
    assert going_well in chat.said
    await chat.say("I like my room")
    await chat.say("my foster sister takes my stuff")
    await chat.say("more pocket money")
    assert text(parts, about("family_time")) in chat.said
    for _ in range(3):
        await chat.tap("Skip")
    await chat.say("the court stuff")  # not discussed
    await chat.tap("Skip")  # not in front of
    await chat.say("no")  # interpreter: typed yes/no
    await chat.say("family time not contact")
    assert said(parts, chat.said, "questions.advocate.intro")
    await chat.pick("Yes")  # advocate
    await chat.say("I got a merit at school")
    await chat.tap("Skip")  # anything else

    assert said(parts, chat.said, "messages.check_intro")
    online = text(parts, "questions.where.options.online.label")
    assert "→ Sammy" in chat.said and f"→ {online}" in chat.said
    await chat.pick(text(parts, "questions.review_choice.options.looks_good.label"))
    await chat.pick(text(parts, "questions.share_all.options.choose.label"))
    share = "questions.share_one.options.{}.label".format
    shared = 0
    for _ in range(20):
        if not said(parts, chat.said, "questions.share_one.prompt"):
            break
        await chat.pick(text(parts, share("iro" if "foster sister" in chat.said else "everyone")))
        shared += 1
    assert shared == 9  # every answer in their own words
    assert "Jo Smith" in chat.said and said(parts, chat.said, "questions.send_confirm.prompt")
    await chat.pick(text(parts, "questions.send_confirm.options.send.label"))
    assert said(parts, chat.said, "messages.sent")

    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "en")
    assert stored["name"] == ("text", "Sammy")
    assert stored["take_part"] == ("choice", "written_views")
    assert stored["when"] == ("choices", ["after_school", "weekend"])
    assert stored["topics"] == ("choices", ["where_i_live", "family_time"])
    assert stored["topic_worries.where_i_live"] == ("text", "my foster sister takes my stuff")
    assert stored["who_not_there"] == ("skipped", None)
    assert stored["interpreter"] == ("yesno", False)
    assert stored["advocate"] == ("yesno", True)
    assert "topic_going_well.education" not in stored  # follow-ups only for chosen topics

    (eml,) = await wait_for_eml(settings.outbox_dir)
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["To"] == "jo.smith@council.example"
    body = mail.get_body(("plain",)).get_content()
    assert "I like my room" in body and "Sammy" in body
    they = text(parts, "questions.pronouns.options.they_them.label")
    assert they in body and "family time not contact" in body
    assert "PN2" in body
    shared_part, iro_part = body.split("Just for the IRO")
    home = text(parts, "questions.topics.options.where_i_live.label")
    worries = text(parts, "questions.topic_worries.summary")
    assert f"- {home}: {worries}: my foster sister takes my stuff" in iro_part
    assert "my foster sister takes my stuff" not in shared_part
    review_row = await parts.repos.reviews.get(review_id=review.id)
    assert review_row.submitted_at is not None and review_row.summary_sends == 1


async def test_card_is_replaced_by_its_answer_and_a_second_submit_changes_nothing(
    linked_chat, parts, connector
):
    conn, _ = connector
    review, chat = await linked_chat("msteams")
    language_card = chat.last_question()
    await chat.pick("English")
    assert conn.updates, "the answered card should be updated"
    updated = conn.updates[-1]
    assert updated["id"] == language_card["id"]
    answered = text(parts, "controls.answered.label", answer="English")
    assert answered in str(updated["attachments"][0]["content"])

    await chat.say("Sammy")
    pronoun_card = chat.last_question()
    await chat.pick("she / her", card=pronoun_card)
    await chat.pick("he / him", card=pronoun_card)  # the same card, tapped again
    assert said(parts, chat.said, "messages.stale_card")
    await chat.pick("Shqip", card=language_card)  # an old card from before
    assert said(parts, chat.said, "messages.stale_card")
    stored = await answers_of(parts, review.id)
    assert stored["pronouns"] == ("choice", "she_her")
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
