"""A fake Microsoft Entra ID tenant for the tests: an OpenID Connect provider on localhost with
Entra's paths (discovery document, JWKS, authorize, token), so MyReview's real sign-in runs
against it with no network.

It checks what Entra checks (client id and secret, redirect URI, the PKCE verifier against its
S256 challenge, a code used once) and signs ID tokens with RS256. `person` is who "signs in"
at the authorize endpoint; `tamper` makes the next ID token wrong in one way, for the tests
that it must be refused:
- "signature": signed with a key the JWKS does not hold (under the published key id);
- "nonce", "audience", "issuer", "tenant": the wrong value in that claim;
- "expired": an `exp` an hour ago.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

TENANT = "7d3f1c2a-5b8e-4c19-9a6d-2e4f8b1c0d93"
CLIENT_ID = "c4a1e9b2-3d7f-4e28-8b5a-9f6c2d1e7a40"
CLIENT_SECRET = "Xq8~fake.entra-Secret_r4nd0m-9ZkLw2"
_KEYS: dict[str, RSAKey] = {}


def _key(name: str) -> RSAKey:
    # Made once per test run: a 2048-bit key takes a moment.
    if name not in _KEYS:
        _KEYS[name] = RSAKey.generate_key(2048, parameters={"kid": "fake-key-1", "use": "sig"})
    return _KEYS[name]


@dataclass
class Person:
    oid: str
    email: str | None
    name: str = "A Person"


@dataclass
class FakeEntra:
    person: Person | None = None
    tamper: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What MyReview asked for at the authorize endpoint, each time.
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def issuer(self) -> str:
        return f"{self.base}/{TENANT}/v2.0"

    def settings(self) -> dict[str, Any]:
        """The MyReview settings that point at this tenant."""
        return {
            "entra_tenant_id": TENANT,
            "entra_client_id": CLIENT_ID,
            "entra_client_secret": CLIENT_SECRET,
            "entra_authority": self.base,
        }

    async def start(self) -> FakeEntra:
        app = web.Application()
        app.router.add_get(f"/{TENANT}/v2.0/.well-known/openid-configuration", self.discovery)
        app.router.add_get(f"/{TENANT}/discovery/v2.0/keys", self.jwks)
        app.router.add_get(f"/{TENANT}/oauth2/v2.0/authorize", self.authorize)
        app.router.add_post(f"/{TENANT}/oauth2/v2.0/token", self.token)
        self.server = TestServer(app)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/token",
                "jwks_uri": f"{self.base}/{TENANT}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["plain", "S256"],
            }
        )

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response(KeySet([_key("published")]).as_dict(private=False))

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.authorize_requests.append(q)
        problems = [
            name
            for name, ok in (
                ("client_id", q.get("client_id") == CLIENT_ID),
                ("response_type", q.get("response_type") == "code"),
                ("scope", "openid" in q.get("scope", "").split()),
                ("pkce", q.get("code_challenge_method") == "S256" and q.get("code_challenge")),
                ("nonce", bool(q.get("nonce"))),
                ("redirect_uri", q.get("redirect_uri", "").endswith("/entra/callback")),
            )
            if not ok
        ]
        if problems:
            return web.Response(status=400, text="bad authorize request: " + ", ".join(problems))
        if self.person is None:
            params = {"error": "access_denied", "state": q.get("state", "")}
            raise web.HTTPFound(f"{q['redirect_uri']}?{urlencode(params)}")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "nonce": q["nonce"],
            "redirect_uri": q["redirect_uri"],
            "person": self.person,
        }
        params = {"code": code, "state": q.get("state", "")}
        raise web.HTTPFound(f"{q['redirect_uri']}?{urlencode(params)}")

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once

        def refuse(error: str) -> web.Response:
            return web.json_response({"error": error}, status=400)

        if grant is None or form.get("grant_type") != "authorization_code":
            return refuse("invalid_grant")
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return refuse("invalid_client")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return refuse("invalid_grant")
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        if challenge != grant["challenge"]:
            return refuse("invalid_grant")
        person: Person = grant["person"]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "tid": TENANT,
            "oid": person.oid,
            "sub": "pairwise-" + person.oid[:8],
            "name": person.name,
            "nonce": grant["nonce"],
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "ver": "2.0",
        }
        if person.email:
            claims["preferred_username"] = person.email
            claims["email"] = person.email
        tamper, self.tamper = self.tamper, None
        key = _key("published")
        if tamper == "signature":
            key = _key("forged")
        elif tamper == "nonce":
            claims["nonce"] = "not-the-nonce-that-was-sent"
        elif tamper == "audience":
            claims["aud"] = "00000000-1111-2222-3333-444444444444"
        elif tamper == "issuer":
            claims["iss"] = f"{self.base}/another-tenant/v2.0"
        elif tamper == "tenant":
            claims["tid"] = "11111111-2222-3333-4444-555555555555"
        elif tamper == "expired":
            claims["iat"] = claims["nbf"] = now - 7200
            claims["exp"] = now - 3600
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
        return web.json_response(
            {
                "token_type": "Bearer",
                "scope": "openid profile email",
                "expires_in": 3600,
                "access_token": "fake-access-token",
                "id_token": id_token,
            }
        )
