"""Staff accounts: `myreview staff add` prints a one-time set-up link; the link sets a password
(and, where required, enrols an authenticator app by QR code), works once and for 24 hours."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
import time_machine

from bot import cli
from bot.staff import credentials
from tests.staff import (
    PASSWORD,
    audit_rows,
    hidden,
    sign_in,
    staff_cookie,
)

LINK = re.compile(r"http://localhost:3978(/staff/set-up\?token=[A-Za-z0-9_-]{43})")


def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/myreview.db")


def test_staff_add_prints_a_one_time_link_and_refuses_bad_input_clearly(
    tmp_path, monkeypatch, capsys
):
    cli_env(tmp_path, monkeypatch)
    cli.main(["staff", "add", "--email", "Pat.Lee@Council.example", "--name", "Pat Lee",
              "--role", "iro"])  # fmt: skip
    out = capsys.readouterr().out
    assert "Staff member 1 added: Pat Lee (iro)." in out
    assert LINK.search(out)
    with pytest.raises(SystemExit, match="already an account for pat.lee@council.example"):
        cli.main(["staff", "add", "--email", "pat.lee@council.example", "--name", "P",
                  "--role", "duty"])  # fmt: skip
    with pytest.raises(SystemExit, match="must be an email address"):
        cli.main(["staff", "add", "--email", "pat", "--name", "Pat", "--role", "iro"])
    with pytest.raises(SystemExit):  # argparse names the roles
        cli.main(["staff", "add", "--email", "a@b.example", "--name", "A", "--role", "boss"])
    with pytest.raises(SystemExit, match="no active staff account for x@y.example"):
        cli.main(["staff", "link", "--email", "x@y.example"])
    cli.main(["staff", "link", "--email", "PAT.LEE@council.example"])
    assert LINK.search(capsys.readouterr().out)


async def test_a_set_up_link_sets_a_password_once_and_signs_in(client, parts, settings):
    member, link = await cli.staff_add(
        settings,
        cli.StaffMemberCreate(email="pat.lee@council.example", display_name="Pat Lee", role="iro"),
    )
    path = LINK.search(link).group(1)
    page = await client.get(path)
    html = await page.text()
    assert page.status == 200 and "Set up your account" in html and "Pat Lee" in html
    assert "<svg" not in html  # no second factor outside production unless asked for
    form = {
        "form_token": hidden(html, "form_token"),
        "token": hidden(html, "token"),
        "password": "short",
        "password_again": "short",
    }
    weak = await client.post("/staff/set-up", data=form)
    assert weak.status == 400 and "at least 12 characters" in await weak.text()
    form.update(password=PASSWORD, password_again=PASSWORD + "!")
    assert "not the same" in await (await client.post("/staff/set-up", data=form)).text()
    form.update(password_again=PASSWORD)
    done = await client.post("/staff/set-up", data=form, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/staff" and staff_cookie(client)
    stored = await parts.repos.staff.get(staff_id=member.id)
    assert stored.password_hash.startswith("$argon2id$")
    # Used once: the link is gone, and says what to do.
    client.session.cookie_jar.clear()
    again = await client.get(path)
    assert again.status == 404 and "Ask an admin for a new one" in await again.text()
    assert (await sign_in(client, "pat.lee@council.example")).status == 303
    actions = [e.action for e in await audit_rows(parts)]
    assert actions[:3] == ["staff.added", "staff.set_up_link", "staff.set_up"]


async def test_a_set_up_link_expires_after_24_hours(client, settings):
    with time_machine.travel(time.time(), tick=True) as traveller:
        _, link = await cli.staff_add(
            settings,
            cli.StaffMemberCreate(email="a@council.example", display_name="A", role="duty"),
        )
        traveller.shift(timedelta(hours=24, minutes=1))
        late = await client.get(LINK.search(link).group(1))
        assert late.status == 404
    for bad in ("", "x", "x" * 500, "%00"):
        assert (await client.get(f"/staff/set-up?token={bad}")).status == 404


async def test_where_required_the_link_enrols_an_authenticator_app_by_qr_code(staff_client):
    client, parts = await staff_client(staff_second_factor=True)
    _, link = await cli.staff_add(
        parts.settings,
        cli.StaffMemberCreate(email="pat.lee@council.example", display_name="Pat", role="iro"),
    )
    page = await client.get(LINK.search(link).group(1))
    html = await page.text()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and "<title>QR code" in html
    secret = hidden(html, "totp_secret")
    form = {
        "form_token": hidden(html, "form_token"),
        "token": hidden(html, "token"),
        "password": PASSWORD,
        "password_again": PASSWORD,
        "totp_secret": secret,
        "code": "123456",
    }
    wrong = await client.post("/staff/set-up", data=form)
    assert wrong.status == 400 and "code is not right" in await wrong.text()
    assert hidden(await wrong.text(), "totp_secret") == secret  # the same QR code, kept
    code = pyotp.TOTP(secret).now()
    form["code"] = code
    done = await client.post("/staff/set-up", data=form, allow_redirects=False)
    assert done.status == 303
    client.session.cookie_jar.clear()
    # The enrolment code is spent; the next one signs in.
    assert (await sign_in(client, "pat.lee@council.example", code=code)).status == 401
    member = await parts.repos.staff.by_email(email="pat.lee@council.example")
    assert member.totp_secret == secret
    # Sealed at rest like a child's words.
    async with parts.db.engine.connect() as conn:
        from sqlalchemy import text

        raw = (await conn.execute(text("SELECT totp_secret FROM staffmember"))).scalar_one()
    assert raw.startswith("v1:") and secret not in raw


def test_passwords_are_long_not_obvious_and_hashed_with_argon2id():
    problem = credentials.password_problem
    assert problem("short", email="a@b.c")
    assert problem("password1234", email="a@b.c")
    assert problem("aaaaaaaaaaaaaaaa", email="a@b.c")
    assert problem("pat.lee-is-my-name", email="pat.lee@council.example")
    assert problem("x" * 300, email="a@b.c")
    assert problem("plum kettle orbit window", email="a@b.c") is None
    params = credentials.PasswordHasher()
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
