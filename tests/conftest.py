"""Fixtures: a fresh SQLite file per test, the real app over HTTP, and a local connector."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import PARTS, Parts, create_app
from bot.cli import add_review
from bot.settings import Settings
from storage.models import Review, ReviewCreate
from tests.channel import Connector, running_connector
from tests.chat import Chat

LONDON = ZoneInfo("Europe/London")

# aiosmtpd's server threads log every connection at INFO, sometimes after pytest has closed the
# stream a test's logging wrote to ("--- Logging error ---" pages in the CI log).
logging.getLogger("mail.log").setLevel(logging.WARNING)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'myreview.db'}",
        "var_dir": tmp_path / "var",
        "outbox_poll_seconds": 0.05,
        "secret_key": "test-secret-key-0123456789",
        "duty_email": "duty@council.example",
        # Tests post each message as soon as the last reply arrives, faster than a child reads;
        # the burst tests set their own window.
        "burst_window_seconds": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at the newest schema, made once: each test starts from a copy, a fresh
    database of its own, without running every migration again (about 0.25 s a test). The
    migration tests start from empty files of their own."""
    import asyncio

    from storage.crypto import Keyring, new_key_entry
    from storage.db import Database

    path = tmp_path_factory.mktemp("template") / "myreview.db"

    async def migrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}", keys=Keyring.parse(new_key_entry("t")))
        await db.migrate()
        await db.dispose()

    asyncio.run(migrate())
    return path


def fresh_database(template: Path, tmp_path: Path) -> None:
    """The template's copy where make_settings(tmp_path) puts the test's database."""
    import shutil

    target = tmp_path / "myreview.db"
    if not target.exists():
        shutil.copyfile(template, target)
        target.chmod(0o600)


@pytest.fixture(scope="session")
def content_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """`content_copy(target)`: content/ copied to `target` for a test to edit, its wording,
    phrases, examples and templates. The trained model (14 MB, read only) is linked to one
    copy made for the session, so a test that wrote to it would spoil only that copy; a test
    about the model copies content/ itself."""
    import shutil

    root = Path(__file__).resolve().parent.parent / "content"
    model = tmp_path_factory.mktemp("model") / "model"
    shutil.copytree(root / "safeguarding" / "model", model)

    def copy(target: Path) -> Path:
        shutil.copytree(root, target, ignore=shutil.ignore_patterns("model"))
        (target / "safeguarding" / "model").symlink_to(model, target_is_directory=True)
        return target

    return copy


@pytest.fixture
def settings(tmp_path: Path, migrated_database: Path) -> Settings:
    fresh_database(migrated_database, tmp_path)
    return make_settings(tmp_path)


@pytest.fixture
async def connector() -> AsyncIterator[tuple[Connector, str]]:
    async with running_connector() as running:
        yield running


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings)
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
def parts(client: TestClient) -> Parts:
    return client.app[PARTS]


def review_data(**overrides: Any) -> ReviewCreate:
    when = datetime.combine(datetime.now(LONDON).date() + timedelta(days=14), time(10), LONDON)
    values: dict[str, Any] = {
        "first_name": "Sam",
        # 13+: the path with every question (the 8-12 path is tested where it is the point).
        "age": 14,
        "is_uasc": False,
        "iro_name": "Jo Smith",
        "iro_email": "jo.smith@council.example",
        "review_at": when.astimezone(UTC),
    }
    values.update(overrides)
    return ReviewCreate(**values)


@pytest.fixture
def new_review(settings: Settings, parts: Parts) -> Callable[..., Any]:
    async def make(**overrides: Any) -> tuple[Review, str]:
        return await add_review(settings, review_data(**overrides))

    return make


@pytest.fixture
def new_chat(client: TestClient, connector: tuple[Connector, str]) -> Callable[..., Chat]:
    conn, url = connector

    def make(channel_id: str = "msteams", **kw: Any) -> Chat:
        return Chat(client, conn, url, channel_id=channel_id, **kw)

    return make


@pytest.fixture
def linked_chat(
    new_chat: Callable[..., Chat], new_review: Callable[..., Any]
) -> Callable[..., Any]:
    """A young person who has started a chat and entered the code of a new review."""

    async def make(channel_id: str = "msteams", **review: Any) -> tuple[Review, Chat]:
        row, code = await new_review(**review)
        chat = new_chat(channel_id)
        await chat.start()
        await chat.say(code)
        chat.code = code
        return row, chat

    return make


# --- the staff workspace (tests/test_staff_*.py; helpers in tests/staff.py) ---------------------


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with tiny parameters: the real ones cost ~0.35 s a hash on 2 cores."""
    from argon2 import PasswordHasher

    from bot.staff import credentials

    monkeypatch.setattr(
        credentials, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
async def staff_client(
    tmp_path: Path, migrated_database: Path
) -> AsyncIterator[Callable[..., Any]]:
    """The real app with settings of the test's own: (client, parts)."""
    made: list[TestClient] = []

    async def make(**overrides: Any) -> tuple[TestClient, Parts]:
        fresh_database(migrated_database, tmp_path)
        app = create_app(make_settings(tmp_path, **overrides))
        client = TestClient(TestServer(app))
        await client.start_server()
        made.append(client)
        return client, app[PARTS]

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def second_browser(client: TestClient) -> AsyncIterator[aiohttp.ClientSession]:
    """Another browser on the same server, with cookies of its own."""
    async with aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        yield session
