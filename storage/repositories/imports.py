"""CSV files of upcoming reviews between their upload and their import (bot/staff/imports.py):
kept sealed, for their uploader, deleted once confirmed or cancelled, or an hour after upload."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col

from storage.db import Database
from storage.models import ReviewImport


class ImportRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, *, staff_id: int, file_name: str, text: str) -> ReviewImport:
        row = ReviewImport(staff_id=staff_id, file_name=file_name, text=text)
        async with self._db.session() as s:
            s.add(row)
            await s.flush()
        return row

    async def get(self, *, import_id: int, staff_id: int, since: datetime) -> ReviewImport | None:
        """The import, if it is this person's and was uploaded since `since`."""
        async with self._db.session() as s:
            row = await s.get(ReviewImport, import_id)
        if row is None or row.staff_id != staff_id or row.created_at < since:
            return None
        return row

    async def set_mapping(self, *, import_id: int, mapping: dict[str, int]) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(ReviewImport)
                .where(col(ReviewImport.id) == import_id)
                .values(mapping=mapping)
            )

    async def delete(self, *, import_id: int) -> bool:
        async with self._db.session() as s:
            res = await s.exec(delete(ReviewImport).where(col(ReviewImport.id) == import_id))
            return bool(res.rowcount)

    async def forget_before(self, *, before: datetime) -> int:
        """Deletes imports uploaded before `before` and never finished; how many."""
        async with self._db.session() as s:
            res = await s.exec(delete(ReviewImport).where(col(ReviewImport.created_at) < before))
            return int(res.rowcount or 0)
