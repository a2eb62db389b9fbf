"""The door of /api/messages (bot/door.py, and bot.adapter.admit around it), as pure functions:
every kind of body a careless or hostile client sends, refused with a 400 that says why in a
line, and one line in the log, before the SDK or the bot sees any of it.

tests/test_adapter.py sends a few of these over HTTP, to show a refusal there reaches no turn.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web

from bot import door
from bot.adapter import admit
from tests.chat import message

SERVICE_URL = "http://127.0.0.1:3978/"


def refused_at_the_door(body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """admit() refuses the body: a 400 with a short reason, one line in the log, no trace."""
    caplog.set_level(logging.INFO)

    with pytest.raises(web.HTTPBadRequest) as refused:
        admit(body)

    reason = refused.value.text or ""
    assert 0 < len(reason) < 120 and "Traceback" not in reason, reason
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("bot.adapter", "request refused")
    ]
    assert not any(r.exc_info for r in caplog.records)


def activity(url: str = SERVICE_URL, **fields: Any) -> dict[str, Any]:
    act = message(channel_id="msteams", service_url=url, conversation_id="conv-bad", text="hi")
    act.update(fields)
    return {k: v for k, v in act.items() if v is not None}


# --- bodies that are no activity at all -------------------------------------------------------

NOT_ACTIVITIES: dict[str, bytes] = {
    "invalid json": b'{"type": "message", ',
    "not utf-8": b'{"type": "\xff\xfe"}',
    "json array": json.dumps([activity()]).encode(),
    "json string": b'"message"',
    "no type": json.dumps(activity(type=None)).encode(),
    "no conversation": json.dumps(activity(conversation=None)).encode(),
    "no service url": json.dumps(activity(serviceUrl=None)).encode(),
    "conversation not an object": json.dumps(activity(conversation="conv-bad")).encode(),
}


@pytest.mark.parametrize("case", list(NOT_ACTIVITIES))
def test_a_body_that_is_no_activity_is_refused(caplog: pytest.LogCaptureFixture, case: str) -> None:
    refused_at_the_door(NOT_ACTIVITIES[case], caplog)


# JSON that Python's own reader would take in and choke on later (or never finish with).
CHOKING_JSON: dict[str, bytes] = {
    "NaN": b'{"type": "message", "value": NaN}',
    "an integer of 5,000 digits": b'{"type": "message", "value": ' + b"9" * 5000 + b"}",
    "a lone UTF-8 encoded surrogate": b'{"type": "message", "text": "\xed\xa0\xbd"}',
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("case", list(CHOKING_JSON))
def test_json_python_would_choke_on_is_refused(caplog: pytest.LogCaptureFixture, case: str) -> None:
    refused_at_the_door(CHOKING_JSON[case], caplog)


# --- activities with a field the bot could not answer or route a reply for --------------------


class Raw(bytes):
    """JSON spliced in as it is: json.dumps itself cannot write 1,000 levels."""


def nested(depth: int) -> Raw:
    return Raw(b"[" * depth + b'"deep"' + b"]" * depth)


def serialised(fields: dict[str, Any], url: str) -> bytes:
    act = message(channel_id="msteams", service_url=url, conversation_id="conv-door", text="hi")
    raw: dict[str, bytes] = {}
    for key, value in fields.items():
        if isinstance(value, Raw):
            raw[f'"<{key}>"'] = value
            act[key] = f"<{key}>"
        elif value is DROP:
            act.pop(key, None)
        elif key.startswith("conversation."):
            act["conversation"] = {**act["conversation"], key.split(".", 1)[1]: value}
        elif key.startswith("from."):
            act["from"] = {**act["from"], key.split(".", 1)[1]: value}
        else:
            act[key] = value
    out = json.dumps(act)
    for placeholder, value in raw.items():
        out = out.replace(placeholder, value.decode())
    return out.encode()


DROP = object()
BAD_ACTIVITIES: dict[str, dict[str, Any]] = {
    "type missing": {"type": DROP},
    "type empty": {"type": ""},
    "type a number": {"type": 5},
    "channelId missing": {"channelId": DROP},
    "channelId empty": {"channelId": ""},
    "channelId not a string": {"channelId": ["msteams"]},
    "channelId with a space": {"channelId": "ms teams"},
    "channelId with a slash": {"channelId": "msteams/../x"},
    "channelId too long": {"channelId": "c" * 65},
    "conversation.id missing": {"conversation": {"name": "x"}},
    "conversation.id empty": {"conversation.id": ""},
    "conversation.id not a string": {"conversation.id": 42},
    "conversation.id of 200 KB": {"conversation.id": "c" * 200_000},
    "conversation.id too long": {"conversation.id": "c" * 513},
    "conversation.id a dot segment": {"conversation.id": ".."},
    "conversation.id starting with a space": {"conversation.id": " conv"},
    "conversation.id with a line break": {"conversation.id": "conv\r\nX-Evil: 1"},
    "id too long": {"id": "i" * 257},
    "id a dot segment": {"id": "."},
    "id an object": {"id": {"x": 1}},
    "from.id too long": {"from.id": "f" * 257},
    "from not an object": {"from": "child"},
    "serviceUrl empty": {"serviceUrl": ""},
    "serviceUrl not a URL": {"serviceUrl": "not a url"},
    "serviceUrl relative": {"serviceUrl": "/v3/conversations"},
    "serviceUrl without a host": {"serviceUrl": "http:///v3/"},
    "serviceUrl ftp": {"serviceUrl": "ftp://127.0.0.1/"},
    "serviceUrl javascript": {"serviceUrl": "javascript:alert(1)"},
    "serviceUrl bad port": {"serviceUrl": "http://127.0.0.1:99999/"},
    "serviceUrl with a space": {"serviceUrl": "http://127.0.0.1 /"},
    "serviceUrl with credentials": {"serviceUrl": "http://user:pw@127.0.0.1/"},
    "serviceUrl not a string": {"serviceUrl": {"url": "http://127.0.0.1/"}},
    "serviceUrl too long": {"serviceUrl": "http://127.0.0.1/" + "p" * 2048},
    "membersAdded [null]": {"type": "conversationUpdate", "membersAdded": [None]},
    "membersAdded a string": {"type": "conversationUpdate", "membersAdded": "child"},
    "membersAdded [5]": {"type": "conversationUpdate", "membersAdded": [5]},
    "membersAdded without ids": {"type": "conversationUpdate", "membersAdded": [{}]},
    "membersAdded numeric id": {"type": "conversationUpdate", "membersAdded": [{"id": 7}]},
    "membersRemoved [null]": {"type": "conversationUpdate", "membersRemoved": [None]},
    "text a number": {"text": 5},
    "text an object": {"text": {"text": "hi"}},
    "attachments an object": {"attachments": {"contentType": "x"}},
    "attachments of strings": {"attachments": ["x"]},
    "timestamp not a date": {"timestamp": "yesterday"},
    "card action not an object": {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "value": {"action": "Action.Execute"},
    },
    "entities a string": {"entities": "x"},
    "value nested 1,000 deep": {"value": nested(1000)},
    "value nested 65 deep": {"value": nested(64)},
}


@pytest.mark.parametrize("case", list(BAD_ACTIVITIES))
def test_a_malformed_activity_is_refused(caplog: pytest.LogCaptureFixture, case: str) -> None:
    refused_at_the_door(serialised(BAD_ACTIVITIES[case], SERVICE_URL), caplog)


def test_json_nested_64_deep_is_let_in() -> None:
    # The activity itself is one level.
    let_in = admit(serialised({"value": nested(63)}, SERVICE_URL))

    assert let_in.value == json.loads(nested(63))


# --- what the door lets in, repaired ----------------------------------------------------------


def test_repair_replaces_lone_surrogates_and_joins_pairs() -> None:
    assert door.repair("a\ud83d") == "a\ufffd"
    assert door.repair("\ude00\ud83d") == "\ufffd\ufffd"
    assert door.repair("\ud83d\ud83d\ude00") == "\ufffd\U0001f600"
    assert door.repair("\ud83d\ude00") == "\U0001f600"
    plain = "already fine \U0001f600 ﷺ"
    assert door.repair(plain) is plain


def test_parse_repairs_keys_and_strings_at_every_depth() -> None:
    raw = b'{"type": "message", "v\\ud83d": [{"k": ["\\ude00", "\\ud83d\\ude00"]}], "t": "x"}'

    body = door.parse(raw)

    assert body == {"type": "message", "v\ufffd": [{"k": ["\ufffd", "\U0001f600"]}], "t": "x"}
    json.dumps(body).encode("utf-8")  # and all of it is encodable


def test_the_door_counts_depth_from_the_activity_itself() -> None:
    door.parse(b'{"v": ' + nested(63) + b"}")
    with pytest.raises(door.Refused, match="nested too deeply"):
        door.parse(b'{"v": ' + nested(64) + b"}")


def test_repairing_a_large_message_is_one_pass_over_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not a pass per string: an activity can hold tens of thousands of small ones.
    passes: list[int] = []
    repair = door.repair
    monkeypatch.setattr(door, "repair", lambda text: passes.append(len(text)) or repair(text))
    act = {
        "type": "message",
        "text": "\ufdfa" * 120_000 + "\ud83d",
        "value": ["\ude00 half"] * 20_000,
    }
    raw = json.dumps(act).encode()  # about 880 KB of escapes: more than the door lets in

    body = door.parse(raw)

    assert body["text"].endswith("\ufdfa\ufffd")
    assert body["value"] == ["\ufffd half"] * 20_000
    assert len(passes) == 1 and passes[0] > 240_000
