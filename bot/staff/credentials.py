"""Passwords and the second factor for local staff accounts.

Passwords are hashed with argon2id at argon2-cffi's defaults (RFC 9106's second
recommendation: 3 passes over 64 MiB, 4 lanes), in a worker thread so a sign-in never holds
the event loop. The second factor is TOTP (RFC 6238, 30-second steps, 6 digits), the codes any
authenticator app makes; its QR code is drawn here as SVG (segno), with no network and no
script.
"""

from __future__ import annotations

import asyncio
import io
import re

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher()
# Verified against when the email has no account, so a wrong email takes as long as a wrong
# password: the time taken does not say whether an account exists. Made once per hasher (the
# tests use a cheaper one).
_NOBODY: dict[int, str] = {}
MIN_PASSWORD = 12
MAX_PASSWORD = 256
ISSUER = "MyReview"
CODE = re.compile(r"\d{6}")
# The most common passwords of 12 characters or more (breach corpora), lower-cased.
COMMON = {
    "123456789012",
    "1234567890123",
    "qwertyuiopas",
    "password1234",
    "passwordpassword",
    "iloveyou1234",
    "administrator",
    "qwerty123456",
    "abcdefghijkl",
    "111111111111",
    "aaaaaaaaaaaa",
    "changemenow1",
    "welcome12345",
    "letmein12345",
}


def password_problem(password: str, *, email: str) -> str | None:
    """Why a new password will not do, in words for the person choosing it, or None. Length
    over rules (NCSC): no demands for symbols, just long and not obvious."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters. Three random words work well."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if lowered in COMMON or len(set(lowered)) < 5:
        return "That password is too easy to guess. Three random words work well."
    if len(local) >= 4 and local in lowered:
        return "Do not use your email address in your password."
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


def needs_rehash(stored: str) -> bool:
    """Made with other parameters than today's (they are raised as machines get faster)."""
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


async def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` was made from; with nothing stored, the same
    work is done against a hash no password matches."""

    hasher = HASHER

    def verify() -> bool:
        against = (
            stored
            or _NOBODY.get(id(hasher))
            or _NOBODY.setdefault(id(hasher), hasher.hash("no account has this password"))
        )
        try:
            return hasher.verify(against, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, *, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline <svg> element (no XML declaration), with a title for
    screen readers; the secret is also shown as text beside it for typing in."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out,
        kind="svg",
        scale=5,
        border=2,
        xmldecl=False,
        svgns=True,
        title="QR code for your authenticator app",
        svgclass="qr",
        lineclass=None,
    )
    return out.getvalue().decode()


def totp_step(secret: str, code: str, *, at: float) -> int | None:
    """The 30-second step `code` was made for, allowing one step either side (a phone's
    clock a little out), or None if it is not a code for this secret now."""
    code = code.strip().replace(" ", "")
    if not CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(at // totp.interval)
    for step in (now_step, now_step - 1, now_step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
