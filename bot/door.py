"""The door of POST /api/messages: the body a channel sent, parsed, repaired and checked before
the SDK or the bot sees any of it.

Pure functions over bytes and plain JSON values, so they can be tested without a server and
survive a move away from botbuilder. Anything refused raises `Refused` with a status and a
short reason that names the field, never the value (the reason is logged and sent back).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

MAX_DEPTH = 64
MAX_ID = 256
MAX_CONVERSATION_ID = 512
MAX_SERVICE_URL = 2048

_CHANNEL_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Surrogates are the only code points a Python str can hold that UTF-8 cannot encode.
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_CONTAINERS = (dict, list)
# Ids go into the connector's URL path, where an HTTP client reads these as "here" and "up":
# a reply would go to another address and never arrive.
_DOT_SEGMENTS = (".", "..")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A service URL is ASCII and printable; anything else would fail later, inside the turn.
_URL_CHARS = re.compile(r"[\x21-\x7e]+")
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")

# Fields the Bot Framework schema types as strings. msrest would quietly turn a number or an
# object into its repr ("{'a': 1}"), which then travels into URLs and storage.
_ACTIVITY_STRINGS = [
    "action",
    "attachmentLayout",
    "callerId",
    "channelId",
    "code",
    "deliveryMode",
    "id",
    "importance",
    "inputHint",
    "label",
    "localTimezone",
    "locale",
    "name",
    "replyToId",
    "serviceUrl",
    "speak",
    "summary",
    "text",
    "textFormat",
    "topicName",
    "type",
    "valueType",
]
# ConversationAccount's schema spells it tenantID; Teams sends tenantId.
_ACCOUNT_STRINGS = ["aadObjectId", "id", "name", "role", "conversationType", "tenantId", "tenantID"]


class Refused(Exception):
    """A request the door will not let in: the HTTP status and a reason for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def bad(reason: str) -> Refused:
    return Refused(400, reason)


def repair(text: str) -> str:
    """The same text, encodable as UTF-8: lone surrogates become U+FFFD, split pairs join up.

    Channels cut messages in the middle of an emoji, and JSON's \\ud83d escapes let half of
    one through; such a string fails wherever it is encoded (the database, an email), far from
    here. One pass over the text, and none at all for ASCII or already valid text.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, no deeper than MAX_DEPTH, with every key and string repaired.

    Linear in the size of the body. Depth is checked with a stack before anything recursive
    touches the body: a recursive walk is what turned a 1,000-deep body into a 500.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # also a surrogate encoded in UTF-8 bytes
        raise bad("The body is not UTF-8.") from exc
    body = _loads(text.removeprefix("\ufeff"))
    if not isinstance(body, dict):
        raise bad("The body must be a JSON object (an activity).")
    _check_depth(body)
    if _ESCAPED_SURROGATE.search(text):
        # Only \uD800-\uDFFF escapes can put a surrogate into a string (strict UTF-8 refused
        # any other way in), and json already joined the escaped pairs. Repairing the body
        # written out as one text reaches every key and string in a single C-speed pass,
        # however many small strings an activity holds.
        body = _loads(repair(json.dumps(body, ensure_ascii=False)))
    return body


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError as exc:
        raise bad("The JSON is nested too deeply.") from exc
    except ValueError as exc:  # also an integer too long to read
        raise bad("The body is not valid JSON.") from exc


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(number: str) -> float:
    value = float(number)
    if math.isinf(value):  # 1e400 would come back out as Infinity, which is not JSON
        raise ValueError("number out of range")
    return value


def _check_depth(root: dict[str, Any]) -> None:
    """Refuses a body nested deeper than MAX_DEPTH, counting the activity as 1; a stack, not
    recursion, and containers only."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if type(node) is dict else node:
            if type(child) in _CONTAINERS:
                if depth >= MAX_DEPTH:
                    raise bad("The JSON is nested too deeply.")
                stack.append((child, depth + 1))


def check_activity(body: dict[str, Any]) -> None:
    """Refuses an activity the bot could not answer or route a reply for."""
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise bad("The activity needs a type.")
    channel_id = body.get("channelId")
    if not isinstance(channel_id, str) or not _CHANNEL_ID.fullmatch(channel_id):
        raise bad("The activity needs a channelId (letters, digits, '.', '_', '-').")
    for field in _ACTIVITY_STRINGS:
        if body.get(field) is not None and not isinstance(body[field], str):
            raise bad(f"{field} must be a string.")
    _check_ids(body, "id", "replyToId", limit=MAX_ID)
    if body.get("id") in _DOT_SEGMENTS:
        raise bad("id cannot be '.' or '..'.")
    check_service_url(body.get("serviceUrl"))
    _check_conversation(body.get("conversation"))
    _check_people(body)
    _check_payload(body, kind)


def _check_conversation(conversation: Any) -> None:
    """A conversation with an id a reply can be addressed to."""
    if not isinstance(conversation, dict):
        raise bad("The activity needs a conversation.")
    _check_account(conversation, "conversation", limit=MAX_CONVERSATION_ID)
    if not isinstance(conversation.get("id"), str) or not conversation["id"]:
        raise bad("The activity needs conversation.id.")
    if conversation["id"] in _DOT_SEGMENTS:
        raise bad("conversation.id cannot be '.' or '..'.")
    if conversation["id"][0].isspace() or _CONTROL.search(conversation["id"]):
        # A reply repeats the id in its x-ms-conversation-id header, where the HTTP client
        # refuses leading white space and line breaks: no reply could ever be sent.
        raise bad("conversation.id cannot start with a space or hold control characters.")


def _check_people(body: dict[str, Any]) -> None:
    """from, recipient and the members added or removed: accounts with ids of a sane size."""
    for field in ("from", "recipient"):
        if body.get(field) is not None:
            _check_account(body[field], field, limit=MAX_ID)
    for field in ("membersAdded", "membersRemoved"):
        members = body.get(field)
        if members is None:
            continue
        if not isinstance(members, list):
            raise bad(f"{field} must be a list of members.")
        for member in members:
            _check_account(member, field, limit=MAX_ID)
            if not isinstance(member.get("id"), str) or not member["id"]:
                raise bad(f"Each of {field} needs an id.")


def _check_payload(body: dict[str, Any], kind: str) -> None:
    """A card action's value and the attachments, in the shapes the SDK reads them in."""
    value = body.get("value")
    action = value.get("action") if isinstance(value, dict) else None
    card_action = kind == "invoke" and body.get("name") == "adaptiveCard/action"
    # The SDK calls value.action.get() before checking it is an object.
    if card_action and action is not None and not isinstance(action, dict):
        raise bad("The card action's value.action must be an object.")
    attachments = body.get("attachments")
    if attachments is not None and (
        not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments)
    ):
        raise bad("attachments must be a list of objects.")


def _check_ids(holder: dict[str, Any], *fields: str, limit: int) -> None:
    for field in fields:
        value = holder.get(field)
        if isinstance(value, str) and len(value) > limit:
            raise bad(f"{field} is longer than {limit} characters.")


def _check_account(account: Any, where: str, *, limit: int) -> None:
    if not isinstance(account, dict):
        raise bad(f"{where} must be an object.")
    for field in _ACCOUNT_STRINGS:
        if account.get(field) is not None and not isinstance(account[field], str):
            raise bad(f"{where}.{field} must be a string.")
    value = account.get("id")
    if isinstance(value, str) and len(value) > limit:
        raise bad(f"{where}.id is longer than {limit} characters.")


def check_service_url(url: Any) -> None:
    """An absolute http(s) URL with a host: replies go there, so nothing else will do."""
    refusal = bad("serviceUrl must be an absolute http(s) URL.")
    if not isinstance(url, str) or not url or len(url) > MAX_SERVICE_URL:
        raise refusal
    if not _URL_CHARS.fullmatch(url):
        raise refusal
    try:
        parts = urlsplit(url)
        port = parts.port  # reading it checks the port is a number in range
    except ValueError as exc:
        raise refusal from exc
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc or port == 0:
        raise refusal
    host = (parts.hostname or "").removesuffix(".")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise refusal from exc
    elif not _HOST_NAME.fullmatch(host) or ".." in host:
        raise refusal
