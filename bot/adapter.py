"""The CloudAdapter, mended for two known faults of botbuilder 4.17.1 (see tech-notes)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from botbuilder.core import Bot, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)

log = logging.getLogger(__name__)


class CachingConnectorFactory(ConnectorFactory):
    """Hands out one ConnectorClient per (service URL, audience) instead of one per turn.

    The stock factory builds a new client each turn, and msrest's retry policy makes that cost
    about 5 ms of CPU; the client and its credentials are safe to share between turns.
    """

    def __init__(
        self, inner: ConnectorFactory, cache: dict[tuple[str, ...], ConnectorClient], identity: str
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._identity = identity

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._identity, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            self._cache[key] = client
        return client


class CachingAuthentication(BotFrameworkAuthentication):
    """Wraps the configured authentication so connector and token clients are reused."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self.connectors: dict[tuple[str, ...], ConnectorClient] = {}
        self._token_clients: dict[str, UserTokenClient] = {}

    @staticmethod
    def _identity(claims: ClaimsIdentity | None) -> str:
        if claims is None or not claims.claims:
            return "anonymous"
        c = claims.claims
        return str(c.get("azp") or c.get("appid") or c.get("aud") or "anonymous")

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = CachingConnectorFactory(
                result.connector_factory, self.connectors, self._identity(result.claims_identity)
            )
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return CachingConnectorFactory(
            self._inner.create_connector_factory(claims_identity),
            self.connectors,
            self._identity(claims_identity),
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        key = self._identity(claims_identity)
        client = self._token_clients.get(key)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._token_clients[key] = client
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


class MyReviewAdapter(CloudAdapter):
    """CloudAdapter that answers bodies correctly and never turns bad input into a 500."""

    def __init__(self, auth: BotFrameworkAuthentication) -> None:
        self.auth = CachingAuthentication(auth)
        super().__init__(self.auth)

    async def process(
        self, request: web.Request, bot: Bot, ws_response: Any = None
    ) -> web.Response | None:
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST"])
        if "application/json" not in request.headers.get("Content-Type", ""):
            raise web.HTTPUnsupportedMediaType(text="Send the activity as application/json.")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(text="The body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="The body must be a JSON object (an activity).")
        try:
            activity = Activity().deserialize(body)
        except Exception as exc:  # noqa: BLE001 - msrest raises many kinds for bad shapes
            raise web.HTTPBadRequest(text="The body is not a valid activity.") from exc
        if not activity.type:
            raise web.HTTPBadRequest(text="The activity has no type.")
        if not activity.conversation or not activity.conversation.id or not activity.service_url:
            raise web.HTTPBadRequest(text="The activity needs conversation.id and serviceUrl.")
        auth_header = request.headers.get("Authorization", "")
        try:
            invoke_response = await self.process_activity(auth_header, activity, bot.on_turn)
        except PermissionError as exc:
            raise web.HTTPUnauthorized() from exc
        if invoke_response:
            return web.json_response(
                data=_serialise_body(invoke_response.body), status=invoke_response.status
            )
        return web.Response(status=201)


def _serialise_body(body: Any) -> Any:
    """Invoke and expectReplies bodies can already be plain JSON; msrest fails on those."""
    if body is None or isinstance(body, dict | list | str | int | float | bool):
        return body
    if isinstance(body, AdaptiveCardInvokeResponse) and isinstance(body.value, Exception):
        # The SDK answers a malformed adaptiveCard/action with an Exception as the value,
        # which msrest cannot write: that turned a client's bad request into our 500.
        code, message = ([str(a) for a in body.value.args] + ["", ""])[:2]
        return {
            "statusCode": int(body.status_code),
            "type": body.type,
            "value": {"code": code, "message": message},
        }
    return serializer_helper(body)
