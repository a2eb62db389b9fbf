"""A review's answers: saved, read, marked for the IRO alone, and cleared."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import Answer
from storage.types import utcnow


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

    async def add_many(self, *, answers: list[Answer]) -> None:
        """Adds answers no review has yet, in one go: for seeding a database of many reviews
        (the staff figures, tests/staff_figures.py). The chat saves one at a time (`save`)."""
        async with self._db.session() as s:
            s.add_all(answers)
            await s.flush()

    async def all_for(self, *, review_id: int) -> dict[str, Answer]:
        async with self._db.session() as s:
            res = await s.exec(
                select(Answer).where(Answer.review_id == review_id).order_by(col(Answer.id))
            )
            return {a.question_id: a for a in res.all()}

    async def for_reviews(self, *, review_ids: list[int]) -> dict[int, dict[str, Answer]]:
        """Each review's answers, for a board of many reviews in one query."""
        found: dict[int, dict[str, Answer]] = {i: {} for i in review_ids}
        async with self._db.read() as s:
            res = await s.exec(select(Answer).where(col(Answer.review_id).in_(review_ids)))
            for a in res.all():
                found[a.review_id][a.question_id] = a
        return found

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
