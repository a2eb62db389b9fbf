"""The easy path (easy read, or a young child): a picture on every button, easy-read help, and
"Start again" nowhere near "Carry on"."""

from __future__ import annotations

import unicodedata

from bot.app import Parts
from tests.chat import choice_set, option_buttons
from tests.consult import QUICK, text, waiting_key


def has_a_picture(title: str) -> bool:
    """Starts with a picture (an emoji), before any word."""
    first = title.strip()[:1]
    return bool(first) and unicodedata.category(first) == "So"


def titles(chat) -> set[str]:
    """Every button and tick box of the question on screen."""
    found = set(chat.buttons())
    for att in chat.last_question().get("attachments") or []:
        content = att.get("content") or {}
        found |= set(option_buttons(content))
        choices = choice_set(content)
        if choices is not None:
            found |= {c["title"] for c in choices["choices"]}
    return found


async def test_every_button_on_the_easy_path_has_a_picture(linked_chat, parts: Parts):
    review, chat = await linked_chat("msteams", easy_read=True)
    await chat.say("English")
    await chat.say("Sam")
    seen: set[str] = set()
    for _ in range(60):
        seen |= titles(chat)
        waiting = await waiting_key(parts, chat)
        if waiting == "send_confirm":
            break
        await chat.say(QUICK.get(waiting or "", "skip"))
    seen |= titles(chat)
    await chat.tap(text(parts, "controls.help.label", band="easy"))
    seen |= titles(chat)
    assert len(seen) > 15
    assert [t for t in seen if not has_a_picture(t)] == []


async def test_easy_help_is_short_lines_and_has_no_start_again(linked_chat, parts: Parts):
    review, chat = await linked_chat("msteams", easy_read=True)
    reply = await chat.tap(text(parts, "controls.help.label", band="easy"))
    assert text(parts, "messages.help", band="easy") in reply
    assert all(
        len(line.split()) <= 10 for line in text(parts, "messages.help", band="easy").split("\n")
    )
    buttons = set(chat.buttons())
    assert text(parts, "controls.repeat.label", band="easy") in buttons
    assert not [b for b in buttons if text(parts, "controls.restart.label") in b]
    # Typing it still works, and still asks first.
    reply = await chat.say("start again")
    assert text(parts, "questions.restart_confirm.prompt", band="easy").split("\n")[0][:20] in reply


async def test_start_again_is_last_in_the_help_elsewhere(linked_chat, parts: Parts):
    review, chat = await linked_chat("msteams", age=14)
    await chat.tap(text(parts, "controls.help.label"))
    titles = list(chat.buttons())
    assert titles[0] == text(parts, "controls.repeat.label")
    assert titles[-1] == text(parts, "controls.restart.label")
