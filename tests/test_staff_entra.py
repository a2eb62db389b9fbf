"""Signing in with Microsoft Entra ID, through a fake tenant started by the test
(tests/fake_entra.py, on localhost): the authorisation code flow with PKCE, and every check on
the way back (state, nonce, issuer, audience, tenant, signature, expiry). Staff are matched by
their Entra object id, or the first time by email; nobody gets an account by signing in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.staff.entra import FLOW_COOKIE
from storage.models import StaffMemberCreate
from tests.conftest import make_settings
from tests.fake_entra import CLIENT_ID, CLIENT_SECRET, TENANT, FakeEntra, Person
from tests.staff import PASSWORD, audit_rows, hidden, make_staff, staff_cookie

JO = "jo.smith@council.example"
OID = "0b5e9d1c-7f3a-4e62-a8b4-1c9d2e3f4a5b"


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    fake = await FakeEntra().start()
    yield fake
    await fake.close()


@pytest.fixture
async def app_with_entra(staff_client, entra) -> tuple[TestClient, Any]:
    return await staff_client(**entra.settings())


async def through_entra(
    client: TestClient, *, back: Callable[[str], str] | None = None, cookies: bool = True
) -> aiohttp.ClientResponse:
    """The browser's round trip: MyReview's button, Entra's authorize page (which signs the
    fake's `person` in at once), and back to MyReview's callback, whose answer is returned.
    `back` may change the URL Entra sends the browser back to."""
    start = await client.get("/staff/sign-in/entra", allow_redirects=False)
    assert start.status == 303, await start.text()
    async with aiohttp.ClientSession() as at_microsoft:
        answer = await at_microsoft.get(start.headers["Location"], allow_redirects=False)
        assert answer.status == 302, await answer.text()
        url = answer.headers["Location"]
    if back is not None:
        url = back(url)
    parts = urlsplit(url)
    if not cookies:
        client.session.cookie_jar.clear()
    return await client.get(f"{parts.path}?{parts.query}", allow_redirects=False)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


async def test_an_iro_signs_in_with_microsoft_and_is_matched_by_email_then_object_id(
    app_with_entra, entra
):
    client, parts = app_with_entra
    # An account made by an admin, never set up with a password.
    jo, _ = await make_staff(parts, email=JO, role="iro", name="Jo Smith", password=None)
    page = await (await client.get("/staff/sign-in")).text()
    assert "Sign in with your council Microsoft account" in page

    entra.person = Person(oid=OID, email="Jo.Smith@Council.example", name="Jo Smith (Entra)")
    back = await through_entra(client)
    assert back.status == 303 and back.headers["Location"] == "/staff"
    home = await client.get("/staff")
    assert "Signed in as Jo Smith (IRO)" in await home.text()
    assert "My reviews" in await home.text()
    # PKCE, a nonce and a state were sent; the code came back with the verifier and secret.
    (asked,) = entra.authorize_requests
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["client_id"] == CLIENT_ID and asked["nonce"] and asked["state"]
    assert asked["redirect_uri"].endswith("/staff/sign-in/entra/callback")
    (exchanged,) = entra.token_requests
    assert len(exchanged["code_verifier"]) >= 43 and exchanged["client_secret"] == CLIENT_SECRET
    # The object id is kept: from now on it is what matches, whatever the email becomes.
    stored = await parts.repos.staff.get(staff_id=jo.id)
    assert stored.entra_oid == OID and stored.password_hash is None
    actions = [(e.action, e.details) for e in await audit_rows(parts)]
    assert ("staff.entra_linked", {"staff": jo.id}) in actions
    assert actions[-1] == ("sign_in", {"method": "entra"})

    await client.post(
        "/staff/sign-out",
        data={"csrf": hidden(await home.text(), "csrf")},
        allow_redirects=False,
    )
    assert staff_cookie(client) is None
    entra.person = Person(oid=OID, email="jo.smith-renamed@council.example")
    again = await through_entra(client)
    assert again.status == 303
    assert "Signed in as Jo Smith (IRO)" in await (await client.get("/staff")).text()
    assert [e.action for e in await audit_rows(parts, "staff.entra_linked")] == [
        "staff.entra_linked"
    ]


async def test_the_cookie_that_holds_the_sign_in_is_short_lived_and_only_for_the_callback(
    app_with_entra, entra
):
    client, _ = app_with_entra
    start = await client.get("/staff/sign-in/entra", allow_redirects=False)
    cookie = start.headers["Set-Cookie"]
    assert f"{FLOW_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/staff/sign-in/entra/callback" in cookie and "Max-Age=600" in cookie
    # Nothing secret in the address sent to Microsoft: the verifier stays here.
    assert "code_verifier" not in start.headers["Location"]


async def test_a_wrong_or_missing_state_signs_nobody_in(app_with_entra, entra):
    client, parts = app_with_entra
    await make_staff(parts, email=JO, role="iro", password=None)
    entra.person = Person(oid=OID, email=JO)
    forged = await through_entra(client, back=lambda url: with_query(url, state="forged-state"))
    assert forged.status == 400
    assert "started in another tab" in await forged.text()
    # The code never reached the token endpoint: the state was refused first.
    assert entra.token_requests == []
    # Another browser (an attacker's link opened by someone else): no flow cookie there.
    elsewhere = await through_entra(client, cookies=False)
    assert elsewhere.status == 400 and staff_cookie(client) is None
    assert (await parts.repos.staff.by_email(email=JO)).entra_oid is None


@pytest.mark.parametrize(
    "tamper, claim",
    [
        ("nonce", "claim:nonce"),
        ("signature", "signature"),
        ("issuer", "claim:iss"),
        ("audience", "claim:aud"),
        ("tenant", "claim:tid"),
        ("expired", "claim:exp"),
    ],
)
async def test_an_id_token_that_fails_a_check_signs_nobody_in(app_with_entra, entra, tamper, claim):
    client, parts = app_with_entra
    await make_staff(parts, email=JO, role="iro", password=None)
    entra.person = Person(oid=OID, email=JO)
    entra.tamper = tamper
    back = await through_entra(client)
    assert back.status == 401, tamper
    assert "could not be checked, so you are not signed in" in await back.text()
    assert staff_cookie(client) is None
    assert (await client.get("/staff", allow_redirects=False)).status == 303
    assert (await parts.repos.staff.by_email(email=JO)).entra_oid is None
    (failed,) = await audit_rows(parts, "sign_in.failed")
    assert failed.details == {"method": "entra", "reason": claim} and failed.staff_id is None
    # The same person, with an honest token, then gets in.
    assert (await through_entra(client)).status == 303


async def test_someone_without_an_account_is_told_to_ask_an_admin_and_gets_none(
    app_with_entra, entra
):
    client, parts = app_with_entra
    await make_staff(parts, email=JO, role="iro", password=None)
    before = await parts.repos.staff.everyone()
    entra.person = Person(oid=OID, email="someone.else@council.example")
    back = await through_entra(client)
    html = await back.text()
    assert back.status == 403
    assert "Ask an admin for a MyReview account" in html
    assert "as someone.else@council.example" in html
    assert await parts.repos.staff.everyone() == before
    assert staff_cookie(client) is None
    (unknown,) = await audit_rows(parts, "sign_in.unknown")
    assert unknown.details == {"method": "entra", "email": "someone.else@council.example"}


async def test_a_deactivated_person_stays_out(app_with_entra, entra):
    client, parts = app_with_entra
    jo, _ = await make_staff(parts, email=JO, role="iro", password=None)
    entra.person = Person(oid=OID, email=JO)
    assert (await through_entra(client)).status == 303
    client.session.cookie_jar.clear()
    await parts.repos.staff.deactivate(staff_id=jo.id)
    back = await through_entra(client)
    assert back.status == 403 and "Your account is not active" in await back.text()
    assert staff_cookie(client) is None
    failed = await audit_rows(parts, "sign_in.failed")
    assert [(e.staff_id, e.details["reason"]) for e in failed] == [(jo.id, "inactive")]


async def test_an_account_linked_to_one_microsoft_identity_is_not_taken_by_another(
    app_with_entra, entra
):
    client, parts = app_with_entra
    await make_staff(parts, email=JO, role="iro", password=None)
    entra.person = Person(oid=OID, email=JO)
    assert (await through_entra(client)).status == 303
    client.session.cookie_jar.clear()
    # Someone else now has Jo's email in Entra (a reused address, a look-alike account).
    entra.person = Person(oid="9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", email=JO)
    back = await through_entra(client)
    assert back.status == 403 and "linked to a different Microsoft account" in await back.text()
    assert (await parts.repos.staff.by_email(email=JO)).entra_oid == OID


async def test_microsoft_refusing_or_not_answering_is_said_plainly(
    app_with_entra, entra, staff_client
):
    client, _ = app_with_entra
    entra.person = None  # the person cancels at Microsoft (access_denied)
    back = await through_entra(client)
    assert back.status == 401 and "Microsoft did not sign you in" in await back.text()
    # Nothing listening where the tenant should be (port 9, discard): a page, not a hang.
    nowhere, _ = await staff_client(**{**entra.settings(), "entra_authority": "http://127.0.0.1:9"})
    down = await nowhere.get("/staff/sign-in/entra", allow_redirects=False)
    assert down.status == 502 and "not answering" in await down.text()


async def test_without_entra_settings_there_is_no_microsoft_button(client):
    page = await (await client.get("/staff/sign-in")).text()
    assert "Microsoft" not in page
    assert (await client.get("/staff/sign-in/entra")).status == 404
    assert (await client.get("/staff/sign-in/entra/callback?code=x&state=y")).status == 404


def test_entra_settings_refuse_placeholders_outside_development(tmp_path):
    good = {
        "entra_tenant_id": TENANT,
        "entra_client_id": CLIENT_ID,
        "entra_client_secret": CLIENT_SECRET,
    }
    assert make_settings(tmp_path, **good).entra_enabled
    assert not make_settings(tmp_path).entra_enabled
    for bad, words in (
        ({"entra_tenant_id": "common"}, "the council's own tenant"),
        ({"entra_tenant_id": ""}, "the council's own tenant"),
        ({"entra_tenant_id": "your-tenant-id"}, "MYREVIEW_ENTRA_TENANT_ID must be the GUID"),
        (
            {"entra_client_id": "00000000-0000-0000-0000-000000000000"},
            "MYREVIEW_ENTRA_CLIENT_ID must be the GUID",
        ),
        ({"entra_client_secret": "changeme"}, "MYREVIEW_ENTRA_CLIENT_SECRET"),
        ({"entra_client_secret": "short"}, "MYREVIEW_ENTRA_CLIENT_SECRET"),
    ):
        with pytest.raises(ValueError, match=words):
            make_settings(tmp_path, **{**good, **bad})
    # Development accepts a tenant named by its domain and a secret still to be replaced.
    dev = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        entra_tenant_id="council.onmicrosoft.com",
        entra_client_id="dev-app",
        entra_client_secret="x",
    )
    assert dev.entra_enabled


async def test_with_passwords_off_staff_sign_in_with_microsoft_only(staff_client, entra):
    client, parts = await staff_client(**entra.settings(), staff_local_sign_in=False)
    jo, _ = await make_staff(parts, email=JO, role="iro", name="Jo Smith")  # has a password
    page = await client.get("/staff/sign-in")
    html = await page.text()
    assert "Sign in with your council Microsoft account" in html
    assert 'type="password"' not in html and "Ask an admin to add you" in html
    # A password sent anyway (an old form, a script) signs no one in.
    refused = await client.post(
        "/staff/sign-in",
        data={"form_token": "", "email": JO, "password": PASSWORD, "code": ""},
        allow_redirects=False,
    )
    assert refused.status == 403 and "passwords are turned off" in await refused.text()
    assert staff_cookie(client) is None
    assert "sign_in" not in [e.action for e in await audit_rows(parts)]
    # Set-up links do not work either, whatever the token.
    _, link = await add_staff(
        parts.repos,
        parts.settings,
        data=StaffMemberCreate(email="new@council.example", display_name="New", role="iro"),
        by=None,
    )
    opened = await client.get("/staff/set-up?" + urlsplit(link).query)
    assert opened.status == 404 and "passwords are turned off" in await opened.text()
    # Microsoft still signs Jo in.
    entra.person = Person(oid=OID, email=JO, name="Jo Smith")
    back = await through_entra(client)
    assert (
        back.status == 303 and "Signed in as Jo Smith" in await (await client.get("/staff")).text()
    )


def test_passwords_can_be_off_only_with_microsoft_sign_in_on(tmp_path):
    with pytest.raises(ValueError, match="MYREVIEW_STAFF_LOCAL_SIGN_IN=false needs"):
        make_settings(tmp_path, staff_local_sign_in=False)
