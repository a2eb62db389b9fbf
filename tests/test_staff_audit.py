"""The audit trail: append-only, chained by hashes, written with what it records. A row
edited or taken out of the SQLite file is found by `myreview audit verify` (exit code 1)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot import cli
from storage.repositories.audit import GENESIS, row_hash
from tests.staff import (
    audit_rows,
    make_staff,
    signed_in,
)

JO = "jo.smith@council.example"


async def _trail(client, parts, new_review) -> list[int]:
    review, _ = await new_review(iro_email=JO)
    await make_staff(parts, email=JO, role="iro")
    await signed_in(client, JO)
    for _ in range(3):
        assert (await client.get(f"/staff/reviews/{review.id}")).status == 200
    rows = await audit_rows(parts)
    assert [e.action for e in rows] == ["sign_in"] + ["review.viewed"] * 3
    return [e.id for e in rows]


async def verify(settings, monkeypatch, tmp_path) -> None:
    """`myreview audit verify`, as an operator runs it (in a thread: it runs its own loop)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MYREVIEW_VAR_DIR", str(settings.var_dir))
    await asyncio.to_thread(cli.main, ["audit", "verify"])


async def on_the_file(settings, statement: str, *args: object) -> None:
    """What someone with the database file does, beside the running app: in a thread, so the
    app's background jobs (their transactions ride the event loop) can finish meanwhile."""

    def run() -> None:
        with raw(settings) as conn:
            conn.execute(statement, args)

    await asyncio.to_thread(run)


def raw(settings) -> sqlite3.Connection:
    path = settings.database_url.split(":///", 1)[1]
    conn = sqlite3.connect(path)
    # What someone with the file can do: the database's own guard goes first.
    conn.execute("DROP TRIGGER auditevent_no_update")
    conn.execute("DROP TRIGGER auditevent_no_delete")
    return conn


async def test_each_row_is_chained_to_the_one_before(client, parts, new_review):
    await _trail(client, parts, new_review)
    rows = await audit_rows(parts)
    assert rows[0].prev_hash == GENESIS
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == before.hash and row.id == before.id + 1
    assert all(row_hash(r) == r.hash for r in rows)
    found = await parts.repos.audit.verify()
    assert found.ok and found.rows == 4 and found.head == rows[-1].hash


async def test_verify_passes_on_an_intact_trail(
    client, parts, new_review, settings, monkeypatch, tmp_path, capsys
):
    await _trail(client, parts, new_review)
    await verify(settings, monkeypatch, tmp_path)
    assert "Audit trail intact: 4 row(s)" in capsys.readouterr().out


async def test_an_edited_row_is_found(
    client, parts, new_review, settings, monkeypatch, tmp_path, capsys
):
    ids = await _trail(client, parts, new_review)
    await on_the_file(settings, "UPDATE auditevent SET staff_id = 99 WHERE id = ?", ids[2])
    with pytest.raises(SystemExit) as exited:
        await verify(settings, monkeypatch, tmp_path)
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert f"BROKEN at row {ids[2]}: its content does not match its hash" in out


async def test_an_edited_row_with_its_hash_made_again_is_found_by_the_next(
    client, parts, new_review, settings
):
    ids = await _trail(client, parts, new_review)
    rows = await audit_rows(parts)
    forged = rows[1].model_copy(update={"review_id": 12345})
    await on_the_file(
        settings,
        "UPDATE auditevent SET review_id = 12345, hash = ? WHERE id = ?",
        row_hash(forged),
        ids[1],
    )
    found = await parts.repos.audit.verify()
    assert found.broken_at == ids[2] and "does not follow" in (found.why or "")


async def test_a_deleted_row_is_found(
    client, parts, new_review, settings, monkeypatch, tmp_path, capsys
):
    ids = await _trail(client, parts, new_review)
    await on_the_file(settings, "DELETE FROM auditevent WHERE id = ?", ids[1])
    with pytest.raises(SystemExit):
        await verify(settings, monkeypatch, tmp_path)
    assert (
        f"BROKEN at row {ids[2]}: rows {ids[1]} to {ids[1]} are missing" in capsys.readouterr().out
    )


async def test_the_database_refuses_to_change_or_delete_a_row(client, parts, new_review, settings):
    await _trail(client, parts, new_review)
    path = settings.database_url.split(":///", 1)[1]

    def refused() -> None:
        with sqlite3.connect(path) as conn:
            for statement in ("UPDATE auditevent SET action = 'x'", "DELETE FROM auditevent"):
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    conn.execute(statement)

    await asyncio.to_thread(refused)


async def test_no_reading_without_its_row_and_no_childs_words_in_the_trail(
    client, parts, settings, linked_chat, monkeypatch
):
    review, chat = await linked_chat(iro_email=JO)
    await chat.say("English")
    await chat.say("Zanzibar-Marigold")
    await make_staff(parts, email=JO, role="iro")
    await signed_in(client, JO)

    async def broken(**kw):
        raise RuntimeError("the audit table is unavailable")

    # If the row cannot be written, the page is not shown: no reading goes unrecorded.
    monkeypatch.setattr(parts.repos.audit, "record", broken)
    page = await client.get(f"/staff/reviews/{review.id}")
    assert page.status == 500 and "Zanzibar" not in await page.text()
    monkeypatch.undo()
    assert (await client.get(f"/staff/reviews/{review.id}")).status == 200
    path = settings.database_url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        dump = "\n".join(conn.iterdump())
    trail = [line for line in dump.splitlines() if "auditevent" in line.lower()]
    assert trail and not any("Zanzibar" in line for line in trail)
