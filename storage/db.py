"""The database: one async engine, sessions, units of work, and Alembic migrations.

A repository call borrows `Database.session()`. Outside a unit of work that is a session of its
own, committed when the call ends. Inside `Database.unit_of_work()` (one chat turn) every call
shares the turn's session and nothing is committed until the turn's work is all done: the
answer, the dialog state and the "seen" marker of the activity land together or not at all.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.crypto import Keyring, attach

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class _Work:
    """The open unit of work of this task: its session and what to do once it commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.after_commit: list[Callable[[], None]] = []


_CURRENT: contextvars.ContextVar[_Work | None] = contextvars.ContextVar(
    "myreview_unit_of_work", default=None
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # We say BEGIN ourselves (below); the driver's own implicit BEGIN would be DEFERRED.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the outbox worker read while a turn writes; busy_timeout waits instead of failing
    # when another process holds the write lock.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


_READ_ONLY = "myreview_read_only"


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front. A DEFERRED transaction that reads and then writes
    # fails at once with SQLITE_BUSY when another connection committed in between (WAL cannot
    # upgrade a stale snapshot), which would fail a child's turn under ordinary concurrency.
    # A read-only session never writes, so it reads a snapshot beside the writer instead.
    read_only = conn.get_execution_options().get(_READ_ONLY)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def private_dir(path: Path) -> None:
    """Creates `path` (and any missing parents) readable by this user only. An existing folder
    is left as it is: the app checks its own var/ at start-up (bot/app.py)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Makes `path` an owner-only file (0600), creating it empty if need be. SQLite gives the
    -wal and -shm files it makes beside a database the database file's own mode."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)


class Database:
    """Owns the engine. Repositories borrow sessions from it; nothing else touches SQL."""

    def __init__(self, url: str, *, keys: Keyring) -> None:
        self.url = url
        self.keys = keys
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                private_file(Path(path))
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not self.is_sqlite)
        # Sealed columns find their keys on the engine's dialect (storage/crypto.py).
        attach(self.engine.sync_engine.dialect, keys)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._readers = async_sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}),
            class_=AsyncSession,
            expire_on_commit=False,
        )
        # SQLite has one writer at a time. Queueing our own transactions here is fair and
        # immediate, where SQLite's busy handler would poll with sleeps of up to 100 ms.
        self._writer = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        if self._writer is None:
            yield
            return
        async with self._writer:
            yield

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One repository call's session: the open unit of work's, else its own transaction."""
        work = _CURRENT.get()
        if work is not None:
            yield work.session
            await work.session.flush()
            return
        async with self._exclusive(), self._sessions() as s:
            yield s
            await s.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for a lookup that writes nothing: it waits for no writer."""
        work = _CURRENT.get()
        if work is not None:
            yield work.session
            return
        async with self._readers() as s:
            yield s

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """Everything the repositories do inside commits once at the end, or not at all."""
        if _CURRENT.get() is not None:
            raise RuntimeError("a unit of work is already open in this task")
        async with self._exclusive(), self._sessions() as s:
            work = _Work(s)
            token = _CURRENT.set(work)
            try:
                yield
                await s.commit()
            except BaseException:
                await s.rollback()
                raise
            finally:
                _CURRENT.reset(token)
        for callback in work.after_commit:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once what is being written is committed (at once outside a unit)."""
        work = _CURRENT.get()
        if work is None:
            callback()
        else:
            work.after_commit.append(callback)

    def insert(self) -> Any:
        """This backend's INSERT, which can say ON CONFLICT (both SQLite and PostgreSQL can)."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        async with self._exclusive(), self.engine.begin() as conn:
            await conn.run_sync(_upgrade_to_head)

    async def ping(self) -> bool:
        """The database answers and has been migrated (SELECT 1 alone passes on an empty file)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            return True
        except Exception:  # noqa: BLE001 - health checks report, they do not raise
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _upgrade_to_head(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
