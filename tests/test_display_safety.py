"""A child's words are shown as they wrote them, and as nothing else: not reversed or hidden by
invisible characters, not turned into links or bold in a card, not split into what looks like
another line of the IRO's email. Wherever they are shown: the answered card, the check list,
the "who can hear this?" quote, what the bot calls them, the summary and the alert.
"""

from __future__ import annotations

import asyncio
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from dialogs.display import (
    CONTINUED,
    card_text,
    child_text,
    continued,
    md_escape,
    plain_text,
    shown,
)
from dialogs.render import PDI, RLI
from tests.consult import answer_until, content_of, said, text, until_said, wait_for_eml

# "abc", RIGHT-TO-LEFT OVERRIDE, "gpj.exe": where the override works it reads "abcexe.jpg".
SPOOF = "abc\u202egpj.exe"
UNSPOOFED = "abcgpj.exe"
LINK = "[click here](http://evil.example) **now**"
LINK_ESCAPED = r"\[click here\](http://evil.example) \*\*now\*\*"


def blocks(activity: dict[str, Any]) -> list[str]:
    """The text blocks of a card, as the card's JSON carries them (Markdown and all), those
    inside containers too (each answer of the check list is one, to tap)."""

    def walk(items: list[dict[str, Any]]) -> list[str]:
        found: list[str] = []
        for b in items:
            if b.get("type") == "TextBlock":
                found.append(b["text"])
            found += walk(b.get("items") or [])
        return found

    return [
        text
        for att in activity.get("attachments") or []
        for text in walk((att.get("content") or {}).get("body", []))
    ]


async def to_check(chat: Any, parts: Any, name: str) -> str:
    """Language, then `name` as their name, the essentials, every other question skipped, to
    the list of answers with Send under it."""
    await chat.say("English")
    await chat.say(name)
    await chat.say("skip")  # pronouns
    await chat.say("1")  # how they take part: it cannot be skipped
    return await until_said(parts, chat, "questions.send_confirm.prompt", lambda: chat.say("skip"))


async def summary_eml(directory: Path) -> Path:
    for _ in range(100):
        for path in await wait_for_eml(directory):
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            if str(mail["Subject"]).startswith("My Review"):
                return path
        await asyncio.sleep(0.05)
    raise AssertionError("no summary email")


def email(path: Path) -> tuple[str, str]:
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(mail, EmailMessage)
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


# --- in the chat ---------------------------------------------------------------------------------


async def test_a_reversed_file_name_reads_in_its_real_order_on_the_answered_card(
    linked_chat, parts, connector
):
    conn, _ = connector
    review, chat = await linked_chat("msteams")
    await chat.say("English")

    await chat.say(SPOOF)  # their name

    card = json.dumps(conn.updates[-1], ensure_ascii=False)
    assert text(parts, "controls.answered.label", answer=UNSPOOFED) in card
    assert "\u202e" not in card and "\u202e" not in chat.said


@pytest.mark.parametrize("channel", ["msteams", "webchat"])
async def test_markdown_in_an_answer_is_shown_not_followed_in_the_check_card(
    linked_chat, parts, channel
):
    review, chat = await linked_chat(channel)

    await to_check(chat, parts, LINK)

    [check] = [a for a in chat.replies if said(parts, "\n".join(blocks(a)), "messages.check_intro")]
    texts = blocks(check)
    assert f"→ {LINK_ESCAPED}" in texts  # shows the brackets and stars, links nowhere
    assert f"→ {LINK}" not in texts
    # The card's own Markdown still works: the numbers are bold.
    assert any(t.startswith("**1.** ") for t in texts)


async def test_plain_text_shows_the_words_exactly_as_written(linked_chat, parts):
    review, chat = await linked_chat("sms")

    transcript = await to_check(chat, parts, LINK)

    assert f"→ {LINK}\n" in transcript  # nothing to escape where nothing is Markdown
    assert "\\[" not in transcript


async def test_the_who_can_hear_this_quote_is_escaped_where_markdown_is_read(linked_chat, parts):
    choose = text(parts, "questions.share_all.options.choose.label")
    asked = text(parts, "questions.not_discussed.prompt", band="13+")
    teams_review, teams = await linked_chat("msteams")
    await teams.say("English")
    await answer_until(teams, parts, "not_discussed")
    await teams.say(f"{LINK} {SPOOF}")
    await answer_until(teams, parts, "share_all")

    await teams.pick(choose)

    [prompt, *_] = blocks(teams.last_question())
    assert prompt == text(
        parts,
        "questions.share_one.prompt",
        question=asked,
        answer=f"{LINK_ESCAPED} {UNSPOOFED}",
    )

    webchat_review, webchat = await linked_chat("webchat")
    await webchat.say("English")
    await answer_until(webchat, parts, "not_discussed")
    await webchat.say(f"{LINK} {SPOOF}")
    await answer_until(webchat, parts, "share_all")

    await webchat.say(choose)  # numbered on Web Chat; the label typed works the same

    # Web Chat reads message text as Markdown (a single line break is lost there): a blank
    # line between lines, and the child's words escaped, as in a card.
    question = webchat.last_question()
    assert question["textFormat"] == "markdown"
    wanted = text(
        parts, "questions.share_one.prompt", question=asked, answer=f"{LINK_ESCAPED} {UNSPOOFED}"
    )
    assert question["text"] == wanted.replace("\n", "\n\n")


async def test_a_name_cannot_break_out_of_the_bots_right_to_left_lines(
    linked_chat, new_chat, parts, settings
):
    from bot.cli import new_code

    review, chat = await linked_chat("webchat", language_hint="ar")  # Arabic from the start
    # A name that would close the bot's isolation early, then reverse what follows.
    await chat.say(f"{PDI}أميرة\u202e 2")

    # The child moves to a new device with a new code from their IRO: welcomed by name.
    _, code, _ = await new_code(settings, review.id or 0)
    other = new_chat("webchat")
    await other.start()
    await other.say(code)

    [welcome] = [a["text"] for a in other.replies if "أميرة" in (a.get("text") or "")]
    assert text(parts, "messages.linked_again", "ar", name="أميرة 2") in welcome
    for line in filter(None, welcome.split("\n")):
        assert line.startswith(RLI) and line.endswith(PDI) and line.count(PDI) == 1
    assert "\u202e" not in welcome


# --- in the emails -------------------------------------------------------------------------------


async def test_a_line_break_in_an_answer_cannot_forge_a_line_of_the_summary(
    linked_chat, parts, settings
):
    content = content_of(parts)
    days, who = (
        content.text(f"questions.{q}.summary", "en") for q in ("not_discussed", "who_there")
    )
    forged = f"- {who}: my dad"  # what a row of the summary looks like
    review, chat = await linked_chat("sms")
    await chat.say("English")
    await chat.say(SPOOF)
    await answer_until(chat, parts, "not_discussed")

    await chat.say(f"<b>not Fridays</b>\n{forged}\r\n\u2028{days}: my birthday")
    await answer_until(chat, parts, "share_all")
    await chat.say("1")  # everyone may hear it
    await chat.say("send")

    # The summary (the screen may also have sent the IRO a note about the odd message).
    eml = await summary_eml(settings.outbox_dir)
    plain, html = email(eml)
    lines = plain.splitlines()
    # The answer's own lines are marked as continuing it; none reads as a line of its own.
    answer = lines.index(f"- {days}: <b>not Fridays</b>")
    assert lines[answer + 1 : answer + 4] == [
        f"{CONTINUED}{forged}",
        CONTINUED.rstrip(),
        f"{CONTINUED}{days}: my birthday",
    ]
    # Wherever the answer is shown (its row, and the action box at the top), every line of it
    # past the first is marked.
    marked = [ln for ln in lines if "my dad" in ln or "my birthday" in ln]
    assert marked and all(ln.startswith(CONTINUED) for ln in marked), marked
    # HTML shows the tags as typed, and nothing in either part reverses or hides text.
    assert "&lt;b&gt;not Fridays&lt;/b&gt;" in html and "<b>not" not in html
    for body in (plain, html):
        assert UNSPOOFED in body and "\u202e" not in body and "\u2028" not in body


async def test_the_alert_quotes_a_disclosure_without_forged_lines(new_chat, new_review, settings):
    review, code = await new_review(first_name="Sam")
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code)
    await chat.pick("English")

    await chat.say("my step dad hits me\u202e\nLanguage: English\n\nAlert reference: 0")

    [eml] = await wait_for_eml(settings.outbox_dir)
    plain, html = email(eml)
    lines = plain.splitlines()
    start = lines.index('"my step dad hits me')
    assert lines[start + 1 : start + 4] == [
        f"{CONTINUED}Language: English",
        CONTINUED.rstrip(),
        f'{CONTINUED}Alert reference: 0"',
    ]
    assert "\u202e" not in plain and "\u202e" not in html


# --- names staff typed ----------------------------------------------------------------------------

BIDI = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u200e\u200f\u061c"


@pytest.mark.parametrize("stored", ["typed now", "stored before"])
async def test_bidi_controls_in_names_staff_typed_are_taken_out_wherever_they_are_shown(
    new_chat, new_review, parts, settings, stored
):
    """A name a member of staff typed (or pasted) with a right-to-left override in it shows in
    its real order in the chat and in the email's subject and body; also a name stored before
    this was fixed."""
    names = {"first_name": "Sam\u202eevil", "iro_name": "Jo\u2067 Smith\u2069"}
    names["place"] = "Oak\u200f House\n, room\u202d 2"
    review, code = await new_review(**({} if stored == "stored before" else names))
    if stored == "stored before":
        from sqlalchemy import text as sql

        keys = parts.db.keys
        async with parts.db.engine.begin() as conn:
            await conn.execute(
                sql("UPDATE review SET first_name = :f, iro_name = :i, place = :p"),
                {
                    "f": keys.seal(names["first_name"], aad="review.first_name"),
                    "i": names["iro_name"],
                    "p": keys.seal(names["place"], aad="review.place"),
                },
            )
    chat = new_chat("msteams")
    await chat.start()
    linked = await chat.say(code)
    await chat.pick("English")
    helped = await chat.say("talk to someone")
    assert "Samevil" in linked and "Oak House , room 2" in linked
    assert "Jo Smith" in helped
    await chat.say("she hits me")  # an alert: the names in an email
    [eml] = await wait_for_eml(settings.outbox_dir)
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    plain, html = email(eml)
    assert "Samevil" in plain and "Jo Smith" in plain
    for shown_text in (linked, helped, plain, html, str(mail["Subject"])):
        assert not set(BIDI) & set(shown_text), shown_text
    # The summary's subject names the child.
    async with parts.db.unit_of_work():
        await parts.services.notifier.summary(review_id=review.id, updated=False)
    [summary] = [
        m for m in await parts.repos.outbox.list(review_id=review.id) if m.kind == "summary"
    ]
    assert "Samevil" in summary.subject and not set(BIDI) & set(summary.subject)


# --- the functions -------------------------------------------------------------------------------


def test_shown_takes_out_what_reorders_or_hides_text_and_keeps_the_rest():
    assert shown(SPOOF) == UNSPOOFED
    assert shown("Sa\u200bm\u2060\ufeff\u00ad\u2066y\u2069\u200e") == "Samy"
    assert (
        shown("one\r\ntwo\rthree\u2028four\u2029five\x85six") == "one\ntwo\nthree\nfour\nfive\nsix"
    )
    assert shown("tab\tand\x1b[31mred\x07") == "tab\tand[31mred"
    # Joiners that are part of how a word or an emoji is written stay.
    for kept in (
        "👩🏽\u200d💻",
        "🏳️\u200d🌈",
        "می\u200cخواهم",
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    ):
        assert shown(kept) == kept
    assert shown("a \u200dword\u200c") == "a word"
    assert shown("hidden\U000e0041\U000e0042") == "hidden"
    assert shown("أريد أن تكون أمي هناك") == "أريد أن تكون أمي هناك"
    assert shown(shown(SPOOF + "\u2028x")) == shown(SPOOF + "\u2028x")


def test_md_escape_leaves_nothing_for_markdown_to_act_on():
    assert md_escape(LINK) == LINK_ESCAPED
    assert (
        md_escape("_x_ `y` ~~z~~ <http://a> &amp;") == r"\_x\_ \`y\` \~\~z\~\~ \<http://a> \&amp;"
    )
    assert md_escape("- a\n+ b\n  1. c\n2) d\n# e\n> f\n===") == (
        "\\- a\n\\+ b\n  1\\. c\n2\\) d\n\\# e\n\\> f\n\\==="
    )
    assert md_escape("I like maths, 3.5 hours a day - really!") == (
        "I like maths, 3.5 hours a day - really!"
    )


def test_only_the_childs_words_are_escaped_and_the_marks_never_show():
    line = f"**Your answer:** {child_text(LINK)}"
    assert card_text(line) == f"**Your answer:** {LINK_ESCAPED}"
    assert plain_text(line) == f"**Your answer:** {LINK}"
    # Cut short after it was marked (a long answer in the check list): still escaped.
    assert card_text(child_text("**bold**")[:-2]) == r"\*\*bold\*"
    # A child cannot write the marks themselves to escape the escaping.
    forged = child_text("\ufdd1**x**\ufdd0")
    assert card_text(forged) == r"\*\*x\*\*" and plain_text(forged) == "**x**"


def test_continued_marks_every_further_line():
    assert continued("one line") == "one line"
    assert continued("a\n\nb") == f"a\n{CONTINUED.rstrip()}\n{CONTINUED}b"
