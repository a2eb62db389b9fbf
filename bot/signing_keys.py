"""The Bot Framework's token-signing keys, fetched without ever holding the event loop.

The SDK's own cache (`_OpenIdMetadata` in botframework-connector) downloads the keys with a
blocking `requests.get` and no timeout, on the event loop, whenever a token names an issuer it
trusts: one unsigned token could freeze the whole server, health check included, for as long
as Microsoft's endpoint (or anything in between) cared to hang. This replaces it, for every
metadata URL the SDK asks for, with one that:

- downloads with aiohttp, with a timeout, one download at a time per URL;
- keeps the last good keys: a failed or slow refresh never drops keys that worked;
- refreshes day-old keys in the background, so no request waits for a refresh it can do
  without; a request waits (up to the timeout) only when there are no keys at all;
- looks again for an unknown key id at most once an hour, as the SDK does, so forged key ids
  cannot make it download on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 5.0
REFRESH_AFTER = timedelta(days=1)
LOOK_AGAIN_AFTER = timedelta(hours=1)
RETRY_AFTER = timedelta(seconds=1)

Fetch = Callable[[str], Awaitable[Any]]


class KeyConfig:
    """What the SDK reads from a key: the key itself and the channels it is endorsed for."""

    def __init__(self, public_key: Any, endorsements: list[str]) -> None:
        self.public_key = public_key
        self.endorsements = endorsements


class OpenIdKeys:
    """The signing keys behind one OpenID metadata URL. Has the SDK's `get(key_id)`."""

    def __init__(self, url: str, fetch: Fetch, timeout: float) -> None:
        self.url = url
        self._fetch = fetch
        self._timeout = timeout
        self._keys: dict[str, KeyConfig] = {}
        self.last_updated = datetime.min
        self._last_attempt = datetime.min
        self._refreshing: asyncio.Task[None] | None = None

    async def get(self, key_id: str | None) -> KeyConfig | None:
        now = datetime.now()
        if not self._keys:
            await self._refresh_now()
        elif now - self.last_updated > REFRESH_AFTER:
            self._start_refresh()  # in the background: the keys in hand are still good
        key = self._keys.get(key_id or "")
        if key is None and self._keys and now - self._last_attempt > LOOK_AGAIN_AFTER:
            # Microsoft may have rolled its keys; look once, then not again for an hour.
            await self._refresh_now()
            key = self._keys.get(key_id or "")
        return key

    def _start_refresh(self) -> asyncio.Task[None]:
        if self._refreshing is None or self._refreshing.done():
            self._last_attempt = datetime.now()
            self._refreshing = asyncio.create_task(self._refresh())
        return self._refreshing

    async def _refresh_now(self) -> None:
        """Waits up to the timeout for a download (one at a time); after a failure, tries
        again at most once a second however many tokens arrive."""
        if self._refreshing is None and datetime.now() - self._last_attempt < RETRY_AFTER:
            return
        task = self._start_refresh()
        with contextlib.suppress(TimeoutError):
            # Shielded: a request that stops waiting does not cancel the download. (Not
            # wait_for, which on Python 3.11 can swallow a cancel.)
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(task)

    async def _refresh(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                metadata = await self._fetch(self.url)
                jwks = await self._fetch(str(metadata["jwks_uri"]))
            keys = {}
            for jwk in jwks["keys"]:
                with contextlib.suppress(Exception):  # one malformed key must not spoil the rest
                    keys[str(jwk["kid"])] = KeyConfig(
                        RSAAlgorithm.from_jwk(json.dumps(jwk)), list(jwk.get("endorsements", []))
                    )
            if not keys:
                raise ValueError("no usable keys")
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last good keys
            log.warning(
                "signing keys not refreshed; keeping the last good ones",
                extra={"url": self.url, "error": type(exc).__name__, "kept": len(self._keys)},
            )
            return
        finally:
            self._refreshing = None
        self._keys = keys
        self.last_updated = datetime.now()


class SigningKeys:
    """Every metadata URL's keys, installed in place of the SDK's blocking cache."""

    def __init__(self, *, timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        # Tests point Microsoft's addresses at a local server; nothing else sets this.
        self.redirect: dict[str, str] = {}
        self._by_url: dict[str, OpenIdKeys] = {}

    def install(self) -> None:
        """From now on, every JwtTokenExtractor the SDK makes reads keys from here."""
        JwtTokenExtractor.get_open_id_metadata = staticmethod(self.for_url)

    def for_url(self, url: str) -> OpenIdKeys:
        keys = self._by_url.get(url)
        if keys is None:
            keys = self._by_url[url] = OpenIdKeys(url, self._fetch_json, self.timeout)
        return keys

    async def _fetch_json(self, url: str) -> Any:
        url = self.redirect.get(url, url)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as response,
        ):
            response.raise_for_status()
            return await response.json(content_type=None)
