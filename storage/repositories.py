"""Every query the app makes.

Each method runs in `Database.session()`: committed on its own, or, inside a chat turn's unit of
work, together with everything else the turn wrote. So methods flush, never commit, and never
rely on catching an IntegrityError (that would roll back the whole turn): conflicts are
handled with ON CONFLICT or looked up first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, Text, and_, delete, func, literal, or_, type_coerce, update
from sqlmodel import SQLModel, col, select

from storage.crypto import PREFIX, Keyring, SealedJSON, SealedText
from storage.db import Database
from storage.models import (
    Answer,
    BotStateItem,
    ChannelLink,
    CodeAttempt,
    CodeGate,
    OutboxLessee,
    OutboxMessage,
    OutboxMessageCreate,
    ProcessedActivity,
    Review,
    ReviewCreate,
    SafeguardingAlert,
    SafeguardingAlertBase,
    WebActivity,
    WebConversation,
)
from storage.types import utcnow
from storage.web_door import WebDoorRepository


class ReviewRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        data: ReviewCreate,
        invite_code_hash: str,
        invite_expires_at: datetime,
        content_version: str,
    ) -> Review:
        review = Review.model_validate(
            data,
            update={
                "invite_code_hash": invite_code_hash,
                "invite_expires_at": invite_expires_at,
                "content_version": content_version,
            },
        )
        async with self._db.session() as s:
            s.add(review)
            await s.flush()
        return review

    async def get(self, *, review_id: int) -> Review | None:
        async with self._db.session() as s:
            return await s.get(Review, review_id)

    async def by_code_hash(self, *, invite_code_hash: str) -> Review | None:
        async with self._db.session() as s:
            res = await s.exec(select(Review).where(Review.invite_code_hash == invite_code_hash))
            return res.first()

    async def open_for_iro(self, *, iro_email: str, after: datetime) -> Review | None:
        """The latest review of this IRO still to come and not yet sent (the demo's own)."""
        async with self._db.session() as s:
            res = await s.exec(
                select(Review)
                .where(
                    Review.iro_email == iro_email,
                    col(Review.review_at) > after,
                    col(Review.submitted_at).is_(None),
                )
                .order_by(col(Review.id).desc())
            )
            return res.first()

    async def new_code(
        self, *, review_id: int, invite_code_hash: str, invite_expires_at: datetime
    ) -> Review:
        """Replaces the invite code: the old one stops working."""
        async with self._db.session() as s:
            review = await s.get(Review, review_id)
            if review is None:
                raise LookupError(review_id)
            review.invite_code_hash = invite_code_hash
            review.invite_expires_at = invite_expires_at
            s.add(review)
            await s.flush()
            return review

    async def remember_sent(self, *, review_id: int, answers: dict[str, str]) -> None:
        """Each answer as the summary just queued shows it."""
        async with self._db.session() as s:
            await s.exec(
                update(Review).where(col(Review.id) == review_id).values(sent_answers=answers)
            )

    async def mark_submitted(self, *, review_id: int, at: datetime) -> Review:
        """Record a send; the first sets submitted_at, each one counts."""
        async with self._db.session() as s:
            review = await s.get(Review, review_id)
            if review is None:
                raise LookupError(review_id)
            review.submitted_at = review.submitted_at or at
            review.summary_sends += 1
            s.add(review)
            await s.flush()
            return review

    async def sent_without_summary(self, *, since: datetime) -> list[Review]:
        """Reviews marked sent (since a time) whose latest summary is not in the outbox."""
        async with self._db.session() as s:
            res = await s.exec(
                select(Review).where(
                    col(Review.submitted_at).is_not(None), col(Review.review_at) >= since
                )
            )
            reviews = list(res.all())
            if not reviews:
                return []
            keys = {f"summary:{r.id}:{r.summary_sends}": r for r in reviews}
            found = await s.exec(
                select(OutboxMessage.idempotency_key).where(
                    col(OutboxMessage.idempotency_key).in_(list(keys))
                )
            )
            queued = set(found.all())
            return [r for k, r in keys.items() if k not in queued]


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


class AnswerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(
        self, *, review_id: int, question_id: str, kind: str, value: Any, locale: str
    ) -> Answer:
        """Insert or replace one answer. A changed free text needs its visibility asked again."""
        async with self._db.session() as s:
            res = await s.exec(
                select(Answer).where(
                    Answer.review_id == review_id, Answer.question_id == question_id
                )
            )
            answer = res.first()
            if answer is None:
                answer = Answer(review_id=review_id, question_id=question_id, kind=kind)
            elif answer.kind != kind or answer.value != value:
                answer.visibility = None
            answer.kind = kind
            answer.value = value
            answer.locale = locale
            answer.updated_at = utcnow()
            s.add(answer)
            await s.flush()
            return answer

    async def all_for(self, *, review_id: int) -> dict[str, Answer]:
        async with self._db.session() as s:
            res = await s.exec(
                select(Answer).where(Answer.review_id == review_id).order_by(col(Answer.id))
            )
            return {a.question_id: a for a in res.all()}

    async def set_visibility(
        self, *, review_id: int, question_ids: Iterable[str], visibility: str
    ) -> None:
        ids = list(question_ids)
        if not ids:
            return
        async with self._db.session() as s:
            await s.exec(
                update(Answer)
                .where(col(Answer.review_id) == review_id, col(Answer.question_id).in_(ids))
                .values(visibility=visibility)
            )

    async def delete(self, *, review_id: int, question_ids: Iterable[str]) -> None:
        ids = list(question_ids)
        if not ids:
            return
        async with self._db.session() as s:
            await s.exec(
                delete(Answer).where(
                    col(Answer.review_id) == review_id, col(Answer.question_id).in_(ids)
                )
            )

    async def clear(self, *, review_id: int) -> None:
        async with self._db.session() as s:
            await s.exec(delete(Answer).where(col(Answer.review_id) == review_id))


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


class AlertRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_once(
        self,
        *,
        data: SafeguardingAlertBase,
        review_id: int | None,
        message: str,
        activity_id: str | None,
        translation: str | None = None,
    ) -> tuple[SafeguardingAlert, bool]:
        """The alert for this message, made now (True) or when the channel first sent it."""
        async with self._db.session() as s:
            if activity_id is not None:
                res = await s.exec(
                    select(SafeguardingAlert).where(
                        SafeguardingAlert.conversation_id == data.conversation_id,
                        SafeguardingAlert.activity_id == activity_id,
                    )
                )
                found = res.first()
                if found is not None:
                    return found, False
            alert = SafeguardingAlert.model_validate(
                data,
                update={
                    "review_id": review_id,
                    "message": message,
                    "activity_id": activity_id,
                    "translation": translation,
                },
            )
            s.add(alert)
            await s.flush()
            return alert, True

    async def link_to_review(
        self, *, channel_id: str, conversation_id: str, review_id: int
    ) -> list[SafeguardingAlert]:
        """Alerts this chat raised before its code was entered now belong to the review."""
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert).where(
                    SafeguardingAlert.channel_id == channel_id,
                    SafeguardingAlert.conversation_id == conversation_id,
                    col(SafeguardingAlert.review_id).is_(None),
                )
            )
            found = list(res.all())
            for alert in found:
                alert.review_id = review_id
                s.add(alert)
            await s.flush()
            return found

    async def lead_in_chat(
        self, *, channel_id: str, conversation_id: str, since: datetime, not_id: int
    ) -> tuple[SafeguardingAlert, set[str]] | None:
        """The latest alert since `since` in this chat that others may be grouped under, with
        the categories its group has raised so far."""
        return await self._lead(
            SafeguardingAlert.channel_id == channel_id,
            SafeguardingAlert.conversation_id == conversation_id,
            since=since,
            not_id=not_id,
        )

    async def lead_for_review(
        self, *, review_id: int, since: datetime, not_id: int
    ) -> tuple[SafeguardingAlert, set[str]] | None:
        """The same, across every chat linked to one review (one code, several devices)."""
        return await self._lead(
            SafeguardingAlert.review_id == review_id, since=since, not_id=not_id
        )

    async def _lead(
        self, *where: Any, since: datetime, not_id: int
    ) -> tuple[SafeguardingAlert, set[str]] | None:
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(
                    *where,
                    col(SafeguardingAlert.merged_into).is_(None),
                    SafeguardingAlert.email == "own",
                    SafeguardingAlert.tier == "clear",
                    col(SafeguardingAlert.created_at) >= since,
                    col(SafeguardingAlert.id) != not_id,
                )
                .order_by(col(SafeguardingAlert.id).desc())
            )
            lead = res.first()
            if lead is None:
                return None
            group = await s.exec(
                select(SafeguardingAlert.categories).where(
                    or_(
                        col(SafeguardingAlert.id) == lead.id,
                        col(SafeguardingAlert.merged_into) == lead.id,
                    )
                )
            )
            return lead, {c for cats in group.all() for c in cats}

    async def hold(self, *, alert_id: int, merged_into: int | None) -> None:
        """The alert's email waits, to go out with others (see `held`)."""
        async with self._db.session() as s:
            await s.exec(
                update(SafeguardingAlert)
                .where(col(SafeguardingAlert.id) == alert_id)
                .values(email="held", merged_into=merged_into)
            )

    async def held(self) -> list[SafeguardingAlert]:
        """Alerts whose email is waiting, oldest first."""
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(SafeguardingAlert.email == "held")
                .order_by(col(SafeguardingAlert.id))
            )
            return list(res.all())

    async def since(self, *, since: datetime) -> list[SafeguardingAlert]:
        """Every alert raised since `since`, oldest first."""
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(col(SafeguardingAlert.created_at) >= since)
                .order_by(col(SafeguardingAlert.id))
            )
            return list(res.all())

    async def held_for_duty(self) -> list[SafeguardingAlert]:
        """Alerts waiting for the duty team's next digest, oldest first."""
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(
                    SafeguardingAlert.email == "held",
                    col(SafeguardingAlert.merged_into).is_(None),
                )
                .order_by(col(SafeguardingAlert.created_at), col(SafeguardingAlert.id))
            )
            return list(res.all())

    async def mark_summarised(self, *, alert_ids: Iterable[int]) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(SafeguardingAlert)
                .where(col(SafeguardingAlert.id).in_(list(alert_ids)))
                .values(email="summarised")
            )

    async def without_email(self, *, since: datetime) -> list[SafeguardingAlert]:
        """Alerts (since a time) meant to have an email of their own that was never queued."""
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert).where(
                    col(SafeguardingAlert.created_at) >= since, SafeguardingAlert.email == "own"
                )
            )
            alerts = {f"alert:{a.id}": a for a in res.all()}
            if not alerts:
                return []
            found = await s.exec(
                select(OutboxMessage.idempotency_key).where(
                    col(OutboxMessage.idempotency_key).in_(list(alerts))
                )
            )
            queued = set(found.all())
            return [a for k, a in alerts.items() if k not in queued]

    async def get(self, *, alert_id: int) -> SafeguardingAlert:
        async with self._db.session() as s:
            alert = await s.get(SafeguardingAlert, alert_id)
            if alert is None:
                raise LookupError(alert_id)
            return alert

    async def for_review(self, *, review_id: int) -> list[SafeguardingAlert]:
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert).where(SafeguardingAlert.review_id == review_id)
            )
            return list(res.all())


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


# Tables with nothing of a child's in them (counters and bookkeeping). Every other table must
# be covered by PrivacyRepository's purge and export; a test holds new tables to this.
NO_CHILD_DATA = frozenset({"codeattempt", "codegate", "outboxlessee", "alembic_version"})


class PrivacyRepository:
    """Everything held about one review, to hand over (subject access) or to delete (the
    council's retention period, or the young person's request)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _conversations(self, s: Any, review_id: int) -> tuple[list[ChannelLink], list[str]]:
        links = list(
            (await s.exec(select(ChannelLink).where(ChannelLink.review_id == review_id))).all()
        )
        keys = [f"{link.channel_id}/conversations/{link.conversation_id}" for link in links]
        return links, keys

    async def export(self, *, review_id: int) -> dict[str, list[dict[str, Any]]] | None:
        """Every row about the review, table by table, as plain JSON-able dicts."""
        async with self._db.session() as s:
            review = await s.get(Review, review_id)
            if review is None:
                return None
            links, keys = await self._conversations(s, review_id)
            conversations = [link.conversation_id for link in links]

            async def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
                found = (await s.exec(select(model).where(*where))).all()
                return [r.model_dump(mode="json") for r in found]

            return {
                "review": [review.model_dump(mode="json", exclude={"invite_code_hash"})],
                "channellink": [link.model_dump(mode="json") for link in links],
                "answer": await rows(Answer, Answer.review_id == review_id),
                "safeguardingalert": await rows(
                    SafeguardingAlert,
                    or_(
                        col(SafeguardingAlert.review_id) == review_id,
                        col(SafeguardingAlert.conversation_id).in_(conversations),
                    ),
                ),
                "outboxmessage": await rows(OutboxMessage, OutboxMessage.review_id == review_id),
                "botstateitem": await rows(BotStateItem, col(BotStateItem.key).in_(keys)),
                "processedactivity": await rows(
                    ProcessedActivity, col(ProcessedActivity.conversation_id).in_(conversations)
                ),
                "webconversation": await rows(
                    WebConversation, col(WebConversation.id).in_(conversations)
                ),
                "webactivity": await rows(
                    WebActivity, col(WebActivity.conversation_id).in_(conversations)
                ),
            }

    async def email_ids(self, *, review_id: int) -> list[int]:
        """The outbox ids of every email about the review: its summaries and alerts, and the
        duty team's alerts from its chats before they had a review (the development .eml files
        are named by these). A digest of several children's alerts is not among them."""
        async with self._db.session() as s:
            links, _ = await self._conversations(s, review_id)
            conversations = [link.conversation_id for link in links]
            alerts = (
                await s.exec(
                    select(SafeguardingAlert.id).where(
                        or_(
                            col(SafeguardingAlert.review_id) == review_id,
                            col(SafeguardingAlert.conversation_id).in_(conversations),
                        )
                    )
                )
            ).all()
            about = [
                f"alert:{alert_id}{suffix}"
                for alert_id in alerts
                for suffix in ("", ":linked", ":more")
            ]
            res = await s.exec(
                select(OutboxMessage.id).where(
                    or_(
                        col(OutboxMessage.review_id) == review_id,
                        col(OutboxMessage.idempotency_key).in_(about),
                    )
                )
            )
            return [int(i) for i in res.all() if i is not None]

    async def purge(self, *, review_id: int) -> dict[str, int]:
        """Deletes every row about the review, the review included; returns counts only."""
        async with self._db.session() as s:
            links, keys = await self._conversations(s, review_id)
            conversations = [link.conversation_id for link in links]
            counts: dict[str, int] = {}
            for name, stmt in (
                ("answer", delete(Answer).where(col(Answer.review_id) == review_id)),
                (
                    "safeguardingalert",
                    delete(SafeguardingAlert).where(
                        or_(
                            col(SafeguardingAlert.review_id) == review_id,
                            col(SafeguardingAlert.conversation_id).in_(conversations),
                        )
                    ),
                ),
                (
                    "outboxmessage",
                    delete(OutboxMessage).where(col(OutboxMessage.review_id) == review_id),
                ),
                ("botstateitem", delete(BotStateItem).where(col(BotStateItem.key).in_(keys))),
                (
                    "processedactivity",
                    delete(ProcessedActivity).where(
                        col(ProcessedActivity.conversation_id).in_(conversations)
                    ),
                ),
                (
                    "webactivity",
                    delete(WebActivity).where(col(WebActivity.conversation_id).in_(conversations)),
                ),
                (
                    "webconversation",
                    delete(WebConversation).where(col(WebConversation.id).in_(conversations)),
                ),
                ("channellink", delete(ChannelLink).where(col(ChannelLink.review_id) == review_id)),
                ("review", delete(Review).where(col(Review.id) == review_id)),
            ):
                res = await s.exec(stmt)
                counts[name] = int(res.rowcount or 0)
            return counts

    async def reviews_before(self, *, before: datetime) -> list[int]:
        """Reviews held on or before `before`: due for deletion."""
        async with self._db.session() as s:
            res = await s.exec(select(Review.id).where(col(Review.review_at) < before))
            return [int(i) for i in res.all() if i is not None]

    async def forget_unlinked_alerts(self, *, before: datetime) -> int:
        """Alerts from chats that never linked to a review, raised before `before`."""
        async with self._db.session() as s:
            res = await s.exec(
                delete(SafeguardingAlert).where(
                    col(SafeguardingAlert.review_id).is_(None),
                    col(SafeguardingAlert.created_at) < before,
                )
            )
            n = int(res.rowcount or 0)
            await s.exec(
                delete(OutboxMessage).where(
                    col(OutboxMessage.review_id).is_(None),
                    col(OutboxMessage.created_at) < before,
                    col(OutboxMessage.status) != "pending",
                )
            )
            return n


def sealed_columns() -> list[tuple[Table, list[Column[Any]]]]:
    """Every table with sealed columns, read from the models (nothing to keep in step)."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        cols = [c for c in table.columns if isinstance(c.type, SealedText | SealedJSON)]
        if cols:
            found.append((table, cols))
    return found


@dataclass
class Resealed:
    resealed: int = 0
    # Changed by the bot between our read and our write: it sealed them with the current key.
    skipped: int = 0


class SealedFieldsRepository:
    """Re-seals stored values with the current data key: values under an older key, and plain
    values written before encryption. Small batches, each its own short transaction, so the
    bot keeps running; a value the bot rewrote meanwhile is left to the bot (compare-and-set)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _stale(self, column: Column[Any], keys: Keyring) -> Any:
        raw = type_coerce(column, Text)
        mark = f"{PREFIX}{keys.current}:"
        return and_(raw.is_not(None), raw != "", func.substr(raw, 1, len(mark)) != mark)

    async def count_stale(self) -> dict[str, int]:
        """Values per `table.column` not yet under the current key (empty when all are)."""
        keys = self._db.keys
        counts: dict[str, int] = {}
        async with self._db.read() as s:
            for table, columns in sealed_columns():
                for column in columns:
                    stmt = select(func.count()).select_from(table).where(self._stale(column, keys))
                    n = int((await s.exec(stmt)).one())
                    if n:
                        counts[f"{table.name}.{column.name}"] = n
        return counts

    async def key_ids_not_held(self, *, most: int = 10) -> list[str]:
        """The ids of keys that sealed stored values but are not among the configured keys
        (up to `most`). One query per column, each stopping at the first value found under a
        key not yet listed, so a database with none costs one pass over the sealed columns."""
        keys = self._db.keys
        missing: list[str] = []
        async with self._db.read() as s:
            for table, columns in sealed_columns():
                for column in columns:
                    raw = type_coerce(column, Text)
                    while len(missing) < most:
                        known = [f"{PREFIX}{k}:" for k in [*keys.keys, *missing]]
                        found = (
                            await s.exec(
                                select(raw)
                                .select_from(table)
                                .where(
                                    func.substr(raw, 1, len(PREFIX)) == PREFIX,
                                    *(func.substr(raw, 1, len(m)) != m for m in known),
                                )
                                .limit(1)
                            )
                        ).first()
                        key_id = Keyring.key_id_of(found)
                        if key_id is None:
                            break
                        missing.append(key_id)
        return missing

    async def reseal_batch(
        self, *, table: Table, columns: list[Column[Any]], limit: int
    ) -> Resealed:
        keys = self._db.keys
        pk = list(table.primary_key.columns)
        raws = [type_coerce(c, Text).label(c.name) for c in columns]
        done = Resealed()
        async with self._db.session() as s:
            stmt = (
                select(*pk, *raws).where(or_(*(self._stale(c, keys) for c in columns))).limit(limit)
            )
            rows = (await s.exec(stmt)).all()
            for row in rows:
                changes: dict[Any, Any] = {}
                same: list[Any] = [p == row._mapping[p.name] for p in pk]
                for column in columns:
                    old = row._mapping[column.name]
                    raw = type_coerce(column, Text)
                    same.append(raw.is_(None) if old is None else raw == literal(old, Text))
                    if old is None or old == "" or Keyring.key_id_of(old) == keys.current:
                        continue
                    aad = column.type.aad  # type: ignore[attr-defined]
                    plain = keys.open(old, aad=aad) if old.startswith(PREFIX) else old
                    changes[column] = literal(keys.seal(plain, aad=aad), Text)
                res = await s.exec(update(table).where(*same).values(changes))
                if res.rowcount:
                    done.resealed += 1
                else:
                    done.skipped += 1
        return done

    async def reseal_all(self, *, batch: int = 500) -> Resealed:
        """Every stale value, `batch` rows per transaction."""
        total = Resealed()
        for table, columns in sealed_columns():
            while True:
                done = await self.reseal_batch(table=table, columns=columns, limit=batch)
                total.resealed += done.resealed
                total.skipped += done.skipped
                if done.resealed + done.skipped < batch or done.resealed == 0:
                    break
        return total


class Repositories:
    """The repositories over one database, handed to the bot and the delivery worker."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.reviews = ReviewRepository(db)
        self.links = LinkRepository(db)
        self.answers = AnswerRepository(db)
        self.code_attempts = CodeAttemptRepository(db)
        self.activities = ActivityLogRepository(db)
        self.bot_state = BotStateRepository(db)
        self.privacy = PrivacyRepository(db)
        self.alerts = AlertRepository(db)
        self.outbox = OutboxRepository(db)
        self.sealed = SealedFieldsRepository(db)
        self.web = WebDoorRepository(db)
