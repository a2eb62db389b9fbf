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
    AlertHistory,
    OutboxMessage,
    SafeguardingAlert,
    SafeguardingAlertBase,
)
from storage.repositories.audit import AuditRepository
from storage.types import utcnow

# The duty board's queues (bot/staff/pages.py): lead alerts only, what was said after them is
# shown with them.
QUEUES = ("unowned", "mine", "open", "closed")
OPEN = ("new", "acknowledged", "action")
_SAME = object()


class AlertRepository:
    def __init__(self, db: Database, *, audit: AuditRepository) -> None:
        self._db = db
        self._audit = audit

    async def create_once(
        self,
        *,
        data: SafeguardingAlertBase,
        review_id: int | None,
        message: str,
        activity_id: str | None,
        translation: str | None = None,
        created_at: datetime | None = None,
    ) -> tuple[SafeguardingAlert, bool]:
        """The alert for this message, made now (True) or when the channel first sent it.
        `created_at`: the turn's time (the services' clock), so that what is counted from it
        (grouping, holding, escalation) counts by the same clock."""
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
                    "created_at": created_at or utcnow(),
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
        """The alert's email waits, to go out with others (see `held`). Kept with a lead, it
        takes the lead's state and owner; a lead already closed is opened again, so that what
        the child said after it was closed is on the duty board, with its owner."""
        async with self._db.session() as s:
            values: dict[str, Any] = {"email": "held", "merged_into": merged_into}
            lead = await s.get(SafeguardingAlert, merged_into) if merged_into else None
            if lead is not None and lead.state == "closed":
                await self._reopen(s, lead)
            if lead is not None:
                values |= {
                    "state": lead.state,
                    "owner_id": lead.owner_id,
                    "state_at": lead.state_at,
                    "acknowledged_at": lead.acknowledged_at,
                    "acknowledged_by": lead.acknowledged_by,
                }
            await s.exec(
                update(SafeguardingAlert)
                .where(col(SafeguardingAlert.id) == alert_id)
                .values(**values)
            )

    async def _reopen(self, s: Any, lead: SafeguardingAlert) -> None:
        at = utcnow()
        lead_id = lead.id or 0
        await s.exec(
            update(SafeguardingAlert)
            .where(
                or_(
                    col(SafeguardingAlert.id) == lead_id,
                    col(SafeguardingAlert.merged_into) == lead_id,
                )
            )
            .values(state="acknowledged", state_at=at)
        )
        s.add(
            AlertHistory(
                alert_id=lead_id,
                at=at,
                staff_id=None,
                action="reopened",
                state="acknowledged",
                owner_id=lead.owner_id,
            )
        )
        await s.flush()
        await s.refresh(lead)
        await self._audit.record(
            action="alert.reopened",
            staff_id=None,
            review_id=lead.review_id,
            details={"alert": lead_id, "why": "more words from the child"},
            at=at,
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
        """Per review, its alerts no one has acknowledged yet (leads: what was said after an
        alert is part of it)."""
        async with self._db.read() as s:
            res = await s.exec(
                select(SafeguardingAlert.review_id, func.count())
                .where(
                    col(SafeguardingAlert.review_id).in_(review_ids),
                    SafeguardingAlert.state == "new",
                    col(SafeguardingAlert.merged_into).is_(None),
                    SafeguardingAlert.tier != "after",
                )
                .group_by(col(SafeguardingAlert.review_id))
            )
            return {int(r): int(n) for r, n in res.all() if r is not None}

    def _queue(self, queue: str, staff_id: int) -> list[Any]:
        where: list[Any] = [
            col(SafeguardingAlert.merged_into).is_(None),
            SafeguardingAlert.tier != "after",
        ]
        if queue == "closed":
            return [*where, SafeguardingAlert.state == "closed"]
        where.append(col(SafeguardingAlert.state).in_(OPEN))
        if queue == "unowned":
            where.append(col(SafeguardingAlert.owner_id).is_(None))
        elif queue == "mine":
            where.append(SafeguardingAlert.owner_id == staff_id)
        return where

    async def board(
        self, *, queue: str = "open", staff_id: int = 0, limit: int = 500
    ) -> list[SafeguardingAlert]:
        """The duty team's queue (QUEUES): open ones oldest first, so the longest waiting is at
        the top; closed ones most recently closed first."""
        order: list[Any] = (
            [col(SafeguardingAlert.state_at).desc(), col(SafeguardingAlert.id).desc()]
            if queue == "closed"
            else [col(SafeguardingAlert.created_at), col(SafeguardingAlert.id)]
        )
        async with self._db.read() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(*self._queue(queue, staff_id))
                .order_by(*order)
                .limit(limit)
            )
            return list(res.all())

    async def queue_counts(self, *, staff_id: int) -> dict[str, int]:
        async with self._db.read() as s:
            counts = {}
            for queue in QUEUES:
                res = await s.exec(
                    select(func.count())
                    .select_from(SafeguardingAlert)
                    .where(*self._queue(queue, staff_id))
                )
                counts[queue] = int(res.one())
            return counts

    async def newest_open(self) -> SafeguardingAlert | None:
        async with self._db.read() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(*self._queue("open", 0))
                .order_by(
                    col(SafeguardingAlert.created_at).desc(), col(SafeguardingAlert.id).desc()
                )
                .limit(1)
            )
            return res.first()

    async def follower_counts(self, *, lead_ids: list[int]) -> dict[int, tuple[int, datetime]]:
        """Per lead, how many messages are kept with it, and when the last came."""
        async with self._db.read() as s:
            res = await s.exec(
                select(
                    SafeguardingAlert.merged_into,
                    func.count(),
                    func.max(SafeguardingAlert.created_at),
                )
                .where(col(SafeguardingAlert.merged_into).in_(lead_ids))
                .group_by(col(SafeguardingAlert.merged_into))
            )
            return {int(lead): (int(n), last) for lead, n, last in res.all() if lead is not None}

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

    async def change(
        self,
        *,
        alert_id: int,
        staff_id: int | None,
        at: datetime,
        action: str,
        note: str | None,
        from_states: Iterable[str],
        state: str | None = None,
        owner_id: Any = _SAME,
        from_owner: Any = _SAME,
    ) -> AlertHistory | None:
        """One change to a lead alert, with its history row: its state becomes `state` and its
        owner `owner_id` (either unchanged if not given), if it is still in one of
        `from_states` (and owned by `from_owner`, if given). Alerts kept with it change too.
        None when someone changed it first: of two people pressing at once, the first is
        recorded and the second told."""
        async with self._db.session() as s:
            where: list[Any] = [
                col(SafeguardingAlert.id) == alert_id,
                col(SafeguardingAlert.merged_into).is_(None),
                col(SafeguardingAlert.state).in_(list(from_states)),
            ]
            if from_owner is not _SAME:
                where.append(
                    col(SafeguardingAlert.owner_id).is_(None)
                    if from_owner is None
                    else SafeguardingAlert.owner_id == from_owner
                )
            values: dict[str, Any] = {}
            if state is not None:
                values |= {"state": state, "state_at": at}
            if owner_id is not _SAME:
                values["owner_id"] = owner_id
            if action == "acknowledged":
                values |= {"acknowledged_at": at, "acknowledged_by": staff_id}
            if values:
                res = await s.exec(update(SafeguardingAlert).where(*where).values(**values))
                if not res.rowcount:
                    return None
                await s.exec(
                    update(SafeguardingAlert)
                    .where(col(SafeguardingAlert.merged_into) == alert_id)
                    .values(**values)
                )
            lead = (await s.exec(select(SafeguardingAlert).where(*where[:2]))).first()
            if lead is None:
                return None
            await s.refresh(lead)
            entry = AlertHistory(
                alert_id=alert_id,
                at=at,
                staff_id=staff_id,
                action=action,
                state=lead.state,
                owner_id=lead.owner_id,
                note=note or None,
            )
            s.add(entry)
            await s.flush()
            return entry

    async def history(self, *, alert_id: int) -> list[AlertHistory]:
        async with self._db.session() as s:
            res = await s.exec(
                select(AlertHistory)
                .where(AlertHistory.alert_id == alert_id)
                .order_by(col(AlertHistory.at), col(AlertHistory.id))
            )
            return list(res.all())

    # --- escalation to the duty manager ------------------------------------------------------

    async def awaiting_acknowledgement(self, *, steps: int) -> list[SafeguardingAlert]:
        """Urgent lead alerts no one has acknowledged, with escalation emails still to come."""
        async with self._db.read() as s:
            res = await s.exec(
                select(SafeguardingAlert)
                .where(
                    SafeguardingAlert.state == "new",
                    SafeguardingAlert.tier == "clear",
                    col(SafeguardingAlert.merged_into).is_(None),
                    col(SafeguardingAlert.escalations) < steps,
                )
                .order_by(col(SafeguardingAlert.created_at), col(SafeguardingAlert.id))
            )
            return list(res.all())

    async def claim_escalation(self, *, alert_id: int, step: int) -> bool:
        """Marks escalation `step` as sent, if no one has marked it (or a later one) yet and
        the alert is still unacknowledged: whoever gets True sends it, once, across restarts
        and instances (the row is the record)."""
        async with self._db.session() as s:
            res = await s.exec(
                update(SafeguardingAlert)
                .where(
                    col(SafeguardingAlert.id) == alert_id,
                    col(SafeguardingAlert.escalations) < step,
                    col(SafeguardingAlert.state) == "new",
                )
                .values(escalations=step)
            )
            return bool(res.rowcount)
