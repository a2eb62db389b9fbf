"""The Bot Framework's conversation and user state, stored with etags."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    BotStateItem,
    ChannelLink,
)
from storage.types import utcnow


@dataclass(frozen=True)
class StoredState:
    data: str
    etag: str


class EtagMismatch(Exception):
    """Another writer changed the item since it was read."""


class BotStateRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, *, keys: Iterable[str]) -> dict[str, StoredState]:
        ks = list(keys)
        if not ks:
            return {}
        async with self._db.session() as s:
            res = await s.exec(select(BotStateItem).where(col(BotStateItem.key).in_(ks)))
            return {i.key: StoredState(i.data, i.etag) for i in res.all()}

    async def write(self, *, key: str, data: str, expected_etag: str | None) -> str:
        """Write one item and return its new eTag.

        `expected_etag` None or "*" writes unconditionally; any other value must match.
        """
        new_etag = uuid.uuid4().hex
        async with self._db.session() as s:
            if expected_etag in (None, "*"):
                # An unconditional write overwrites (the SDK's contract), even an item another
                # writer created a moment ago.
                stmt = self._db.insert()(BotStateItem).values(
                    key=key, data=data, etag=new_etag, updated_at=utcnow()
                )
                await s.exec(
                    stmt.on_conflict_do_update(
                        index_elements=["key"],
                        set_={"data": data, "etag": new_etag, "updated_at": utcnow()},
                    )
                )
                return new_etag
            res = await s.exec(
                update(BotStateItem)
                .where(col(BotStateItem.key) == key, col(BotStateItem.etag) == expected_etag)
                .values(data=data, etag=new_etag, updated_at=utcnow())
            )
            if res.rowcount != 1:
                raise EtagMismatch(key)
            return new_etag

    async def delete(self, *, keys: Iterable[str]) -> None:
        ks = list(keys)
        if not ks:
            return
        async with self._db.session() as s:
            await s.exec(delete(BotStateItem).where(col(BotStateItem.key).in_(ks)))

    async def forget_unlinked_before(self, *, before: datetime) -> int:
        """Drops the state of chats idle since `before` that never linked to a review (a code
        never entered, or only guessed): nothing of a child's is in them but the question
        they were on."""
        async with self._db.session() as s:
            idle = (
                await s.exec(select(BotStateItem.key).where(col(BotStateItem.updated_at) < before))
            ).all()
            if not idle:
                return 0
            linked = {
                f"{channel}/conversations/{conversation}"
                for channel, conversation in (
                    await s.exec(select(ChannelLink.channel_id, ChannelLink.conversation_id))
                ).all()
            }
            gone = [k for k in idle if "/conversations/" in k and k not in linked]
            for start in range(0, len(gone), 500):
                await s.exec(
                    delete(BotStateItem).where(col(BotStateItem.key).in_(gone[start : start + 500]))
                )
            return len(gone)
