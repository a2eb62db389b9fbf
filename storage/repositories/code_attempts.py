"""Wrong invite codes, counted per chat, per channel user and across the service, and the gate
that slows guessing down and warns the duty team once an hour."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    CodeAttempt,
    CodeGate,
)


class CodeAttemptRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_failure(
        self, *, conversation_key: str, at: datetime, user_key: str | None = None
    ) -> None:
        async with self._db.session() as s:
            s.add(
                CodeAttempt(conversation_key=conversation_key, user_key=user_key, attempted_at=at)
            )

    async def user_failures_since(self, *, user_key: str, since: datetime) -> list[datetime]:
        async with self._db.session() as s:
            res = await s.exec(
                select(CodeAttempt.attempted_at)
                .where(CodeAttempt.user_key == user_key, CodeAttempt.attempted_at >= since)
                .order_by(col(CodeAttempt.attempted_at))
            )
            return list(res.all())

    async def count_since(self, *, since: datetime) -> int:
        """Wrong codes across the whole service since `since`."""
        async with self._db.session() as s:
            res = await s.exec(
                select(func.count())
                .select_from(CodeAttempt)
                .where(col(CodeAttempt.attempted_at) >= since)
            )
            return int(res.one())

    async def take_slow_lane(self, *, now: datetime, every: timedelta) -> bool:
        """Whether this check may go ahead: at most one per `every` across the service."""
        return await self._take("slow_lane_at", now=now, every=every)

    async def take_warning(self, *, now: datetime, every: timedelta) -> bool:
        """Whether to warn the duty team now: at most once per `every`."""
        return await self._take("warned_at", now=now, every=every)

    async def _take(self, field: str, *, now: datetime, every: timedelta) -> bool:
        """Sets the gate's `field` to `now` if it is unset or at least `every` old. The
        compare-and-set is one UPDATE, so two instances cannot both take the same slot."""
        column = getattr(CodeGate, field)
        async with self._db.session() as s:
            await s.exec(self._db.insert()(CodeGate).values(id=1).on_conflict_do_nothing())
            res = await s.exec(
                update(CodeGate)
                .where(
                    col(CodeGate.id) == 1,
                    or_(col(column).is_(None), col(column) <= now - every),
                )
                .values({field: now})
            )
            return bool(res.rowcount)

    async def failures_since(self, *, conversation_key: str, since: datetime) -> list[datetime]:
        async with self._db.session() as s:
            res = await s.exec(
                select(CodeAttempt.attempted_at)
                .where(
                    CodeAttempt.conversation_key == conversation_key,
                    CodeAttempt.attempted_at >= since,
                )
                .order_by(col(CodeAttempt.attempted_at))
            )
            return list(res.all())

    async def clear(self, *, conversation_key: str) -> None:
        async with self._db.session() as s:
            await s.exec(
                delete(CodeAttempt).where(col(CodeAttempt.conversation_key) == conversation_key)
            )

    async def forget_before(self, *, before: datetime) -> int:
        async with self._db.session() as s:
            res = await s.exec(delete(CodeAttempt).where(col(CodeAttempt.attempted_at) < before))
            return int(res.rowcount or 0)
