"""The web door's chats and their queue of activities (bot/directline.py serves them).

Watermarks are the queue's own sequence numbers: a page that reconnects names the last one it
has and gets everything after it, from whichever instance answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import WebActivity, WebConversation
from storage.types import utcnow


@dataclass(frozen=True)
class Queued:
    seq: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Pending:
    conversation_id: str
    seq: int
    body: dict[str, Any]


class WebDoorRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, *, conversation_id: str, user_id: str, locale: str | None) -> None:
        async with self._db.session() as s:
            s.add(WebConversation(id=conversation_id, user_id=user_id, locale=locale))

    async def get(self, *, conversation_id: str) -> WebConversation | None:
        async with self._db.read() as s:
            return await s.get(WebConversation, conversation_id)

    async def mark_started(self, *, conversation_id: str) -> bool:
        """True for the one call that starts the chat (its welcome is said once)."""
        async with self._db.session() as s:
            res = await s.exec(
                update(WebConversation)
                .where(col(WebConversation.id) == conversation_id)
                .where(col(WebConversation.started).is_(False))
                .values(started=True, last_seen_at=utcnow())
            )
            return bool(res.rowcount)

    async def refreshed(self, *, conversation_id: str) -> int:
        """A new token generation (older tokens are refused after a grace); the new number."""
        async with self._db.session() as s:
            conversation = await s.get(WebConversation, conversation_id)
            if conversation is None:
                return -1
            conversation.token_generation += 1
            conversation.refreshed_at = utcnow()
            conversation.last_seen_at = utcnow()
            s.add(conversation)
            return conversation.token_generation

    async def seen(self, *, conversation_id: str, delivered_upto: int | None = None) -> None:
        """The page called: the chat is alive; what it has been sent, if known, is delivered."""
        async with self._db.session() as s:
            await s.exec(
                update(WebConversation)
                .where(col(WebConversation.id) == conversation_id)
                .values(last_seen_at=utcnow())
            )
            if delivered_upto is not None:
                await s.exec(
                    update(WebConversation)
                    .where(col(WebConversation.id) == conversation_id)
                    .where(col(WebConversation.delivered_upto) < delivered_upto)
                    .values(delivered_upto=delivered_upto)
                )

    async def append(
        self,
        *,
        conversation_id: str,
        activity_id: str,
        dedupe_key: str,
        body: dict[str, Any],
        from_bot: bool,
        pending: bool = False,
    ) -> int | None:
        """Queues an activity; its watermark, or None if one with the same key is queued."""
        async with self._db.session() as s:
            found = await s.exec(
                select(WebActivity.seq).where(
                    col(WebActivity.conversation_id) == conversation_id,
                    col(WebActivity.dedupe_key) == dedupe_key,
                )
            )
            if found.first() is not None:
                return None
            row = WebActivity(
                conversation_id=conversation_id,
                activity_id=activity_id,
                dedupe_key=dedupe_key,
                body=body,
                from_bot=from_bot,
                pending=pending,
            )
            s.add(row)
            await s.flush()
            return row.seq

    async def activity_id_for(self, *, conversation_id: str, dedupe_key: str) -> str | None:
        async with self._db.read() as s:
            res = await s.exec(
                select(WebActivity.activity_id).where(
                    col(WebActivity.conversation_id) == conversation_id,
                    col(WebActivity.dedupe_key) == dedupe_key,
                )
            )
            return res.first()

    async def after(self, *, conversation_id: str, watermark: int, most: int = 100) -> list[Queued]:
        """The activities after `watermark`, oldest first."""
        async with self._db.read() as s:
            res = await s.exec(
                select(WebActivity)
                .where(
                    col(WebActivity.conversation_id) == conversation_id,
                    col(WebActivity.seq) > watermark,
                )
                .order_by(col(WebActivity.seq))
                .limit(most)
            )
            return [Queued(row.seq or 0, row.body) for row in res.all()]

    async def finished(self, *, seq: int) -> None:
        """The turn of the child's activity `seq` is over: it is not run again."""
        async with self._db.session() as s:
            await s.exec(
                update(WebActivity).where(col(WebActivity.seq) == seq).values(pending=False)
            )

    async def pending(self) -> list[Pending]:
        """Children's activities whose turn never finished (a crash), oldest first."""
        async with self._db.read() as s:
            res = await s.exec(
                select(WebActivity)
                .where(col(WebActivity.pending).is_(True))
                .order_by(col(WebActivity.seq))
            )
            return [Pending(r.conversation_id, r.seq or 0, r.body) for r in res.all()]

    async def forget(self, *, delivered_before: datetime, idle_before: datetime) -> dict[str, int]:
        """Deletes what was delivered before one time, and whole chats quiet since another."""
        async with self._db.session() as s:
            idle = await s.exec(
                select(WebConversation.id).where(col(WebConversation.last_seen_at) < idle_before)
            )
            gone = list(idle.all())
            chats = await s.exec(delete(WebConversation).where(col(WebConversation.id).in_(gone)))
            delivered = (
                select(WebConversation.delivered_upto)
                .where(col(WebConversation.id) == WebActivity.conversation_id)
                .scalar_subquery()
            )
            activities = await s.exec(
                delete(WebActivity).where(
                    or_(
                        col(WebActivity.conversation_id).in_(gone),
                        (col(WebActivity.created_at) < delivered_before)
                        & (col(WebActivity.seq) <= delivered)
                        & col(WebActivity.pending).is_(False),
                    )
                )
            )
            return {
                "web_chats": int(chats.rowcount or 0),
                "web_activities": int(activities.rowcount or 0),
            }

    async def forget_conversations(self, *, conversation_ids: list[str]) -> int:
        """Deletes these chats and their queues (a review purged)."""
        async with self._db.session() as s:
            res = await s.exec(
                delete(WebActivity).where(col(WebActivity.conversation_id).in_(conversation_ids))
            )
            await s.exec(
                delete(WebConversation).where(col(WebConversation.id).in_(conversation_ids))
            )
            return int(res.rowcount or 0)
