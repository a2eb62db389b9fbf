"""Bot Framework state in our own database, with eTag concurrency (the SDK's Storage contract)."""

from __future__ import annotations

from typing import Any

import jsonpickle
from botbuilder.core import Storage, StoreItem

from storage.repositories import BotStateRepository, EtagMismatch


class EtagConflict(Exception):
    """The state changed since it was read: another turn, or another app instance, wrote it."""


class SqlStorage(Storage):
    """Items are dicts or StoreItems, serialised with jsonpickle as the SDK's own storages do."""

    def __init__(self, repo: BotStateRepository) -> None:
        self._repo = repo

    async def read(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        found = await self._repo.read(keys=keys)
        out: dict[str, Any] = {}
        for key, stored in found.items():
            item = jsonpickle.decode(stored.data)
            if isinstance(item, dict):
                item["e_tag"] = stored.etag
            else:
                item.e_tag = stored.etag
            out[key] = item
        return out

    async def write(self, changes: dict[str, StoreItem | dict[str, Any]]) -> None:
        if changes is None:
            raise ValueError("changes are required when writing")
        for key, item in changes.items():
            if isinstance(item, dict):
                etag = item.get("e_tag")
                body: Any = {k: v for k, v in item.items() if k != "e_tag"}
            else:
                etag = getattr(item, "e_tag", None)
                body = item
            try:
                new_etag = await self._repo.write(
                    key=key, data=jsonpickle.encode(body), expected_etag=etag or None
                )
            except EtagMismatch as exc:
                raise EtagConflict(key) from exc
            # The caller's cached copy now matches storage, so a second save in the same
            # turn is not mistaken for a conflict.
            if isinstance(item, dict):
                item["e_tag"] = new_etag
            else:
                item.e_tag = new_etag

    async def delete(self, keys: list[str]) -> None:
        await self._repo.delete(keys=keys)
