"""Adding staff and giving them a one-time set-up link, for the CLI (`myreview staff add`) and
the admin page alike.

A set-up link carries 256 random bits; only its SHA-256 is kept (a copy of the database opens
no account), and it works once, within 24 hours. Used on an account already set up, it sets a
new password and second factor: it is also how a forgotten password is reset.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from bot.settings import Settings
from storage.models import StaffMember, StaffMemberCreate
from storage.repositories import Repositories
from storage.types import utcnow

SETUP_LINK_HOURS = 24


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def base_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") or f"http://localhost:{settings.port}"


def setup_link(settings: Settings, token: str) -> str:
    # A query string, not a path: the access log leaves query strings out (bot/logs.py), and
    # pages send no Referer (Referrer-Policy: no-referrer).
    return f"{base_url(settings)}/staff/set-up?token={token}"


async def new_setup_link(
    repos: Repositories, settings: Settings, *, staff_id: int, by: int | None
) -> str:
    """A fresh set-up link for the account (earlier unused ones keep working until they
    expire); audited with who asked for it (None: the command line)."""
    token = secrets.token_urlsafe(32)
    await repos.staff.add_setup_token(
        staff_id=staff_id,
        token_hash=token_hash(token),
        expires_at=utcnow() + timedelta(hours=SETUP_LINK_HOURS),
    )
    await repos.audit.record(action="staff.set_up_link", staff_id=by, details={"staff": staff_id})
    return setup_link(settings, token)


async def add_staff(
    repos: Repositories, settings: Settings, *, data: StaffMemberCreate, by: int | None
) -> tuple[StaffMember, str]:
    """Creates the account and its set-up link, with the audit rows, in one transaction.
    Raises StaffExists if the email has an account."""
    async with repos.db.unit_of_work():
        member = await repos.staff.create(data=data)
        await repos.audit.record(
            action="staff.added",
            staff_id=by,
            details={"staff": member.id, "role": member.role, "roles": member.roles},
        )
        link = await new_setup_link(repos, settings, staff_id=member.id or 0, by=by)
    return member, link
