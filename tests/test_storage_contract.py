"""The chat state contract, checked against each storage backend we run on.

Where a child is in the consultation (the dialog stack, dialogs/engine.py) and what the chat
remembers (dialogs/chat_state.py) live here, as plain JSON. If the contract breaks, children see
questions twice, lose answers, or two app instances overwrite each other. Add a backend by
adding a param to `backend` (e.g. "postgresql" with a per-test database).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dialogs.chat_state import ChatStates, EtagConflict, upgrade
from dialogs.engine import END_OF_TURN, DialogContext, Dialogs, Result, StepContext
from storage.crypto import Keyring
from storage.db import Database
from storage.repositories import BotStateRepository, EtagMismatch

KEY = "msteams/conversations/conv-1"


class Backend:
    """Opens Database objects on one store; opening again is what an app restart does."""

    def __init__(self, url: str) -> None:
        self.url = url
        # One key for the store's life: an app restart keeps its keys.
        self.keys = Keyring.ephemeral()
        self._opened: list[Database] = []

    async def open(self) -> Database:
        db = Database(self.url, keys=self.keys)
        self._opened.append(db)
        await db.migrate()
        return db

    async def repo(self) -> BotStateRepository:
        return BotStateRepository(await self.open())

    async def chats(self) -> ChatStates:
        return ChatStates(await self.repo())

    async def close(self) -> None:
        for db in self._opened:
            await db.dispose()


@pytest.fixture(params=["sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        b = Backend(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    else:  # pragma: no cover - a new backend needs its set-up here
        raise NotImplementedError(request.param)
    yield b
    await b.close()


def turn(text: str = "hi", conversation: str = "conv-1") -> Any:
    """What ChatStates reads of a turn: its channel, conversation and the turn's own state."""
    activity = SimpleNamespace(
        channel_id="msteams", conversation=SimpleNamespace(id=conversation), text=text
    )
    return SimpleNamespace(activity=activity, turn_state={})


class TestRepositoryContract:
    async def test_reading_missing_keys_gives_nothing(self, backend: Backend) -> None:
        repo = await backend.repo()
        assert await repo.read(keys=[KEY, "other"]) == {}
        assert await repo.read(keys=[]) == {}

    async def test_writing_with_a_stale_etag_fails_and_keeps_the_newer_data(
        self, backend: Backend
    ) -> None:
        repo = await backend.repo()
        first = await repo.write(key=KEY, data='{"step": "name"}', expected_etag=None)
        await repo.write(key=KEY, data='{"step": "pronouns"}', expected_etag=first)
        with pytest.raises(EtagMismatch):
            await repo.write(key=KEY, data='{"step": "language"}', expected_etag=first)
        assert json.loads((await repo.read(keys=[KEY]))[KEY].data) == {"step": "pronouns"}

    async def test_writing_with_an_etag_to_a_deleted_item_fails(self, backend: Backend) -> None:
        repo = await backend.repo()
        etag = await repo.write(key=KEY, data="{}", expected_etag=None)
        await repo.delete(keys=[KEY, "never-written"])
        with pytest.raises(EtagMismatch):
            await repo.write(key=KEY, data="{}", expected_etag=etag)
        await repo.write(key=KEY, data='{"again": 1}', expected_etag=None)  # afresh is fine
        assert json.loads((await repo.read(keys=[KEY]))[KEY].data) == {"again": 1}

    async def test_two_instances_creating_at_once_both_succeed(self, backend: Backend) -> None:
        # A race to create a chat's first state must not fail a turn.
        a, b = await backend.repo(), await backend.repo()
        for round_ in range(5):
            key = f"{KEY}-{round_}"
            results = await asyncio.gather(
                a.write(key=key, data='{"by": "a"}', expected_etag=None),
                b.write(key=key, data='{"by": "b"}', expected_etag="*"),
                return_exceptions=True,
            )
            assert all(isinstance(r, str) for r in results), results


class TestChatStates:
    async def test_a_new_chat_has_an_empty_state_and_writes_it_once_changed(
        self, backend: Backend
    ) -> None:
        chats = await backend.chats()
        ctx = turn()
        state = await chats.load(ctx)
        assert (state.profile, state.stack) == ({}, [])
        assert await chats.load(ctx) is state  # one object all turn long
        state.profile["locale"] = "ar"
        state.stack.append({"dialog": "ask", "state": {"qid": "name"}})
        await chats.save(ctx)

        stored = json.loads((await (await backend.repo()).read(keys=[KEY]))[KEY].data)
        assert stored == {
            "schema": 1,
            "profile": {"locale": "ar"},
            "stack": [{"dialog": "ask", "state": {"qid": "name"}}],
        }

    async def test_a_turn_that_changed_nothing_writes_nothing(self, backend: Backend) -> None:
        chats, repo = await backend.chats(), await backend.repo()
        ctx = turn()
        (await chats.load(ctx)).profile["locale"] = "en"
        await chats.save(ctx)
        etag = (await repo.read(keys=[KEY]))[KEY].etag
        ctx = turn()
        await chats.load(ctx)
        await chats.save(ctx)
        assert (await repo.read(keys=[KEY]))[KEY].etag == etag

    async def test_saving_twice_in_one_turn_is_not_a_conflict(self, backend: Backend) -> None:
        chats = await backend.chats()
        ctx = turn()
        state = await chats.load(ctx)
        for step in ("name", "pronouns", "take_part"):
            state.profile["step"] = step
            await chats.save(ctx)
        fresh = await (await backend.chats()).load(turn())
        assert fresh.profile == {"step": "take_part"}

    async def test_two_instances_with_one_turn_each_exactly_one_wins(
        self, backend: Backend
    ) -> None:
        a, b = await backend.chats(), await backend.chats()
        ctx = turn()
        (await a.load(ctx)).profile["step"] = "name"
        await a.save(ctx)
        for round_ in range(5):
            ctx_a, ctx_b = turn(), turn()
            mine, theirs = await a.load(ctx_a), await b.load(ctx_b)
            mine.profile["step"], theirs.profile["step"] = f"a{round_}", f"b{round_}"
            results = await asyncio.gather(a.save(ctx_a), b.save(ctx_b), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            assert len(failures) == 1 and isinstance(failures[0], EtagConflict), results
            winner = mine if results[0] is None else theirs
            assert (await a.load(turn())).profile == winner.profile

    async def test_a_state_read_is_a_copy_not_the_stored_one(self, backend: Backend) -> None:
        chats = await backend.chats()
        ctx = turn()
        (await chats.load(ctx)).profile["answers"] = {"name": "Sam"}
        await chats.save(ctx)
        first = await chats.load(turn())
        first.profile["answers"]["name"] = "changed but never written"
        assert (await chats.load(turn())).profile["answers"] == {"name": "Sam"}


# The state botbuilder-dialogs wrote (jsonpickle) for a chat at the name question, as it was read
# from a development database on 2026-12-07: the stack top first.
OLD_STATE = {
    "dialog_state": {
        "py/object": "botbuilder.dialogs.dialog_state.DialogState",
        "_dialog_stack": [
            {
                "py/object": "botbuilder.dialogs.dialog_instance.DialogInstance",
                "id": "ask",
                "state": {"qid": "name", "topic": None, "key": "name", "store": True, "n": 2},
            },
            {
                "py/object": "botbuilder.dialogs.dialog_instance.DialogInstance",
                "id": "questions",
                "state": {
                    "options": {"mode": "flow"},
                    "values": {"key": "name"},
                    "instanceId": "85853ba2-f254-11f1-adb4-02fc00000001",
                    "stepIndex": 0,
                },
            },
            {
                "py/object": "botbuilder.dialogs.dialog_instance.DialogInstance",
                "id": "consultation",
                "state": {
                    "options": None,
                    "values": {},
                    "instanceId": "854e57f4-f254-11f1-adb4-02fc00000001",
                    "stepIndex": 1,
                },
            },
        ],
    },
    "profile": {"locale": "ar", "asks": 2, "recent": {"py/tuple": [1.5, "x"]}, "review_id": 1},
}


def test_the_state_botbuilder_dialogs_wrote_becomes_ours_bottom_first():
    profile, stack = upgrade(OLD_STATE)
    assert profile == {"locale": "ar", "asks": 2, "recent": [1.5, "x"], "review_id": 1}
    assert stack == [
        {"dialog": "consultation", "options": None, "values": {}, "step": 1},
        {"dialog": "questions", "options": {"mode": "flow"}, "values": {"key": "name"}, "step": 0},
        {
            "dialog": "ask",
            "state": {"qid": "name", "topic": None, "key": "name", "store": True, "n": 2},
        },
    ]
    assert upgrade({"schema": 1, "profile": profile, "stack": stack}) == (profile, stack)


async def test_a_state_that_cannot_be_read_starts_the_chat_again(backend: Backend) -> None:
    repo = await backend.repo()
    shared = {"py/id": 1}
    await repo.write(key=KEY, data=json.dumps({"profile": shared}), expected_etag=None)
    state = await ChatStates(repo).load(turn())
    assert (state.profile, state.stack) == ({}, [])


class AskName:
    """A prompt as dialogs/ask.py's is: asks, waits, ends with what the child said."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def begin(self, dc: DialogContext, options: dict[str, Any] | None) -> Result:
        dc.state["asked"] = True
        self.sent.append("What name should I use?")
        return END_OF_TURN

    async def continue_(self, dc: DialogContext) -> Result:
        return await dc.end(dc.context.activity.text)

    async def resume(self, dc: DialogContext, result: Any) -> Result:
        return END_OF_TURN

    async def reprompt(self, dc: DialogContext) -> None:
        self.sent.append("What name should I use?")


async def one_turn(chats: ChatStates, text: str, heard: list[str]) -> list[str]:
    """One turn of a two-step waterfall, its state loaded and saved through `chats`."""
    sent: list[str] = []
    dialogs = Dialogs()
    dialogs.add_prompt("ask", AskName(sent))

    async def ask(step: StepContext) -> Result:
        return await step.begin("ask")

    async def thank(step: StepContext) -> Result:
        heard.append(step.result)
        sent.append(f"Thanks, {step.result}.")
        return await step.end()

    dialogs.add_waterfall("ask_name", [ask, thank])
    ctx = turn(text)
    state = await chats.load(ctx)
    dc = dialogs.context(ctx, state.stack)
    if (await dc.continue_()).status == "empty":
        await dc.begin("ask_name")
    await chats.save(ctx)
    return sent


async def test_a_dialog_resumes_after_a_restart(backend: Backend) -> None:
    """A child answers a question after the app restarted: the waterfall carries on."""
    heard: list[str] = []
    assert await one_turn(await backend.chats(), "hi", heard) == ["What name should I use?"]
    # A brand-new Database object on the same store: nothing survives but the data.
    assert await one_turn(await backend.chats(), "Sam", heard) == ["Thanks, Sam."]
    assert heard == ["Sam"]
    # Finished: the next message starts it again.
    assert await one_turn(await backend.chats(), "hello", heard) == ["What name should I use?"]
