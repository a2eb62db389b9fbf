"""The HTTP edge of the bot (/api/messages through MyReviewAdapter), over real HTTP.

What a channel or a careless client sends must never crash a turn into a 500, replies must go
back the way the channel asked for them, and a resent activity must be answered once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient
from botbuilder.core import BotAdapter, TurnContext
from botframework.connector.aio import ConnectorClient

from bot.adapter import ConnectorCache
from bot.app import Parts
from tests.channel import Connector, running_connector
from tests.chat import Chat, message, words
from tests.test_door import (
    BAD_ACTIVITIES,
    CHOKING_JSON,
    NOT_ACTIVITIES,
    activity,
    serialised,
)

WELCOME = "I'm the My Review chat bot"


@pytest.fixture
async def second_connector() -> AsyncIterator[tuple[Connector, str]]:
    """Another channel's connector service, on its own URL (as Teams and Direct Line are)."""
    async with running_connector() as running:
        yield running


def _no_stack_traces(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing a client sends may leave a stack trace or an error in the log."""
    loud = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not loud, [(r.name, r.getMessage()) for r in loud]


async def _bot_still_answers(new_chat: Callable[..., Chat]) -> None:
    chat = new_chat("msteams")
    said = await chat.start()
    assert WELCOME in said
    assert chat.last_status < 300


# --- (a) bodies in the HTTP response: expectReplies and invokes ------------------------------


async def test_expect_replies_answers_in_the_http_body(
    client: TestClient, connector: tuple[Connector, str]
) -> None:
    conn, url = connector
    act = message(
        channel_id="directline", service_url=url, conversation_id="conv-expect", text="hello"
    )
    act["deliveryMode"] = "expectReplies"

    resp = await client.post("/api/messages", json=act)

    assert resp.status == 200, await resp.text()
    body = await resp.json()
    replies = body["activities"]
    assert replies, body
    assert all(r["type"] == "message" for r in replies)
    assert all(r["conversation"]["id"] == "conv-expect" for r in replies)
    assert WELCOME in "\n".join(words(r) for r in replies)
    # Buffered into the response, so not also posted to the connector: no double messages.
    assert conn.sent == []


async def test_expect_replies_keeps_the_conversation_going(
    client: TestClient, connector: tuple[Connector, str]
) -> None:
    _, url = connector

    async def say(text: str) -> str:
        act = message(
            channel_id="directline", service_url=url, conversation_id="conv-expect-2", text=text
        )
        act["deliveryMode"] = "expectReplies"
        resp = await client.post("/api/messages", json=act)
        assert resp.status == 200, await resp.text()
        return "\n".join(words(r) for r in (await resp.json())["activities"])

    assert WELCOME in await say("hello")
    assert "didn't work" in await say("NOT-A-CODE")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": "go"}}),
        ("signin/verifyState", {"state": "123"}),
        ("signin/tokenExchange", {"id": "x", "token": "y"}),
        ("something/unknown", {"x": 1}),
        ("task/fetch", {"data": {"q": "x"}}),
        ("healthCheck", None),
        (None, None),
    ],
)
async def test_an_invoke_the_bot_does_not_handle_gets_an_empty_200(
    client: TestClient,
    connector: tuple[Connector, str],
    new_chat: Callable[..., Chat],
    caplog: pytest.LogCaptureFixture,
    name: str | None,
    value: Any,
) -> None:
    conn, url = connector
    act = message(
        type="invoke", channel_id="msteams", service_url=url, conversation_id="conv-invoke"
    )
    if name is not None:
        act["name"] = name
    if value is not None:
        act["value"] = value

    resp = await client.post("/api/messages", json=act)

    # The SDK answers 501, and Teams shows the young person an error card for that.
    assert resp.status == 200, await resp.text()
    assert await resp.read() == b""
    assert conn.sent == []
    _no_stack_traces(caplog)
    await _bot_still_answers(new_chat)


async def test_a_malformed_card_action_says_why_in_its_body(
    client: TestClient, connector: tuple[Connector, str]
) -> None:
    _, url = connector
    act = message(type="invoke", channel_id="msteams", service_url=url, conversation_id="conv-ac")
    act["name"] = "adaptiveCard/action"

    resp = await client.post("/api/messages", json=act)

    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["statusCode"] == 400
    assert body["type"] == "application/vnd.microsoft.error"
    assert body["value"]["message"] == "Missing value property"


async def test_a_malformed_card_action_with_expect_replies_says_why_in_its_body(
    client: TestClient, connector: tuple[Connector, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, url = connector
    act = message(type="invoke", channel_id="msteams", service_url=url, conversation_id="conv-er")
    act["name"] = "adaptiveCard/action"
    act["deliveryMode"] = "expectReplies"

    resp = await client.post("/api/messages", json=act)

    assert resp.status == 200, await resp.text()
    (reply,) = (await resp.json())["activities"]
    assert reply["type"] == "invokeResponse"
    assert reply["value"]["status"] == 400
    assert reply["value"]["body"]["value"]["message"] == "Missing value property"
    _no_stack_traces(caplog)


# --- (b) one connector client per service URL -------------------------------------------------


async def test_connector_client_is_reused_across_turns(
    parts: Parts,
    new_chat: Callable[..., Chat],
    connector: tuple[Connector, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, _ = connector
    used: list[Any] = []
    on_turn = parts.bot.on_turn

    async def spy(turn_context: TurnContext) -> None:
        used.append(turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY))
        await on_turn(turn_context)

    monkeypatch.setattr(parts.bot, "on_turn", spy)
    chat = new_chat("msteams")

    await chat.start()
    await chat.say("hello again")

    assert len(used) == 2
    assert used[0] is not None and used[0] is used[1]
    cached = list(parts.adapter.auth.connectors.values())
    assert len(cached) == 1
    assert cached[0] is used[0]
    assert len(conn.sent) >= 2  # and the shared client really delivered both turns' replies


async def test_each_service_url_gets_its_own_client_and_its_own_replies(
    client: TestClient,
    parts: Parts,
    connector: tuple[Connector, str],
    second_connector: tuple[Connector, str],
) -> None:
    conn_a, url_a = connector
    conn_b, url_b = second_connector
    teams = Chat(client, conn_a, url_a, channel_id="msteams")
    webchat = Chat(client, conn_b, url_b, channel_id="webchat")

    assert WELCOME in await teams.start()
    assert WELCOME in await webchat.start()
    assert "didn't work" in await teams.say("NOT-A-CODE")
    assert "didn't work" in await webchat.say("NOT-A-CODE")

    assert {a["conversation"]["id"] for a in conn_a.sent} == {teams.conversation_id}
    assert {a["conversation"]["id"] for a in conn_b.sent} == {webchat.conversation_id}
    urls = sorted(key[1] for key in parts.adapter.auth.connectors)
    assert urls == sorted([url_a, url_b])


# --- (c) bad input at /api/messages -----------------------------------------------------------


# Most bad bodies are tested at the door itself (tests/test_door.py); these show what HTTP adds:
# the content type, the size limit, a large body read off the loop, and no turn after any.
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("invalid json", 400),
        ("nested 100,000 deep", 400),
        ("wrong content type", 415),
        ("no content type", 415),
        ("too large", 413),
    ],
)
async def test_bad_input_is_refused_not_a_server_error(
    client: TestClient,
    connector: tuple[Connector, str],
    new_chat: Callable[..., Chat],
    caplog: pytest.LogCaptureFixture,
    case: str,
    expected: int,
) -> None:
    conn, url = connector
    as_json = {"Content-Type": "application/json"}
    requests: dict[str, tuple[bytes, dict[str, str]]] = {
        "invalid json": (NOT_ACTIVITIES["invalid json"], as_json),
        "nested 100,000 deep": (CHOKING_JSON["nested 100,000 deep"], as_json),
        "wrong content type": (json.dumps(activity(url)).encode(), {"Content-Type": "text/plain"}),
        "no content type": (json.dumps(activity(url)).encode(), {}),
        "too large": (json.dumps(activity(url, text="x" * 300_000)).encode(), as_json),
    }
    body, headers = requests[case]

    resp = await client.post("/api/messages", data=body, headers=headers)

    assert resp.status == expected, await resp.text()
    assert conn.sent == []  # nothing half-processed reached the young person
    _no_stack_traces(caplog)
    await _bot_still_answers(new_chat)


async def test_get_is_not_allowed(client: TestClient, new_chat: Callable[..., Chat]) -> None:
    resp = await client.get("/api/messages")

    assert resp.status == 405
    await _bot_still_answers(new_chat)


async def test_an_unknown_activity_type_is_ignored(
    client: TestClient, connector: tuple[Connector, str], new_chat: Callable[..., Chat]
) -> None:
    conn, url = connector

    resp = await client.post("/api/messages", json=activity(url, type="somethingNew"))

    assert 200 <= resp.status < 300, await resp.text()
    assert conn.sent == []
    await _bot_still_answers(new_chat)


# --- (d) a channel's resend is handled once ---------------------------------------------------


async def test_a_resent_message_is_answered_once(new_chat: Callable[..., Chat]) -> None:
    chat = new_chat("msteams")
    await chat.start()
    act = chat.activity(text="NOT-A-CODE", activity_id="teams-msg-1")

    first = await chat.post(act)
    again = await chat.post(dict(act))

    assert any("didn't work" in words(a) for a in first)
    assert again == []
    assert chat.last_status < 300


async def test_a_resend_arriving_during_the_first_turn_is_answered_once(
    client: TestClient, connector: tuple[Connector, str], new_chat: Callable[..., Chat]
) -> None:
    conn, _ = connector
    chat = new_chat("msteams")
    await chat.start()
    act = chat.activity(text="NOT-A-CODE", activity_id="teams-msg-2")
    before = len(conn.sent)

    statuses = await asyncio.gather(*(client.post("/api/messages", json=act) for _ in range(3)))

    assert all(r.status < 300 for r in statuses)
    replies = [words(a) for a in conn.sent[before:]]
    assert sum("didn't work" in r for r in replies) == 1, replies


async def test_the_same_activity_id_in_another_conversation_is_not_a_resend(
    new_chat: Callable[..., Chat],
) -> None:
    one, two = new_chat("msteams"), new_chat("msteams")
    await one.start()
    await two.start()

    said_one = await one.say("NOT-A-CODE", activity_id="1")
    said_two = await two.say("NOT-A-CODE", activity_id="1")

    assert "didn't work" in said_one
    assert "didn't work" in said_two


# --- (e) the door: every bad request gets a clear 4xx, and the turn does not run --------------


@pytest.mark.parametrize(
    "case",
    [
        "conversation.id with a line break",  # would go into a reply's header
        "card action not an object",  # the SDK reads it before checking it
        "timestamp not a date",  # refused by msrest, after the door's own checks
        "value nested 1,000 deep",  # was a RecursionError, a 500
    ],
)
async def test_a_malformed_activity_is_refused_before_the_turn(
    client: TestClient,
    parts: Parts,
    connector: tuple[Connector, str],
    new_chat: Callable[..., Chat],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    conn, url = connector
    turns: list[TurnContext] = []
    on_turn = parts.bot.on_turn

    async def spy(turn_context: TurnContext) -> None:
        turns.append(turn_context)
        await on_turn(turn_context)

    monkeypatch.setattr(parts.bot, "on_turn", spy)
    caplog.set_level(logging.INFO)
    body = serialised(BAD_ACTIVITIES[case], url)

    resp = await client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )

    assert resp.status == 400, await resp.text()
    reason = await resp.text()
    assert 0 < len(reason) < 120 and "Traceback" not in reason
    assert turns == [] and conn.sent == []
    _no_stack_traces(caplog)
    assert [r.getMessage() for r in caplog.records if r.name == "bot.adapter"] == [
        "request refused"
    ]
    await _bot_still_answers(new_chat)


async def test_a_garbled_token_is_unauthorised_without_a_stack_trace(
    client: TestClient, connector: tuple[Connector, str], caplog: pytest.LogCaptureFixture
) -> None:
    conn, url = connector
    act = message(channel_id="msteams", service_url=url, conversation_id="conv-jwt", text="hi")

    resp = await client.post(
        "/api/messages", json=act, headers={"Authorization": "Bearer not.a.token"}
    )

    assert resp.status == 401, await resp.text()
    assert conn.sent == []
    _no_stack_traces(caplog)


async def _raw_post(client: TestClient, head: bytes, body: bytes, wait: float) -> bytes:
    """Sends a request's head and part of its body, then waits for the server's answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1024), wait)
    finally:
        writer.close()


async def test_a_body_sent_too_slowly_gets_408(
    client: TestClient,
    parts: Parts,
    new_chat: Callable[..., Chat],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    parts.adapter.body_timeout = 0.3
    head = (
        b"POST /api/messages HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )

    # The client sends a little and then nothing, holding the connection open: the server
    # answers on its own, well before the 10 s the adapter would wait by default.
    answer = await _raw_post(client, head, b'{"type": "mess', wait=5)

    assert answer.startswith(b"HTTP/1.1 408"), answer
    refusals = [getattr(r, "reason", None) for r in caplog.records if r.name == "bot.adapter"]
    assert refusals == ["The body took too long to arrive."]
    _no_stack_traces(caplog)
    await _bot_still_answers(new_chat)


async def test_a_client_that_hangs_up_mid_body_leaves_no_stack_trace(
    client: TestClient,
    parts: Parts,
    new_chat: Callable[..., Chat],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given_up = asyncio.Event()
    process = parts.adapter.process

    async def spy(request: Any, bot: Any) -> Any:
        try:
            return await process(request, bot)
        finally:
            given_up.set()

    monkeypatch.setattr(parts.adapter, "process", spy)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        b"POST /api/messages HTTP/1.1\r\nHost: localhost\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"type": '
    )
    await writer.drain()

    writer.close()

    # The server gives the request up, and a whole turn later nothing about it is in the log.
    await asyncio.wait_for(given_up.wait(), 10)
    await _bot_still_answers(new_chat)
    _no_stack_traces(caplog)


# --- (f) text is repaired at the door ---------------------------------------------------------


async def test_half_an_emoji_in_text_is_repaired_and_answered(
    new_chat: Callable[..., Chat], caplog: pytest.LogCaptureFixture
) -> None:
    chat = new_chat("msteams")
    await chat.start()

    said = await chat.say("NOT-A-CODE \ud83d")  # json.dumps sends it as the escape \ud83d

    assert chat.last_status < 300
    assert "didn't work" in said
    _no_stack_traces(caplog)


async def test_half_an_emoji_in_the_conversation_id_is_repaired_and_answered(
    client: TestClient, connector: tuple[Connector, str], caplog: pytest.LogCaptureFixture
) -> None:
    conn, url = connector
    chat = Chat(client, conn, url, conversation_id="conv-\ud83d-1")
    start = chat.activity(type="conversationUpdate")
    start["membersAdded"] = [{"id": chat.user_id}]

    statuses = [
        (await client.post("/api/messages", json=start)).status,
        (await client.post("/api/messages", json=chat.activity(text="NOT-A-CODE"))).status,
    ]

    assert statuses == [201, 201]
    replies = "\n".join(words(a) for a in conn.sent if a["conversation"]["id"] == "conv-\ufffd-1")
    assert WELCOME in replies
    assert "didn't work" in replies
    _no_stack_traces(caplog)


@pytest.mark.parametrize("conversation_id", ["محادثة-1", "conv-\u2028-2"])
async def test_a_conversation_id_beyond_latin_1_is_answered(
    client: TestClient, connector: tuple[Connector, str], conversation_id: str
) -> None:
    conn, url = connector
    chat = Chat(client, conn, url, conversation_id=conversation_id)
    await chat.start()

    said = await chat.say("NOT-A-CODE")

    assert chat.last_status == 201
    assert "didn't work" in said


async def test_half_an_emoji_in_the_activity_id_is_repaired_and_a_resend_still_matches(
    new_chat: Callable[..., Chat], caplog: pytest.LogCaptureFixture
) -> None:
    chat = new_chat("msteams")
    await chat.start()
    act = chat.activity(text="NOT-A-CODE", activity_id="teams-\udc00-msg")

    first = await chat.post(act)
    again = await chat.post(dict(act))

    assert any("didn't work" in words(a) for a in first)
    assert again == []
    _no_stack_traces(caplog)


# --- (g) connector clients: bounded, and an unreachable service URL is quick to give up -------


def test_the_connector_cache_keeps_the_most_recently_used() -> None:
    cache = ConnectorCache(maxsize=3)
    clients = {name: cast(ConnectorClient, object()) for name in "abcd"}
    for name in "abc":
        cache[("id", name, "")] = clients[name]

    assert cache.get(("id", "a", "")) is clients["a"]  # a is now the most recent
    cache[("id", "d", "")] = clients["d"]

    assert [key[1] for key in cache] == ["c", "a", "d"]
    assert cache.get(("id", "b", "")) is None


async def test_connector_clients_are_bounded_and_an_evicted_url_still_gets_its_replies(
    client: TestClient,
    parts: Parts,
    connector: tuple[Connector, str],
    second_connector: tuple[Connector, str],
) -> None:
    parts.adapter.auth.connectors.maxsize = 1
    conn_a, url_a = connector
    conn_b, url_b = second_connector
    teams = Chat(client, conn_a, url_a, channel_id="msteams")
    webchat = Chat(client, conn_b, url_b, channel_id="webchat")

    assert WELCOME in await teams.start()
    assert WELCOME in await webchat.start()
    assert "didn't work" in await teams.say("NOT-A-CODE")

    assert [key[1] for key in parts.adapter.auth.connectors] == [url_a]


async def test_connector_calls_have_short_timeouts(
    parts: Parts, new_chat: Callable[..., Chat]
) -> None:
    await new_chat("msteams").start()

    (used,) = parts.adapter.auth.connectors.values()
    assert used.config.connection.timeout == (3.05, 10.0)


class _Silent:
    """A loopback 'connector' that accepts connections and never answers, until let go."""

    def __init__(self) -> None:
        self.url = ""
        self.held: list[asyncio.StreamWriter] = []
        self.arrived = asyncio.Event()
        self.gone = False

    async def accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.gone:
            writer.close()
            return
        self.held.append(writer)
        self.arrived.set()

    async def holding(self, count: int) -> None:
        """Waits until `count` calls are hanging on it."""
        async with asyncio.timeout(20):
            while len(self.held) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def let_go(self) -> None:
        """Hangs up on every call, now and from now on."""
        self.gone = True
        for writer in self.held:
            writer.close()


@asynccontextmanager
async def _silent_service() -> AsyncIterator[_Silent]:
    silent = _Silent()
    server = await asyncio.start_server(silent.accept, "127.0.0.1", 0)
    silent.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        yield silent
    finally:
        silent.let_go()
        server.close()


async def test_an_unreachable_service_url_stalls_only_its_own_conversations(
    client: TestClient,
    parts: Parts,
    new_chat: Callable[..., Chat],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = parts.adapter.auth.pool
    pool.read_timeout = 30.0  # the stuck replies wait until the test lets them go
    chat = new_chat("msteams")
    await chat.start()
    async with _silent_service() as silent:
        stuck = []
        for n in range(12):  # more than msrest's six default threads, more than one URL's cap
            act = message(
                channel_id="msteams", service_url=silent.url, conversation_id=f"conv-silent-{n}"
            )
            act["type"] = "conversationUpdate"
            act["membersAdded"] = [{"id": f"child-{n}"}]
            stuck.append(asyncio.create_task(client.post("/api/messages", json=act)))
        await silent.holding(pool.calls_per_connector)  # the rest queue behind those

        said = await chat.say("NOT-A-CODE")

        waiting_still = sum(not t.done() for t in stuck)
        silent.let_go()
        answers = await asyncio.wait_for(asyncio.gather(*stuck), 20)
    assert "didn't work" in said
    # Answered while all twelve waited: before, it waited until a thread came free (100 s).
    assert waiting_still == 12
    assert all(a.status != 500 for a in answers)
    _no_stack_traces(caplog)
