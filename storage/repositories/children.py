"""A child across their reviews: their Language of Care, kept from the last review they sent for
the next one (dialogs/carry_over.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import col

from storage.db import Database
from storage.models import LanguageOfCare, Review
from storage.types import utcnow


class ChildRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def remember_language_of_care(
        self, *, review: Review, answers: dict[str, dict[str, Any]]
    ) -> None:
        """What the child shared at this review, sent just now, replaces what was kept (unless
        it came from a later review); nothing shared forgets it."""
        if review.child_key is None or review.id is None:
            return
        async with self._db.session() as s:
            kept = await s.get(LanguageOfCare, review.child_key)
            if (
                kept is not None
                and kept.review_id != review.id
                and kept.review_at > review.review_at
            ):
                return
            if not answers:
                if kept is not None:
                    await s.delete(kept)
                return
            kept = kept or LanguageOfCare(
                child_key=review.child_key,
                review_id=review.id,
                review_at=review.review_at,
                first_name=review.first_name,
            )
            kept.review_id = review.id
            kept.review_at = review.review_at
            kept.first_name = review.first_name
            kept.date_of_birth = review.date_of_birth
            kept.answers = answers
            kept.saved_at = utcnow()
            s.add(kept)
            await s.flush()

    async def language_of_care(self, *, child_key: str) -> LanguageOfCare | None:
        async with self._db.session() as s:
            return await s.get(LanguageOfCare, child_key)

    async def forget_language_of_care_before(self, *, before: datetime) -> int:
        """Deletes what was kept from reviews held before `before`; how many."""
        async with self._db.session() as s:
            res = await s.exec(delete(LanguageOfCare).where(col(LanguageOfCare.review_at) < before))
            return int(res.rowcount or 0)
