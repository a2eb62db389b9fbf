"""Signing staff in with Microsoft Entra ID: OpenID Connect, the authorisation code flow with
PKCE, built on authlib (the request and claim rules) and joserfc (the signature).

1. `/staff/sign-in/entra` makes a random state, nonce and PKCE verifier, keeps them in a
   short-lived cookie sealed with an HMAC of the app's secret key (HttpOnly, SameSite=Lax, path
   the callback's only, 10 minutes), and sends the browser to the tenant's authorisation
   endpoint with the state, the nonce and the verifier's S256 challenge.
2. Entra sends the browser back to `/staff/sign-in/entra/callback` with a code and the state.
   The state must be the cookie's; the code is exchanged, server to server, with the client
   secret and the verifier; the ID token that comes back must be signed by one of the tenant's
   keys (its JWKS), by the tenant (issuer), for this app (audience), with the nonce of this
   sign-in, and not expired. Anything else, and nobody is signed in.
3. The person is then the staff member whose stored Entra object id (`oid`) is theirs, or, the
   first time, whose email is theirs (the oid is stored then). Someone with no account is told
   to ask an admin: no account is ever made here.

The tenant's metadata is read from `<authority>/<tenant>/v2.0/.well-known/openid-configuration`
and kept for a day; its keys are fetched again when a token names a key not seen (at most
every five minutes), so Microsoft's key rollover needs nothing from us.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bot.settings import GUID, Settings

log = logging.getLogger(__name__)

START = "/staff/sign-in/entra"
CALLBACK = "/staff/sign-in/entra/callback"
FLOW_COOKIE = "myreview_staff_entra"
FLOW_SECONDS = 600
METADATA_SECONDS = 24 * 3600
KEYS_AGAIN_AFTER = 300.0
# Clock difference allowed between Entra and this server when checking a token's times.
LEEWAY_SECONDS = 120
ALGORITHMS = ["RS256"]
SCOPE = "openid profile email"
TIMEOUT_SECONDS = 10.0
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class Identity:
    """Who Entra says signed in."""

    oid: str
    email: str | None
    name: str | None


class EntraError(Exception):
    """Entra sign-in did not complete. `reason` is for the log and the audit (a short word),
    never anything a person typed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EntraSignIn:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tenant = settings.entra_tenant_id.strip()
        self.client_id = settings.entra_client_id.strip()
        self._client_secret = settings.entra_client_secret.get_secret_value()
        self.authority = settings.entra_authority.rstrip("/")
        self._seal_key = hmac.new(
            settings.secret_key.get_secret_value().encode(), b"staff entra flow", hashlib.sha256
        ).digest()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings.entra_enabled

    @property
    def metadata_url(self) -> str:
        return f"{self.authority}/{self.tenant}/v2.0/.well-known/openid-configuration"

    # --- talking to Entra -------------------------------------------------------------------

    async def _json(self, url: str, *, form: str | None = None) -> Any:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                if form is None:
                    request = session.get(url)
                else:
                    request = session.post(
                        url,
                        data=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                async with request as response:
                    body = await response.json(content_type=None)
                    if response.status != 200:
                        # Entra's error code only (e.g. invalid_grant): no description, which
                        # can echo what was sent.
                        error = body.get("error") if isinstance(body, dict) else None
                        log.warning(
                            "entra refused a request",
                            extra={"status": response.status, "error": str(error)[:60]},
                        )
                        raise EntraError("token_refused" if form is not None else "unreachable")
                    return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("entra unreachable", extra={"error": type(exc).__name__})
            raise EntraError("unreachable") from exc

    async def metadata(self) -> dict[str, Any]:
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_SECONDS:
                found = await self._json(self.metadata_url)
                needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
                if not isinstance(found, dict) or not all(
                    isinstance(found.get(k), str) for k in needed
                ):
                    log.warning("entra metadata incomplete", extra={"url": self.metadata_url})
                    raise EntraError("unreachable")
                self._metadata, self._metadata_at = found, time.monotonic()
            return self._metadata

    async def keys(self, *, again: bool = False) -> KeySet:
        meta = await self.metadata()
        async with self._lock:
            stale = time.monotonic() - self._keys_at > KEYS_AGAIN_AFTER
            if self._keys is None or (again and stale):
                found = await self._json(meta["jwks_uri"])
                try:
                    self._keys = KeySet.import_key_set(found)
                except (JoseError, ValueError, KeyError, TypeError) as exc:
                    log.warning("entra keys unreadable", extra={"error": type(exc).__name__})
                    raise EntraError("unreachable") from exc
                self._keys_at = time.monotonic()
            return self._keys

    # --- the flow's cookie ------------------------------------------------------------------

    def _seal(self, flow: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(flow, separators=(",", ":")).encode())
        mac = hmac.new(self._seal_key, body, hashlib.sha256).digest()
        return (body + b"." + base64.urlsafe_b64encode(mac)).decode().replace("=", "")

    def _open(self, cookie: str | None) -> dict[str, Any]:
        if not cookie or len(cookie) > 2000 or "." not in cookie:
            raise EntraError("no_flow")
        body, _, mac = cookie.partition(".")
        expected = hmac.new(self._seal_key, _pad(body).encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(base64.urlsafe_b64decode(_pad(mac)), expected):
                raise EntraError("no_flow")
            flow = json.loads(base64.urlsafe_b64decode(_pad(body)))
        except (ValueError, TypeError) as exc:
            raise EntraError("no_flow") from exc
        if not isinstance(flow, dict) or time.time() - float(flow.get("at", 0)) > FLOW_SECONDS:
            raise EntraError("no_flow")
        return flow

    # --- the two legs -----------------------------------------------------------------------

    async def start(self, *, redirect_uri: str) -> tuple[str, str]:
        """Where to send the browser, and the value of the flow cookie to set."""
        meta = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 allows 43 to 128
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            self.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=SCOPE,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            response_mode="query",
            prompt="select_account",
        )
        cookie = self._seal(
            {"state": state, "nonce": nonce, "verifier": verifier, "at": int(time.time())}
        )
        return url, cookie

    async def finish(
        self, *, params: Mapping[str, str], cookie: str | None, redirect_uri: str
    ) -> Identity:
        """Checks what Entra sent back and returns who signed in; raises EntraError."""
        flow = self._open(cookie)
        sent_state = params.get("state", "")
        if not hmac.compare_digest(sent_state.encode(), str(flow["state"]).encode()):
            raise EntraError("state")
        if params.get("error"):
            raise EntraError("refused")
        code = params.get("code", "")
        if not code or len(code) > 4000:
            raise EntraError("no_code")
        meta = await self.metadata()
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            client_id=self.client_id,
            client_secret=self._client_secret,
            code_verifier=flow["verifier"],
            scope=SCOPE,
        )
        token = await self._json(meta["token_endpoint"], form=body)
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise EntraError("no_id_token")
        claims = await self._verified(id_token, nonce=str(flow["nonce"]), issuer=meta["issuer"])
        return _identity(claims)

    async def _verified(self, id_token: str, *, nonce: str, issuer: str) -> dict[str, Any]:
        try:
            try:
                decoded = jwt.decode(id_token, await self.keys(), algorithms=ALGORITHMS)
            except JoseError:
                # A key Entra has rolled in since we fetched them (fetched again at most every
                # five minutes, so a forged key id cannot make us fetch on every request).
                decoded = jwt.decode(id_token, await self.keys(again=True), algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise EntraError("signature") from exc
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": self.client_id},
            "oid": {"essential": True},
            "nonce": {"essential": True},
        }
        if GUID.fullmatch(self.tenant):
            # The tenant by its id (a development set-up may name it by its domain instead).
            options["tid"] = {"essential": True, "value": self.tenant.lower()}
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options=options,
            params={"nonce": nonce, "client_id": self.client_id},
        )
        try:
            claims.validate(now=int(time.time()), leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            # Which claim failed (nonce, iss, aud, exp...), for the log: not its value.
            claim = str(getattr(exc, "claim", "") or type(exc).__name__)
            raise EntraError(f"claim:{claim[:20]}") from exc
        return dict(claims)


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _identity(claims: Mapping[str, Any]) -> Identity:
    oid = str(claims["oid"])
    email = None
    # `email` where the tenant sends it; else the sign-in name, which is the work email for
    # most councils' accounts.
    for claim in ("email", "preferred_username", "upn"):
        value = claims.get(claim)
        if isinstance(value, str) and EMAIL.fullmatch(value.strip()):
            email = value.strip().lower()
            break
    shown = claims.get("name")
    return Identity(oid=oid, email=email, name=shown if isinstance(shown, str) else None)
