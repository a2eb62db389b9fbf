"""End to end in a real browser: a young person uses the Microsoft 365 Agents Playground (Teams
and Web Chat), the real bot answers over HTTP, and the IRO's email reaches a real SMTP server.

Needs Chromium and node_modules (`make browser-deps`); fails, never skips, without them.
Every label and prompt is read from content/, never copied here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from bot.cli import add_review
from bot.settings import Settings
from storage.content import Content, load_content
from tests.conftest import review_data
from tests.playground import (
    CARD,
    CHROMIUM,
    CHROMIUM_ARGS,
    BotServer,
    MailSink,
    Playground,
    PlaygroundServer,
    plain_text,
    require_browser_deps,
)

pytestmark = pytest.mark.browser
BAND = "13+"  # review_data() is a 14-year-old


class Words:
    """What the bot says in one language, read from content/ (fragments where a string has
    {placeholders} we do not fill)."""

    def __init__(self, content: Content, locale: str) -> None:
        self.content, self.locale = content, locale

    def __call__(self, key: str, **values: Any) -> str:
        return self.content.text(key, self.locale, BAND, **values)

    def msg(self, key: str, **values: Any) -> str:
        return self.fragment(f"messages.{key}", **values)

    def q(self, qid: str, **values: Any) -> str:
        return self.fragment(f"questions.{qid}.prompt", **values)

    def option(self, qid: str, oid: str) -> str:
        return self(f"questions.{qid}.options.{oid}.label")

    def about(self, topic: str) -> str:
        return self(f"questions.topics.options.{topic}.about")

    def control(self, cid: str) -> str:
        return self(f"controls.{cid}.label")

    def fragment(self, key: str, **values: Any) -> str:
        """The string with `values` filled in, or its longest piece between placeholders."""
        text = self(key, **values)
        pieces = [p.strip() for p in re.split(r"\{[a-z_]+\}", text)]
        return max(pieces, key=len)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def e2e_settings(tmp_path: Path, mail: MailSink) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'myreview.db'}",
        var_dir=tmp_path / "var",
        smtp_host="127.0.0.1",
        smtp_port=mail.port,
        smtp_starttls=False,
        outbox_poll_seconds=0.1,
        secret_key="e2e-secret-key-123456",
        # The browser types the next answer faster than any child could read the question.
        burst_window_seconds=0,
    )


@pytest.fixture
def content(e2e_settings: Settings) -> Content:
    return load_content(e2e_settings.content_dir)


@pytest.fixture
async def bot(e2e_settings: Settings) -> AsyncIterator[BotServer]:
    require_browser_deps()
    server = BotServer(e2e_settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Any]:
    require_browser_deps()
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile for every test
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            yield page
        finally:
            # What the screen showed last, pass or fail: the first thing to look at.
            await page.screenshot(path=str(tmp_path / "last.png"))
            await context.close()


@pytest.fixture
async def playground(
    bot: BotServer, tmp_path: Path
) -> AsyncIterator[Callable[[str], Awaitable[PlaygroundServer]]]:
    started: list[PlaygroundServer] = []

    async def start(channel: str) -> PlaygroundServer:
        server = await PlaygroundServer.start(
            endpoint=bot.endpoint, channel=channel, workdir=tmp_path / f"playground-{channel}"
        )
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            await server.stop()


async def assert_help_reads_right_to_left(ui: Playground, ar: Words, review: Any) -> None:
    """The "talk to someone" list on screen has a line per way to get help, and its Arabic
    Childline line reads right to left: the name, then the verb, then the number."""
    wanted = ar("messages.talk_to_someone", iro=review.iro_name, iro_email=review.iro_email)
    lines = await ui.lines_of("Childline")
    assert lines == [line.strip() for line in wanted.split("\n")], lines
    childline = next(line for line in lines if "Childline" in line)
    first_arabic_word = childline.split(":")[1].split()[0]  # "call"
    name, verb, number = await ui.right_edges("Childline", ["Childline", first_arabic_word, "0800"])
    assert name > verb > number, "the Childline line does not read right to left"


# --- tests -------------------------------------------------------------------------------------


async def test_teams_english_end_to_end(
    e2e_settings, content, bot, page, playground, mail, tmp_path
):
    review, code = await add_review(e2e_settings, review_data(first_name="Sam"))
    en = Words(content, "en")
    ok, skip = en.control("submit"), en.control("skip")
    server = await playground("msteams")
    ui = Playground(page, "msteams")

    await ui.open(server.url, expect=[en.msg("welcome_what"), en.q("invite_code")])
    # The Playground says its language (en-US): not asked again. The name on the review is
    # offered as one tap.
    await ui.type(code, expect=[en.msg("linked", name="Sam"), en.q("name")])
    await ui.tap_card("Sam", expect=en.q("pronouns"))
    # One choice is one tap: a button per option, no OK.
    pronouns_card = page.locator(CARD).filter(has_text=en.q("pronouns"))
    await expect(pronouns_card.locator(f'button[title="{ok}"]')).to_have_count(0)
    await ui.tap_card(en.option("pronouns", "they_them"), expect=en.q("take_part"))
    # The answered card is replaced in place by its answer: nothing left to tap twice.
    await expect(pronouns_card).to_contain_text(
        en("controls.answered.label", answer=en.option("pronouns", "they_them"))
    )
    await expect(pronouns_card.locator("button")).to_have_count(0)
    await ui.type("2", expect=en.q("talk_to_iro"))  # a typed number: written views
    await ui.tap_card(en("choice_yes.label"), expect=en.q("where"))
    await ui.type(en.option("where", "school"), expect=en.q("when"))  # a typed label
    await ui.tap_card(
        ok,
        tick=[en.option("when", "after_school"), en.option("when", "weekend")],
        expect=en.q("who_there"),
    )
    await ui.type("my foster mum and my art teacher", expect=en.q("who_not_there"))
    # The help list keeps a line per way to get help (Teams drops a single line break).
    await ui.type("talk to someone", expect=["Childline", en.q("who_not_there")])
    wanted = en("messages.talk_to_someone", iro=review.iro_name, iro_email=review.iro_email)
    assert await ui.lines_of("Childline") == wanted.split("\n")
    await ui.tap_card(skip, expect=[en.msg("skipped"), en.q("topics")])
    await ui.tap_card(
        ok,
        tick=[en.option("topics", "education"), en.option("topics", "hobbies")],
        expect=en.q("topic_say", topic=en.about("education")),
    )
    await ui.type(
        "I got better at maths, I want more help with reading",
        expect=en.q("topic_say", topic=en.about("hobbies")),
    )
    await ui.type("I love my art club", expect=en.q("not_discussed"))
    # No interpreter question: the chat is in English.
    await ui.tap_card(skip, expect=en.q("my_words"))
    await ui.type("family time not contact", expect=[en("questions.advocate.intro")])
    await ui.tap_card(en("choice_yes.label"), expect=en.q("proud"))
    await ui.type("I won a drawing prize", expect=en.q("anything_else"))
    await ui.tap_card(skip, expect=en.q("who_helped"))
    await ui.tap_card(
        en.option("who_helped", "no_one"),
        expect=[en("questions.share_all.intro"), en.q("share_all")],
    )
    check = await ui.tap_card(
        en.option("share_all", "all_everyone"), expect=[en.msg("check_intro"), en.q("send_confirm")]
    )
    for shown in ("Sam", en.option("where", "school"), "I love my art club"):
        assert shown in check
    await ui.tap_card(en.option("send_confirm", "send"), expect=en.msg("sent"))
    await ui.screenshot(tmp_path / "teams_final.png")

    mail_to_iro = await mail.wait_for(review.iro_email)
    assert mail_to_iro["To"] == review.iro_email
    text = plain_text(mail_to_iro)
    for words in ("I love my art club", "I got better at maths", "family time not contact"):
        assert words in text
    assert "[ ] Arrange an advocate: they asked for one." in text
    for qid, oid in [
        ("pronouns", "they_them"),
        ("take_part", "written_views"),
        ("where", "school"),
        ("when", "after_school"),
        ("when", "weekend"),
        ("topics", "education"),
        ("topics", "hobbies"),
    ]:
        assert en.option(qid, oid) in text, (qid, oid)
    assert "Name to use: Sam" in text and "PN2" in text


async def test_webchat_arabic_pause_restart_and_change(
    e2e_settings, content, bot, page, playground, mail, tmp_path
):
    review, code = await add_review(
        e2e_settings, review_data(first_name="Amira", language_hint="ar")
    )
    en, ar = Words(content, "en"), Words(content, "ar")
    skip = ar.control("skip")
    server = await playground("webchat")
    ui = Playground(page, "webchat")

    await ui.open(server.url, expect=[en.q("invite_code")])
    # The review says Arabic: the safety rule again in Arabic first, and no language question.
    await ui.type(
        code, expect=[ar.msg("welcome_rules"), ar.msg("linked", name="Amira"), ar.q("name")]
    )
    await ui.type("أميرة", expect=ar.q("pronouns"))
    # Five options: listed and numbered in the message, the buttons their numbers.
    await ui.tap_suggested("1", expect=ar.q("take_part"))  # she / her
    # Every option of the take-part question is on screen, none hidden sideways.
    shown = (await ui.bot_messages.last.inner_text()).replace("\u2067", "").replace("\u2069", "")
    for option in content.question("take_part").options:
        assert ar.option("take_part", option.id) in shown
    assert await ui.suggestions_fit_across()
    await ui.type("١", expect=ar.q("talk_to_iro"))  # Arabic-Indic 1: speak for myself
    await ui.tap_suggested(ar("choice_yes.label"), expect=ar.q("where"))

    # Halfway: Help, then Pause. The bot is redeployed while the child is away.
    await ui.tap_suggested(ar.control("help"), expect=ar.msg("help"))
    await ui.tap_suggested(ar.control("pause"), expect=ar.msg("paused"))
    await bot.stop()
    await bot.start()  # a new app instance: same port, same database
    # Same page: in Web Chat a new page load would be a new conversation.
    await ui.type("مرحبا", expect=[ar.msg("welcome_back"), ar.q("where")])

    # "Talk to someone": the list keeps its lines, and each Arabic line reads right to left
    # with the name and the number where an Arabic reader expects them.
    await ui.tap_suggested(ar.control("help"), expect=ar.msg("help"))
    await ui.tap_suggested(ar.control("talk"), expect=["Childline", ar.q("where")])
    await assert_help_reads_right_to_left(ui, ar, review)

    await ui.tap_suggested("4", expect=ar.q("when"))  # online
    # Pick-more-than-one in Arabic on Web Chat: a numbered list that reads right to left (Web
    # Chat draws a card left to right in an English page, whatever the card says), each number
    # at the right of its option; typing the numbers shown picks those options.
    options = content.question("when").options
    first = ar.option("when", options[0].id)
    lines = await ui.lines_of(first)
    assert lines[1:] == [f"{n}. {ar.option('when', o.id)}" for n, o in enumerate(options, 1)]
    number, label = await ui.right_edges_within(f"1. {first}", ["1.", first])
    assert number > label, "the Arabic options do not read right to left"
    await ui.type("٢، ٤", expect=[ar.msg("got_it"), ar.q("who_there")])
    await ui.type("أمي بالتبني ومعلمتي", expect=ar.q("who_not_there"))
    await ui.tap_suggested(skip, expect=[ar.msg("skipped"), ar.q("topics")])
    await ui.type("5", expect=ar.q("topic_say", topic=ar.about("hobbies")))
    await ui.type("أحب الرسم", expect=ar.q("not_discussed"))
    await ui.tap_suggested(skip, expect=ar.q("interpreter"))  # the chat is not in English
    await ui.tap_suggested("3", expect=ar.q("my_words"))  # no interpreter, thanks
    await ui.tap_suggested(skip, expect=[ar("questions.advocate.intro"), ar.q("advocate")])
    await ui.tap_suggested(ar("choice_no.label"), expect=ar.q("proud"))
    await ui.type("فزت في مسابقة", expect=ar.q("anything_else"))
    await ui.tap_suggested(skip, expect=ar.q("who_helped"))
    await ui.tap_suggested("1", expect=ar.q("share_all"))  # no one helped
    # Yes, it may be read out.
    check = await ui.tap_suggested("1", expect=[ar.msg("check_intro"), ar.q("send_confirm")])
    assert "أحب الرسم" in check
    # The list reads right to left: each answer's arrow points from its question, leftwards,
    # and stands at the right of the answer.
    arrow, answer = await ui.right_edges_within("← أحب الرسم", ["←", "أحب الرسم"])
    assert arrow > answer, "the Arabic check list does not read right to left"

    # Change one answer: the one about hobbies, found by its number in the list.
    number = await ui.number_shown_for("أحب الرسم")
    await ui.tap_suggested(ar.option("send_confirm", "change"), expect=ar.q("which_answer"))
    await ui.type(str(number), expect=ar.q("topic_say", topic=ar.about("hobbies")))
    # Changed words: asked who may hear them (shown with their question), then only the
    # change is confirmed, not the whole list again.
    can_be_read_out = ar("questions.share_one.prompt").split("\n")[-1]
    await ui.type("أحب السباحة كثيرا", expect=can_be_read_out)
    await ui.tap_suggested(
        ar.option("share_one", "everyone"),
        expect=[ar.msg("answer_changed"), ar.q("send_confirm")],
    )
    await ui.tap_suggested(ar.option("send_confirm", "send"), expect=ar.msg("sent"))
    await ui.screenshot(tmp_path / "webchat_arabic_final.png")

    mail_to_iro = await mail.wait_for(review.iro_email)
    text = plain_text(mail_to_iro)
    assert "أحب السباحة كثيرا" in text
    assert "أحب الرسم" not in text
    assert "Language used in the chat: Arabic" in text
    assert "in Arabic: not translated" in text
    assert en.option("where", "online") in text  # choices in English for the IRO


async def test_webchat_language_before_the_code_says_the_rules_in_it_first(
    e2e_settings, content, bot, page, playground
):
    review, code = await add_review(e2e_settings, review_data(first_name="Rana"))
    server = await playground("webchat")
    ui = Playground(page, "webchat")

    def said(key: str, locale: str) -> str:
        """Before the code the bot speaks easy read: the longest piece without placeholders."""
        text = content.text(key, locale, "easy")
        return max((p.strip() for p in re.split(r"\{[a-z_]+\}", text)), key=len)

    await ui.open(server.url, expect=[said("messages.welcome_rules", "en")])
    await ui.type("language", expect=said("questions.language.prompt", "en"))
    # Arabic, before the code: the welcome and the safety rule at once, in Arabic, and the
    # code asked for in Arabic; each line right to left.
    reply = await ui.tap_suggested(
        "العربية",
        expect=[
            said("messages.welcome", "ar"),
            said("messages.welcome_rules", "ar"),
            said("questions.invite_code.prompt", "ar"),
        ],
    )
    assert reply.index(said("messages.welcome_rules", "ar")) < reply.index(
        said("questions.invite_code.prompt", "ar")
    )
    rules = said("messages.welcome_rules", "ar")
    first, last = rules.split()[0], rules.split()[-1]
    right_of_first, right_of_last = await ui.right_edges_within(rules, [first, last])
    assert right_of_first > right_of_last, "the Arabic safety rule does not read right to left"
    await ui.type(code, expect=Words(content, "ar").q("name"))  # in Arabic, for her age now


async def test_teams_arabic_help_keeps_its_lines_and_reads_right_to_left(
    e2e_settings, content, bot, page, playground, tmp_path
):
    review, code = await add_review(
        e2e_settings, review_data(first_name="Amira", language_hint="ar")
    )
    en, ar = Words(content, "en"), Words(content, "ar")
    server = await playground("msteams")
    ui = Playground(page, "msteams")

    await ui.open(server.url, expect=[en.q("invite_code")])
    await ui.type(code, expect=[ar.msg("welcome_rules"), ar.q("name")])
    await ui.tap_card(ar.control("help"), expect=ar.msg("help"))
    await ui.tap_card(ar.control("talk"), expect=["Childline", ar.q("name")])

    await assert_help_reads_right_to_left(ui, ar, review)
    await ui.screenshot(tmp_path / "teams_arabic_help.png")
    # Teams draws the question cards (one tap, pick more than one, the check list) in the
    # direction the card gives: right to left in Arabic.
    assert await ui.last_card().get_attribute("dir") == "rtl"
