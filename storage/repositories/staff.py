"""Staff: their accounts, one-time set-up links, signed-in sessions, and failed sign-ins."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, or_, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    SignInFailure,
    StaffMember,
    StaffMemberCreate,
    StaffSession,
    StaffSetupToken,
)


class StaffExists(ValueError):
    """An account with that email is already there."""


class LastAdmin(ValueError):
    """The change would leave no active account holding the admin role."""


class StaffRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- accounts ---------------------------------------------------------------------------

    async def create(self, *, data: StaffMemberCreate) -> StaffMember:
        async with self._db.session() as s:
            found = await s.exec(select(StaffMember.id).where(StaffMember.email == data.email))
            if found.first() is not None:
                raise StaffExists(data.email)
            member = StaffMember.model_validate(data)
            s.add(member)
            await s.flush()
            return member

    async def get(self, *, staff_id: int) -> StaffMember | None:
        async with self._db.session() as s:
            return await s.get(StaffMember, staff_id)

    async def by_email(self, *, email: str) -> StaffMember | None:
        async with self._db.session() as s:
            res = await s.exec(
                select(StaffMember).where(StaffMember.email == email.strip().lower())
            )
            return res.first()

    async def by_entra_oid(self, *, oid: str) -> StaffMember | None:
        async with self._db.session() as s:
            res = await s.exec(select(StaffMember).where(StaffMember.entra_oid == oid))
            return res.first()

    async def bind_entra_oid(self, *, staff_id: int, oid: str) -> bool:
        """Stores the Entra object id on an account that has none yet (once: an account bound
        to one Microsoft identity is never moved to another here)."""
        async with self._db.session() as s:
            taken = await s.exec(select(StaffMember.id).where(StaffMember.entra_oid == oid))
            if taken.first() is not None:
                return False
            res = await s.exec(
                update(StaffMember)
                .where(col(StaffMember.id) == staff_id, col(StaffMember.entra_oid).is_(None))
                .values(entra_oid=oid)
            )
            return bool(res.rowcount)

    async def everyone(self) -> list[StaffMember]:
        async with self._db.read() as s:
            res = await s.exec(
                select(StaffMember).order_by(
                    col(StaffMember.active).desc(), col(StaffMember.display_name)
                )
            )
            return list(res.all())

    async def set_credentials(
        self, *, staff_id: int, password_hash: str, totp_secret: str | None
    ) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(StaffMember)
                .where(col(StaffMember.id) == staff_id)
                .values(password_hash=password_hash, totp_secret=totp_secret, totp_last_step=None)
            )

    async def take_totp_step(self, *, staff_id: int, step: int) -> bool:
        """Records `step` as used, if it is later than the last one used: a code seen once
        (read over a shoulder, or replayed) is not taken again."""
        async with self._db.session() as s:
            res = await s.exec(
                update(StaffMember)
                .where(
                    col(StaffMember.id) == staff_id,
                    or_(
                        col(StaffMember.totp_last_step).is_(None),
                        col(StaffMember.totp_last_step) < step,
                    ),
                )
                .values(totp_last_step=step)
            )
            return bool(res.rowcount)

    async def deactivate(self, *, staff_id: int) -> bool:
        """Stops the account: its sessions end and its set-up links stop working."""
        async with self._db.session() as s:
            res = await s.exec(
                update(StaffMember)
                .where(col(StaffMember.id) == staff_id, col(StaffMember.active))
                .values(active=False)
            )
            await s.exec(delete(StaffSession).where(col(StaffSession.staff_id) == staff_id))
            await s.exec(delete(StaffSetupToken).where(col(StaffSetupToken.staff_id) == staff_id))
            return bool(res.rowcount)

    async def set_roles(
        self, *, staff_id: int, role: str, extra_roles: list[str]
    ) -> tuple[list[str], StaffMember] | None:
        """Makes `role` the account's main role and `extra_roles` the others it holds (both
        checked by the caller, as StaffMemberCreate does); returns the roles it held before
        and the account as it is now, or None if there is no such account. Raises LastAdmin,
        changing nothing, if it is the last active account holding admin and admin is not
        among its new roles. The active accounts are locked while it looks (on PostgreSQL;
        SQLite has one writer at a time): two admins cannot each take the other's role."""
        async with self._db.session() as s:
            res = await s.exec(select(StaffMember).where(col(StaffMember.active)).with_for_update())
            admins = [m.id for m in res.all() if m.holds("admin")]
            member = await s.get(StaffMember, staff_id)
            if member is None:
                return None
            before = member.roles
            if admins == [staff_id] and "admin" not in (role, *extra_roles):
                raise LastAdmin(member.email)
            member.role = role
            member.extra_roles = list(extra_roles)
            s.add(member)
            await s.flush()
            return before, member

    # --- set-up links -----------------------------------------------------------------------

    async def add_setup_token(
        self, *, staff_id: int, token_hash: str, expires_at: datetime
    ) -> None:
        async with self._db.session() as s:
            s.add(StaffSetupToken(staff_id=staff_id, token_hash=token_hash, expires_at=expires_at))
            await s.flush()

    async def setup_token(
        self, *, token_hash: str, now: datetime
    ) -> tuple[StaffSetupToken, StaffMember] | None:
        """The unused, unexpired link with this hash and its (active) account."""
        async with self._db.session() as s:
            res = await s.exec(
                select(StaffSetupToken, StaffMember)
                .join(StaffMember, col(StaffMember.id) == col(StaffSetupToken.staff_id))
                .where(
                    StaffSetupToken.token_hash == token_hash,
                    col(StaffSetupToken.used_at).is_(None),
                    col(StaffSetupToken.expires_at) > now,
                    col(StaffMember.active),
                )
            )
            row = res.first()
            return None if row is None else (row[0], row[1])

    async def use_setup_token(self, *, token_id: int, at: datetime) -> bool:
        """Marks the link used, once: of two forms sent with it, one wins."""
        async with self._db.session() as s:
            res = await s.exec(
                update(StaffSetupToken)
                .where(col(StaffSetupToken.id) == token_id, col(StaffSetupToken.used_at).is_(None))
                .values(used_at=at)
            )
            return bool(res.rowcount)

    # --- sessions ---------------------------------------------------------------------------

    async def start_session(
        self, *, session_id: str, staff_id: int, csrf_token: str, at: datetime
    ) -> StaffSession:
        async with self._db.session() as s:
            row = StaffSession(
                id=session_id,
                staff_id=staff_id,
                csrf_token=csrf_token,
                created_at=at,
                last_seen_at=at,
            )
            s.add(row)
            await s.flush()
            return row

    async def session(self, *, session_id: str) -> tuple[StaffSession, StaffMember] | None:
        async with self._db.read() as s:
            res = await s.exec(
                select(StaffSession, StaffMember)
                .join(StaffMember, col(StaffMember.id) == col(StaffSession.staff_id))
                .where(StaffSession.id == session_id)
            )
            row = res.first()
            return None if row is None else (row[0], row[1])

    async def touch_session(self, *, session_id: str, at: datetime) -> None:
        async with self._db.session() as s:
            await s.exec(
                update(StaffSession)
                .where(col(StaffSession.id) == session_id)
                .values(last_seen_at=at)
            )

    async def end_session(self, *, session_id: str) -> int:
        async with self._db.session() as s:
            res = await s.exec(delete(StaffSession).where(col(StaffSession.id) == session_id))
            return int(res.rowcount or 0)

    async def end_sessions_of(self, *, staff_id: int) -> int:
        async with self._db.session() as s:
            res = await s.exec(delete(StaffSession).where(col(StaffSession.staff_id) == staff_id))
            return int(res.rowcount or 0)

    async def forget_sessions(self, *, idle_before: datetime, started_before: datetime) -> int:
        """Sessions past their idle or absolute timeout (they are refused anyway)."""
        async with self._db.session() as s:
            res = await s.exec(
                delete(StaffSession).where(
                    or_(
                        col(StaffSession.last_seen_at) < idle_before,
                        col(StaffSession.created_at) < started_before,
                    )
                )
            )
            return int(res.rowcount or 0)

    # --- failed sign-ins --------------------------------------------------------------------

    async def record_failure(self, *, keys: Iterable[str], at: datetime) -> None:
        async with self._db.session() as s:
            for key in keys:
                s.add(SignInFailure(key=key, at=at))
            await s.flush()

    async def failures_since(
        self, *, keys: Iterable[str], since: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per key: how many failures since `since`, and when the last was."""
        async with self._db.read() as s:
            res = await s.exec(
                select(SignInFailure.key, func.count(), func.max(SignInFailure.at))
                .where(col(SignInFailure.key).in_(list(keys)), col(SignInFailure.at) >= since)
                .group_by(col(SignInFailure.key))
            )
            return {key: (int(n), last) for key, n, last in res.all()}

    async def clear_failures(self, *, keys: Iterable[str]) -> None:
        async with self._db.session() as s:
            await s.exec(delete(SignInFailure).where(col(SignInFailure.key).in_(list(keys))))

    async def forget_failures_before(self, *, before: datetime) -> int:
        async with self._db.session() as s:
            res = await s.exec(delete(SignInFailure).where(col(SignInFailure.at) < before))
            return int(res.rowcount or 0)
