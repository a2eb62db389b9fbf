"""The HTTP edge of the bot (/api/messages through MyReviewAdapter), over real HTTP.

What a channel or a careless client sends must never crash a turn into a 500, replies must go
back the way the channel asked for them, and a resent activity must be answered once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from botbuilder.core import BotAdapter, TurnContext

from bot.app import Parts
from tests.channel import Connector, running_connector
from tests.chat import Chat, message, words

WELCOME = "I'm the My Review chat bot"


@pytest.fixture
async def second_connector() -> AsyncIterator[tuple[Connector, str]]:
    """Another channel's connector service, on its own URL (as Teams and Direct Line are)."""
    async with running_connector() as running:
        yield running


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
        ("adaptiveCard/action", None),  # malformed: the SDK answers 400 with an error body
        ("adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": "go"}}),
        ("signin/verifyState", {"state": "123"}),
        ("something/unknown", {"x": 1}),
    ],
)
async def test_invokes_are_answered_without_a_server_error(
    client: TestClient,
    connector: tuple[Connector, str],
    new_chat: Callable[..., Chat],
    name: str,
    value: Any,
) -> None:
    _, url = connector
    act = message(
        type="invoke", channel_id="msteams", service_url=url, conversation_id="conv-invoke"
    )
    act["name"] = name
    if value is not None:
        act["value"] = value

    resp = await client.post("/api/messages", json=act)

    assert resp.status != 500, await resp.text()
    assert resp.content_type == "application/json"
    json.loads(await resp.text())  # a JSON body (possibly null), as channels expect
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


def _activity(url: str, **fields: Any) -> dict[str, Any]:
    act = message(channel_id="msteams", service_url=url, conversation_id="conv-bad", text="hi")
    act.update(fields)
    return {k: v for k, v in act.items() if v is not None}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("invalid json", 400),
        ("not utf-8", 400),
        ("json array", 400),
        ("json string", 400),
        ("no type", 400),
        ("no conversation", 400),
        ("no service url", 400),
        ("conversation not an object", 400),
        ("wrong content type", 415),
        ("no content type", 415),
        ("too large", 413),
    ],
)
async def test_bad_input_is_refused_not_a_server_error(
    client: TestClient,
    connector: tuple[Connector, str],
    new_chat: Callable[..., Chat],
    case: str,
    expected: int,
) -> None:
    conn, url = connector
    as_json = {"Content-Type": "application/json"}
    requests: dict[str, tuple[bytes, dict[str, str]]] = {
        "invalid json": (b'{"type": "message", ', as_json),
        "not utf-8": (b'{"type": "\xff\xfe"}', as_json),
        "json array": (json.dumps([_activity(url)]).encode(), as_json),
        "json string": (b'"message"', as_json),
        "no type": (json.dumps(_activity(url, type=None)).encode(), as_json),
        "no conversation": (json.dumps(_activity(url, conversation=None)).encode(), as_json),
        "no service url": (json.dumps(_activity(url, serviceUrl=None)).encode(), as_json),
        "conversation not an object": (
            json.dumps(_activity(url, conversation="conv-bad")).encode(),
            as_json,
        ),
        "wrong content type": (json.dumps(_activity(url)).encode(), {"Content-Type": "text/plain"}),
        "no content type": (json.dumps(_activity(url)).encode(), {}),
        "too large": (json.dumps(_activity(url, text="x" * 300_000)).encode(), as_json),
    }
    body, headers = requests[case]

    resp = await client.post("/api/messages", data=body, headers=headers)

    assert resp.status == expected, await resp.text()
    assert conn.sent == []  # nothing half-processed reached the young person
    await _bot_still_answers(new_chat)


async def test_get_is_not_allowed(client: TestClient, new_chat: Callable[..., Chat]) -> None:
    resp = await client.get("/api/messages")

    assert resp.status == 405
    await _bot_still_answers(new_chat)


async def test_an_unknown_activity_type_is_ignored(
    client: TestClient, connector: tuple[Connector, str], new_chat: Callable[..., Chat]
) -> None:
    conn, url = connector

    resp = await client.post("/api/messages", json=_activity(url, type="somethingNew"))

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
