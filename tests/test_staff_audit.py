"""The audit trail: append-only, chained by hashes, written with what it records. A row
edited or taken out of the SQLite file is found by `myreview audit verify` (exit code 1)."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from typing import Any

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
    # Making the review is a change, audited too (from the command line: no staff id).
    assert [e.action for e in rows] == ["review.created", "sign_in"] + ["review.viewed"] * 3
    return [e.id for e in rows]


async def verify(settings, monkeypatch, tmp_path) -> None:
    """`myreview audit verify`, as an operator runs it (in a thread: it runs its own loop)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MYREVIEW_VAR_DIR", str(settings.var_dir))
    await asyncio.to_thread(cli.main, ["audit", "verify"])


async def tamper(settings, statement: str, params: tuple[Any, ...] = ()) -> None:
    """What someone with the file can do: the database's own guard goes first. In a thread:
    sqlite3 waits for the write lock, and the app's jobs (running in this loop) must be able to
    finish the transaction holding it."""
    path = settings.database_url.split(":///", 1)[1]

    def run() -> None:
        conn = sqlite3.connect(path, timeout=30)
        try:
            with conn:  # one transaction, committed
                conn.execute("DROP TRIGGER auditevent_no_update")
                conn.execute("DROP TRIGGER auditevent_no_delete")
                conn.execute(statement, params)
        finally:
            conn.close()

    await asyncio.to_thread(run)


async def test_each_row_is_chained_to_the_one_before(client, parts, new_review):
    await _trail(client, parts, new_review)
    rows = await audit_rows(parts)
    assert rows[0].prev_hash == GENESIS
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == before.hash and row.id == before.id + 1
    assert all(row_hash(r) == r.hash for r in rows)
    found = await parts.repos.audit.verify()
    assert found.ok and found.rows == 5 and found.head == rows[-1].hash


async def test_verify_passes_on_an_intact_trail(
    client, parts, new_review, settings, monkeypatch, tmp_path, capsys
):
    await _trail(client, parts, new_review)
    await verify(settings, monkeypatch, tmp_path)
    assert "Audit trail intact: 5 row(s)" in capsys.readouterr().out


async def test_an_edited_row_is_found(
    client, parts, new_review, settings, monkeypatch, tmp_path, capsys
):
    ids = await _trail(client, parts, new_review)
    await tamper(settings, "UPDATE auditevent SET staff_id = 99 WHERE id = ?", (ids[2],))
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
    await tamper(
        settings,
        "UPDATE auditevent SET review_id = 12345, hash = ? WHERE id = ?",
        (row_hash(forged), ids[1]),
    )
    found = await parts.repos.audit.verify()
    assert found.broken_at == ids[2] and "does not follow" in (found.why or "")


async def test_a_deleted_row_is_found(
    client, parts, new_review, settings, monkeypatch, tmp_path, capsys
):
    ids = await _trail(client, parts, new_review)
    await tamper(settings, "DELETE FROM auditevent WHERE id = ?", (ids[1],))
    with pytest.raises(SystemExit):
        await verify(settings, monkeypatch, tmp_path)
    assert (
        f"BROKEN at row {ids[2]}: rows {ids[1]} to {ids[1]} are missing" in capsys.readouterr().out
    )


async def test_the_database_refuses_to_change_or_delete_a_row(client, parts, new_review, settings):
    await _trail(client, parts, new_review)
    path = settings.database_url.split(":///", 1)[1]

    def refused(statement: str) -> str:
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute(statement)
        except sqlite3.DatabaseError as exc:
            return str(exc)
        finally:
            conn.close()
        return "changed"

    for statement in ("UPDATE auditevent SET action = 'x'", "DELETE FROM auditevent"):
        assert "append-only" in await asyncio.to_thread(refused, statement)


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


async def test_an_admin_downloads_the_whole_trail_and_the_download_is_in_it(
    client, parts, new_review, linked_chat
):
    review, chat = await linked_chat(iro_email=JO)
    await chat.say("English")
    await chat.say("Zanzibar-Marigold")
    await make_staff(parts, email=JO, role="iro")
    jo_csrf = await signed_in(client, JO)
    assert (await client.get(f"/staff/reviews/{review.id}")).status == 200
    # Not an admin: no such page.
    refused = await client.post("/staff/admin/audit.csv", data={"csrf": jo_csrf})
    assert refused.status == 404
    await client.post("/staff/sign-out", data={"csrf": jo_csrf})
    await make_staff(parts, email="ada@council.example", role="admin")
    csrf = await signed_in(client, "ada@council.example")
    stale = await client.post("/staff/admin/audit.csv", data={"csrf": "not the token"})
    assert stale.status == 403 and (await audit_rows(parts))[-1].action != "audit.exported"

    got = await client.post("/staff/admin/audit.csv", data={"csrf": csrf})
    assert got.status == 200 and got.content_type == "text/csv"
    assert got.headers["Content-Disposition"].startswith('attachment; filename="myreview-audit-')
    text = (await got.read()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    stored = await audit_rows(parts)
    # Every row, in order, with the hashes that chain them; the download itself the last.
    assert [int(r["id"]) for r in rows] == [e.id for e in stored]
    assert [r["hash"] for r in rows] == [e.hash for e in stored]
    assert rows[-1]["action"] == "audit.exported"
    assert rows[-1]["staff_email"] == "ada@council.example"
    assert "review.viewed" in {r["action"] for r in rows}
    assert "Zanzibar" not in text and "Marigold" not in text
