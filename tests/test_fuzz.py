"""Fuzzing POST /api/messages as a careless or hostile channel would: a few thousand activities,
mutated from valid ones, against the in-process app.

Whatever arrives, the answer is never a 5xx, nothing a client sent leaves a stack trace or an
error in the log, and afterwards the server is healthy and a new child is still answered.
Valid activities are mixed in (an invite code, the buttons of cards the bot really sent), so
the mutations reach the consultation itself and not only the door.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import door
from tests.channel import Connector
from tests.chat import Chat, message

EXAMPLES = int(os.environ.get("MYREVIEW_FUZZ_EXAMPLES", "2500"))

CHANNELS = ["msteams", "webchat", "directline", "emulator", "test", "slack"]
TYPES = [
    "message",
    "conversationUpdate",
    "invoke",
    "event",
    "typing",
    "messageReaction",
    "installationUpdate",
    "endOfConversation",
    "messageUpdate",
    "messageDelete",
    "contactRelationUpdate",
    "deleteUserData",
    "handoff",
    "trace",
    "command",
    "suggestion",
    "invokeResponse",
    "somethingNew",
]
INVOKE_NAMES = [
    "adaptiveCard/action",
    "task/fetch",
    "task/submit",
    "healthCheck",
    "signin/verifyState",
    "signin/tokenExchange",
    "composeExtension/query",
    "composeExtension/submitAction",
    "application/search",
    "actionableMessage/executeAction",
    "fileConsent/invoke",
    "config/fetch",
    "handoff/action",
    "",
]
WORDS = [
    "help",
    "back",
    "skip",
    "language",
    "pause",
    "start again",
    "talk to someone",
    "repeat",
    "hi",
    "yes",
    "no",
    "1",
    "2",
    "3",
    "1,2",
    "0",
    "99",
    "-1",
    "my mum",
    "my carer hits me \ud83d",
    "Zed \ud83d",
    "abc\u202egpj.exe",
    "[link](http://127.0.0.1/)",
    "مرحبا",
    "Përshëndetje",
    "NOT-A-CODE",
]
ODD = [
    "",
    " ",
    "\ud83d",
    "\ude00",
    "\ude00\ud83d",
    "\ud83d\ude00",
    "\x00",
    "\u202e",
    "\u2067x\u2069",
    "\u200b",
    "\ufeff",
    "\ufdfa",
    "\ufffd",
    "\uffff",
    "\r\n",
    "%s%n",
    "{{ child.first_name }}",
    "<script>",
    "../..",
    "null",
]
CONTENT_TYPES = ["application/json"] * 12 + [
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
]
TOKENS = ["Bearer", "Bearer ", "Bearer x", "Bearer a.b.c", "Basic YTpi", "bearer x", "x y z"]
LOCALES = ["en", "en-GB", "ar", "ar-SA", "sq", "xx", "", "EN", "zz-ZZ-x-private", "\ud83d"]
CONTROLS = ["help", "language", "pause", "restart", "talk", "repeat", "back", "skip", "send"]

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(ODD),
    st.builds(lambda a, b: a + b, st.text(max_size=20), st.sampled_from(ODD)),
    st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["a", "\ufdfa", "\ud83d", "é", "\u202e", "x "]),
        st.integers(500, 40_000),
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(ODD),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


class _Nested:
    """A value nested `depth` deep, spliced into the body as text."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def json(self) -> str:
        return "[" * self.depth + "0" + "]" * self.depth


@dataclass
class Fuzz:
    """What the examples share: the server, the connector, codes and what the bot sent."""

    client: TestClient
    connector: Connector
    url: str
    codes: list[str]
    statuses: Counter[int] = field(default_factory=Counter)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    seen_replies: int = 0

    # Strategies draw an index and these resolve it: what the bot sent so far must not change
    # which draws Hypothesis makes, or it reports the generation as flaky.
    def payload(self, index: int) -> dict[str, Any]:
        return self.payloads[index % len(self.payloads)] if self.payloads else {"q": "x", "n": 1}

    def reply_id(self, index: int) -> str | None:
        recent = self.connector.sent[-20:]
        return recent[index % len(recent)].get("id") if recent else None

    def seen_id(self, index: int) -> str:
        recent = self.seen_ids[-30:]
        return recent[index % len(recent)] if recent else f"fuzz-{next(self.ids)}"

    def harvest(self) -> None:
        """Keeps the button payloads of cards the bot really sent, to send back mutated."""
        for reply in self.connector.sent[self.seen_replies :]:
            for att in reply.get("attachments") or []:
                content = att.get("content") or {}
                for action in content.get("actions") or []:
                    if isinstance(action.get("data"), dict):
                        self.payloads.append(action["data"])
                for block in content.get("body") or []:
                    for choice in block.get("choices") or []:
                        base = next(
                            (a["data"] for a in content.get("actions") or [] if "data" in a), {}
                        )
                        self.payloads.append({**base, "choice": choice.get("value")})
        self.seen_replies = len(self.connector.sent)
        del self.payloads[:-60]


def _base(draw: st.DrawFn, fuzz: Fuzz) -> dict[str, Any]:
    """A valid activity, as a channel would send it."""
    kind = draw(st.sampled_from(["text", "text", "submit", "start", "invoke", "other"]))
    act = message(
        channel_id=draw(st.sampled_from(CHANNELS)),
        service_url=fuzz.url,
        conversation_id=f"conv-fuzz-{draw(st.integers(1, 8))}",
        user_id=f"child-{draw(st.integers(1, 3))}",
        activity_id=f"fuzz-{next(fuzz.ids)}",
    )
    if kind == "text":
        act["text"] = draw(st.sampled_from([*WORDS, *fuzz.codes]) | st.text(max_size=30))
    elif kind == "submit":
        act["value"] = dict(fuzz.payload(draw(st.integers(0, 59))))
        if draw(st.booleans()):
            act["replyToId"] = fuzz.reply_id(draw(st.integers(0, 19)))
    elif kind == "start":
        act["type"] = "conversationUpdate"
        act["membersAdded"] = [{"id": act["from"]["id"]}, {"id": "bot"}]
    elif kind == "invoke":
        act["type"] = "invoke"
        act["name"] = draw(st.sampled_from(INVOKE_NAMES) | st.text(max_size=20))
        act["value"] = draw(
            st.none()
            | json_values
            | st.fixed_dictionaries(
                {"action": st.fixed_dictionaries({"type": st.just("Action.Execute")})},
                optional={"trigger": st.text(max_size=5)},
            )
        )
    else:
        act["type"] = draw(st.sampled_from(TYPES) | st.text(min_size=1, max_size=15))
    if draw(st.integers(0, 9)) == 0:
        act["deliveryMode"] = draw(st.sampled_from(["expectReplies", "normal", "notification"]))
    if draw(st.integers(0, 4)) == 0:
        act["locale"] = draw(st.sampled_from(LOCALES))
    return act


def _mutate(draw: st.DrawFn, fuzz: Fuzz, act: dict[str, Any]) -> None:
    """One change a careless or hostile channel might make."""
    how = draw(
        st.sampled_from(
            [
                "drop",
                "set",
                "odd",
                "account",
                "members",
                "value",
                "nested",
                "attachments",
                "time",
                "url",
                "resend",
                "reaction",
            ]
        )
    )
    fields = ["type", "id", "channelId", "serviceUrl", "conversation", "from", "recipient"]
    fields += ["text", "value", "name", "locale", "replyToId", "timestamp", "channelData"]
    fields += ["attachments", "entities", "membersAdded", "suggestedActions", "speak", "label"]
    if how == "drop" and act:
        act.pop(draw(st.sampled_from(sorted(act))), None)
    elif how == "set":
        act[draw(st.sampled_from(fields) | st.text(max_size=10))] = draw(json_values)
    elif how == "odd":
        act[draw(st.sampled_from(["text", "id", "name", "locale", "replyToId", "type"]))] = draw(
            odd_text
        )
    elif how == "account":
        which = draw(st.sampled_from(["from", "recipient", "conversation"]))
        account = act.get(which) if isinstance(act.get(which), dict) else {}
        key = draw(st.sampled_from(["id", "name", "role", "aadObjectId", "tenantId", "isGroup"]))
        account[key] = draw(odd_text | json_values)
        act[which] = account
    elif how == "members":
        act["type"] = draw(st.sampled_from(["conversationUpdate", act.get("type")]))
        member = st.fixed_dictionaries({"id": odd_text}) | st.none() | json_values
        act[draw(st.sampled_from(["membersAdded", "membersRemoved"]))] = draw(
            st.lists(member, max_size=3) | json_values
        )
    elif how == "value":
        keys = st.sampled_from(["q", "n", "ctl", "choice", "opt", "action", "data", "verb"])
        payload = draw(st.dictionaries(keys, json_values | odd_text, max_size=5))
        if draw(st.booleans()):
            payload["ctl"] = draw(st.sampled_from(CONTROLS))
        if draw(st.booleans()):
            payload = {**fuzz.payload(draw(st.integers(0, 59))), **payload}
        act["value"] = payload
    elif how == "nested":
        act[draw(st.sampled_from(["value", "channelData", "text", "entities"]))] = _Nested(
            draw(st.integers(1, 1200))
        )
    elif how == "attachments":
        content_type = st.sampled_from(
            ["image/png", "audio/ogg", "video/mp4", "application/pdf", "text/html", ""]
        )
        attachment = st.fixed_dictionaries(
            {"contentType": content_type | json_values},
            optional={"content": json_values, "contentUrl": odd_text, "name": odd_text},
        )
        act["attachments"] = draw(st.lists(attachment | json_values, max_size=3) | json_values)
    elif how == "time":
        act[draw(st.sampled_from(["timestamp", "localTimestamp", "expiration"]))] = draw(
            st.tuples(st.datetimes(), st.sampled_from(["Z", "", "+01:00", "+99:00"])).map(
                lambda t: t[0].isoformat() + t[1]
            )
            | odd_text
        )
    elif how == "url":
        act["serviceUrl"] = draw(
            st.sampled_from(
                [
                    fuzz.url.rstrip("/"),
                    fuzz.url.replace("http://", "HTTP://"),
                    "not a url",
                    "ftp://127.0.0.1/",
                    "http://",
                    "http:///x",
                    "//127.0.0.1/",
                    "http://127.0.0.1:99999/",
                    "http://user@127.0.0.1/",
                ]
            )
            | odd_text
        )
    elif how == "resend":
        act["id"] = fuzz.seen_id(draw(st.integers(0, 29)))
    elif how == "reaction":
        act["type"] = "messageReaction"
        act["reactionsAdded"] = draw(
            st.lists(st.fixed_dictionaries({"type": odd_text}) | st.none(), max_size=2)
        )


def _serialise(act: dict[str, Any]) -> bytes:
    spliced: dict[str, str] = {}
    for key, value in list(act.items()):
        if isinstance(value, _Nested):
            spliced[json.dumps(f"<{key}>")] = value.json()
            act[key] = f"<{key}>"
    text = json.dumps(act)  # ensure_ascii: half an emoji travels as the escape \ud83d
    for placeholder, raw in spliced.items():
        text = text.replace(placeholder, raw)
    return text.encode()


@st.composite
def requests(draw: st.DrawFn, fuzz: Fuzz) -> tuple[bytes, dict[str, str]]:
    act = _base(draw, fuzz)
    # Unchanged activities too, so that many get past the door and into the consultation.
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4]))):
        _mutate(draw, fuzz, act)
    raw = _serialise(act)
    damage = draw(st.integers(0, 24))
    # A fraction, not a position: the body's length depends on ids and on what the bot sent.
    at = len(raw) * draw(st.integers(0, 1000)) // 1000
    if damage == 0:
        raw = raw[:at]
    elif damage == 1:
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at:]
    elif damage == 2:
        raw = b"[" + raw + b"]"
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    if draw(st.integers(0, 14)) == 0:
        # Tokens that fail as they are read: a token that parsed would send the SDK off to
        # fetch signing keys from the internet.
        printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
        headers["Authorization"] = draw(
            st.sampled_from(TOKENS) | st.text(printable, min_size=1, max_size=20)
        )
    return _to_our_connector(raw, fuzz.url), headers


def _to_our_connector(raw: bytes, ours: str) -> bytes:
    """Replies may only ever go to our loopback connector. A damaged byte can turn its URL into
    another that the door rightly lets in (0127.0.0.1 is 87.0.0.1), so such a URL is put back."""
    try:
        act = json.loads(raw)
        url = act["serviceUrl"]
        door.check_service_url(url)
    except (ValueError, TypeError, KeyError, RecursionError, door.Refused):
        return raw
    parts, mine = urlsplit(url), urlsplit(ours)
    if (parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, parts.fragment) == (
        mine.scheme,
        mine.netloc,
        "/",
        "",
        "",
    ):
        return raw
    act["serviceUrl"] = ours
    return json.dumps(act).encode()


@pytest.fixture
async def fuzz(
    client: TestClient,
    connector: tuple[Connector, str],
    new_review: Callable[..., Any],
) -> AsyncIterator[Fuzz]:
    conn, url = connector
    codes = [(await new_review())[1], (await new_review(age=15, is_uasc=True))[1]]
    state = Fuzz(client, conn, url, codes)
    started = time.monotonic()
    yield state
    took = time.monotonic() - started
    total = sum(state.statuses.values())
    print(f"\nfuzz: {total} requests in {took:.1f} s; statuses {sorted(state.statuses.items())}")
    # After all that, the server is healthy and a new child is still answered.
    health = await client.get("/healthz")
    assert health.status == 200, await health.text()
    chat = Chat(client, conn, url, channel_id="msteams")
    assert "My Review" in await chat.start()
    assert chat.last_status < 300


# Passing takes about 35 s here; a failure's shrinking can take minutes, and its minimal example
# is worth more than pytest-timeout's stack.
@pytest.mark.timeout(600)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(data=st.data())
async def test_no_request_gets_a_5xx_or_a_stack_trace(
    fuzz: Fuzz, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    body, headers = data.draw(requests(fuzz), label="request")
    caplog.clear()

    resp = await fuzz.client.post("/api/messages", data=body, headers=headers)
    answer = await resp.read()

    fuzz.statuses[resp.status] += 1
    fuzz.harvest()
    if resp.status < 300:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            fuzz.seen_ids.append(json.loads(body)["id"])
    assert resp.status < 500, answer[:300]
    loud = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not loud, [(r.name, r.levelname, r.getMessage(), r.exc_info) for r in loud]
