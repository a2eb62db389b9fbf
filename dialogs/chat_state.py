"""Each chat's own state, as plain JSON in MyReview's own schema: where the child is (the
dialog stack, dialogs/engine.py) and what the chat remembers (the profile: language, the
question asked last, recent messages...). One row per chat in `botstateitem`, read once a turn
and written with the turn's commit, with eTag concurrency: a turn that read an older state
than another wrote fails, rather than overwrite it.

    {"schema": 1, "profile": {...}, "stack": [{"dialog": "consultation", "step": 1, ...}, ...]}

Chats in progress when this replaced botbuilder-dialogs (state written by jsonpickle, the
dialog stack top first) are read as they were and written anew in this form (`upgrade`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from dialogs.turn_facts import TurnFacts
from storage.repositories import BotStateRepository, EtagMismatch

log = logging.getLogger(__name__)

SCHEMA = 1


class EtagConflict(Exception):
    """The chat's state changed since this turn read it: another turn or instance wrote it."""


@dataclass
class ChatState:
    key: str
    profile: dict[str, Any]
    stack: list[dict[str, Any]]
    etag: str | None = None
    # As read, so that a turn that changed nothing writes nothing.
    read_as: str = ""

    def to_json(self) -> str:
        body = {"schema": SCHEMA, "profile": self.profile, "stack": self.stack}
        return json.dumps(body, ensure_ascii=False, sort_keys=True)


class ChatStates:
    def __init__(self, repo: BotStateRepository) -> None:
        self._repo = repo

    @staticmethod
    def key_for(channel_id: str, conversation_id: str) -> str:
        return f"{channel_id}/conversations/{conversation_id}"

    async def load(self, context: Any) -> ChatState:
        """This turn's chat state: read on first use, then the same object all turn long."""
        facts = TurnFacts.of(context)
        if facts.chat is not None:
            return facts.chat
        act = context.activity
        key = self.key_for(act.channel_id or "", act.conversation.id if act.conversation else "")
        found = (await self._repo.read(keys=[key])).get(key)
        if found is None:
            state = ChatState(key, {}, [])
        else:
            try:
                profile, stack = upgrade(json.loads(found.data))
            except (ValueError, KeyError, TypeError, AttributeError):
                # Never a chat stuck on a state it cannot read: it starts again at the welcome,
                # and the child's code brings back their answers.
                log.warning("chat state not readable; the chat starts again")
                profile, stack = {}, []
            state = ChatState(key, profile, stack, etag=found.etag)
        state.read_as = state.to_json() if found is not None else ""
        facts.chat = state
        return state

    async def save(self, context: Any) -> None:
        """Writes the chat's state if this turn changed it (inside the turn's commit)."""
        state = TurnFacts.of(context).chat
        if state is None:
            return
        data = state.to_json()
        if data == state.read_as:
            return
        try:
            state.etag = await self._repo.write(key=state.key, data=data, expected_etag=state.etag)
        except EtagMismatch as exc:
            raise EtagConflict(state.key) from exc
        state.read_as = data


def upgrade(raw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(profile, stack) from a stored state of any version this app has written."""
    if isinstance(raw, dict) and raw.get("schema") == SCHEMA:
        return dict(raw.get("profile") or {}), list(raw.get("stack") or [])
    plain = _unpickled(raw)
    if not isinstance(plain, dict):
        raise ValueError("a chat state is a JSON object")
    profile = plain.get("profile") if isinstance(plain.get("profile"), dict) else {}
    dialog_state = plain.get("dialog_state") or {}
    instances = dialog_state.get("_dialog_stack") or dialog_state.get("dialog_stack") or []
    stack: list[dict[str, Any]] = []
    # botbuilder-dialogs kept the stack top first; a waterfall's state has its step index.
    for instance in reversed(instances):
        state = instance.get("state") or {}
        if "stepIndex" in state:
            stack.append(
                {
                    "dialog": instance["id"],
                    "options": state.get("options"),
                    "values": state.get("values") or {},
                    "step": int(state.get("stepIndex", 0)),
                }
            )
        else:
            stack.append({"dialog": instance["id"], "state": state})
    return dict(profile or {}), stack


def _unpickled(value: Any) -> Any:
    """jsonpickle's JSON as plain JSON: class tags dropped, tuples and sets as lists."""
    if isinstance(value, list):
        return [_unpickled(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "py/tuple" in value:
        return [_unpickled(v) for v in value["py/tuple"]]
    if "py/set" in value:
        return [_unpickled(v) for v in value["py/set"]]
    if "py/id" in value:
        raise ValueError("a shared reference in an old chat state")
    return {k: _unpickled(v) for k, v in value.items() if not k.startswith("py/")}
