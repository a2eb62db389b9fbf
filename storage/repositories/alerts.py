"""Safeguarding alerts: stored once, grouped under the chat's lead alert, held for the duty
team's limit, and found again for the IRO's summary."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    OutboxMessage,
    SafeguardingAlert,
    SafeguardingAlertBase,
)


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

    # --- owned on the duty board (issue 18) -------------------------------------------------

    async def open_counts(self, *, review_ids: list[int]) -> dict[int, int]:
        """Per review, its alerts no one has acknowledged yet."""
        async with self._db.read() as s:
            res = await s.exec(
                select(SafeguardingAlert.review_id, func.count())
                .where(
                    col(SafeguardingAlert.review_id).in_(review_ids),
                    col(SafeguardingAlert.acknowledged_at).is_(None),
                    SafeguardingAlert.tier != "after",
                )
                .group_by(col(SafeguardingAlert.review_id))
            )
            return {int(r): int(n) for r, n in res.all() if r is not None}

    async def board(self, *, limit: int = 500) -> list[SafeguardingAlert]:
        """Every alert for the duty team, open ones first, newest first within each. What a
        child said after the help ("after") is shown with the alert it follows."""
        async with self._db.read() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(SafeguardingAlert.tier != "after")
                .order_by(
                    col(SafeguardingAlert.acknowledged_at).is_not(None),
                    col(SafeguardingAlert.created_at).desc(),
                    col(SafeguardingAlert.id).desc(),
                )
                .limit(limit)
            )
            return list(res.all())

    async def followers(self, *, alert_id: int) -> list[SafeguardingAlert]:
        """What was merged into this alert: repeats, and what the child said after the help."""
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(SafeguardingAlert.merged_into == alert_id)
                .order_by(col(SafeguardingAlert.created_at), col(SafeguardingAlert.id))
            )
            return list(res.all())

    async def review_has_alerts(self, *, review_id: int) -> bool:
        async with self._db.session() as s:
            res = await s.exec(
                select(SafeguardingAlert.id)
                .where(SafeguardingAlert.review_id == review_id)
                .limit(1)
            )
            return res.first() is not None

    async def acknowledge(self, *, alert_id: int, staff_id: int, at: datetime, note: str) -> bool:
        """Marks the alert acknowledged, once: of two people pressing at once, the first
        is recorded and the second is told."""
        async with self._db.session() as s:
            res = await s.exec(
                update(SafeguardingAlert)
                .where(
                    col(SafeguardingAlert.id) == alert_id,
                    col(SafeguardingAlert.acknowledged_at).is_(None),
                )
                .values(acknowledged_at=at, acknowledged_by=staff_id, acknowledgement_note=note)
            )
            return bool(res.rowcount)
