"""Reviews: made by staff, found by their invite code, their codes renewed, their summaries
marked sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    OutboxMessage,
    Review,
    ReviewCreate,
)


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
        child_key: str | None = None,
    ) -> Review:
        review = Review.model_validate(
            data,
            update={
                "invite_code_hash": invite_code_hash,
                "invite_expires_at": invite_expires_at,
                "content_version": content_version,
                "child_key": child_key,
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

    async def change(self, *, review_id: int, **values: Any) -> Review:
        """Sets these fields (a new date, place, IRO; cancelled; read): staff's changes, made
        by bot/reviews.py with their audit row and any notice to the child."""
        async with self._db.session() as s:
            review = await s.get(Review, review_id)
            if review is None:
                raise LookupError(review_id)
            for name, value in values.items():
                setattr(review, name, value)
            s.add(review)
            await s.flush()
            return review

    async def mark_read(self, *, review_id: int, by: int, at: datetime) -> bool:
        """Marks the child's answers read, once: False if they were marked before."""
        async with self._db.session() as s:
            res = await s.exec(
                update(Review)
                .where(col(Review.id) == review_id, col(Review.read_at).is_(None))
                .values(read_at=at, read_by=by)
            )
            return bool(res.rowcount)

    async def iro_counts(self) -> dict[str, int]:
        """Reviews per IRO email (lower case), for the admin's list of IROs."""
        async with self._db.read() as s:
            email = func.lower(col(Review.iro_email))
            res = await s.exec(select(email, func.count()).group_by(email))
            return {str(e): int(n) for e, n in res.all()}

    async def remember_sent(
        self,
        *,
        review_id: int,
        answers: dict[str, str],
        update_sent: dict[str, Any] | None = None,
    ) -> None:
        """Each answer as the summary just queued shows it; and, for a summary sent after the
        first, when and what it listed as changed (`update_sent`), added to the history."""
        async with self._db.session() as s:
            values: dict[str, Any] = {"sent_answers": answers}
            if update_sent is not None:
                review = await s.get(Review, review_id)
                if review is None:
                    raise LookupError(review_id)
                values["sent_history"] = [*(review.sent_history or []), update_sent]
            await s.exec(update(Review).where(col(Review.id) == review_id).values(**values))

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

    async def for_iro(self, *, iro_email: str) -> list[Review]:
        """The reviews allocated to this IRO (by the email on the review, in any case),
        soonest first."""
        async with self._db.read() as s:
            res = await s.exec(
                select(Review)
                .where(func.lower(col(Review.iro_email)) == iro_email.strip().lower())
                .order_by(col(Review.review_at), col(Review.id))
            )
            return list(res.all())

    async def many(self, *, review_ids: list[int]) -> dict[int, Review]:
        async with self._db.read() as s:
            res = await s.exec(select(Review).where(col(Review.id).in_(review_ids)))
            return {r.id: r for r in res.all() if r.id is not None}

    # --- the same child's reviews (bot/reviews.py) ---------------------------------------------

    async def of_children(self, *, child_keys: list[str]) -> list[Review]:
        """Every review of these children (by child key), for an import to match its rows."""
        if not child_keys:
            return []
        found: list[Review] = []
        async with self._db.read() as s:
            # In slices: a database limits the parameters of one query.
            for i in range(0, len(child_keys), 500):
                res = await s.exec(
                    select(Review).where(col(Review.child_key).in_(child_keys[i : i + 500]))
                )
                found += res.all()
        return found

    async def update_fields(self, *, review_id: int, values: dict[str, Any]) -> Review:
        """Sets these fields of a review (checked by the caller as a ReviewCreate would be)."""
        async with self._db.session() as s:
            review = await s.get(Review, review_id)
            if review is None:
                raise LookupError(review_id)
            for name, value in values.items():
                setattr(review, name, value)
            s.add(review)
            await s.flush()
            return review

    async def without_child_key(self, *, after: int, limit: int) -> list[Review]:
        """Reviews with a case reference and no child key yet, by id, after `after`."""
        async with self._db.read() as s:
            res = await s.exec(
                select(Review)
                .where(
                    col(Review.child_key).is_(None),
                    col(Review.case_reference).is_not(None),
                    col(Review.id) > after,
                )
                .order_by(col(Review.id))
                .limit(limit)
            )
            return list(res.all())

    async def set_child_keys(self, *, keys: dict[int, str]) -> None:
        if not keys:
            return
        async with self._db.session() as s:
            for review_id, key in keys.items():
                await s.exec(
                    update(Review).where(col(Review.id) == review_id).values(child_key=key)
                )
