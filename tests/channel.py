"""A local stand-in for a channel's connector service (what Teams or Direct Line host): it
receives the bot's replies over real HTTP, as the Agents Playground's mock connector does."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


class Connector:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.fail_updates = False
        # How many of the next replies to refuse, as a channel's connector does when it is down.
        self.fail_posts = 0
        # Called with each reply as it arrives, before the bot's turn has finished.
        self.on_reply: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        app = web.Application()
        # Any id the door lets through, braces included, must reach its conversation.
        app.router.add_post("/v3/conversations/{cid:[^/]+}/activities", self._post)
        app.router.add_post("/v3/conversations/{cid:[^/]+}/activities/{aid:[^/]+}", self._post)
        app.router.add_put("/v3/conversations/{cid:[^/]+}/activities/{aid:[^/]+}", self._put)
        self.app = app

    async def _post(self, request: web.Request) -> web.Response:
        if self.fail_posts > 0:
            self.fail_posts -= 1
            return web.json_response({"error": {"code": "ServiceError"}}, status=503)
        body = await request.json()
        body["id"] = f"bot-{next(self._ids)}"
        if self.on_reply is not None:
            await self.on_reply(body)
        self.sent.append(body)
        return web.json_response({"id": body["id"]})

    async def _put(self, request: web.Request) -> web.Response:
        if self.fail_updates:
            return web.json_response({"error": "no"}, status=404)
        body = await request.json()
        body["id"] = request.match_info["aid"]
        self.updates.append(body)
        return web.json_response({"id": body["id"]})


@asynccontextmanager
async def running_connector() -> AsyncIterator[tuple[Connector, str]]:
    """A connector service on its own loopback port, and its URL (the activity's serviceUrl)."""
    conn = Connector()
    server = TestServer(conn.app)
    await server.start_server()
    try:
        yield conn, str(server.make_url("/")).rstrip("/") + "/"
    finally:
        await server.close()
