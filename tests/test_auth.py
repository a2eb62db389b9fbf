"""Production authentication: only a token Microsoft signed for this bot runs a turn, and
checking one never holds the server.

Microsoft's key endpoints cannot be reached from here, so the keys are generated in the test
and served by a local server standing in for login.botframework.com (the app is told to fetch
from it instead); everything else is the real SDK and the real app over HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botframework.connector.auth import AuthenticationConstants
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.app import PARTS, create_app
from tests.channel import Connector
from tests.chat import message
from tests.conftest import make_settings

APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
METADATA = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL


def new_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


MICROSOFT_KEY = new_key()
OTHER_KEY = new_key()


def token(
    service_url: str,
    *,
    key: Any = MICROSOFT_KEY,
    kid: str = "k1",
    alg: str = "RS256",
    aud: str = APP_ID,
    iss: str = ISSUER,
    expires_in: timedelta = timedelta(hours=1),
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": iss,
        "aud": aud,
        "serviceurl": service_url,
        "nbf": now - timedelta(minutes=1),
        "exp": now + expires_in,
    }
    if alg == "none":
        return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    if alg == "HS256":
        return jwt.encode(claims, "a shared secret of thirty-two bytes!", algorithm="HS256")
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


class KeyServer:
    """Stands in for Microsoft's OpenID metadata and keys. Told to hang, it holds every
    metadata request (`holding` is set once one is held) until told to answer again."""

    def __init__(self) -> None:
        self.url = ""
        self.holding = asyncio.Event()
        self._answering = asyncio.Event()
        self._answering.set()

    def hang(self) -> None:
        self._answering.clear()

    def answer(self) -> None:
        self._answering.set()

    async def metadata(self, request: web.Request) -> web.Response:
        if not self._answering.is_set():
            self.holding.set()
            await self._answering.wait()
        return web.json_response({"jwks_uri": str(request.url.with_path("/keys"))})

    async def keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(MICROSOFT_KEY.public_key()))
        jwk.update(kid="k1", use="sig", endorsements=["msteams", "webchat"])
        return web.json_response({"keys": [jwk]})


@pytest.fixture
async def key_server() -> AsyncIterator[KeyServer]:
    keys = KeyServer()
    app = web.Application()
    app.router.add_get("/metadata", keys.metadata)
    app.router.add_get("/keys", keys.keys)
    async with TestServer(app) as server:
        keys.url = str(server.make_url("/metadata"))
        yield keys
        keys.answer()  # lets a held request end before the server closes


@pytest.fixture
async def secured(tmp_path, key_server) -> AsyncIterator[TestClient]:
    settings = make_settings(
        tmp_path, microsoft_app_id=APP_ID, microsoft_app_password="Xq8~Kp2.Lm9_Zr4-Vt7wNb3"
    )
    app = create_app(settings)
    keys = app[PARTS].adapter.signing_keys
    keys.redirect[METADATA] = key_server.url
    keys.timeout = 1.0
    async with TestClient(TestServer(app)) as client:
        yield client


def typing(service_url: str) -> dict[str, Any]:
    # A typing activity runs a turn that sends nothing, so the test needs no Azure token for
    # replies: what it shows is only whether the request got in.
    return message(
        channel_id="msteams", service_url=service_url, conversation_id="c-auth", type="typing"
    )


async def post(client: TestClient, act: dict[str, Any], auth: str | None) -> web.Response:
    headers = {"Authorization": auth} if auth is not None else {}
    return await client.post("/api/messages", json=act, headers=headers)  # type: ignore[return-value]


async def test_a_token_microsoft_signed_for_this_bot_gets_in(secured, connector):
    _, url = connector
    resp = await post(secured, typing(url), f"Bearer {token(url)}")
    assert resp.status in (200, 201), await resp.text()


@pytest.mark.parametrize(
    ("case", "auth"),
    [
        ("no header", None),
        ("empty header", ""),
        ("not bearer", "Basic dXNlcjpwYXNz"),
        ("garbage", "Bearer garbage"),
        ("three dots", "Bearer a.b.c"),
        ("unsigned", "none"),
        ("HS256 with a shared secret", "HS256"),
        ("signed by a foreign key under Microsoft's key id", "foreign"),
        ("signed by a foreign key under an unknown key id", "foreign-kid"),
        ("expired", "expired"),
        ("for another bot", "audience"),
        ("from an issuer nobody trusts", "issuer"),
        ("for another service URL", "service"),
    ],
)
async def test_every_bad_token_is_401_without_running_the_turn(
    secured: TestClient,
    connector: tuple[Connector, str],
    caplog: pytest.LogCaptureFixture,
    case: str,
    auth: str | None,
) -> None:
    conn, url = connector
    tokens = {
        "none": lambda: token(url, alg="none"),
        "HS256": lambda: token(url, alg="HS256"),
        "foreign": lambda: token(url, key=OTHER_KEY),
        "foreign-kid": lambda: token(url, key=OTHER_KEY, kid="k9"),
        "expired": lambda: token(url, expires_in=-timedelta(hours=1)),
        "audience": lambda: token(url, aud="some-other-bot"),
        "issuer": lambda: token(url, iss="https://evil.example"),
        "service": lambda: token("https://elsewhere.example/"),
    }
    header = f"Bearer {tokens[auth]()}" if auth in tokens else auth
    act = message(channel_id="msteams", service_url=url, conversation_id="c-bad", text="hi")
    resp = await post(secured, act, header)
    assert resp.status == 401, (case, resp.status, await resp.text())
    assert conn.sent == []
    assert "Traceback" not in caplog.text


async def test_a_hanging_key_endpoint_holds_up_nothing_else(secured, key_server, connector):
    _, url = connector
    # Long enough that only the endpoint answering ends the wait (the fixture's is 1 s).
    secured.app[PARTS].adapter.signing_keys.timeout = 30.0
    key_server.hang()
    waiting = asyncio.create_task(post(secured, typing(url), f"Bearer {token(url)}"))
    await asyncio.wait_for(key_server.holding.wait(), 10)  # the token check waits on Microsoft

    health = await secured.get("/healthz")

    assert health.status == 200
    assert not waiting.done()
    key_server.answer()
    resp = await asyncio.wait_for(waiting, 10)
    assert resp.status in (200, 201), await resp.text()


async def test_with_no_keys_and_a_hanging_endpoint_the_token_is_refused_once_the_wait_ends(
    secured, key_server, connector
):
    _, url = connector
    key_server.hang()  # for good: the download times out (after 1 s)

    resp = await asyncio.wait_for(post(secured, typing(url), f"Bearer {token(url)}"), 10)

    assert key_server.holding.is_set()
    assert resp.status == 401


async def test_keys_that_worked_are_kept_when_the_endpoint_hangs(secured, key_server, connector):
    _, url = connector
    secured.app[PARTS].adapter.signing_keys.timeout = 30.0
    assert (await post(secured, typing(url), f"Bearer {token(url)}")).status in (200, 201)
    key_server.hang()
    keys = secured.app[PARTS].adapter.signing_keys.for_url(METADATA)
    keys.last_updated -= timedelta(days=2)  # due a refresh, which will hang
    due = keys.last_updated

    resp = await asyncio.wait_for(post(secured, typing(url), f"Bearer {token(url)}"), 10)

    assert resp.status in (200, 201)
    # Let in with the keys it had, while the refresh waits on the endpoint in the background.
    await asyncio.wait_for(key_server.holding.wait(), 10)
    assert keys.last_updated == due
