"""The migrations build exactly the tables the models describe; housekeeping forgets old rows."""

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from bot.jobs import housekeeping
from storage.crypto import Keyring
from storage.db import Database


async def test_migrations_match_the_models(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}", keys=Keyring.ephemeral())
    await db.migrate()
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    await db.dispose()
    assert diff == [], "models changed without a migration: run `alembic revision --autogenerate`"


async def test_housekeeping_forgets_old_activity_ids_and_code_attempts(parts):
    now = datetime.now(UTC)
    repos = parts.repos
    parts.services.clock = lambda: now + timedelta(days=3)
    assert await repos.activities.record(conversation_id="c", activity_id="a", replies=[])
    assert await repos.activities.seen(conversation_id="c", activity_id="a") is not None
    await repos.code_attempts.record_failure(conversation_key="k", at=now)
    await housekeeping(parts)
    assert await repos.activities.seen(conversation_id="c", activity_id="a") is None
    assert await repos.code_attempts.failures_since(conversation_key="k", since=now) == []


async def test_stored_conversation_reference_has_no_names(linked_chat, parts):
    review, chat = await linked_chat()
    (link,) = await parts.repos.links.for_review(review_id=review.id)
    assert link.conversation_reference["user"]["id"] == "child-1"
    assert "Young person" not in str(link.conversation_reference)
