"""The outbox: emails queued with the turn that caused them, leased and sent by one worker at a
time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    OutboxLessee,
    OutboxMessage,
    OutboxMessageCreate,
)
from storage.types import utcnow


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self, *, message: OutboxMessageCreate, review_id: int | None
    ) -> OutboxMessage:
        """Add a message once; enqueuing the same idempotency key again returns the first."""
        row = OutboxMessage.model_validate(
            message,
            update={"review_id": review_id, "message_id": f"<{uuid.uuid4().hex}@myreview>"},
        )
        async with self._db.session() as s:
            existing = (
                await s.exec(
                    select(OutboxMessage).where(
                        OutboxMessage.idempotency_key == message.idempotency_key
                    )
                )
            ).first()
            if existing is not None:
                return existing
            s.add(row)
            await s.flush()
            return row

    async def duty_only_alerts_since(self, *, since: datetime) -> int:
        """Alert emails queued since `since` for chats with no review: the duty team's alone."""
        async with self._db.session() as s:
            res = await s.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    col(OutboxMessage.kind).in_(["alert", "alerts", "note"]),
                    col(OutboxMessage.review_id).is_(None),
                    col(OutboxMessage.created_at) >= since,
                )
            )
            return int(res.one())

    async def start(self, *, owner: str, now: datetime) -> tuple[int, int]:
        """An instance named `owner` starts: its new generation, and how many messages a
        process of an older generation of it still held. Those are released at once: that
        process is gone (one process per name), so they need not wait out their lease."""
        async with self._db.session() as s:
            await s.exec(
                self._db.insert()(OutboxLessee)
                .values(owner=owner, generation=0, started_at=now)
                .on_conflict_do_nothing()
            )
            await s.exec(
                update(OutboxLessee)
                .where(col(OutboxLessee.owner) == owner)
                .values(generation=OutboxLessee.generation + 1, started_at=now)
            )
            generation = int(
                (
                    await s.exec(select(OutboxLessee.generation).where(OutboxLessee.owner == owner))
                ).one()
            )
            res = await s.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.lease_owner) == owner,
                    col(OutboxMessage.lease_generation) < generation,
                )
                .values(locked_until=None, lease_owner=None, lease_generation=None)
            )
            return generation, int(res.rowcount or 0)

    async def claim_next(
        self, *, now: datetime, owner: str, generation: int, lease: timedelta
    ) -> OutboxMessage | None:
        """Lease the next due message to this worker, alerts before anything else, so that no
        other sends it at the same time. One at a time: a crash strands at most one, and an
        alert queued meanwhile goes next."""
        free = or_(col(OutboxMessage.locked_until).is_(None), col(OutboxMessage.locked_until) < now)
        async with self._db.session() as s:
            for _ in range(5):  # another worker may take the one we found first
                msg = (
                    await s.exec(
                        select(OutboxMessage)
                        .where(
                            OutboxMessage.status == "pending",
                            col(OutboxMessage.next_attempt_at) <= now,
                            free,
                        )
                        .order_by(
                            col(OutboxMessage.kind).in_(["alert", "alerts"]).desc(),
                            col(OutboxMessage.urgent).desc(),
                            col(OutboxMessage.id),
                        )
                        .limit(1)
                    )
                ).first()
                if msg is None:
                    return None
                upd = await s.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == msg.id, free)
                    .values(
                        locked_until=now + lease, lease_owner=owner, lease_generation=generation
                    )
                )
                if upd.rowcount == 1:
                    return msg
            return None

    async def mark_sent(self, *, message_id: int, at: datetime, keep_body: bool = False) -> None:
        """Marks a message sent. Its body (a child's words) is dropped unless `keep_body`: the
        email has it now; the row keeps who, what kind and when."""
        values: dict[str, Any] = {
            "status": "sent",
            "sent_at": at,
            "locked_until": None,
            "lease_owner": None,
            "lease_generation": None,
            "last_error": None,
        }
        if not keep_body:
            values |= {"text_body": "", "html_body": None}
        async with self._db.session() as s:
            await s.exec(
                update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values)
            )

    async def mark_failed_attempt(
        self, *, message_id: int, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed attempt; with no retry time the message is given up as failed."""
        async with self._db.session() as s:
            await s.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    last_error=error[:500],
                    locked_until=None,
                    lease_owner=None,
                    lease_generation=None,
                    status="pending" if retry_at else "failed",
                    next_attempt_at=retry_at or utcnow(),
                )
            )

    async def list(
        self, *, review_id: int | None = None, kind: str | None = None
    ) -> list[OutboxMessage]:
        async with self._db.session() as s:
            q = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if review_id is not None:
                q = q.where(OutboxMessage.review_id == review_id)
            if kind is not None:
                q = q.where(OutboxMessage.kind == kind)
            return list((await s.exec(q)).all())

    async def count_pending(self) -> int:
        async with self._db.session() as s:
            res = await s.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )
            return int(res.one())
