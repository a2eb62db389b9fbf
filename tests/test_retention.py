"""Kept only as long as needed: sent email bodies dropped, reviews deleted after the council's
retention period or at a young person's request, and everything held handed over on request."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import text as sql
from sqlmodel import SQLModel

from bot.cli import export_review, purge_review
from bot.jobs import housekeeping
from storage.repositories import NO_CHILD_DATA, PASSING_THROUGH
from tests.consult import wait_for_eml

MARK = "Zanzibar-Marigold"


async def _everything(parts, new_chat, new_review, settings):
    """A review with a child's words in every place they can be: answers, an alert, the state
    of the chat, the replies kept for resends, and a sent summary."""
    review, code = await new_review()
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code)
    await chat.say("English")
    await chat.say(f"{MARK} <script>alert(1)</script>")
    await chat.say(f"he hits me {MARK}")
    await wait_for_eml(settings.outbox_dir)
    return review, chat


async def _rows_with(parts, needle: str) -> dict[str, int]:
    """Rows holding `needle`, read through the app's keys (the raw file holds none: see
    tests/test_sealed.py)."""
    found: dict[str, int] = {}
    async with parts.db.engine.connect() as conn:
        for table in SQLModel.metadata.tables.values():
            rows = (await conn.execute(select(table))).all()
            hits = sum(1 for row in rows if needle in repr(tuple(row)))
            if hits:
                found[table.name] = hits
    return found


async def test_every_table_is_either_purged_and_exported_or_holds_no_child_data(
    parts, new_chat, new_review, settings
):
    review, _ = await _everything(parts, new_chat, new_review, settings)
    data = await parts.repos.privacy.export(review_id=review.id)
    tables = set(SQLModel.metadata.tables)
    # A new table must be added to the purge and export, or to NO_CHILD_DATA (or to
    # PASSING_THROUGH, kept for minutes) with a reason.
    held = tables - NO_CHILD_DATA - PASSING_THROUGH
    assert held == set(data), held ^ set(data)


def _emails_with(settings, needle: str) -> list[str]:
    """The .eml files (development mail) that quote `needle`."""
    files = settings.outbox_dir.glob("*.eml") if settings.outbox_dir.exists() else []
    return [p.name for p in files if needle.encode() in p.read_bytes()]


async def test_purge_leaves_nothing_of_the_child(parts, new_chat, new_review, settings):
    review, chat = await _everything(parts, new_chat, new_review, settings)
    assert set(await _rows_with(parts, MARK)) >= {"answer", "safeguardingalert"}
    assert _emails_with(settings, MARK)  # the alert email, as a development .eml file
    counts = await purge_review(settings, review.id)
    assert counts["review"] == 1 and counts["answer"] >= 1
    assert await _rows_with(parts, MARK) == {}
    assert _emails_with(settings, MARK) == []
    assert await parts.repos.reviews.get(review_id=review.id) is None
    # The chat carries on as a new one: it is asked for a code.
    assert "code" in (await chat.say("hello")).lower()


async def test_export_holds_everything_and_html_shows_words_as_text(
    parts, new_chat, new_review, settings, tmp_path
):
    review, _ = await _everything(parts, new_chat, new_review, settings)
    json_path, html_path = await export_review(settings, review.id, tmp_path / "export")
    data = json.loads(json_path.read_text())["data"]
    assert any(MARK in json.dumps(a) for a in data["answer"])
    assert any(MARK in a["message"] for a in data["safeguardingalert"])
    assert "invite_code_hash" not in data["review"][0]
    html = html_path.read_text()
    assert MARK in html and "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    for path in (json_path, html_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_sent_email_bodies_are_dropped_from_the_database(
    parts, new_chat, new_review, settings
):
    await _everything(parts, new_chat, new_review, settings)
    # The .eml is written before its row is marked sent (and its body dropped): wait for that.
    for _ in range(100):
        if all(m.status == "sent" for m in await parts.repos.outbox.list()):
            break
        await asyncio.sleep(0.05)
    assert "outboxmessage" not in await _rows_with(parts, MARK)
    async with parts.db.engine.connect() as conn:
        sent = (await conn.execute(sql("SELECT kind, subject FROM outboxmessage"))).all()
    assert sent and all(subject for _, subject in sent)


async def test_housekeeping_deletes_a_review_after_the_retention_period(
    parts, new_chat, new_review, settings
):
    review, _ = await _everything(parts, new_chat, new_review, settings)
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    now = parts.services.clock()
    # A week on: the .eml file (development mail) goes; the review stays.
    parts.services.clock = lambda: now + timedelta(days=6)
    await housekeeping(parts)
    assert eml.exists()
    parts.services.clock = lambda: now + timedelta(days=8)
    await housekeeping(parts)
    assert not eml.exists()
    # The review is in 14 days; it stays until the retention period after it has passed.
    parts.services.clock = lambda: now + timedelta(days=14 + settings.retention_days - 1)
    await housekeeping(parts)
    assert await parts.repos.reviews.get(review_id=review.id) is not None
    parts.services.clock = lambda: now + timedelta(days=14 + settings.retention_days + 1)
    await housekeeping(parts)
    assert await parts.repos.reviews.get(review_id=review.id) is None
    assert await _rows_with(parts, MARK) == {}


async def test_purge_takes_the_emails_of_a_worry_raised_before_the_code_too(
    parts, new_chat, new_review, settings
):
    # The duty team's email went before the chat had a review; the child then linked.
    review, code = await new_review()
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(f"he hits me {MARK}")
    await wait_for_eml(settings.outbox_dir)
    await chat.say(code)
    other_review, other_code = await new_review(first_name="Alex")
    other = new_chat("msteams", user_id="child-2")
    await other.start()
    await other.say(other_code)
    await other.say("my dad hurts me Other-Child")
    await wait_for_eml(settings.outbox_dir, count=3)
    assert len(_emails_with(settings, MARK)) == 2  # to the duty team, then to the IRO

    await purge_review(settings, review.id)

    assert _emails_with(settings, MARK) == []
    assert _emails_with(settings, "Other-Child")  # another child's email stays


async def test_commands_for_a_review_that_does_not_exist_say_so(settings, parts, tmp_path):
    import pytest

    from bot.cli import new_code

    with pytest.raises(SystemExit, match="There is no review 999"):
        await export_review(settings, 999, tmp_path / "out")
    with pytest.raises(SystemExit, match="There is no review 999"):
        await new_code(settings, 999)
    assert not (tmp_path / "out").exists()
