"""The audit trail: who did what, to which review, when. Append-only, and chained: each row
carries the hash of the row before, so a row edited or taken out is found by `verify`.

`record` is called inside the unit of work of what it records (a view of a child's words, a
sign-in, an acknowledgement), so the two commit together or not at all. Rows are numbered in
sequence here, not by the database: on SQLite the writer lock orders appends; on PostgreSQL two
appends at once would both claim the same id and one transaction would fail, never fork the
chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from storage.db import Database
from storage.models import AuditEvent
from storage.types import utcnow

GENESIS = "0" * 64
VERIFY_BATCH = 1000


def canonical(
    *,
    id: int,  # noqa: A002 - the column's name
    at: datetime,
    staff_id: int | None,
    action: str,
    review_id: int | None,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The row as the bytes its hash covers: sorted keys, no spaces, times in UTC to the
    microsecond (as stored), so the same row always gives the same bytes."""
    return json.dumps(
        {
            "id": id,
            "at": at.isoformat(timespec="microseconds"),
            "staff_id": staff_id,
            "action": action,
            "review_id": review_id,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def row_hash(event: AuditEvent) -> str:
    return hashlib.sha256(
        canonical(
            id=event.id,
            at=event.at,
            staff_id=event.staff_id,
            action=event.action,
            review_id=event.review_id,
            details=event.details or {},
            prev_hash=event.prev_hash,
        )
    ).hexdigest()


@dataclass
class Verified:
    rows: int
    head: str  # the last row's hash: note it down, and a later verify shows nothing went since
    broken_at: int | None = None  # the id of the first row that does not fit
    why: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        action: str,
        staff_id: int | None,
        review_id: int | None = None,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditEvent:
        async with self._db.session() as s:
            last = (
                await s.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(1))
            ).first()
            event = AuditEvent(
                id=(last.id + 1) if last else 1,
                at=at or utcnow(),
                staff_id=staff_id,
                action=action,
                review_id=review_id,
                details=details or {},
                prev_hash=last.hash if last else GENESIS,
                hash="",
            )
            event.hash = row_hash(event)
            s.add(event)
            await s.flush()
            return event

    async def recent(
        self, *, limit: int = 100, review_id: int | None = None, action: str | None = None
    ) -> list[AuditEvent]:
        async with self._db.read() as s:
            stmt = select(AuditEvent)
            if review_id is not None:
                stmt = stmt.where(AuditEvent.review_id == review_id)
            if action is not None:
                stmt = stmt.where(AuditEvent.action == action)
            res = await s.exec(stmt.order_by(col(AuditEvent.id).desc()).limit(limit))
            return list(res.all())

    async def rows(self, *, after: int = 0, limit: int = 5000) -> list[AuditEvent]:
        """Rows after id `after`, oldest first (an export reads the trail in pages of these)."""
        async with self._db.read() as s:
            res = await s.exec(
                select(AuditEvent)
                .where(col(AuditEvent.id) > after)
                .order_by(col(AuditEvent.id))
                .limit(limit)
            )
            return list(res.all())

    async def verify(self) -> Verified:
        """Walks the chain from the first row: each id one more than the last, each row's
        prev_hash the hash of the row before, each hash what the row's content gives."""
        prev_id, prev_hash, rows = 0, GENESIS, 0
        async with self._db.read() as s:
            while True:
                batch = (
                    await s.exec(
                        select(AuditEvent)
                        .where(col(AuditEvent.id) > prev_id)
                        .order_by(col(AuditEvent.id))
                        .limit(VERIFY_BATCH)
                    )
                ).all()
                if not batch:
                    return Verified(rows=rows, head=prev_hash)
                for event in batch:
                    why = None
                    if event.id != prev_id + 1:
                        why = f"rows {prev_id + 1} to {event.id - 1} are missing"
                    elif event.prev_hash != prev_hash:
                        why = "it does not follow the row before (that row was changed)"
                    elif row_hash(event) != event.hash:
                        why = "its content does not match its hash (it was changed)"
                    if why is not None:
                        return Verified(rows=rows, head=prev_hash, broken_at=event.id, why=why)
                    prev_id, prev_hash, rows = event.id, event.hash, rows + 1
