"""Reading content in tests: assert what the bot says by message id, not by copied wording."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.app import Parts
from storage.content import Content


def chat_languages() -> tuple[str, ...]:
    """Every language the chat is offered in, as content/ has it (a language added there is
    tested without editing a list here)."""
    from storage.content import load_content

    return tuple(sorted(load_content(Path(__file__).resolve().parent.parent / "content").locales))


def content_of(parts: Parts) -> Content:
    return parts.services.content_source.current()


def fragment(parts: Parts, key: str, locale: str = "en", band: str | None = None) -> str:
    """The longest part of a string without placeholders: what must appear when it is said."""
    raw = str(content_of(parts).raw(key, locale, band))
    pieces = [p.strip() for p in re.split(r"\{[a-z_]+\}", raw)]
    return max(pieces, key=len)


def said(
    parts: Parts, transcript: str, key: str, locale: str = "en", band: str | None = None
) -> bool:
    return fragment(parts, key, locale, band) in transcript


def said_in_any_band(parts: Parts, transcript: str, key: str, locale: str = "en") -> bool:
    """Said in the wording of some age band: before the code, the easy-read one."""
    bands = [None, *(b.id for b in content_of(parts).age_bands)]
    return any(said(parts, transcript, key, locale, band) for band in bands)


def text(parts: Parts, key: str, locale: str = "en", band: str | None = None, **values: Any) -> str:
    """A string as the bot says it, its placeholders filled: a label, or a whole sentence."""
    return content_of(parts).text(key, locale, band, **values)


def linked_as(parts: Parts, transcript: str, name: str) -> bool:
    """The "Thank you, <name>! Your review is on <date>..." message, with this name."""
    return said(parts, transcript, "messages.linked") and f"{name}!" in transcript


async def until_said(
    parts: Parts,
    chat: Any,
    key: str,
    step: Callable[[], Awaitable[Any]],
    *,
    locale: str = "en",
    band: str | None = None,
    limit: int = 60,
) -> str:
    """Takes `step` until the bot says `key`; fails, rather than hangs, if it never does."""
    for _ in range(limit):
        if said(parts, chat.said, key, locale, band):
            return chat.said
        await step()
    raise AssertionError(f"{key} not said after {limit} steps; last said:\n{chat.said}")


async def wait_for_eml(directory: Path, count: int = 1, timeout: float = 5.0) -> list[Path]:
    for _ in range(int(timeout / 0.05)):
        files = sorted(directory.glob("*.eml")) if directory.exists() else []
        if len(files) >= count:
            return files
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} .eml files in {directory}")


async def answers_of(parts: Parts, review_id: int) -> dict[str, Any]:
    rows = await parts.repos.answers.all_for(review_id=review_id)
    return {k: (a.kind, a.value) for k, a in rows.items()}


# What a child in a hurry says at each question: essentials answered, the rest skipped.
QUICK = {"take_part": "1", "share_all": "1"}


async def to_question(chat: Any, key: str, parts: Parts, review_id: int) -> None:
    """Answers "English" and name "Sammy", then QUICK, until `key` is waiting (bounded)."""
    await chat.say("English")
    await chat.say("Sammy")
    await answer_until(chat, parts, key)


async def answer_until(chat: Any, parts: Parts, key: str) -> None:
    for _ in range(60):
        waiting = await waiting_key(parts, chat)
        if waiting == key:
            return
        await chat.say(QUICK.get(waiting or "", "skip"))
    raise AssertionError(f"never reached {key}: {chat.said}")


async def waiting_key(parts: Parts, chat: Any) -> str | None:
    """The question the bot last put to this chat, as the stored conversation state says."""
    found = await parts.repos.bot_state.read(
        keys=[f"{chat.channel_id}/conversations/{chat.conversation_id}"]
    )
    (stored,) = found.values()
    asked = json.loads(stored.data)["profile"].get("asked") or {}
    return asked.get("key")
