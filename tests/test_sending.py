"""Sending, changing answers afterwards (re-sent marked "updated"), and when changes stop."""

from datetime import UTC, datetime, time
from email import message_from_bytes, policy

from tests.conftest import LONDON
from tests.consult import answer_until, answers_of, said, text, until_said, wait_for_eml


async def to_check(chat, parts, *, take_part="1"):
    """Answer the essentials (name "Sammy"), skip the rest, up to the list of answers with
    Send under it (plain channel)."""
    await chat.say("English")
    await chat.say("Sammy")
    await chat.say("skip")
    await chat.say(take_part)

    async def skip_or_share() -> None:
        shared = said(parts, chat.said, "questions.share_all.prompt")
        await chat.say("1" if shared else "skip")

    await until_said(parts, chat, "questions.send_confirm.prompt", skip_or_share)


async def finish(chat, parts, *, take_part="1"):
    """To the check, then send."""
    await to_check(chat, parts, take_part=take_part)
    return await chat.say("send")


async def test_change_an_answer_after_sending_resends_marked_updated(linked_chat, parts, settings):
    review, chat = await linked_chat("sms")
    assert said(parts, await finish(chat, parts), "messages.sent")
    await wait_for_eml(settings.outbox_dir, 1)

    transcript = await chat.say("hello")
    assert said(parts, transcript, "questions.welcome_back_sent.prompt")
    transcript = await chat.say("change")
    assert said(parts, transcript, "messages.check_intro")
    await chat.say("change")
    await chat.say("1")  # the name (the chat language is not in the list)
    transcript = await chat.say("Sam")
    # Only the change is confirmed, not the whole list again.
    assert text(parts, "messages.answer_changed", question="Your name", answer="Sam") in transcript
    assert not said(parts, transcript, "messages.check_intro")
    assert said(parts, await chat.say("send"), "messages.sent_updated")

    first, second = await wait_for_eml(settings.outbox_dir, 2)
    updated = message_from_bytes(second.read_bytes(), policy=policy.default)
    assert updated["Subject"].startswith("[Updated]")
    body = updated.get_body(("plain",)).get_content()
    assert body.startswith("UPDATED")
    changed = body.split("WHAT CHANGED SINCE THE LAST SUMMARY")[1].split("\n\n")[0]
    assert "Sammy → Sam" in changed  # old and new
    row = await parts.repos.reviews.get(review_id=review.id)
    assert row.summary_sends == 2


async def test_no_changes_on_the_day_of_the_review(linked_chat, parts, settings):
    review, chat = await linked_chat("sms")
    await finish(chat, parts)
    review_day = review.review_at.astimezone(LONDON).date()
    parts.services.clock = lambda: datetime.combine(review_day, time(8), LONDON).astimezone(UTC)
    transcript = await chat.say("hi")
    assert said(parts, transcript, "messages.edit_closed")
    assert not said(parts, transcript, "questions.welcome_back_sent.prompt")


async def test_not_yet_keeps_answers_and_sends_nothing(linked_chat, parts, settings):
    review, chat = await linked_chat("sms")
    await to_check(chat, parts)
    assert said(parts, await chat.say("not yet"), "messages.not_yet")
    assert (await parts.repos.reviews.get(review_id=review.id)).submitted_at is None
    assert await parts.repos.outbox.list(review_id=review.id) == []
    transcript = await chat.say("hi")
    assert said(parts, transcript, "messages.welcome_back")
    assert said(parts, transcript, "questions.send_confirm.prompt")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")


async def test_code_cannot_link_a_new_chat_once_sent(linked_chat, new_chat, parts):
    review, chat = await linked_chat("sms")
    await finish(chat, parts)
    other = new_chat("webchat", user_id="other-device")
    await other.start()
    assert said(parts, await other.say(chat.code), "messages.code_used_up")


async def test_participation_code_follows_how_they_want_to_take_part(linked_chat, parts, settings):
    review, chat = await linked_chat("sms")
    await finish(chat, parts, take_part="7")  # not come, send my views
    (eml,) = await wait_for_eml(settings.outbox_dir)
    body = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("plain",))
    assert "PN6" in body.get_content()


async def test_age_and_uasc_decide_wording_and_topics(new_chat, new_review, parts):
    young, code = await new_review(age=11)
    chat = new_chat("sms")
    await chat.start()
    await chat.say(code)
    await chat.say("English")
    assert said(parts, chat.said, "questions.name.prompt", band="8-12")
    assert not said(parts, chat.said, "questions.name.prompt", band="13+")
    older, code2 = await new_review(age=15, is_uasc=True)
    teen = new_chat("sms", user_id="teen")
    await teen.start()
    await teen.say(code2)
    await teen.say("English")
    assert said(parts, teen.said, "questions.name.prompt", band="13+")
    await answer_until(teen, parts, "topics")
    topic = "questions.topics.options.{}.label".format
    assert said(parts, teen.said, topic("adult_life"))
    assert said(parts, teen.said, topic("immigration"))
    await answer_until(chat, parts, "topics")
    assert said(parts, chat.said, topic("where_i_live"))
    assert not said(parts, chat.said, topic("adult_life"))
    assert not said(parts, chat.said, topic("immigration"))
    transcript = await teen.say("getting ready for adult life, immigration")
    about = text(parts, "questions.topics.options.adult_life.about")
    assert text(parts, "questions.topic_say.prompt", band="13+", topic=about) in transcript
    stored = await answers_of(parts, older.id)
    assert stored["topics"] == ("choices", ["adult_life", "immigration"])


async def test_a_wrong_number_when_changing_an_answer_asks_again_kindly(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await to_check(chat, parts)
    await chat.say("change")
    for wrong in ("99", "the name one"):
        transcript = await chat.say(wrong)
        assert said(parts, transcript, "messages.which_answer_wrong")
        assert said(parts, transcript, "questions.which_answer.prompt")
    await chat.say("1")  # the name: the chat language is not in the list
    await chat.say("Sam")
    assert (await answers_of(parts, review.id))["name"] == ("text", "Sam")


async def test_the_check_list_leaves_out_the_chat_language(linked_chat, parts):
    # How we talk is not a view for the review; "language" changes it at any step.
    review, chat = await linked_chat("sms")
    await to_check(chat, parts)
    check = chat.said
    assert said(parts, check, "messages.check_intro")
    assert "→ Sammy" in check  # the name is there, first
    assert check.index("1. ") < check.index("→ Sammy") < check.index("2. ")
    assert "→ English" not in check
