"""Transcript helpers: send what the young person types or taps; read what the bot says."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.channel import Connector

_ids = itertools.count(1)


def message(
    *,
    channel_id: str,
    service_url: str,
    conversation_id: str,
    user_id: str = "child-1",
    text: str | None = None,
    value: dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    reply_to_id: str | None = None,
    activity_id: str | None = None,
    locale: str | None = None,
    type: str = "message",
) -> dict[str, Any]:
    """An activity as a channel would post it."""
    act: dict[str, Any] = {
        "type": type,
        "id": activity_id or f"act-{next(_ids)}",
        "channelId": channel_id,
        "serviceUrl": service_url,
        "conversation": {"id": conversation_id},
        "from": {"id": user_id, "name": "Young person"},
        "recipient": {"id": "bot", "name": "MyReview"},
        "timestamp": "2026-11-23T12:00:00Z",
    }
    if text is not None:
        act["text"] = text
    if value is not None:
        act["value"] = value
    if attachments:
        act["attachments"] = attachments
    if reply_to_id:
        act["replyToId"] = reply_to_id
    if locale:
        act["locale"] = locale
    return act


# --- reading what the bot sent: the one place that knows how a card is built ------------------
# (tests/crashchannel.py and tests/personas.py read cards with these too.)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
# Many options on Web Chat: listed in the text, numbered, the buttons their numbers.
NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$", re.MULTILINE)


def card_of(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The message's Adaptive Card, if it has one."""
    for att in activity.get("attachments") or []:
        if att.get("contentType") == ADAPTIVE_CARD and isinstance(att.get("content"), dict):
            return att["content"]
    return None


def actions_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's own buttons (its submit and the controls), those that send data."""
    return [a for a in card.get("actions") or [] if isinstance(a.get("data"), dict)]


def _set_actions(card: dict[str, Any], sends: str) -> list[dict[str, Any]]:
    """Buttons in the card's ActionSets whose data has `sends` in it."""
    return [
        a
        for block in card.get("body") or []
        if block.get("type") == "ActionSet"
        for a in block.get("actions") or []
        if isinstance(a.get("data"), dict) and sends in a["data"]
    ]


def option_buttons(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A one-tap card's options: a button each (in an ActionSet), by title, with its data."""
    return {a["title"]: a["data"] for a in _set_actions(content, "choice")}


def one_tap(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The same buttons by option id (Teams: one choice, one tap)."""
    return {str(a["data"]["choice"]): a["data"] for a in _set_actions(card, "choice")}


def suggested_answers(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One-tap answers offered on a question that wants typing (the name on the review)."""
    return {a["title"]: a["data"] for a in _set_actions(content, "say")}


def choice_set(card: dict[str, Any]) -> dict[str, Any] | None:
    """The card's list of options to tick before its submit button."""
    return next((b for b in card.get("body") or [] if b.get("type") == "Input.ChoiceSet"), None)


def choices_by_title(choices: dict[str, Any]) -> dict[str, str]:
    """A choice set's options, by title without its number ("1. Home" is "Home")."""
    return {re.sub(r"^\d+\.\s", "", c["title"]): c["value"] for c in choices["choices"]}


def question_card(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The card of a question (its buttons carry the q/n payload), or None for anything else."""
    card = card_of(activity)
    if card is None or not any("q" in a["data"] for a in actions_of(card)):
        return None
    return card


def question_key(card: dict[str, Any]) -> tuple[str, Any]:
    """Which question a question card asks, and its nonce."""
    data = actions_of(card)[0]["data"]
    return str(data["q"]), data.get("n")


def is_help(card: dict[str, Any]) -> bool:
    """The help card offers "repeat"; no question card does."""
    return any(a["data"].get("ctl") == "repeat" for a in actions_of(card))


def suggested_actions(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons under a message (Web Chat's way of offering answers)."""
    return list((activity.get("suggestedActions") or {}).get("actions") or [])


def text_of(activity: dict[str, Any]) -> str:
    """What a message says, without what it offers: its text and its card's text blocks."""
    parts = [str(activity.get("text") or "")]
    for block in (card_of(activity) or {}).get("body") or []:
        if block.get("type") == "TextBlock":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def prompt_of(activity: dict[str, Any]) -> str:
    """The question itself: a card's first line, or the message's first line on Web Chat
    (options and hints follow it)."""
    for att in activity.get("attachments") or []:
        body = (att.get("content") or {}).get("body") or []
        if body and body[0].get("type") == "TextBlock":
            return str(body[0].get("text", ""))
    return str(activity.get("text") or "").split("\n")[0]


def words(activity: dict[str, Any]) -> str:
    """Everything a person would read in one bot message: text and card text blocks. (On
    Teams lines are sent a blank line apart, which Teams shows as one break: read as one.)"""
    parts = [re.sub(r"\n\n+", "\n", activity.get("text") or "")]

    def blocks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A container's own blocks where it stands (each answer of the check list is one).
        return [
            x
            for b in items
            for x in ([b] if b.get("type") != "Container" else blocks(b.get("items") or []))
        ]

    for att in activity.get("attachments") or []:
        content = att.get("content") or {}
        for block in blocks(content.get("body", [])):
            if block.get("type") == "TextBlock":
                parts.append(block.get("text", ""))
            if block.get("type") == "ActionSet":
                parts += [a.get("title", "") for a in block.get("actions", [])]
            if block.get("type") == "Input.ChoiceSet":
                # Numbered titles have a no-break space after "1." (dialogs/render.py).
                parts += [c["title"].replace("\u00a0", " ") for c in block.get("choices", [])]
        parts += [a.get("title", "") for a in content.get("actions", [])]
    parts += [a.get("title", "") for a in suggested_actions(activity)]
    return "\n".join(p for p in parts if p)


class Chat:
    """One young person in one conversation on one channel."""

    def __init__(
        self,
        client: TestClient,
        connector: Connector,
        service_url: str,
        *,
        channel_id: str = "msteams",
        user_id: str = "child-1",
        conversation_id: str | None = None,
    ) -> None:
        self.client = client
        self.connector = connector
        self.service_url = service_url
        self.channel_id = channel_id
        self.user_id = user_id
        self.conversation_id = conversation_id or f"conv-{channel_id}-{next(_ids)}"
        self.replies: list[dict[str, Any]] = []
        self.last_status = 0
        self.code = ""  # the invite code this young person typed, when a test linked them

    async def post(self, activity: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.connector.sent)
        resp = await self.client.post("/api/messages", json=activity)
        self.last_status = resp.status
        assert resp.status < 500, await resp.text()
        new = [
            a
            for a in self.connector.sent[before:]
            if a.get("conversation", {}).get("id") == self.conversation_id
        ]
        self.replies = new
        return new

    def activity(self, **kw: Any) -> dict[str, Any]:
        return message(
            channel_id=self.channel_id,
            service_url=self.service_url,
            conversation_id=self.conversation_id,
            user_id=self.user_id,
            **kw,
        )

    async def start(self) -> str:
        act = self.activity(type="conversationUpdate")
        act["membersAdded"] = [{"id": self.user_id}, {"id": "bot"}]
        await self.post(act)
        return self.said

    async def say(self, text: str, **kw: Any) -> str:
        await self.post(self.activity(text=text, **kw))
        return self.said

    @property
    def last_locale(self) -> str | None:
        """The language of the bot's latest reply."""
        for act in reversed(self.replies):
            if act.get("locale"):
                return str(act["locale"])
        return None

    @property
    def said(self) -> str:
        return "\n".join(words(a) for a in self.replies)

    def last_question(self) -> dict[str, Any]:
        for act in reversed(self.replies):
            if act.get("attachments") or act.get("suggestedActions"):
                return act
        raise AssertionError(f"no question in: {self.said}")

    def buttons(self) -> dict[str, dict[str, Any]]:
        """Tappable things of the last question, by title: their payloads."""
        act = self.last_question()
        found: dict[str, dict[str, Any]] = {}
        for a in suggested_actions(act):
            if a.get("type") == "imBack":  # sends its value as typed text
                found[a["title"]] = {"value": None, "text": a.get("value")}
            else:
                found[a["title"]] = {"value": a.get("value"), "text": a.get("text")}
        for att in act.get("attachments") or []:
            for a in (att.get("content") or {}).get("actions", []):
                found[a["title"]] = {"value": a.get("data"), "text": None}
        return found

    def choices(self) -> dict[str, str]:
        act = self.last_question()
        for att in act.get("attachments") or []:
            one_tap = option_buttons(att.get("content") or {})
            if one_tap:
                return {title: data["choice"] for title, data in one_tap.items()}
            choices = choice_set(att.get("content") or {})
            if choices is not None:
                return choices_by_title(choices)
        return {}

    async def tap(self, title: str) -> str:
        """Tap a suggested action or a card button (not a card choice)."""
        btn = self.buttons()[title]
        question = self.last_question()
        await self.post(
            self.activity(text=btn["text"], value=btn["value"], reply_to_id=question.get("id"))
        )
        return self.said

    async def pick(self, *titles: str, card: dict[str, Any] | None = None) -> str:
        """Select choices in the last question card and press its submit button (or, where
        each option is a button of its own, tap that one)."""
        question = card or self.last_question()
        content = question["attachments"][0]["content"]
        buttons = option_buttons(content)
        if buttons:
            assert len(titles) == 1, f"one tap picks one option, not {titles}"
            await self.post(self.activity(value=buttons[titles[0]], reply_to_id=question.get("id")))
            return self.said
        choices = choice_set(content)
        assert choices is not None, f"nothing to pick in: {self.said}"
        values = choices_by_title(choices)
        submit = next(a for a in content["actions"] if "ctl" not in (a.get("data") or {}))
        data = dict(submit["data"], choice=",".join(values[t] for t in titles))
        await self.post(self.activity(value=data, reply_to_id=question.get("id")))
        return self.said

    def dump(self) -> str:
        return json.dumps(self.replies, indent=1, ensure_ascii=False)


class WebChat(Chat):
    """A young person at the web door (/chat): the calls the page's Direct Line client makes,
    reading replies by polling with the watermark (the stream is tested on its own)."""

    BASE = "/v3/directline"

    def __init__(self, client: TestClient, *, locale: str | None = None) -> None:
        super().__init__(client, None, "", channel_id="web")  # type: ignore[arg-type]
        self.locale = locale
        self.token = ""
        self.stream_url = ""
        self.watermark = ""
        self.everything: list[dict[str, Any]] = []  # the page's whole history, the child's too

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self) -> str:
        body = {"locale": self.locale} if self.locale else None
        resp = await self.client.post(f"{self.BASE}/tokens/generate", json=body)
        assert resp.status == 200, await resp.text()
        made = await resp.json()
        self.token, self.conversation_id = made["token"], made["conversationId"]
        resp = await self.client.post(f"{self.BASE}/conversations", headers=self.auth)
        assert resp.status in (200, 201), await resp.text()
        self.stream_url = (await resp.json())["streamUrl"]
        await self.fetch()
        return self.said

    async def post(self, activity: dict[str, Any]) -> list[dict[str, Any]]:
        resp = await self.client.post(
            f"{self.BASE}/conversations/{self.conversation_id}/activities",
            json=activity,
            headers=self.auth,
        )
        self.last_status = resp.status
        assert resp.status < 500, await resp.text()
        await self.fetch()
        return self.replies

    async def fetch(self) -> list[dict[str, Any]]:
        """What the page has not seen yet; the bot's part of it becomes `replies`."""
        resp = await self.client.get(
            f"{self.BASE}/conversations/{self.conversation_id}/activities",
            params={"watermark": self.watermark} if self.watermark else None,
            headers=self.auth,
        )
        assert resp.status == 200, await resp.text()
        got = await resp.json()
        self.watermark = got["watermark"]
        self.everything += got["activities"]
        self.replies = [a for a in got["activities"] if a["from"].get("role") == "bot"]
        return got["activities"]

    def activity(self, **kw: Any) -> dict[str, Any]:
        """A message as Web Chat posts it: the server fills in ids, who sent it, and where."""
        act: dict[str, Any] = {
            "type": kw.get("type", "message"),
            "channelData": {"clientActivityID": f"client-{next(_ids)}"},
        }
        for field in ("text", "value", "locale", "attachments"):
            if kw.get(field) is not None:
                act[field] = kw[field]
        if self.locale and "locale" not in act:
            act["locale"] = self.locale
        return act
