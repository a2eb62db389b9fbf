"""A child's next review: their Language of Care (the name to use, pronouns, their words, the
chat language) carries over from the last review they sent, and the bot asks "still right?"
rather than asking again. Only for the same child, only what they chose to share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app import Parts
from bot.jobs import housekeeping
from bot.reviews import child_key, fill_child_keys
from storage.models import Review
from tests.chat import Chat
from tests.consult import answer_until, answers_of, said, text, waiting_key

CASE = "CR 10042"


async def pick(chat: Chat, option_id: str) -> str:
    """Taps the option with this id, whatever the language shows it as."""
    titles = {v: k for k, v in chat.choices().items()}
    return await chat.pick(titles[option_id])


async def first_review(
    parts: Parts,
    linked_chat: Any,
    *,
    language: str = "English",
    name: str = "Sammy",
    pronouns: str = "they_them",
    words: str = "family time, not contact",
    share: str = "all_everyone",
    send: bool = True,
    **review: Any,
) -> Review:
    """A child's review, answered in the chat: their language, name, pronouns and words to
    use; who may hear what they wrote; sent (or not)."""
    review.setdefault("case_reference", CASE)
    row, chat = await linked_chat(**review)
    await chat.say(language)
    await chat.say(name)
    await pick(chat, pronouns)
    await answer_until(chat, parts, "my_words")
    await chat.say(words)
    await answer_until(chat, parts, "share_all")
    await pick(chat, share)
    assert await waiting_key(parts, chat) == "send_confirm"
    if send:
        await pick(chat, "send")
        locale = {"English": "en", "العربية": "ar"}[language]
        assert said(parts, chat.said, "messages.sent", locale), chat.said
    return row


def next_review(**review: Any) -> dict[str, Any]:
    """The same child's next review, about six months after."""
    return {
        "case_reference": CASE,
        "review_at": datetime.now(UTC) + timedelta(days=190),
        **review,
    }


def still_right(parts: Parts, qid: str, answer: str, locale: str = "en") -> str:
    """What the bot asks: what they told us last time, and "Still right?"."""
    told = text(parts, f"questions.{qid}.carried", locale, answer=answer)
    return text(parts, "questions.carry_confirm.prompt", locale, last_time=told)


async def test_the_next_review_offers_what_the_child_told_us_and_yes_keeps_it(parts, linked_chat):
    await first_review(parts, linked_chat)
    # The council typed the reference a little differently this time: the same child.
    review, chat = await linked_chat(**next_review(case_reference="cr  10042 "))
    # The chat is in the language they used last time: not asked again.
    assert not said(parts, chat.said, "questions.language.prompt")
    assert still_right(parts, "name", "Sammy") in chat.said
    assert set(chat.choices()) == {"Yes", "Change"}

    await chat.pick("Yes")
    assert still_right(parts, "pronouns", "they / them") in chat.said
    await chat.pick("Yes")
    await answer_until(chat, parts, "carry.my_words")
    assert (
        "Last time you asked us to use these words: “family time, not contact”. Still right?"
        in chat.said
    )
    await chat.pick("Yes")

    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "en")
    assert stored["name"] == ("text", "Sammy")
    assert stored["pronouns"] == ("choice", "they_them")
    assert stored["my_words"] == ("text", "family time, not contact")
    # They let these words be read out last time, and said they are still right: not asked
    # again who may hear them.
    rows = await parts.repos.answers.all_for(review_id=review.id)
    assert rows["my_words"].visibility == "everyone"


async def test_change_asks_the_question_and_stores_the_new_answer(parts, linked_chat):
    await first_review(parts, linked_chat)
    review, chat = await linked_chat(**next_review())
    assert still_right(parts, "name", "Sammy") in chat.said
    await chat.pick("Change")
    # The question itself, as for anyone.
    assert said(parts, chat.said, "questions.name.prompt", band="13+")
    await chat.say("Sami")
    assert still_right(parts, "pronouns", "they / them") in chat.said
    await chat.pick("Yes")
    assert await waiting_key(parts, chat) == "take_part"
    stored = await answers_of(parts, review.id)
    assert stored["name"] == ("text", "Sami")
    assert stored["pronouns"] == ("choice", "they_them")
    # Back from the next question comes to the last confirm, as on any question.
    await chat.say("back")
    assert await waiting_key(parts, chat) == "pronouns"


async def test_another_child_gets_nothing_carried_over(parts, linked_chat):
    await first_review(parts, linked_chat)
    # Another case reference; the same reference on a review for another first name (typed
    # wrong); a review with no reference: none of them is told what Sam said.
    for case, name in (("CR 20077", "Sam"), (CASE, "Alex"), (None, "Sam")):
        review, chat = await linked_chat(**next_review(case_reference=case, first_name=name))
        transcript = chat.said + await chat.say("English")
        assert "Last time" not in transcript and "Sammy" not in transcript
        assert said(parts, transcript, "questions.name.prompt", band="13+")
        assert set(await answers_of(parts, review.id)) == {"language"}


async def test_only_what_the_child_chose_to_share_is_carried_over(parts, linked_chat):
    # Words kept for the IRO alone are not offered back; the name (to organise the meeting) is.
    await first_review(parts, linked_chat, share="all_iro")
    review, chat = await linked_chat(**next_review())
    assert still_right(parts, "name", "Sammy") in chat.said
    await chat.pick("Yes")
    await chat.pick("Yes")
    await answer_until(chat, parts, "my_words")  # asked, not offered back
    assert "not contact" not in chat.said

    # Answers never sent are not carried over.
    await first_review(parts, linked_chat, case_reference="CR 555", name="Leelee", send=False)
    review, chat = await linked_chat(**next_review(case_reference="CR 555"))
    assert "Leelee" not in chat.said + await chat.say("English")


async def test_an_arabic_child_is_asked_in_arabic(parts, linked_chat):
    await first_review(
        parts, linked_chat, language="العربية", name="سامي", pronouns="he_him", words="وقت العائلة"
    )
    review, chat = await linked_chat(**next_review())
    assert said(parts, chat.said, "messages.linked", "ar")
    assert still_right(parts, "name", "سامي", "ar") in chat.said
    assert set(chat.choices()) == {"نعم", "تغيير"}
    await pick(chat, "keep")
    he = text(parts, "questions.pronouns.options.he_him.label", "ar")
    assert still_right(parts, "pronouns", he, "ar") in chat.said
    await pick(chat, "keep")
    await answer_until(chat, parts, "carry.my_words")
    assert still_right(parts, "my_words", "وقت العائلة", "ar") in chat.said
    await pick(chat, "keep")
    stored = await answers_of(parts, review.id)
    assert stored["language"] == ("choice", "ar")
    assert stored["name"] == ("text", "سامي")
    assert stored["pronouns"] == ("choice", "he_him")
    assert stored["my_words"] == ("text", "وقت العائلة")


async def test_kept_for_its_own_period_and_deleted_at_the_childs_request(
    parts, settings, linked_chat
):
    first = await first_review(parts, linked_chat)
    kept = await parts.repos.children.language_of_care(child_key=first.child_key)
    assert kept is not None and set(kept.answers) == {"language", "name", "pronouns", "my_words"}
    # The review's own retention (90 days after it) deletes the review; what the child told us
    # about how to speak with them stays for the next review, until its own period ends.
    now = parts.services.clock
    parts.services.clock = lambda: first.review_at + timedelta(days=100)
    await housekeeping(parts)
    assert await parts.repos.reviews.get(review_id=first.id) is None
    assert await parts.repos.children.language_of_care(child_key=first.child_key) is not None
    parts.services.clock = lambda: (
        first.review_at + timedelta(days=settings.language_of_care_days + 1)
    )
    await housekeeping(parts)
    assert await parts.repos.children.language_of_care(child_key=first.child_key) is None
    parts.services.clock = now

    # A young person's request to delete a review deletes what was kept from it.
    from bot.cli import purge_review

    second = await first_review(parts, linked_chat, case_reference="CR 777")
    assert await parts.repos.children.language_of_care(child_key=second.child_key)
    counts = await purge_review(settings, second.id)
    assert counts["languageofcare"] == 1
    assert await parts.repos.children.language_of_care(child_key=second.child_key) is None


async def test_reviews_of_one_child_share_a_key_made_from_the_case_reference(
    parts, settings, new_review
):
    secret = settings.secret_key.get_secret_value()
    one, _ = await new_review(case_reference="ab 123")
    two, _ = await new_review(case_reference=" AB  123 ")
    other, _ = await new_review(case_reference="AB 1234")
    none, _ = await new_review()
    assert one.child_key == two.child_key == child_key(secret, "AB 123")
    assert other.child_key != one.child_key and none.child_key is None
    assert "123" not in (one.child_key or "")
    # Reviews made before there were keys get theirs (`myreview migrate`, and at start-up).
    await parts.repos.reviews.set_child_keys(keys={})
    async with parts.db.session() as s:
        row = await s.get(Review, one.id)
        row.child_key = None
        s.add(row)
    assert await fill_child_keys(parts.repos, secret=secret) == 1
    assert (await parts.repos.reviews.get(review_id=one.id)).child_key == one.child_key
    assert await fill_child_keys(parts.repos, secret=secret) == 0
