"""The CloudAdapter, mended: the door of /api/messages (bot/door.py), bodies in responses, and
connector clients that are reused, bounded in number and quick to give up (see tech-notes)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import MutableMapping
from concurrent.futures import Executor, ThreadPoolExecutor
from copy import copy
from http import HTTPStatus
from typing import Any, cast

import requests
from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from botbuilder.core import Bot, InvokeResponse, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    DeliveryModes,
)
from botframework.connector import AsyncBfPipeline
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest.exceptions import ClientRequestError
from msrest.serialization import Model
from msrest.universal_http.async_requests import (
    AsyncRequestsClientResponse,
    AsyncRequestsHTTPSender,
)

from bot import door
from bot.signing_keys import SigningKeys

log = logging.getLogger(__name__)

BODY_TIMEOUT_SECONDS = 10.0
# Activities from channels are a few KB; only larger ones are worth a thread hop.
ADMIT_ON_LOOP_BYTES = 16 * 1024
# Each client keeps about 49 KB; a flood of distinct service URLs must not grow memory.
CONNECTOR_CACHE_SIZE = 256
# msrest waits 100 s for an answer by default; a channel's connector answers in a second or two.
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 10.0
CONNECTOR_THREADS = 32
# How many of those threads one client (one service URL) may hold: an unreachable URL then
# slows its own conversations only.
CALLS_PER_CONNECTOR = 8


def refused(status: int, reason: str) -> web.HTTPException:
    """A client's mistake: one line in the log, no stack trace, the reason in the body."""
    log.info("request refused", extra={"status": status, "reason": reason})
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=reason)
    if status == 408:
        return web.HTTPRequestTimeout(text=reason)
    return web.HTTPBadRequest(text=reason)


class ConnectorPool:
    """Where connector calls run. msrest sends with `requests` on the event loop's default
    executor: six threads on a two-core machine, 100 s read timeout. Six replies to an
    unreachable service URL held all six, and every other child's replies queued behind them.
    Here they get their own threads, a cap per client, and short timeouts."""

    def __init__(self) -> None:
        self.executor: Executor = ThreadPoolExecutor(CONNECTOR_THREADS, "connector")
        self.connect_timeout = CONNECT_TIMEOUT_SECONDS
        self.read_timeout = READ_TIMEOUT_SECONDS
        self.calls_per_connector = CALLS_PER_CONNECTOR

    def tune(self, client: ConnectorClient) -> ConnectorClient:
        config = client.config
        config.connection.timeout = (self.connect_timeout, self.read_timeout)
        retry = config.retry_policy.policy
        retry.connect = 1
        # A POST that timed out may have been delivered; sending it again shows it twice.
        retry.read = 0
        config.driver = _PooledRequestsDriver(
            config, self.executor, asyncio.Semaphore(self.calls_per_connector)
        )
        config.pipeline = AsyncBfPipeline(config)
        return client


class _PooledRequestsDriver(AsyncRequestsHTTPSender):
    """msrest's requests driver, sending on the pool's threads within the client's cap."""

    def __init__(self, config: Any, executor: Executor, slots: asyncio.Semaphore) -> None:
        super().__init__(config)
        self._executor = executor
        self._slots = slots

    async def send(  # type: ignore[override]
        self, request: Any, **kwargs: Any
    ) -> AsyncRequestsClientResponse:
        requests_kwargs = cast(dict[str, Any], self._configure_send(request, **kwargs))
        headers: dict[str, Any] = requests_kwargs.get("headers") or {}
        for name, value in list(headers.items()):
            if isinstance(value, str) and not _latin_1(value):
                # A reply repeats the conversation id in x-ms-conversation-id, and http.client
                # writes only Latin-1 there: an Arabic id, or one the door repaired to hold
                # U+FFFD, failed every reply. UTF-8 bytes are what a server reads back.
                headers[name] = value.encode("utf-8")
        session = requests_kwargs.pop("session", self.session)
        call = functools.partial(session.request, request.method, request.url, **requests_kwargs)
        async with self._slots:
            try:
                response = await asyncio.get_running_loop().run_in_executor(self._executor, call)
            except requests.RequestException as exc:
                raise ClientRequestError("Error occurred in request.", exc) from exc
        return AsyncRequestsClientResponse(request, response)


def _latin_1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class ConnectorCache(OrderedDict[tuple[str, str, str], ConnectorClient]):
    """The most recently used connector clients, at most `maxsize` of them."""

    def __init__(self, maxsize: int = CONNECTOR_CACHE_SIZE) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get(self, key: tuple[str, str, str], default: Any = None) -> Any:
        if key not in self:
            return default
        self.move_to_end(key)
        return self[key]

    def __setitem__(self, key: tuple[str, str, str], client: ConnectorClient) -> None:
        super().__setitem__(key, client)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


class CachingConnectorFactory(ConnectorFactory):
    """Hands out one ConnectorClient per (identity, service URL, audience) instead of one per
    turn.

    The stock factory builds a new client each turn, and msrest's retry policy makes that cost
    about 5 ms of CPU; the client and its credentials are safe to share between turns.
    """

    def __init__(
        self,
        inner: ConnectorFactory,
        cache: MutableMapping[tuple[str, str, str], ConnectorClient],
        identity: str,
        pool: ConnectorPool | None = None,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._identity = identity
        self._pool = pool

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._identity, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if self._pool is not None:
                client = self._pool.tune(client)
            self._cache[key] = client
        return client


class CachingAuthentication(BotFrameworkAuthentication):
    """Wraps the configured authentication so connector and token clients are reused."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self.connectors = ConnectorCache()
        self.pool = ConnectorPool()
        self._token_clients: dict[str, UserTokenClient] = {}

    @staticmethod
    def _identity(claims: ClaimsIdentity | None) -> str:
        if claims is None or not claims.claims:
            return "anonymous"
        c = claims.claims
        return str(c.get("azp") or c.get("appid") or c.get("aud") or "anonymous")

    def _factory(self, inner: ConnectorFactory, claims: ClaimsIdentity | None) -> ConnectorFactory:
        return CachingConnectorFactory(inner, self.connectors, self._identity(claims), self.pool)

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = self._factory(
                result.connector_factory, result.claims_identity
            )
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory(self._inner.create_connector_factory(claims_identity), claims_identity)

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
    """CloudAdapter that refuses bad requests with a clear 4xx, answers bodies correctly, and
    lets in only repaired, well-formed activities."""

    def __init__(self, auth: BotFrameworkAuthentication) -> None:
        self.auth = CachingAuthentication(auth)
        self.body_timeout = BODY_TIMEOUT_SECONDS
        self.signing_keys = SigningKeys()
        self.signing_keys.install()
        self._door: Executor = ThreadPoolExecutor(1, "door")
        super().__init__(self.auth)

    def close(self) -> None:
        """Lets the adapter's threads go when the app stops; calls under way still finish."""
        self._door.shutdown(wait=False, cancel_futures=True)
        self.auth.pool.executor.shutdown(wait=False, cancel_futures=True)

    async def process(
        self, request: web.Request, bot: Bot, ws_response: Any = None
    ) -> web.Response | None:
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST"])
        if "application/json" not in request.headers.get("Content-Type", ""):
            raise web.HTTPUnsupportedMediaType(text="Send the activity as application/json.")
        activity = await self._admit(await self._read(request))
        authenticated = await self._authenticate(activity, request.headers.get("Authorization"))
        invoke_response = await self.process_activity(authenticated, activity, bot.on_turn)
        if invoke_response is None:
            return web.Response(status=201)
        if invoke_response.status == HTTPStatus.NOT_IMPLEMENTED:
            # An invoke the bot does not handle (task/fetch, healthCheck, no name...): Teams
            # shows the child an error card for anything but a 200.
            return web.Response(status=200)
        return web.json_response(
            data=_serialise_body(invoke_response.body), status=invoke_response.status
        )

    def _process_turn_results(self, context: TurnContext) -> InvokeResponse | None:
        if context.activity.delivery_mode == DeliveryModes.expect_replies:
            # The SDK writes the whole list with msrest, which fails on an invoke's card
            # response among the replies.
            replies = [_reply_json(a) for a in context.buffered_reply_activities]
            return InvokeResponse(status=HTTPStatus.OK, body={"activities": replies})
        return cast(InvokeResponse | None, super()._process_turn_results(context))

    async def _read(self, request: web.Request) -> bytes:
        """The whole body, or a 4xx: a body sent slowly must not hold a request open for ever."""
        try:
            async with asyncio.timeout(self.body_timeout):
                return await request.read()
        except TimeoutError:
            raise refused(408, "The body took too long to arrive.") from None
        except web.HTTPRequestEntityTooLarge:
            raise refused(413, "The body is too large.") from None
        except (ConnectionError, ClientPayloadError, HttpProcessingError):
            raise refused(400, "The body was cut short.") from None

    async def _admit(self, raw: bytes) -> Activity:
        if len(raw) <= ADMIT_ON_LOOP_BYTES:
            return admit(raw)
        # A large body costs tens of milliseconds of msrest: that is every other child's wait
        # when done on the loop. One thread, so large bodies queue rather than fight the loop
        # for the GIL.
        return await asyncio.get_running_loop().run_in_executor(self._door, admit, raw)

    async def _authenticate(
        self, activity: Activity, auth_header: str | None
    ) -> AuthenticateRequestResult:
        try:
            return await self.auth.authenticate_request(activity, auth_header or "")
        except Exception as exc:  # noqa: BLE001 - PyJWT and the SDK raise bare Exceptions
            # A garbled token is a client's mistake, not a fault of ours to trace.
            log.warning("request not authenticated", extra={"error": type(exc).__name__})
            raise web.HTTPUnauthorized(text="The request is not authenticated.") from None


def admit(raw: bytes) -> Activity:
    """The activity in a body, repaired, or a 400 saying what is wrong with it."""
    try:
        body = door.parse(raw)
        door.check_activity(body)
    except door.Refused as exc:
        raise refused(exc.status, exc.reason) from None
    # msrest copies free-form JSON item by item (60,000 numbers in `value` took 0.4 s); it is
    # plain JSON already, checked and repaired, so it goes in as it is.
    free_form = {key: body.pop(key) for key in ("value", "channelData") if key in body}
    try:
        activity = Activity().deserialize(body)
    except Exception:  # noqa: BLE001 - msrest raises many kinds for bad shapes
        raise refused(400, "The body is not a valid activity.") from None
    activity.value = free_form.get("value")
    activity.channel_data = free_form.get("channelData")
    return activity


def _serialise_body(body: Any) -> Any:
    """Invoke and expectReplies bodies can already be plain JSON; msrest fails on those."""
    if body is None or isinstance(body, dict | list | str | int | float | bool):
        return body
    if isinstance(body, AdaptiveCardInvokeResponse):
        # msrest types its value as a dict, so it fails on a card's string or message; and the
        # SDK answers a malformed adaptiveCard/action with an Exception as the value. Either
        # turned a client's request into our 500.
        value = body.value
        if isinstance(value, Exception):
            code, message = ([str(a) for a in value.args] + ["", ""])[:2]
            value = {"code": code, "message": message}
        elif isinstance(value, Model):
            value = serializer_helper(value)
        return {"statusCode": int(body.status_code), "type": body.type, "value": value}
    return serializer_helper(body)


def _reply_json(activity: Activity) -> Any:
    """One buffered reply of an expectReplies turn, written without msrest's trip-ups."""
    response = activity.value
    if activity.type == ActivityTypes.invoke_response and isinstance(response, InvokeResponse):
        bare = copy(activity)
        bare.value = None
        out = bare.serialize()
        out["value"] = {"status": int(response.status), "body": _serialise_body(response.body)}
        return out
    return activity.serialize()
