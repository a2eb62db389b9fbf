"""Re-sealing stored values with the current data key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, Text, and_, func, literal, or_, type_coerce, update
from sqlmodel import SQLModel, select

from storage.crypto import PREFIX, Keyring, SealedJSON, SealedText
from storage.db import Database


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
