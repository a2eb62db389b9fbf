"""Signing in to /staff: sessions held server-side, their cookie, CSRF, timeouts, sign-out,
failed sign-ins slowed without locking a real user out for long, and the pages' headers."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace

import pyotp
import time_machine

from bot.staff import sessions
from bot.staff.sessions import NOT_RIGHT, delay_for
from tests.conftest import make_settings
from tests.staff import (
    PASSWORD,
    audit_rows,
    hidden,
    make_staff,
    sign_in,
    signed_in,
    staff_cookie,
)


async def test_sign_in_starts_a_server_side_session_with_a_careful_cookie(client, parts):
    await make_staff(parts, email="pat.lee@council.example", role="iro", name="Pat Lee")
    response = await sign_in(client, "Pat.Lee@Council.example")  # any case
    assert response.status == 303 and response.headers["Location"] == "/staff"
    cookie = response.headers["Set-Cookie"]
    assert "myreview_staff=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/staff" in cookie
    assert "Secure" not in cookie  # plain http in tests; production sets it (below)
    home = await client.get("/staff")
    assert "Signed in as Pat Lee (IRO)" in await home.text()
    # The table holds the cookie value's hash, never the value.
    token = staff_cookie(client)
    assert token and await parts.repos.staff.session(session_id=token) is None
    assert await parts.repos.staff.session(session_id=sessions.session_key(token)) is not None
    assert [e.action for e in await audit_rows(parts)][-1] == "sign_in"


def test_the_cookie_is_secure_in_production(tmp_path):
    settings = make_settings(tmp_path)
    auth = sessions.StaffAuth(repos=None, settings=settings)  # type: ignore[arg-type]
    assert not auth.secure
    auth.settings = settings.model_copy(update={"environment": "production"})
    assert auth.secure


async def test_wrong_password_and_unknown_email_get_the_same_answer(client, parts):
    await make_staff(parts, email="pat.lee@council.example", role="iro")
    wrong = await sign_in(client, "pat.lee@council.example", password="not the password!")
    nobody = await sign_in(client, "nobody@council.example")
    assert wrong.status == nobody.status == 401
    for response in (wrong, nobody):
        assert NOT_RIGHT in await response.text()
    assert staff_cookie(client) is None
    home = await client.get("/staff", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == "/staff/sign-in"


async def test_a_form_without_its_token_changes_nothing(client, parts):
    await make_staff(parts, email="pat.lee@council.example", role="iro")
    refused = await client.post(
        "/staff/sign-in",
        data={"email": "pat.lee@council.example", "password": PASSWORD},
        allow_redirects=False,
    )
    assert refused.status == 403 and staff_cookie(client) is None
    csrf = await signed_in(client, "pat.lee@council.example")
    # Signed in, a form without the session's token (another site's) does nothing.
    for data in ({}, {"csrf": "x" * len(csrf)}):
        out = await client.post("/staff/sign-out", data=data, allow_redirects=False)
        assert out.status == 403
        assert "out of date" in await out.text()
    assert (await client.get("/staff")).url.path == "/staff"


async def test_sign_out_ends_the_session_and_everywhere_ends_them_all(
    client, parts, second_browser
):
    await make_staff(parts, email="pat.lee@council.example", role="iro")
    other = second_browser
    csrf = await signed_in(client, "pat.lee@council.example")
    await signed_in(other, "pat.lee@council.example")
    kept = staff_cookie(client)
    out = await client.post("/staff/sign-out", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/staff/sign-in?why=out"
    assert await parts.repos.staff.session(session_id=sessions.session_key(kept)) is None
    # The old cookie, sent again, opens nothing.
    again = await client.get("/staff", cookies={"myreview_staff": kept}, allow_redirects=False)
    assert again.status == 303
    assert (await other.get("/staff")).url.path == "/staff"  # the other browser is still in

    csrf = await signed_in(client, "pat.lee@council.example")
    out = await client.post(
        "/staff/sign-out-everywhere", data={"csrf": csrf}, allow_redirects=False
    )
    assert out.status == 303
    assert (await other.get("/staff")).url.path == "/staff/sign-in"
    actions = [e.action for e in await audit_rows(parts)]
    assert "sign_out" in actions and "sign_out.everywhere" in actions


async def test_a_session_ends_after_the_idle_timeout_and_after_twelve_hours(client, parts):
    await make_staff(parts, email="pat.lee@council.example", role="iro")
    with time_machine.travel(time.time(), tick=True) as traveller:
        await signed_in(client, "pat.lee@council.example")
        traveller.shift(timedelta(minutes=29))
        assert (await client.get("/staff")).url.path == "/staff"
        traveller.shift(timedelta(minutes=31))
        idle = await client.get("/staff", allow_redirects=False)
        assert idle.headers["Location"] == "/staff/sign-in?why=idle"
        page = await client.get(idle.headers["Location"])
        assert "after 30 minutes without opening a page" in await page.text()

        # Busy all day: still out at 12 hours.
        await signed_in(client, "pat.lee@council.example")
        for _ in range(12 * 3 - 1):
            traveller.shift(timedelta(minutes=20))
            assert (await client.get("/staff")).url.path == "/staff"
        traveller.shift(timedelta(minutes=21))
        late = await client.get("/staff", allow_redirects=False)
        assert late.headers["Location"] == "/staff/sign-in?why=expired"


async def test_failed_sign_ins_are_slowed_then_paused_briefly_for_that_address(
    staff_client, monkeypatch
):
    # What the server waits, noted as it waits (really): wall-clock upper bounds would fail on a
    # busy machine; the lower bounds below cannot.
    waits: list[float] = []

    async def noted_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    monkeypatch.setattr(sessions, "asyncio", SimpleNamespace(sleep=noted_sleep))
    client, parts = await staff_client(web_behind_proxy=True)
    await make_staff(parts, email="pat.lee@council.example", role="iro")
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    owner = {"X-Forwarded-For": "198.51.100.7"}
    assert [delay_for(n) for n in range(8)] == [0, 0, 0, 0.5, 1, 2, 4, 4]
    with time_machine.travel(time.time(), tick=True) as traveller:
        took, waited = [], []
        for _ in range(5):
            started, before = time.monotonic(), len(waits)
            r = await sign_in(
                client, "pat.lee@council.example", "guess guess guess", headers=attacker
            )
            took.append(time.monotonic() - started)
            waited.append(sum(waits[before:]))
            assert r.status == 401 and NOT_RIGHT in await r.text()
        assert waited == [0, 0, 0, 0.5, 1.0], waited
        assert took[3] >= 0.5 and took[4] >= 1.0, took
        # Paused for that address, right password or not, and told for how long.
        paused = await sign_in(client, "pat.lee@council.example", headers=attacker)
        assert paused.status == 401 and "Wait 5 minutes" in await paused.text()
        # The owner, elsewhere, gets in: slowed a little (a few seconds at most), not locked.
        before = len(waits)
        assert (await sign_in(client, "pat.lee@council.example", headers=owner)).status == 303
        assert sum(waits[before:]) <= sessions.MAX_DELAY
        client.session.cookie_jar.clear()
        # Five minutes on, the pause is over.
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert (await sign_in(client, "pat.lee@council.example", headers=attacker)).status == 303
    # A guess at an email with no account is answered and counted the same.
    client.session.cookie_jar.clear()
    for _ in range(5):
        await sign_in(client, "nobody@council.example", "x" * 12, headers=owner)
    again = await sign_in(client, "nobody@council.example", headers=owner)
    assert "Wait 5 minutes" in await again.text()


async def test_a_second_factor_is_asked_once_enrolled_and_a_code_works_once(
    staff_client,
):
    client, parts = await staff_client(staff_second_factor=True)
    _, secret = await make_staff(parts, email="pat.lee@council.example", role="iro", totp=True)
    assert (await sign_in(client, "pat.lee@council.example")).status == 401  # no code
    wrong = await sign_in(client, "pat.lee@council.example", code="000000")
    assert wrong.status == 401
    code = pyotp.TOTP(secret).now()
    assert (await sign_in(client, "pat.lee@council.example", code=code)).status == 303
    client.session.cookie_jar.clear()
    # The same code, seen over a shoulder, does not open a second session.
    assert (await sign_in(client, "pat.lee@council.example", code=code)).status == 401
    # Without an authenticator app set up, where one is required, the account must be set up.
    await make_staff(parts, email="jo@council.example", role="iro")
    r = await sign_in(client, "jo@council.example")
    assert r.status == 401 and "set-up link" in await r.text()


async def test_pages_send_their_own_strict_headers(client, parts):
    await make_staff(parts, email="pat.lee@council.example", role="iro")
    page = await client.get("/staff/sign-in")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script at all
    assert "style-src 'self'" in csp and "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Server"] == "MyReview"
    html = await page.text()
    assert "<script" not in html and " style=" not in html
    assert '<html lang="en">' in html and 'href="#main"' in html and '<label for="email">' in html
    css = await client.get(hidden_css(html))
    assert css.status == 200 and css.content_type == "text/css"
    assert "@media print" in await css.text()


def hidden_css(html: str) -> str:
    import re

    found = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_sign_in_form_with_nothing_in_it_says_what_is_missing(client, parts):
    page = await client.get("/staff/sign-in")
    token = hidden(await page.text(), "form_token")
    r = await client.post("/staff/sign-in", data={"form_token": token})
    assert r.status == 400 and "Enter your email and password" in await r.text()
    r = await client.post(
        "/staff/sign-in",
        data=b"\xff\xfe garbage",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status in (400, 403)
