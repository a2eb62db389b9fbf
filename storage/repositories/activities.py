"""Activities whose turn committed, with the replies they produced until delivered: a channel's
resend is recognised, and finished."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import ProcessedActivity
from storage.types import utcnow


@dataclass(frozen=True)
class SeenActivity:
    """An activity whose turn committed, and the replies it produced (kept until delivered)."""

    replies: list[dict[str, Any]] | None
    delivered: bool
    seen_at: datetime | None = None


@dataclass(frozen=True)
class Delivered:
    """The replies to one activity reached the channel, at `at`, with these ids."""

    conversation_id: str
    activity_id: str
    reply_ids: list[str | None]
    at: datetime


class ActivityLogRepository:
    """Activities whose turn committed: a channel's resend is recognised, and finished."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(self, *, conversation_id: str, activity_id: str) -> SeenActivity | None:
        async with self._db.read() as s:
            row = await s.get(ProcessedActivity, (conversation_id, activity_id))
            if row is None:
                return None
            return SeenActivity(row.replies, row.delivered_at is not None, row.seen_at)

    async def answered_since(self, *, conversation_id: str, since: datetime) -> bool:
        """Whether a turn of this conversation committed after `since` with something to say:
        the chat has moved on, and what was said before is no longer the latest."""
        async with self._db.read() as s:
            rows = await s.exec(
                select(ProcessedActivity)
                .where(
                    col(ProcessedActivity.conversation_id) == conversation_id,
                    col(ProcessedActivity.seen_at) > since,
                )
                .order_by(col(ProcessedActivity.seen_at))
                .limit(50)
            )
            return any(row.replies or row.reply_ids for row in rows.all())

    async def record(
        self, *, conversation_id: str, activity_id: str, replies: list[dict[str, Any]]
    ) -> bool:
        """Mark the activity handled, with the replies to send; False if it already was."""
        async with self._db.session() as s:
            res = await s.exec(
                self._db.insert()(ProcessedActivity)
                .values(
                    conversation_id=conversation_id,
                    activity_id=activity_id,
                    replies=replies,
                    seen_at=utcnow(),
                )
                .on_conflict_do_nothing()
            )
            return bool(res.rowcount)

    async def delivered(self, *, marks: list[Delivered]) -> None:
        """These replies went out: keep their ids (to update a card later), not their words."""
        if not marks:
            return
        async with self._db.session() as s:
            for mark in marks:
                await s.exec(
                    update(ProcessedActivity)
                    .where(
                        col(ProcessedActivity.conversation_id) == mark.conversation_id,
                        col(ProcessedActivity.activity_id) == mark.activity_id,
                    )
                    .values(replies=None, reply_ids=mark.reply_ids, delivered_at=mark.at)
                )

    async def reply_id(self, *, conversation_id: str, activity_id: str, index: int) -> str | None:
        """The channel's id of the index-th reply to an activity, once it was delivered."""
        async with self._db.session() as s:
            row = await s.get(ProcessedActivity, (conversation_id, activity_id))
            ids = row.reply_ids if row is not None else None
            if not ids or not 0 <= index < len(ids):
                return None
            return ids[index]

    async def forget_before(self, *, before: datetime) -> int:
        async with self._db.session() as s:
            res = await s.exec(
                delete(ProcessedActivity).where(col(ProcessedActivity.seen_at) < before)
            )
            return int(res.rowcount or 0)
