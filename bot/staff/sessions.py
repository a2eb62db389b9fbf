"""Signing staff in and keeping them signed in.

- **Sessions** live in the database (`StaffSession`), so a restart or a second instance keeps
  them. The browser holds a random 256-bit value in the cookie `myreview_staff` (HttpOnly,
  SameSite=Lax, path /staff, Secure in production); the table holds its SHA-256. A session
  ends after `staff_idle_minutes` without a page opened, `staff_session_hours` after sign-in,
  at sign-out, or for every browser at once with "sign out everywhere".
- **CSRF**: every form that changes something carries the session's own token, compared in
  constant time. Forms shown before there is a session (sign-in, set-up) carry a random value
  that must equal a cookie set with the form (SameSite=Strict): another site can send neither.
- **Failed sign-ins** are counted in the database per account, per address and per the pair.
  From the third failure on an account or an address, each try waits before it is checked
  (0.5 s, doubling to 4 s at most); a real user under attack waits those seconds, never more.
  Five failures from one address for one account, or 30 from one address for any, pause that
  address for 5 minutes: someone elsewhere trying an account cannot lock its owner out, and an
  owner who mistypes five times waits 5 minutes at most. A success clears its pair's count.
  Whatever failed, the message is the same and does not say whether the email has an account.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from bot.settings import Settings
from bot.staff import credentials
from bot.staff.entra import Identity
from storage.models import StaffMember, StaffSession
from storage.repositories import Repositories
from storage.types import utcnow

COOKIE = "myreview_staff"
FORM_COOKIE = "myreview_staff_form"
PATH = "/staff"
WINDOW = timedelta(minutes=15)
FREE_TRIES = 2
FIRST_DELAY = 0.5
MAX_DELAY = 4.0
PAIR_LOCK_AFTER = 5
ADDRESS_LOCK_AFTER = 30
LOCK = timedelta(minutes=5)
# A session's last-seen time is written at most this often: reading a page is not a write.
TOUCH_EVERY = timedelta(seconds=30)
NOT_RIGHT = "The email, password or code is not right. Check them and try again."


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def delay_for(failures: int) -> float:
    """Seconds to wait before checking a try, after this many recent failures."""
    if failures < FREE_TRIES + 1:
        return 0.0
    return float(min(FIRST_DELAY * 2 ** (failures - FREE_TRIES - 1), MAX_DELAY))


@dataclass
class Signed:
    """A signed-in request: who, and their session."""

    member: StaffMember
    session: StaffSession


@dataclass
class EntraSignedIn:
    member: StaffMember | None = None
    token: str | None = None
    # Why nobody was signed in: "unknown" (no account), "inactive", "another_identity".
    refused: str | None = None


@dataclass
class SignIn:
    member: StaffMember | None = None
    token: str | None = None
    error: str | None = None
    waited: float = 0.0


class StaffAuth:
    def __init__(self, *, repos: Repositories, settings: Settings) -> None:
        self.repos = repos
        self.settings = settings
        self._secret = settings.secret_key.get_secret_value().encode()
        self.idle = timedelta(minutes=settings.staff_idle_minutes)
        self.absolute = timedelta(hours=settings.staff_session_hours)

    # --- who is asking ----------------------------------------------------------------------

    def address(self, request: web.Request) -> str:
        if self.settings.web_behind_proxy:
            # The proxy appends the address it saw: the last entry is the one it vouches for.
            last = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            if last:
                return last
        return request.remote or "unknown"

    def _key(self, kind: str, value: str) -> str:
        # Keyed, so the table holds no email or address a dictionary could recover.
        return hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def _keys(self, email: str, address: str) -> dict[str, str]:
        return {
            "account": self._key("account", email),
            "address": self._key("address", address),
            "pair": self._key("pair", f"{email}\n{address}"),
        }

    # --- signing in -------------------------------------------------------------------------

    async def sign_in(self, *, email: str, password: str, code: str, address: str) -> SignIn:
        email = email.strip().lower()[:254]
        now = utcnow()
        keys = self._keys(email, address)
        found = await self.repos.staff.failures_since(keys=keys.values(), since=now - WINDOW)

        def count(kind: str) -> tuple[int, datetime | None]:
            n, last = found.get(keys[kind], (0, None))
            return n, last

        for kind, limit in (("pair", PAIR_LOCK_AFTER), ("address", ADDRESS_LOCK_AFTER)):
            n, last = count(kind)
            if n >= limit and last is not None and now < last + LOCK:
                minutes = max(1, round((last + LOCK - now).total_seconds() / 60))
                return SignIn(
                    error=f"Too many tries. Wait {minutes} minute{'s' if minutes > 1 else ''} "
                    "and try again, or ask an admin for a new set-up link."
                )
        waited = delay_for(max(count("account")[0], count("address")[0]))
        if waited:
            await asyncio.sleep(waited)

        member = await self.repos.staff.by_email(email=email)
        usable = member is not None and member.active
        ok = await credentials.check_password(
            member.password_hash if usable and member else None, password[:1024]
        )
        async with self.repos.db.unit_of_work():
            step = None
            if ok and member is not None and member.totp_secret:
                step = credentials.totp_step(member.totp_secret, code, at=time.time())
                ok = step is not None and await self.repos.staff.take_totp_step(
                    staff_id=member.id or 0, step=step
                )
            if not ok or member is None:
                await self.repos.staff.record_failure(keys=keys.values(), at=now)
                if member is not None:
                    await self.repos.audit.record(action="sign_in.failed", staff_id=member.id)
                return SignIn(error=NOT_RIGHT, waited=waited)
            if self.settings.second_factor_required and not member.totp_secret:
                return SignIn(
                    error="Your account needs setting up again with an authenticator app. "
                    "Ask an admin for a new set-up link.",
                    waited=waited,
                )
            token = await self._start(member)
            await self.repos.staff.clear_failures(keys=[keys["pair"]])
            await self.repos.audit.record(action="sign_in", staff_id=member.id)
        if member.password_hash and credentials.needs_rehash(member.password_hash):
            await self.repos.staff.set_credentials(
                staff_id=member.id or 0,
                password_hash=await credentials.hash_password(password),
                totp_secret=member.totp_secret,
            )
        return SignIn(member=member, token=token, waited=waited)

    async def sign_in_with_entra(self, identity: Identity) -> EntraSignedIn:
        """The staff member Entra vouched for: by their stored object id, or the first time
        by their email (the object id is stored then, and matched from then on). Nobody
        without an account gets one; a deactivated account stays out."""
        staff = self.repos.staff
        async with self.repos.db.unit_of_work():
            member = await staff.by_entra_oid(oid=identity.oid)
            linked = False
            if member is None and identity.email:
                by_email = await staff.by_email(email=identity.email)
                if by_email is not None and by_email.entra_oid is not None:
                    # That account signs in as another Microsoft identity: an email moved to
                    # someone else, or a look-alike. Not this person's, until an admin says so.
                    await self.repos.audit.record(
                        action="sign_in.failed",
                        staff_id=by_email.id,
                        details={"method": "entra", "reason": "another_identity"},
                    )
                    return EntraSignedIn(refused="another_identity")
                if by_email is not None and by_email.active:
                    linked = await staff.bind_entra_oid(staff_id=by_email.id or 0, oid=identity.oid)
                    if not linked:
                        return EntraSignedIn(refused="another_identity")
                member = by_email
            if member is None:
                # Who asked, so an admin can add them if they should have an account.
                await self.repos.audit.record(
                    action="sign_in.unknown",
                    staff_id=None,
                    details={"method": "entra", "email": identity.email},
                )
                return EntraSignedIn(refused="unknown")
            if not member.active:
                await self.repos.audit.record(
                    action="sign_in.failed",
                    staff_id=member.id,
                    details={"method": "entra", "reason": "inactive"},
                )
                return EntraSignedIn(refused="inactive", member=member)
            if linked:
                await self.repos.audit.record(
                    action="staff.entra_linked", staff_id=member.id, details={"staff": member.id}
                )
            token = await self._start(member)
            await self.repos.audit.record(
                action="sign_in", staff_id=member.id, details={"method": "entra"}
            )
        return EntraSignedIn(member=member, token=token)

    async def _start(self, member: StaffMember) -> str:
        """A new session (inside the caller's unit of work); the cookie's value."""
        token = secrets.token_urlsafe(32)
        await self.repos.staff.start_session(
            session_id=session_key(token),
            staff_id=member.id or 0,
            csrf_token=secrets.token_urlsafe(32),
            at=utcnow(),
        )
        return token

    async def start_after_set_up(self, member: StaffMember) -> str:
        return await self._start(member)

    # --- the current session ----------------------------------------------------------------

    async def current(self, request: web.Request) -> tuple[Signed | None, str | None]:
        """The signed-in person, or None and why ("idle", "expired") when a session ended."""
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 100:
            return None, None
        key = session_key(token)
        found = await self.repos.staff.session(session_id=key)
        if found is None:
            return None, None
        session, member = found
        now = utcnow()
        why = None
        if not member.active:
            why = "inactive"
        elif now - session.created_at > self.absolute:
            why = "expired"
        elif now - session.last_seen_at > self.idle:
            why = "idle"
        if why is not None:
            await self.repos.staff.end_session(session_id=key)
            return None, why
        if now - session.last_seen_at > TOUCH_EVERY:
            await self.repos.staff.touch_session(session_id=key, at=now)
        return Signed(member, session), None

    async def sign_out(self, signed: Signed, *, everywhere: bool) -> int:
        async with self.repos.db.unit_of_work():
            if everywhere:
                ended = await self.repos.staff.end_sessions_of(staff_id=signed.member.id or 0)
            else:
                ended = await self.repos.staff.end_session(session_id=signed.session.id)
            await self.repos.audit.record(
                action="sign_out.everywhere" if everywhere else "sign_out",
                staff_id=signed.member.id,
                details={"sessions": ended},
            )
        return ended

    # --- cookies and CSRF -------------------------------------------------------------------

    @property
    def secure(self) -> bool:
        return self.settings.environment == "production"

    def set_session_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
            path=PATH,
            httponly=True,
            samesite="Lax",
            secure=self.secure,
            # No max-age: the browser forgets it when it closes; the server ends it anyway.
        )

    def clear_session_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path=PATH)

    @staticmethod
    def csrf_ok(signed: Signed, sent: object) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(
            sent.encode(), signed.session.csrf_token.encode()
        )

    @staticmethod
    def form_token(request: web.Request) -> str:
        """The value a pre-session form carries: its cookie's, or a new one (`set_form_cookie`)."""
        token = request.cookies.get(FORM_COOKIE)
        if not token or len(token) > 100:
            token = secrets.token_urlsafe(24)
        return token

    def set_form_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            FORM_COOKIE, token, path=PATH, httponly=True, samesite="Strict", secure=self.secure
        )

    @staticmethod
    def form_token_ok(request: web.Request, sent: object) -> bool:
        cookie = request.cookies.get(FORM_COOKIE)
        return (
            bool(cookie)
            and isinstance(sent, str)
            and hmac.compare_digest(sent.encode(), str(cookie).encode())
        )
