"""Everything held about one review, to hand over (subject access) or delete (retention, or the
young person's request); and the tables that hold nothing of a child's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    AlertHistory,
    Answer,
    BotStateItem,
    ChannelLink,
    ChildNotice,
    ChildNoticeDelivery,
    LanguageOfCare,
    OutboxMessage,
    ProcessedActivity,
    Review,
    SafeguardingAlert,
    WebActivity,
    WebConversation,
)

# Tables with nothing of a child's in them (counters and bookkeeping). Every other table must
# be covered by PrivacyRepository's purge and export; a test holds new tables to this.
# Staff accounts, their links, sessions and failed sign-ins are about staff. The audit trail
# names reviews by id and says who read them, never what a child wrote; it is kept when a
# review is purged, as the record that the child's words were read and by whom.
NO_CHILD_DATA = frozenset(
    {
        "codeattempt",
        "codegate",
        "outboxlessee",
        "alembic_version",
        "staffmember",
        "staffsetuptoken",
        "staffsession",
        "signinfailure",
        "auditevent",
    }
)

# Tables holding what names children but belongs to no one review, kept only for minutes: a
# CSV file of upcoming reviews being imported (sealed; deleted when the import is confirmed or
# cancelled, or an hour after it was uploaded: bot/staff/imports.py, bot/jobs.py).
PASSING_THROUGH = frozenset({"reviewimport"})


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

            about_alerts = or_(
                col(SafeguardingAlert.review_id) == review_id,
                col(SafeguardingAlert.conversation_id).in_(conversations),
            )
            alert_ids = select(SafeguardingAlert.id).where(about_alerts)
            return {
                "review": [review.model_dump(mode="json", exclude={"invite_code_hash"})],
                "channellink": [link.model_dump(mode="json") for link in links],
                "childnotice": await rows(ChildNotice, ChildNotice.review_id == review_id),
                "childnoticedelivery": await rows(
                    ChildNoticeDelivery,
                    col(ChildNoticeDelivery.link_id).in_([link.id for link in links]),
                ),
                "answer": await rows(Answer, Answer.review_id == review_id),
                "safeguardingalert": await rows(SafeguardingAlert, about_alerts),
                # What staff did about them, with their notes (which may quote the child).
                "alerthistory": await rows(AlertHistory, col(AlertHistory.alert_id).in_(alert_ids)),
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
                "languageofcare": await rows(LanguageOfCare, LanguageOfCare.review_id == review_id),
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
                f"{kind}:{alert_id}{suffix}"
                for alert_id in alerts
                for kind, suffix in (
                    ("alert", ""),
                    ("alert", ":linked"),
                    ("alert", ":more"),
                    ("escalation", ":1"),
                    ("escalation", ":2"),
                )
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

    async def purge(self, *, review_id: int, keep_language_of_care: bool = False) -> dict[str, int]:
        """Deletes every row about the review, the review included; returns counts only. The
        child's Language of Care taken from it is deleted too, unless kept (retention: it has
        its own period, for the child's next review)."""
        async with self._db.session() as s:
            links, keys = await self._conversations(s, review_id)
            conversations = [link.conversation_id for link in links]
            counts: dict[str, int] = {}
            about_alerts = or_(
                col(SafeguardingAlert.review_id) == review_id,
                col(SafeguardingAlert.conversation_id).in_(conversations),
            )
            alert_ids = select(SafeguardingAlert.id).where(about_alerts)
            notices = select(ChildNotice.id).where(col(ChildNotice.review_id) == review_id)
            if not keep_language_of_care:
                res = await s.exec(
                    delete(LanguageOfCare).where(col(LanguageOfCare.review_id) == review_id)
                )
                counts["languageofcare"] = int(res.rowcount or 0)
            for name, stmt in (
                (
                    "childnoticedelivery",
                    delete(ChildNoticeDelivery).where(
                        col(ChildNoticeDelivery.notice_id).in_(notices)
                    ),
                ),
                ("childnotice", delete(ChildNotice).where(col(ChildNotice.review_id) == review_id)),
                ("answer", delete(Answer).where(col(Answer.review_id) == review_id)),
                (
                    "alerthistory",
                    delete(AlertHistory).where(col(AlertHistory.alert_id).in_(alert_ids)),
                ),
                ("safeguardingalert", delete(SafeguardingAlert).where(about_alerts)),
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
        unlinked = (
            col(SafeguardingAlert.review_id).is_(None),
            col(SafeguardingAlert.created_at) < before,
        )
        async with self._db.session() as s:
            await s.exec(
                delete(AlertHistory).where(
                    col(AlertHistory.alert_id).in_(select(SafeguardingAlert.id).where(*unlinked))
                )
            )
            res = await s.exec(delete(SafeguardingAlert).where(*unlinked))
            n = int(res.rowcount or 0)
            await s.exec(
                delete(OutboxMessage).where(
                    col(OutboxMessage.review_id).is_(None),
                    col(OutboxMessage.created_at) < before,
                    col(OutboxMessage.status) != "pending",
                )
            )
            return n
