"""Notices to children: queued with the change that causes them (in its unit of work), leased
by one instance at a time, and recorded device by device so none gets one twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import ChannelLink, ChildNotice, ChildNoticeDelivery


class NoticeRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        review_id: int,
        message_id: str,
        params: dict[str, Any],
        key: str,
        at: datetime,
        supersedes: tuple[str, ...] = (),
    ) -> ChildNotice | None:
        """Queues a notice once per `key` (None if that key was queued before). Notices of the
        review with a message id in `supersedes` that have not gone yet are dropped: what they
        say is no longer true (a review moved twice is told its last date only)."""
        async with self._db.session() as s:
            found = await s.exec(select(ChildNotice).where(ChildNotice.key == key))
            if found.first() is not None:
                return None
            if supersedes:
                await s.exec(
                    update(ChildNotice)
                    .where(
                        col(ChildNotice.review_id) == review_id,
                        col(ChildNotice.state) == "pending",
                        col(ChildNotice.message_id).in_(supersedes),
                    )
                    .values(state="superseded", locked_until=None, lease_owner=None)
                )
            notice = ChildNotice(
                review_id=review_id,
                message_id=message_id,
                params=params,
                key=key,
                created_at=at,
                next_attempt_at=at,
            )
            s.add(notice)
            await s.flush()
            return notice

    async def release(self, *, owner: str) -> int:
        """An instance of this name starts: what a process before it held is free at once (it
        is gone: one process per name)."""
        async with self._db.session() as s:
            res = await s.exec(
                update(ChildNotice)
                .where(col(ChildNotice.lease_owner) == owner)
                .values(locked_until=None, lease_owner=None)
            )
            return int(res.rowcount or 0)

    async def claim_due(
        self, *, now: datetime, owner: str, lease: timedelta, most: int = 20
    ) -> list[ChildNotice]:
        """Leases the pending notices due now, oldest first, to this instance."""
        free = or_(col(ChildNotice.locked_until).is_(None), col(ChildNotice.locked_until) < now)
        # Looked for without the write lock: most passes find nothing to do.
        async with self._db.read() as s:
            found = await s.exec(
                select(ChildNotice.id)
                .where(
                    col(ChildNotice.state) == "pending",
                    col(ChildNotice.next_attempt_at) <= now,
                    free,
                )
                .order_by(col(ChildNotice.id))
                .limit(most)
            )
            due = list(found.all())
        if not due:
            return []
        async with self._db.session() as s:
            claimed = []
            for notice_id in due:
                res = await s.exec(
                    update(ChildNotice)
                    .where(col(ChildNotice.id) == notice_id, free)
                    .values(locked_until=now + lease, lease_owner=owner)
                )
                if res.rowcount == 1:
                    claimed.append(notice_id)
            if not claimed:
                return []
            rows = await s.exec(
                select(ChildNotice)
                .where(col(ChildNotice.id).in_(claimed))
                .order_by(col(ChildNotice.id))
            )
            return list(rows.all())

    async def still_pending(self, *, notice_id: int) -> bool:
        """Not superseded since it was claimed (a newer change made it untrue)."""
        async with self._db.read() as s:
            state = (
                await s.exec(select(ChildNotice.state).where(ChildNotice.id == notice_id))
            ).first()
            return state == "pending"

    async def devices(self, *, review_id: int) -> list[ChannelLink]:
        """The devices to tell: every link of the review not closed."""
        async with self._db.read() as s:
            res = await s.exec(
                select(ChannelLink)
                .where(ChannelLink.review_id == review_id, col(ChannelLink.revoked_at).is_(None))
                .order_by(col(ChannelLink.id))
            )
            return list(res.all())

    async def begin_sending(self, *, notice_id: int, link_id: int, at: datetime) -> bool:
        """Records that the notice is about to go to this device; False if it went (or began
        to go) before, so it is not sent again."""
        async with self._db.session() as s:
            res = await s.exec(
                self._db.insert()(ChildNoticeDelivery)
                .values(notice_id=notice_id, link_id=link_id, state="sending", at=at)
                .on_conflict_do_nothing()
            )
            return bool(res.rowcount)

    async def sent(self, *, notice_id: int, link_id: int, at: datetime) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(ChildNoticeDelivery)
                .where(
                    col(ChildNoticeDelivery.notice_id) == notice_id,
                    col(ChildNoticeDelivery.link_id) == link_id,
                )
                .values(state="sent", at=at)
            )

    async def not_sent(self, *, notice_id: int, link_id: int) -> None:
        """The send failed for certain: the device can be tried again."""
        async with self._db.session() as s:
            await s.exec(
                delete(ChildNoticeDelivery).where(
                    col(ChildNoticeDelivery.notice_id) == notice_id,
                    col(ChildNoticeDelivery.link_id) == link_id,
                    col(ChildNoticeDelivery.state) == "sending",
                )
            )

    async def deliveries(self, *, notice_id: int) -> dict[int, str]:
        """Device (link id) -> sending | sent."""
        async with self._db.read() as s:
            res = await s.exec(
                select(ChildNoticeDelivery).where(ChildNoticeDelivery.notice_id == notice_id)
            )
            return {d.link_id: d.state for d in res.all()}

    async def delivered(self, *, notice_id: int, at: datetime, devices: int) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(ChildNotice)
                .where(col(ChildNotice.id) == notice_id, col(ChildNotice.state) == "pending")
                .values(
                    state="delivered",
                    delivered_at=at,
                    devices=devices,
                    locked_until=None,
                    lease_owner=None,
                    last_error=None,
                )
            )

    async def failed_attempt(
        self, *, notice_id: int, error: str, retry_at: datetime | None, devices: int
    ) -> None:
        """Counts a failed pass; with no retry time the notice is given up as failed."""
        async with self._db.session() as s:
            await s.exec(
                update(ChildNotice)
                .where(col(ChildNotice.id) == notice_id, col(ChildNotice.state) == "pending")
                .values(
                    attempts=ChildNotice.attempts + 1,
                    last_error=error[:200],
                    devices=devices,
                    locked_until=None,
                    lease_owner=None,
                    state="pending" if retry_at else "failed",
                    next_attempt_at=retry_at or ChildNotice.next_attempt_at,
                )
            )

    async def for_review(self, *, review_id: int) -> list[ChildNotice]:
        async with self._db.read() as s:
            res = await s.exec(
                select(ChildNotice)
                .where(ChildNotice.review_id == review_id)
                .order_by(col(ChildNotice.id))
            )
            return list(res.all())

    async def get(self, *, notice_id: int) -> ChildNotice | None:
        async with self._db.read() as s:
            return await s.get(ChildNotice, notice_id)
