"""The web door's channel: a Direct Line 3.0-compatible endpoint, so the page at /chat (official
Web Chat, bot/web_door.py) talks to the bot with no Azure and no account.

The routes are the ones Web Chat and `botframework-directlinejs` call:

    POST /v3/directline/tokens/generate              a new chat and its token (no auth; limited
                                                     per address and service-wide). Optional
                                                     body {"locale": "ar"}: the welcome's language
    POST /v3/directline/tokens/refresh               a new token for the same chat
    POST /v3/directline/conversations                start (the welcome is said once)
    GET  /v3/directline/conversations/{id}           reconnect: a fresh stream URL
    POST /v3/directline/conversations/{id}/activities   the child's message
    GET  /v3/directline/conversations/{id}/activities   polling, after a watermark
    GET  /v3/directline/conversations/{id}/stream       the WebSocket stream
    POST /v3/directline/conversations/{id}/upload    refused: files are not taken here

Every activity, the child's and the bot's, goes through a queue in the database
(storage/web_door.py) before a page sees it, so a restart loses nothing: a child's message is
queued before its turn runs, and a turn a crash interrupted runs again at start-up (the bot's own
replay then delivers what it had committed). Replies have ids made from the message they answer,
so a reply sent again after a crash is queued once. Delivered activities are forgotten after a
few minutes; a quiet chat, after a few hours.

The turn itself is the same pipeline as /api/messages (bot/handler.py): this module is only the
channel, and only this module and bot/web_door.py know it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import WSMsgType, web
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, ResourceResponse

from bot import door
from bot.handler import MyReviewBot, RepliesNotDelivered
from bot.settings import Settings
from storage.repositories.web_door import Queued, WebDoorRepository
from storage.types import utcnow

log = logging.getLogger(__name__)

CHANNEL_ID = "web"
BOT_ACCOUNT = {"id": "myreview", "name": "MyReview", "role": "bot"}
# A page's message is a line or two; Teams caps one at about 28 KB of text.
MAX_POST_BYTES = 64 * 1024
MAX_TEXT = 4000
BODY_TIMEOUT_SECONDS = 10.0
# A refreshed token's predecessor still works this long: a call already on its way with it
# must not fail.
REFRESH_GRACE = timedelta(seconds=60)
STREAM_TOKEN_SECONDS = 60
# The stream looks in the database at least this often, so a reply queued by another
# instance still reaches the page.
STREAM_POLL_SECONDS = 5.0
CLEAN_EVERY_SECONDS = 60.0
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
_KEPT_FROM_PAGE = ("text", "textFormat", "locale", "value")


class Refusal(web.HTTPException):
    """A Direct Line error body: {"error": {"code", "message"}}, as the official client reads."""

    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": {"code": code, "message": message}}),
            content_type="application/json",
            headers=headers or None,
        )


@dataclass(frozen=True)
class Claims:
    conversation_id: str
    user_id: str
    generation: int


class Tokens:
    """Short-lived signed tokens, each bound to one chat. A stream token opens one WebSocket,
    once."""

    def __init__(self, secret: str, lifetime: timedelta) -> None:
        self._key = hmac.new(secret.encode(), b"myreview web door tokens", hashlib.sha256).digest()
        self.lifetime = lifetime
        self._streams_used: OrderedDict[str, float] = OrderedDict()

    def issue(self, claims: Claims) -> str:
        now = int(time.time())
        payload = {
            "kind": "chat",
            "conv": claims.conversation_id,
            "user": claims.user_id,
            "gen": claims.generation,
            "iat": now,
            "exp": now + int(self.lifetime.total_seconds()),
        }
        return jwt.encode(payload, self._key, algorithm="HS256")

    def stream(self, conversation_id: str) -> str:
        now = int(time.time())
        payload = {
            "kind": "stream",
            "conv": conversation_id,
            "jti": secrets.token_urlsafe(12),
            "exp": now + STREAM_TOKEN_SECONDS,
        }
        return jwt.encode(payload, self._key, algorithm="HS256")

    def read(self, token: str) -> Claims:
        payload = self._decode(token, "chat")
        return Claims(str(payload["conv"]), str(payload["user"]), int(payload["gen"]))

    def open_stream(self, token: str, conversation_id: str) -> None:
        """Checks a stream token and spends it: the same URL cannot open a second socket."""
        payload = self._decode(token, "stream")
        if payload.get("conv") != conversation_id:
            raise Refusal(403, "Forbidden", "This token is for another conversation.")
        jti = str(payload.get("jti"))
        now = time.time()
        while self._streams_used and next(iter(self._streams_used.values())) < now:
            self._streams_used.popitem(last=False)
        if jti in self._streams_used:
            raise Refusal(403, "TokenUsed", "This stream URL was used already: reconnect.")
        self._streams_used[jti] = float(payload["exp"])

    def _decode(self, token: str, kind: str) -> dict[str, Any]:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"require": ["exp", "kind", "conv"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refusal(403, "TokenExpired", "The token has expired.") from None
        except jwt.PyJWTError:
            raise Refusal(403, "Forbidden", "The token is not valid.") from None
        if payload.get("kind") != kind:
            raise Refusal(403, "Forbidden", "The token is not valid.")
        return payload


class CreationLimit:
    """New chats per client address per hour, and across the service per minute. Calls of
    chats already open are never counted, so a flood of new ones leaves them alone."""

    ADDRESSES_KEPT = 50_000

    def __init__(self, per_address_per_hour: int, per_minute: int) -> None:
        self.per_address = per_address_per_hour
        self.per_minute = per_minute
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def admit(self, address: str, now: float) -> float | None:
        """None when admitted (and counted), else the seconds to wait."""
        while self._all and self._all[0] <= now - 60:
            self._all.popleft()
        if len(self._all) >= self.per_minute:
            return self._all[0] + 60 - now
        times = self._by_address.get(address)
        if times is None:
            times = self._by_address[address] = deque()
            while len(self._by_address) > self.ADDRESSES_KEPT:
                self._by_address.popitem(last=False)
        self._by_address.move_to_end(address)
        while times and times[0] <= now - 3600:
            times.popleft()
        if len(times) >= self.per_address:
            return times[0] + 3600 - now
        times.append(now)
        self._all.append(now)
        return None


class Signals:
    """Wakes the streams of a chat when something is queued for it (on this instance)."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def notify(self, conversation_id: str) -> None:
        for event in self._waiting.get(conversation_id, ()):
            event.set()

    @contextlib.asynccontextmanager
    async def listen(self, conversation_id: str) -> AsyncIterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiting.setdefault(conversation_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(conversation_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[conversation_id]


class WebDoorAdapter(BotAdapter):
    """Where the bot's replies go on this channel: into the chat's queue."""

    SENT = "myreview.web.sent"

    def __init__(self, repo: WebDoorRepository, signals: Signals) -> None:
        super().__init__()
        self.repo = repo
        self.signals = signals

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            if activity.type in (ActivityTypes.trace, ActivityTypes.invoke_response):
                responses.append(ResourceResponse(id=""))
                continue
            # Numbered within the turn, so the same reply sent again after a crash has the
            # same id and key, and is queued once.
            n = context.turn_state.get(self.SENT, 0)
            context.turn_state[self.SENT] = n + 1
            reply_id = f"{context.activity.id}.{n}"
            await self._queue(context, activity, reply_id, f"reply:{reply_id}")
            responses.append(ResourceResponse(id=reply_id))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        # Web Chat replaces an activity it has when one with the same id arrives.
        await self._queue(
            context, activity, activity.id or "", f"update:{activity.id}:{context.activity.id}"
        )
        return ResourceResponse(id=activity.id)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        return None

    async def continue_conversation(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the web door has no proactive messages yet")

    async def _queue(
        self, context: TurnContext, activity: Activity, reply_id: str, key: str
    ) -> None:
        incoming = context.activity
        conversation_id = incoming.conversation.id
        body = activity.serialize()
        body.update(
            id=reply_id,
            timestamp=_now_iso(),
            channelId=CHANNEL_ID,
            conversation={"id": conversation_id},
            recipient={"id": incoming.from_property.id, "role": "user"},
            replyToId=incoming.id,
        )
        body["from"] = dict(BOT_ACCOUNT)
        body.setdefault("type", ActivityTypes.message)
        await self.repo.append(
            conversation_id=conversation_id,
            activity_id=reply_id,
            dedupe_key=key,
            body=body,
            from_bot=True,
        )
        self.signals.notify(conversation_id)


class DirectLine:
    """The routes, their checks, and the turns they run."""

    def __init__(self, settings: Settings, repo: WebDoorRepository, bot: MyReviewBot) -> None:
        self.settings = settings
        self.repo = repo
        self.bot = bot
        self.tokens = Tokens(
            settings.secret_key.get_secret_value(), timedelta(minutes=settings.web_token_minutes)
        )
        self.limit = CreationLimit(
            settings.web_chats_per_address_per_hour, settings.web_chats_per_minute
        )
        self.signals = Signals()
        self.adapter = WebDoorAdapter(repo, self.signals)
        self.adapter.on_turn_error = self._on_turn_error

    def add_routes(self, app: web.Application) -> None:
        base = "/v3/directline"
        app.router.add_post(f"{base}/tokens/generate", self.generate)
        app.router.add_post(f"{base}/tokens/refresh", self.refresh)
        app.router.add_post(f"{base}/conversations", self.start)
        app.router.add_get(f"{base}/conversations/{{cid}}", self.reconnect)
        app.router.add_post(f"{base}/conversations/{{cid}}/activities", self.post_activity)
        app.router.add_get(f"{base}/conversations/{{cid}}/activities", self.get_activities)
        app.router.add_get(f"{base}/conversations/{{cid}}/stream", self.stream)
        app.router.add_post(f"{base}/conversations/{{cid}}/upload", self.upload)

    # --- tokens and chats ------------------------------------------------------------------

    async def generate(self, request: web.Request) -> web.Response:
        """A new chat and its token; 429 with Retry-After past the limits."""
        wait = self.limit.admit(self._address(request), time.monotonic())
        if wait is not None:
            log.info("web chat refused: too many new chats")
            raise Refusal(
                429,
                "TooManyRequests",
                "Too many new chats: try again shortly.",
                **{"Retry-After": str(max(1, int(wait) + 1))},
            )
        locale = None
        if request.can_read_body:
            body = await self._json(request, required=False)
            given = body.get("locale") if isinstance(body, dict) else None
            if isinstance(given, str) and _LOCALE.fullmatch(given):
                locale = given
        claims = Claims(
            conversation_id=f"web-{secrets.token_urlsafe(18)}",
            user_id=f"child-{secrets.token_urlsafe(12)}",
            generation=0,
        )
        await self.repo.open(
            conversation_id=claims.conversation_id, user_id=claims.user_id, locale=locale
        )
        return web.json_response(self._token_body(claims))

    async def refresh(self, request: web.Request) -> web.Response:
        claims = await self._claims(request)
        generation = await self.repo.refreshed(conversation_id=claims.conversation_id)
        fresh = Claims(claims.conversation_id, claims.user_id, generation)
        return web.json_response(self._token_body(fresh))

    async def start(self, request: web.Request) -> web.Response:
        """Starts the chat its token is for; the bot's welcome is queued before this answers."""
        claims = await self._claims(request)
        token = _bearer(request)
        first = await self.repo.mark_started(conversation_id=claims.conversation_id)
        if first:
            conversation = await self.repo.get(conversation_id=claims.conversation_id)
            body = self._incoming(
                claims,
                {"type": ActivityTypes.conversation_update},
                activity_id=f"{claims.conversation_id}|start",
            )
            body["membersAdded"] = [{"id": claims.user_id, "role": "user"}]
            if conversation is not None and conversation.locale:
                body["locale"] = conversation.locale
            await self._take(claims, body, dedupe_key="start")
        return web.json_response(
            self._conversation_body(request, claims, token, watermark=None),
            status=201 if first else 200,
        )

    async def reconnect(self, request: web.Request) -> web.Response:
        claims = await self._claims(request, request.match_info["cid"])
        watermark = _watermark(request.query.get("watermark"))
        await self.repo.seen(conversation_id=claims.conversation_id, delivered_upto=watermark)
        return web.json_response(
            self._conversation_body(request, claims, _bearer(request), watermark=watermark)
        )

    # --- activities ------------------------------------------------------------------------

    async def post_activity(self, request: web.Request) -> web.Response:
        """The child's message: queued (so the page shows it sent), then its turn is run."""
        claims = await self._claims(request, request.match_info["cid"])
        sent = await self._json(request, required=True)
        if not isinstance(sent, dict):
            raise Refusal(400, "BadArgument", "Send one activity as a JSON object.")
        kind = sent.get("type")
        if kind == ActivityTypes.typing:
            return web.json_response({"id": ""})
        if kind != ActivityTypes.message:
            raise Refusal(400, "BadArgument", "Only messages can be sent here.")
        if sent.get("attachments"):
            raise Refusal(400, "BadArgument", "Files and pictures can't be sent here.")
        text = sent.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
            raise Refusal(400, "BadArgument", f"text must be a string of {MAX_TEXT} or fewer.")
        activity_id = f"{claims.conversation_id}|{secrets.token_hex(6)}"
        body = self._incoming(claims, sent, activity_id=activity_id)
        client_id = _client_activity_id(sent)
        # Web Chat sends again with the same clientActivityID when a post seemed to fail: the
        # child's message is taken once.
        key = f"child:{client_id}" if client_id else f"child:{activity_id}"
        taken = await self._take(claims, body, dedupe_key=key)
        if taken is None:
            taken_as = await self.repo.activity_id_for(
                conversation_id=claims.conversation_id, dedupe_key=key
            )
            return web.json_response({"id": taken_as or activity_id})
        return web.json_response({"id": activity_id})

    async def get_activities(self, request: web.Request) -> web.Response:
        claims = await self._claims(request, request.match_info["cid"])
        watermark = _watermark(request.query.get("watermark"))
        await self.repo.seen(conversation_id=claims.conversation_id, delivered_upto=watermark)
        queued = await self.repo.after(
            conversation_id=claims.conversation_id, watermark=watermark or 0
        )
        return web.json_response(_group(queued, watermark or 0))

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Everything after the watermark, then each activity as it is queued."""
        conversation_id = request.match_info["cid"]
        self.tokens.open_stream(request.query.get("t", ""), conversation_id)
        if await self.repo.get(conversation_id=conversation_id) is None:
            raise Refusal(404, "BadArgument", "This chat has ended. Open the link again.")
        last = _watermark(request.query.get("watermark")) or 0
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        # The client says nothing on the stream; reading is how a close is noticed.
        reader = asyncio.create_task(_drain(ws))
        try:
            async with self.signals.listen(conversation_id) as event:
                while not ws.closed and not reader.done():
                    event.clear()
                    queued = await self.repo.after(conversation_id=conversation_id, watermark=last)
                    if queued:
                        await ws.send_str(json.dumps(_group(queued, last)))
                        last = queued[-1].seq
                        await self.repo.seen(conversation_id=conversation_id, delivered_upto=last)
                        continue
                    woken = asyncio.ensure_future(event.wait())
                    try:
                        await asyncio.wait(
                            [woken, reader],
                            timeout=STREAM_POLL_SECONDS,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        woken.cancel()
        except (ConnectionResetError, RuntimeError):
            pass  # the page went away mid-send
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await ws.close()
        return ws

    async def upload(self, request: web.Request) -> web.Response:
        await self._claims(request, request.match_info["cid"])
        raise Refusal(400, "BadArgument", "Files and pictures can't be sent here.")

    async def tell(self, *, conversation_id: str, activity: dict[str, Any], key: str) -> bool:
        """A message from the bot outside any turn (a notice to the child, bot/notices.py):
        queued once per `key` in the chat, so a page sees it once however often it is sent.
        False when the chat has ended (forgotten after going quiet): there is no page to tell.
        """
        conversation = await self.repo.get(conversation_id=conversation_id)
        if conversation is None:
            return False
        activity_id = f"{conversation_id}|{key}"
        body = dict(activity)
        body.update(
            id=activity_id,
            timestamp=_now_iso(),
            channelId=CHANNEL_ID,
            conversation={"id": conversation_id},
            recipient={"id": conversation.user_id, "role": "user"},
        )
        body["from"] = dict(BOT_ACCOUNT)
        body.setdefault("type", ActivityTypes.message)
        await self.repo.append(
            conversation_id=conversation_id,
            activity_id=activity_id,
            dedupe_key=f"told:{key}",
            body=body,
            from_bot=True,
        )
        self.signals.notify(conversation_id)
        return True

    # --- running turns ---------------------------------------------------------------------

    async def _take(self, claims: Claims, body: dict[str, Any], *, dedupe_key: str) -> int | None:
        """Queues what the page sent and runs its turn; None if it was taken already."""
        seq = await self.repo.append(
            conversation_id=claims.conversation_id,
            activity_id=body["id"],
            dedupe_key=dedupe_key,
            body=body,
            from_bot=False,
            pending=True,
        )
        if seq is None:
            return None
        self.signals.notify(claims.conversation_id)
        await self._run(seq, body)
        return seq

    async def _run(self, seq: int, body: dict[str, Any]) -> None:
        activity = _activity(body)
        context = TurnContext(self.adapter, activity)
        try:
            await self.adapter.run_pipeline(context, self.bot.on_turn)
        except RepliesNotDelivered:
            # The turn is committed; its replies go when the turn is run again (the next
            # sweep, or start-up).
            log.warning("web door replies not queued; the turn runs again")
            return
        await self.repo.finished(seq=seq)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        if isinstance(error, RepliesNotDelivered):
            raise error
        log.error("unhandled turn error", exc_info=error)

    async def resume(self) -> int:
        """Runs again every turn a crash (or an unreachable database) left unfinished."""
        pending = await self.repo.pending()
        for item in pending:
            await self._run(item.seq, item.body)
        if pending:
            log.info("web door turns run again", extra={"count": len(pending)})
        return len(pending)

    async def forget(self) -> dict[str, int]:
        now = utcnow()
        return await self.repo.forget(
            delivered_before=now - timedelta(minutes=self.settings.web_keep_delivered_minutes),
            idle_before=now - timedelta(hours=self.settings.web_chat_idle_hours),
        )

    async def run_forever(self) -> None:
        """At start-up and then every minute: unfinished turns, then forgetting."""
        while True:
            try:
                await self.resume()
                forgotten = await self.forget()
                if any(forgotten.values()):
                    log.info("web door forgot", extra=forgotten)
            except Exception:  # tried again next minute; nothing is lost meanwhile
                log.exception("web door sweep failed")
            await asyncio.sleep(CLEAN_EVERY_SECONDS)

    # --- helpers ---------------------------------------------------------------------------

    async def _claims(self, request: web.Request, conversation_id: str | None = None) -> Claims:
        claims = self.tokens.read(_bearer(request))
        if conversation_id is not None and conversation_id != claims.conversation_id:
            raise Refusal(403, "Forbidden", "This token is for another conversation.")
        conversation = await self.repo.get(conversation_id=claims.conversation_id)
        if conversation is None:
            raise Refusal(403, "TokenExpired", "This chat has ended. Open the link again.")
        current = conversation.token_generation
        replaced_lately = (
            claims.generation == current - 1
            and conversation.refreshed_at is not None
            and utcnow() - conversation.refreshed_at < REFRESH_GRACE
        )
        if claims.generation != current and not replaced_lately:
            raise Refusal(403, "TokenExpired", "This token was replaced by a newer one.")
        return claims

    def _token_body(self, claims: Claims) -> dict[str, Any]:
        return {
            "conversationId": claims.conversation_id,
            "token": self.tokens.issue(claims),
            "expires_in": int(self.tokens.lifetime.total_seconds()),
        }

    def _conversation_body(
        self, request: web.Request, claims: Claims, token: str, watermark: int | None
    ) -> dict[str, Any]:
        secure = request.secure or (
            self.settings.web_behind_proxy
            and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        )
        scheme = "wss" if secure else "ws"
        stream = (
            f"{scheme}://{request.host}/v3/directline/conversations/{claims.conversation_id}"
            f"/stream?t={self.tokens.stream(claims.conversation_id)}"
        )
        if watermark is not None:
            stream += f"&watermark={watermark}"
        return {
            "conversationId": claims.conversation_id,
            "token": token,
            "expires_in": int(self.tokens.lifetime.total_seconds()),
            "streamUrl": stream,
        }

    def _incoming(
        self, claims: Claims, sent: dict[str, Any], *, activity_id: str
    ) -> dict[str, Any]:
        """The activity as the bot gets it: what the page may say, and the rest from us."""
        body: dict[str, Any] = {k: sent[k] for k in _KEPT_FROM_PAGE if k in sent}
        if not (isinstance(body.get("locale"), str) and _LOCALE.fullmatch(body["locale"])):
            body.pop("locale", None)
        if body.get("textFormat") not in (None, "plain", "markdown"):
            body.pop("textFormat")
        client_id = _client_activity_id(sent)
        body.update(
            type=sent.get("type", ActivityTypes.message),
            id=activity_id,
            timestamp=_now_iso(),
            channelId=CHANNEL_ID,
            serviceUrl="https://web-door.invalid/",
            conversation={"id": claims.conversation_id},
            recipient={"id": BOT_ACCOUNT["id"], "role": "bot"},
            channelData={"clientActivityID": client_id} if client_id else {},
        )
        body["from"] = {"id": claims.user_id, "role": "user"}
        # The same repairs and checks as a channel's activity at /api/messages.
        try:
            repaired = door.parse(json.dumps(body, ensure_ascii=False).encode())
            door.check_activity(repaired)
        except door.Refused as exc:
            raise Refusal(400, "BadArgument", exc.reason) from None
        return repaired

    async def _json(self, request: web.Request, *, required: bool) -> Any:
        if request.content_length is not None and request.content_length > MAX_POST_BYTES:
            raise Refusal(413, "BadArgument", "The body is too large.")
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                raw = await request.content.read(MAX_POST_BYTES + 1)
        except TimeoutError:
            raise Refusal(408, "BadArgument", "The body took too long to arrive.") from None
        if len(raw) > MAX_POST_BYTES:
            raise Refusal(413, "BadArgument", "The body is too large.")
        if not raw.strip():
            if required:
                raise Refusal(400, "BadArgument", "Send one activity as a JSON object.")
            return None
        try:
            return door.parse(raw)
        except door.Refused as exc:
            raise Refusal(400, "BadArgument", exc.reason) from None

    def _address(self, request: web.Request) -> str:
        if self.settings.web_behind_proxy:
            forwarded = request.headers.get("X-Forwarded-For", "")
            # The proxy appends the address it saw: the last entry is the one it vouches for.
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
        return request.remote or "unknown"


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "Unauthorized", "A token is needed: Authorization: Bearer <token>.")
    return token.strip()


def _watermark(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(int(value), 2**62)


def _client_activity_id(sent: dict[str, Any]) -> str | None:
    data = sent.get("channelData")
    value = data.get("clientActivityID") if isinstance(data, dict) else None
    if isinstance(value, str) and 0 < len(value) <= 100:
        return value
    return None


def _group(queued: list[Queued], watermark: int) -> dict[str, Any]:
    """An activity set as Direct Line sends it; the welcome's trigger is not shown."""
    shown = [q.body for q in queued if q.body.get("type") != ActivityTypes.conversation_update]
    last = queued[-1].seq if queued else watermark
    return {"activities": shown, "watermark": str(last)}


def _activity(body: dict[str, Any]) -> Activity:
    plain = dict(body)
    free_form = {key: plain.pop(key) for key in ("value", "channelData") if key in plain}
    activity = Activity().deserialize(plain)
    activity.value = free_form.get("value")
    activity.channel_data = free_form.get("channelData")
    return activity


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _drain(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break
