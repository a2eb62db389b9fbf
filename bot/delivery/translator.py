"""English renderings of what a child wrote in another language, for the adults who must act on
it: Azure AI Translator's documented v3 `translate` REST API, behind a small interface, off by
default (no key set). A failure or a slow answer never holds anything up: the alert goes with
"not translated" instead. The child's words are never logged.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

API_VERSION = "3.0"


class NoTranslator:
    """No translation service set up: nothing is translated."""

    enabled = False

    async def to_english(self, text: str, *, source: str | None = None) -> str | None:
        return None

    async def many_to_english(
        self, texts: list[str], *, source: str | None = None
    ) -> list[str | None]:
        return [None] * len(texts)

    async def close(self) -> None:
        return None


class AzureTranslator:
    """`POST {endpoint}/translate?api-version=3.0&to=en[&from=xx]` with the subscription key and
    region headers; one session, reused."""

    enabled = True

    def __init__(self, *, endpoint: str, key: str, region: str, timeout: float) -> None:
        self._url = endpoint.rstrip("/") + "/translate"
        self._headers = {
            "Ocp-Apim-Subscription-Key": key,
            "Content-Type": "application/json; charset=UTF-8",
        }
        if region:
            self._headers["Ocp-Apim-Subscription-Region"] = region
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def to_english(self, text: str, *, source: str | None = None) -> str | None:
        return (await self.many_to_english([text], source=source))[0]

    async def many_to_english(
        self, texts: list[str], *, source: str | None = None
    ) -> list[str | None]:
        """One request for them all (a summary's written answers), in order; all None when
        the service fails."""
        if not texts:
            return []
        params = {"api-version": API_VERSION, "to": "en"}
        if source and source != "en":
            params["from"] = source
        try:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=self._timeout)
            async with self._session.post(
                self._url,
                params=params,
                headers=self._headers,
                json=[{"Text": text} for text in texts],
            ) as resp:
                if resp.status != 200:
                    log.warning("translation refused", extra={"status": resp.status})
                    return [None] * len(texts)
                body: Any = await resp.json(content_type=None)
            found = [str(item["translations"][0]["text"]) for item in body]
            if len(found) != len(texts):
                raise ValueError("one translation per text expected")
            return list(found)
        except (
            aiohttp.ClientError,
            TimeoutError,
            ValueError,
            KeyError,
            IndexError,
            TypeError,
        ) as exc:
            log.warning("translation failed", extra={"error": type(exc).__name__})
            return [None] * len(texts)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
