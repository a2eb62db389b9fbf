"""The summary email the IRO reads: built by OutboxNotifier from stored answers and templates.

Answers are stored with the repositories directly (as the dialogs store them), so these tests
pin what the IRO sees whatever path the chat took. Wording is read from content/, so editing a
label does not break a test, but showing the wrong language or raw HTML does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from bot.delivery.notifier import OutboxNotifier
from bot.delivery.outbox import FileTransport, OutboxWorker
from bot.delivery.summary import Row, summary_data
from bot.delivery.templating import Templates
from bot.settings import REPO_ROOT
from dialogs.messages import MESSAGE_IDS
from storage.content import Content, FileContentSource
from storage.crypto import Keyring
from storage.db import Database
from storage.models import OutboxMessage, Review, ReviewCreate, SafeguardingAlertBase
from storage.repositories import Repositories

LONDON = ZoneInfo("Europe/London")
SCRIPT = "<script>alert(1)</script>"
ARABIC_WORDS = "أريد أن تكون أمي هناك"  # "I want my mum to be there"
IRO_ONLY_WORDS = "my uncle shouts at me"


class Setup:
    def __init__(self, repos: Repositories, content: Content, notifier: OutboxNotifier) -> None:
        self.repos, self.content, self.notifier = repos, content, notifier

    def en(self, key: str) -> str:
        return self.content.text(key, "en")

    def ar(self, key: str) -> str:
        return self.content.text(key, "ar")

    async def review(self, **overrides: Any) -> Review:
        values: dict[str, Any] = {
            "first_name": "Sam",
            "age": 11,
            "iro_name": "Jo Smith",
            "iro_email": "jo.smith@council.example",
            "review_at": datetime(2026, 12, 8, 10, tzinfo=LONDON).astimezone(UTC),
        }
        values.update(overrides)
        return await self.repos.reviews.create(
            data=ReviewCreate(**values),
            invite_code_hash=f"hash-{values['first_name']}-{id(values)}",
            invite_expires_at=datetime.now(UTC) + timedelta(days=30),
            content_version="test",
        )

    async def answer(
        self, review: Review, qid: str, kind: str, value: Any, *, locale: str = "en", vis: str = ""
    ) -> None:
        assert review.id is not None
        await self.repos.answers.save(
            review_id=review.id, question_id=qid, kind=kind, value=value, locale=locale
        )
        if vis:
            await self.repos.answers.set_visibility(
                review_id=review.id, question_ids=[qid], visibility=vis
            )

    async def send(self, review: Review, *, updated: bool = False) -> OutboxMessage:
        """What the consultation does on Send: count the send, then queue the summary."""
        assert review.id is not None
        await self.repos.reviews.mark_submitted(review_id=review.id, at=datetime.now(UTC))
        await self.notifier.summary(review_id=review.id, updated=updated)
        return (await self.repos.outbox.list(review_id=review.id, kind="summary"))[-1]


@pytest.fixture(scope="module")
def content_source() -> FileContentSource:
    return FileContentSource(REPO_ROOT / "content", required_messages=MESSAGE_IDS)


@pytest.fixture
async def setup(tmp_path: Path, content_source: FileContentSource) -> AsyncIterator[Setup]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'summary.db'}", keys=Keyring.ephemeral())
    await db.migrate()
    repos = Repositories(db)
    worker = OutboxWorker(
        repo=repos.outbox,
        transport=FileTransport(tmp_path / "outbox"),
        sender="MyReview <myreview@council.example>",
        poll_seconds=3600,
        max_attempts=3,
    )
    notifier = OutboxNotifier(
        repos=repos,
        content_source=content_source,
        worker=worker,
        duty_email="duty@council.example",
        timezone=LONDON,
    )
    yield Setup(repos, content_source.current(), notifier)
    await db.dispose()


async def arabic_consultation(s: Setup) -> Review:
    """A child who chatted in Arabic, wrote some things in Arabic and some in English."""
    review = await s.review(first_name="Noor", age=14)
    await s.answer(review, "language", "choice", "ar", locale="ar")
    await s.answer(review, "name", "text", "Noor <b>the best</b>", locale="ar", vis="everyone")
    await s.answer(review, "pronouns", "choice", "she_her", locale="ar")
    await s.answer(review, "take_part", "choice", "written_views", locale="ar")
    await s.answer(review, "talk_to_iro", "yesno", False, locale="ar")
    await s.answer(review, "where", "skipped", None, locale="ar")
    await s.answer(review, "media.where", "media", "picture", locale="ar")
    await s.answer(review, "when", "choices", ["after_school", "weekend", "not_a_day"], locale="ar")
    await s.answer(review, "when_avoid", "text", f"{SCRIPT} not on my birthday", vis="everyone")
    await s.answer(review, "who_there", "text", ARABIC_WORDS, locale="ar", vis="everyone")
    await s.answer(review, "who_not_there", "text", IRO_ONLY_WORDS, vis="iro")
    await s.answer(review, "topics", "choices", ["education"], locale="ar")
    await s.answer(review, "topic_say.education", "text", "I like maths", vis="everyone")
    await s.answer(review, "proud", "media", "voice", locale="ar")
    return review


def line_with(text: str, needle: str) -> str:
    [line] = [ln for ln in text.splitlines() if needle in ln]
    return line


def answer_line(s: Setup, text: str, qid: str) -> str:
    """The plain-text line answering question `qid` ("- <its summary label>: <answer>")."""
    return line_with(text, f"- {s.en(f'questions.{qid}.summary')}:")


async def test_childs_html_is_escaped_in_html_and_kept_in_plain_text(setup: Setup) -> None:
    row = await setup.send(await arabic_consultation(setup))

    assert row.html_body is not None
    assert "<script>" not in row.html_body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; not on my birthday" in row.html_body
    assert "Noor &lt;b&gt;the best&lt;/b&gt;" in row.html_body
    assert "<b>the best</b>" not in row.html_body
    # Plain text is what gets pasted into the case record: the child's words, as written.
    assert f"{SCRIPT} not on my birthday" in row.text_body
    assert "&lt;" not in row.text_body and "&amp;" not in row.text_body


async def test_the_sent_email_carries_the_escaped_html(setup: Setup, tmp_path: Path) -> None:
    await setup.send(await arabic_consultation(setup))

    assert await setup.notifier.worker.run_once() == 1

    [eml] = (tmp_path / "outbox").glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None and text is not None
    assert "&lt;script&gt;" in html.get_content() and "<script>" not in html.get_content()
    assert ARABIC_WORDS in text.get_content()  # Arabic survives the mail encoding


async def test_choices_are_shown_in_english_whatever_the_chat_language(setup: Setup) -> None:
    row = await setup.send(await arabic_consultation(setup))

    when = answer_line(setup, row.text_body, "when")
    assert setup.en("questions.when.options.after_school.label") in when
    assert setup.en("questions.when.options.weekend.label") in when
    pronouns = answer_line(setup, row.text_body, "pronouns")
    assert setup.en("questions.pronouns.options.she_her.label") in pronouns
    arabic_labels = [
        setup.ar(f"questions.{key}.label")
        for key in ("when.options.after_school", "when.options.weekend", "pronouns.options.she_her")
    ]
    for body in (row.text_body, row.html_body or ""):
        assert not [label for label in arabic_labels if label in body]
        assert "العربية" not in body  # the chat language is named in English too
    assert line_with(row.text_body, "Language used in the chat:").startswith(
        "Language used in the chat: Arabic (a draft translation"
    )
    yes_no = answer_line(setup, row.text_body, "talk_to_iro")
    assert yes_no.endswith(": No")


async def test_other_kinds_of_answer_are_shown_plainly(setup: Setup) -> None:
    row = await setup.send(await arabic_consultation(setup))

    where = answer_line(setup, row.text_body, "where")
    assert "(skipped)" in where and "(sent a picture)" in where
    assert "(sent a voice note)" in answer_line(setup, row.text_body, "proud")
    assert "Topic: " + setup.en("questions.topics.options.education.label") in row.text_body
    assert "I like maths" in row.text_body


async def test_free_text_in_arabic_is_marked_for_an_interpreter_once(setup: Setup) -> None:
    row = await setup.send(await arabic_consultation(setup))

    # One line at the top says how many answers are in Arabic and who should read them ...
    top = line_with(row.text_body, "written answer")
    assert "2 written answers in Arabic: not translated" in top
    assert "someone who speaks Arabic" in top
    assert row.text_body.count("not translated") == 1
    # ... and each such answer is marked, briefly.
    assert "[Arabic]" in line_with(row.text_body, ARABIC_WORDS)
    assert "Arabic" not in line_with(row.text_body, "I like maths")
    assert row.html_body is not None
    assert "(Arabic)" in line_with(row.html_body, ARABIC_WORDS)
    assert row.html_body.count("not translated") == 1


async def test_answers_just_for_the_iro_are_in_their_own_section(setup: Setup) -> None:
    row = await setup.send(await arabic_consultation(setup))

    for body in (row.text_body, row.html_body or ""):
        # One section; the action box at the top points to it without quoting.
        assert body.count("Just for the IRO (not to be read out") == 1
        shared, iro_only = body.split("Just for the IRO (not to be read out")
        assert IRO_ONLY_WORDS in iro_only and IRO_ONLY_WORDS not in shared
        assert ARABIC_WORDS in shared and ARABIC_WORDS not in iro_only
        assert "I like maths" in shared


async def test_no_iro_section_when_everything_may_be_shared(setup: Setup) -> None:
    review = await setup.review()
    await setup.answer(review, "who_not_there", "text", "nobody", vis="everyone")

    row = await setup.send(review)

    assert "nobody" in row.text_body
    assert "Just for the IRO" not in row.text_body


@pytest.mark.parametrize(
    ("take_part", "code"),
    [("written_views", "PN2"), ("not_come_send_views", "PN6"), ("speak_myself", "PN1")],
)
async def test_participation_code_and_reason(setup: Setup, take_part: str, code: str) -> None:
    review = await setup.review()
    await setup.answer(review, "take_part", "choice", take_part, locale="ar")

    row = await setup.send(review)

    reason = "They chose “{}”".format(setup.en(f"questions.take_part.options.{take_part}.label"))
    line = line_with(row.text_body, "participation code")
    assert f": {code} (" in line and reason in line
    assert row.html_body is not None
    assert f"<strong>{code}</strong>" in row.html_body and reason in row.html_body


async def test_no_participation_code_when_they_did_not_say(setup: Setup) -> None:
    review = await setup.review()
    await setup.answer(review, "take_part", "choice", "not_sure")

    row = await setup.send(review)

    line = line_with(row.text_body, "participation code")
    assert not any(code in line for code in ("PN1", "PN2", "PN5", "PN6"))


async def test_an_updated_resend_is_marked_updated(setup: Setup) -> None:
    review = await arabic_consultation(setup)
    first = await setup.send(review)
    await setup.answer(review, "proud", "text", "I got a merit award", vis="everyone")

    second = await setup.send(review, updated=True)

    assert second.id != first.id  # a new email, not the first one again
    assert "updated" not in first.subject.lower()
    assert "UPDATED" not in first.text_body
    assert second.subject.startswith("[Updated] ")
    assert second.text_body.startswith("UPDATED")
    assert second.html_body is not None and "<strong>Updated</strong>" in second.html_body
    assert "I got a merit award" in second.text_body


async def test_a_name_with_a_line_break_still_gives_a_sendable_email(setup: Setup) -> None:
    review = await setup.review(first_name="Sam\nBcc: someone@else.example")

    row = await setup.send(review)

    assert "\n" not in row.subject and "\r" not in row.subject
    assert await setup.notifier.worker.run_once() == 1


# --- the template environment ----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ child.__class__.__init__.__globals__ }}",
        "{{ row.__dict__ }}",
    ],
)
def test_templates_cannot_reach_python(tmp_path: Path, source: str) -> None:
    (tmp_path / "evil.html").write_text(source)
    templates = Templates(tmp_path)

    with pytest.raises(SecurityError):
        templates.render("evil.html", child={"first_name": "Sam"}, row=Row("Q", "A"))


def test_templates_fail_on_undefined_names(tmp_path: Path) -> None:
    (tmp_path / "typo.txt").write_text("Views of {{ child.frist_name }} and {{ nope }}\n")
    templates = Templates(tmp_path)

    with pytest.raises(UndefinedError):
        templates.render("typo.txt", child={"first_name": "Sam"})


async def test_the_real_templates_fail_loudly_on_missing_data(setup: Setup) -> None:
    review = await setup.review()
    data = summary_data(
        content=setup.content,
        review=review,
        answers={},
        tz=LONDON,
        updated=False,
        sent_at=datetime.now(UTC),
    )
    templates = Templates(setup.content.templates_dir)
    assert "Sam" in templates.render("summary.txt", **data)
    del data["participation"]

    for name in ("summary.txt", "summary.html"):
        with pytest.raises(UndefinedError):
            templates.render(name, **data)


def action_box(text: str) -> list[str]:
    """The lines of the plain-text action box at the top of the summary."""
    lines = text.split("TO DO BEFORE THE REVIEW", 1)[1].split("\n\n", 1)[0]
    return [ln.strip() for ln in lines.splitlines() if ln.strip()]


async def test_the_action_box_tells_the_iro_what_to_arrange_in_english(setup: Setup) -> None:
    """A 15-year-old seeking asylum who chatted in Arabic: one minute to see what to do."""
    review = await setup.review(first_name="Amira", age=15, is_uasc=True, case_reference="CS-40117")
    for qid, kind, value, vis in [
        ("language", "choice", "ar", ""),
        ("take_part", "choice", "speak_myself", ""),
        ("talk_to_iro", "yesno", True, ""),
        ("who_not_there", "text", "عمي", ""),  # "my uncle": practical, not asked who hears it
        ("not_discussed", "text", IRO_ONLY_WORDS, "iro"),
        ("interpreter", "choice", "yes_chat_language", ""),
        ("interpreter_prefs", "choices", ["woman", "not_my_community", "dialect"], ""),
        ("interpreter_dialect", "text", "Sudanese", ""),
        ("advocate", "yesno", True, ""),
    ]:
        await setup.answer(review, qid, kind, value, locale="ar", vis=vis)
    assert review.id is not None
    await setup.repos.alerts.create_once(
        data=SafeguardingAlertBase(
            categories=["being_hurt"], channel_id="msteams", conversation_id="c1", locale="ar"
        ),
        message="عمي يضربني",
        review_id=review.id,
        activity_id="a1",
    )

    row = await setup.send(review)

    box = action_box(row.text_body)
    assert box[0].startswith("[ ] SAFEGUARDING alert") and "being hurt" in box[0]
    assert "[ ] Arrange an advocate: they asked for one." in box
    assert "[ ] Talk to them on their own before the review: they asked to." in box
    assert (
        "[ ] Book an interpreter: Arabic, dialect: Sudanese; a woman; "
        "not someone from their community." in box
    )
    assert "[ ] Do not invite: عمي" in box
    # Kept for the IRO alone: pointed to, never quoted, in the box that heads the email.
    assert "[ ] Do not discuss: see 'Just for the IRO' below." in box
    head = row.text_body.split("Just for the IRO")[0]
    assert IRO_ONLY_WORDS not in head
    assert row.text_body.count(IRO_ONLY_WORDS) == 1
    assert "Case reference: CS-40117" in row.text_body
    assert "draft translation" in row.text_body  # Arabic is a draft
    assert row.html_body is not None and "To do before the review" in row.html_body
    assert IRO_ONLY_WORDS not in row.html_body.split("Just for the IRO")[0]


async def test_an_update_lists_what_changed_first(setup: Setup) -> None:
    review = await arabic_consultation(setup)
    await setup.send(review)
    await setup.answer(review, "when", "choices", ["weekend"], locale="ar")
    await setup.answer(review, "topic_say.education", "text", "maths is hard now", vis="iro")

    second = await setup.send(review, updated=True)

    changed = second.text_body.split("WHAT CHANGED SINCE THE LAST SUMMARY", 1)[1]
    changed = changed.split("\n\n", 1)[0]
    assert setup.en("questions.when.options.weekend.label") in changed
    # Old and new, so the IRO need not find the first email.
    when = line_with(changed, setup.en("questions.when.summary"))
    assert " → " + setup.en("questions.when.options.weekend.label") in when
    assert setup.en("questions.when.options.after_school.label") in when.split(" → ")[0]
    assert "(first sent on " in line_with(second.text_body, "Sent to ")
    # A changed answer kept for the IRO alone is pointed to, not quoted, near the top.
    assert "maths is hard now" not in changed and "Just for the IRO" in changed
    assert "maths is hard now" in second.text_body.split("== Just for the IRO")[1]
    assert "Noor" not in changed and "I like maths" not in changed  # unchanged answers
    # Not asked now that "not on a special day" was taken off: the IRO is told it has gone.
    assert f"- {setup.en('questions.when_avoid.summary')}: (removed)" in changed
    assert changed.count("\n- ") == 3


async def test_the_interpreter_to_book_is_named_from_the_list_or_in_their_words(
    setup: Setup,
) -> None:
    review = await setup.review(first_name="Zia", age=16, is_uasc=True)
    await setup.answer(review, "interpreter", "choice", "yes_other")
    await setup.answer(review, "interpreter_language", "choice", "pashto")
    sent = await setup.send(review)
    assert "Book an interpreter: Pashto (پښتو)." in sent.text_body

    other = await setup.review(first_name="Ama", age=16, is_uasc=True)
    await setup.answer(other, "interpreter", "choice", "yes_other")
    await setup.answer(other, "interpreter_language", "choice", "another_language")
    await setup.answer(other, "interpreter_language_other", "text", "Lingala")
    sent = await setup.send(other)
    assert "Book an interpreter: Lingala." in sent.text_body
