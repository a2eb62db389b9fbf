"""Children's words are sealed at rest: someone with only the database file reads none of them,
and keys rotate while the bot runs without losing or mixing up a word."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text as sql

from bot import cli
from bot.app import PARTS, create_app
from bot.cli import add_review
from bot.jobs import housekeeping
from storage.crypto import Keyring, SealedValueError, new_key_entry
from storage.db import Database
from storage.models import ReviewCreate
from storage.repositories import Repositories
from tests.chat import Chat
from tests.conftest import make_settings, review_data
from tests.consult import wait_for_eml

WORDS = "Zanzibar marigold trampoline"
NAME = "Quillonia"


def raw_bytes(db_file: Path) -> bytes:
    """Everything an attacker with a copy of the database (and its WAL) could read."""
    return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))


async def test_the_database_file_holds_none_of_the_childs_words_or_name(
    parts, new_review, new_chat, settings, tmp_path
):
    review, code = await new_review(first_name=NAME, preferred_name="Quill")
    chat = new_chat("msteams")
    await chat.start()
    await chat.say(code)
    await chat.say("English")
    await chat.say(f"{WORDS} is what I want to talk about")
    await chat.say(f"my uncle hits me {WORDS}")
    await wait_for_eml(settings.outbox_dir)  # the duty email was written
    # The app itself reads everything back: the IRO and the duty team lose nothing.
    (alert,) = await parts.repos.alerts.for_review(review_id=review.id)
    assert WORDS in alert.message
    stored = await parts.repos.reviews.get(review_id=review.id)
    assert stored is not None and stored.first_name == NAME

    db_file = tmp_path / "myreview.db"
    data = raw_bytes(db_file)
    assert data, "the database file is there"
    for secret in (WORDS, "Zanzibar", NAME, "Quill", "uncle hits"):
        assert secret.encode() not in data, f"{secret!r} is readable in the raw file"
    # What the attacker sees instead: sealed values naming only the key that sealed them.
    async with parts.db.engine.connect() as conn:
        raw = (await conn.execute(sql("SELECT message FROM safeguardingalert"))).scalar_one()
    assert raw.startswith("v1:dev:") and "hits" not in raw


async def test_development_makes_its_own_key_once_owner_only_and_keeps_it(settings):
    key_file = settings.var_dir / "data-keys"
    parts_one = cli.build_parts(settings)
    await parts_one.db.migrate()
    review = await parts_one.repos.reviews.create(
        data=review_data(first_name=NAME),
        invite_code_hash="h1",
        invite_expires_at=review_data().review_at,
        content_version="files",
    )
    await parts_one.db.dispose()
    parts_one.adapter.close()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_key = key_file.read_text()
    # A restart reads with the same key.
    parts_two = cli.build_parts(settings)
    try:
        again = await parts_two.repos.reviews.get(review_id=review.id)
        assert again is not None and again.first_name == NAME
        assert key_file.read_text() == first_key
    finally:
        await parts_two.db.dispose()
        parts_two.adapter.close()


def _db(path: Path, keys: str) -> Database:
    return Database(f"sqlite+aiosqlite:///{path}", keys=Keyring.parse(keys))


async def _review(repos: Repositories, first_name: str = NAME) -> int:
    data: ReviewCreate = review_data(first_name=first_name)
    row = await repos.reviews.create(
        data=data,
        invite_code_hash=f"hash-{first_name}",
        invite_expires_at=data.review_at,
        content_version="files",
    )
    assert row.id is not None
    return row.id


async def test_a_value_copied_into_another_column_does_not_open(tmp_path):
    db = _db(tmp_path / "a.db", new_key_entry("k1"))
    await db.migrate()
    repos = Repositories(db)
    review_id = await _review(repos)
    await repos.answers.save(
        review_id=review_id, question_id="q", kind="text", value=WORDS, locale="en"
    )
    async with db.engine.begin() as conn:
        await conn.execute(sql("UPDATE review SET first_name = (SELECT value FROM answer LIMIT 1)"))
    with pytest.raises(SealedValueError, match="altered or moved"):
        await repos.reviews.get(review_id=review_id)
    await db.dispose()


async def test_rotation_reseals_everything_while_the_bot_keeps_writing(tmp_path):
    path = tmp_path / "rotate.db"
    old, new = new_key_entry("old"), new_key_entry("new")
    before = _db(path, old)
    await before.migrate()
    repos = Repositories(before)
    review_id = await _review(repos)
    for i in range(1200):
        await repos.answers.save(
            review_id=review_id, question_id=f"q{i}", kind="text", value=f"answer {i}", locale="en"
        )
    await before.dispose()

    # The new key goes first; the old one stays until rotation is done.
    during = _db(path, f"{new},{old}")
    repos = Repositories(during)
    assert (await repos.sealed.count_stale())["answer.value"] == 1200

    async def child_keeps_answering() -> None:
        for i in range(0, 1200, 7):
            await repos.answers.save(
                review_id=review_id,
                question_id=f"q{i}",
                kind="text",
                value=f"changed {i}",
                locale="en",
            )
            await asyncio.sleep(0)

    done, _ = await asyncio.gather(repos.sealed.reseal_all(batch=100), child_keeps_answering())
    assert done.resealed + done.skipped >= 1200 - 172
    assert await repos.sealed.count_stale() == {}
    await during.dispose()

    # Only the new key now: every answer opens, and the child's latest words won.
    after = _db(path, new)
    answers = {
        q: a.value
        for q, a in (await Repositories(after).answers.all_for(review_id=review_id)).items()
    }
    assert len(answers) == 1200
    for i in range(1200):
        assert answers[f"q{i}"] == (f"changed {i}" if i % 7 == 0 else f"answer {i}")
    await after.dispose()


async def test_a_value_under_a_key_that_was_removed_too_early_says_which_key(tmp_path):
    path = tmp_path / "early.db"
    first = _db(path, new_key_entry("k2026a"))
    await first.migrate()
    review_id = await _review(Repositories(first))
    await first.dispose()
    second = _db(path, new_key_entry("k2026b"))
    with pytest.raises(SealedValueError, match="sealed with key k2026a"):
        await Repositories(second).reviews.get(review_id=review_id)
    await second.dispose()


async def test_rows_written_before_encryption_are_sealed_by_housekeeping(parts, new_review):
    review, _ = await new_review()
    # A database from before encryption: plain values, as release 0004 wrote them.
    async with parts.db.engine.begin() as conn:
        await conn.execute(
            sql(
                "INSERT INTO answer (review_id, question_id, kind, value, locale, updated_at) "
                "VALUES (:r, 'topics', 'text', :v, 'en', '2026-11-01 10:00:00')"
            ),
            {"r": review.id, "v": '"my old plain answer"'},
        )
        await conn.execute(sql("UPDATE review SET first_name = 'Plainname'"))
    assert await parts.repos.sealed.count_stale() == {"review.first_name": 1, "answer.value": 1}
    # Still readable before it is sealed.
    (answer,) = (await parts.repos.answers.all_for(review_id=review.id)).values()
    assert answer.value == "my old plain answer"
    await housekeeping(parts)
    assert await parts.repos.sealed.count_stale() == {}
    (answer,) = (await parts.repos.answers.all_for(review_id=review.id)).values()
    assert answer.value == "my old plain answer"
    async with parts.db.engine.connect() as conn:
        raw = (await conn.execute(sql("SELECT value FROM answer"))).scalar_one()
    assert "plain" not in raw


def test_keys_new_and_rotate_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    cli.main(["keys", "new"])
    first = capsys.readouterr().out.strip()
    assert Keyring.parse(first).current.startswith("k")
    monkeypatch.setenv("MYREVIEW_DATA_KEYS", first)
    cli.main(
        ["review", "add", "--first-name", NAME, "--age", "9", "--iro-name", "P"]
        + ["--iro-email", "p@x.example", "--review-at", "2030-12-10T10:00"]
    )
    capsys.readouterr()
    second = new_key_entry("k2")
    monkeypatch.setenv("MYREVIEW_DATA_KEYS", f"{second},{first}")
    cli.main(["keys", "rotate"])
    out = capsys.readouterr().out
    assert "Sealed anew: 1" in out and "older keys can be removed" in out
    # With the old key gone the review still reads.
    monkeypatch.setenv("MYREVIEW_DATA_KEYS", second)
    cli.main(["keys", "rotate"])
    assert "Under an older key or not yet sealed: 0" in capsys.readouterr().out
    # And a key that is gone too early stops with its name, not a stack trace.
    monkeypatch.setenv("MYREVIEW_DATA_KEYS", new_key_entry("k3"))
    with pytest.raises(SystemExit, match="sealed with key k2"):
        cli.main(["review", "export", "--review-id", "1", "--out", str(tmp_path / "x")])


async def test_keys_rotate_while_a_child_keeps_chatting(tmp_path, connector):
    """README "Keys": restart with the new key first, then rotate beside the running bot."""
    conn, url = connector
    old, new = new_key_entry("old"), new_key_entry("new")
    before = make_settings(tmp_path, data_keys=old)
    review, code = await add_review(before, review_data())
    async with TestClient(TestServer(create_app(before))) as client:
        chat = Chat(client, conn, url, channel_id="webchat")
        await chat.start()
        await chat.say(code)
        await chat.say("English")
        assert "she / her" in await chat.say("Sammy")

    during = make_settings(tmp_path, data_keys=f"{new},{old}")
    async with TestClient(TestServer(create_app(during))) as client:
        chat.client = client
        rotation = asyncio.create_task(cli.rotate_keys(during, batch=2))
        # The child carries on while old values are sealed anew underneath.
        await chat.say("back")
        assert "she / her" in await chat.say("Sam")
        # Start-up housekeeping and the command share the work; together they leave nothing.
        _, _, left = await rotation
        assert left == {}
        assert await client.app[PARTS].repos.sealed.count_stale() == {}

    after = make_settings(tmp_path, data_keys=new)  # the old key is gone
    async with TestClient(TestServer(create_app(after))) as client:
        chat.client = client
        await chat.say("she / her")
        answers = await client.app[PARTS].repos.answers.all_for(review_id=review.id)
        assert answers["name"].value == "Sam" and answers["pronouns"].value == "she_her"
        assert chat.replies, "the bot still answers with only the new key"


def test_a_data_key_removed_too_early_stops_the_start_naming_it(tmp_path):
    """Before, the bot started, then each turn touching an old value said sorry and the log
    named no key. Now `myreview serve` stops at once, saying which key is missing."""
    import os
    import socket
    import subprocess
    import sys

    old, new = new_key_entry("k2026a"), new_key_entry("k2026b")
    settings = make_settings(tmp_path, data_keys=old)
    asyncio.run(add_review(settings, review_data()))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MYREVIEW_")},
        "MYREVIEW_DATABASE_URL": settings.database_url,
        "MYREVIEW_VAR_DIR": str(settings.var_dir),
        "MYREVIEW_DATA_KEYS": new,  # the old key taken out before `keys rotate` ran
        "MYREVIEW_PORT": str(port),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "k2026a" in done.stderr and "MYREVIEW_DATA_KEYS" in done.stderr
    assert "Traceback" not in done.stderr
    assert old.split(":")[1] not in done.stderr + done.stdout
