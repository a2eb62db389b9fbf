"""Channel links: which chats (devices) a review's invite code has opened, and closing them when
a new code is given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import ChannelLink
from storage.types import utcnow


class LinkRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def link(
        self,
        *,
        review_id: int,
        channel_id: str,
        user_id: str,
        conversation_id: str,
        conversation_reference: dict[str, Any],
        max_devices: int | None = None,
        reopens: bool = False,
    ) -> ChannelLink | None:
        """Links this chat to the review; None when the code already opened `max_devices`
        chats that are still open (a code is no master key for unlimited chats). A chat that
        `reopens` (the web door, whose chats end with the page) takes the place of the
        review's earlier chats on the same channel: they close, and it is the child's own
        device if the one it replaces was."""
        async with self._db.session() as s:
            if reopens:
                await s.exec(
                    update(ChannelLink)
                    .where(
                        col(ChannelLink.review_id) == review_id,
                        col(ChannelLink.channel_id) == channel_id,
                        col(ChannelLink.conversation_id) != conversation_id,
                        col(ChannelLink.revoked_at).is_(None),
                    )
                    .values(revoked_at=utcnow(), closed_because="reopened")
                )
            res = await s.exec(
                select(ChannelLink).where(
                    ChannelLink.channel_id == channel_id,
                    ChannelLink.conversation_id == conversation_id,
                    ChannelLink.user_id == user_id,
                )
            )
            link = res.first()
            new = link is None or link.review_id != review_id or link.revoked_at is not None
            if new and max_devices is not None:
                opened = await s.exec(
                    select(func.count())
                    .select_from(ChannelLink)
                    .where(
                        ChannelLink.review_id == review_id,
                        col(ChannelLink.revoked_at).is_(None),
                    )
                )
                if int(opened.one()) >= max_devices:
                    return None
            if link is None or link.review_id != review_id or link.revoked_at is not None:
                # The child's own device is the first to link (or the first since the IRO
                # gave a new code); any other can only add answers, and the own one is told.
                others = await s.exec(
                    select(ChannelLink).where(
                        ChannelLink.review_id == review_id,
                        col(ChannelLink.revoked_at).is_(None),
                        col(ChannelLink.trusted).is_(True),
                    )
                )
                own = [o for o in others.all() if link is None or o.id != link.id]
                link = link or ChannelLink(
                    review_id=review_id,
                    channel_id=channel_id,
                    user_id=user_id,
                    conversation_id=conversation_id,
                )
                link.trusted = not own
                link.revoked_at = None
                for o in own:
                    o.other_device_at = utcnow()
                    s.add(o)
            link.review_id = review_id
            link.conversation_reference = conversation_reference
            link.linked_at = utcnow()
            s.add(link)
            await s.flush()
            return link

    async def current(self, *, channel_id: str, conversation_id: str) -> ChannelLink | None:
        """This chat's link, if it has one that is not closed."""
        async with self._db.session() as s:
            res = await s.exec(
                select(ChannelLink)
                .where(
                    ChannelLink.channel_id == channel_id,
                    ChannelLink.conversation_id == conversation_id,
                )
                .order_by(col(ChannelLink.linked_at).desc())
            )
            return res.first()

    async def seen_other_device(self, *, link_id: int) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(ChannelLink)
                .where(col(ChannelLink.id) == link_id)
                .values(other_device_at=None)
            )

    async def revoke_all(self, *, review_id: int, at: datetime) -> int:
        """Closes every device linked to the review (a new code was given)."""
        async with self._db.session() as s:
            res = await s.exec(
                update(ChannelLink)
                .where(
                    col(ChannelLink.review_id) == review_id, col(ChannelLink.revoked_at).is_(None)
                )
                .values(revoked_at=at)
            )
            return int(res.rowcount or 0)

    async def for_review(self, *, review_id: int) -> list[ChannelLink]:
        async with self._db.session() as s:
            res = await s.exec(select(ChannelLink).where(ChannelLink.review_id == review_id))
            return list(res.all())

    async def linked_reviews(self, *, review_ids: list[int]) -> set[int]:
        """Of these reviews, those with a device linked and not closed."""
        async with self._db.read() as s:
            res = await s.exec(
                select(ChannelLink.review_id)
                .where(
                    col(ChannelLink.review_id).in_(review_ids),
                    col(ChannelLink.revoked_at).is_(None),
                )
                .distinct()
            )
            return set(res.all())
