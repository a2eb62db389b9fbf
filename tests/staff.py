"""Helpers for the staff workspace tests: accounts made straight in the database (with the cheap
argon2 hasher tests/conftest.py puts in place, so a test signs in in milliseconds), forms read
from the pages, signing in."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from aiohttp.test_utils import TestClient

from bot.app import Parts
from bot.staff import credentials
from storage.models import StaffMember, StaffMemberCreate

PASSWORD = "correct horse battery staple"


async def make_staff(
    parts: Parts,
    *,
    email: str,
    role: str,
    also: tuple[str, ...] = (),
    name: str | None = None,
    password: str | None = PASSWORD,
    totp: bool = False,
) -> tuple[StaffMember, str | None]:
    """An account (set up with `password`, and a TOTP secret if `totp`), holding `role` and
    the roles `also`; and the secret."""
    member = await parts.repos.staff.create(
        data=StaffMemberCreate(
            email=email,
            display_name=name or email.split("@")[0],
            role=role,
            extra_roles=list(also),
        )
    )
    secret = pyotp.random_base32() if totp else None
    if password is not None:
        await parts.repos.staff.set_credentials(
            staff_id=member.id or 0,
            password_hash=credentials.HASHER.hash(password),
            totp_secret=secret,
        )
    return member, secret


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


async def sign_in(
    client: TestClient,
    email: str,
    password: str = PASSWORD,
    code: str = "",
    headers: dict[str, str] | None = None,
) -> Any:
    page = await client.get("/staff/sign-in", headers=headers)
    token = hidden(await page.text(), "form_token")
    return await client.post(
        "/staff/sign-in",
        data={"form_token": token, "email": email, "password": password, "code": code},
        headers=headers,
        allow_redirects=False,
    )


async def signed_in(client: TestClient, email: str, **kw: Any) -> str:
    """Signs in and returns the CSRF token of the home page."""
    response = await sign_in(client, email, **kw)
    assert response.status == 303, await response.text()
    home = await client.get("/staff")
    assert home.status == 200
    return hidden(await home.text(), "csrf")


def staff_cookie(client: Any) -> str | None:
    jar = client.session.cookie_jar if isinstance(client, TestClient) else client.cookie_jar
    for cookie in jar:
        if cookie.key == "myreview_staff":
            return cookie.value
    return None


async def audit_rows(parts: Parts, action: str | None = None) -> list[Any]:
    return list(reversed(await parts.repos.audit.recent(limit=1000, action=action)))
